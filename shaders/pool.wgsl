// Window pooling over 1 to 3 spatial dims: max (and its ONNX index output), average
// (count_include_pad or not) and Lp, PyTorch / ONNX semantics with dilation, asymmetric padding
// and ceil_mode. 1-D and 2-D pools run as 3-D ones with leading size-1 dims.
//
// Layout: input [N*C, D, H, W], output [N*C, OD, OH, OW], both dense row-major.
// Tiling: one output element per invocation, 256 per workgroup along the flattened output, so
// neighbouring invocations read neighbouring windows (overlapping windows are served by the
// cache; pooling is bandwidth-bound and has no reuse worth staging in workgroup memory).
// The window is clipped to the input before the loops, so the inner loop has no bounds tests
// and padding never enters a max.
// Elements are stored as Elem (precision prelude); max and the sums run in f32 (pooling is
// bandwidth-bound, so f32 math costs nothing and an f16 sum cannot overflow).
// Overrides: POOL_KIND (0 max, 1 average, 2 Lp with params.p, 3 index of the max, 4 the
// same with a column-major spatial index),
// COUNT_INCLUDE_PAD (average divisor counts the taps inside the padded input).

override POOL_KIND: u32 = 0u;
override COUNT_INCLUDE_PAD: bool = true;

struct Params {
    total: u32,
    p: u32,
    _pad0: u32,
    _pad1: u32,
    d: u32,
    h: u32,
    w: u32,
    od: u32,
    oh: u32,
    ow: u32,
    kd: u32,
    kh: u32,
    kw: u32,
    sd: u32,
    sh: u32,
    sw: u32,
    dd: u32,
    dh: u32,
    dw: u32,
    pad_front: u32,
    pad_top: u32,
    pad_left: u32,
    pad_back: u32,
    pad_bottom: u32,
    pad_right: u32,
    _pad2: u32,
    _pad3: u32,
    _pad4: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<Elem>;
@group(0) @binding(2) var<storage, read_write> dst: array<Elem>;

// Taps t in [0, k) with 0 <= start + t * d < n, as [lo, hi) (empty when hi <= lo).
fn tap_range(start: i32, k: u32, d: u32, n: u32) -> vec2<u32> {
    var lo = 0u;
    if start < 0 {
        lo = (u32(-start) + d - 1u) / d;
    }
    var hi = 0u;
    let room = i32(n) - start;
    if room > 0 {
        hi = min(k, (u32(room) + d - 1u) / d);
    }
    return vec2<u32>(lo, max(lo, hi));
}

// Taps inside the padded extent [-pad, n + pad_end), which every window starts in.
fn padded_taps(start: i32, k: u32, d: u32, pad: u32, n: u32, pad_end: u32) -> u32 {
    let r = tap_range(start + i32(pad), k, d, pad + n + pad_end);
    return r.y - r.x;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup_id(wid, nwg) * 256u + lid;
    if i >= params.total {
        return;
    }
    let x = i % params.ow;
    let rest = i / params.ow;
    let y = rest % params.oh;
    let rest2 = rest / params.oh;
    let z = rest2 % params.od;
    let plane = rest2 / params.od;
    let d0 = i32(z * params.sd) - i32(params.pad_front);
    let h0 = i32(y * params.sh) - i32(params.pad_top);
    let w0 = i32(x * params.sw) - i32(params.pad_left);
    let rz = tap_range(d0, params.kd, params.dd, params.d);
    let ry = tap_range(h0, params.kh, params.dh, params.h);
    let rx = tap_range(w0, params.kw, params.dw, params.w);
    // A window entirely in padding (possible with dilation) yields -inf, as in PyTorch, and
    // index -1.
    var m = bitcast<f32>(0xff800000u);
    var arg = -1.0;
    var s = 0.0;
    for (var tz = rz.x; tz < rz.y; tz++) {
        let slab = (plane * params.d + u32(d0 + i32(tz * params.dd))) * params.h;
        for (var ty = ry.x; ty < ry.y; ty++) {
            let row = (slab + u32(h0 + i32(ty * params.dh))) * params.w;
            for (var tx = rx.x; tx < rx.y; tx++) {
                let j = row + u32(w0 + i32(tx * params.dw));
                let v = f32(src[j]);
                if POOL_KIND == 0u {
                    m = max_propagating_nan(m, v);
                } else if POOL_KIND >= 3u {
                    // The first maximum, or the first NaN.
                    if arg < 0.0 || (!is_nan(m) && (v > m || is_nan(v))) {
                        m = v;
                        arg = f32(j);
                        if POOL_KIND == 4u {
                            // Column-major spatial index: depth fastest, then height.
                            let zi = u32(d0 + i32(tz * params.dd));
                            let yi = u32(h0 + i32(ty * params.dh));
                            let xi = u32(w0 + i32(tx * params.dw));
                            let cm = zi + (yi + xi * params.h) * params.d;
                            arg = f32(plane * params.d * params.h * params.w + cm);
                        }
                    }
                } else if POOL_KIND == 2u {
                    s += lp_term(v, params.p);
                } else {
                    s += v;
                }
            }
        }
    }
    if POOL_KIND == 0u {
        dst[i] = Elem(m);
    } else if POOL_KIND >= 3u {
        dst[i] = Elem(arg);
    } else if POOL_KIND == 2u {
        dst[i] = Elem(lp_root(s, params.p));
    } else {
        var count: u32;
        if COUNT_INCLUDE_PAD {
            // The window clipped to the padded input (ceil_mode windows may overhang it).
            count = padded_taps(d0, params.kd, params.dd, params.pad_front, params.d, params.pad_back)
                * padded_taps(h0, params.kh, params.dh, params.pad_top, params.h, params.pad_bottom)
                * padded_taps(w0, params.kw, params.dw, params.pad_left, params.w, params.pad_right);
        } else {
            count = (rz.y - rz.x) * (ry.y - ry.x) * (rx.y - rx.x);
        }
        dst[i] = Elem(s / f32(max(count, 1u)));
    }
}

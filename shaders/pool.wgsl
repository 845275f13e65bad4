// 2-D window pooling: max (with dilation) and average (count_include_pad or not), PyTorch /
// ONNX semantics with asymmetric padding and ceil_mode.
//
// Layout: input [N*C, H, W], output [N*C, OH, OW], both dense row-major.
// Tiling: one output element per invocation, 256 per workgroup along the flattened output, so
// neighbouring invocations read neighbouring windows (overlapping windows are served by the
// cache; pooling is bandwidth-bound and has no reuse worth staging in workgroup memory).
// The window is clipped to the input before the loops, so the inner loop has no bounds tests
// and padding never enters a max.
// Elements are stored as Elem (precision prelude); max and the average's sum run in f32
// (pooling is bandwidth-bound, so f32 math costs nothing and an f16 sum cannot overflow).
// Overrides: POOL_KIND (0 max, 1 average), COUNT_INCLUDE_PAD (average divisor counts padding
// inside [-pad_top, H + pad_bottom) x [-pad_left, W + pad_right)).

override POOL_KIND: u32 = 0u;
override COUNT_INCLUDE_PAD: bool = true;

struct Params {
    total: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    dh: u32,
    dw: u32,
    pad_top: u32,
    pad_left: u32,
    pad_bottom: u32,
    pad_right: u32,
    _pad0: u32,
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
    let plane = rest / params.oh;
    let h0 = i32(y * params.sh) - i32(params.pad_top);
    let w0 = i32(x * params.sw) - i32(params.pad_left);
    let ry = tap_range(h0, params.kh, params.dh, params.h);
    let rx = tap_range(w0, params.kw, params.dw, params.w);
    let base = plane * params.h * params.w;
    if POOL_KIND == 0u {
        // A window entirely in padding (possible with dilation) yields -inf, as in PyTorch.
        var m = bitcast<f32>(0xff800000u);
        for (var ty = ry.x; ty < ry.y; ty++) {
            let row = base + u32(h0 + i32(ty * params.dh)) * params.w;
            for (var tx = rx.x; tx < rx.y; tx++) {
                m = max_propagating_nan(m, f32(src[row + u32(w0 + i32(tx * params.dw))]));
            }
        }
        dst[i] = Elem(m);
    } else {
        var s = 0.0;
        for (var ty = ry.x; ty < ry.y; ty++) {
            let row = base + u32(h0 + i32(ty)) * params.w;
            for (var tx = rx.x; tx < rx.y; tx++) {
                s += f32(src[row + u32(w0 + i32(tx))]);
            }
        }
        var count: u32;
        if COUNT_INCLUDE_PAD {
            // The window clipped to the padded input (ceil_mode windows may overhang it).
            let hend = min(h0 + i32(params.kh), i32(params.h + params.pad_bottom));
            let wend = min(w0 + i32(params.kw), i32(params.w + params.pad_right));
            count = u32(hend - h0) * u32(wend - w0);
        } else {
            count = (ry.y - ry.x) * (rx.y - rx.x);
        }
        dst[i] = Elem(s / f32(max(count, 1u)));
    }
}

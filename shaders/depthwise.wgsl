// Depthwise 2-D convolution (groups == C, channel multiplier O/C >= 1), strided, asymmetrically
// padded, dilated, with the fused epilogue y = activate(acc + bias + residual).
//
// Layout: input [N, C, H, W], weight [O, 1, KH, KW] (PyTorch; output channel o reads input
// channel o / (O/C)), output [N, O, OH, OW], row-major Elem (precision prelude); taps accumulate in Acc, the
// epilogue runs in f32.
// Tiling: a workgroup of DW_X x DW_Y invocations owns a DW_Y x (4*DW_X) output tile of one
// (image, input channel) and all its O/C output channels; each invocation computes a strip of
// 4 adjacent output columns. The input patch under the tile (zero-padded) is staged once in
// workgroup memory and reused by every tap, strip and output channel. When the host finds the
// patch larger than PATCH_CAP it sets STAGE_INPUT = false and taps read global memory instead.
// Overrides: DW_X, DW_Y, PATCH_CAP, STAGE_INPUT, HAS_BIAS, HAS_RESIDUAL, ACTIVATION (prelude).

override DW_X: u32 = 8u;
override DW_Y: u32 = 8u;
override PATCH_CAP: u32 = 3072u;
override STAGE_INPUT: bool = true;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;

struct Params {
    batch: u32,
    channels: u32,
    in_h: u32,
    in_w: u32,
    out_c: u32,
    multiplier: u32,
    out_h: u32,
    out_w: u32,
    k_h: u32,
    k_w: u32,
    stride_h: i32,
    stride_w: i32,
    pad_h: i32,
    pad_w: i32,
    dil_h: i32,
    dil_w: i32,
    patch_h: u32,
    patch_w: u32,
    tiles_y: u32,
    tiles_x: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read> weight: array<Elem>;
@group(0) @binding(3) var<storage, read> bias: array<Elem>;
@group(0) @binding(4) var<storage, read> residual: array<Elem>;
@group(0) @binding(5) var<storage, read_write> output: array<Elem>;

var<workgroup> in_tile: array<Acc, PATCH_CAP>;

@compute @workgroup_size(DW_X, DW_Y)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) local: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    var wg = flat_workgroup_id(wid, nwg);
    let tile_x = wg % params.tiles_x;
    wg = wg / params.tiles_x;
    let tile_y = wg % params.tiles_y;
    wg = wg / params.tiles_y;
    let c = wg % params.channels;
    let b = wg / params.channels;
    if b >= params.batch {
        return;
    }

    let in_plane = (b * params.channels + c) * params.in_h * params.in_w;
    // Top-left input coordinate under the tile (may lie in the padding).
    let iy0 = i32(tile_y * DW_Y) * params.stride_h - params.pad_h;
    let ix0 = i32(tile_x * 4u * DW_X) * params.stride_w - params.pad_w;

    if STAGE_INPUT {
        let n = params.patch_h * params.patch_w;
        for (var e = lid; e < n; e += DW_X * DW_Y) {
            let iy = iy0 + i32(e / params.patch_w);
            let ix = ix0 + i32(e % params.patch_w);
            var v = Acc(0.0);
            if iy >= 0 && iy < i32(params.in_h) && ix >= 0 && ix < i32(params.in_w) {
                v = Acc(input[in_plane + u32(iy) * params.in_w + u32(ix)]);
            }
            in_tile[e] = v;
        }
    }
    workgroupBarrier();

    let oy = tile_y * DW_Y + local.y;
    let ox0 = (tile_x * DW_X + local.x) * 4u;
    // Patch coordinates of this strip's first output's first tap.
    let py = i32(local.y) * params.stride_h;
    let px = i32(local.x * 4u) * params.stride_w;
    let k_area = params.k_h * params.k_w;
    let out_plane = params.out_h * params.out_w;

    for (var q = 0u; q < params.multiplier; q++) {
        let o = c * params.multiplier + q;
        var acc = vec4<Acc>(0.0);
        for (var ky = 0u; ky < params.k_h; ky++) {
            let ty = py + i32(ky) * params.dil_h;
            for (var kx = 0u; kx < params.k_w; kx++) {
                let w = Acc(weight[o * k_area + ky * params.k_w + kx]);
                let tx = px + i32(kx) * params.dil_w;
                var x: vec4<Acc>;
                if STAGE_INPUT {
                    let base = u32(ty) * params.patch_w + u32(tx);
                    let s = u32(params.stride_w);
                    x = vec4<Acc>(in_tile[base], in_tile[base + s], in_tile[base + 2u * s], in_tile[base + 3u * s]);
                } else {
                    let iy = iy0 + ty;
                    for (var j = 0u; j < 4u; j++) {
                        let ix = ix0 + tx + i32(j) * params.stride_w;
                        var v = Acc(0.0);
                        if iy >= 0 && iy < i32(params.in_h) && ix >= 0 && ix < i32(params.in_w) {
                            v = Acc(input[in_plane + u32(iy) * params.in_w + u32(ix)]);
                        }
                        x[j] = v;
                    }
                }
                acc = fma(vec4<Acc>(w), x, acc);
            }
        }
        if oy < params.out_h {
            var bv = 0.0;
            if HAS_BIAS {
                bv = f32(bias[o]);
            }
            let row = ((b * params.out_c + o) * params.out_h + oy) * params.out_w;
            for (var j = 0u; j < 4u; j++) {
                let ox = ox0 + j;
                if ox < params.out_w {
                    var v = f32(acc[j]) + bv;
                    if HAS_RESIDUAL {
                        v += f32(residual[row + ox]);
                    }
                    output[row + ox] = Elem(activate(v));
                }
            }
        }
    }
}

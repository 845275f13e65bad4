// Depthwise 2-D convolution (groups == C, channel multiplier O/C >= 1), strided, asymmetrically
// padded, dilated, with the fused epilogue y = activate(acc + bias + residual).
//
// Layout: input [N, C, H, W], weight [O, 1, K_H, K_W] (PyTorch; output channel o reads input
// channel o / (O/C)), output [N, O, OH, OW], row-major Elem (precision prelude); taps accumulate
// in Acc, the epilogue runs in f32.
// Tiling: a workgroup of DW_X x DW_Y x DW_C invocations owns a DW_Y x (4*DW_X) output tile of
// DW_C input channels of one image (several channels fill the workgroup on small maps) and all
// their output channels; each invocation computes a strip of 4 adjacent output columns. Each
// channel's input patch under the tile (zero-padded) is staged once in workgroup memory; per
// kernel row a strip slides along its WIN input columns, loading each once into registers and
// feeding every (output, tap) pair that reads it (WIN loads instead of 4*K_W). When the host
// finds the patches larger than PATCH_CAP it sets STAGE_INPUT = false and taps read global
// memory instead.
// Overrides: DW_X, DW_Y, DW_C, K_H, K_W, STRIDE_H, STRIDE_W, DIL_H, DIL_W (specialised, so the
// patch geometry is constant and the tap loops unroll), PATCH_CAP, STAGE_INPUT, HAS_BIAS,
// HAS_RESIDUAL, ACTIVATION (prelude).
// Unchecked because (Shader::TRUSTED): input is read only for b < batch, c < channels,
// 0 <= iy < in_h, 0 <= ix < in_w; weight at o * K_H * K_W + ky * K_W + kx and bias at o for
// o = c * multiplier + q < channels * multiplier, ky < K_H, kx < K_W; output and residual at
// ((b * out_c + o) * out_h + oy) * out_w + ox only for oy < out_h, ox < out_w. in_tile is
// indexed below DW_C * PATCH_H * PATCH_W (the patch spans every row and column a strip's taps
// reach), which the host keeps within PATCH_CAP. kernels/depthwise.rs sizes the bindings;
// kernels/bounds.rs recomputes each reach from the Params and constants bound at dispatch.

const STRIP: u32 = 4u;

override DW_X: u32 = 8u;
override DW_Y: u32 = 8u;
override DW_C: u32 = 1u;
override K_H: u32 = 3u;
override K_W: u32 = 3u;
override STRIDE_H: u32 = 1u;
override STRIDE_W: u32 = 1u;
override DIL_H: u32 = 1u;
override DIL_W: u32 = 1u;
override PATCH_CAP: u32 = 3072u;
override STAGE_INPUT: bool = true;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;

// Input columns under one strip's taps, and the patch under one channel's output tile.
override WIN: u32 = (STRIP - 1u) * STRIDE_W + (K_W - 1u) * DIL_W + 1u;
override PATCH_W: u32 = (DW_X - 1u) * STRIP * STRIDE_W + WIN;
override PATCH_H: u32 = (DW_Y - 1u) * STRIDE_H + (K_H - 1u) * DIL_H + 1u;

struct Params {
    batch: u32,
    channels: u32,
    in_h: u32,
    in_w: u32,
    out_c: u32,
    multiplier: u32,
    out_h: u32,
    out_w: u32,
    pad_h: i32,
    pad_w: i32,
    tiles_y: u32,
    tiles_x: u32,
    channel_groups: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read> weight: array<Elem>;
@group(0) @binding(3) var<storage, read> bias: array<Elem>;
@group(0) @binding(4) var<storage, read> residual: array<Elem>;
@group(0) @binding(5) var<storage, read_write> output: array<Elem>;

var<workgroup> in_tile: array<Acc, PATCH_CAP>;

// Input (b, c, iy, ix), zero outside the image (the padding) and for channels past the last.
fn load_input(b: u32, c: u32, iy: i32, ix: i32) -> Acc {
    if c < params.channels && iy >= 0 && iy < i32(params.in_h) && ix >= 0 && ix < i32(params.in_w) {
        return Acc(input[((b * params.channels + c) * params.in_h + u32(iy)) * params.in_w + u32(ix)]);
    }
    return Acc(0.0);
}

@compute @workgroup_size(DW_X, DW_Y, DW_C)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) local: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    var wg = flat_workgroup_id(wid, nwg);
    let tile_x = wg % params.tiles_x;
    wg = wg / params.tiles_x;
    let tile_y = wg % params.tiles_y;
    wg = wg / params.tiles_y;
    let c0 = (wg % params.channel_groups) * DW_C;
    let b = wg / params.channel_groups;
    if b >= params.batch {
        return;
    }

    // Top-left input coordinate under the tile (may lie in the padding).
    let iy0 = i32(tile_y * DW_Y * STRIDE_H) - params.pad_h;
    let ix0 = i32(tile_x * DW_X * STRIP * STRIDE_W) - params.pad_w;
    let patch_len = PATCH_H * PATCH_W;
    if STAGE_INPUT {
        for (var e = lid; e < DW_C * patch_len; e += DW_X * DW_Y * DW_C) {
            let r = e % patch_len;
            in_tile[e] = load_input(b, c0 + e / patch_len, iy0 + i32(r / PATCH_W), ix0 + i32(r % PATCH_W));
        }
        workgroupBarrier();
    }

    let c = c0 + local.z;
    if c >= params.channels {
        return;
    }
    let oy = tile_y * DW_Y + local.y;
    let ox0 = (tile_x * DW_X + local.x) * STRIP;
    // Patch row and column of this strip's first tap.
    let py = local.y * STRIDE_H;
    let px = local.x * STRIP * STRIDE_W;
    let tile_base = local.z * patch_len;

    for (var q = 0u; q < params.multiplier; q++) {
        let o = c * params.multiplier + q;
        var acc = vec4<Acc>(0.0);
        for (var ky = 0u; ky < K_H; ky++) {
            let ty = py + ky * DIL_H;
            let w_row = (o * K_H + ky) * K_W;
            for (var t = 0u; t < WIN; t++) {
                var x: Acc;
                if STAGE_INPUT {
                    x = in_tile[tile_base + ty * PATCH_W + px + t];
                } else {
                    x = load_input(b, c, iy0 + i32(ty), ix0 + i32(px + t));
                }
                // Output j of the strip reads column t through tap kx = (t - j * STRIDE_W) / DIL_W
                // when that is a whole tap inside the kernel (constants: this folds away).
                for (var j = 0u; j < STRIP; j++) {
                    let d = i32(t) - i32(j * STRIDE_W);
                    if d >= 0 && u32(d) % DIL_W == 0u && u32(d) / DIL_W < K_W {
                        acc[j] = fma(Acc(weight[w_row + u32(d) / DIL_W]), x, acc[j]);
                    }
                }
            }
        }
        if oy < params.out_h {
            var bv = 0.0;
            if HAS_BIAS {
                bv = f32(bias[o]);
            }
            let row = ((b * params.out_c + o) * params.out_h + oy) * params.out_w;
            for (var j = 0u; j < STRIP; j++) {
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

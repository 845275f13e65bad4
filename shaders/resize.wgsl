// 2-D resize of NCHW planes: nearest, bilinear, bicubic, antialiased or not (ONNX Resize /
// Upsample, F.interpolate).
//
// Layout: src [P, in_h, in_w] and dst [P, out_h, out_w] dense (P = N * C planes). `table`
// holds the separable filter the host computed in f64 from the coordinate transformation:
// for each output row y (taps_h pairs each), then each output column x (taps_w pairs each),
// f32 pairs (source index, weight); indices are whole numbers < 2^24, already clamped to the
// input. A source index of -1 marks a row or column outside tf_crop_and_resize's input: its
// outputs are `extrapolation`. Nearest is one tap of weight 1 (an exact copy). Coordinates
// are thus exact on every backend (no f32 division here, whose rounding differs between GPUs
// and would move nearest ties).
// Tiling: one invocation per (plane, group of ROWS output rows, output column): consecutive
// invocations take consecutive columns, so every row's loads and stores are coalesced, and
// the column's taps are shared by ROWS outputs. 256 invocations per workgroup.
// src and dst are Elem (precision prelude); the table stays f32 in every precision (f16 cannot
// hold indices past 2048 exactly) and the weighted sums run in f32.

const WG: u32 = 256u;
const ROWS: u32 = 4u;

struct Params {
    // planes * row_groups * out_w invocations.
    total: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    // ceil(out_h / ROWS).
    row_groups: u32,
    // Taps per output row / column.
    taps_h: u32,
    taps_w: u32,
    extrapolation: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<Elem>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<Elem>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = flat_workgroup_id(wid, nwg) * WG + lid;
    if t >= params.total {
        return;
    }
    let x = t % params.out_w;
    let g = t / params.out_w;
    let row_group = g % params.row_groups;
    let plane = g / params.row_groups;
    let in_base = plane * params.in_h * params.in_w;
    let out_base = plane * params.out_h * params.out_w;
    let tx = 2u * (params.out_h * params.taps_h + x * params.taps_w);
    let x_inside = table[tx] >= 0.0;
    let y_first = row_group * ROWS;
    let y_end = min(y_first + ROWS, params.out_h);
    for (var y = y_first; y < y_end; y++) {
        let ty = 2u * y * params.taps_h;
        var v = params.extrapolation;
        if x_inside && table[ty] >= 0.0 {
            v = 0.0;
            for (var i = 0u; i < params.taps_h; i++) {
                let row = in_base + u32(table[ty + 2u * i]) * params.in_w;
                var sum = 0.0;
                for (var j = 0u; j < params.taps_w; j++) {
                    sum += table[tx + 2u * j + 1u] * f32(src[row + u32(table[tx + 2u * j])]);
                }
                v += table[ty + 2u * i + 1u] * sum;
            }
        }
        dst[out_base + y * params.out_w + x] = Elem(v);
    }
}

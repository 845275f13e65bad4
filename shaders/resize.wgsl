// 2-D resize of NCHW planes, nearest or bilinear (ONNX Resize / Upsample, F.interpolate).
//
// Layout: src [P, in_h, in_w] and dst [P, out_h, out_w] dense (P = N * C planes). `table`
// holds the per-axis source lookup the host computed in f64 from the coordinate
// transformation: for each output row y then each output column x, three f32
// (i0, i1, w): the source indices (whole numbers, < 2^24) and the weight of i1
// (nearest: i0 only). Coordinates are thus exact on every backend (no f32 division here,
// whose rounding differs between GPUs and would move nearest ties).
// Tiling: one invocation per (plane, group of ROWS output rows, output column): consecutive
// invocations take consecutive columns, so every row's loads and stores are coalesced, and
// the column's lookup (and for linear its two source columns and weight) is read once for
// ROWS outputs. 256 invocations per workgroup.
// src and dst are Elem (precision prelude); the table stays f32 in every precision (f16 cannot
// hold indices past 2048 exactly) and the interpolation runs in f32.
// Overrides: LINEAR (false: nearest, true: bilinear).

override LINEAR: bool = false;

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
    _pad0: u32,
    _pad1: u32,
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
    let tx = 3u * (params.out_h + x);
    let x0 = u32(table[tx]);
    let y_first = row_group * ROWS;
    let y_end = min(y_first + ROWS, params.out_h);
    if LINEAR {
        let x1 = u32(table[tx + 1u]);
        let wx = table[tx + 2u];
        for (var y = y_first; y < y_end; y++) {
            let ty = 3u * y;
            let r0 = in_base + u32(table[ty]) * params.in_w;
            let r1 = in_base + u32(table[ty + 1u]) * params.in_w;
            let top = mix(f32(src[r0 + x0]), f32(src[r0 + x1]), wx);
            let bottom = mix(f32(src[r1 + x0]), f32(src[r1 + x1]), wx);
            dst[out_base + y * params.out_w + x] = Elem(mix(top, bottom, table[ty + 2u]));
        }
    } else {
        for (var y = y_first; y < y_end; y++) {
            let row = in_base + u32(table[3u * y]) * params.in_w;
            dst[out_base + y * params.out_w + x] = src[row + x0];
        }
    }
}

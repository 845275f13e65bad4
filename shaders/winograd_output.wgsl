// Winograd F(2x2, 3x3), pass 3 of 3: output transform Y = A^T M A of every tile's 4x4
// transform-domain products, with the fused epilogue y = activate(Y + bias + residual).
//
// Layout: M [16, O, P] (the batched GEMM's output, P tiles ordered (n, tile row, tile column));
// bias [O]; residual and output [N, O, OH, OW]; all Elem (M is the GEMM's output), the
// transform and the epilogue run in f32. Tiles on the bottom/right edge write only the
// outputs inside OH x OW.
// Tiling: one (output channel, tile) per invocation, 256 per workgroup, tile index fastest:
// the 16 loads of a workgroup are coalesced runs. A^T holds only 0 and +-1: 24 adds.
// Overrides: HAS_BIAS, HAS_RESIDUAL, ACTIVATION (prelude).
// Unchecked because (Shader::TRUSTED): nothing is accessed unless idx < out_c * tiles, so
// o < out_c and t < tiles; M at point * out_c * tiles + idx < 16 * out_c * tiles; bias at o;
// residual and output at image n <= (tiles - 1) / (tiles_h * tiles_w), channel o, only inside
// out_h x out_w. kernels/winograd.rs sizes the bindings; kernels/bounds.rs recomputes each
// reach (in u64, so no product wraps) from the Params bound at dispatch.

override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;

struct Params {
    out_c: u32,
    out_h: u32,
    out_w: u32,
    tiles_h: u32,
    tiles_w: u32,
    tiles: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> m: array<Elem>;
@group(0) @binding(2) var<storage, read> bias: array<Elem>;
@group(0) @binding(3) var<storage, read> residual: array<Elem>;
@group(0) @binding(4) var<storage, read_write> output: array<Elem>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = flat_workgroup_id(wid, nwg) * 256u + lid;
    if idx >= params.out_c * params.tiles {
        return;
    }
    let o = idx / params.tiles;
    let t = idx % params.tiles;
    let per_image = params.tiles_h * params.tiles_w;
    let n = t / per_image;
    let tr = (t % per_image) / params.tiles_w;
    let tc = t % params.tiles_w;

    let plane = params.out_c * params.tiles;
    var q: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        let b = (i * 4u) * plane + idx;
        q[i] = vec4<f32>(f32(m[b]), f32(m[b + plane]), f32(m[b + 2u * plane]), f32(m[b + 3u * plane]));
    }
    store_output_tile(q, n, o, tr, tc);
}

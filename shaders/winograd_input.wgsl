// Winograd F(2x2, 3x3), pass 1 of 3: input transform V = B^T d B for every 4x4 input patch d
// (stride 2, one patch per 2x2 output tile).
//
// Layout: input [N, C, H, W]; V [16, C, P] (both Elem: V is the GEMM's B operand, which
// matmul.wgsl reads as Elem; the transform itself runs in f32) with P = N * tiles_h * tiles_w tiles ordered
// (n, tile row, tile column): each transform point p is one [C, P] matrix, the B operand of the
// batched GEMM (matmul.wgsl) that multiplies it by the transformed weights U[p] [O, C].
// Patch rows and columns outside the input read as zero (the padding; rows past the padded
// input only feed outputs that are discarded).
// Tiling: one (channel, tile) per invocation, 256 per workgroup, tile index fastest, so the 16
// stores of a workgroup are 16 coalesced runs. B^T holds only 0 and +-1: the transform is 32
// exact-order adds.
// Overrides: none.
// Unchecked because (Shader::TRUSTED): nothing is accessed unless idx < channels * tiles, so
// c < channels and t < tiles; input at image n <= (tiles - 1) / (tiles_h * tiles_w), channel c,
// only inside in_h x in_w; V at point * channels * tiles + idx < 16 * channels * tiles.
// kernels/winograd.rs sizes both bindings; kernels/bounds.rs recomputes both reaches (in u64,
// so no product wraps) from the Params bound at dispatch.

struct Params {
    channels: u32,
    in_h: u32,
    in_w: u32,
    tiles_h: u32,
    tiles_w: u32,
    tiles: u32,
    pad_h: i32,
    pad_w: i32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read_write> v: array<Elem>;

// Input value at (row y, column x) of plane `base`, zero outside.
fn load(base: u32, y: i32, x: i32) -> f32 {
    if y < 0 || x < 0 || y >= i32(params.in_h) || x >= i32(params.in_w) {
        return 0.0;
    }
    return f32(input[base + u32(y) * params.in_w + u32(x)]);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = flat_workgroup_id(wid, nwg) * 256u + lid;
    if idx >= params.channels * params.tiles {
        return;
    }
    let c = idx / params.tiles;
    let t = idx % params.tiles;
    let per_image = params.tiles_h * params.tiles_w;
    let n = t / per_image;
    let tr = (t % per_image) / params.tiles_w;
    let tc = t % params.tiles_w;
    let base = (n * params.channels + c) * params.in_h * params.in_w;
    let y0 = i32(2u * tr) - params.pad_h;
    let x0 = i32(2u * tc) - params.pad_w;

    var d: array<vec4<f32>, 4>;
    for (var i = 0; i < 4; i++) {
        d[i] = vec4<f32>(load(base, y0 + i, x0), load(base, y0 + i, x0 + 1),
                         load(base, y0 + i, x0 + 2), load(base, y0 + i, x0 + 3));
    }
    // Rows: B^T d.
    var r: array<vec4<f32>, 4>;
    r[0] = d[0] - d[2];
    r[1] = d[1] + d[2];
    r[2] = d[2] - d[1];
    r[3] = d[1] - d[3];
    // Columns: (B^T d) B, one row at a time.
    let plane = params.channels * params.tiles;
    let out0 = c * params.tiles + t;
    for (var i = 0u; i < 4u; i++) {
        let q = r[i];
        let row = vec4<f32>(q.x - q.z, q.y + q.z, q.z - q.y, q.y - q.w);
        for (var j = 0u; j < 4u; j++) {
            v[(i * 4u + j) * plane + out0] = Elem(row[j]);
        }
    }
}

// Winograd F(2x2, 3x3) in one dispatch: input transform V = B^T d B, the products
// M[p] = U[p] V[p] of the 16 transform points and the output transform Y = A^T M A with the
// fused epilogue y = activate(Y + bias + residual), with every transformed tensor kept in
// workgroup memory (no scratch).
//
// Layout: input [N, C, H, W]; U [16, O, C], the host-transformed weights G g G^T (the buffer
// the three-pass Winograd's GEMM reads); bias [O]; residual and output [N, O, OH, OW]; all
// Elem. Tiles t < P = N * tiles_h * tiles_w are ordered (n, tile row, tile column); tile t's
// 4x4 input patch starts at (2 * tile row - pad_h, 2 * tile column - pad_w) and reads zero
// outside H x W (the padding; rows past the padded input only feed discarded outputs).
// Tiling: a workgroup owns TM = 16 output channels x TN = 16 tiles for all 16 points (flat
// workgroup index: channel block fastest). Invocation lid = (p, i) = (lid / 16, lid % 16)
// accumulates, for point p, the 4x4 block of channels o0 + 4 * (i / 4) + 0..3 and tiles
// t0 + 4 * (i % 4) + 0..3 (vec4 workgroup loads of U over channels and of V over tiles). The
// reduction walks C in chunks of KC = 8: invocations 0-127 transform one (channel, tile)
// patch each (32 exact adds in f32, stored as Acc), 128-255 load the chunk's U (runs of KC
// consecutive channels); channels, output channels and tiles out of range read zero. After the
// reduction the products M are staged over the same memory and invocation (o, t) = (lid / 16,
// lid % 16) applies A^T . A (24 exact adds, f32) and the epilogue, writing the outputs of its
// 2x2 tile that lie inside OH x OW.
// Workgroup memory: 1024 vec4<Acc>, V [16][KC][TN] then U [16][KC][TM] during the reduction,
// M [16][TM][TN] after it: 16 KiB with f32 sums (WebGPU's default limit), 8 KiB with f16.
// Overrides: HAS_BIAS, HAS_RESIDUAL, ACTIVATION (prelude). TM = TN = 16 and KC = 8 are fixed:
// the 16 points x 16 invocations split needs the 16 x 16 block, and KC = 8 fills the memory.
// Checked (not in Shader::TRUSTED): wgpu's runtime bounds checks stay on.

override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;

const TM: u32 = 16u;
const TN: u32 = 16u;
const KC: u32 = 8u;
// First vec4 of U in `sh`: V takes 16 points x KC channels x TN / 4.
const U_BASE: u32 = 512u;

struct Params {
    channels: u32,
    out_c: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    tiles_h: u32,
    tiles_w: u32,
    tiles: u32,
    m_blocks: u32,
    pad_h: i32,
    pad_w: i32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read> u: array<Elem>;
@group(0) @binding(3) var<storage, read> bias: array<Elem>;
@group(0) @binding(4) var<storage, read> residual: array<Elem>;
@group(0) @binding(5) var<storage, read_write> output: array<Elem>;

var<workgroup> sh: array<vec4<Acc>, 1024>;

// Stores `x` at scalar index `s` of `sh`.
fn put(s: u32, x: Acc) {
    sh[s >> 2u][s & 3u] = x;
}

// Input value at (row y, column x) of plane `base`, zero outside.
fn load(base: u32, y: i32, x: i32) -> f32 {
    if y < 0 || x < 0 || y >= i32(params.in_h) || x >= i32(params.in_w) {
        return 0.0;
    }
    return f32(input[base + u32(y) * params.in_w + u32(x)]);
}

// V = B^T d B of channel c's patch of tile (n, y0, x0), written to V[point][cl][tl]; zero
// when c or the tile is out of range (`live` false).
fn transform_patch(live: bool, c: u32, n: u32, y0: i32, x0: i32, cl: u32, tl: u32) {
    var d: array<vec4<f32>, 4>;
    if live {
        let base = (n * params.channels + c) * params.in_h * params.in_w;
        for (var i = 0; i < 4; i++) {
            d[i] = vec4<f32>(load(base, y0 + i, x0), load(base, y0 + i, x0 + 1),
                             load(base, y0 + i, x0 + 2), load(base, y0 + i, x0 + 3));
        }
    }
    // Rows: B^T d; then columns: (B^T d) B, one row at a time.
    var r: array<vec4<f32>, 4>;
    r[0] = d[0] - d[2];
    r[1] = d[1] + d[2];
    r[2] = d[2] - d[1];
    r[3] = d[1] - d[3];
    for (var i = 0u; i < 4u; i++) {
        let q = r[i];
        let row = vec4<f32>(q.x - q.z, q.y + q.z, q.z - q.y, q.y - q.w);
        for (var j = 0u; j < 4u; j++) {
            put(((i * 4u + j) * KC + cl) * TN + tl, Acc(row[j]));
        }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let w = flat_workgroup_id(wid, nwg);
    let o0 = (w % params.m_blocks) * TM;
    let t0 = (w / params.m_blocks) * TN;
    // Past the last tile block (the grid folds to more workgroups than asked): nothing to do.
    if t0 >= params.tiles {
        return;
    }
    // The reduction's roles: point p, channel quad ob, tile quad tb.
    let p = lid / 16u;
    let ob = (lid % 16u) / 4u;
    let tb = lid % 4u;
    // The tile this invocation transforms (as a patch loader) and writes (at the end).
    let tl = lid % TN;
    let t = t0 + tl;
    let per_image = params.tiles_h * params.tiles_w;
    let n = t / per_image;
    let tr = (t % per_image) / params.tiles_w;
    let tc = t % params.tiles_w;
    let y0 = i32(2u * tr) - params.pad_h;
    let x0 = i32(2u * tc) - params.pad_w;

    // acc[j][k]: output channel o0 + 4 * ob + j, tile t0 + 4 * tb + k, point p.
    var acc: array<vec4<Acc>, 4>;
    for (var c0 = 0u; c0 < params.channels; c0 += KC) {
        if lid < 128u {
            let cl = lid / TN;
            let c = c0 + cl;
            transform_patch(c < params.channels && t < params.tiles, c, n, y0, x0, cl, tl);
        } else {
            let cl = (lid - 128u) % KC;
            let ol = (lid - 128u) / KC;
            let c = c0 + cl;
            let o = o0 + ol;
            let live = c < params.channels && o < params.out_c;
            for (var pt = 0u; pt < 16u; pt++) {
                var x = Acc(0.0);
                if live {
                    x = Acc(u[(pt * params.out_c + o) * params.channels + c]);
                }
                put(4u * U_BASE + (pt * KC + cl) * TM + ol, x);
            }
        }
        workgroupBarrier();
        for (var cl = 0u; cl < KC; cl++) {
            let uo = sh[U_BASE + (p * KC + cl) * 4u + ob];
            let vt = sh[(p * KC + cl) * 4u + tb];
            acc[0] += uo.x * vt;
            acc[1] += uo.y * vt;
            acc[2] += uo.z * vt;
            acc[3] += uo.w * vt;
        }
        workgroupBarrier();
    }

    // Stage M[p][o][t] over the operands: every read of them ended at the last barrier.
    for (var j = 0u; j < 4u; j++) {
        sh[(p * TM + 4u * ob + j) * 4u + tb] = acc[j];
    }
    workgroupBarrier();

    let ol = lid / TN;
    let o = o0 + ol;
    if o >= params.out_c || t >= params.tiles {
        return;
    }
    var q: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            let s = ((i * 4u + j) * TM + ol) * TN + tl;
            q[i][j] = f32(sh[s >> 2u][s & 3u]);
        }
    }
    store_output_tile(q, n, o, tr, tc);
}

// Tiled, strided, batched GEMM with a fused epilogue:
//   C[b][m][n] = activate(sum_k A[b][m][k] * B[b][k][n] + bias + residual[b][m][n]).
// It serves pointwise (1x1) convolution, grouped pointwise, Linear/Gemm and MatMul.
//
// Layout: A, B, C (and the residual, laid out like C) are read/written through strides: row,
// column, and a two-level batch b = (b_outer, b_inner), b_outer in [0, batch / batch_inner),
// each level with its own stride per operand (0 broadcasts). So NCHW grouped 1x1 conv is
// batch (image, group) with A = the group's weight rows and B = the group's input channels,
// and Linear reads B = W^T straight out of W [M, K] by swapping B's strides (no transpose copy).
// The bias is indexed by row (per output channel) or by column (per Linear output), plus
// b_outer * bias_bo + b_inner * bias_bi.
//
// Tiling: a WG_X x WG_Y workgroup computes a (4*WG_Y) x (4*WG_X) tile of C; each invocation a
// 4x4 register block at rows ty + i*WG_Y and columns tx + j*WG_X (strided, so neighbouring
// invocations read neighbouring workgroup-memory words and write neighbouring columns). A and B
// are staged in workgroup memory TILE_K columns of K at a time; edge tiles are zero-filled, so
// any M, N, K works. One workgroup per tile; the flat workgroup id is (batch, tile row, tile col).
//
// Elements are stored as Elem and accumulated as Acc (precision prelude); the epilogue runs
// in f32.
//
// Split-K (PARTIAL): workgroups also range over `splits` slices of K, k_chunk long each; slice
// s writes raw partial sums (no epilogue, as Acc) at partial[s * c_split + usual index], and
// splitk_reduce.wgsl finishes. Without it splits = 1 and k_chunk = k. `partial` is a binding of
// its own because it holds Acc, not Elem (f32 sums in f16-acc32 keep f32's accuracy).
//
// Overrides: WG_X, WG_Y, TILE_K (tile shape); A_K_FAST / B_K_FAST (which tile dimension
// consecutive invocations load, chosen by the host so global loads coalesce along the operand's
// unit stride); HAS_BIAS, BIAS_PER_ROW, HAS_RESIDUAL; PARTIAL; ACTIVATION (prelude).

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override TILE_K: u32 = 16u;
override A_K_FAST: bool = true;
override B_K_FAST: bool = false;
override HAS_BIAS: bool = false;
override BIAS_PER_ROW: bool = true;
override HAS_RESIDUAL: bool = false;
override PARTIAL: bool = false;

// Register block per invocation (private arrays need constant sizes).
const RM: u32 = 4u;
const RN: u32 = 4u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    batch_inner: u32,
    tiles_m: u32,
    tiles_n: u32,
    a_rs: u32,
    a_cs: u32,
    a_bo: u32,
    a_bi: u32,
    b_rs: u32,
    b_cs: u32,
    b_bo: u32,
    b_bi: u32,
    c_rs: u32,
    c_cs: u32,
    c_bo: u32,
    c_bi: u32,
    bias_bo: u32,
    bias_bi: u32,
    k_chunk: u32,
    splits: u32,
    c_split: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<Elem>;
@group(0) @binding(2) var<storage, read> b: array<Elem>;
@group(0) @binding(3) var<storage, read> bias: array<Elem>;
@group(0) @binding(4) var<storage, read> residual: array<Elem>;
@group(0) @binding(5) var<storage, read_write> c: array<Elem>;
// Split-K partial sums (bound to `c` when PARTIAL is off).
@group(0) @binding(6) var<storage, read_write> partial: array<Acc>;

// k-major tiles: a_tile[kk][mm], b_tile[kk][nn]. Rows padded by one word so that k-fast
// loads (consecutive invocations, consecutive kk) land in distinct banks.
var<workgroup> a_tile: array<Acc, TILE_K * (RM * WG_Y + 1u)>;
var<workgroup> b_tile: array<Acc, TILE_K * (RN * WG_X + 1u)>;

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid3: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let tile_m = RM * WG_Y;
    let tile_n = RN * WG_X;
    let a_pitch = tile_m + 1u;
    let b_pitch = tile_n + 1u;
    let threads = WG_X * WG_Y;

    let tiles = params.tiles_m * params.tiles_n;
    let per_split = params.batch * tiles;
    let flat_all = flat_workgroup_id(wid, nwg);
    // Workgroup-uniform, so returning before the barriers is fine.
    if flat_all >= params.splits * per_split {
        return;
    }
    let split = flat_all / per_split;
    let flat = flat_all % per_split;
    let k_begin = split * params.k_chunk;
    let k_end = min(k_begin + params.k_chunk, params.k);
    let bat = flat / tiles;
    let t = flat % tiles;
    let row0 = (t / params.tiles_n) * tile_m;
    let col0 = (t % params.tiles_n) * tile_n;
    let b_out = bat / params.batch_inner;
    let b_in = bat % params.batch_inner;
    let a_base = b_out * params.a_bo + b_in * params.a_bi;
    let b_base = b_out * params.b_bo + b_in * params.b_bi;
    let c_base = b_out * params.c_bo + b_in * params.c_bi;

    let tx = lid3.x;
    let ty = lid3.y;
    var acc: array<vec4<Acc>, RM>;
    for (var i = 0u; i < RM; i++) {
        acc[i] = vec4<Acc>(0.0);
    }

    for (var k0 = k_begin; k0 < k_end; k0 += TILE_K) {
        // Stage A[row0.., k0..] and B[k0.., col0..], zero outside the matrices.
        for (var e = lid; e < tile_m * TILE_K; e += threads) {
            var mm: u32;
            var kk: u32;
            if A_K_FAST {
                kk = e % TILE_K;
                mm = e / TILE_K;
            } else {
                mm = e % tile_m;
                kk = e / tile_m;
            }
            let gm = row0 + mm;
            let gk = k0 + kk;
            var v = Acc(0.0);
            if gm < params.m && gk < k_end {
                v = Acc(a[a_base + gm * params.a_rs + gk * params.a_cs]);
            }
            a_tile[kk * a_pitch + mm] = v;
        }
        for (var e = lid; e < tile_n * TILE_K; e += threads) {
            var nn: u32;
            var kk: u32;
            if B_K_FAST {
                kk = e % TILE_K;
                nn = e / TILE_K;
            } else {
                nn = e % tile_n;
                kk = e / tile_n;
            }
            let gn = col0 + nn;
            let gk = k0 + kk;
            var v = Acc(0.0);
            if gn < params.n && gk < k_end {
                v = Acc(b[b_base + gk * params.b_rs + gn * params.b_cs]);
            }
            b_tile[kk * b_pitch + nn] = v;
        }
        workgroupBarrier();

        // The zero fill makes the tail chunk safe to run at full TILE_K.
        for (var kk = 0u; kk < TILE_K; kk++) {
            let ao = kk * a_pitch + ty;
            let bo = kk * b_pitch + tx;
            let bv = vec4<Acc>(b_tile[bo], b_tile[bo + WG_X], b_tile[bo + 2u * WG_X],
                               b_tile[bo + 3u * WG_X]);
            for (var i = 0u; i < RM; i++) {
                acc[i] = fma(vec4<Acc>(a_tile[ao + i * WG_Y]), bv, acc[i]);
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < RM; i++) {
        let gm = row0 + ty + i * WG_Y;
        if gm >= params.m {
            break;
        }
        for (var j = 0u; j < RN; j++) {
            let gn = col0 + tx + j * WG_X;
            if gn >= params.n {
                break;
            }
            if PARTIAL {
                partial[split * params.c_split + c_base + gm * params.c_rs + gn * params.c_cs] = acc[i][j];
                continue;
            }
            var v = f32(acc[i][j]);
            if HAS_BIAS {
                let bias_base = b_out * params.bias_bo + b_in * params.bias_bi;
                v += f32(bias[bias_base + select(gn, gm, BIAS_PER_ROW)]);
            }
            let ci = c_base + gm * params.c_rs + gn * params.c_cs;
            if HAS_RESIDUAL {
                v += f32(residual[ci]);
            }
            c[ci] = Elem(activate(v));
        }
    }
}

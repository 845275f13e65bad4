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
// Tiling: a WG_X x WG_Y workgroup computes a (RM*WG_Y) x (RN*WG_X) tile of C; each invocation
// an RM x RN register block (4x4, 8x4, 4x8 or 8x8) at rows ty + i*WG_Y and columns tx + j*WG_X
// (strided, so neighbouring invocations read neighbouring workgroup-memory words and write
// neighbouring columns). A and B are staged in workgroup memory TILE_K (16 or 32) values of K
// at a time, as vec4s holding each invocation's 4 rows (4 columns): per kk an invocation makes
// RM/4 + RN/4 128-bit shared loads for RM*RN FMAs (4x4: 2 for 16, 8x8: 4 for 64). The next
// chunk is read from global memory into registers (RM*TILE_K/WG_X values of A and
// RN*TILE_K/WG_Y of B per invocation, at most 16 each, host-checked) while the current one is
// multiplied. Edge tiles are zero-filled, so any M, N, K works. One workgroup per tile; the
// flat workgroup id is (split, batch, tile row, tile col).
//
// ALIGNED drops every bounds check on loads and stores. The host sets it only when M and N
// are multiples of the tile and K and the split range are multiples of TILE_K, so every
// staged chunk and every register block lies wholly inside the matrices (gemm.rs, `aligned`),
// whose extents the host checked against the bindings.
//
// B_SCALE (HAS_B_SCALE): B's row k of batch entry b is multiplied by
// b_scale[b_outer * s_bo + b_inner * s_bi + k] as it is fetched, so a pointwise convolution
// applies squeeze-excitation's channel gate s[n, c] to its input on the way in (no separate
// `x * s` pass). The product is taken in f32 and rounded to Acc once, as an elementwise Mul
// would round it in f32 and f16; in f16-acc32 it stays f32 (the Mul's output would have been
// rounded to f16). Its reach (s_bo, s_bi, k) is host-checked like the other bindings.
//
// Elements are stored as Elem and accumulated as Acc (precision prelude); the epilogue runs
// in f32.
//
// Split-K (PARTIAL): workgroups also range over `splits` slices of K, k_chunk long each; slice
// s writes raw partial sums (no epilogue, as Acc) at partial[s * c_split + usual index], and
// splitk_reduce.wgsl finishes. Without it splits = 1 and k_chunk = k. `partial` is a binding of
// its own because it holds Acc, not Elem (f32 sums in f16-acc32 keep f32's accuracy).
//
// Unchecked because (Shader::TRUSTED): every index is in range (host half:
// src/kernels/bounds/matmul.rs, run on the launch as bound):
// - Overrides: WG_X, WG_Y are powers of two, RM, RN are 4 or 8, TILE_K 16 or 32, and
//   RM*TILE_K / WG_X, RN*TILE_K / WG_Y are whole and <= MAX_LOADS (bounds check).
// - a_next / b_next[r]: r < RM*TILE_K/WG_X (RN*TILE_K/WG_Y) <= MAX_LOADS. acc: the FMA's
//   4q*rn4 + p + 3*rn4 and the epilogue's i*rn4 + j/4 stay below RM*RN/4 <= 16 = MAX_ACC;
//   bv[p]: p < RN/4 <= 2.
// - a_tile / b_tile: staged value e = lid + r*threads < TILE_K * tile_m (the division above
//   is exact), so staged() gives kk < TILE_K and a position < tile_m; its slot i/4*WG_Y +
//   p.y%WG_Y < RM/4*WG_Y = a_slots, and the reads' q*WG_Y + ty too. swizzled() XORs a slot
//   with a mask below min(slots, 8), both powers of two, so it stays below slots; the index
//   is < TILE_K * slots, the array's size. b_tile likewise with WG_X, RN.
// - Workgroup ids: the host refuses splits*batch*tiles_m*tiles_n >= 2^32, so those never
//   wrap, and a workgroup that runs has split < splits, batch entry < batch (b_outer <=
//   (batch-1)/batch_inner, b_inner < batch_inner >= 1), tile row < tiles_m, column <
//   tiles_n; tiles_m*tile_m, tiles_n*tile_n and K + TILE_K fit a u32 too (host).
// - Global reads and writes: gm < min(m, tiles_m*tile_m) (ALIGNED: < tiles_m*tile_m), gn
//   likewise, and gk < k_end <= K; with ALIGNED the host requires K and k_chunk to be
//   multiples of TILE_K, so chunks starting at k0 (a multiple of TILE_K, even if
//   split*k_chunk wraps, as TILE_K divides 2^32) below k_end end by k_end <= K. The host
//   checks each binding against base + (rows-1)*rs + (cols-1)*cs + 1 at the highest batch
//   indices (a, b, c, residual, bias by row or column, b_scale over K, partial at
//   (splits-1)*c_split + that in Acc); every intermediate the shader forms is a sum of those
//   terms, and the host also requires each reach < 2^32, so none wraps.
//
// Overrides: WG_X, WG_Y (powers of two), RM, RN, TILE_K (tile shape); ALIGNED; A_K_FAST /
// B_K_FAST (which tile dimension consecutive invocations load, chosen by the host so global
// loads coalesce along the operand's unit stride); HAS_BIAS, BIAS_PER_ROW, HAS_RESIDUAL;
// HAS_B_SCALE; PARTIAL; ACTIVATION (prelude).

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override RM: u32 = 4u;
override RN: u32 = 4u;
override TILE_K: u32 = 16u;
override ALIGNED: bool = false;
override A_K_FAST: bool = true;
override B_K_FAST: bool = false;
override HAS_BIAS: bool = false;
override BIAS_PER_ROW: bool = true;
override HAS_RESIDUAL: bool = false;
override HAS_B_SCALE: bool = false;
override PARTIAL: bool = false;

// Private arrays need constant sizes: the largest register block (8x8, as 8 rows of two vec4
// column groups) and the most prefetched values per operand; smaller tilings use a prefix,
// and the loops below run to override bounds, so the driver drops the rest.
const MAX_ACC: u32 = 16u;
const MAX_LOADS: u32 = 16u;

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
    s_bo: u32,
    s_bi: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<Elem>;
@group(0) @binding(2) var<storage, read> b: array<Elem>;
@group(0) @binding(3) var<storage, read> bias: array<Elem>;
@group(0) @binding(4) var<storage, read> residual: array<Elem>;
@group(0) @binding(5) var<storage, read_write> c: array<Elem>;
// Split-K partial sums (bound to `c` when PARTIAL is off).
@group(0) @binding(6) var<storage, read_write> partial: array<Acc>;
// B's row scales (a 4-byte prefix of `a` when HAS_B_SCALE is off).
@group(0) @binding(7) var<storage, read> b_scale: array<Elem>;

// k-major vec4 tiles: slot q*WG_Y + ty of row kk of a_tile holds rows ty + (4q + c)*WG_Y of
// the A tile in component c (q < RM/4); b_tile likewise for columns. Unpadded (128x128 with
// 16-long chunks fits WebGPU's guaranteed 16 KiB); instead slots are swizzled, slot ^ (kk & 7),
// so that k-fast stores (consecutive invocations, consecutive kk, one slot) land in distinct
// banks, while a row's slots stay a permutation of themselves for the reads.
var<workgroup> a_tile: array<vec4<Acc>, TILE_K * RM / 4u * WG_Y>;
var<workgroup> b_tile: array<vec4<Acc>, TILE_K * RN / 4u * WG_X>;

// Index of slot `slot` of row `kk` in a tile with `slots` (a power of two) slots per row.
fn swizzled(kk: u32, slot: u32, slots: u32) -> u32 {
    return kk * slots + (slot ^ (kk & (min(slots, 8u) - 1u)));
}

// Where staged value `e` of a chunk sits in its tile: (kk, position along M or N) with
// consecutive e along whichever dimension the operand's memory is contiguous in.
fn staged(e: u32, extent: u32, k_fast: bool) -> vec2<u32> {
    if k_fast {
        return vec2<u32>(e % TILE_K, e / TILE_K);
    }
    return vec2<u32>(e / extent, e % extent);
}

// Where one tile's chunk starts: the batch entry's base offsets (A, B, B's row scales), the
// tile's first row and column, and the end of this split's K range.
struct Origin {
    a_base: u32,
    b_base: u32,
    s_base: u32,
    row0: u32,
    col0: u32,
    k_end: u32,
}

// Reads this invocation's share of the chunk at k0 from global memory into registers, zero
// outside the matrices.
fn fetch_chunk(a_next: ptr<function, array<Acc, MAX_LOADS>>,
               b_next: ptr<function, array<Acc, MAX_LOADS>>, lid: u32, o: Origin, k0: u32) {
    let threads = WG_X * WG_Y;
    for (var r = 0u; r < RM * TILE_K / WG_X; r++) {
        let p = staged(lid + r * threads, RM * WG_Y, A_K_FAST);
        let gm = o.row0 + p.y;
        let gk = k0 + p.x;
        var v = Acc(0.0);
        if ALIGNED || (gm < params.m && gk < o.k_end) {
            v = Acc(a[o.a_base + gm * params.a_rs + gk * params.a_cs]);
        }
        (*a_next)[r] = v;
    }
    for (var r = 0u; r < RN * TILE_K / WG_Y; r++) {
        let p = staged(lid + r * threads, RN * WG_X, B_K_FAST);
        let gn = o.col0 + p.y;
        let gk = k0 + p.x;
        var v = Acc(0.0);
        if ALIGNED || (gn < params.n && gk < o.k_end) {
            let bv = b[o.b_base + gk * params.b_rs + gn * params.b_cs];
            if HAS_B_SCALE {
                v = Acc(f32(bv) * f32(b_scale[o.s_base + gk]));
            } else {
                v = Acc(bv);
            }
        }
        (*b_next)[r] = v;
    }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid3: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let tile_m = RM * WG_Y;
    let tile_n = RN * WG_X;
    let a_slots = RM / 4u * WG_Y;
    let b_slots = RN / 4u * WG_X;
    let threads = WG_X * WG_Y;
    let a_loads = RM * TILE_K / WG_X;
    let b_loads = RN * TILE_K / WG_Y;
    let rn4 = RN / 4u;

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
    let s_base = b_out * params.s_bo + b_in * params.s_bi;

    let tx = lid3.x;
    let ty = lid3.y;
    var acc: array<vec4<Acc>, MAX_ACC>;
    for (var i = 0u; i < RM * rn4; i++) {
        acc[i] = vec4<Acc>(0.0);
    }

    let origin = Origin(a_base, b_base, s_base, row0, col0, k_end);
    var a_next: array<Acc, MAX_LOADS>;
    var b_next: array<Acc, MAX_LOADS>;
    // Uniform: an empty split range loads nothing (the aligned variant must not read).
    if k_begin < k_end {
        fetch_chunk(&a_next, &b_next, lid, origin, k_begin);
    }

    for (var k0 = k_begin; k0 < k_end; k0 += TILE_K) {
        for (var r = 0u; r < a_loads; r++) {
            let p = staged(lid + r * threads, tile_m, A_K_FAST);
            let i = p.y / WG_Y;
            a_tile[swizzled(p.x, i / 4u * WG_Y + p.y % WG_Y, a_slots)][i % 4u] = a_next[r];
        }
        for (var r = 0u; r < b_loads; r++) {
            let p = staged(lid + r * threads, tile_n, B_K_FAST);
            let j = p.y / WG_X;
            b_tile[swizzled(p.x, j / 4u * WG_X + p.y % WG_X, b_slots)][j % 4u] = b_next[r];
        }
        workgroupBarrier();

        // Prefetch the next chunk; its loads are in flight during the FMAs below.
        if k0 + TILE_K < k_end {
            fetch_chunk(&a_next, &b_next, lid, origin, k0 + TILE_K);
        }

        // The zero fill makes the tail chunk safe to run at full TILE_K.
        for (var kk = 0u; kk < TILE_K; kk++) {
            var bv: array<vec4<Acc>, 2>;
            for (var p = 0u; p < rn4; p++) {
                bv[p] = b_tile[swizzled(kk, p * WG_X + tx, b_slots)];
            }
            for (var q = 0u; q < RM / 4u; q++) {
                let av = a_tile[swizzled(kk, q * WG_Y + ty, a_slots)];
                for (var p = 0u; p < rn4; p++) {
                    // Rows 4q..4q+3 of the register block, column group p.
                    let i = 4u * q * rn4 + p;
                    acc[i] = fma(vec4<Acc>(av.x), bv[p], acc[i]);
                    acc[i + rn4] = fma(vec4<Acc>(av.y), bv[p], acc[i + rn4]);
                    acc[i + 2u * rn4] = fma(vec4<Acc>(av.z), bv[p], acc[i + 2u * rn4]);
                    acc[i + 3u * rn4] = fma(vec4<Acc>(av.w), bv[p], acc[i + 3u * rn4]);
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < RM; i++) {
        let gm = row0 + ty + i * WG_Y;
        if !ALIGNED && gm >= params.m {
            break;
        }
        for (var j = 0u; j < RN; j++) {
            let gn = col0 + tx + j * WG_X;
            if !ALIGNED && gn >= params.n {
                break;
            }
            let sum = acc[i * rn4 + j / 4u][j % 4u];
            if PARTIAL {
                partial[split * params.c_split + c_base + gm * params.c_rs + gn * params.c_cs] = sum;
                continue;
            }
            var v = f32(sum);
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

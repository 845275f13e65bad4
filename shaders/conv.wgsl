// Convolution (1-D, 2-D, 3-D; grouped, strided, asymmetrically padded, dilated) as an implicit
// GEMM with a fused epilogue y = activate(acc + bias + residual).
//
// Layout: input [N, C, D, H, W], weight [O, C/g, KD, KH, KW] (PyTorch), output [N, O, OD, OH, OW],
// all row-major Elem (the precision prelude's storage type; products accumulate in Acc,
// the epilogue runs in f32). 1-D and 2-D convolutions arrive as 3-D with unit depth (and height).
// Per group g: out[m, n] = sum_k W[g*Mg + m, k] * X[k, n], M = O/g output channels,
// N = batch*OD*OH*OW output pixels, K = (C/g)*KD*KH*KW; X (im2col) is gathered on the fly and
// is zero in the padding, so nothing is materialised.
//
// Tiling: a workgroup of WG_M x WG_N invocations owns a (RM*WG_M) x (RN*WG_N) output tile of one
// group; each invocation accumulates an RM x RN register block (RM, RN in {4, 8}) at rows
// ty + i*WG_M and columns tx + j*WG_N (strided, so output writes coalesce along pixels). Weight
// and input tiles are staged in workgroup memory over K-chunks of TK, stored so that each
// invocation's rows (columns) are RM/4 (RN/4) vec4s: (RM + RN)/4 128-bit shared loads feed
// RM*RN FMAs. The weight tile's rows are XOR-swizzled by kk instead of padded, so the k-strided
// stores spread over banks and a 128x128 tile of TK = 16 fits WebGPU's 16 KiB.
// Prefetch: the next chunk's global loads go to registers (w_reg, x_reg) while the current one
// is multiplied from workgroup memory; one barrier pair per chunk.
// Gather without division: each invocation gathers one tile column over a run of rows; its
// kernel-offset odometer (ci, kz, ky, kx) is decomposed once, then advanced by TK per chunk with
// a mixed-radix add of the host's decomposition of TK (tk_c, tk_z, tk_y, tk_x).
// Bounds proofs of the host-chosen flags (src/kernels/conv.rs picks them):
// - ALIGNED: M % tile_m == 0, N % tile_n == 0 and K % TK == 0. Split ranges are whole TK chunks,
//   so every chunk in [k_begin, k_end) is full (k < k_end), every tile row m < M and column
//   n < N; the m, n and k checks are dropped.
// - IN_RANGE: no padding at the start and (out - 1) * stride + (k - 1) * dilation < in in every
//   dimension, so every gathered coordinate of a valid (column, k) lies inside the input; the
//   coordinate checks are dropped.
// Split-K (PARTIAL): workgroups also range over `splits` slices of K, k_chunk long each;
// slice s writes its raw partial sums (no epilogue, as Acc) to partial[s * numel(output) + idx], and
// splitk_reduce.wgsl sums the slices and applies the epilogue. Without it splits = 1 and
// k_chunk = k_total.
// Unchecked because (Shader::TRUSTED; host half: src/kernels/bounds/conv.rs re-reads all of
// this from the launch's constants, Params and bindings):
// - Private arrays: w_reg[t] / x_reg[t] with t < w_loads() = ceil(TK*RM/WG_N) and
//   x_loads() = TK*RN/WG_M, both <= MAX_LOADS (checked); acc[i*cq + p] < RM*RN/4 <= MAX_BLOCK,
//   a[q] / b[p] < RM/4, RN/4 <= 2, col_off[j] / col_ok[j] with j < RN <= 8 (RM, RN in {4, 8}).
// - w_tile (TK rows of w_row() = RM*WG_M/4 slots): kk < TK; slot = (i/4)*WG_M + mm % WG_M with
//   mm = e/TK < RM*WG_M (e < TK*tile_m), and q*WG_M + ty with q < RM/4, ty < WG_M: both below
//   w_row(), a power of two (WG_M is one, checked), so XOR with w_swizzle < min(w_row, 8) stays.
// - x_tile (TK rows of RN*WG_N/4): slot = (j/4)*WG_N + ld_col % WG_N and p*WG_N + tx are below
//   RN*WG_N/4; row ld_row0 + t < (WG_M/RN) * x_loads() = TK since RN | WG_M and (WG_M/RN) | TK.
// - Odometer: k_total = c_per_group*k_d*k_h*k_w and tk_* are TK's digits (checked), so
//   (od_c, od_z, od_y, od_x) is k's decomposition; k stays below k_total + TK < 2^32 (checked),
//   so under k < k_end <= k_total, od_c < c_per_group and kz, ky, kx below their radices.
// - weight: w_base + m*k_total + k with g < groups, m < m_per_group, k < k_total: below
//   groups*m_per_group*k_total. input: (b*in_c + g*c_per_group + od_c)*in_sp + sp with
//   b < batch (n_total <= batch*out_sp), groups*c_per_group <= in_c, sp < in_sp by the
//   coordinate guards: below batch*in_c*in_sp. output / residual: col_off + o*out_sp with
//   o < groups*m_per_group <= out_c: below batch*out_c*out_sp; bias[o]; partial adds
//   split*numel(output), split < splits. Each reach is <= the binding and < 2^32 (checked),
//   and every intermediate is a partial sum or product prefix of its terms, so no u32 wraps.
// - ALIGNED (host re-derives): tiles_m*tile_m <= M, tiles_n*tile_n <= N, TK | k_total,
//   TK | k_chunk and splits*k_chunk < 2^32 (so k_begin is a whole chunk); IN_RANGE: no padding,
//   stride, dilation >= 0 and (out-1)*stride + (k-1)*dilation < in, < 2^31 per dimension.
// Overrides: WG_M, WG_N (powers of two >= 4), RM, RN (4 or 8, RN <= WG_M), TK (a multiple of
// WG_M/RN; TK*RN/WG_M and ceil(TK*RM/WG_N) at most MAX_LOADS), ALIGNED, IN_RANGE, HAS_BIAS,
// HAS_RESIDUAL, PARTIAL, ACTIVATION (prelude).

override WG_M: u32 = 16u;
override WG_N: u32 = 16u;
override RM: u32 = 4u;
override RN: u32 = 4u;
override TK: u32 = 16u;
override ALIGNED: bool = false;
override IN_RANGE: bool = false;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override PARTIAL: bool = false;

// Function-scope arrays need constant sizes: room for the largest register block (8x8) and
// prefetch run; smaller blocks use a prefix (the host bounds the loads per invocation).
const MAX_BLOCK: u32 = 16u;
const MAX_LOADS: u32 = 16u;


// Params and its binding 0: shaders/lib/conv_geometry.wgsl.
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read> weight: array<Elem>;
@group(0) @binding(3) var<storage, read> bias: array<Elem>;
@group(0) @binding(4) var<storage, read> residual: array<Elem>;
@group(0) @binding(5) var<storage, read_write> output: array<Elem>;
// Split-K partial sums, Acc so that f16-acc32 keeps f32 sums (bound to `output` when PARTIAL
// is off; with PARTIAL `output` is bound to it and unused).
@group(0) @binding(6) var<storage, read_write> partial: array<Acc>;

// Weight tile [TK][RM*WG_M/4] of vec4: tile row m = ty + i*WG_M is component i % 4 of logical
// slot (i / 4)*WG_M + ty, stored at slot ^ w_swizzle(kk).
var<workgroup> w_tile: array<vec4<Acc>, TK * RM * WG_M / 4u>;
// Input (im2col) tile [TK][RN*WG_N/4] of vec4: column n = tx + j*WG_N is component j % 4 of
// slot (j / 4)*WG_N + tx.
var<workgroup> x_tile: array<vec4<Acc>, TK * RN * WG_N / 4u>;

// Prefetched next chunk and the loader's per-invocation state (set once in main).
var<private> w_reg: array<Acc, MAX_LOADS>;
var<private> x_reg: array<Acc, MAX_LOADS>;
var<private> ld_lid: u32;
var<private> ld_m0: u32;
var<private> ld_k_end: u32;
var<private> w_base: u32;
var<private> ld_row0: u32;
var<private> col_valid: bool;
var<private> in_base: u32;
var<private> in_sp: u32;
var<private> base_z: i32;
var<private> base_y: i32;
var<private> base_x: i32;
// Kernel-offset odometer of this invocation's first gathered row in the next chunk to load.
var<private> od_c: u32;
var<private> od_z: u32;
var<private> od_y: u32;
var<private> od_x: u32;

fn threads() -> u32 {
    return WG_M * WG_N;
}

fn w_loads() -> u32 {
    return (TK * RM * WG_M + threads() - 1u) / threads();
}

fn x_loads() -> u32 {
    return TK * RN / WG_M;
}

// Row length of the weight tile in vec4 slots, and the XOR that spreads row kk's stores:
// rows are powers of two, so XOR with less than the row length stays inside the row.
fn w_row() -> u32 {
    return RM * WG_M / 4u;
}

fn w_swizzle(kk: u32) -> u32 {
    return kk & (min(w_row(), 8u) - 1u);
}

// Global loads of the chunk starting at k0 into registers; advances the odometer by TK.
fn load_chunk(k0: u32) {
    let tile_m = RM * WG_M;
    for (var t = 0u; t < w_loads(); t++) {
        let e = ld_lid + t * threads();
        let k = k0 + e % TK;
        let m = ld_m0 + e / TK;
        var v = Acc(0.0);
        if e < TK * tile_m && (ALIGNED || (k < ld_k_end && m < params.m_per_group)) {
            v = Acc(weight[w_base + m * params.k_total + k]);
        }
        w_reg[t] = v;
    }
    var k = k0 + ld_row0;
    var o = vec4<u32>(od_c, od_z, od_y, od_x);
    for (var t = 0u; t < x_loads(); t++) {
        var v = Acc(0.0);
        if ALIGNED || (col_valid && k < ld_k_end) {
            let iz = base_z + i32(o.y) * params.dil_d;
            let iy = base_y + i32(o.z) * params.dil_h;
            let ix = base_x + i32(o.w) * params.dil_w;
            if IN_RANGE || (iz >= 0 && iz < i32(params.in_d) && iy >= 0 && iy < i32(params.in_h)
                && ix >= 0 && ix < i32(params.in_w)) {
                let sp = (u32(iz) * params.in_h + u32(iy)) * params.in_w + u32(ix);
                v = Acc(input[in_base + o.x * in_sp + sp]);
            }
        }
        x_reg[t] = v;
        k += 1u;
        o = next_kernel_offset(o);
    }
    // Mixed-radix add of TK: each digit of TK is below its radix, so one carry per digit.
    od_x += params.tk_x;
    var carry = u32(od_x >= params.k_w);
    od_x -= carry * params.k_w;
    od_y += params.tk_y + carry;
    carry = u32(od_y >= params.k_h);
    od_y -= carry * params.k_h;
    od_z += params.tk_z + carry;
    carry = u32(od_z >= params.k_d);
    od_z -= carry * params.k_d;
    od_c += params.tk_c + carry;
}

// The prefetched registers into the workgroup tiles.
fn store_chunk() {
    let tile_m = RM * WG_M;
    for (var t = 0u; t < w_loads(); t++) {
        let e = ld_lid + t * threads();
        if e < TK * tile_m {
            let kk = e % TK;
            let mm = e / TK;
            let i = mm / WG_M;
            let slot = (i / 4u) * WG_M + mm % WG_M;
            w_tile[kk * w_row() + (slot ^ w_swizzle(kk))][i % 4u] = w_reg[t];
        }
    }
    let tn_size = RN * WG_N;
    let ld_col = ld_lid % tn_size;
    let j = ld_col / WG_N;
    let slot = (j / 4u) * WG_N + ld_col % WG_N;
    for (var t = 0u; t < x_loads(); t++) {
        x_tile[(ld_row0 + t) * (tn_size / 4u) + slot][j % 4u] = x_reg[t];
    }
}

@compute @workgroup_size(WG_M * WG_N)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let tm_size = RM * WG_M;
    let tn_size = RN * WG_N;

    var wg = flat_workgroup_id(wid, nwg);
    let tile_n = wg % params.tiles_n;
    wg = wg / params.tiles_n;
    let tile_m = wg % params.tiles_m;
    wg = wg / params.tiles_m;
    let g = wg % params.groups;
    let split = wg / params.groups;
    if split >= params.splits {
        return;
    }
    let k_begin = split * params.k_chunk;
    let k_end = min(k_begin + params.k_chunk, params.k_total);
    let m0 = tile_m * tm_size;
    let n0 = tile_n * tn_size;
    let tx = lid % WG_N;
    let ty = lid / WG_N;

    let out_hw = params.out_h * params.out_w;
    let out_sp = params.out_d * out_hw;
    let k_hw = params.k_h * params.k_w;
    let k_sp = params.k_d * k_hw;

    // Loader state: this invocation always gathers the same tile column (threads is a multiple
    // of tn_size) over a contiguous run of x_loads() rows, so the pixel and the first kernel
    // offset are decomposed once here.
    ld_lid = lid;
    ld_m0 = m0;
    ld_k_end = k_end;
    w_base = (g * params.m_per_group) * params.k_total;
    ld_row0 = (lid / tn_size) * x_loads();
    let ld_n = n0 + lid % tn_size;
    col_valid = ld_n < params.n_total;
    in_sp = params.in_d * params.in_h * params.in_w;
    if col_valid {
        let b = ld_n / out_sp;
        let sp = ld_n % out_sp;
        let oz = sp / out_hw;
        let oy = (sp % out_hw) / params.out_w;
        let ox = sp % params.out_w;
        base_z = i32(oz) * params.stride_d - params.pad_d;
        base_y = i32(oy) * params.stride_h - params.pad_h;
        base_x = i32(ox) * params.stride_w - params.pad_w;
        in_base = (b * params.in_c + g * params.c_per_group) * in_sp;
    }
    let k = k_begin + ld_row0;
    od_c = k / k_sp;
    var r = k % k_sp;
    od_z = r / k_hw;
    r = r % k_hw;
    od_y = r / params.k_w;
    od_x = r % params.k_w;

    var acc: array<vec4<Acc>, MAX_BLOCK>;
    let rq = RM / 4u;
    let cq = RN / 4u;
    if k_begin < k_end {
        load_chunk(k_begin);
    }
    for (var k0 = k_begin; k0 < k_end; k0 += TK) {
        store_chunk();
        workgroupBarrier();
        if k0 + TK < k_end {
            load_chunk(k0 + TK);
        }
        for (var kk = 0u; kk < TK; kk++) {
            var a: array<vec4<Acc>, 2>;
            var b: array<vec4<Acc>, 2>;
            for (var q = 0u; q < rq; q++) {
                a[q] = w_tile[kk * w_row() + ((q * WG_M + ty) ^ w_swizzle(kk))];
            }
            for (var p = 0u; p < cq; p++) {
                b[p] = x_tile[kk * (tn_size / 4u) + p * WG_N + tx];
            }
            for (var i = 0u; i < RM; i++) {
                let ai = vec4<Acc>(a[i / 4u][i % 4u]);
                for (var p = 0u; p < cq; p++) {
                    acc[i * cq + p] = fma(ai, b[p], acc[i * cq + p]);
                }
            }
        }
        workgroupBarrier();
    }

    // Epilogue: output offset of each of this invocation's columns, without the channel term.
    var col_off: array<u32, 8>;
    var col_ok: array<bool, 8>;
    for (var j = 0u; j < RN; j++) {
        let n = n0 + tx + j * WG_N;
        col_ok[j] = ALIGNED || n < params.n_total;
        col_off[j] = (n / out_sp) * params.out_c * out_sp + n % out_sp;
    }
    let slice = split * params.batch * params.out_c * out_sp;
    for (var i = 0u; i < RM; i++) {
        let m = m0 + ty + i * WG_M;
        if ALIGNED || m < params.m_per_group {
            let o = g * params.m_per_group + m;
            if PARTIAL {
                for (var j = 0u; j < RN; j++) {
                    if col_ok[j] {
                        partial[slice + col_off[j] + o * out_sp] = acc[i * cq + j / 4u][j % 4u];
                    }
                }
                continue;
            }
            var bv = 0.0;
            if HAS_BIAS {
                bv = f32(bias[o]);
            }
            for (var j = 0u; j < RN; j++) {
                if col_ok[j] {
                    let idx = col_off[j] + o * out_sp;
                    var v = f32(acc[i * cq + j / 4u][j % 4u]) + bv;
                    if HAS_RESIDUAL {
                        v += f32(residual[idx]);
                    }
                    output[idx] = Elem(activate(v));
                }
            }
        }
    }
}

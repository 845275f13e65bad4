// Convolution (1-D, 2-D, 3-D; grouped, strided, padded, dilated; 1x1 is the K = C case) as an
// implicit GEMM on cooperative matrices (tensor cores), with the fused epilogue
// y = activate(acc + bias + residual). Needs `enable f16; enable wgpu_cooperative_matrix;`
// (put first by src/shaders.rs) and the subgroup builtins.
//
// Layout: input [N, C, D, H, W], weight [O, C/g, KD, KH, KW], output [N, O, OD, OH, OW], all
// row-major Elem; per group out[m, n] = sum_k W[m, k] * X[k, n] as in conv.wgsl.
// Tiling: a workgroup of SUBGROUPS_M x SUBGROUPS_N subgroups (SG_SIZE invocations each, the
// device's fixed subgroup size) owns a (32*SUBGROUPS_M) x (32*SUBGROUPS_N) output tile of one
// group; each subgroup owns 2x2 blocks of 16x16 f32 accumulators. Per K-chunk of TK the
// weights (row-major [m][k]) and the gathered im2col columns (row-major [k][n]) are staged in
// workgroup memory as f16 (rounding f32 storage), zero outside M, N, K, then every subgroup
// multiplies its blocks TK/16 times. After the K loop each block goes through a 16x16 f32
// staging slot per subgroup, so the epilogue writes with bounds checks and coalesced pixels.
// Overrides: SUBGROUPS_M, SUBGROUPS_N, SG_SIZE, TK (multiple of 16), HAS_BIAS, HAS_RESIDUAL,
// ACTIVATION (prelude). The host (src/kernels/coop_conv.rs) requires
// SG_SIZE * SUBGROUPS_M * SUBGROUPS_N to be a multiple of the tile width 32 * SUBGROUPS_N and
// TK a multiple of the rows that many invocations stage at once.

override SUBGROUPS_M: u32 = 2u;
override SUBGROUPS_N: u32 = 2u;
override SG_SIZE: u32 = 32u;
override TK: u32 = 32u;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;


// Params and its binding 0: shaders/lib/conv_geometry.wgsl.
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read> weight: array<Elem>;
@group(0) @binding(3) var<storage, read> bias: array<Elem>;
@group(0) @binding(4) var<storage, read> residual: array<Elem>;
@group(0) @binding(5) var<storage, read_write> output: array<Elem>;

const BLOCK: u32 = 16u;
// Row strides of the staged tiles, padded by 8 halves (16 bytes) against bank conflicts while
// keeping every 16x16 block's rows 16-byte aligned.
const A_PAD: u32 = 8u;
const B_PAD: u32 = 8u;

// Weight tile, [TM][TK + A_PAD].
var<workgroup> a_tile: array<f16, 32u * SUBGROUPS_M * (TK + A_PAD)>;
// im2col tile, [TK][TN + B_PAD].
var<workgroup> b_tile: array<f16, TK * (32u * SUBGROUPS_N + B_PAD)>;
// One 16x16 accumulator block per subgroup on its way to the epilogue.
var<workgroup> c_tile: array<f32, SUBGROUPS_M * SUBGROUPS_N * BLOCK * BLOCK>;

// Where this workgroup's tile lies, shared by the epilogue of every block.
struct TileOrigin {
    g: u32,
    m0: u32,
    n0: u32,
    live: bool,
}

// Stores block (bi, bj) of every subgroup through c_tile and applies the epilogue to it.
// Called by the whole workgroup in uniform control flow (it holds barriers).
fn flush(acc: coop_mat16x16<f32, C>, bi: u32, bj: u32, sg: u32, lid: u32, t: TileOrigin) {
    coopStoreT(acc, &c_tile[sg * BLOCK * BLOCK], BLOCK);
    workgroupBarrier();
    let threads = SG_SIZE * SUBGROUPS_M * SUBGROUPS_N;
    let out_sp = params.out_d * params.out_h * params.out_w;
    for (var e = lid; e < SUBGROUPS_M * SUBGROUPS_N * BLOCK * BLOCK; e += threads) {
        let s = e / (BLOCK * BLOCK);
        let r = (e / BLOCK) % BLOCK;
        let c = e % BLOCK;
        let m = t.m0 + (s / SUBGROUPS_N) * 2u * BLOCK + bi * BLOCK + r;
        let n = t.n0 + (s % SUBGROUPS_N) * 2u * BLOCK + bj * BLOCK + c;
        if t.live && m < params.m_per_group && n < params.n_total {
            let o = t.g * params.m_per_group + m;
            let idx = ((n / out_sp) * params.out_c + o) * out_sp + n % out_sp;
            var v = c_tile[e];
            if HAS_BIAS {
                v += f32(bias[o]);
            }
            if HAS_RESIDUAL {
                v += f32(residual[idx]);
            }
            output[idx] = Elem(activate(v));
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(SG_SIZE * SUBGROUPS_M * SUBGROUPS_N)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_id) sg: u32) {
    let tm = 32u * SUBGROUPS_M;
    let tn = 32u * SUBGROUPS_N;
    let a_stride = TK + A_PAD;
    let b_stride = tn + B_PAD;
    let threads = SG_SIZE * SUBGROUPS_M * SUBGROUPS_N;

    // Workgroups past the last tile (the fold over x, y, z overshoots) skip the K loop and
    // write nothing; they may not return early, cooperative ops need uniform control flow.
    var wg = flat_workgroup_id(wid, nwg);
    let live = wg < params.groups * params.tiles_m * params.tiles_n;
    let k_end = select(0u, params.k_total, live);
    let tile_n = wg % params.tiles_n;
    wg = wg / params.tiles_n;
    let tile_m = wg % params.tiles_m;
    let t = TileOrigin(wg / params.tiles_m, tile_m * tm, tile_n * tn, live);

    let out_hw = params.out_h * params.out_w;
    let out_sp = params.out_d * out_hw;
    let in_hw = params.in_h * params.in_w;
    let in_sp = params.in_d * in_hw;
    let k_hw = params.k_h * params.k_w;
    let k_sp = params.k_d * k_hw;

    // Each invocation gathers one im2col column over a contiguous run of rows: the pixel is
    // decomposed once, the kernel offset once per chunk and then stepped like an odometer.
    let ld_col = lid % tn;
    let rows_per_thread = TK / (threads / tn);
    let ld_row0 = (lid / tn) * rows_per_thread;
    let ld_n = t.n0 + ld_col;
    let col_valid = ld_n < params.n_total;
    var base_z = 0;
    var base_y = 0;
    var base_x = 0;
    var in_base = 0u;
    if col_valid {
        let b = ld_n / out_sp;
        let sp = ld_n % out_sp;
        base_z = i32(sp / out_hw) * params.stride_d - params.pad_d;
        base_y = i32((sp % out_hw) / params.out_w) * params.stride_h - params.pad_h;
        base_x = i32(sp % params.out_w) * params.stride_w - params.pad_w;
        in_base = (b * params.in_c + t.g * params.c_per_group) * in_sp;
    }
    let w_base = t.g * params.m_per_group * params.k_total;

    // This subgroup's 2x2 blocks start at row a_row, column b_col of the tiles.
    let a_row = (sg / SUBGROUPS_N) * 2u * BLOCK;
    let b_col = (sg % SUBGROUPS_N) * 2u * BLOCK;
    var c00 = coop_mat16x16<f32, C>();
    var c01 = coop_mat16x16<f32, C>();
    var c10 = coop_mat16x16<f32, C>();
    var c11 = coop_mat16x16<f32, C>();

    for (var k0 = 0u; k0 < k_end; k0 += TK) {
        // Weight tile: consecutive invocations read consecutive k of one weight row.
        for (var e = lid; e < tm * TK; e += threads) {
            let kk = e % TK;
            let mm = e / TK;
            let k = k0 + kk;
            let m = t.m0 + mm;
            var v = f16(0.0);
            if k < params.k_total && m < params.m_per_group {
                v = f16(weight[w_base + m * params.k_total + k]);
            }
            a_tile[mm * a_stride + kk] = v;
        }
        var k = k0 + ld_row0;
        let r = k % k_sp;
        var o = vec4<u32>(k / k_sp, r / k_hw, (r % k_hw) / params.k_w, r % params.k_w);
        for (var i = 0u; i < rows_per_thread; i++) {
            var v = f16(0.0);
            if col_valid && k < params.k_total {
                let iz = base_z + i32(o.y) * params.dil_d;
                let iy = base_y + i32(o.z) * params.dil_h;
                let ix = base_x + i32(o.w) * params.dil_w;
                if iz >= 0 && iz < i32(params.in_d) && iy >= 0 && iy < i32(params.in_h)
                    && ix >= 0 && ix < i32(params.in_w) {
                    v = f16(input[in_base + o.x * in_sp + (u32(iz) * params.in_h + u32(iy)) * params.in_w + u32(ix)]);
                }
            }
            b_tile[(ld_row0 + i) * b_stride + ld_col] = v;
            k += 1u;
            o = next_kernel_offset(o);
        }
        workgroupBarrier();

        for (var kk = 0u; kk < TK; kk += BLOCK) {
            let a0 = coopLoadT<coop_mat16x16<f16, A>>(&a_tile[a_row * a_stride + kk], a_stride);
            let a1 = coopLoadT<coop_mat16x16<f16, A>>(&a_tile[(a_row + BLOCK) * a_stride + kk], a_stride);
            let b0 = coopLoadT<coop_mat16x16<f16, B>>(&b_tile[kk * b_stride + b_col], b_stride);
            let b1 = coopLoadT<coop_mat16x16<f16, B>>(&b_tile[kk * b_stride + b_col + BLOCK], b_stride);
            c00 = coopMultiplyAdd(a0, b0, c00);
            c01 = coopMultiplyAdd(a0, b1, c01);
            c10 = coopMultiplyAdd(a1, b0, c10);
            c11 = coopMultiplyAdd(a1, b1, c11);
        }
        workgroupBarrier();
    }

    flush(c00, 0u, 0u, sg, lid, t);
    flush(c01, 0u, 1u, sg, lid, t);
    flush(c10, 1u, 0u, sg, lid, t);
    flush(c11, 1u, 1u, sg, lid, t);
}

// Convolution (1-D, 2-D, 3-D; grouped, strided, asymmetrically padded, dilated) as an implicit
// GEMM with a fused epilogue y = activate(acc + bias + residual).
//
// Layout: input [N, C, D, H, W], weight [O, C/g, KD, KH, KW] (PyTorch), output [N, O, OD, OH, OW],
// all row-major Elem (the precision prelude's storage type; products accumulate in Acc,
// the epilogue runs in f32). 1-D and 2-D convolutions arrive as 3-D with unit depth (and height).
// Per group g: out[m, n] = sum_k W[g*Mg + m, k] * X[k, n], M = O/g output channels,
// N = batch*OD*OH*OW output pixels, K = (C/g)*KD*KH*KW; X (im2col) is gathered on the fly and
// is zero in the padding, so nothing is materialised.
// Tiling: a workgroup of WG_M x WG_N invocations owns a (4*WG_M) x (4*WG_N) output tile of one
// group; each invocation accumulates a 4x4 register block at rows ty + i*WG_M and columns
// tx + j*WG_N (strided, so output writes coalesce along pixels). Weight and input tiles are
// staged in workgroup memory over K-chunks of TK, stored so that each invocation's 4 rows (4
// columns) are one vec4: two 128-bit shared loads feed 16 FMAs.
// Split-K (PARTIAL): workgroups also range over `splits` slices of K, k_chunk long each;
// slice s writes its raw partial sums (no epilogue, as Acc) to partial[s * numel(output) + idx], and
// splitk_reduce.wgsl sums the slices and applies the epilogue. Without it splits = 1 and
// k_chunk = k_total.
// Overrides: WG_M, WG_N (multiples of 4), TK (multiple of WG_M/4), HAS_BIAS, HAS_RESIDUAL,
// PARTIAL, ACTIVATION (prelude).

override WG_M: u32 = 16u;
override WG_N: u32 = 16u;
override TK: u32 = 16u;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override PARTIAL: bool = false;

struct Params {
    batch: u32,
    in_c: u32,
    in_d: u32,
    in_h: u32,
    in_w: u32,
    out_c: u32,
    out_d: u32,
    out_h: u32,
    out_w: u32,
    groups: u32,
    c_per_group: u32,
    m_per_group: u32,
    k_d: u32,
    k_h: u32,
    k_w: u32,
    k_total: u32,
    stride_d: i32,
    stride_h: i32,
    stride_w: i32,
    pad_d: i32,
    pad_h: i32,
    pad_w: i32,
    dil_d: i32,
    dil_h: i32,
    dil_w: i32,
    n_total: u32,
    tiles_m: u32,
    tiles_n: u32,
    k_chunk: u32,
    splits: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read> weight: array<Elem>;
@group(0) @binding(3) var<storage, read> bias: array<Elem>;
@group(0) @binding(4) var<storage, read> residual: array<Elem>;
@group(0) @binding(5) var<storage, read_write> output: array<Elem>;
// Split-K partial sums, Acc so that f16-acc32 keeps f32 sums (bound to `output` when PARTIAL
// is off; with PARTIAL `output` is bound to it and unused).
@group(0) @binding(6) var<storage, read_write> partial: array<Acc>;

// Weight tile [TK][WG_M + 1] of vec4: row m of the tile is component m / WG_M of slot m % WG_M.
// The padding slot spreads the k-strided stores over banks.
var<workgroup> w_tile: array<vec4<Acc>, TK * (WG_M + 1u)>;
// Input (im2col) tile [TK][WG_N] of vec4: column n is component n / WG_N of slot n % WG_N.
var<workgroup> x_tile: array<vec4<Acc>, TK * WG_N>;

@compute @workgroup_size(WG_M * WG_N)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let tm_size = 4u * WG_M;
    let tn_size = 4u * WG_N;
    let w_stride = WG_M + 1u;
    let threads = WG_M * WG_N;

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
    let in_hw = params.in_h * params.in_w;
    let in_sp = params.in_d * in_hw;
    let k_hw = params.k_h * params.k_w;
    let k_sp = params.k_d * k_hw;

    // This invocation always gathers the same tile column (threads is a multiple of tn_size),
    // over a contiguous run of rows, so the pixel decomposition is done once here and the
    // kernel-offset decomposition once per chunk.
    let ld_col = lid % tn_size;
    let rows_per_thread = TK / (threads / tn_size);
    let ld_row0 = (lid / tn_size) * rows_per_thread;
    let ld_n = n0 + ld_col;
    let col_valid = ld_n < params.n_total;
    var base_z = 0;
    var base_y = 0;
    var base_x = 0;
    var in_base = 0u;
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
    let w_base = (g * params.m_per_group) * params.k_total;

    var acc: array<vec4<Acc>, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4<Acc>(0.0);
    }

    for (var k0 = k_begin; k0 < k_end; k0 += TK) {
        // Weight tile: consecutive invocations read consecutive k of one weight row.
        for (var e = lid; e < tm_size * TK; e += threads) {
            let kk = e % TK;
            let mm = e / TK;
            let k = k0 + kk;
            let m = m0 + mm;
            var v = Acc(0.0);
            if k < k_end && m < params.m_per_group {
                v = Acc(weight[w_base + m * params.k_total + k]);
            }
            w_tile[kk * w_stride + mm % WG_M][mm / WG_M] = v;
        }
        // Input tile: decompose the first k of this invocation's run, then step the kernel
        // offset like an odometer.
        var k = k0 + ld_row0;
        var ci = k / k_sp;
        var r = k % k_sp;
        var kz = r / k_hw;
        r = r % k_hw;
        var ky = r / params.k_w;
        var kx = r % params.k_w;
        for (var t = 0u; t < rows_per_thread; t++) {
            var v = Acc(0.0);
            if col_valid && k < k_end {
                let iz = base_z + i32(kz) * params.dil_d;
                let iy = base_y + i32(ky) * params.dil_h;
                let ix = base_x + i32(kx) * params.dil_w;
                if iz >= 0 && iz < i32(params.in_d) && iy >= 0 && iy < i32(params.in_h)
                    && ix >= 0 && ix < i32(params.in_w) {
                    v = Acc(input[in_base + ci * in_sp + (u32(iz) * params.in_h + u32(iy)) * params.in_w + u32(ix)]);
                }
            }
            x_tile[(ld_row0 + t) * WG_N + ld_col % WG_N][ld_col / WG_N] = v;
            k += 1u;
            kx += 1u;
            if kx == params.k_w {
                kx = 0u;
                ky += 1u;
                if ky == params.k_h {
                    ky = 0u;
                    kz += 1u;
                    if kz == params.k_d {
                        kz = 0u;
                        ci += 1u;
                    }
                }
            }
        }
        workgroupBarrier();

        for (var kk = 0u; kk < TK; kk++) {
            let a = w_tile[kk * w_stride + ty];
            let b = x_tile[kk * WG_N + tx];
            acc[0] = fma(vec4<Acc>(a.x), b, acc[0]);
            acc[1] = fma(vec4<Acc>(a.y), b, acc[1]);
            acc[2] = fma(vec4<Acc>(a.z), b, acc[2]);
            acc[3] = fma(vec4<Acc>(a.w), b, acc[3]);
        }
        workgroupBarrier();
    }

    // Epilogue: output offset of each of this invocation's 4 columns, without the channel term.
    var col_off: array<u32, 4>;
    var col_ok: array<bool, 4>;
    for (var j = 0u; j < 4u; j++) {
        let n = n0 + tx + j * WG_N;
        col_ok[j] = n < params.n_total;
        col_off[j] = (n / out_sp) * params.out_c * out_sp + n % out_sp;
    }
    let slice = split * params.batch * params.out_c * out_sp;
    for (var i = 0u; i < 4u; i++) {
        let m = m0 + ty + i * WG_M;
        if m < params.m_per_group {
            let o = g * params.m_per_group + m;
            if PARTIAL {
                for (var j = 0u; j < 4u; j++) {
                    if col_ok[j] {
                        partial[slice + col_off[j] + o * out_sp] = acc[i][j];
                    }
                }
                continue;
            }
            var bv = 0.0;
            if HAS_BIAS {
                bv = f32(bias[o]);
            }
            let row = acc[i];
            for (var j = 0u; j < 4u; j++) {
                if col_ok[j] {
                    let idx = col_off[j] + o * out_sp;
                    var v = f32(row[j]) + bv;
                    if HAS_RESIDUAL {
                        v += f32(residual[idx]);
                    }
                    output[idx] = Elem(activate(v));
                }
            }
        }
    }
}

// Transposed convolution (1-D, 2-D and 3-D through one 3-D index scheme: lower ranks have
// leading size-1 dims), with stride, asymmetric padding, output_padding, dilation, groups and
// the fused epilogue y = activate(acc + bias[o] + residual).
//
// Layout: input [N, C, Di, Hi, Wi], weight [C, O/g, KD, KH, KW] (PyTorch), output
// [N, O, Do, Ho, Wo], residual like the output, bias [O].
// Gather formulation: output x receives input i through tap k iff x + pad - k*dil = i*stride,
// so each invocation visits only the taps where x + pad - k*dil is divisible by the stride; no
// zero-stuffing, no atomics. Along W the outputs are split into `stride` phases
// x = r + stride*q: every output of one phase uses the same taps, so an invocation computes
// XB = 4 outputs of one phase (q = qb + j*QB, so neighbouring invocations touch neighbouring
// input and output columns) for OB = 4 output channels of one group: each tap and input
// channel then costs 4 input loads + 4 weight loads for 16 FMAs.
// Elements are stored as Elem and accumulated as Acc (precision prelude); the epilogue runs
// in f32.
// Invocation order (fastest first): qb, r, y, z, output-channel block, image. 1-D dispatch.
// Overrides: WG_SIZE, HAS_BIAS, HAS_RESIDUAL, ACTIVATION (prelude).

override WG_SIZE: u32 = 64u;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;

// Register block (private arrays need constant sizes; XB is the vec4 width).
const OB: u32 = 4u;
const XB: u32 = 4u;

struct Params {
    total: u32,
    c_in: u32,
    cg: u32,
    o_out: u32,
    og: u32,
    obg: u32,
    qb: u32,
    d_in: u32,
    h_in: u32,
    w_in: u32,
    d_out: u32,
    h_out: u32,
    w_out: u32,
    kd: u32,
    kh: u32,
    kw: u32,
    sd: u32,
    sh: u32,
    sw: u32,
    pd: u32,
    ph: u32,
    pw: u32,
    dd: u32,
    dh: u32,
    dw: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<Elem>;
@group(0) @binding(2) var<storage, read> w: array<Elem>;
@group(0) @binding(3) var<storage, read> bias: array<Elem>;
@group(0) @binding(4) var<storage, read> residual: array<Elem>;
@group(0) @binding(5) var<storage, read_write> y: array<Elem>;

// Input index of output coordinate `o` through tap `k`, or -1 when that tap does not reach
// `o` (not divisible by the stride, or outside the input).
// All division here is on non-negative u32: WGSL's i32 `/` and `%` truncate, but naga emits
// them unchanged into GLSL, where they are undefined for negative operands (Mesa's GL
// llvmpipe gives -1 % 3 == 0 and -3 % 3 != 0, as if unsigned).
fn source_index(o: u32, pad: u32, k: u32, dil: u32, stride: u32, len: u32) -> i32 {
    let a = o + pad;
    let b = k * dil;
    if a < b {
        return -1;
    }
    let t = a - b;
    if t % stride != 0u {
        return -1;
    }
    let i = t / stride;
    return select(-1, i32(i), i < len);
}

@compute @workgroup_size(WG_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let inv = flat_workgroup_id(wid, nwg) * WG_SIZE + lid;
    if inv >= params.total {
        return;
    }
    var rest = inv;
    let qb = rest % params.qb; rest = rest / params.qb;
    let r = rest % params.sw; rest = rest / params.sw;
    let oy = rest % params.h_out; rest = rest / params.h_out;
    let oz = rest % params.d_out; rest = rest / params.d_out;
    let nblocks = params.obg * (params.o_out / params.og);
    let ob = rest % nblocks;
    let n = rest / nblocks;
    let grp = ob / params.obg;
    let ol0 = (ob % params.obg) * OB;

    // Output columns of this invocation and whether each exists.
    var q: vec4<u32>;
    var ox: vec4<u32>;
    for (var j = 0u; j < XB; j++) {
        q[j] = qb + j * params.qb;
        ox[j] = r + params.sw * q[j];
    }
    let x_live = ox < vec4<u32>(params.w_out);

    // Channels past the group's end repeat its last channel (in bounds) and are not stored.
    var wo: array<u32, OB>;
    for (var oc = 0u; oc < OB; oc++) {
        wo[oc] = min(ol0 + oc, params.og - 1u);
    }

    let kvol = params.kd * params.kh * params.kw;
    let in_plane = params.d_in * params.h_in * params.w_in;
    let c0 = grp * params.cg;
    var acc: array<vec4<Acc>, OB>;
    for (var oc = 0u; oc < OB; oc++) {
        acc[oc] = vec4<Acc>(0.0);
    }

    for (var kz = 0u; kz < params.kd; kz++) {
        let iz = source_index(oz, params.pd, kz, params.dd, params.sd, params.d_in);
        if iz < 0 {
            continue;
        }
        for (var ky = 0u; ky < params.kh; ky++) {
            let iy = source_index(oy, params.ph, ky, params.dh, params.sh, params.h_in);
            if iy < 0 {
                continue;
            }
            let row = (u32(iz) * params.h_in + u32(iy)) * params.w_in;
            for (var kx = 0u; kx < params.kw; kx++) {
                // Every column of the phase shares this test; only the range check differs.
                // The offset t = (r + pw) - kx * dw may be negative: divide its magnitude (see
                // source_index for why never a negative i32) and restore the sign after.
                let a = r + params.pw;
                let b = kx * params.dw;
                let neg = b > a;
                let m = select(a - b, b - a, neg);
                if m % params.sw != 0u {
                    continue;
                }
                let shift = i32(m / params.sw);
                let ix = vec4<i32>(q) + vec4<i32>(select(shift, -shift, neg));
                let live = x_live & (ix >= vec4<i32>(0)) & (ix < vec4<i32>(i32(params.w_in)));
                if !any(live) {
                    continue;
                }
                // Dead lanes read column 0 (in bounds) and are zeroed below.
                let col = select(vec4<u32>(0u), vec4<u32>(ix), live);
                let tap = (kz * params.kh + ky) * params.kw + kx;
                for (var ci = 0u; ci < params.cg; ci++) {
                    let c = c0 + ci;
                    let base = (n * params.c_in + c) * in_plane + row;
                    let xv = select(vec4<Acc>(0.0),
                                    vec4<Acc>(vec4<Elem>(x[base + col.x], x[base + col.y], x[base + col.z], x[base + col.w])),
                                    live);
                    let wbase = c * params.og * kvol + tap;
                    for (var oc = 0u; oc < OB; oc++) {
                        acc[oc] = fma(vec4<Acc>(Acc(w[wbase + wo[oc] * kvol])), xv, acc[oc]);
                    }
                }
            }
        }
    }

    let out_plane = params.d_out * params.h_out * params.w_out;
    for (var oc = 0u; oc < OB; oc++) {
        if ol0 + oc >= params.og {
            break;
        }
        let o = grp * params.og + ol0 + oc;
        let base = (n * params.o_out + o) * out_plane + (oz * params.h_out + oy) * params.w_out;
        for (var j = 0u; j < XB; j++) {
            if !x_live[j] {
                continue;
            }
            var v = f32(acc[oc][j]);
            if HAS_BIAS {
                v += f32(bias[o]);
            }
            let i = base + ox[j];
            if HAS_RESIDUAL {
                v += f32(residual[i]);
            }
            y[i] = Elem(activate(v));
        }
    }
}

// Elementwise kernels: an activation alone, or a binary op with numpy broadcasting followed by
// an activation (bias + activation, residual add, SE's channel scale).
//
// Layout: up to 6-D row-major tensors. `out` is dense with dims d0..d5 (leading dims 1);
// `a` and `b` are read through per-dimension strides sa*/sb* (0 along broadcast dimensions).
// Tiling: one element per invocation, 256 invocations per workgroup.
// Elements are stored as Elem (prelude); the op and activation run in f32.
// Overrides: BINARY_OP (0 add, 1 sub, 2 mul, 3 div, 4 none: out = act(a), 5 pow, 6 max,
// 7 min, 8 equal, 9 less, 10 greater, 11 less-or-equal, 12 greater-or-equal, 13 not a: 1 / 0
// as f32, the engine's bool), ACTIVATION.
// Unchecked because (Shader::TRUSTED): nothing is read or written unless i < params.total.
// out[i] and, when unary, a[i] need total elements; a[ia] and b[ib] are below numel of a's and
// b's own shapes (their strides are row-major, 0 along broadcast dims, and each i_k < d_k).
// kernels/eltwise.rs refuses bindings holding fewer elements; kernels/bounds.rs recomputes the
// reach from the Params bound at dispatch.

override BINARY_OP: u32 = 4u;

struct Params {
    total: u32,
    d1: u32,
    d2: u32,
    d3: u32,
    d4: u32,
    d5: u32,
    sa0: u32,
    sa1: u32,
    sa2: u32,
    sa3: u32,
    sa4: u32,
    sa5: u32,
    sb0: u32,
    sb1: u32,
    sb2: u32,
    sb3: u32,
    sb4: u32,
    sb5: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<Elem>;
@group(0) @binding(2) var<storage, read> b: array<Elem>;
@group(0) @binding(3) var<storage, read_write> out: array<Elem>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup_id(wid, nwg) * 256u + lid;
    if i >= params.total {
        return;
    }
    if BINARY_OP == 4u {
        out[i] = Elem(activate(f32(a[i])));
        return;
    }
    // Unravel the output index, innermost dimension first.
    var rest = i;
    let i5 = rest % params.d5; rest = rest / params.d5;
    let i4 = rest % params.d4; rest = rest / params.d4;
    let i3 = rest % params.d3; rest = rest / params.d3;
    let i2 = rest % params.d2; rest = rest / params.d2;
    let i1 = rest % params.d1; let i0 = rest / params.d1;
    let ia = i0 * params.sa0 + i1 * params.sa1 + i2 * params.sa2 + i3 * params.sa3 + i4 * params.sa4 + i5 * params.sa5;
    let ib = i0 * params.sb0 + i1 * params.sb1 + i2 * params.sb2 + i3 * params.sb3 + i4 * params.sb4 + i5 * params.sb5;
    let x = f32(a[ia]);
    let y = f32(b[ib]);
    var r: f32;
    switch BINARY_OP {
        case 0u: { r = x + y; }
        case 1u: { r = x - y; }
        case 2u: { r = x * y; }
        case 5u: { r = pow_signed(x, y); }
        // numpy's maximum / minimum: NaN wins (WGSL's max / min leave it unspecified).
        case 6u: { r = select(select(max(x, y), y, is_nan(y)), x, is_nan(x)); }
        case 7u: { r = select(select(min(x, y), y, is_nan(y)), x, is_nan(x)); }
        case 8u: { r = select(0.0, 1.0, x == y); }
        case 9u: { r = select(0.0, 1.0, x < y); }
        case 10u: { r = select(0.0, 1.0, x > y); }
        case 11u: { r = select(0.0, 1.0, x <= y); }
        case 12u: { r = select(0.0, 1.0, x >= y); }
        case 13u: { r = select(0.0, 1.0, x == 0.0); }
        default: { r = x / y; }
    }
    out[i] = Elem(activate(r));
}

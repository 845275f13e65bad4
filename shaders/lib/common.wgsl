// Prelude shared by every kernel (prepended by src/shaders.rs).
//
// Dispatches are one-dimensional in intent but folded into a 3-D grid, since a single
// dimension holds at most 65,535 workgroups. This recovers the flat workgroup index.
fn flat_workgroup_id(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + nwg.x * (wid.y + nwg.y * wid.z);
}

// WGSL lets implementations assume float math sees no NaN, so `x != x` may fold to false; the
// bit pattern test survives. PyTorch propagates NaN through max pooling and activations.
fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// max() that returns a NaN operand instead of the other one (WGSL's max leaves it unspecified).
fn max_propagating_nan(a: f32, b: f32) -> f32 {
    if is_nan(a) {
        return a;
    }
    return select(max(a, b), b, is_nan(b));
}

// Lp pooling's term |v|^p for an integer p >= 1, by repeated multiplication (pow(x, y) is
// exp2(y * log2(x)): inexact, and undefined at x = 0).
fn lp_term(v: f32, p: u32) -> f32 {
    var t = 1.0;
    for (var e = 0u; e < p; e++) {
        t *= abs(v);
    }
    return t;
}

// Lp pooling's s^(1/p); p = 1 and 2 (the common ones) exactly as a sum and a square root.
fn lp_root(s: f32, p: u32) -> f32 {
    if p == 1u {
        return s;
    }
    if p == 2u {
        return sqrt(s);
    }
    return select(pow(s, 1.0 / f32(p)), 0.0, s == 0.0);
}

// Prelude: the fused activation of every epilogue (prepended by src/shaders.rs).
// Codes match `Activation::code()` in src/ops/activation.rs; ACT_ALPHA / ACT_BETA carry the
// parameters (LeakyReLU slope, Clip bounds, HardSigmoid alpha/beta).
override ACTIVATION: u32 = 0u;
override ACT_ALPHA: f32 = 0.0;
override ACT_BETA: f32 = 0.0;

// erfc by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7). Evaluated as erfc rather than
// 1 + erf so that GELU's negative tail does not cancel catastrophically.
fn erfc_approx(x: f32) -> f32 {
    let a = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let tail = poly * exp(-a * a);
    return select(tail, 2.0 - tail, x < 0.0);
}

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp(-x));
}

fn activate(x: f32) -> f32 {
    // Every activation maps NaN to NaN in PyTorch; clamps and max() would hide it.
    if is_nan(x) {
        return x;
    }
    switch ACTIVATION {
        case 1u: { return max(x, 0.0); }
        case 2u: { return clamp(x, ACT_ALPHA, ACT_BETA); }
        case 3u: { return select(x * ACT_ALPHA, x, x >= 0.0); }
        case 4u: { return x * sigmoid(x); }
        case 5u: { return sigmoid(x); }
        case 6u: { return clamp(ACT_ALPHA * x + ACT_BETA, 0.0, 1.0); }
        case 7u: { return x * clamp(x + 3.0, 0.0, 6.0) / 6.0; }
        case 8u: { return 0.5 * x * erfc_approx(-x * 0.7071067811865476); }
        // tanh of large |x| overflows to inf/inf on some drivers; +-10 already rounds to +-1.
        case 9u: { return tanh(clamp(x, -10.0, 10.0)); }
        default: { return x; }
    }
}

// Prelude: the fused activation of every epilogue (prepended by src/shaders.rs).
// Codes match `Activation::code()` in src/ops/activation.rs; ACT_ALPHA / ACT_BETA carry the
// parameters (LeakyReLU slope, Clip bounds, HardSigmoid alpha/beta, ELU / CELU / SELU alpha,
// SELU gamma, ThresholdedReLU alpha, Pow's exponent).
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

// erf to within 2e-7 absolute and 4e-7 relative for every f32 (f32 rounding included):
// - |x| < 1: the Maclaurin series 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)) through
//   n = 11 in Horner form. It alternates with decreasing terms, so the truncation error is
//   below the first omitted term, 1 / (12! * 25) * 2/sqrt(pi) < 1e-10 at |x| = 1, and the
//   error stays relative: tiny inputs keep full precision, unlike 1 - erfc, whose f32
//   cancellation costs up to 6e-8 absolute (which is the whole value for |x| < 1e-7).
// - |x| >= 1: 1 - erfc_approx(|x|) (1.5e-7 absolute; erf >= 0.84 there, so < 2e-7 relative).
fn erf_approx(x: f32) -> f32 {
    let a = abs(x);
    if a < 1.0 {
        let z = x * x;
        // Coefficients 1 / (n! (2n+1)), n = 0..11.
        var s = -1.0 / 918086400.0;
        s = s * z + 1.0 / 76204800.0;
        s = s * z - 1.0 / 6894720.0;
        s = s * z + 1.0 / 685440.0;
        s = s * z - 1.0 / 75600.0;
        s = s * z + 1.0 / 9360.0;
        s = s * z - 1.0 / 1320.0;
        s = s * z + 1.0 / 216.0;
        s = s * z - 1.0 / 42.0;
        s = s * z + 1.0 / 10.0;
        s = s * z - 1.0 / 3.0;
        s = s * z + 1.0;
        return 1.1283791670955126 * x * s;
    }
    return sign(x) * (1.0 - erfc_approx(a));
}

// ln(1 + e^x) without overflow for large x or a total loss of precision for very negative x:
// max(x, 0) + ln(1 + e^-|x|), and ln(1 + e) by its series e - e^2/2 + e^3/3 when e < 1e-3
// (1 + e rounds away most of e there; the series' error, e^4/4, is below 1e-12 relative).
fn softplus(x: f32) -> f32 {
    let e = exp(-abs(x));
    let l = select(log(1.0 + e), e * (1.0 - e * (0.5 - e / 3.0)), e < 1e-3);
    return max(x, 0.0) + l;
}

fn nan_f32() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

// a^y for a > 0. An integral exponent up to 2^16 multiplies by squaring, so that exact
// results stay exact (3^6 is 729, not exp2's 729.0002); a reciprocal that under- or
// overflows, and any other exponent, take exp2(y * log2(a)).
fn pow_abs(a: f32, y: f32) -> f32 {
    let n = abs(y);
    if floor(n) == n && n <= 65536.0 {
        var e = u32(n);
        var b = a;
        var r = 1.0;
        while e > 0u {
            if (e & 1u) == 1u {
                r *= b;
            }
            b *= b;
            e >>= 1u;
        }
        if y > 0.0 {
            return r;
        }
        if r != 0.0 && r < bitcast<f32>(0x7f800000u) {
            return 1.0 / r;
        }
    }
    return exp2(y * log2(a));
}

// x^y with numpy / ONNX semantics where WGSL's pow is undefined: a negative base with an
// integral exponent is (-1)^y |x|^y, with any other exponent NaN; a zero base gives 0 or inf.
fn pow_signed(x: f32, y: f32) -> f32 {
    if y == 0.0 {
        return 1.0;
    }
    let a = abs(x);
    var r: f32;
    if a == 0.0 {
        r = select(bitcast<f32>(0x7f800000u), 0.0, y > 0.0);
    } else {
        r = pow_abs(a, y);
    }
    if x < 0.0 {
        if floor(y) != y {
            return nan_f32();
        }
        // Odd exponent: negate. Exponents beyond 2^24 are all even in f32.
        let odd = y - 2.0 * floor(0.5 * y) == 1.0;
        return select(r, -r, odd);
    }
    return r;
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
        // Override constants must be finite, so a missing bound (ONNX Clip without one, Max
        // or Min with a constant) travels as -+f32::MAX, which must not clip an infinite x.
        case 2u: {
            let big = bitcast<f32>(0x7f7fffffu);
            let lo = select(max(x, ACT_ALPHA), x, ACT_ALPHA <= -big);
            return select(min(lo, ACT_BETA), lo, ACT_BETA >= big);
        }
        case 3u: { return select(x * ACT_ALPHA, x, x >= 0.0); }
        case 4u: { return x * sigmoid(x); }
        case 5u: { return sigmoid(x); }
        case 6u: { return clamp(ACT_ALPHA * x + ACT_BETA, 0.0, 1.0); }
        case 7u: { return x * clamp(x + 3.0, 0.0, 6.0) / 6.0; }
        case 8u: { return 0.5 * x * erfc_approx(-x * 0.7071067811865476); }
        // tanh of large |x| overflows to inf/inf on some drivers; +-10 already rounds to +-1.
        case 9u: { return tanh(clamp(x, -10.0, 10.0)); }
        case 10u: { return abs(x); }
        case 11u: { return -x; }
        case 12u: { return exp(x); }
        // Explicit NaN / -inf: WGSL leaves log and sqrt undefined outside their domain.
        case 13u: {
            if x < 0.0 { return nan_f32(); }
            return select(log(x), bitcast<f32>(0xff800000u), x == 0.0);
        }
        case 14u: { return select(sqrt(x), nan_f32(), x < 0.0); }
        case 15u: { return 1.0 / x; }
        case 16u: { return floor(x); }
        case 17u: { return ceil(x); }
        // WGSL's round() rounds halves to even, as ONNX Round does.
        case 18u: { return round(x); }
        case 19u: { return sign(x); }
        case 20u: { return erf_approx(x); }
        case 21u: { return softplus(x); }
        case 22u: { return x / (1.0 + abs(x)); }
        case 23u: { return select(ACT_ALPHA * (exp(x) - 1.0), x, x > 0.0); }
        case 24u: { return ACT_BETA * select(ACT_ALPHA * (exp(x) - 1.0), x, x > 0.0); }
        case 25u: { return max(x, 0.0) + min(0.0, ACT_ALPHA * (exp(x / ACT_ALPHA) - 1.0)); }
        case 26u: { return select(0.0, x, x > ACT_ALPHA); }
        // tanh(softplus(x)) = n (n + 2) / (n (n + 2) + 2) with n = e^x: exact in the negative
        // tail, where tanh of a tiny softplus loses its relative precision on some drivers;
        // beyond x = 10 the ratio already rounds to 1 (and e^x would overflow at 89).
        case 27u: {
            if x > 10.0 { return x; }
            let n = exp(x);
            let p = n * (n + 2.0);
            return x * p / (p + 2.0);
        }
        // 0.5 x (1 + tanh(u)) = x * sigmoid(2u): no cancellation in the negative tail.
        case 28u: {
            let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
            return x / (1.0 + exp(-2.0 * u));
        }
        case 29u: { return pow_signed(x, ACT_ALPHA); }
        case 30u: { return trunc(x); }
        default: { return x; }
    }
}

//! CPU reference for activations, in f64 from the textbook formulas.

use crate::ops::Activation;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Applies `act` to one value.
pub fn apply(act: Activation, x: f64) -> f64 {
    if x.is_nan() {
        return x; // clamp() would keep it, but be explicit: PyTorch maps NaN to NaN everywhere
    }
    match act {
        Activation::Identity => x,
        Activation::Relu => {
            if x.is_nan() {
                x
            } else {
                x.max(0.0)
            }
        }
        Activation::Relu6 => x.clamp(0.0, 6.0),
        // max-then-min, not clamp(): never panics on bounds that cross (all outputs are `max`,
        // as ONNX defines) or are NaN (ignored); the graph rejects both anyway.
        // A bound at -+f32::MAX or beyond is none: an infinite x passes it.
        Activation::Clip { min, max } => {
            let lo = if min <= -f32::MAX {
                x
            } else {
                x.max(min as f64)
            };
            if max >= f32::MAX {
                lo
            } else {
                lo.min(max as f64)
            }
        }
        Activation::LeakyRelu { slope } => {
            if x >= 0.0 {
                x
            } else {
                x * slope as f64
            }
        }
        Activation::Silu => x * sigmoid(x),
        Activation::Sigmoid => sigmoid(x),
        Activation::HardSigmoid { alpha, beta } => (alpha as f64 * x + beta as f64).clamp(0.0, 1.0),
        Activation::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
        Activation::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
        Activation::Tanh => x.tanh(),
        Activation::Abs => x.abs(),
        Activation::Neg => -x,
        Activation::Exp => x.exp(),
        // f64's ln and sqrt already give NaN below 0 and -inf / 0 at 0, as ONNX wants.
        Activation::Log => x.ln(),
        Activation::Sqrt => x.sqrt(),
        Activation::Reciprocal => 1.0 / x,
        Activation::Floor => x.floor(),
        Activation::Trunc => x.trunc(),
        Activation::Ceil => x.ceil(),
        Activation::Round => x.round_ties_even(),
        // signum() is +-1 for +-0; ONNX and PyTorch give 0.
        Activation::Sign => {
            if x == 0.0 {
                0.0
            } else {
                x.signum()
            }
        }
        Activation::Erf => libm::erf(x),
        Activation::Softplus => softplus(x),
        Activation::Softsign => x / (1.0 + x.abs()),
        Activation::Elu { alpha } => {
            if x > 0.0 {
                x
            } else {
                alpha as f64 * x.exp_m1()
            }
        }
        Activation::Selu { alpha, gamma } => {
            let y = if x > 0.0 {
                x
            } else {
                alpha as f64 * x.exp_m1()
            };
            gamma as f64 * y
        }
        Activation::Celu { alpha } => {
            let a = alpha as f64;
            x.max(0.0) + (a * (x / a).exp_m1()).min(0.0)
        }
        Activation::ThresholdedRelu { alpha } => {
            if x > alpha as f64 {
                x
            } else {
                0.0
            }
        }
        Activation::Mish => x * softplus(x).tanh(),
        Activation::GeluTanh => {
            let u = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
            0.5 * x * (1.0 + u.tanh())
        }
        Activation::Pow { exponent } => pow(x, exponent as f64),
    }
}

/// ln(1 + e^x), exact in f64 for every x (ln_1p keeps the far negative tail).
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `x^y` with ONNX / numpy semantics: Rust's `powf` already gives (-1)^y |x|^y for an integral
/// `y` and NaN for a negative base with any other, and 1 for `y == 0`.
pub fn pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}

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
        Activation::Clip { min, max } => x.max(min as f64).min(max as f64),
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
    }
}

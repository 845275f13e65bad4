//! Activation functions, fused into kernel epilogues through the `ACTIVATION` override.

/// An elementwise activation with PyTorch semantics.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Activation {
    /// y = x
    #[default]
    Identity,
    /// y = max(x, 0)
    Relu,
    /// y = min(max(x, 0), 6)
    Relu6,
    /// y = clamp(x, min, max) (ONNX Clip); a bound of -+f32::MAX or -+inf is no bound (an
    /// infinite x passes it)
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// y = x if x >= 0 else slope * x
    LeakyRelu {
        /// The slope below zero.
        slope: f32,
    },
    /// y = x * sigmoid(x) (a.k.a. Swish)
    Silu,
    /// y = 1 / (1 + exp(-x))
    Sigmoid,
    /// y = clamp(alpha * x + beta, 0, 1); PyTorch's Hardsigmoid is alpha = 1/6, beta = 1/2.
    HardSigmoid {
        /// The slope.
        alpha: f32,
        /// The offset.
        beta: f32,
    },
    /// y = x * relu6(x + 3) / 6
    HardSwish,
    /// y = x * Phi(x), the exact (erf) form, PyTorch's default.
    Gelu,
    /// y = tanh(x)
    Tanh,
    /// y = |x|
    Abs,
    /// y = -x
    Neg,
    /// y = e^x
    Exp,
    /// y = ln(x) (NaN below 0, -inf at 0)
    Log,
    /// y = sqrt(x) (NaN below 0)
    Sqrt,
    /// y = 1 / x
    Reciprocal,
    /// y = floor(x)
    Floor,
    /// y = ceil(x)
    Ceil,
    /// y = x rounded toward zero (ONNX Cast of a float to an integer type, torch.trunc)
    Trunc,
    /// y = x rounded to the nearest integer, halves to even (ONNX Round, torch.round)
    Round,
    /// y = -1, 0 or 1 by the sign of x (0 for both zeros)
    Sign,
    /// y = erf(x)
    Erf,
    /// y = ln(1 + e^x)
    Softplus,
    /// y = x / (1 + |x|)
    Softsign,
    /// y = x if x > 0 else alpha * (e^x - 1)
    Elu {
        /// The scale of the negative part.
        alpha: f32,
    },
    /// y = gamma * x if x > 0 else gamma * alpha * (e^x - 1)
    Selu {
        /// The scale inside the negative part.
        alpha: f32,
        /// The overall scale.
        gamma: f32,
    },
    /// y = max(0, x) + min(0, alpha * (e^(x / alpha) - 1)); alpha != 0
    Celu {
        /// The scale of the negative part (nonzero).
        alpha: f32,
    },
    /// y = x if x > alpha else 0
    ThresholdedRelu {
        /// The threshold.
        alpha: f32,
    },
    /// y = x * tanh(softplus(x))
    Mish,
    /// y = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))), GELU's tanh form
    GeluTanh,
    /// y = x ^ exponent (ONNX Pow with a constant scalar exponent; a negative x needs an
    /// integral exponent, else NaN)
    Pow {
        /// The constant exponent.
        exponent: f32,
    },
}

impl Activation {
    /// PyTorch's `nn.Hardsigmoid`.
    pub const HARD_SIGMOID_TORCH: Activation = Activation::HardSigmoid {
        alpha: 1.0 / 6.0,
        beta: 0.5,
    };

    /// SELU with the ONNX / PyTorch constants (alpha ~1.6733, gamma ~1.0507).
    pub const SELU_DEFAULT: Activation = Activation::Selu {
        alpha: 1.673_263_2,
        gamma: 1.050_701,
    };

    /// The activation's row: its `ACTIVATION` override value in
    /// `shaders/lib/activation.wgsl`, a short lowercase name, and its PyTorch module. A new
    /// activation is a variant, a row here, a case in the shader and an arm in
    /// `reference::activation`.
    fn row(self) -> (u32, &'static str, &'static str) {
        match self {
            Activation::Identity => (0, "identity", "Identity"),
            Activation::Relu => (1, "relu", "ReLU"),
            Activation::Relu6 => (2, "relu6", "ReLU6"),
            Activation::Clip { .. } => (2, "clip", "Hardtanh"),
            Activation::LeakyRelu { .. } => (3, "leaky_relu", "LeakyReLU"),
            Activation::Silu => (4, "silu", "SiLU"),
            Activation::Sigmoid => (5, "sigmoid", "Sigmoid"),
            Activation::HardSigmoid { .. } => (6, "hard_sigmoid", "Hardsigmoid"),
            Activation::HardSwish => (7, "hard_swish", "Hardswish"),
            Activation::Gelu => (8, "gelu", "GELU"),
            Activation::Tanh => (9, "tanh", "Tanh"),
            // PyTorch has no module for the plain math functions: their torch function.
            Activation::Abs => (10, "abs", "abs"),
            Activation::Neg => (11, "neg", "neg"),
            Activation::Exp => (12, "exp", "exp"),
            Activation::Log => (13, "log", "log"),
            Activation::Sqrt => (14, "sqrt", "sqrt"),
            Activation::Reciprocal => (15, "reciprocal", "reciprocal"),
            Activation::Floor => (16, "floor", "floor"),
            Activation::Ceil => (17, "ceil", "ceil"),
            Activation::Round => (18, "round", "round"),
            Activation::Sign => (19, "sign", "sign"),
            Activation::Erf => (20, "erf", "erf"),
            Activation::Softplus => (21, "softplus", "Softplus"),
            Activation::Softsign => (22, "softsign", "Softsign"),
            Activation::Elu { .. } => (23, "elu", "ELU"),
            Activation::Selu { .. } => (24, "selu", "SELU"),
            Activation::Celu { .. } => (25, "celu", "CELU"),
            Activation::ThresholdedRelu { .. } => (26, "thresholded_relu", "Threshold"),
            Activation::Mish => (27, "mish", "Mish"),
            Activation::GeluTanh => (28, "gelu_tanh", "GELU"),
            Activation::Pow { .. } => (29, "pow", "pow"),
            Activation::Trunc => (30, "trunc", "trunc"),
        }
    }

    /// The `ACTIVATION` override value in `shaders/lib/activation.wgsl`.
    pub fn code(self) -> u32 {
        self.row().0
    }

    /// A short lowercase name (`relu6`, `silu`, ...).
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// PyTorch's module name (`ReLU6`, `SiLU`, ...).
    pub fn torch_module(self) -> &'static str {
        self.row().2
    }

    /// `(ACT_ALPHA, ACT_BETA)` override values.
    pub fn parameters(self) -> (f32, f32) {
        match self {
            Activation::Relu6 => (0.0, 6.0),
            // WebGPU override constants must be finite: an infinite bound goes as -+f32::MAX,
            // which the shader (and the reference) read as no bound.
            Activation::Clip { min, max } => (min.max(-f32::MAX), max.min(f32::MAX)),
            Activation::LeakyRelu { slope } => (slope, 0.0),
            Activation::HardSigmoid { alpha, beta } => (alpha, beta),
            Activation::Elu { alpha }
            | Activation::Celu { alpha }
            | Activation::ThresholdedRelu { alpha } => (alpha, 0.0),
            Activation::Selu { alpha, gamma } => (alpha, gamma),
            Activation::Pow { exponent } => (exponent, 0.0),
            _ => (0.0, 0.0),
        }
    }

    /// Pipeline override constants selecting this activation.
    pub fn constants(self) -> [(&'static str, f64); 3] {
        let (a, b) = self.parameters();
        [
            ("ACTIVATION", self.code() as f64),
            ("ACT_ALPHA", a as f64),
            ("ACT_BETA", b as f64),
        ]
    }

    /// Every activation kind with representative parameters (for tests and validation).
    pub fn all() -> Vec<Activation> {
        vec![
            Activation::Identity,
            Activation::Relu,
            Activation::Relu6,
            Activation::Clip {
                min: -0.5,
                max: 0.75,
            },
            Activation::LeakyRelu { slope: 0.1 },
            Activation::Silu,
            Activation::Sigmoid,
            Activation::HARD_SIGMOID_TORCH,
            Activation::HardSwish,
            Activation::Gelu,
            Activation::Tanh,
            Activation::Abs,
            Activation::Neg,
            Activation::Exp,
            Activation::Log,
            Activation::Sqrt,
            Activation::Reciprocal,
            Activation::Floor,
            Activation::Ceil,
            Activation::Trunc,
            Activation::Round,
            Activation::Sign,
            Activation::Erf,
            Activation::Softplus,
            Activation::Softsign,
            Activation::Elu { alpha: 0.7 },
            Activation::SELU_DEFAULT,
            Activation::Celu { alpha: 1.5 },
            Activation::ThresholdedRelu { alpha: 0.5 },
            Activation::Mish,
            Activation::GeluTanh,
            Activation::Pow { exponent: 3.0 },
        ]
    }

    /// [`Activation::all`] less the activations a small error in their input can change by
    /// much more than the error itself: the steps (Floor, Ceil, Trunc, Round, Sign, ThresholdedRelu
    /// jump by a whole unit when an input near the step lands on its other side), the poles
    /// and branch points (Log, Sqrt, Reciprocal near 0, Pow) and Exp (its error grows with its
    /// value; f16 overflows from 11.1). Tests of fused epilogues, whose inputs are accumulated
    /// sums that differ from the reference's by rounding, iterate these; the standalone
    /// elementwise tests, whose inputs are exact, iterate [`Activation::all`].
    pub fn well_conditioned() -> Vec<Activation> {
        Activation::all()
            .into_iter()
            .filter(|a| {
                !matches!(
                    a,
                    Activation::Exp
                        | Activation::Log
                        | Activation::Sqrt
                        | Activation::Reciprocal
                        | Activation::Floor
                        | Activation::Ceil
                        | Activation::Trunc
                        | Activation::Round
                        | Activation::Sign
                        | Activation::ThresholdedRelu { .. }
                        | Activation::Pow { .. }
                )
            })
            .collect()
    }
}

/// What a producing kernel does to each output before writing it:
/// `y = activation(acc + bias + residual)`, the order ResNet, MobileNetV2 and MBConv need;
/// plus, for a convolution, a per-(image, channel) scale of its input as it is read.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Epilogue {
    /// Applied last.
    pub activation: Activation,
    /// Add a tensor of the output's shape before the activation.
    pub residual: bool,
    /// Multiply input channel `c` of image `n` by `s[n, c]` (an `[N, C, 1, 1]` tensor) as the
    /// input is read: squeeze-excitation's `conv(x * s)` without the product in memory
    /// (`crate::graph::se_scale`). Only the pointwise GEMM kernels take it.
    pub input_scale: bool,
}

impl Epilogue {
    /// Just an activation.
    pub fn act(activation: Activation) -> Self {
        Self {
            activation,
            ..Self::default()
        }
    }
}

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
    /// y = clamp(x, min, max) (ONNX Clip)
    Clip { min: f32, max: f32 },
    /// y = x if x >= 0 else slope * x
    LeakyRelu { slope: f32 },
    /// y = x * sigmoid(x) (a.k.a. Swish)
    Silu,
    /// y = 1 / (1 + exp(-x))
    Sigmoid,
    /// y = clamp(alpha * x + beta, 0, 1); PyTorch's Hardsigmoid is alpha = 1/6, beta = 1/2.
    HardSigmoid { alpha: f32, beta: f32 },
    /// y = x * relu6(x + 3) / 6
    HardSwish,
    /// y = x * Phi(x), the exact (erf) form, PyTorch's default.
    Gelu,
    /// y = tanh(x)
    Tanh,
}

impl Activation {
    /// PyTorch's `nn.Hardsigmoid`.
    pub const HARD_SIGMOID_TORCH: Activation = Activation::HardSigmoid {
        alpha: 1.0 / 6.0,
        beta: 0.5,
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
            Activation::Clip { min, max } => (min, max),
            Activation::LeakyRelu { slope } => (slope, 0.0),
            Activation::HardSigmoid { alpha, beta } => (alpha, beta),
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
        ]
    }
}

/// What a producing kernel does to each output before writing it:
/// `y = activation(acc + bias + residual)`, the order ResNet, MobileNetV2 and MBConv need.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Epilogue {
    /// Applied last.
    pub activation: Activation,
    /// Add a tensor of the output's shape before the activation.
    pub residual: bool,
}

impl Epilogue {
    /// Just an activation.
    pub fn act(activation: Activation) -> Self {
        Self {
            activation,
            residual: false,
        }
    }
}

//! The normalisations along one axis that share the softmax kernel.

/// Softmax, its logarithm, or the one-hot of the maximum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SoftmaxKind {
    /// `exp(x - m) / sum(exp(x - m))`.
    #[default]
    Softmax,
    /// `(x - m) - log(sum(exp(x - m)))`.
    LogSoftmax,
    /// 1 at the first maximum along the axis, 0 elsewhere.
    Hardmax,
}

impl SoftmaxKind {
    /// Every kind, in `MODE` code order.
    pub const ALL: [SoftmaxKind; 3] = [
        SoftmaxKind::Softmax,
        SoftmaxKind::LogSoftmax,
        SoftmaxKind::Hardmax,
    ];

    /// The kind's row: its `MODE` override value in `shaders/softmax.wgsl`, op name, ONNX
    /// operator and PyTorch module.
    fn row(self) -> (u32, &'static str, &'static str, &'static str) {
        match self {
            SoftmaxKind::Softmax => (0, "softmax", "Softmax", "Softmax"),
            SoftmaxKind::LogSoftmax => (1, "log_softmax", "LogSoftmax", "LogSoftmax"),
            // PyTorch has no module; ONNX's name stands in.
            SoftmaxKind::Hardmax => (2, "hardmax", "Hardmax", "Hardmax"),
        }
    }

    /// The `MODE` override value.
    pub fn code(self) -> u32 {
        self.row().0
    }

    /// The op's name.
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// The ONNX operator.
    pub fn onnx_op(self) -> &'static str {
        self.row().2
    }

    /// The PyTorch module.
    pub fn torch_module(self) -> &'static str {
        self.row().3
    }

    /// The kind of the ONNX operator `op`, if it is one.
    pub fn from_onnx(op: &str) -> Option<SoftmaxKind> {
        Self::ALL.into_iter().find(|k| k.onnx_op() == op)
    }
}

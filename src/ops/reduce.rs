//! Reductions over any set of axes (ONNX `ReduceSum`, `ReduceMean`, ... ; `torch.sum(x, dims)`).

use crate::error::{Error, Result};

/// What a reduction computes over its reduced set `S`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceKind {
    /// `sum(S)`.
    Sum,
    /// `sum(S) / |S|`.
    Mean,
    /// `max(S)` (NaN propagates).
    Max,
    /// `min(S)` (NaN propagates).
    Min,
    /// `prod(S)`.
    Prod,
    /// `sum(|x|)`.
    L1,
    /// `sqrt(sum(x^2))`.
    L2,
    /// `sum(x^2)`.
    SumSquare,
    /// `log(sum(S))`.
    LogSum,
    /// `log(sum(exp(x)))`, computed as `m + log(sum(exp(x - m)))` with `m = max(S)`.
    LogSumExp,
    /// The index of the first maximum in `S` (row-major over the reduced dims; ONNX `ArgMax`
    /// reduces one axis). NaN counts as larger than everything, as in numpy and PyTorch: the
    /// first NaN wins. The index is an f32 value, exact up to [`ReduceKind::MAX_INDEX`].
    ArgMax,
    /// The index of the first minimum; NaN counts as smaller than everything (numpy).
    ArgMin,
    /// `ArgMax` keeping the last of tied maxima (ONNX `select_last_index = 1`).
    ArgMaxLast,
    /// `ArgMin` keeping the last of tied minima.
    ArgMinLast,
}

impl ReduceKind {
    /// Every kind, in `REDUCE_KIND` code order (tests and `wgconv validate` iterate it).
    pub const ALL: [ReduceKind; 14] = [
        ReduceKind::Sum,
        ReduceKind::Mean,
        ReduceKind::Max,
        ReduceKind::Min,
        ReduceKind::Prod,
        ReduceKind::L1,
        ReduceKind::L2,
        ReduceKind::SumSquare,
        ReduceKind::LogSum,
        ReduceKind::LogSumExp,
        ReduceKind::ArgMax,
        ReduceKind::ArgMin,
        ReduceKind::ArgMaxLast,
        ReduceKind::ArgMinLast,
    ];

    /// The largest index an arg kind writes exactly: every integer up to 2^24 is an f32.
    pub const MAX_INDEX: usize = 1 << 24;

    /// The kind's row: its `REDUCE_KIND` override value in `shaders/reduce.wgsl`, its op name
    /// and its ONNX operator. A new kind is a variant, a row here, a case in the shader and an
    /// arm in `reference::reduce`.
    fn row(self) -> (u32, &'static str, &'static str) {
        match self {
            ReduceKind::Sum => (0, "reduce_sum", "ReduceSum"),
            ReduceKind::Mean => (1, "reduce_mean", "ReduceMean"),
            ReduceKind::Max => (2, "reduce_max", "ReduceMax"),
            ReduceKind::Min => (3, "reduce_min", "ReduceMin"),
            ReduceKind::Prod => (4, "reduce_prod", "ReduceProd"),
            ReduceKind::L1 => (5, "reduce_l1", "ReduceL1"),
            ReduceKind::L2 => (6, "reduce_l2", "ReduceL2"),
            ReduceKind::SumSquare => (7, "reduce_sum_square", "ReduceSumSquare"),
            ReduceKind::LogSum => (8, "reduce_log_sum", "ReduceLogSum"),
            ReduceKind::LogSumExp => (9, "reduce_log_sum_exp", "ReduceLogSumExp"),
            ReduceKind::ArgMax => (10, "arg_max", "ArgMax"),
            ReduceKind::ArgMin => (11, "arg_min", "ArgMin"),
            ReduceKind::ArgMaxLast => (12, "arg_max_last", "ArgMax"),
            ReduceKind::ArgMinLast => (13, "arg_min_last", "ArgMin"),
        }
    }

    /// The `REDUCE_KIND` override value.
    pub fn code(self) -> u32 {
        self.row().0
    }

    /// The op's name (`reduce_sum`, ...).
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// The ONNX operator (`ReduceSum`, ...).
    pub fn onnx_op(self) -> &'static str {
        self.row().2
    }

    /// Whether the kind writes an index (ArgMax, ArgMin) rather than a value.
    pub fn is_arg(self) -> bool {
        matches!(
            self,
            ReduceKind::ArgMax
                | ReduceKind::ArgMin
                | ReduceKind::ArgMaxLast
                | ReduceKind::ArgMinLast
        )
    }

    /// The kind of the ONNX operator `op`, if it is one (`ArgMax` / `ArgMin` give the
    /// first-index kinds; `select_last_index` picks the others).
    pub fn from_onnx(op: &str) -> Option<ReduceKind> {
        Self::ALL.into_iter().find(|k| k.onnx_op() == op)
    }

    /// The result over an empty set, as ONNX defines it (the identity of the combining
    /// operation: 0, 1, -inf, +inf; log(0) = -inf); the mean of nothing is 0 / 0 = NaN. The
    /// arg kinds have no index to give: their shape rule refuses empty sets, and NaN stands
    /// here for that.
    pub fn empty_value(self) -> f32 {
        match self {
            ReduceKind::Sum | ReduceKind::L1 | ReduceKind::L2 | ReduceKind::SumSquare => 0.0,
            ReduceKind::Mean => f32::NAN,
            ReduceKind::Prod => 1.0,
            ReduceKind::Max | ReduceKind::LogSum | ReduceKind::LogSumExp => f32::NEG_INFINITY,
            ReduceKind::Min => f32::INFINITY,
            ReduceKind::ArgMax
            | ReduceKind::ArgMin
            | ReduceKind::ArgMaxLast
            | ReduceKind::ArgMinLast => f32::NAN,
        }
    }
}

/// A reduction of the dims `axes` (sorted, distinct, in range; empty reduces nothing: the op
/// is then a copy, or for the `L1`/`L2`/... kinds the kind applied to each element).
/// Reducing a dim of size 0 gives [`ReduceKind::empty_value`] (ONNX's rule).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReduceSpec {
    /// Sum, mean, max, arg-max, norms, ...
    pub kind: ReduceKind,
    /// The dims reduced.
    pub axes: Vec<usize>,
    /// Reduced dims stay as size 1 (else they are dropped).
    pub keepdims: bool,
}

impl ReduceSpec {
    /// Checks `axes` against `rank`: sorted, distinct and in range.
    pub fn check(&self, rank: usize) -> Result<()> {
        let op = self.kind.name();
        if self.axes.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::invalid_op(
                op,
                format!("axes {:?} must be sorted and distinct", self.axes),
            ));
        }
        if let Some(a) = self.axes.iter().find(|&&a| a >= rank) {
            return Err(Error::invalid_op(
                op,
                format!("axis {a} is out of range for rank {rank}"),
            ));
        }
        Ok(())
    }

    /// Whether dim `d` is reduced.
    pub fn reduces(&self, d: usize) -> bool {
        self.axes.contains(&d)
    }

    /// The output shape for `input`. An arg kind needs a non-empty reduced set (there is no
    /// index of nothing) whose last index is exact in f32.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.check(input.len())?;
        if self.kind.is_arg() {
            let len = self.reduced_len(input);
            if len == 0 {
                return Err(Error::invalid_op(
                    self.kind.name(),
                    format!(
                        "axes {:?} of {input:?} are empty: no index to give",
                        self.axes
                    ),
                ));
            }
            if len - 1 > ReduceKind::MAX_INDEX {
                return Err(Error::invalid_op(
                    self.kind.name(),
                    format!(
                        "axes {:?} of {input:?} hold {len} elements: indices above {} are not \
                         exact as f32",
                        self.axes,
                        ReduceKind::MAX_INDEX
                    ),
                ));
            }
        }
        Ok(input
            .iter()
            .enumerate()
            .filter_map(|(d, &n)| match (self.reduces(d), self.keepdims) {
                (false, _) => Some(n),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect())
    }

    /// Elements combined into one output element (`|S|`).
    pub fn reduced_len(&self, input: &[usize]) -> usize {
        self.axes
            .iter()
            .map(|&a| input.get(a).copied().unwrap_or(1))
            .product()
    }
}

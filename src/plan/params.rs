//! Parameters: the tensors a node's kernel reads besides its inputs, materialised once per plan.
//!
//! Most are the op's own tensors (weights, biases, an SE gate's MLP), which the plan refers to
//! by position and the session reads from the graph it keeps; the rest are derived on the host
//! once (BatchNorm's per-channel affine in f64, Winograd's transformed weights, a resize's
//! coordinate lookup) and held by the plan.

use std::borrow::Cow;
use std::sync::Arc;

use crate::graph::{Op, Operand, passes::batch_norm_affine};
use crate::kernels::algorithm::ConvAlgorithm;
use crate::kernels::{resize, winograd};
use crate::precision::Precision;
use crate::tensor::Tensor;

/// One parameter tensor of a step.
#[derive(Clone, Debug)]
pub enum ParamData {
    /// The op's own tensor at this position of [`op_tensors`].
    Op(usize),
    /// A tensor derived from the op on the host.
    Derived(Arc<Tensor>),
}

/// The op's own parameter tensors, in binding order.
pub fn op_tensors(op: &Op) -> Vec<&Tensor> {
    match op {
        // Weight slots given at run time are node inputs, not parameters.
        Op::Conv { weight, bias, .. } | Op::ConvTranspose { weight, bias, .. } => {
            std::iter::once(weight)
                .chain(bias)
                .filter_map(Operand::as_const)
                .collect()
        }
        Op::Linear { weight, bias, .. } => std::iter::once(weight).chain(bias).collect(),
        Op::ChannelAffine { scale, shift, .. } => vec![scale, shift],
        Op::SeGate { w1, b1, w2, b2, .. } => vec![w1, b1, w2, b2],
        Op::Norm { scale, bias, .. } => scale.iter().chain(bias).collect(),
        Op::Constant { value } => vec![value],
        _ => Vec::new(),
    }
}

impl ParamData {
    /// The tensor, reading the op's own from `op`.
    pub fn tensor<'a>(&'a self, op: &'a Op) -> &'a Tensor {
        match self {
            ParamData::Op(i) => op_tensors(op)[*i],
            ParamData::Derived(t) => t,
        }
    }
}

/// The parameters of `op` (inputs of shapes `inputs`) run as `algorithm`, in binding order:
/// weights and biases (Winograd's weights transformed in f64 into the layout its GEMM reads),
/// BatchNorm's scale and shift, or a resize's lookup.
pub fn node_params(
    op: &Op,
    inputs: &[&[usize]],
    algorithm: Option<&ConvAlgorithm>,
) -> Vec<ParamData> {
    let derived = |t: Tensor| ParamData::Derived(Arc::new(t));
    let own = |n: usize| (0..n).map(ParamData::Op).collect::<Vec<_>>();
    match op {
        // Selection never transforms run-time weights (`plan::select`).
        Op::Conv {
            weight: Operand::Const(weight),
            bias,
            ..
        } if algorithm.is_some_and(|a| a.transforms_weights()) => {
            let mut v = vec![derived(winograd::transform_weights(weight))];
            v.extend(
                bias.iter()
                    .filter(|b| b.input().is_none())
                    .map(|_| ParamData::Op(1)),
            );
            v
        }
        Op::BatchNorm { .. } => {
            let (s, b) = batch_norm_affine(op).expect("batch norm");
            let t = |v: Vec<f64>| {
                derived(
                    Tensor::new(vec![v.len()], v.into_iter().map(|x| x as f32).collect())
                        .expect("1-D"),
                )
            };
            vec![t(s), t(b)]
        }
        Op::Resize(spec) => vec![derived(
            resize::resize_table(spec, inputs[0]).expect("shape inference validated the resize"),
        )],
        // The kernel reads a scale and a bias of param_len elements each; the ones a model
        // leaves out are ones and zeros (kinds without an affine bind none).
        Op::Norm { spec, scale, bias } if spec.kind.has_affine() => {
            let n = spec.param_len(inputs[0]);
            let filled = |v: f32| derived(Tensor::new(vec![n], vec![v; n]).expect("1-D"));
            vec![
                scale
                    .as_ref()
                    .map_or_else(|| filled(1.0), |_| ParamData::Op(0)),
                bias.as_ref()
                    .map_or_else(|| filled(0.0), |_| ParamData::Op(scale.is_some() as usize)),
            ]
        }
        _ => own(op_tensors(op).len()),
    }
}

/// [`node_params`] as tensors.
pub fn device_params_for<'a>(
    op: &'a Op,
    inputs: &[&[usize]],
    algorithm: Option<&ConvAlgorithm>,
) -> Vec<Cow<'a, Tensor>> {
    node_params(op, inputs, algorithm)
        .into_iter()
        .map(|p| match p {
            ParamData::Op(i) => Cow::Borrowed(op_tensors(op)[i]),
            ParamData::Derived(t) => Cow::Owned(Arc::unwrap_or_clone(t)),
        })
        .collect()
}

/// The storage type of `op`'s parameters when the graph runs in `precision`: a resize's lookup
/// table stays f32 (f16 cannot hold source indices beyond 2048 exactly); weights, biases and
/// affines take the run's precision.
pub fn param_precision(op: &Op, precision: Precision) -> Precision {
    match op {
        Op::Resize(_) => Precision::F32,
        _ => precision,
    }
}

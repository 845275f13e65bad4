//! Kernel selection: the algorithm each convolution runs. Per-node overrides (the caller's or
//! the autotuner's) win over the heuristic ([`algorithm::heuristic`]); a convolution that must
//! be split to fit the binding limit runs single-pass whatever was asked (the splitter cuts
//! plain convolutions over untransformed weights). A convolution that scales its input
//! (`Epilogue::input_scale`) runs a pointwise GEMM algorithm: an override naming another is
//! refused.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId, Op, Rewrites};
use crate::kernels::Target;
use crate::kernels::algorithm::{self, ConvAlgorithm};
use crate::tensor::numel;

/// Names the node in an [`Error::InvalidOp`] about it.
pub(crate) fn name_node(g: &Graph, id: NodeId) -> impl Fn(Error) -> Error + '_ {
    move |e| {
        let node = g.node(id);
        match e {
            Error::InvalidOp { op, message } => Error::invalid_op(
                format!("node {:?} ({}): {op}", node.name, node.op.kind()),
                message,
            ),
            e => e,
        }
    }
}

/// Checks that every override names a convolution node of `g` that its algorithm can run.
fn check_overrides(g: &Graph, overrides: &HashMap<NodeId, ConvAlgorithm>) -> Result<()> {
    let n_steps = g.nodes().len();
    for (&id, a) in overrides {
        if id.0 >= n_steps {
            return Err(Error::invalid_op(
                "plan",
                format!("algorithm override for node {id:?}, the graph has {n_steps} nodes"),
            ));
        }
        let node = g.node(id);
        match &node.op {
            Op::Conv {
                spec,
                weight,
                epilogue,
                ..
            } => {
                a.supports(spec, g.shape(node.inputs[0]), weight.shape())
                    .map_err(name_node(g, id))?;
                if epilogue.input_scale && !a.takes_input_scale() {
                    return Err(name_node(g, id)(Error::invalid_op(
                        "plan",
                        format!(
                            "{a:?} cannot scale the input channels; this node's input is scaled (a fused squeeze-excitation gate): only the pointwise GEMM algorithms can"
                        ),
                    )));
                }
                if a.transforms_weights() && !node.op.runtime_operands().is_empty() {
                    return Err(name_node(g, id)(Error::invalid_op(
                        "plan",
                        format!(
                            "{a:?} transforms the weights on the host; this node's are given at run time"
                        ),
                    )));
                }
            }
            op => {
                return Err(name_node(g, id)(Error::invalid_op(
                    "plan",
                    format!("{a:?} given for a {} node, not a convolution", op.kind()),
                )));
            }
        }
    }
    Ok(())
}

/// The algorithm of every node (`None` for non-convolutions).
pub(crate) fn algorithms(
    g: &Graph,
    target: &Target,
    overrides: &HashMap<NodeId, ConvAlgorithm>,
    rewrites: &Rewrites,
) -> Result<Vec<Option<ConvAlgorithm>>> {
    check_overrides(g, overrides)?;
    let limit = target.limits.max_storage_buffer_binding_size;
    let bytes = |shape: &[usize]| target.precision.buffer_bytes(numel(shape));
    let chosen = g.nodes().iter().enumerate().map(|(i, node)| {
        let Op::Conv {
            spec,
            weight,
            epilogue,
            ..
        } = &node.op
        else {
            return Ok(None);
        };
        let input = g.shape(node.inputs[0]);
        let chosen = match overrides.get(&NodeId(i)) {
            Some(&a) => a,
            None => {
                let h = algorithm::heuristic_with(target, spec, input, weight.shape(), epilogue)
                    .ok_or_else(|| {
                        name_node(g, NodeId(i))(Error::invalid_op(
                            "plan",
                            "only a pointwise (1x1, stride 1, unpadded) convolution can scale its input",
                        ))
                    })?;
                if h == ConvAlgorithm::WinogradFused && !rewrites.winograd_fused {
                    algorithm::heuristic_unfused(target, spec, input, weight.shape())
                } else {
                    h
                }
            }
        };
        let scratch =
            algorithm::scratch_bytes(&chosen, spec, input, weight.shape(), target.precision)
                .unwrap_or_default();
        let split = node
            .inputs
            .iter()
            .chain([&node.output])
            .map(|v| bytes(g.shape(*v)))
            .chain([bytes(weight.shape())])
            .chain(scratch)
            .any(|b| b > limit);
        // Weights given at run time are read as written: nothing transforms them.
        let runtime = !node.op.runtime_operands().is_empty();
        Ok(Some(if split || (runtime && chosen.transforms_weights()) {
            algorithm::single_pass_with(spec, input, weight.shape(), epilogue)
        } else {
            chosen
        }))
    });
    chosen.collect()
}

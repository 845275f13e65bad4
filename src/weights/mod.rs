//! Parameters for a graph: load a PyTorch `state_dict` saved as safetensors (feature
//! `safetensors`), or initialise deterministically from a seed.
//!
//! Loading is strict like `load_state_dict(strict=True)`: a missing tensor, a tensor of the
//! wrong shape or an unexpected key is an error that names it. BatchNorm's
//! `num_batches_tracked` is ignored (it does not affect inference). F32, F64, F16 and BF16 are
//! accepted and converted to f32.
//!
//! Seeded initialisation keeps activations of order one through deep networks, so that
//! numerical comparisons of deep nets are meaningful: He-uniform convolution weights (variance
//! 2 / fan-in, preserving the second moment through ReLU), LeCun-uniform linear weights,
//! PyTorch's bias bounds, and BatchNorm affine parameters and statistics drawn around the
//! identity. [`calibrate_batch_norm`] then sets every BatchNorm's running statistics from the
//! statistics its input actually has for a given batch, so each normalises to unit RMS however
//! deep the network and however many residual branches add up.

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::error::Result;
use crate::graph::{Graph, NodeId, Op, Operand};
use crate::tensor::Tensor;

#[cfg(feature = "safetensors")]
mod safetensors;
#[cfg(feature = "safetensors")]
pub use self::safetensors::{load_safetensors, load_safetensors_file, to_safetensors};

/// A stable per-tensor seed: FNV-1a of the key, mixed with the global seed, so that a
/// parameter's values do not depend on the order nodes were built in.
fn key_seed(seed: u64, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn fill_uniform(t: &mut Tensor, seed: u64, lo: f32, hi: f32) {
    let mut rng = StdRng::seed_from_u64(seed);
    for x in t.data_mut() {
        *x = rng.random_range(lo..hi);
    }
}

/// Fills every parameter of `g` deterministically from `seed` (see the module docs).
pub fn init_seeded(g: &mut Graph, seed: u64) {
    let ids: Vec<NodeId> = (0..g.nodes().len()).map(NodeId).collect();
    for id in ids {
        let name = g.node(id).name.clone();
        let s = |field: &str| key_seed(seed, &format!("{name}.{field}"));
        match g.op_mut(id) {
            // Weights given at run time have nothing to fill.
            Op::Conv {
                weight: Operand::Const(weight),
                bias,
                ..
            }
            | Op::ConvTranspose {
                weight: Operand::Const(weight),
                bias,
                ..
            } => {
                // PyTorch's fan-in for both: weight.shape[1] * prod(kernel).
                let fan_in: usize = weight.shape()[1..].iter().product();
                let a = (6.0 / fan_in.max(1) as f32).sqrt();
                fill_uniform(weight, s("weight"), -a, a);
                if let Some(Operand::Const(b)) = bias {
                    let bb = 1.0 / (fan_in.max(1) as f32).sqrt();
                    fill_uniform(b, s("bias"), -bb, bb);
                }
            }
            Op::Linear { weight, bias, .. } => {
                let fan_in = weight.shape()[1];
                let a = (3.0 / fan_in.max(1) as f32).sqrt();
                fill_uniform(weight, s("weight"), -a, a);
                if let Some(b) = bias {
                    let bb = 1.0 / (fan_in.max(1) as f32).sqrt();
                    fill_uniform(b, s("bias"), -bb, bb);
                }
            }
            Op::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                ..
            } => {
                if let Some(t) = gamma {
                    fill_uniform(t, s("weight"), 0.5, 1.5);
                }
                if let Some(t) = beta {
                    fill_uniform(t, s("bias"), -0.25, 0.25);
                }
                fill_uniform(mean, s("running_mean"), -0.25, 0.25);
                fill_uniform(var, s("running_var"), 0.5, 1.5);
            }
            Op::ChannelAffine { scale, shift, .. } => {
                fill_uniform(scale, s("scale"), 0.5, 1.5);
                fill_uniform(shift, s("shift"), -0.25, 0.25);
            }
            Op::SeGate { w1, b1, w2, b2, .. } => {
                for (t, f) in [(w1, "fc1.weight"), (w2, "fc2.weight")] {
                    let fan_in = t.shape()[1];
                    let a = (6.0 / fan_in.max(1) as f32).sqrt();
                    fill_uniform(t, s(f), -a, a);
                }
                for (t, f) in [(b1, "fc1.bias"), (b2, "fc2.bias")] {
                    fill_uniform(t, s(f), -0.1, 0.1);
                }
            }
            _ => {}
        }
    }
}

/// Sets every BatchNorm's running statistics from its input when the graph runs on `inputs`
/// (on the CPU reference), in graph order, so later BatchNorms see already-calibrated earlier
/// ones. The statistics are chosen to normalise without making the network ill-conditioned
/// (see `graph::cpu`): per-channel means shrunk towards the layer mean when a channel has few
/// values, one variance per layer, floored at a tenth of the input's mean square. Gamma and
/// beta are kept.
pub fn calibrate_batch_norm(g: &mut Graph, inputs: &[Tensor]) -> Result<()> {
    crate::graph::cpu::run_calibrating(g, inputs)
}

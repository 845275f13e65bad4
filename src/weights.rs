//! Parameters for a graph: load a PyTorch `state_dict` saved as safetensors, or initialise
//! deterministically from a seed.
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

use std::path::Path;

use rand::{Rng, SeedableRng, rngs::StdRng};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::error::{Error, Result};
use crate::graph::{Graph, NodeId, Op, Operand};
use crate::tensor::Tensor;

fn weights_error(tensor: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Weights {
        tensor: tensor.into(),
        message: message.into(),
    }
}

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

/// f16 bits to f32.
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) & 1) as u32;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign << 31,
        (0, f) => {
            // Subnormal: value = f * 2^-24.
            let v = f as f32 * (1.0 / 16_777_216.0);
            return if sign == 1 { -v } else { v };
        }
        (0x1f, f) => (sign << 31) | 0x7f80_0000 | (f << 13),
        (e, f) => (sign << 31) | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// Converts a safetensors view to f32 values.
fn view_to_f32(key: &str, v: &TensorView<'_>) -> Result<Vec<f32>> {
    let d = v.data();
    let out = match v.dtype() {
        Dtype::F32 => d
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F64 => d
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        Dtype::F16 => d
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::BF16 => d
            .chunks_exact(2)
            .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
            .collect(),
        other => {
            return Err(weights_error(
                key,
                format!("dtype {other:?} is not supported (use F32, F64, F16 or BF16)"),
            ));
        }
    };
    Ok(out)
}

/// Loads a safetensors `state_dict` (PyTorch names) into `g`'s parameters.
pub fn load_safetensors(g: &mut Graph, bytes: &[u8]) -> Result<()> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| weights_error("<file>", format!("not a safetensors file: {e}")))?;
    let mut expected = std::collections::HashSet::new();
    for (key, t) in g.state_dict_mut() {
        expected.insert(key.clone());
        let view = st.tensor(&key).map_err(|_| {
            weights_error(
                &key,
                format!("missing from the file (expected shape {:?})", t.shape()),
            )
        })?;
        // PyTorch stores a 0-d or 1-d tensor for 1-element parameters alike; compare counts
        // for those, exact shapes otherwise.
        if view.shape() != t.shape() {
            return Err(weights_error(
                &key,
                format!(
                    "has shape {:?} in the file, the network needs {:?}",
                    view.shape(),
                    t.shape()
                ),
            ));
        }
        let data = view_to_f32(&key, &view)?;
        t.data_mut().copy_from_slice(&data);
    }
    let mut unexpected: Vec<&str> = st
        .names()
        .into_iter()
        .filter(|n| !expected.contains(*n) && !n.ends_with("num_batches_tracked"))
        .collect();
    unexpected.sort();
    if let Some(first) = unexpected.first() {
        return Err(weights_error(
            *first,
            format!(
                "unexpected key ({} unexpected in all: {})",
                unexpected.len(),
                unexpected
                    .iter()
                    .take(5)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

/// Loads a safetensors file into `g`.
pub fn load_safetensors_file(g: &mut Graph, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    load_safetensors(g, &bytes)
}

/// Serialises `g`'s parameters as a safetensors `state_dict` (F32).
pub fn to_safetensors(g: &Graph) -> Result<Vec<u8>> {
    let sd = g.state_dict();
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = sd
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                bytemuck::cast_slice::<f32, u8>(t.data()).to_vec(),
                t.shape().to_vec(),
            )
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(k, b, s)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (k.clone(), v))
                .map_err(|e| weights_error(k, e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None).map_err(|e| weights_error("<file>", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_conversions() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
    }
}

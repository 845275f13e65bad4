//! Loading and saving a PyTorch `state_dict` as safetensors (strict; see the parent module).

use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::error::{Error, Result};
use crate::graph::Graph;

fn weights_error(tensor: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Weights {
        tensor: tensor.into(),
        message: message.into(),
    }
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
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => d
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
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
///
/// ```
/// use wgconv::graph::{Conv2d, Graph, cpu};
/// use wgconv::{Error, Tensor, weights};
///
/// let net = || -> wgconv::Result<Graph> {
///     let mut g = Graph::new();
///     let x = g.input("x", &[1, 3, 6, 6]);
///     let y = g.conv2d(x, "conv1", Conv2d::new(4, 3))?;
///     g.output(y);
///     Ok(g)
/// };
/// let mut trained = net()?;
/// weights::init_seeded(&mut trained, 42);
/// // `bytes`: a file saved by `safetensors.torch.save_file(model.state_dict(), ...)`.
/// let bytes = weights::to_safetensors(&trained)?;
/// let mut loaded = net()?;
/// weights::load_safetensors(&mut loaded, &bytes)?;
/// let x = [Tensor::random(vec![1, 3, 6, 6], 1)];
/// assert_eq!(cpu::run(&loaded, &x)?, cpu::run(&trained, &x)?);
/// let err = weights::load_safetensors(&mut loaded, b"not a file").unwrap_err();
/// assert!(matches!(err, Error::Weights { .. }));
/// # Ok::<(), wgconv::Error>(())
/// ```
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
    let bytes = std::fs::read(path).map_err(Error::io("reading", path))?;
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

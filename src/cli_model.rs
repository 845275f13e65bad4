//! What `wgconv run` and `wgconv summary` share: resolving a model argument (an ONNX file or a
//! zoo network name) to a graph with weights, and parsing `NAME=VALUE` arguments.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::onnx::{ImportOptions, import_path};
use crate::tensor::Tensor;
use crate::{weights, zoo};

/// Parses `1x3x224x224` (or `1,3,224,224`).
pub fn parse_shape(s: &str) -> Result<Vec<usize>> {
    s.split(['x', ','])
        .map(|d| d.trim().parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::InvalidSetting {
            name: "shape",
            value: s.to_string(),
            reason: e.to_string(),
        })
}

/// Splits `NAME=VALUE`.
pub fn split_assignment<'a>(what: &'static str, s: &'a str) -> Result<(&'a str, &'a str)> {
    s.split_once('=').ok_or_else(|| Error::InvalidSetting {
        name: what,
        value: s.to_string(),
        reason: "expected NAME=VALUE".into(),
    })
}

/// Where a model comes from.
pub enum ModelSource<'a> {
    /// An ONNX file.
    Onnx(&'a Path),
    /// A zoo network, with optional safetensors weights (seeded weights otherwise).
    Zoo {
        name: &'a str,
        weights: Option<&'a Path>,
    },
}

impl<'a> ModelSource<'a> {
    /// An `.onnx` path, or else a zoo name.
    pub fn parse(arg: &'a str, weights: Option<&'a Path>) -> Self {
        let p = Path::new(arg);
        if arg.ends_with(".onnx") || p.is_file() {
            ModelSource::Onnx(p)
        } else {
            ModelSource::Zoo { name: arg, weights }
        }
    }
}

/// Builds the graph. `shapes` gives input shapes by name (ONNX) or the zoo input under any
/// name (default `[1, C, H, W]` at the network's natural size). Zoo networks without weights
/// get seeded weights with BatchNorm calibrated on a seeded input, so activations stay O(1).
pub fn load(source: &ModelSource<'_>, shapes: &HashMap<String, Vec<usize>>) -> Result<Graph> {
    match source {
        ModelSource::Onnx(path) => {
            let opts = ImportOptions {
                input_shapes: shapes.clone(),
                ..Default::default()
            };
            import_path(path, &opts)
        }
        ModelSource::Zoo { name, weights } => {
            let natural = zoo::NETWORKS
                .iter()
                .find(|(n, ..)| n == name)
                .map(|&(_, _, _, chw)| chw)
                .ok_or_else(|| {
                    let names: Vec<&str> = zoo::NETWORKS.iter().map(|(n, ..)| *n).collect();
                    Error::InvalidSetting {
                        name: "model",
                        value: name.to_string(),
                        reason: format!(
                            "not an .onnx file and not a zoo network ({})",
                            names.join(", ")
                        ),
                    }
                })?;
            let input = shapes
                .values()
                .next()
                .cloned()
                .unwrap_or_else(|| vec![1, natural[0], natural[1], natural[2]]);
            let mut g = zoo::build(name, &input)?;
            match weights {
                Some(w) => weights::load_safetensors_file(&mut g, w)?,
                None => {
                    weights::init_seeded(&mut g, 0);
                    weights::calibrate_batch_norm(&mut g, &[Tensor::random(input.clone(), 42)])?;
                }
            }
            Ok(g)
        }
    }
}

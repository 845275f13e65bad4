//! What `wgconv run` and `wgconv summary` share: resolving a model argument (an ONNX file or a
//! zoo network name) to a graph with weights, and parsing `NAME=VALUE` arguments.

use std::collections::HashMap;
use std::path::Path;

use wgconv::dynamic::{Dim, DynamicSession, InputKind};
use wgconv::error::{Error, Result};
use wgconv::graph::Graph;
use wgconv::model::SessionConfig;
use wgconv::onnx::{ImportOptions, import_path};
use wgconv::tensor::Tensor;
use wgconv::{weights, zoo};

/// Parses `1x3x224x224` (or `1,3,224,224`).
pub(crate) fn parse_shape(s: &str) -> Result<Vec<usize>> {
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
pub(crate) fn split_assignment<'a>(what: &'static str, s: &'a str) -> Result<(&'a str, &'a str)> {
    s.split_once('=').ok_or_else(|| Error::InvalidSetting {
        name: what,
        value: s.to_string(),
        reason: "expected NAME=VALUE".into(),
    })
}

/// Where a model comes from.
pub(crate) enum ModelSource<'a> {
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
    pub(crate) fn parse(arg: &'a str, weights: Option<&'a Path>) -> Self {
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
pub(crate) fn load(
    source: &ModelSource<'_>,
    shapes: &HashMap<String, Vec<usize>>,
) -> Result<Graph> {
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

/// A [`DynamicSession`] for a model argument. ONNX models keep their symbolic dimensions
/// except those `shapes` fixes; a zoo network is built at its `shapes` input with every
/// dimension but the channels open (`N`, `H`, `W`), so one session runs it at several shapes.
pub(crate) fn dynamic_session(
    source: &ModelSource<'_>,
    shapes: &HashMap<String, Vec<usize>>,
    mut config: SessionConfig,
) -> Result<DynamicSession> {
    match source {
        ModelSource::Onnx(path) => {
            config.import.input_shapes.extend(shapes.clone());
            DynamicSession::from_onnx_path(path, &config)
        }
        ModelSource::Zoo { .. } => {
            let g = load(source, shapes)?;
            let name = g.value(g.inputs()[0]).name.clone();
            let open = [(name.as_str(), 0, "N"), (&name, 2, "H"), (&name, 3, "W")];
            DynamicSession::from_graph(&g, &open, &config)
        }
    }
}

/// `shapes` keyed by the session's input names: a zoo network takes its one shape under any
/// name (`--shape input=1x3x224x224`) and defaults to its natural size; ONNX shapes are
/// already by name.
pub(crate) fn shapes_by_input(
    source: &ModelSource<'_>,
    session: &DynamicSession,
    shapes: &HashMap<String, Vec<usize>>,
) -> HashMap<String, Vec<usize>> {
    match (source, session.inputs(), shapes.values().next()) {
        (ModelSource::Zoo { .. }, [input], Some(shape)) if shapes.len() == 1 => {
            HashMap::from([(input.name.clone(), shape.clone())])
        }
        // No shape given: the network's natural input, batch 1.
        (ModelSource::Zoo { name, .. }, [input], None) => zoo::NETWORKS
            .iter()
            .find(|(n, ..)| n == name)
            .map(|&(_, _, _, [c, h, w])| HashMap::from([(input.name.clone(), vec![1, c, h, w])]))
            .unwrap_or_default(),
        _ => shapes.clone(),
    }
}

/// Seeded random inputs for a session's float inputs, at their fixed dimensions with the
/// symbolic ones taken from `shapes` (by input name); inputs given in `given` are used as
/// they are. Errors name an input whose shape is unknown or whose values must be given.
pub(crate) fn inputs_for(
    session: &DynamicSession,
    shapes: &HashMap<String, Vec<usize>>,
    given: &[(String, Tensor)],
    seed: u64,
) -> Result<Vec<(String, Tensor)>> {
    let names: Vec<&str> = session.inputs().iter().map(|i| i.name.as_str()).collect();
    if let Some((extra, _)) = given.iter().find(|(n, _)| !names.contains(&n.as_str())) {
        return Err(Error::UnknownInput {
            name: extra.clone(),
            known: names.iter().map(|n| n.to_string()).collect(),
        });
    }
    let mut feed = Vec::new();
    for (i, info) in session.inputs().iter().enumerate() {
        if let Some((_, t)) = given.iter().find(|(n, _)| *n == info.name) {
            feed.push((info.name.clone(), t.clone()));
            continue;
        }
        let needs = |why: &str| Error::InvalidSetting {
            name: "input",
            value: info.name.clone(),
            reason: format!(
                "the model needs input {:?} ({}) and {why}: give --input {}=FILE.npy",
                info.name,
                info.dims_text(),
                info.name
            ),
        };
        if info.kind == InputKind::Host {
            return Err(needs("its values set shapes or indices"));
        }
        let shape = match (shapes.get(&info.name), &info.dims) {
            (Some(s), _) => s.clone(),
            (None, Some(dims)) => dims
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => Ok(*n),
                    Dim::Symbolic(_) => Err(needs(&format!(
                        "its shape is open: give --shape {}=SHAPE or",
                        info.name
                    ))),
                })
                .collect::<Result<_>>()?,
            (None, None) => return Err(needs("its rank is unknown")),
        };
        feed.push((info.name.clone(), Tensor::random(shape, seed + i as u64)));
    }
    Ok(feed)
}

/// Items per run: the leading dimension of the first input (the batch), 1 without one.
pub fn batch(feed: &[(String, Tensor)]) -> usize {
    feed.first()
        .and_then(|(_, t)| t.shape().first().copied())
        .unwrap_or(1)
}

/// The fixed-shape session that runs `feed` (in any order; every input of `session` named).
pub fn plan_for_feed(
    session: &DynamicSession,
    feed: &[(String, Tensor)],
) -> Result<std::sync::Arc<wgconv::Session<'static>>> {
    let ordered = session
        .inputs()
        .iter()
        .map(|i| {
            feed.iter()
                .find(|(n, _)| *n == i.name)
                .map(|(_, t)| t)
                .ok_or_else(|| Error::InvalidSetting {
                    name: "input",
                    value: i.name.clone(),
                    reason: "the model needs this input".into(),
                })
        })
        .collect::<Result<Vec<_>>>()?;
    session.plan_for(&ordered)
}

/// Wall-clock ms for `runs` runs shared by `threads` threads, each running its share one
/// after another (so up to `threads` runs are in flight at once).
pub fn time_in_flight(
    session: &DynamicSession,
    feed: &[(String, Tensor)],
    runs: usize,
    threads: usize,
) -> Result<f64> {
    let refs: Vec<(&str, &Tensor)> = feed.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let t = std::time::Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let refs = &refs;
                let share = runs / threads + usize::from(i < runs % threads);
                scope.spawn(move || (0..share).try_for_each(|_| session.run_named(refs).map(drop)))
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| wgconv::Error::invalid_op("run", "a run thread panicked"))?
        })
    })?;
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

/// Host wall time of `runs` runs on `feed` (upload, kernels, readback), ms, after `warmup`
/// untimed ones (none when `runs` is 0).
pub fn time_runs(
    session: &DynamicSession,
    feed: &[(String, Tensor)],
    warmup: usize,
    runs: usize,
) -> Result<Vec<f64>> {
    let refs: Vec<(&str, &Tensor)> = feed.iter().map(|(n, t)| (n.as_str(), t)).collect();
    for _ in 0..warmup * usize::from(runs > 0) {
        session.run_named(&refs)?;
    }
    (0..runs)
        .map(|_| {
            let t = std::time::Instant::now();
            session.run_named(&refs)?;
            Ok(t.elapsed().as_secs_f64() * 1e3)
        })
        .collect()
}

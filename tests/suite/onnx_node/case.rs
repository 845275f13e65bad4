//! Running one node test: its model in a [`DynamicSession`] fed every input of each data set
//! at run time, every output compared with the recorded one.

use std::path::{Path, PathBuf};

use prost::Message;
use std::sync::{Arc, OnceLock};

use wgconv::onnx::proto::{ModelProto, TensorProto};
use wgconv::onnx::{ConstData, decode_tensor};
use wgconv::tensor::Tensor;
use wgconv::{DynamicSession, Gpu, GpuOptions, SessionConfig};

/// |got - expected| <= ATOL + RTOL * |expected|.
const ATOL: f64 = 1e-4;
const RTOL: f64 = 1e-3;

/// A recorded tensor: its shape, its elements as f64 (integers and booleans too), and whether
/// it is an integer (int64 / bool) tensor.
struct Recorded {
    name: String,
    shape: Vec<usize>,
    data: Vec<f64>,
    integer: bool,
}

fn read_pb(path: &Path) -> Result<Recorded, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let t = TensorProto::decode(&bytes[..])
        .map_err(|e| format!("{}: not a TensorProto: {e}", path.display()))?;
    let c = decode_tensor(&t).map_err(|e| format!("{}: {e}", path.display()))?;
    let (data, integer) = match c.data {
        ConstData::F32(v) => (v.into_iter().map(f64::from).collect(), false),
        ConstData::I64(v) => (v.into_iter().map(|x| x as f64).collect(), true),
    };
    Ok(Recorded {
        name: t.name().to_string(),
        shape: c.shape,
        data,
        integer,
    })
}

/// `prefix_0.pb`, `prefix_1.pb`, ... in index order.
fn numbered(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    (0..)
        .map(|i| dir.join(format!("{prefix}_{i}.pb")))
        .take_while(|p| p.is_file())
        .collect()
}

fn data_sets(dir: &Path) -> Vec<PathBuf> {
    let mut sets: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("test_data_set_"))
                })
                .collect()
        })
        .unwrap_or_default();
    sets.sort();
    sets
}

fn to_tensor(r: &Recorded) -> Tensor {
    Tensor::new(r.shape.clone(), r.data.iter().map(|&x| x as f32).collect())
        .expect("recorded shape matches its data")
}

/// One session per test, on a device shared by every node test: any dimension the model
/// leaves open and every input, weights and shape operands included, given at run time.
fn session(bytes: &[u8]) -> Result<DynamicSession, String> {
    static GPU: OnceLock<Arc<Gpu>> = OnceLock::new();
    let gpu = GPU.get_or_init(|| {
        let gpu = GpuOptions::from_env().and_then(|o| Gpu::with_options(&o));
        Arc::new(gpu.expect("node tests need an adapter"))
    });
    let config = SessionConfig {
        shared_gpu: Some(gpu.clone()),
        ..Default::default()
    };
    DynamicSession::from_onnx_bytes(bytes, &config).map_err(|e| format!("import: {e}"))
}

/// Compares one output; `Err` says how it differs.
fn compare(what: &str, got: &Tensor, want: &Recorded) -> Result<(), String> {
    if got.shape() != want.shape.as_slice() {
        return Err(format!(
            "{what}: shape {:?}, expected {:?}",
            got.shape(),
            want.shape
        ));
    }
    let mut bad = 0usize;
    let mut first = None;
    for (i, (&g, &w)) in got.data().iter().zip(&want.data).enumerate() {
        let g = f64::from(g);
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() || want.integer {
            g == w
        } else {
            (g - w).abs() <= ATOL + RTOL * w.abs()
        };
        if !ok {
            bad += 1;
            first.get_or_insert((i, g, w));
        }
    }
    match first {
        None => Ok(()),
        Some((i, g, w)) => Err(format!(
            "{what}: {bad} of {} elements differ, first [{i}] got {g} expected {w}",
            want.data.len()
        )),
    }
}

/// Runs every data set of the test in `dir`; `Err` is the reason it fails.
pub fn run(dir: &Path) -> Result<(), String> {
    let bytes = std::fs::read(dir.join("model.onnx")).map_err(|e| e.to_string())?;
    let model = ModelProto::decode(&bytes[..]).map_err(|e| e.to_string())?;
    let graph = model.graph.as_ref().ok_or("model has no graph")?;
    let sets = data_sets(dir);
    if sets.is_empty() {
        return Err("no test_data_set_*".into());
    }
    let session = session(&bytes)?;
    for set in sets {
        let inputs = numbered(&set, "input")
            .iter()
            .map(|p| read_pb(p))
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = numbered(&set, "output")
            .iter()
            .map(|p| read_pb(p))
            .collect::<Result<Vec<_>, _>>()?;
        if inputs.len() != graph.input.len() || outputs.len() != graph.output.len() {
            return Err(format!(
                "data set has {} inputs / {} outputs, the graph {} / {}",
                inputs.len(),
                outputs.len(),
                graph.input.len(),
                graph.output.len()
            ));
        }
        let tensors: Vec<Tensor> = inputs.iter().map(to_tensor).collect();
        let feed: Vec<(&str, &Tensor)> = graph
            .input
            .iter()
            .map(|vi| vi.name())
            .zip(&tensors)
            .collect();
        let got = session.run_named(&feed).map_err(|e| format!("run: {e}"))?;
        for (vi, want) in graph.output.iter().zip(&outputs) {
            let name = vi.name();
            let (_, t) = got
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| format!("output {name:?} ({}) not returned", want.name))?;
            compare(&format!("output {name:?}"), t, want)?;
        }
    }
    Ok(())
}

//! Running one node test: its model imported with the data set's inputs, a session on the test
//! GPU, every output compared with the recorded one.

use std::path::{Path, PathBuf};

use prost::Message;
use wgconv::onnx::proto::{
    GraphProto, ModelProto, TensorProto, tensor_proto::DataType, type_proto,
};
use wgconv::onnx::{ConstData, ImportOptions, decode_tensor, import_bytes};
use wgconv::session::Session;
use wgconv::tensor::Tensor;

use crate::common::gpu;

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

/// Float inputs given at import, as `ImportOptions::constants`: operands that fix an output
/// shape or a kernel constant rather than weights (Resize's roi and scales, Upsample's
/// scales, Pad's value, Dropout's ratio). Every other float input, weights included, is fed at
/// run time; int64 inputs (shape-like values the importer folds) are constants.
const IMPORT_OPERANDS: &[(&str, usize)] = &[
    ("Resize", 1),
    ("Resize", 2),
    ("Upsample", 1),
    ("Pad", 2),
    ("Dropout", 1),
];

fn import_operand(graph: &GraphProto, name: &str) -> bool {
    graph.node.iter().any(|n| {
        IMPORT_OPERANDS
            .iter()
            .any(|&(op, i)| n.op_type() == op && n.input.get(i).is_some_and(|x| x == name))
    })
}

struct Outcome {
    session: Session<'static>,
    runtime: Vec<(String, Tensor)>,
}

fn prepare(bytes: &[u8], model: &ModelProto, inputs: &[Recorded]) -> Result<Outcome, String> {
    let graph = model.graph.as_ref().expect("graph");
    let mut opts = ImportOptions::default();
    let mut runtime = Vec::new();
    for (vi, r) in graph.input.iter().zip(inputs) {
        let name = vi.name().to_string();
        let int64 = matches!(
            vi.r#type.as_ref().and_then(|t| t.value.as_ref()),
            Some(type_proto::Value::TensorType(t)) if t.elem_type() == DataType::Int64 as i32
        );
        let t = to_tensor(r);
        if int64 || import_operand(graph, &name) {
            opts.constants.insert(name, t);
        } else {
            opts.input_shapes.insert(name.clone(), r.shape.clone());
            runtime.push((name, t));
        }
    }
    let g = import_bytes(bytes, &opts).map_err(|e| format!("import: {e}"))?;
    // The session lives as long as the test GPU, which is static.
    let session = Session::new(gpu(), &g).map_err(|e| format!("session: {e}"))?;
    Ok(Outcome { session, runtime })
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
        let prepared = prepare(&bytes, &model, &inputs)?;
        let feed: Vec<(&str, &Tensor)> = prepared
            .runtime
            .iter()
            .map(|(n, t)| (n.as_str(), t))
            .collect();
        let got = prepared
            .session
            .run_named(&feed)
            .map_err(|e| format!("run: {e}"))?;
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

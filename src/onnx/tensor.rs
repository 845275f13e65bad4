//! ONNX `TensorProto` to host data: raw_data or typed fields, external data files, and the
//! element types CNN models use (float, double, float16, int32, int64, bool, int8, uint8).

use std::path::Path;

use super::proto::{TensorProto, tensor_proto::DataLocation, tensor_proto::DataType};
use crate::error::{Error, Result};
use crate::tensor::numel;

/// A constant known at import time: weights, and the integer tensors of shape computations.
#[derive(Clone, Debug, PartialEq)]
pub struct Const {
    /// Shape.
    pub shape: Vec<usize>,
    /// Elements.
    pub data: ConstData,
}

/// Element storage of a [`Const`].
#[derive(Clone, Debug, PartialEq)]
pub enum ConstData {
    /// Floating point (float, double and float16 are all held as f32).
    F32(Vec<f32>),
    /// Integers and booleans.
    I64(Vec<i64>),
}

impl Const {
    /// A float constant.
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self {
            shape,
            data: ConstData::F32(data),
        }
    }

    /// An integer constant.
    pub fn i64(shape: Vec<usize>, data: Vec<i64>) -> Self {
        Self {
            shape,
            data: ConstData::I64(data),
        }
    }

    /// Elements as f32.
    pub fn as_f32(&self) -> Vec<f32> {
        match &self.data {
            ConstData::F32(v) => v.clone(),
            ConstData::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// Elements as i64 (floats truncated toward zero, as ONNX Cast does).
    pub fn as_i64(&self) -> Vec<i64> {
        match &self.data {
            ConstData::F32(v) => v.iter().map(|&x| x as i64).collect(),
            ConstData::I64(v) => v.clone(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        numel(&self.shape)
    }

    /// True when it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// As a host tensor of f32.
    pub fn to_tensor(&self) -> crate::tensor::Tensor {
        crate::tensor::Tensor::new(self.shape.clone(), self.as_f32())
            .expect("const shape matches data")
    }
}

/// A tensor whose encoding is broken.
fn bad(name: &str, msg: impl Into<String>) -> Error {
    Error::MalformedModel {
        what: msg.into(),
        location: format!("ONNX tensor {name:?}"),
        source: None,
    }
}

fn read_external(t: &TensorProto, base: Option<&Path>) -> Result<Vec<u8>> {
    let name = t.name();
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for kv in &t.external_data {
        match kv.key() {
            "location" => location = Some(kv.value().to_string()),
            "offset" => {
                offset = kv
                    .value()
                    .parse()
                    .map_err(|_| bad(name, format!("bad external offset {:?}", kv.value())))?
            }
            "length" => {
                length = Some(
                    kv.value()
                        .parse::<u64>()
                        .map_err(|_| bad(name, format!("bad external length {:?}", kv.value())))?,
                )
            }
            _ => {}
        }
    }
    let location = location.ok_or_else(|| bad(name, "external data without a location"))?;
    let rel = Path::new(&location);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(bad(
            name,
            format!(
                "external data location {location:?} must be a relative path inside the model's folder"
            ),
        ));
    }
    let base = base.ok_or_else(|| {
        bad(
            name,
            format!(
                "external data {location:?} needs the model's folder (load the model from a path)"
            ),
        )
    })?;
    let path = base.join(rel);
    let bytes = std::fs::read(&path).map_err(Error::io("reading external data of", &path))?;
    let start = offset as usize;
    let end = match length {
        Some(l) => start
            .checked_add(l as usize)
            .ok_or_else(|| bad(name, "external data range overflows"))?,
        None => bytes.len(),
    };
    if start > end || end > bytes.len() {
        return Err(bad(
            name,
            format!(
                "external data range {start}..{end} is outside {} ({} bytes)",
                path.display(),
                bytes.len()
            ),
        ));
    }
    Ok(bytes[start..end].to_vec())
}

fn le_chunks<const N: usize>(raw: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    raw.chunks_exact(N)
        .map(|c| c.try_into().expect("exact chunk"))
}

/// Decodes a tensor. `base` is the model's folder, for external data.
pub fn decode(t: &TensorProto, base: Option<&Path>) -> Result<Const> {
    let name = t.name();
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| bad(name, format!("negative dimension in {:?}", t.dims)))
        })
        .collect::<Result<_>>()?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(name, format!("shape {shape:?} overflows")))?;
    let external = t.data_location == Some(DataLocation::External as i32);
    let raw: Option<Vec<u8>> = if external {
        Some(read_external(t, base)?)
    } else {
        t.raw_data.clone().filter(|r| !r.is_empty() || n == 0)
    };
    let dt = DataType::try_from(t.data_type()).unwrap_or(DataType::Undefined);
    let data = match (dt, raw) {
        (DataType::Float, Some(r)) => {
            ConstData::F32(le_chunks::<4>(&r).map(f32::from_le_bytes).collect())
        }
        (DataType::Float, None) => ConstData::F32(t.float_data.clone()),
        (DataType::Double, Some(r)) => ConstData::F32(
            le_chunks::<8>(&r)
                .map(|b| f64::from_le_bytes(b) as f32)
                .collect(),
        ),
        (DataType::Double, None) => {
            ConstData::F32(t.double_data.iter().map(|&x| x as f32).collect())
        }
        (DataType::Float16, Some(r)) => ConstData::F32(
            le_chunks::<2>(&r)
                .map(|b| half::f16::from_le_bytes(b).to_f32())
                .collect(),
        ),
        // float16 in typed form: the bits are stored in int32_data.
        (DataType::Float16, None) => ConstData::F32(
            t.int32_data
                .iter()
                .map(|&x| half::f16::from_bits(x as u16).to_f32())
                .collect(),
        ),
        (DataType::Int64, Some(r)) => {
            ConstData::I64(le_chunks::<8>(&r).map(i64::from_le_bytes).collect())
        }
        (DataType::Int64, None) => ConstData::I64(t.int64_data.clone()),
        (DataType::Int32, Some(r)) => ConstData::I64(
            le_chunks::<4>(&r)
                .map(|b| i32::from_le_bytes(b) as i64)
                .collect(),
        ),
        (
            DataType::Int32
            | DataType::Int16
            | DataType::Int8
            | DataType::Uint8
            | DataType::Uint16
            | DataType::Bool,
            None,
        ) => ConstData::I64(t.int32_data.iter().map(|&x| x as i64).collect()),
        (DataType::Int8, Some(r)) => ConstData::I64(r.iter().map(|&b| b as i8 as i64).collect()),
        (DataType::Uint8 | DataType::Bool, Some(r)) => {
            ConstData::I64(r.iter().map(|&b| b as i64).collect())
        }
        (DataType::Int16, Some(r)) => ConstData::I64(
            le_chunks::<2>(&r)
                .map(|b| i16::from_le_bytes(b) as i64)
                .collect(),
        ),
        (DataType::Uint16, Some(r)) => ConstData::I64(
            le_chunks::<2>(&r)
                .map(|b| u16::from_le_bytes(b) as i64)
                .collect(),
        ),
        _ => {
            let why = unsupported_type(t.data_type())
                .unwrap_or_else(|| "element type not readable in this form".into());
            return Err(Error::invalid_op(format!("ONNX tensor {name:?}"), why));
        }
    };
    let len = match &data {
        ConstData::F32(v) => v.len(),
        ConstData::I64(v) => v.len(),
    };
    if len != n {
        return Err(bad(
            name,
            format!("shape {shape:?} needs {n} elements, the data holds {len}"),
        ));
    }
    Ok(Const { shape, data })
}

/// Why element type `dt` (a `TensorProto.DataType`) cannot be read, or `None` when it can.
/// The narrow types of opsets 19-25 (float8, int4, uint4, float4, ...) are packed and scaled
/// differently from every type here, so they are refused rather than misread.
pub fn unsupported_type(dt: i32) -> Option<String> {
    use DataType as T;
    match DataType::try_from(dt) {
        Ok(
            T::Float
            | T::Double
            | T::Float16
            | T::Int64
            | T::Int32
            | T::Int16
            | T::Int8
            | T::Uint16
            | T::Uint8
            | T::Bool,
        ) => None,
        Ok(t) => Some(format!(
            "element type {} is not supported (float, double, float16, int8-64, uint8/16, bool are)",
            t.as_str_name()
        )),
        Err(_) => Some(format!("element type {dt} is unknown")),
    }
}

//! Tensors to and from NumPy `.npy` files (through the `npyz` crate). Reading accepts float32,
//! float64, int64 and int32 arrays and converts them to f32; writing produces float32.

use std::path::Path;

use npyz::WriterBuilder;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

fn err(origin: &str, reason: impl ToString) -> Error {
    Error::InvalidSetting {
        name: "npy",
        value: origin.to_string(),
        reason: reason.to_string(),
    }
}

/// Decodes `.npy` bytes; `origin` names the source in errors.
pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Tensor> {
    let open = || npyz::NpyFile::new(bytes).map_err(|e| err(origin, e));
    let npy = open()?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let descr = npy.dtype().descr();
    let data: Vec<f32> = match descr.trim_matches('\'').trim_start_matches(['<', '|', '=']) {
        "f4" => open()?.into_vec::<f32>().map_err(|e| err(origin, e))?,
        "f8" => open()?
            .into_vec::<f64>()
            .map_err(|e| err(origin, e))?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        "i8" => open()?
            .into_vec::<i64>()
            .map_err(|e| err(origin, e))?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        "i4" => open()?
            .into_vec::<i32>()
            .map_err(|e| err(origin, e))?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        other => {
            return Err(err(
                origin,
                format!("dtype {other:?} is not supported (float32, float64, int64, int32 are)"),
            ));
        }
    };
    Tensor::new(shape, data)
}

/// Reads a `.npy` file.
pub fn read(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path).map_err(Error::io("reading", path))?;
    from_bytes(&bytes, &path.display().to_string())
}

/// Encodes a tensor as float32 `.npy` bytes.
pub fn to_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let shape: Vec<u64> = t.shape().iter().map(|&d| d as u64).collect();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&shape)
        .writer(&mut out)
        .begin_nd()
        .map_err(|e| err("npy writer", e))?;
    w.extend(t.data().iter().copied())
        .map_err(|e| err("npy writer", e))?;
    w.finish().map_err(|e| err("npy writer", e))?;
    Ok(out)
}

/// Writes a float32 `.npy` file.
pub fn write(path: &Path, t: &Tensor) -> Result<()> {
    let bytes = to_bytes(t)?;
    std::fs::write(path, bytes).map_err(Error::io("writing", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = Tensor::random(vec![2, 3, 4], 1);
        let back = from_bytes(&to_bytes(&t).unwrap(), "mem").unwrap();
        assert_eq!(back, t);
        assert!(from_bytes(b"not a npy file", "mem").is_err());
    }
}

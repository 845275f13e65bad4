//! Storage and accumulation precision of a device context (`shader-f16`).
//!
//! Every kernel is written once against two WGSL aliases declared by a prelude that
//! `crate::shaders::Shader::source` picks at run time: `Elem`, the type of every activation and
//! weight in storage buffers, and `Acc`, the type GEMM-like kernels multiply and accumulate in
//! (and the type of their workgroup-memory tiles). Activations, epilogue math, NaN bit tests and
//! uniform scalars stay f32 and convert at the edges, so the public API stays f32: inputs and
//! weights are rounded to f16 on upload and outputs widened back to f32 on readback.
//!
//! f16's largest finite value is 65504: an input, weight or intermediate result whose magnitude
//! rounds beyond it is stored as an infinity of its sign (the host's conversion rounds to
//! nearest; WGSL requires conversions of values at or beyond 2^16 to give the infinity), and
//! NaN stays NaN.

use crate::error::{Error, Result};

/// Storage type of tensors on the device and accumulation type of the kernels.
///
/// ```
/// use wgconv::{Error, Precision};
///
/// let p: Precision = "f16-acc32".parse()?;
/// assert_eq!(p, Precision::F16AccF32);
/// assert!(p.is_f16() && !p.accumulates_in_f16());
/// // What upload and readback do to host values: 1/3 rounded to f16's 11-bit mantissa.
/// let bytes = p.encode(&[1.0 / 3.0, 2.0]);
/// assert_eq!(bytes.len(), 2 * p.elem_bytes());
/// assert_eq!(p.decode(&bytes, 2), [p.round(1.0 / 3.0), 2.0]);
/// assert_eq!(p.round(1.0 / 3.0), 0.33325195);
/// assert!(matches!(Precision::parse("f64"), Err(Error::InvalidSetting { .. })));
/// # Ok::<(), wgconv::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Precision {
    /// f32 storage, f32 accumulation (every device).
    #[default]
    F32,
    /// f16 storage, f16 accumulation (needs `wgpu::Features::SHADER_F16`): half the memory
    /// traffic and, on GPUs with fast f16 ALUs, twice the FMA rate.
    F16,
    /// f16 storage, f32 accumulation (needs `SHADER_F16`): f16's bandwidth with f32's sums.
    F16AccF32,
}

impl Precision {
    /// Every precision.
    pub const ALL: [Precision; 3] = [Precision::F32, Precision::F16, Precision::F16AccF32];

    /// The name used by the CLI and in reports (`f32`, `f16`, `f16-acc32`).
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::F16AccF32 => "f16-acc32",
        }
    }

    /// Parses [`Precision::name`].
    pub fn parse(s: &str) -> Result<Self> {
        Precision::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::InvalidSetting {
                name: "precision",
                value: s.to_string(),
                reason: "expected f32, f16 or f16-acc32".into(),
            })
    }

    /// True when tensors are stored as f16 (the device needs `SHADER_F16`).
    pub fn is_f16(self) -> bool {
        self != Precision::F32
    }

    /// True when kernels accumulate in f16.
    pub fn accumulates_in_f16(self) -> bool {
        self == Precision::F16
    }

    /// Bytes per stored element.
    pub fn elem_bytes(self) -> usize {
        if self.is_f16() { 2 } else { 4 }
    }

    /// Bytes per accumulator element (workgroup-memory tiles hold accumulators).
    pub fn acc_bytes(self) -> usize {
        if self.accumulates_in_f16() { 2 } else { 4 }
    }

    /// Bytes a buffer holding `n` elements needs: at least 4, and a multiple of 4 (WebGPU
    /// copies and storage bindings are in 4-byte units, so an odd count of f16 is padded).
    pub fn buffer_bytes(self, n: usize) -> u64 {
        ((n.max(1) * self.elem_bytes()) as u64).div_ceil(4) * 4
    }

    /// Unit roundoff of the storage type: 2^-24 for f32, 2^-11 for f16 (round to nearest).
    pub fn storage_roundoff(self) -> f64 {
        if self.is_f16() {
            F16_UNIT_ROUNDOFF
        } else {
            F32_UNIT_ROUNDOFF
        }
    }

    /// Unit roundoff of the accumulation type.
    pub fn acc_roundoff(self) -> f64 {
        if self.accumulates_in_f16() {
            F16_UNIT_ROUNDOFF
        } else {
            F32_UNIT_ROUNDOFF
        }
    }

    /// `data` as the device stores it, little-endian, padded to a multiple of 4 bytes.
    pub fn encode(self, data: &[f32]) -> Vec<u8> {
        let mut bytes: Vec<u8> = if self.is_f16() {
            data.iter()
                .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
                .collect()
        } else {
            bytemuck::cast_slice(data).to_vec()
        };
        bytes.resize(bytes.len().div_ceil(4).max(1) * 4, 0);
        bytes
    }

    /// The first `n` elements of device bytes `bytes`, widened to f32.
    pub fn decode(self, bytes: &[u8], n: usize) -> Vec<f32> {
        if self.is_f16() {
            bytes[..n * 2]
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect()
        } else {
            bytemuck::pod_collect_to_vec(&bytes[..n * 4])
        }
    }

    /// `x` after a round trip through the storage type (what the device sees of a host value).
    pub fn round(self, x: f32) -> f32 {
        if self.is_f16() {
            half::f16::from_f32(x).to_f32()
        } else {
            x
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Precision::parse(s)
    }
}

/// Unit roundoff of f16 (11-bit significand, round to nearest): 2^-11.
pub const F16_UNIT_ROUNDOFF: f64 = 1.0 / 2048.0;
/// Unit roundoff of f32 (24-bit significand, round to nearest): 2^-24.
pub const F32_UNIT_ROUNDOFF: f64 = 1.0 / 16_777_216.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let xs = [1.0f32, -2.5, 1.0e-3, 65504.0, 1.0e5, f32::NAN];
        for p in Precision::ALL {
            let b = p.encode(&xs);
            assert_eq!(b.len() % 4, 0);
            assert_eq!(b.len() as u64, p.buffer_bytes(xs.len()));
            let back = p.decode(&b, xs.len());
            for (x, y) in xs.iter().zip(&back) {
                let want = p.round(*x);
                assert!(want.to_bits() == y.to_bits() || (want.is_nan() && y.is_nan()));
            }
        }
        // f16 overflow becomes infinity.
        assert_eq!(Precision::F16.round(1.0e5), f32::INFINITY);
        assert_eq!(Precision::F16.round(-7.0e4), f32::NEG_INFINITY);
        assert_eq!(Precision::F16.buffer_bytes(3), 8);
        assert_eq!(Precision::F32.buffer_bytes(0), 4);
        assert_eq!(Precision::parse("F16-ACC32").unwrap(), Precision::F16AccF32);
        assert!(Precision::parse("bf16").is_err());
    }
}

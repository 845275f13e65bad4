//! What tuned choices are remembered under: adapters, convolution shapes (bucketed), and the
//! candidate lists they were chosen from.

use crate::kernels::algorithm::ConvAlgorithm;
use crate::ops::ConvSpec;
use crate::precision::Precision;

/// The key of an adapter's entries: name, driver, driver info, backend.
pub fn adapter_key(info: &wgpu::AdapterInfo) -> String {
    format!(
        "{} | {} | {} | {:?}",
        info.name, info.driver, info.driver_info, info.backend
    )
}

fn dims(v: &[usize]) -> String {
    v.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// What a tuned choice is remembered under: a convolution's geometry (weight shape, kernel,
/// stride, both paddings, dilation, groups, whether a residual is read, precision) exactly, and
/// its batch and spatial extents bucketed up to powers of two, so that a new input size near a
/// tuned one reuses its choice instead of retuning (the fastest tiling depends on the extents'
/// magnitude, not on their exact values).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConvKey {
    spec: ConvSpec,
    /// `[N, C, *spatial]` with N and the spatial extents bucketed.
    input: Vec<usize>,
    weight: Vec<usize>,
    residual: bool,
    precision: Precision,
}

impl ConvKey {
    /// The key of a convolution of `input` and `weight` run in `precision`.
    pub fn new(
        spec: &ConvSpec,
        input: &[usize],
        weight: &[usize],
        residual: bool,
        precision: Precision,
    ) -> Self {
        let bucket = |(i, &d): (usize, &usize)| if i == 1 { d } else { d.next_power_of_two() };
        Self {
            spec: spec.clone(),
            input: input.iter().enumerate().map(bucket).collect(),
            weight: weight.to_vec(),
            residual,
            precision,
        }
    }

    /// The input shape the bucket stands for: its candidates' fingerprint is remembered with
    /// a choice, so that a release with other candidates retunes.
    pub fn bucket_input(&self) -> &[usize] {
        &self.input
    }
}

/// The cache file's text form. f32 keys carry no precision suffix (they are the keys of caches
/// written before precisions existed).
impl std::fmt::Display for ConvKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.spec;
        write!(
            f,
            "conv in={} w={} s={} p={}/{} d={} g={} res={}",
            dims(&self.input),
            dims(&self.weight),
            dims(&s.stride),
            dims(&s.pad_begin),
            dims(&s.pad_end),
            dims(&s.dilation),
            s.groups,
            self.residual as u8
        )?;
        match self.precision {
            Precision::F32 => Ok(()),
            p => write!(f, " precision={}", p.name()),
        }
    }
}

/// The text key of an f32 convolution ([`ConvKey`]).
pub fn conv_key(spec: &ConvSpec, input: &[usize], weight: &[usize], residual: bool) -> String {
    ConvKey::new(spec, input, weight, residual, Precision::F32).to_string()
}

/// A fingerprint of a candidate list (order-sensitive; the heuristic's place included).
pub fn fingerprint(candidates: &[ConvAlgorithm]) -> String {
    let text: Vec<String> = candidates.iter().map(|c| format!("{c:?}")).collect();
    format!(
        "{:016x}",
        crate::device::cache::fnv1a(text.join(";").as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_keys_separate_geometry() {
        let a = ConvSpec::new(&[3, 3]).pads(&[1, 1], &[1, 1]);
        let b = ConvSpec::new(&[3, 3]).pads(&[1, 1], &[0, 0]);
        let x = [1, 8, 16, 16];
        let w = [16, 8, 3, 3];
        assert_ne!(conv_key(&a, &x, &w, false), conv_key(&b, &x, &w, false));
        assert_ne!(conv_key(&a, &x, &w, false), conv_key(&a, &x, &w, true));
        assert_eq!(
            conv_key(&a, &x, &w, false),
            "conv in=1x8x16x16 w=16x8x3x3 s=1x1 p=1x1/1x1 d=1x1 g=1 res=0"
        );
        // Each precision has its own choices; f32's keys are the plain ones.
        let keys: Vec<String> = Precision::ALL
            .iter()
            .map(|&p| ConvKey::new(&a, &x, &w, false, p).to_string())
            .collect();
        assert_eq!(keys[0], conv_key(&a, &x, &w, false));
        assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2]);
        // Batch and spatial extents share a bucket up to the next power of two; channels and
        // the weight do not.
        let near = conv_key(&a, &[1, 8, 13, 9], &w, false);
        assert_eq!(near, conv_key(&a, &x, &w, false));
        assert_ne!(near, conv_key(&a, &[1, 8, 17, 9], &w, false));
        assert_ne!(near, conv_key(&a, &[2, 8, 16, 16], &w, false));
        assert_ne!(near, conv_key(&a, &[1, 9, 16, 16], &[16, 9, 3, 3], false));
    }
}

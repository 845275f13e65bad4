//! Self-checks of the fast convolution algorithms (split-K, Winograd, tensor cores; in every
//! precision a session uses): a path that CI cannot exercise on the adapter it will run on must test
//! itself there. Each (algorithm configuration, precision, shape class) runs once per device
//! on a small problem of the same class against the f64 CPU reference, under the bound the
//! test suite states for that algorithm; the result is kept by the device's [`Tuner`] so every
//! session on the device reuses it.
//!
//! The reference, not the plain GPU kernel, is the oracle: the bounds are stated against it,
//! so they apply unchanged (against another rounded result they would have to be summed).

use std::sync::Arc;

use crate::compare::{Comparison, F16Tolerance, Tolerance, compare, compare_f16};
use crate::device::Gpu;
use crate::error::Result;
use crate::kernels::algorithm::ConvAlgorithm;
use crate::kernels::winograd::{self, WINOGRAD_ERROR_FACTOR};
use crate::ops::{Activation, ConvSpec};
use crate::precision::Precision;
use crate::problem::{ConvData, ConvProblem};
use crate::tensor::Tensor;

use super::Tuner;

/// Channels per group of a check's problem at most: 64 covers every tile side the tilings
/// have (up to 64) while keeping the CPU reference to a few million multiply-adds.
const MAX_CHANNELS: usize = 64;
/// Output extent per spatial dimension at most (one more when the layer's is odd, so odd
/// edges such as Winograd's partial tiles stay odd).
const MAX_OUT: usize = 8;
/// Seed of a check's data.
const SEED: u64 = 0x5e1f;
/// Largest relative bound (`gamma`, a fraction of each output's sum of |terms|) a check may
/// have: f16 accumulation's bounds grow with K (Winograd's in F16 is infinite at K = 576), and
/// a bound near the sum itself would accept a missing output, so f16 checks halve their
/// channels until the bound is this tight (the kernels' index math is the same).
const MAX_GAMMA: f64 = 0.25;

/// True for the algorithms sessions check before use: those whose code paths differ from the
/// plain single-dispatch kernels (extra passes, scratch, transformed weights).
pub fn is_fast_path(a: &ConvAlgorithm) -> bool {
    matches!(
        a,
        ConvAlgorithm::SplitK { .. }
            | ConvAlgorithm::GemmSplitK { .. }
            | ConvAlgorithm::Winograd { .. }
            | ConvAlgorithm::WinogradFused
            | ConvAlgorithm::Coop(_)
    )
}

/// What a check is keyed by: the configuration, the precision, and the small problem (the
/// layer's geometry with its channels and map shrunk).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct CheckKey {
    algorithm: ConvAlgorithm,
    precision: Precision,
    spec: ConvSpec,
    input: Vec<usize>,
    out_channels: usize,
}

/// The outcome of one self-check.
#[derive(Clone, Debug)]
pub struct FastPathCheck {
    /// The configuration checked.
    pub algorithm: ConvAlgorithm,
    /// The precision it was checked in.
    pub precision: Precision,
    /// The small problem run (the layer's kernel, stride, dilation, padding and groups).
    pub problem: ConvProblem,
    /// The comparison with the CPU reference (`None` when the check could not run).
    pub comparison: Option<Comparison>,
    /// The bound, as `atol + rtol * |expected|` (for f16, the uniform form of the
    /// per-element bound at the problem's largest sum of |terms|).
    pub bound: Tolerance,
    /// Why it could not run (a device or kernel error), if so.
    pub error: Option<String>,
}

impl FastPathCheck {
    /// True when the algorithm computed the problem within its bound.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.comparison.as_ref().is_some_and(|c| c.passed())
    }

    /// The largest absolute error (NaN when the check could not run).
    pub fn max_abs(&self) -> f64 {
        self.comparison.as_ref().map_or(f64::NAN, |c| c.max_abs)
    }

    /// The algorithm's family name (`winograd`, `winograd-fused`, `split-k`, `gemm-split-k`,
    /// `tensor-cores`).
    pub fn family(&self) -> &'static str {
        match self.algorithm {
            ConvAlgorithm::Winograd { .. } => "winograd",
            ConvAlgorithm::WinogradFused => "winograd-fused",
            ConvAlgorithm::SplitK { .. } => "split-k",
            ConvAlgorithm::GemmSplitK { .. } => "gemm-split-k",
            ConvAlgorithm::Coop(_) => "tensor-cores",
            _ => "plain",
        }
    }

    /// The shape class: `kernel 3x3 stride 1x1 dilation 1x1 groups 1, [1, 64, 10, 10] -> 64`.
    pub fn shape(&self) -> String {
        let s = &self.problem.spec;
        let x = |v: &[usize]| {
            v.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("x")
        };
        format!(
            "kernel {} stride {} dilation {} groups {}, {:?} -> {}",
            x(&s.kernel),
            x(&s.stride),
            x(&s.dilation),
            s.groups,
            self.problem.input_shape,
            self.problem.out_channels
        )
    }
}

impl std::fmt::Display for FastPathCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({}): {:?}",
            self.family(),
            self.precision,
            self.shape(),
            self.algorithm
        )?;
        match (&self.error, &self.comparison) {
            (Some(e), _) => write!(f, ": could not run: {e}"),
            (None, Some(c)) => write!(
                f,
                ": {}, bound atol {:.2e} rtol {:.2e}",
                c, self.bound.atol, self.bound.rtol
            ),
            (None, None) => Ok(()),
        }
    }
}

/// The stated bound of `a` over `k` products in the f16 `precision` (f32's accumulation bound
/// is far below [`MAX_GAMMA`] at any K a check has). Tensor cores multiply f16 operands and
/// sum in f32 in every precision: f16-acc32's bound (its output rounding to f16 included,
/// which f32 storage only skips). The fused Winograd kernel rounds no more than the
/// three-pass one (`kernels::winograd_fused`): the same bound.
fn f16_bound(a: &ConvAlgorithm, k: usize, precision: Precision) -> F16Tolerance {
    match a {
        ConvAlgorithm::Winograd { .. } | ConvAlgorithm::WinogradFused => {
            winograd::f16_tolerance(k, precision)
        }
        ConvAlgorithm::Coop(_) => F16Tolerance::new(k, Precision::F16AccF32),
        _ => F16Tolerance::new(k, precision),
    }
}

/// The small problem checking `a` for a layer `spec` on `input` with `weight` in `precision`:
/// batch 1, at most [`MAX_CHANNELS`] input channels per group (fewer in f16 where the bound
/// needs it, [`MAX_GAMMA`]) and two groups, an output map of at most [`MAX_OUT`] (+1 when odd)
/// per dimension, with bias.
fn representative(
    a: &ConvAlgorithm,
    precision: Precision,
    spec: &ConvSpec,
    input: &[usize],
    weight: &[usize],
) -> ConvProblem {
    let groups = spec.groups.clamp(1, 2);
    let mut small = spec.clone();
    small.groups = groups;
    let taps = crate::tensor::numel(&spec.kernel);
    let mut c = (input[1] / spec.groups.max(1)).min(MAX_CHANNELS);
    while precision.is_f16() && c > 1 && f16_bound(a, c * taps, precision).gamma() > MAX_GAMMA {
        c /= 2;
    }
    let o = weight[0] / spec.groups.max(1);
    let mut shape = vec![1, groups * c];
    let out = spec.output_shape(input, weight).ok();
    for d in 0..spec.rank() {
        let full = input[2 + d];
        let Some(out) = out.as_ref().map(|o| o[2 + d]) else {
            shape.push(full);
            continue;
        };
        let want = out.min(MAX_OUT + out % 2);
        // The input extent giving `want` outputs (never more than the layer's own).
        let span = (want - 1) * spec.stride[d] + spec.dilation[d] * (spec.kernel[d] - 1) + 1;
        let pads = spec.pad_begin[d] + spec.pad_end[d];
        shape.push(span.saturating_sub(pads).clamp(1, full));
    }
    ConvProblem::new(small, &shape, groups * o.min(MAX_CHANNELS)).seed(SEED)
}

/// `t` with every element mapped through `f`.
fn map(t: &Tensor, f: impl Fn(f32) -> f32) -> Tensor {
    Tensor::new(t.shape().to_vec(), t.data().iter().map(|&x| f(x)).collect()).expect("same shape")
}

/// Runs `p` through `a` on `gpu` and compares it with the reference under the algorithm's
/// stated bound in `gpu`'s precision (the suite's: `tests/suite/{splitk,winograd}.rs`,
/// `tests/suite/f16/algorithms.rs`).
fn run_check(gpu: &Gpu, p: &ConvProblem, a: &ConvAlgorithm) -> Result<(Comparison, Tolerance)> {
    let precision = gpu.precision();
    let k = p.k();
    let wino = a.transforms_weights();
    let data = p.data()?;
    // Tensor cores round f32 operands to f16 too (the f32 opt-in).
    let f16_operands = precision.is_f16() || matches!(a, ConvAlgorithm::Coop(_));
    if !f16_operands {
        let tol = Tolerance::accumulation(if wino { WINOGRAD_ERROR_FACTOR * k } else { k });
        let got = p.launch(gpu, &data, a)?.run(gpu)?;
        let want = p.reference_on(&data)?;
        return Ok((compare(got.data(), want.data(), tol), tol));
    }
    // The reference runs on the operands as the device holds them (rounded to f16).
    let data: ConvData = data.map(|t| map(t, |x| Precision::F16.round(x)));
    let tol = f16_bound(a, k, precision);
    let got = p.launch(gpu, &data, a)?.run(gpu)?;
    let want = p.reference_on(&data)?;
    // Each output's sum of |terms|: the reference on absolute values (identity epilogue).
    let mut abs = p.clone();
    abs.act = Activation::Identity;
    let sums = abs.reference_on(&data.map(|t| map(t, f32::abs)))?;
    let max_sum = sums.data().iter().fold(0f64, |m, &s| m.max(s as f64));
    Ok((
        compare_f16(got.data(), want.data(), sums.data(), tol),
        tol.uniform(max_sum),
    ))
}

impl Tuner {
    /// The self-check of `algorithm` for a convolution `spec` on `input` with `weight`, in
    /// `gpu`'s precision: run on first use, then remembered for the device.
    pub fn fast_path_check(
        &self,
        gpu: &Gpu,
        algorithm: &ConvAlgorithm,
        spec: &ConvSpec,
        input: &[usize],
        weight: &[usize],
    ) -> Arc<FastPathCheck> {
        let problem = representative(algorithm, gpu.precision(), spec, input, weight);
        let key = CheckKey {
            algorithm: *algorithm,
            precision: gpu.precision(),
            spec: problem.spec.clone(),
            input: problem.input_shape.clone(),
            out_channels: problem.out_channels,
        };
        // Held while checking, so that concurrent builds run each check once.
        let mut checks = self.checks.lock().expect("self-check cache poisoned");
        if let Some(c) = checks.get(&key) {
            return c.clone();
        }
        let (comparison, bound, error) = match run_check(gpu, &problem, algorithm) {
            Ok((c, t)) => (Some(c), t, None),
            Err(e) => (
                None,
                Tolerance {
                    atol: f64::NAN,
                    rtol: f64::NAN,
                },
                Some(e.to_string()),
            ),
        };
        let check = Arc::new(FastPathCheck {
            algorithm: *algorithm,
            precision: gpu.precision(),
            problem,
            comparison,
            bound,
            error,
        });
        checks.insert(key, check.clone());
        check
    }

    /// Self-checks run on this device so far.
    pub fn fast_path_checks_run(&self) -> usize {
        self.checks.lock().expect("self-check cache poisoned").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn representatives_keep_the_geometry_and_shrink_the_rest() {
        // ResNet's 3x3 512 -> 512 layer at 7x7 (odd map), batch 8.
        let spec = ConvSpec::conv2d(3, 3).pad(1);
        let wino = ConvAlgorithm::Winograd {
            tile: 2,
            gemm: crate::kernels::matmul::GemmTiling::for_problem(64, 16),
        };
        let f32 = Precision::F32;
        let p = representative(&wino, f32, &spec, &[8, 512, 7, 7], &[512, 512, 3, 3]);
        assert_eq!(p.spec, spec);
        assert_eq!(p.input_shape, vec![1, 64, 7, 7]);
        assert_eq!(p.out_channels, 64);
        // A strided, dilated, grouped layer on a large map: 8 outputs per side, 2 groups.
        let spec = ConvSpec::conv2d(3, 3).stride(2).dilation(2).groups(4);
        let split = ConvAlgorithm::SplitK {
            tiling: crate::kernels::conv::ConvTiling::default(),
            splits: 4,
        };
        let p = representative(&split, f32, &spec, &[1, 400, 100, 100], &[200, 100, 3, 3]);
        assert_eq!(p.input_shape, vec![1, 128, 19, 19]);
        assert_eq!(p.out_channels, 100);
        assert_eq!(p.spec.groups, 2);
        assert_eq!(p.output_shape().unwrap(), vec![1, 100, 8, 8]);
        // Padding larger than the span: the map is at least one pixel.
        let spec = ConvSpec::conv2d(1, 1).pad(3);
        let p = representative(&split, f32, &spec, &[1, 8, 1, 1], &[8, 8, 1, 1]);
        assert_eq!(p.input_shape, vec![1, 8, 1, 1]);
    }

    #[test]
    fn tensor_core_checks_use_f32_sums_bound_in_every_precision() {
        let coop = ConvAlgorithm::Coop(crate::kernels::coop_conv::CoopTiling {
            subgroups_m: 2,
            subgroups_n: 2,
            tk: 32,
        });
        let acc32 = F16Tolerance::new(576, Precision::F16AccF32).gamma();
        for p in Precision::ALL {
            assert_eq!(f16_bound(&coop, 576, p).gamma(), acc32, "{p}");
        }
        // So an f16 session's check keeps all 64 channels (f16 sums would need 4).
        let spec = ConvSpec::conv2d(3, 3).pad(1);
        let r = representative(
            &coop,
            Precision::F16,
            &spec,
            &[1, 256, 16, 16],
            &[256, 256, 3, 3],
        );
        assert_eq!(r.in_channels(), 64);
    }

    #[test]
    fn f16_checks_keep_their_bound_informative() {
        let spec = ConvSpec::conv2d(3, 3).pad(1);
        let wino = ConvAlgorithm::Winograd {
            tile: 2,
            gemm: crate::kernels::matmul::GemmTiling::for_problem(64, 16),
        };
        let (x, w) = ([1, 256, 16, 16], [256, 256, 3, 3]);
        assert_eq!(
            representative(&wino, Precision::F32, &spec, &x, &w).in_channels(),
            64
        );
        for p in [Precision::F16, Precision::F16AccF32] {
            let r = representative(&wino, p, &spec, &x, &w);
            let gamma = f16_bound(&wino, r.k(), p).gamma();
            assert!(gamma <= MAX_GAMMA, "{p}: {r:?} gamma {gamma}");
            // Halving once more would not be needed: the largest such channel count.
            let c = r.in_channels();
            assert!(
                c == 64 || f16_bound(&wino, 2 * c * 9, p).gamma() > MAX_GAMMA,
                "{p}: {c}"
            );
        }
        // f16 accumulation's Winograd bound is infinite at 64 channels; at 4 it is 0.18.
        assert!(
            f16_bound(&wino, 64 * 9, Precision::F16)
                .gamma()
                .is_infinite()
        );
        assert_eq!(
            representative(&wino, Precision::F16, &spec, &x, &w).in_channels(),
            4
        );
    }
}

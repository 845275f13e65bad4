//! Comparing GPU results with the CPU reference: `|gpu - ref| <= atol + rtol * |ref|`.

use std::fmt;

use crate::precision::{F16_UNIT_ROUNDOFF, Precision};

/// An elementwise tolerance `|got - expected| <= atol + rtol * |expected|`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Absolute part.
    pub atol: f64,
    /// Relative part.
    pub rtol: f64,
}

impl Tolerance {
    /// For results that are one f32 operation (or one transcendental) away from exact: the
    /// reference is f64, WGSL's exp/tanh are specified to a few ULP, and our erf approximation
    /// to 1.5e-7, so 1e-5 relative (~80 ULP) with a 1e-6 floor near zero.
    pub fn elementwise() -> Self {
        Self {
            atol: 1e-6,
            rtol: 1e-5,
        }
    }

    /// For sums of `k` products of inputs in [-1, 1] (convolutions, GEMMs, averages of
    /// them). Rounding each of the k additions errs by at most eps/2 of the running sum, whose
    /// magnitude grows like a random walk; summed over k steps that is about k * eps * sigma
    /// with sigma <= 1/3 for products of U(-1, 1) values, so atol = 0.5 * k * eps gives a 1.5x
    /// margin independent of the summation order a kernel picks.
    pub fn accumulation(k: usize) -> Self {
        let eps = f32::EPSILON as f64;
        Self {
            atol: (0.5 * k as f64 * eps).max(1e-6),
            rtol: 1e-5,
        }
    }

    /// True if `got` is within tolerance of `expected` (NaN matches NaN, infinities must match).
    pub fn accepts(&self, got: f32, expected: f32) -> bool {
        if expected.is_nan() {
            return got.is_nan();
        }
        if expected.is_infinite() {
            return got == expected;
        }
        let (g, e) = (got as f64, expected as f64);
        (g - e).abs() <= self.atol + self.rtol * e.abs()
    }
}

/// The error bound of a kernel output computed from f16-stored operands ([`Precision::F16`] or
/// [`Precision::F16AccF32`]), checked by [`compare_f16`] element by element.
///
/// The reference is the f64 CPU reference run on the operands *after* rounding them to f16 (what
/// the device actually holds), so input rounding is not part of the error. What is left, for
/// an output `y = act(sum_{i<k} a_i b_i + bias + residual)` with `S = sum |a_i b_i| + |bias| +
/// |residual|` (the same reference run on absolute values):
///
/// - Accumulation: whatever the summation order (sequential, tiled, tree, split-K), recursive
///   summation of n terms in a type of unit roundoff `u_a` errs by at most
///   `gamma_n * sum |terms|`, `gamma_n = n u_a / (1 - n u_a)` (Higham, *Accuracy and Stability of
///   Numerical Algorithms*, 2nd ed., eq. 4.4 / Lemma 3.1); with the products rounded too (no
///   fused multiply-add) the chain is one step longer, so the bound takes n = k + 2 (k products,
///   plus bias and residual added in the f32 epilogue, whose own roundings at 2^-24 are far
///   below). `u_a` = 2^-11 for f16 accumulation, 2^-24 for f32 accumulation.
/// - Activation: every supported activation is Lipschitz with constant `slope` (1 for identity,
///   ReLU, clip, leaky ReLU, tanh; 0.25 sigmoid; about 1.1 for SiLU and GELU; 1.5 for
///   HardSwish's ramp), so it carries the sum's error times `slope`; its own f32 evaluation adds
///   [`Tolerance::elementwise`]'s `1e-6 + 1e-5 |y|`.
/// - Output rounding to f16: `u |y|` with u = 2^-11 (round to nearest), plus half the smallest
///   subnormal (2^-25) when `|y|` is below f16's normal range.
///
/// So `|got - y| <= u (|y| + e) + e + 1e-6 + 1e-5 |y| + 2^-24` with `e = slope * gamma_{k+2} * S`.
/// For data movement (copies, padding, nearest resize, max pooling) k = 0 and S = 0: the bound
/// is the output rounding alone, and since the values are already f16 the copy must be exact.
///
/// WGSL leaves the rounding mode of f16 arithmetic and conversion to the implementation
/// (round to nearest or toward zero, i.e. faithful rounding); this bound assumes round to
/// nearest, which Vulkan (lavapipe, NVIDIA, AMD, Intel) and Metal use. A truncating device
/// would need `u` doubled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct F16Tolerance {
    /// Products summed per output.
    pub k: usize,
    /// Unit roundoff of the accumulator ([`Precision::acc_roundoff`]).
    pub acc_roundoff: f64,
    /// Lipschitz constant of the epilogue's activation.
    pub slope: f64,
}

impl F16Tolerance {
    /// The bound for `k` products accumulated in `precision`'s accumulator, identity epilogue.
    pub fn new(k: usize, precision: Precision) -> Self {
        Self {
            k,
            acc_roundoff: precision.acc_roundoff(),
            slope: 1.0,
        }
    }

    /// The same bound behind an activation of Lipschitz constant `slope`.
    pub fn slope(mut self, slope: f64) -> Self {
        self.slope = slope;
        self
    }

    /// Data movement of f16 values: exact.
    pub fn exact() -> Self {
        Self {
            k: 0,
            acc_roundoff: 0.0,
            slope: 1.0,
        }
    }

    /// The bound as a uniform [`Tolerance`] for outputs whose absolute sums are at most
    /// `max_abs_sum` (each term of [`F16Tolerance::bound`] taken at that worst case; looser,
    /// but usable where one tolerance covers a whole tensor).
    pub fn uniform(&self, max_abs_sum: f64) -> Tolerance {
        if self.k == 0 {
            return Tolerance {
                atol: 0.0,
                rtol: 0.0,
            };
        }
        let e = self.slope * self.gamma() * max_abs_sum;
        Tolerance {
            atol: (1.0 + F16_UNIT_ROUNDOFF) * e + 1e-6 + 2f64.powi(-24),
            rtol: F16_UNIT_ROUNDOFF + 1e-5,
        }
    }

    /// `gamma_{k+2}` for the accumulator (infinite when `(k + 2) u_a >= 1`: no bound).
    pub fn gamma(&self) -> f64 {
        if self.k == 0 {
            return 0.0;
        }
        let nu = (self.k + 2) as f64 * self.acc_roundoff;
        if nu >= 1.0 {
            f64::INFINITY
        } else {
            nu / (1.0 - nu)
        }
    }

    /// The largest error allowed for an output whose exact value is `y` and whose terms'
    /// absolute values sum to `abs_sum`.
    pub fn bound(&self, y: f64, abs_sum: f64) -> f64 {
        let u = F16_UNIT_ROUNDOFF;
        let e = self.slope * self.gamma() * abs_sum;
        if self.k == 0 {
            // An f16 value copied: nothing to round.
            return 0.0;
        }
        u * (y.abs() + e) + e + 1e-6 + 1e-5 * y.abs() + 2f64.powi(-24)
    }

    /// True if `got` is within the bound of `expected` (NaN matches NaN, infinities must match).
    pub fn accepts(&self, got: f32, expected: f32, abs_sum: f32) -> bool {
        if expected.is_nan() {
            return got.is_nan();
        }
        if expected.is_infinite() {
            return got == expected;
        }
        (got as f64 - expected as f64).abs() <= self.bound(expected as f64, abs_sum as f64)
    }
}

/// Compares `got` with `expected` under an [`F16Tolerance`]; `abs_sums[i]` is output i's sum of
/// absolute terms (the reference run on absolute values of the operands).
pub fn compare_f16(
    got: &[f32],
    expected: &[f32],
    abs_sums: &[f32],
    tol: F16Tolerance,
) -> Comparison {
    let mut c = compare(
        got,
        expected,
        Tolerance {
            atol: 0.0,
            rtol: 0.0,
        },
    );
    if c.length_mismatch.is_some() {
        return c;
    }
    if abs_sums.len() != expected.len() {
        c.length_mismatch = Some((abs_sums.len(), expected.len()));
        return c;
    }
    c.bad = 0;
    c.first_bad = None;
    for (i, ((&g, &e), &s)) in got.iter().zip(expected).zip(abs_sums).enumerate() {
        if !tol.accepts(g, e, s) {
            c.bad += 1;
            if c.first_bad.is_none() {
                c.first_bad = Some((i, g, e));
            }
        }
    }
    c
}

/// The outcome of comparing two arrays.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    /// Elements compared.
    pub len: usize,
    /// Elements outside tolerance.
    pub bad: usize,
    /// First element outside tolerance: (index, got, expected).
    pub first_bad: Option<(usize, f32, f32)>,
    /// Largest |got - expected| over finite pairs.
    pub max_abs: f64,
    /// Largest |got - expected| / |expected| over finite pairs with expected != 0.
    pub max_rel: f64,
    /// Largest distance in units in the last place over finite pairs.
    pub max_ulp: u64,
    /// True when lengths differed (then nothing else is meaningful).
    pub length_mismatch: Option<(usize, usize)>,
}

impl Comparison {
    /// True when every element is within tolerance.
    pub fn passed(&self) -> bool {
        self.bad == 0 && self.length_mismatch.is_none()
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((g, e)) = self.length_mismatch {
            return write!(f, "length mismatch: got {g} elements, expected {e}");
        }
        write!(
            f,
            "{} of {} elements out of tolerance; max abs err {:.3e}, max rel err {:.3e}, max ulp {}",
            self.bad, self.len, self.max_abs, self.max_rel, self.max_ulp
        )?;
        if let Some((i, g, e)) = self.first_bad {
            write!(f, "; first bad index {i}: got {g}, expected {e}")?;
        }
        Ok(())
    }
}

/// Distance between two finite floats in units in the last place.
pub fn ulp_distance(a: f32, b: f32) -> u64 {
    // Map the sign-magnitude bit patterns onto a monotonic integer line.
    fn key(x: f32) -> i64 {
        let bits = x.to_bits() as i32;
        if bits < 0 {
            -((bits & 0x7fff_ffff) as i64)
        } else {
            bits as i64
        }
    }
    (key(a) - key(b)).unsigned_abs()
}

/// Compares `got` with `expected` elementwise.
pub fn compare(got: &[f32], expected: &[f32], tol: Tolerance) -> Comparison {
    let mut c = Comparison {
        len: expected.len(),
        ..Default::default()
    };
    if got.len() != expected.len() {
        c.length_mismatch = Some((got.len(), expected.len()));
        return c;
    }
    for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
        if g.is_finite() && e.is_finite() {
            let abs = (g as f64 - e as f64).abs();
            c.max_abs = c.max_abs.max(abs);
            if e != 0.0 {
                c.max_rel = c.max_rel.max(abs / (e as f64).abs());
            }
            c.max_ulp = c.max_ulp.max(ulp_distance(g, e));
        }
        if !tol.accepts(g, e) {
            c.bad += 1;
            if c.first_bad.is_none() {
                c.first_bad = Some((i, g, e));
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_and_reports_mismatch() {
        let c = compare(&[1.0, 2.0, 3.5], &[1.0, 2.0, 3.0], Tolerance::elementwise());
        assert!(!c.passed());
        assert_eq!(c.bad, 1);
        assert_eq!(c.first_bad, Some((2, 3.5, 3.0)));
        assert!((c.max_abs - 0.5).abs() < 1e-12);
        assert!(
            compare(&[1.0], &[1.0, 2.0], Tolerance::elementwise())
                .length_mismatch
                .is_some()
        );
        assert!(!compare(&[0.0], &[f32::NAN], Tolerance::elementwise()).passed());
        assert!(compare(&[f32::NAN], &[f32::NAN], Tolerance::elementwise()).passed());
    }

    #[test]
    fn f16_bound() {
        // Data movement: exact.
        let t = F16Tolerance::exact();
        assert!(t.accepts(1.5, 1.5, 0.0) && !t.accepts(1.5009766, 1.5, 0.0));
        // 10 f16 products summing |terms| to 4: gamma_12 ~ 12 / 2048.
        let t = F16Tolerance::new(10, Precision::F16);
        let g = t.gamma();
        assert!((g - 12.0 / 2036.0).abs() < 1e-12);
        let b = t.bound(1.0, 4.0);
        assert!(b > 4.0 * g && b < 4.0 * g * 1.01 + 2e-3);
        // f32 accumulation leaves the output rounding: about 2^-11 |y|.
        let t = F16Tolerance::new(10, Precision::F16AccF32);
        assert!((t.bound(1.0, 4.0) - 1.0 / 2048.0).abs() < 2e-5);
        let c = compare_f16(&[1.0, 2.0], &[1.0, 2.1], &[1.0, 1.0], t);
        assert_eq!(c.bad, 1);
        assert_eq!(c.first_bad, Some((1, 2.0, 2.1)));
    }

    #[test]
    fn ulps() {
        assert_eq!(ulp_distance(1.0, 1.0), 0);
        assert_eq!(ulp_distance(1.0, f32::from_bits(1.0f32.to_bits() + 3)), 3);
        assert_eq!(ulp_distance(-0.0, 0.0), 0);
        assert_eq!(ulp_distance(f32::from_bits(1), -f32::from_bits(1)), 2);
    }
}

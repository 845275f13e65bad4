//! Comparing GPU results with the CPU reference: `|gpu - ref| <= atol + rtol * |ref|`.

use std::fmt;

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
    fn ulps() {
        assert_eq!(ulp_distance(1.0, 1.0), 0);
        assert_eq!(ulp_distance(1.0, f32::from_bits(1.0f32.to_bits() + 3)), 3);
        assert_eq!(ulp_distance(-0.0, 0.0), 0);
        assert_eq!(ulp_distance(f32::from_bits(1), -f32::from_bits(1)), 2);
    }
}

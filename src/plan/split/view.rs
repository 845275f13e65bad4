//! [`View`]s, the dense boxes of stored tensors that chunks read and write, and [`boxes`],
//! which cuts a shape into boxes that fit.

use crate::plan::Store;
use crate::tensor::{numel, strides};

/// A box of a stored tensor: `dims` with element `strides`, starting `offset` elements after
/// the tensor's first element, which lies at byte `base` of `store`.
#[derive(Clone, Debug)]
pub(crate) struct View {
    pub store: Store,
    pub base: u64,
    pub offset: usize,
    pub dims: Vec<usize>,
    pub strides: Vec<usize>,
}

impl View {
    /// The whole tensor of `shape` at byte `base`.
    pub fn new(store: Store, base: u64, shape: &[usize]) -> Self {
        Self {
            store,
            base,
            offset: 0,
            dims: shape.to_vec(),
            strides: strides(shape),
        }
    }

    /// The box `[lo, hi)` of this view (one bound per dim).
    pub fn sub(&self, lo: &[usize], hi: &[usize]) -> Self {
        debug_assert!(lo.len() == self.dims.len() && hi.len() == self.dims.len());
        let offset = self.offset
            + lo.iter()
                .zip(&self.strides)
                .map(|(a, s)| a * s)
                .sum::<usize>();
        Self {
            offset,
            dims: lo.iter().zip(hi).map(|(a, b)| b - a).collect(),
            ..self.clone()
        }
    }

    /// The same elements seen with another dense shape (the view must be dense).
    pub fn reshaped(&self, shape: &[usize]) -> Self {
        debug_assert!(self.is_dense() && numel(shape) == self.numel());
        Self {
            dims: shape.to_vec(),
            strides: strides(shape),
            ..self.clone()
        }
    }

    pub fn numel(&self) -> usize {
        numel(&self.dims)
    }

    /// One past the last element touched, counted from the first.
    pub fn extent(&self) -> usize {
        if self.numel() == 0 {
            return 0;
        }
        1 + self
            .dims
            .iter()
            .zip(&self.strides)
            .map(|(d, s)| (d - 1) * s)
            .sum::<usize>()
    }

    /// True when the elements are contiguous in row-major order.
    pub fn is_dense(&self) -> bool {
        let mut expect = 1;
        for (&d, &s) in self.dims.iter().zip(&self.strides).rev() {
            if d == 1 {
                continue;
            }
            if s != expect {
                return false;
            }
            expect *= d;
        }
        true
    }

    pub(super) fn start_byte(&self, elem: u64) -> u64 {
        self.base + self.offset as u64 * elem
    }
}

/// A box `[lo, hi)` of a tensor.
pub(crate) type Bounds = (Vec<usize>, Vec<usize>);

/// Cuts `shape` into boxes that `fits`: a run of indices of dim `k` with every outer dim fixed
/// to one index and every inner dim whole, going one dim deeper only where a single index
/// does not fit (never deeper than `max_dim`). Dim `keep`, if any, is never cut (a softmax's
/// axis): boxes span it whole, so they are strided and get staged. Runs are rounded down to
/// multiples of `align_elems / gcd(inner, align_elems)` when that keeps at least half of the
/// run, so most chunks of the output start at aligned offsets. On failure returns the dim at
/// which a single index did not fit.
pub(crate) fn boxes(
    shape: &[usize],
    max_dim: usize,
    keep: Option<usize>,
    align_elems: usize,
    fits: &dyn Fn(&[usize], &[usize]) -> bool,
) -> std::result::Result<Vec<Bounds>, usize> {
    let mut out = Vec::new();
    if numel(shape) == 0 || fits(&vec![0; shape.len()], shape) {
        out.push((vec![0; shape.len()], shape.to_vec()));
        return Ok(out);
    }
    let cut = Cut {
        shape,
        max_dim,
        keep,
        align_elems,
        fits,
    };
    cut.rec(&[], &mut out)?;
    Ok(out)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

struct Cut<'a> {
    shape: &'a [usize],
    max_dim: usize,
    keep: Option<usize>,
    align_elems: usize,
    fits: &'a dyn Fn(&[usize], &[usize]) -> bool,
}

impl Cut<'_> {
    /// Boxes below `prefix` (the ranges of the outer dims).
    fn rec(
        &self,
        prefix: &[(usize, usize)],
        out: &mut Vec<Bounds>,
    ) -> std::result::Result<(), usize> {
        let shape = self.shape;
        let k = prefix.len();
        if k >= shape.len() || k > self.max_dim {
            return Err(k.saturating_sub(1));
        }
        if self.keep == Some(k) {
            let mut p = prefix.to_vec();
            p.push((0, shape[k]));
            return self.rec(&p, out);
        }
        let bounds = |a: usize, b: usize| -> Bounds {
            let mut lo: Vec<usize> = prefix.iter().map(|r| r.0).collect();
            let mut hi: Vec<usize> = prefix.iter().map(|r| r.1).collect();
            lo.push(a);
            hi.push(b);
            lo.extend(std::iter::repeat_n(0, shape.len() - k - 1));
            hi.extend_from_slice(&shape[k + 1..]);
            (lo, hi)
        };
        let d = shape[k];
        // Fits are translation-invariant (staging absorbs misalignment), so one search serves
        // every run.
        let (mut lo, mut hi) = (0, d);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let (a, b) = bounds(0, mid);
            if (self.fits)(&a, &b) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        if lo == 0 {
            for i in 0..d {
                let mut p = prefix.to_vec();
                p.push((i, i + 1));
                self.rec(&p, out).map_err(|e| e.max(k))?;
            }
            return Ok(());
        }
        let align_elems = self.align_elems;
        let inner = numel(&shape[k + 1..]).max(1);
        let unit = align_elems / gcd(inner, align_elems).max(1);
        let mut run = lo;
        if unit > 1 && run >= unit && run - run % unit >= run.div_ceil(2) {
            run -= run % unit;
        } else {
            // Balance the chunks instead.
            run = d.div_ceil(d.div_ceil(run));
        }
        let mut a = 0;
        while a < d {
            let b = (a + run).min(d);
            out.push(bounds(a, b));
            a = b;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_tile_the_shape_and_fit() {
        let shape = [3, 5, 7, 9];
        let fits = |lo: &[usize], hi: &[usize]| {
            lo.iter().zip(hi).map(|(a, b)| b - a).product::<usize>() <= 40
        };
        let bs = boxes(&shape, 3, None, 8, &fits).unwrap();
        let mut seen = vec![0u8; numel(&shape)];
        let st = strides(&shape);
        for (lo, hi) in &bs {
            assert!(fits(lo, hi));
            let v = View::new(Store::Params(0), 0, &shape).sub(lo, hi);
            assert!(v.is_dense(), "{lo:?}..{hi:?}");
            for i in 0..v.numel() {
                let mut rest = i;
                let mut off = v.offset;
                for (d, s) in v.dims.iter().zip(&st).rev() {
                    off += (rest % d) * s;
                    rest /= d;
                }
                seen[off] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
        // Nothing may be cut below dim 1: a [7, 9] plane of 63 elements does not fit.
        assert_eq!(boxes(&shape, 1, None, 8, &fits), Err(1));
    }
}

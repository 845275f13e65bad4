//! Host tensors (row-major, NCHW / NCDHW exactly like PyTorch).

use crate::error::{Error, Result};
use rand::{Rng, SeedableRng, rngs::StdRng};

/// A dense f32 tensor in host memory, row-major.
///
/// ```
/// use wgconv::{Error, Tensor};
///
/// let t = Tensor::new(vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0])?;
/// assert_eq!((t.shape(), t.numel()), (&[2, 3][..], 6));
/// let t = t.reshape(vec![3, 2])?;
/// assert_eq!(t.data()[2..4], [2.0, 3.0]); // row 1 of the new shape
/// // Seeded: the same seed gives the same tensor.
/// assert_eq!(Tensor::random(vec![4], 9), Tensor::random(vec![4], 9));
/// let err = Tensor::new(vec![2, 2], vec![1.0; 3]).unwrap_err();
/// assert!(matches!(err, Error::ShapeDataMismatch { expected: 4, actual: 3, .. }));
/// # Ok::<(), wgconv::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// Number of elements of a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Number of elements of a shape, or `None` when an f32 tensor of that shape could not exist
/// (its byte size, zero dims counted as one, overflows `isize`: the most any allocation or
/// buffer can hold). Shapes from
/// user input go through this before any size arithmetic.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    // Zero dims count as one for the bound, so every partial product of an accepted shape
    // (a row of `[0, H, W]`, strides) fits too.
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d.max(1)))
        .filter(|&n| n <= isize::MAX as usize / 4)?;
    Some(numel(shape))
}

/// Row-major strides of a shape, in elements.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

impl Tensor {
    /// A tensor from its shape and data; the lengths must agree.
    pub fn new(shape: impl Into<Vec<usize>>, data: Vec<f32>) -> Result<Self> {
        let shape = shape.into();
        let expected = numel(&shape);
        if expected != data.len() {
            return Err(Error::ShapeDataMismatch {
                shape,
                expected,
                actual: data.len(),
            });
        }
        Ok(Self { shape, data })
    }

    /// All zeros.
    pub fn zeros(shape: impl Into<Vec<usize>>) -> Self {
        let shape = shape.into();
        let n = numel(&shape);
        Self {
            shape,
            data: vec![0.0; n],
        }
    }

    /// Uniform values in `[-1, 1)` from a seeded generator (deterministic for a seed).
    pub fn random(shape: impl Into<Vec<usize>>, seed: u64) -> Self {
        Self::random_range(shape, seed, -1.0, 1.0)
    }

    /// Uniform values in `[lo, hi)` from a seeded generator.
    pub fn random_range(shape: impl Into<Vec<usize>>, seed: u64, lo: f32, hi: f32) -> Self {
        let shape = shape.into();
        let mut rng = StdRng::seed_from_u64(seed);
        let data = (0..numel(&shape))
            .map(|_| rng.random_range(lo..hi))
            .collect();
        Self { shape, data }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Mutable elements.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Consumes the tensor, returning its elements.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The same data under another shape with the same element count.
    pub fn reshape(mut self, shape: impl Into<Vec<usize>>) -> Result<Self> {
        let shape = shape.into();
        if numel(&shape) != self.data.len() {
            return Err(Error::ShapeDataMismatch {
                expected: numel(&shape),
                shape,
                actual: self.data.len(),
            });
        }
        self.shape = shape;
        Ok(self)
    }
}

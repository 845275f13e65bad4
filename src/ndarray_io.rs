//! `ndarray` inputs and outputs (feature `ndarray`), over [`Session::run_borrowed`].

use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn};

use crate::error::{Error, Result};
use crate::session::Session;

impl Session<'_> {
    /// [`Session::run_borrowed`] on `ndarray` views given by name; returns every output as an
    /// array, with its name. A view in standard layout (row-major and contiguous, as arrays
    /// are made) goes to the device straight from its memory; any other view (transposed,
    /// strided, a slice along an inner axis) is first copied into standard layout.
    ///
    /// ```
    /// # use wgconv::graph::Graph;
    /// use ndarray::{ArrayD, IxDyn};
    /// use wgconv::{Session, SessionConfig};
    /// # let mut g = Graph::new();
    /// # let x = g.input("x", &[2, 3]);
    /// # let y = g.relu(x)?;
    /// # g.output_named(y, "y");
    /// let session = Session::from_graph(&g, &SessionConfig::default().cache_dir(None))?;
    /// let a = ArrayD::from_shape_vec(IxDyn(&[3, 2]), vec![1.0, -2.0, 3.0, -4.0, 5.0, -6.0])
    ///     .expect("6 elements");
    /// // A transposed view: copied into standard layout before upload.
    /// let out = session.run_ndarray(&[("x", a.t())])?;
    /// assert_eq!(out[0].0, "y");
    /// assert_eq!(out[0].1, a.t().mapv(|v: f32| v.max(0.0)));
    /// # Ok::<(), wgconv::Error>(())
    /// ```
    pub fn run_ndarray(
        &self,
        inputs: &[(&str, ArrayViewD<'_, f32>)],
    ) -> Result<Vec<(String, ArrayD<f32>)>> {
        let standard: Vec<CowArray<'_, f32, IxDyn>> =
            inputs.iter().map(|(_, v)| v.as_standard_layout()).collect();
        let borrowed = inputs
            .iter()
            .zip(&standard)
            .map(|(&(name, _), a)| {
                let data = a.as_slice().ok_or_else(|| {
                    Error::invalid_op(
                        format!("session input {name:?}"),
                        "the array is not contiguous after conversion to standard layout",
                    )
                })?;
                Ok((name, data, a.shape()))
            })
            .collect::<Result<Vec<_>>>()?;
        self.run_borrowed(&borrowed)?
            .into_iter()
            .map(|(name, t)| {
                let shape = t.shape().to_vec();
                let array = ArrayD::from_shape_vec(IxDyn(&shape), t.into_data()).map_err(|e| {
                    Error::invalid_op(format!("session output {name:?}"), e.to_string())
                })?;
                Ok((name, array))
            })
            .collect()
    }
}

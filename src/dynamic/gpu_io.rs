//! Runs of a dynamic session on tensors that stay on the device ([`Session::run_gpu`] on the
//! plan of their signature).

use std::sync::atomic::Ordering;

use super::DynamicSession;
use super::inputs::{InputKind, InputView};
use crate::device::GpuTensor;
use crate::error::Result;
use crate::tensor::Tensor;

impl DynamicSession {
    /// Runs with inputs on the device given by name; returns every output, still on the
    /// device (stored in the session's precision), with its name. Data inputs go into the
    /// plan's buffers on the device (copied, or converted when stored in the other
    /// precision, as [`crate::Session::run_gpu_into`] does); inputs read on the host
    /// ([`InputKind::Host`]: shape-like and integer values, which choose the plan) are
    /// downloaded first.
    ///
    /// ```
    /// # use wgconv::graph::Graph;
    /// use wgconv::{DynamicSession, SessionConfig, Tensor};
    /// # let mut g = Graph::new();
    /// # let x = g.input("x", &[1, 2]);
    /// # let y = g.relu(x)?;
    /// # g.output_named(y, "y");
    /// let config = SessionConfig::default().cache_dir(None);
    /// let session = DynamicSession::from_graph(&g, &[("x", 1, "L")], &config)?;
    /// let gpu = session.gpu();
    /// let x = gpu.upload(&Tensor::new(vec![1, 5], vec![-2.0, -1.0, 0.0, 1.0, 2.0])?)?;
    /// let out = session.run_gpu_named(&[("x", &x)])?;
    /// assert_eq!(out[0].0, "y");
    /// assert_eq!(gpu.download(&out[0].1)?.data(), &[0.0, 0.0, 0.0, 1.0, 2.0]);
    /// # Ok::<(), wgconv::Error>(())
    /// ```
    pub fn run_gpu_named(&self, inputs: &[(&str, &GpuTensor)]) -> Result<Vec<(String, GpuTensor)>> {
        let ordered = self.order_by_name(inputs)?;
        let host = self
            .inputs
            .iter()
            .zip(&ordered)
            .map(|(info, t)| match info.kind {
                InputKind::Host => self.gpu.download(t).map(Some),
                InputKind::Float => Ok(None),
            })
            .collect::<Result<Vec<Option<Tensor>>>>()?;
        let views: Vec<InputView<'_>> = ordered
            .iter()
            .zip(&host)
            .map(|(t, h)| InputView {
                shape: t.shape(),
                host: h.as_ref(),
            })
            .collect();
        let session = self.plan_for_views(&views)?;
        let fed: Vec<(&str, &GpuTensor)> = self
            .inputs
            .iter()
            .zip(&ordered)
            .filter(|(info, _)| info.kind == InputKind::Float)
            .map(|(info, t)| (info.name.as_str(), *t))
            .collect();
        let out = session.run_gpu_named(&fed)?;
        self.runs.fetch_add(1, Ordering::Relaxed);
        Ok(out)
    }
}

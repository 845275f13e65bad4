//! Runs on tensors that stay on the device (like ONNX Runtime's I/O binding): inputs are
//! copied buffer to buffer into the plan's input regions, the forward pass runs, and the
//! outputs are copied into the caller's tensors, all in one submission. Nothing is written
//! from or read back to the host, and nothing waits for the GPU: reading an output
//! ([`Gpu::download`]) or running another session on it is ordered after the run by the queue.

use std::sync::atomic::Ordering;

use super::Session;
use crate::device::{Gpu, GpuTensor};
use crate::error::{Error, Result};
use crate::tensor::numel;

impl Session<'_> {
    /// Checks that `tensors` (inputs or outputs, as `what` says) have the planned shapes
    /// and the session's storage precision: the copies are byte for byte, so an f32 tensor
    /// cannot feed an f16 session (upload it through `gpu.with_precision(F16)` instead).
    fn check_gpu_tensors<'n>(
        &self,
        what: &str,
        tensors: &[&GpuTensor],
        planned: impl Iterator<Item = (&'n str, &'n [usize])>,
    ) -> Result<()> {
        for ((name, shape), t) in planned.zip(tensors) {
            let what = format!("session {what} {name:?} (a GPU tensor)");
            if t.shape() != shape {
                return Err(Error::ShapeMismatch {
                    what,
                    expected: shape.to_vec(),
                    got: t.shape().to_vec(),
                });
            }
            if t.precision() != self.precision {
                return Err(Error::DtypeMismatch {
                    what,
                    expected: self.precision.to_string(),
                    got: t.precision().to_string(),
                });
            }
        }
        Ok(())
    }

    fn check_gpu_inputs(&self, inputs: &[&GpuTensor]) -> Result<()> {
        self.check_input_shapes(inputs.iter().map(|t| t.shape()))?;
        self.check_gpu_tensors(
            "input",
            inputs,
            self.inputs
                .iter()
                .map(|(n, _, s)| (n.as_str(), s.as_slice())),
        )
    }

    /// Runs the graph on `inputs` (one per graph input, in order) already on this session's
    /// device, writing the outputs (one per graph output, in order) into `outputs`. Both must
    /// be stored in the session's precision ([`Session::precision`]) with the planned
    /// shapes; inputs need `COPY_SRC`, outputs `COPY_DST` (tensors from [`Gpu::upload`] and
    /// [`Gpu::zeros`] have both). One submission, no host copy, no wait.
    pub fn run_gpu_into(&self, inputs: &[&GpuTensor], outputs: &[&GpuTensor]) -> Result<()> {
        self.check_gpu_inputs(inputs)?;
        if outputs.len() != self.outputs.len() {
            return Err(Error::CountMismatch {
                what: "output",
                expected: self.outputs.len(),
                got: outputs.len(),
            });
        }
        let names = self.graph.output_names();
        self.check_gpu_tensors(
            "output",
            outputs,
            names
                .iter()
                .zip(&self.outputs)
                .map(|(n, (_, _, s))| (n.as_str(), s.as_slice())),
        )?;
        let _guard = pollster::block_on(self.lock_runs());
        let gpu: &Gpu = &self.gpu;
        gpu.scoped("session run on GPU tensors", || {
            let mut enc = gpu
                .device()
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wgconv session (GPU I/O)"),
                });
            for ((_, region, _), t) in self.inputs.iter().zip(inputs) {
                if numel(t.shape()) > 0 {
                    let arena = &self.arenas[region.buffer];
                    enc.copy_buffer_to_buffer(
                        t.buffer(),
                        t.offset(),
                        arena,
                        region.offset,
                        t.byte_size(),
                    );
                }
            }
            self.record_pass(&mut enc);
            for ((region, _, _), t) in self.outputs.iter().zip(outputs) {
                if numel(t.shape()) > 0 {
                    let arena = &self.arenas[region.buffer];
                    enc.copy_buffer_to_buffer(
                        arena,
                        region.offset,
                        t.buffer(),
                        t.offset(),
                        t.byte_size(),
                    );
                }
            }
            self.submit(enc);
        })?;
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// [`Session::run_gpu_into`] into new device tensors (one per graph output, in order,
    /// stored in the session's precision), which stay on the device until the caller
    /// downloads them or feeds them to another session.
    pub fn run_gpu(&self, inputs: &[&GpuTensor]) -> Result<Vec<GpuTensor>> {
        // Checked before allocating: a rejected run creates nothing.
        self.check_gpu_inputs(inputs)?;
        let outputs = self
            .outputs
            .iter()
            .map(|(_, _, shape)| self.gpu.zeros_in(shape, self.precision))
            .collect::<Result<Vec<_>>>()?;
        self.counters
            .buffers_created
            .fetch_add(outputs.len() as u64, Ordering::Relaxed);
        let refs: Vec<&GpuTensor> = outputs.iter().collect();
        self.run_gpu_into(inputs, &refs)?;
        Ok(outputs)
    }
}

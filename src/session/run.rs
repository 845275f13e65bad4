//! One forward pass: upload the inputs, record every dispatch, read the outputs back.

use std::sync::atomic::Ordering;

use super::Session;
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::tensor::{Tensor, numel};

impl Session<'_> {
    fn lock_runs(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        self.lock.lock().map_err(|_| {
            Error::invalid_op(
                "session",
                "a previous run panicked while holding the session",
            )
        })
    }

    fn check_inputs(&self, inputs: &[Tensor]) -> Result<()> {
        if inputs.len() != self.inputs.len() {
            return Err(Error::invalid_op(
                "session",
                format!(
                    "the graph has {} input(s), got {}",
                    self.inputs.len(),
                    inputs.len()
                ),
            ));
        }
        for ((name, _, shape), t) in self.inputs.iter().zip(inputs) {
            if t.shape() != shape.as_slice() {
                return Err(Error::invalid_op(
                    format!("session input {name:?}"),
                    format!("expects shape {shape:?}, got {:?}", t.shape()),
                ));
            }
        }
        Ok(())
    }

    /// Queues the writes of `inputs` into their buffers; returns the bytes written.
    fn queue_inputs(&self, inputs: &[Tensor]) -> u64 {
        let mut uploaded = 0;
        for ((_, region, _), t) in self.inputs.iter().zip(inputs) {
            if t.numel() > 0 {
                let bytes = self.precision.encode(t.data());
                self.gpu
                    .queue()
                    .write_buffer(&self.arenas[region.buffer], region.offset, &bytes);
                uploaded += bytes.len() as u64;
            }
        }
        self.counters
            .bytes_uploaded
            .fetch_add(uploaded, Ordering::Relaxed);
        uploaded
    }

    /// Writes `inputs` (one per graph input, in order) into the session's input buffers
    /// without running anything: with [`Session::record`], for timing the kernels alone.
    pub fn write_inputs(&self, inputs: &[Tensor]) -> Result<()> {
        let _guard = self.lock_runs()?;
        self.check_inputs(inputs)?;
        self.gpu
            .scoped("session input upload", || self.queue_inputs(inputs))?;
        Ok(())
    }

    /// Records every kernel launch of one forward pass, in order, into `pass`, reading the
    /// inputs last written by [`Session::write_inputs`] or [`Session::run`]. No upload, no
    /// readback, nothing created: the caller submits (benchmarks wrap the pass in GPU
    /// timestamps). The caller should not overlap this with runs from other threads: they
    /// share the activation buffers (the queue keeps it memory-safe, not meaningful).
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        for d in &self.dispatches {
            d.record(pass);
        }
        self.counters
            .dispatches
            .fetch_add(self.dispatches.len() as u64, Ordering::Relaxed);
    }

    /// Runs the graph on `inputs` (one per graph input, in order) and returns its outputs.
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let _guard = self.lock_runs()?;
        self.check_inputs(inputs)?;
        let gpu: &Gpu = &self.gpu;
        gpu.scoped("session run", || {
            self.queue_inputs(inputs);
            let mut enc = gpu
                .device()
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wgconv session"),
                });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("wgconv session"),
                    timestamp_writes: None,
                });
                for d in &self.dispatches {
                    d.record(&mut pass);
                }
            }
            for (region, off, shape) in &self.outputs {
                let bytes = self.precision.buffer_bytes(numel(shape));
                if numel(shape) > 0 {
                    enc.copy_buffer_to_buffer(
                        &self.arenas[region.buffer],
                        region.offset,
                        &self.readback,
                        *off,
                        bytes,
                    );
                }
            }
            gpu.queue().submit([enc.finish()]);
            let c = &self.counters;
            c.submits.fetch_add(1, Ordering::Relaxed);
            c.dispatches
                .fetch_add(self.dispatches.len() as u64, Ordering::Relaxed);
        })?;
        let all = gpu.map_and_read_bytes(&self.readback, self.readback_bytes)?;
        let mut out = Vec::with_capacity(self.outputs.len());
        let mut read = 0;
        for (_, off, shape) in &self.outputs {
            let n = numel(shape);
            let data = self.precision.decode(&all[*off as usize..], n);
            out.push(Tensor::new(shape.clone(), data)?);
            read += (n * self.precision.elem_bytes()) as u64;
        }
        self.counters
            .bytes_read_back
            .fetch_add(read, Ordering::Relaxed);
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
        Ok(out)
    }
}

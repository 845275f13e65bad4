//! One forward pass from host data: write the inputs, record every dispatch, read the outputs
//! back. (`gpu_io.rs` runs on tensors that stay on the device.)

use std::sync::atomic::Ordering;

use super::Session;
use super::gpu_io::record_conversions;
use super::host_data::HostData;
use crate::device::Gpu;
use crate::error::{Error, Result};
use crate::precision::Precision;
use crate::tensor::{Tensor, numel};

/// A host input as a run reads it: shape and elements, borrowed from the caller.
pub(crate) type HostInput<'a> = (&'a [usize], HostData<'a>);

impl Session<'_> {
    /// Waits until the runs before this one have submitted (they share the session's
    /// buffers; the queue orders their GPU work).
    pub(super) fn lock_runs(&self) -> futures_intrusive::sync::MutexLockFuture<'_, ()> {
        self.lock.lock()
    }

    /// Checks the count and shapes of the inputs (one per graph input, in order).
    pub(super) fn check_input_shapes<'s>(
        &self,
        shapes: impl ExactSizeIterator<Item = &'s [usize]>,
    ) -> Result<()> {
        if shapes.len() != self.inputs.len() {
            return Err(Error::CountMismatch {
                what: "input",
                expected: self.inputs.len(),
                got: shapes.len(),
            });
        }
        for ((name, _, shape), got) in self.inputs.iter().zip(shapes) {
            if got != shape.as_slice() {
                return Err(Error::ShapeMismatch {
                    what: format!("session input {name:?}"),
                    expected: shape.clone(),
                    got: got.to_vec(),
                });
            }
        }
        Ok(())
    }

    fn check_host_inputs(&self, inputs: &[HostInput<'_>]) -> Result<()> {
        for &(shape, data) in inputs {
            if numel(shape) != data.len() {
                return Err(Error::ShapeDataMismatch {
                    shape: shape.to_vec(),
                    expected: numel(shape),
                    actual: data.len(),
                });
            }
        }
        self.check_input_shapes(inputs.iter().map(|&(shape, _)| shape))
    }

    /// Queues the writes of `inputs` into their buffers; returns the bytes written. f32
    /// elements go from the caller's slice as they are, and so do f16 ones to f16 sessions
    /// (an odd count's last element padded); f32 ones are rounded to f16 into a new vector.
    /// Inputs the convert kernel widens are [`Session::stage_inputs`]'s.
    fn queue_inputs(&self, inputs: &[HostInput<'_>]) -> u64 {
        let mut uploaded = 0;
        for ((_, region, _), &(_, data)) in self.inputs.iter().zip(inputs) {
            if data.is_empty() {
                continue;
            }
            let target = &self.arenas[region.buffer];
            let mut write = |offset: u64, bytes: &[u8]| {
                self.gpu
                    .queue()
                    .write_buffer(target, region.offset + offset, bytes);
                uploaded += bytes.len() as u64;
            };
            match data {
                HostData::F32(d) if self.precision == Precision::F32 => {
                    write(0, bytemuck::cast_slice(d))
                }
                HostData::F32(d) => write(0, &self.precision.encode(d)),
                HostData::F16(d) if self.precision.is_f16() => {
                    let even = d.len() / 2 * 2;
                    if even > 0 {
                        write(0, bytemuck::cast_slice(&d[..even]));
                    }
                    if let Some(last) = d.get(even) {
                        let [a, b] = last.to_le_bytes();
                        write(2 * even as u64, &[a, b, 0, 0]);
                    }
                }
                HostData::F16(_) | HostData::U8(_) => {}
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
        let views: Vec<HostInput<'_>> = inputs
            .iter()
            .map(|t| (t.shape(), HostData::F32(t.data())))
            .collect();
        let _guard = pollster::block_on(self.lock_runs());
        self.check_host_inputs(&views)?;
        self.gpu
            .scoped("session input upload", || self.queue_inputs(&views))?;
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

    /// Records launch `index` alone (in [`Plan::launches`](crate::plan::Plan::launches)
    /// order) into `pass`: for profiling one launch at a time. The launches before it must
    /// have run for its inputs to mean anything.
    ///
    /// # Panics
    /// If `index` is not below [`Session::dispatch_count`].
    pub fn record_launch(&self, index: usize, pass: &mut wgpu::ComputePass<'_>) {
        self.dispatches[index].record(pass);
        self.counters.dispatches.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the forward pass as one compute pass of `enc`.
    pub(super) fn record_pass(&self, enc: &mut wgpu::CommandEncoder) {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("wgconv session"),
            timestamp_writes: None,
        });
        self.record(&mut pass);
    }

    /// Submits `enc` and counts the submission.
    pub(super) fn submit(&self, enc: wgpu::CommandEncoder) {
        self.gpu.queue().submit([enc.finish()]);
        self.counters.submits.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs the graph on `inputs` (one per graph input, in order) and returns its outputs
    /// ([`Session::run_async`] waited on).
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        pollster::block_on(self.run_async(inputs))
    }

    /// Runs the graph on `inputs` (one per graph input, in order); the future awaits the
    /// submission of the session's earlier runs (not their GPU work: several runs are in
    /// flight at once), the error scopes and the readback without blocking a thread (the
    /// device's polling thread completes the readback; no thread is started per run).
    ///
    /// ```
    /// # use wgconv::graph::Graph;
    /// # use wgconv::{Session, SessionConfig, Tensor};
    /// # let mut g = Graph::new();
    /// # let x = g.input("x", &[1, 4]);
    /// # let y = g.relu(x)?;
    /// # g.output(y);
    /// let session = Session::from_graph(&g, &SessionConfig::default().cache_dir(None))?;
    /// let x = Tensor::new(vec![1, 4], vec![-1.0, 2.0, -3.0, 4.0])?;
    /// // Any executor drives the future; pollster is the smallest.
    /// let y = pollster::block_on(session.run_async(&[x]))?;
    /// assert_eq!(y[0].data(), &[0.0, 2.0, 0.0, 4.0]);
    /// # Ok::<(), wgconv::Error>(())
    /// ```
    pub async fn run_async(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let views: Vec<HostInput<'_>> = inputs
            .iter()
            .map(|t| (t.shape(), HostData::F32(t.data())))
            .collect();
        self.run_host_async(&views).await
    }

    /// Runs the graph on borrowed host inputs (one per graph input, in order). The session's
    /// lock is held while the inputs are written and the pass recorded and submitted, not
    /// while the GPU runs it: the readback waits outside, in a buffer of this run's own.
    pub(crate) async fn run_host_async(&self, inputs: &[HostInput<'_>]) -> Result<Vec<Tensor>> {
        let gpu: &Gpu = &self.gpu;
        let readback = {
            let _guard = self.lock_runs().await;
            self.check_host_inputs(inputs)?;
            let (widen, _) = self.stage_inputs(inputs)?;
            let readback = self.readback.take(gpu, &self.counters)?;
            let submitted = gpu
                .scoped_async("session run", || {
                    self.queue_inputs(inputs);
                    let mut enc =
                        gpu.device()
                            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                                label: Some("wgconv session"),
                            });
                    record_conversions(&mut enc, widen.iter().map(|s| &s.widen));
                    self.record_pass(&mut enc);
                    for (region, off, shape) in &self.outputs {
                        let bytes = self.precision.buffer_bytes(numel(shape));
                        if numel(shape) > 0 {
                            enc.copy_buffer_to_buffer(
                                &self.arenas[region.buffer],
                                region.offset,
                                &readback,
                                *off,
                                bytes,
                            );
                        }
                    }
                    self.submit(enc);
                })
                .await;
            match submitted {
                Ok(()) => readback,
                Err(e) => {
                    self.readback.give_back(readback);
                    return Err(e);
                }
            }
        };
        // Each output decoded straight from the mapped readback buffer: one host copy.
        let read = gpu
            .map_and_read_async(&readback, self.readback.bytes(), |all| {
                self.outputs
                    .iter()
                    .map(|(_, off, shape)| {
                        let data = self.precision.decode(&all[*off as usize..], numel(shape));
                        Tensor::new(shape.clone(), data)
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .await;
        let out = match read {
            Ok(decoded) => {
                self.readback.give_back(readback);
                decoded?
            }
            Err(e) => {
                self.readback.discard(readback);
                return Err(e);
            }
        };
        let read: u64 = self
            .outputs
            .iter()
            .map(|(_, _, shape)| (numel(shape) * self.precision.elem_bytes()) as u64)
            .sum();
        self.counters
            .bytes_read_back
            .fetch_add(read, Ordering::Relaxed);
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
        Ok(out)
    }
}

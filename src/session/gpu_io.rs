//! Runs on tensors that stay on the device (like ONNX Runtime's I/O binding): inputs are
//! copied buffer to buffer into the plan's input regions, the forward pass runs, and the
//! outputs are copied into the caller's tensors, all in one submission. An input or output
//! stored in the other precision (an f32 tensor and an f16 session), and RGBA8 frames, go
//! through the convert kernel instead of a copy, still straight into or out of the session's
//! buffers. Nothing is written from or read back to the host, and nothing waits for the GPU:
//! reading an output ([`Gpu::download`]) or running another session on it is ordered after
//! the run by the queue.

use std::sync::atomic::Ordering;

use super::Session;
use crate::device::{Dispatch, Gpu, GpuTensor, Rgba8Frames};
use crate::error::{Error, Result};
use crate::kernels::convert::Convert;
use crate::ops::Rgba8Normalize;
use crate::precision::Precision;
use crate::tensor::numel;

/// One input of a run on the device ([`Session::run_gpu_inputs`]).
///
/// A camera frame fed straight into a model: the convert kernel writes the normalised
/// pixels into the session's input buffer.
///
/// ```
/// use wgpu::util::DeviceExt;
/// use wgconv::graph::Graph;
/// use wgconv::ops::Rgba8Normalize;
/// use wgconv::{GpuInput, Rgba8Frames, Session, SessionConfig};
///
/// let mut g = Graph::new();
/// let x = g.input("image", &[1, 3, 2, 2]);
/// let y = g.relu(x)?;
/// g.output(y);
/// let session = Session::from_graph(&g, &SessionConfig::default().cache_dir(None))?;
/// let gpu = session.gpu();
/// let pixels = [0xffff_ffffu32; 4]; // a white 2x2 frame
/// let buffer = gpu.device().create_buffer_init(&wgpu::util::BufferInitDescriptor {
///     label: Some("frame"),
///     contents: bytemuck::cast_slice(&pixels),
///     usage: wgpu::BufferUsages::STORAGE,
/// });
/// let frames = Rgba8Frames::from_buffer(buffer, 0, 1, 2, 2)?;
/// let norm = Rgba8Normalize::new([0.5; 3], [0.5; 3])?; // bytes to [-1, 1]
/// let y = session.run_gpu_inputs(&[GpuInput::Rgba8(&frames, &norm)])?;
/// assert_eq!(gpu.download(&y[0])?.data(), &[1.0; 12]);
/// # Ok::<(), wgconv::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub enum GpuInput<'a> {
    /// A tensor of the planned shape, stored in either precision (converted on the device
    /// when it differs from the session's).
    Tensor(&'a GpuTensor),
    /// RGBA8 frames normalised into the planned `[batch, 3, height, width]` input, written
    /// by the convert kernel straight into the session's input buffer (the prologue of a
    /// camera or video pipeline).
    Rgba8(&'a Rgba8Frames, &'a Rgba8Normalize),
}

impl GpuInput<'_> {
    fn shape(&self) -> Vec<usize> {
        match self {
            GpuInput::Tensor(t) => t.shape().to_vec(),
            GpuInput::Rgba8(f, norm) => {
                let [n, h, w] = f.dims();
                norm.out_dims(n, h, w).to_vec()
            }
        }
    }

    /// The conversion into `storage`, or `None` when a byte copy does.
    fn conversion(&self, storage: Precision) -> Option<Convert> {
        match self {
            GpuInput::Tensor(t) if t.precision().is_f16() == storage.is_f16() => None,
            GpuInput::Tensor(t) => Some(Convert::cast(t.precision(), storage, numel(t.shape()))),
            GpuInput::Rgba8(f, norm) => Some(f.convert(norm, storage)),
        }
    }

    fn start(&self) -> (&wgpu::Buffer, u64) {
        match self {
            GpuInput::Tensor(t) => (t.buffer(), t.offset()),
            GpuInput::Rgba8(f, _) => f.start(),
        }
    }
}

/// True when `t` holds the same bytes as session storage `p` would (f16 is f16 whatever
/// the accumulation).
fn same_storage(t: &GpuTensor, p: Precision) -> bool {
    t.precision().is_f16() == p.is_f16()
}

impl Session<'_> {
    fn check_gpu_inputs(&self, inputs: &[GpuInput<'_>]) -> Result<()> {
        let shapes: Vec<Vec<usize>> = inputs.iter().map(GpuInput::shape).collect();
        self.check_input_shapes(shapes.iter().map(Vec::as_slice))
    }

    fn check_gpu_outputs(&self, outputs: &[&GpuTensor]) -> Result<()> {
        if outputs.len() != self.outputs.len() {
            return Err(Error::CountMismatch {
                what: "output",
                expected: self.outputs.len(),
                got: outputs.len(),
            });
        }
        let names = self.graph.output_names();
        for ((name, (_, _, shape)), t) in names.iter().zip(&self.outputs).zip(outputs) {
            if t.shape() != shape.as_slice() {
                return Err(Error::ShapeMismatch {
                    what: format!("session output {name:?} (a GPU tensor)"),
                    expected: shape.clone(),
                    got: t.shape().to_vec(),
                });
            }
        }
        Ok(())
    }

    /// Runs the graph on `inputs` (one per graph input, in order) already on this session's
    /// device, writing the outputs (one per graph output, in order) into `outputs`, which
    /// must have the planned shapes. Tensors stored in the session's precision
    /// ([`Session::precision`]) are copied (inputs need `COPY_SRC`, outputs `COPY_DST`);
    /// the others (f32 tensors of an f16 session, and the reverse) are converted on the device
    /// (they need `STORAGE`). Tensors from [`Gpu::upload`] and [`Gpu::zeros`] have all three.
    /// One submission, no host copy, no wait.
    ///
    /// ```
    /// # use wgconv::graph::Graph;
    /// use wgconv::{Error, Session, SessionConfig, Tensor};
    /// # let mut g = Graph::new();
    /// # let x = g.input("x", &[1, 3]);
    /// # let y = g.relu(x)?;
    /// # g.output(y);
    /// let session = Session::from_graph(&g, &SessionConfig::default().cache_dir(None))?;
    /// let gpu = session.gpu();
    /// let out = gpu.zeros(&[1, 3])?; // allocated once, written by every run
    /// for v in [-1.0, 2.0] {
    ///     let x = gpu.upload(&Tensor::new(vec![1, 3], vec![v; 3])?)?;
    ///     session.run_gpu_into(&[&x], &[&out])?;
    ///     assert_eq!(gpu.download(&out)?.data(), &[v.max(0.0); 3]);
    /// }
    /// let wrong = gpu.zeros(&[1, 4])?;
    /// let err = session.run_gpu_into(&[&out], &[&wrong]).unwrap_err();
    /// assert!(matches!(err, Error::ShapeMismatch { .. }));
    /// # Ok::<(), wgconv::Error>(())
    /// ```
    pub fn run_gpu_into(&self, inputs: &[&GpuTensor], outputs: &[&GpuTensor]) -> Result<()> {
        let inputs: Vec<GpuInput<'_>> = inputs.iter().map(|t| GpuInput::Tensor(t)).collect();
        self.run_gpu_inputs_into(&inputs, outputs)
    }

    /// [`Session::run_gpu_into`] with inputs that may also be RGBA8 frames to normalise.
    pub fn run_gpu_inputs_into(
        &self,
        inputs: &[GpuInput<'_>],
        outputs: &[&GpuTensor],
    ) -> Result<()> {
        self.check_gpu_inputs(inputs)?;
        self.check_gpu_outputs(outputs)?;
        let _guard = pollster::block_on(self.lock_runs());
        let gpu: &Gpu = &self.gpu;
        let storage = self.precision;
        let mut into = Vec::new();
        for ((_, region, _), input) in self.inputs.iter().zip(inputs) {
            if let Some(c) = input.conversion(storage)
                && c.out_elems() > 0
            {
                let arena = &self.arenas[region.buffer];
                into.push(gpu.convert_dispatch(&c, input.start(), (arena, region.offset))?);
            }
        }
        let mut out_of = Vec::new();
        for ((region, _, shape), t) in self.outputs.iter().zip(outputs) {
            if !same_storage(t, storage) && numel(shape) > 0 {
                let c = Convert::cast(storage, t.precision(), numel(shape));
                let arena = &self.arenas[region.buffer];
                let src = (arena, region.offset);
                out_of.push(gpu.convert_dispatch(&c, src, (t.buffer(), t.offset()))?);
            }
        }
        gpu.scoped("session run on GPU tensors", || {
            let mut enc = gpu
                .device()
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wgconv session (GPU I/O)"),
                });
            for ((_, region, _), input) in self.inputs.iter().zip(inputs) {
                if let GpuInput::Tensor(t) = input
                    && same_storage(t, storage)
                    && numel(t.shape()) > 0
                {
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
            record_conversions(&mut enc, &into);
            self.record_pass(&mut enc);
            record_conversions(&mut enc, &out_of);
            for ((region, _, _), t) in self.outputs.iter().zip(outputs) {
                if same_storage(t, storage) && numel(t.shape()) > 0 {
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
        let converts = (into.len() + out_of.len()) as u64;
        self.counters
            .dispatches
            .fetch_add(converts, Ordering::Relaxed);
        // Each conversion binds a new group and a new uniform buffer.
        self.counters
            .bind_groups_created
            .fetch_add(converts, Ordering::Relaxed);
        self.counters
            .buffers_created
            .fetch_add(converts, Ordering::Relaxed);
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// [`Session::run_gpu_into`] into new device tensors (one per graph output, in order,
    /// stored in the session's precision), which stay on the device until the caller
    /// downloads them or feeds them to another session. For f32 outputs of an f16 session,
    /// pass f32 tensors to [`Session::run_gpu_into`] or convert these ([`Gpu::convert`]).
    pub fn run_gpu(&self, inputs: &[&GpuTensor]) -> Result<Vec<GpuTensor>> {
        let inputs: Vec<GpuInput<'_>> = inputs.iter().map(|t| GpuInput::Tensor(t)).collect();
        self.run_gpu_inputs(&inputs)
    }

    /// [`Session::run_gpu`] with inputs that may also be RGBA8 frames to normalise.
    pub fn run_gpu_inputs(&self, inputs: &[GpuInput<'_>]) -> Result<Vec<GpuTensor>> {
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
        self.run_gpu_inputs_into(inputs, &refs)?;
        Ok(outputs)
    }
}

/// Records `dispatches` as one compute pass of `enc` (none when there are none).
pub(super) fn record_conversions<'d>(
    enc: &mut wgpu::CommandEncoder,
    dispatches: impl IntoIterator<Item = &'d Dispatch>,
) {
    let mut dispatches = dispatches.into_iter().peekable();
    if dispatches.peek().is_none() {
        return;
    }
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("wgconv conversions"),
        timestamp_writes: None,
    });
    for d in dispatches {
        d.record(&mut pass);
    }
}

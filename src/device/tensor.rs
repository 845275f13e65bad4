//! Tensors on the device: upload, allocation, download.

use wgpu::util::DeviceExt;

use crate::device::{BufRef, Gpu};
use crate::error::{Error, Result};
use crate::precision::Precision;
use crate::tensor::{Tensor, numel};

/// A tensor resident in a GPU storage buffer, stored in the precision of the [`Gpu`] handle
/// that made it (f32, or f16 for [`Gpu::with_precision`] handles), or in a range of an
/// application's buffer ([`GpuTensor::from_buffer`]).
///
/// Sessions take and give them ([`crate::Session::run_gpu`]), so one model's output feeds
/// the next without a round trip through the host:
///
/// ```
/// # use wgconv::graph::Graph;
/// use wgconv::{Session, SessionConfig, Tensor};
/// # let mut g = Graph::new();
/// # let x = g.input("x", &[1, 4]);
/// # let y = g.relu(x)?;
/// # g.output_named(y, "y");
/// let session = Session::from_graph(&g, &SessionConfig::default().cache_dir(None))?;
/// let gpu = session.gpu();
/// let x = gpu.upload(&Tensor::new(vec![1, 4], vec![-1.0, 2.0, -3.0, 4.0])?)?;
/// let y = session.run_gpu(&[&x])?;
/// let z = session.run_gpu_named(&[("x", &y[0])])?; // relu(relu(x)), all on the device
/// assert_eq!(z[0].0, "y");
/// assert_eq!(z[0].1.shape(), &[1, 4]);
/// assert_eq!(gpu.download(&z[0].1)?.data(), &[0.0, 2.0, 0.0, 4.0]);
/// # Ok::<(), wgconv::Error>(())
/// ```
#[derive(Debug)]
pub struct GpuTensor {
    pub(crate) buffer: wgpu::Buffer,
    /// Byte offset of the first element in `buffer`.
    offset: u64,
    shape: Vec<usize>,
    precision: Precision,
}

impl GpuTensor {
    /// Views the elements of an application's buffer from byte `offset` as a tensor of
    /// `shape` stored in `precision` (a clone of a `wgpu::Buffer` is another handle on the
    /// same memory). [`crate::Session::run_gpu`] copies it on the device, which needs
    /// `COPY_SRC` (to read it as an input) or `COPY_DST` (to write an output into it) and a
    /// 4-byte aligned offset; binding it to a kernel directly needs `STORAGE` and an offset
    /// aligned to the device's `min_storage_buffer_offset_alignment`.
    pub fn from_buffer(
        buffer: wgpu::Buffer,
        offset: u64,
        shape: &[usize],
        precision: Precision,
    ) -> Result<Self> {
        let bytes = precision.buffer_bytes(numel(shape));
        let fits = offset
            .checked_add(bytes)
            .is_some_and(|end| end <= buffer.size());
        if !offset.is_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT) || !fits {
            return Err(Error::invalid_op(
                "GpuTensor::from_buffer",
                format!(
                    "a tensor of shape {shape:?} in {precision} ({bytes} bytes) at byte offset \
                     {offset} does not fit a buffer of {} bytes at a 4-byte aligned offset",
                    buffer.size()
                ),
            ));
        }
        Ok(Self {
            buffer,
            offset,
            shape: shape.to_vec(),
            precision,
        })
    }

    /// Byte offset of the first element in [`GpuTensor::buffer`] (0 unless made by
    /// [`GpuTensor::from_buffer`]).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes the elements take in the buffer (rounded up to whole 4-byte words).
    pub fn byte_size(&self) -> u64 {
        self.precision.buffer_bytes(numel(&self.shape))
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The storage buffer holding the elements.
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// The element type on the device.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// A binding of the whole tensor.
    pub fn binding(&self) -> BufRef<'_> {
        BufRef {
            buffer: &self.buffer,
            offset: self.offset,
            size: self.byte_size(),
        }
    }
}

/// Usage flags of every tensor buffer: kernels read and write it, uploads and downloads copy it.
pub(crate) const TENSOR_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

impl Gpu {
    /// Checks that a buffer of `bytes` fits the device, naming `what` otherwise.
    pub fn check_buffer_size(&self, what: &str, bytes: u64) -> Result<()> {
        let limits = self.limits();
        if bytes > limits.max_buffer_size {
            return Err(Error::DeviceLimit {
                what: what.to_string(),
                limit_name: "max_buffer_size",
                limit: limits.max_buffer_size,
                needed: bytes,
            });
        }
        if bytes > limits.max_storage_buffer_binding_size {
            return Err(Error::DeviceLimit {
                what: what.to_string(),
                limit_name: "max_storage_buffer_binding_size",
                limit: limits.max_storage_buffer_binding_size,
                needed: bytes,
            });
        }
        Ok(())
    }

    /// Copies a host tensor into a new device buffer (rounded to f16 on f16 handles).
    pub fn upload(&self, t: &Tensor) -> Result<GpuTensor> {
        self.upload_slice(t.shape(), t.data())
    }

    /// Copies `data` (of shape `shape`) into a new device buffer.
    pub fn upload_slice(&self, shape: &[usize], data: &[f32]) -> Result<GpuTensor> {
        if numel(shape) != data.len() {
            return Err(Error::ShapeDataMismatch {
                shape: shape.to_vec(),
                expected: numel(shape),
                actual: data.len(),
            });
        }
        let precision = self.precision();
        self.check_buffer_size(
            &format!("tensor of shape {shape:?}"),
            precision.buffer_bytes(data.len()),
        )?;
        let buffer = self.scoped("upload", || {
            let contents = precision.encode(data);
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("tensor"),
                    contents: &contents,
                    usage: TENSOR_USAGE,
                })
        })?;
        Ok(GpuTensor {
            buffer,
            offset: 0,
            shape: shape.to_vec(),
            precision,
        })
    }

    /// A new zero-filled device tensor.
    pub fn zeros(&self, shape: &[usize]) -> Result<GpuTensor> {
        self.zeros_in(shape, self.precision())
    }

    /// A new zero-filled device tensor stored in `precision`.
    pub(crate) fn zeros_in(&self, shape: &[usize], precision: Precision) -> Result<GpuTensor> {
        let bytes = precision.buffer_bytes(numel(shape));
        self.check_buffer_size(&format!("tensor of shape {shape:?}"), bytes)?;
        let buffer = self.scoped("allocate", || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tensor"),
                size: bytes,
                usage: TENSOR_USAGE,
                mapped_at_creation: false,
            })
        })?;
        Ok(GpuTensor {
            buffer,
            offset: 0,
            shape: shape.to_vec(),
            precision,
        })
    }

    /// Copies a device tensor back to the host, widened to f32 (waits for all submitted work).
    pub fn download(&self, t: &GpuTensor) -> Result<Tensor> {
        let n = numel(t.shape());
        let data = self.read_elements(&t.buffer, t.offset, n, t.precision)?;
        Tensor::new(t.shape().to_vec(), data)
    }

    /// Reads `len` elements of this handle's precision starting at byte `offset` of `buffer`,
    /// widened to f32.
    pub fn read_buffer(&self, buffer: &wgpu::Buffer, offset: u64, len: usize) -> Result<Vec<f32>> {
        self.read_elements(buffer, offset, len, self.precision())
    }

    fn read_elements(
        &self,
        buffer: &wgpu::Buffer,
        offset: u64,
        len: usize,
        precision: Precision,
    ) -> Result<Vec<f32>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let bytes = precision.buffer_bytes(len);
        let staging = self.scoped("readback", || {
            let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut enc = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
            enc.copy_buffer_to_buffer(buffer, offset, &staging, 0, bytes);
            self.queue.submit([enc.finish()]);
            staging
        })?;
        self.map_and_read(&staging, bytes, |b| precision.decode(b, len))
    }

    /// Maps a `MAP_READ` buffer and hands its first `bytes` bytes (a multiple of 4) to `read`,
    /// which copies out what it needs ([`Gpu::map_and_read_async`] waited on).
    pub(crate) fn map_and_read<T>(
        &self,
        staging: &wgpu::Buffer,
        bytes: u64,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<T> {
        pollster::block_on(self.map_and_read_async(staging, bytes, read))
    }

    /// Maps a `MAP_READ` buffer, awaiting the mapping (the device's polling thread completes
    /// it, see `device/poller.rs`), and hands its first `bytes` bytes to `read` (decoding
    /// straight from the mapping saves a copy).
    pub(crate) async fn map_and_read_async<T>(
        &self,
        staging: &wgpu::Buffer,
        bytes: u64,
        read: impl FnOnce(&[u8]) -> T,
    ) -> Result<T> {
        if bytes == 0 {
            return Ok(read(&[])); // nothing to map (and an empty mapping may be unaligned)
        }
        if let Err(e) = self.poller.map_read(staging, bytes)?.await {
            // A lost device fails the mapping too, maybe before its lost callback has run: a
            // non-blocking poll delivers it, so the loss is what gets reported.
            let _ = self.device.poll(wgpu::PollType::Poll);
            self.check_alive()?;
            return Err(e);
        }
        self.check_alive()?;
        let view = staging
            .get_mapped_range(0..bytes)
            .map_err(|e| Error::Readback(e.to_string()))?;
        // The mapping's alignment is the driver's business: `read` copies bytes (decode does)
        // rather than casting in place.
        let out = read(&view);
        drop(view);
        staging.unmap();
        Ok(out)
    }
}

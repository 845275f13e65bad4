//! Conversions on the device (`crate::kernels::convert`): a tensor into another storage
//! precision, and RGBA8 frames from an application's buffer normalised into a network input.

use crate::device::{BufRef, Dispatch, Gpu, GpuTensor};
use crate::error::{Error, Result};
use crate::kernels::convert::{Convert, convert};
use crate::ops::Rgba8Normalize;
use crate::precision::Precision;
use crate::tensor::numel;

/// `batch` frames of `height` x `width` 8-bit RGBA pixels in an application's buffer (a camera
/// frame, a decoded video frame): one little-endian `u32` per pixel, red in the lowest byte,
/// rows packed without padding, frames one after another from byte `offset`.
///
/// ```
/// use wgpu::util::DeviceExt;
/// use wgconv::ops::{PixelOrder, Rgba8Normalize};
/// use wgconv::{Gpu, GpuOptions, Rgba8Frames};
///
/// let gpu = Gpu::with_options(&GpuOptions { cache_dir: None, ..GpuOptions::default() })?;
/// // One 1x2 frame: a red pixel, then a blue one (red in the lowest byte).
/// let pixels: [u32; 2] = [0xff00_00ff, 0xffff_0000];
/// let buffer = gpu.device().create_buffer_init(&wgpu::util::BufferInitDescriptor {
///     label: Some("camera frame"),
///     contents: bytemuck::cast_slice(&pixels),
///     usage: wgpu::BufferUsages::STORAGE,
/// });
/// let frames = Rgba8Frames::from_buffer(buffer, 0, 1, 1, 2)?;
/// // Bytes / 255 in BGR order (a Caffe-style model).
/// let norm = Rgba8Normalize::new([0.0; 3], [1.0; 3])?.with_order(PixelOrder::Bgr);
/// let x = gpu.download(&gpu.normalize_rgba8(&frames, &norm)?)?;
/// assert_eq!(x.shape(), &[1, 3, 1, 2]);
/// assert_eq!(x.data(), &[0.0, 1.0, 0.0, 0.0, 1.0, 0.0]); // B, G, R planes
/// # Ok::<(), wgconv::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Rgba8Frames {
    buffer: wgpu::Buffer,
    offset: u64,
    batch: usize,
    height: usize,
    width: usize,
}

impl Rgba8Frames {
    /// Views `buffer` from byte `offset` (a multiple of 4) as `[batch, height, width]` pixels.
    /// A kernel reads it, so the buffer needs `STORAGE` usage.
    pub fn from_buffer(
        buffer: wgpu::Buffer,
        offset: u64,
        batch: usize,
        height: usize,
        width: usize,
    ) -> Result<Self> {
        let fits = crate::tensor::checked_numel(&[batch, height, width, 4])
            .and_then(|b| offset.checked_add(b as u64))
            .is_some_and(|end| end <= buffer.size());
        if !offset.is_multiple_of(4)
            || !fits
            || !buffer.usage().contains(wgpu::BufferUsages::STORAGE)
        {
            return Err(Error::invalid_op(
                "Rgba8Frames::from_buffer",
                format!(
                    "{batch} frame(s) of {height}x{width} RGBA8 pixels at byte offset {offset} \
                     need a STORAGE buffer holding them at a 4-byte aligned offset; the buffer \
                     has {} bytes and usage {:?}",
                    buffer.size(),
                    buffer.usage()
                ),
            ));
        }
        Ok(Self {
            buffer,
            offset,
            batch,
            height,
            width,
        })
    }

    /// `[batch, height, width]`.
    pub fn dims(&self) -> [usize; 3] {
        [self.batch, self.height, self.width]
    }

    /// The conversion writing these frames normalised by `norm` in `dst` storage.
    pub(crate) fn convert(&self, norm: &Rgba8Normalize, dst: Precision) -> Convert {
        Convert::rgba8(norm, self.batch, self.height, self.width, dst)
    }

    /// The buffer and byte offset of the first pixel.
    pub(crate) fn start(&self) -> (&wgpu::Buffer, u64) {
        (&self.buffer, self.offset)
    }
}

impl Gpu {
    /// The dispatch running `c` from byte `src.1` of `src.0` into byte `dst.1` of `dst.0`
    /// (each 4-byte aligned; the bindings start at the aligned offset below and the kernel skips
    /// the rest).
    pub(crate) fn convert_dispatch(
        &self,
        c: &Convert,
        src: (&wgpu::Buffer, u64),
        dst: (&wgpu::Buffer, u64),
    ) -> Result<Dispatch> {
        let align = (self.limits().min_storage_buffer_offset_alignment as u64).max(4);
        fn bind(buffer: &wgpu::Buffer, offset: u64, bytes: u64, align: u64) -> (BufRef<'_>, u64) {
            let start = offset - offset % align;
            let size = (offset - start + bytes).div_ceil(4) * 4;
            let range = BufRef {
                buffer,
                offset: start,
                size: size.max(4),
            };
            (range, offset - start)
        }
        let (s, s_skip) = bind(src.0, src.1, c.src_bytes(), align);
        let (d, d_skip) = bind(dst.0, dst.1, c.dst.buffer_bytes(c.out_elems()), align);
        self.encode(convert(self.target(), c, s, s_skip, d, d_skip))
    }

    /// `t` rewritten in `precision` storage (f32 <-> f16, rounding to nearest), in a new tensor
    /// on the device; nothing is read back.
    pub fn convert(&self, t: &GpuTensor, precision: Precision) -> Result<GpuTensor> {
        let out = self.zeros_in(t.shape(), precision)?;
        if numel(t.shape()) > 0 {
            let c = Convert::cast(t.precision(), precision, numel(t.shape()));
            let d = self.convert_dispatch(&c, (t.buffer(), t.offset()), (out.buffer(), 0))?;
            self.submit(&[&d])?;
        }
        Ok(out)
    }

    /// `frames` normalised by `norm` into a new `[batch, 3, height, width]` tensor stored in
    /// this handle's precision; nothing is read back. To feed a session without this
    /// intermediate tensor, pass the frames to [`crate::Session::run_gpu_inputs`].
    pub fn normalize_rgba8(
        &self,
        frames: &Rgba8Frames,
        norm: &Rgba8Normalize,
    ) -> Result<GpuTensor> {
        let [n, h, w] = frames.dims();
        let out = self.zeros_in(&norm.out_dims(n, h, w), self.precision())?;
        if n * h * w > 0 {
            let c = frames.convert(norm, self.precision());
            let d = self.convert_dispatch(&c, frames.start(), (out.buffer(), 0))?;
            self.submit(&[&d])?;
        }
        Ok(out)
    }
}

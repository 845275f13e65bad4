//! Host inputs in the element type the caller has: f32 (written as they are, or rounded for
//! f16 sessions), f16 (written as they are to f16 sessions) and u8 (image bytes). What the
//! session's storage cannot take byte for byte is written as it is to a staging buffer and
//! widened on the device by the convert kernel into the input buffer, in the run's one
//! submission: u8 inputs move a quarter of f32's bytes.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use super::Session;
use crate::device::Dispatch;
use crate::error::Result;
use crate::kernels::convert::{Convert, SourceFormat};
use crate::precision::Precision;

/// The elements of one host input, borrowed from the caller.
#[derive(Clone, Copy, Debug)]
pub enum HostData<'a> {
    /// 32-bit floats.
    F32(&'a [f32]),
    /// 16-bit floats (an f16 session takes them as they are).
    F16(&'a [half::f16]),
    /// Bytes, taken as the values 0 to 255 (an ONNX `uint8` image input, say).
    U8(&'a [u8]),
}

impl HostData<'_> {
    /// Element count.
    pub fn len(&self) -> usize {
        match self {
            HostData::F32(d) => d.len(),
            HostData::F16(d) => d.len(),
            HostData::U8(d) => d.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The source format and bytes (padded to 4) when the convert kernel must widen these
    /// elements into `storage`; `None` when they are written to the input buffer directly.
    pub(super) fn staged(&self, storage: Precision) -> Option<(SourceFormat, Vec<u8>)> {
        let padded = |b: &[u8]| {
            let mut v = b.to_vec();
            v.resize(b.len().div_ceil(4).max(1) * 4, 0);
            v
        };
        match self {
            HostData::F32(_) => None,
            HostData::F16(_) if storage.is_f16() => None,
            HostData::F16(d) => Some((SourceFormat::F16, padded(bytemuck::cast_slice(d)))),
            HostData::U8(d) => Some((SourceFormat::U8, padded(d))),
        }
    }
}

/// A staging buffer for one input in one source format, and the dispatch that widens it into
/// the input buffer. The session's input shapes are fixed, so both are made on the first run
/// that needs them and reused after (written and submitted under the session's lock, so runs
/// in flight take their turns on the queue).
#[derive(Debug)]
pub(super) struct Staging {
    buffer: wgpu::Buffer,
    pub(super) widen: Dispatch,
}

impl Session<'_> {
    /// Writes the inputs the convert kernel widens to their staging buffers and returns what
    /// widens them into the input buffers, with the bytes written.
    pub(super) fn stage_inputs(
        &self,
        inputs: &[(&[usize], HostData<'_>)],
    ) -> Result<(Vec<Arc<Staging>>, u64)> {
        let mut staged = Vec::new();
        let mut uploaded = 0;
        for (i, ((_, region, _), (_, data))) in self.inputs.iter().zip(inputs).enumerate() {
            let Some((format, bytes)) = data.staged(self.precision).filter(|_| !data.is_empty())
            else {
                continue;
            };
            let cached = self
                .host_staging
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&(i, format))
                .cloned();
            let staging = match cached {
                Some(s) => s,
                None => {
                    let buffer = self.gpu.scoped("host input staging", || {
                        self.gpu.device().create_buffer(&wgpu::BufferDescriptor {
                            label: Some("host input staging"),
                            size: bytes.len() as u64,
                            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                            mapped_at_creation: false,
                        })
                    })?;
                    let c = Convert {
                        src: format,
                        ..Convert::cast(Precision::F32, self.precision, data.len())
                    };
                    let arena = &self.arenas[region.buffer];
                    let widen =
                        self.gpu
                            .convert_dispatch(&c, (&buffer, 0), (arena, region.offset))?;
                    // The staging buffer and the dispatch's uniform, bound once.
                    self.counters
                        .buffers_created
                        .fetch_add(2, Ordering::Relaxed);
                    self.counters
                        .bind_groups_created
                        .fetch_add(1, Ordering::Relaxed);
                    let s = Arc::new(Staging { buffer, widen });
                    self.host_staging
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert((i, format), s.clone());
                    s
                }
            };
            self.gpu.queue().write_buffer(&staging.buffer, 0, &bytes);
            uploaded += bytes.len() as u64;
            staged.push(staging);
        }
        self.counters
            .bytes_uploaded
            .fetch_add(uploaded, Ordering::Relaxed);
        Ok((staged, uploaded))
    }
}

//! Parameters on the device, one buffer per distinct tensor, shared by content.
//!
//! Every session binds its weights from a [`ParamStore`]. A session made on its own has a
//! store of its own; the sessions a [`crate::dynamic::DynamicSession`] builds for its shape
//! signatures share one, so a weight is uploaded once however many plans read it. Entries
//! are keyed by a hash of the bytes as stored (after any host-side derivation and the
//! precision's encoding) and held weakly: a buffer lives while a session binds it, and is
//! freed with the last one (a plan evicted from a cache frees what only it read).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::device::Gpu;
use crate::error::{Error, Result};

/// Content identity of a parameter: its length and a 64-bit hash of its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    len: u64,
    hash: u64,
}

impl Key {
    fn of(bytes: &[u8]) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        Self {
            len: bytes.len() as u64,
            hash: h.finish(),
        }
    }
}

/// Device buffers of parameter tensors, deduplicated by content.
#[derive(Default)]
pub struct ParamStore {
    buffers: Mutex<HashMap<Key, Weak<wgpu::Buffer>>>,
    uploaded: AtomicU64,
    created: AtomicU64,
}

impl std::fmt::Debug for ParamStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamStore")
            .field("live_bytes", &self.live_bytes())
            .field("uploaded_bytes", &self.uploaded_bytes())
            .finish()
    }
}

impl ParamStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The buffer holding `bytes`: one already on the device with the same content, or a new
    /// one written now.
    pub(crate) fn get_or_upload(&self, gpu: &Gpu, bytes: &[u8]) -> Result<Arc<wgpu::Buffer>> {
        let key = Key::of(bytes);
        let mut map = self.buffers.lock().map_err(|_| poisoned())?;
        if let Some(b) = map.get(&key).and_then(Weak::upgrade) {
            return Ok(b);
        }
        // Writes must be whole words; f16 tensors of odd length are padded with zeros.
        let size = (bytes.len() as u64).div_ceil(4) * 4;
        let buffer = gpu.scoped("uploading parameters", || {
            let b = gpu.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgconv parameters"),
                size: size.max(4),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            if size as usize == bytes.len() {
                gpu.queue().write_buffer(&b, 0, bytes);
            } else {
                let mut padded = bytes.to_vec();
                padded.resize(size as usize, 0);
                gpu.queue().write_buffer(&b, 0, &padded);
            }
            b
        })?;
        let buffer = Arc::new(buffer);
        // Forget entries whose sessions are all gone before adding one.
        map.retain(|_, w| w.strong_count() > 0);
        map.insert(key, Arc::downgrade(&buffer));
        self.uploaded
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.created.fetch_add(1, Ordering::Relaxed);
        Ok(buffer)
    }

    /// Bytes of the parameter buffers some session still holds.
    pub fn live_bytes(&self) -> u64 {
        self.buffers.lock().map_or(0, |m| {
            m.values().filter_map(Weak::upgrade).map(|b| b.size()).sum()
        })
    }

    /// Bytes written to the device by this store, ever.
    pub fn uploaded_bytes(&self) -> u64 {
        self.uploaded.load(Ordering::Relaxed)
    }

    /// Buffers this store created, ever.
    pub fn buffers_created(&self) -> u64 {
        self.created.load(Ordering::Relaxed)
    }
}

fn poisoned() -> Error {
    Error::invalid_op(
        "parameter store",
        "a thread panicked while uploading parameters",
    )
}

//! wgconv's on-disk cache: the directory, atomic writes, and the wgpu pipeline cache file.
//!
//! The directory is [`crate::GpuOptions::cache_dir`]: by default [`default_dir`], the
//! platform's cache directory (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on
//! macOS, `%LOCALAPPDATA%` on Windows) plus `wgconv`; `None` keeps nothing on disk. A
//! directory that cannot be created and written means no cache: caching never turns into an
//! error. Two things live there:
//! - `wgpu_pipeline_cache_vulkan_<vendor>_<device>` (the name is
//!   `wgpu::util::pipeline_cache_key`): the driver's compiled pipelines, so a second process
//!   skips most of the backend compilation (Vulkan only; wgpu has no cache on other backends).
//! - `autotune.json`: the configurations the autotuner chose, per adapter ([`crate::tune`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The environment variable [`crate::GpuOptions::from_env`] reads the cache directory from.
pub const CACHE_DIR_ENV: &str = "WGCONV_CACHE_DIR";

/// `wgconv` in the platform's cache directory (see the module docs); `None` when the
/// platform has none. Nothing is created until a device uses it.
pub fn default_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("wgconv"))
}

/// Whether `dir` exists (or can be created) and accepts a new file.
pub fn usable(dir: &Path) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(format!(".probe-{}-{}", std::process::id(), unique()));
    let ok = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

fn unique() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a torn
/// one: a temporary file in the same directory (unique per process and call, so concurrent
/// writers do not collide), flushed, then renamed over `path`.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.{}.tmp", std::process::id(), unique()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// 64-bit FNV-1a: a stable checksum for cache files (wgpu checks the pipeline cache's header,
/// not its body, and hands the body to the driver).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// What the pipeline cache of a device started from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PipelineCacheState {
    /// No pipeline cache: disabled, no usable cache directory, or not supported by the
    /// adapter (wgpu implements it on Vulkan only).
    Off,
    /// A pipeline cache with no usable data (no file yet, or a file that was rejected).
    Cold,
    /// A pipeline cache seeded from a file of this many bytes (the driver decides what in it
    /// it can reuse).
    Warm {
        /// Bytes of cache data loaded.
        bytes: usize,
    },
}

impl std::fmt::Display for PipelineCacheState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PipelineCacheState::Off => write!(f, "off"),
            PipelineCacheState::Cold => write!(f, "cold"),
            PipelineCacheState::Warm { bytes } => write!(f, "warm ({} KiB)", bytes.div_ceil(1024)),
        }
    }
}

/// Our envelope around wgpu's cache data: magic, payload length, FNV-1a of the payload. A
/// torn, truncated or scribbled file fails the check and is never handed to the driver.
const MAGIC: &[u8; 8] = b"WGCNVPC1";
const HEADER: usize = 8 + 8 + 8;

fn wrap(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + payload.len());
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    v.extend_from_slice(&fnv1a(payload).to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// The payload of a file written by [`wrap`], or `None` when it does not check out.
fn unwrap(file: &[u8]) -> Option<&[u8]> {
    if file.len() < HEADER || &file[..8] != MAGIC {
        return None;
    }
    let len = u64::from_le_bytes(file[8..16].try_into().ok()?);
    let sum = u64::from_le_bytes(file[16..24].try_into().ok()?);
    let payload = &file[HEADER..];
    (payload.len() as u64 == len && fnv1a(payload) == sum).then_some(payload)
}

/// A device's wgpu pipeline cache and the file it is loaded from and saved to.
pub(crate) struct DiskPipelineCache {
    pub(crate) cache: wgpu::PipelineCache,
    path: PathBuf,
    state: PipelineCacheState,
    /// Pipelines created since the last save.
    unsaved: AtomicUsize,
    save: Mutex<()>,
}

impl DiskPipelineCache {
    /// Opens the cache file for `info` in `dir` on `device` (which must have
    /// `Features::PIPELINE_CACHE`); `None` when wgpu has no cache key for the backend.
    pub(crate) fn open(
        device: &wgpu::Device,
        info: &wgpu::AdapterInfo,
        dir: &Path,
    ) -> Option<Self> {
        let path = dir.join(wgpu::util::pipeline_cache_key(info)?);
        let file = std::fs::read(&path).ok();
        let data = file.as_deref().and_then(unwrap).filter(|d| !d.is_empty());
        if file.is_some() && data.is_none() {
            log::warn!(
                "ignoring damaged pipeline cache {} (it will be rewritten)",
                path.display()
            );
        }
        let create = |data: Option<&[u8]>| {
            let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
            // SAFETY: `data` is what `PipelineCache::get_data` returned in an earlier run for
            // an adapter with the same `pipeline_cache_key` (it is the file's name), checked
            // byte for byte against our checksum above; wgpu then checks its own header
            // (backend, device, driver) and falls back to an empty cache when it is stale.
            let cache = unsafe {
                device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                    label: Some("wgconv pipeline cache"),
                    data,
                    fallback: true,
                })
            };
            let error = pollster::block_on(scope.pop());
            (cache, error)
        };
        let (cache, state) = match data {
            Some(d) => match create(Some(d)) {
                (cache, None) => (cache, PipelineCacheState::Warm { bytes: d.len() }),
                // A cache for another device or driver under the same key: start empty.
                (_, Some(_)) => (create(None).0, PipelineCacheState::Cold),
            },
            None => (create(None).0, PipelineCacheState::Cold),
        };
        Some(Self {
            cache,
            path,
            state,
            unsaved: AtomicUsize::new(0),
            save: Mutex::new(()),
        })
    }

    pub(crate) fn state(&self) -> PipelineCacheState {
        self.state
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Notes that a pipeline was created through the cache.
    pub(crate) fn touched(&self) {
        self.unsaved.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes the cache data to its file if pipelines were created since the last save;
    /// true when a file was written. Failures are logged once (`log::warn!`) and otherwise
    /// ignored: a cache that cannot be saved costs time, not correctness.
    pub(crate) fn save(&self) -> bool {
        let Ok(_guard) = self.save.lock() else {
            return false;
        };
        let pending = self.unsaved.swap(0, Ordering::Relaxed);
        if pending == 0 {
            return false;
        }
        let Some(data) = self.cache.get_data().filter(|d| !d.is_empty()) else {
            return false;
        };
        match write_atomic(&self.path, &wrap(&data)) {
            Ok(()) => true,
            Err(e) => {
                static WARNED: OnceLock<()> = OnceLock::new();
                WARNED.get_or_init(|| {
                    log::warn!(
                        "cannot save the pipeline cache {}: {e}",
                        self.path.display()
                    )
                });
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips_and_rejects_damage() {
        let payload = b"some cache bytes".to_vec();
        let file = wrap(&payload);
        assert_eq!(unwrap(&file), Some(&payload[..]));
        let mut flipped = file.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(unwrap(&flipped), None, "a flipped payload bit");
        assert_eq!(unwrap(&file[..file.len() - 1]), None, "a truncated file");
        assert_eq!(unwrap(b"garbage"), None);
        assert_eq!(unwrap(&[]), None);
    }

    #[test]
    fn atomic_write_replaces() {
        let dir = std::env::temp_dir().join(format!("wgconv-cache-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

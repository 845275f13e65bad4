//! How to choose an adapter: [`GpuOptions`], read from the environment or set in code.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::shaders::Shader;

/// How to choose an adapter. `Default` reads no `WGCONV_*` adapter setting (the cache
/// directory still defaults as in [`cache`]); [`GpuOptions::from_env`] reads them.
#[derive(Clone, Debug)]
pub struct GpuOptions {
    /// Restrict the search to these backends (all primary backends plus GL when `None`).
    pub backends: Option<wgpu::Backends>,
    /// Choose the first adapter whose name contains this (case-insensitive).
    pub adapter_name: Option<String>,
    /// Ask for these limits instead of the adapter's own maximums (tests use small limits to
    /// exercise splitting paths).
    pub limits: Option<wgpu::Limits>,
    /// Makes this kernel family deliberately wrong (it skips its last workgroup). For testing
    /// that validation catches broken kernels; `WGCONV_FAULT=<shader label>` sets it too.
    pub fault: Option<Shader>,
    /// Seed pipeline creation from, and save it to, a per-adapter file in the cache directory
    /// (wgpu's `PipelineCache`; Vulkan only). On by default: it shortens the next process's
    /// cold start. `WGCONV_PIPELINE_CACHE=0` turns it off.
    pub pipeline_cache: bool,
    /// The cache directory (pipeline cache, autotuning choices); `None`:
    /// [`cache::default_dir`]. A directory that cannot be written means no cache.
    pub cache_dir: Option<PathBuf>,
}

impl Default for GpuOptions {
    fn default() -> Self {
        Self {
            backends: None,
            adapter_name: None,
            limits: None,
            fault: None,
            pipeline_cache: true,
            cache_dir: None,
        }
    }
}

impl GpuOptions {
    /// Options from `WGCONV_BACKEND`, `WGCONV_ADAPTER`, `WGCONV_FAULT` and
    /// `WGCONV_PIPELINE_CACHE` (`0`/`off` disables the pipeline cache).
    pub fn from_env() -> Result<Self> {
        let backends = match std::env::var("WGCONV_BACKEND") {
            Ok(v) if !v.is_empty() => Some(parse_backend(&v)?),
            _ => None,
        };
        let adapter_name = std::env::var("WGCONV_ADAPTER")
            .ok()
            .filter(|s| !s.is_empty());
        let fault = match std::env::var("WGCONV_FAULT") {
            Ok(v) if !v.is_empty() => Some(
                Shader::ALL
                    .iter()
                    .copied()
                    .find(|s| s.label() == v)
                    .ok_or_else(|| Error::InvalidSetting {
                        name: "WGCONV_FAULT",
                        value: v.clone(),
                        reason: "not a shader label (e.g. conv, matmul, eltwise)".into(),
                    })?,
            ),
            _ => None,
        };
        let pipeline_cache = !matches!(
            std::env::var("WGCONV_PIPELINE_CACHE").as_deref(),
            Ok("0" | "off" | "false" | "no")
        );
        Ok(Self {
            backends,
            adapter_name,
            limits: None,
            fault,
            pipeline_cache,
            cache_dir: None,
        })
    }
}

/// Parses a backend name as used by `WGCONV_BACKEND` and `--backend`.
pub fn parse_backend(name: &str) -> Result<wgpu::Backends> {
    match name.to_ascii_lowercase().as_str() {
        "vulkan" | "vk" => Ok(wgpu::Backends::VULKAN),
        "gl" | "gles" | "opengl" => Ok(wgpu::Backends::GL),
        "metal" | "mtl" => Ok(wgpu::Backends::METAL),
        "dx12" | "d3d12" => Ok(wgpu::Backends::DX12),
        "all" => Ok(wgpu::Backends::all()),
        _ => Err(Error::InvalidSetting {
            name: "backend",
            value: name.to_string(),
            reason: "expected one of vulkan, gl, metal, dx12, all".into(),
        }),
    }
}

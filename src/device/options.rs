//! How to choose an adapter: [`GpuOptions`], set in code or read from the environment when
//! the caller asks ([`GpuOptions::from_env`]).

use std::path::PathBuf;

use super::cache;
use crate::error::{Error, Result};
use crate::shaders::Shader;

/// How to choose an adapter. `Default` reads no `WGCONV_*` variable and caches in
/// [`cache::default_dir`]; [`GpuOptions::from_env`] reads the `WGCONV_*` settings.
///
/// ```
/// use wgconv::device::parse_backend;
/// use wgconv::{Error, Gpu, GpuOptions};
///
/// // The first Vulkan adapter, caching nothing on disk.
/// let options = GpuOptions {
///     backends: Some(parse_backend("vulkan")?),
///     cache_dir: None,
///     ..GpuOptions::default()
/// };
/// let gpu = Gpu::with_options(&options)?;
/// assert_eq!(gpu.adapter_info().backend, wgpu::Backend::Vulkan);
/// assert!(matches!(parse_backend("glide"), Err(Error::InvalidSetting { .. })));
/// # Ok::<(), wgconv::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct GpuOptions {
    /// Restrict the search to these backends (all primary backends plus GL when `None`).
    pub backends: Option<wgpu::Backends>,
    /// Choose the first adapter whose name contains this (case-insensitive).
    pub adapter_name: Option<String>,
    /// Ask for these limits instead of the adapter's own maximums (tests use small limits to
    /// exercise splitting paths).
    pub limits: Option<wgpu::Limits>,
    /// Makes this kernel family deliberately wrong (it skips its last workgroup), for testing
    /// that validation catches broken kernels. Only ever set explicitly (`wgconv validate
    /// --fault`).
    pub fault: Option<Shader>,
    /// Seed pipeline creation from, and save it to, a per-adapter file in the cache directory
    /// (wgpu's `PipelineCache`; Vulkan only). On by default: it shortens the next process's
    /// cold start.
    pub pipeline_cache: bool,
    /// The cache directory (pipeline cache, autotuning choices): [`cache::default_dir`] by
    /// default; `None` keeps nothing on disk. A directory that cannot be written means no
    /// cache.
    pub cache_dir: Option<PathBuf>,
    /// Whether the kernels proven in range ([`Shader::TRUSTED`]) drop wgpu's runtime bounds
    /// checks ([`ShaderChecks::Trusted`], the default) or every module keeps them.
    pub shader_checks: ShaderChecks,
    /// Ask for cooperative matrices (tensor cores) when the adapter has a configuration the
    /// tensor-core kernel serves (on by default; `WGCONV_TENSOR_CORES=off` turns it off).
    pub tensor_cores: bool,
    /// Let f32 handles of the device run convolutions on tensor cores, operands rounded to f16
    /// ([`crate::Gpu::with_f32_tensor_cores`]; off by default, `WGCONV_F32_TENSOR_CORES=on`).
    pub f32_tensor_cores: bool,
}

/// Which shader modules keep wgpu's runtime bounds checks (loop bounding and integer-division
/// checks stay on in every module).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ShaderChecks {
    /// The kernels in [`Shader::TRUSTED`] are compiled without bounds checks; the rest keep
    /// them.
    #[default]
    Trusted,
    /// Every module keeps its bounds checks (`WGCONV_SHADER_CHECKS=checked`).
    Checked,
}

impl ShaderChecks {
    /// Whether `shader`'s module is compiled with bounds checks under this setting.
    pub fn bounds_checked(self, shader: Shader) -> bool {
        self == Self::Checked || !shader.trusted()
    }

    /// The setting's name, as `WGCONV_SHADER_CHECKS` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Trusted => "trusted",
            Self::Checked => "checked",
        }
    }

    /// Parses `trusted` or `checked`.
    pub fn parse(value: &str) -> Result<Self> {
        match value.to_ascii_lowercase().as_str() {
            "trusted" => Ok(Self::Trusted),
            "checked" => Ok(Self::Checked),
            _ => Err(Error::InvalidSetting {
                name: "WGCONV_SHADER_CHECKS",
                value: value.to_string(),
                reason: "expected trusted or checked".into(),
            }),
        }
    }
}

impl std::fmt::Display for ShaderChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Default for GpuOptions {
    fn default() -> Self {
        Self {
            backends: None,
            adapter_name: None,
            limits: None,
            fault: None,
            pipeline_cache: true,
            cache_dir: cache::default_dir(),
            shader_checks: ShaderChecks::default(),
            tensor_cores: true,
            f32_tensor_cores: false,
        }
    }
}

impl GpuOptions {
    /// Options from the environment, for programs that want it (the command line does):
    /// `WGCONV_BACKEND` (see [`parse_backend`]), `WGCONV_ADAPTER` (part of the adapter name),
    /// `WGCONV_PIPELINE_CACHE` (`0`/`off` disables the pipeline cache) and `WGCONV_CACHE_DIR`
    /// (the cache directory, instead of [`cache::default_dir`]) and `WGCONV_SHADER_CHECKS`
    /// (`checked` or `trusted`, see [`ShaderChecks`]), `WGCONV_TENSOR_CORES` (`0`/`off`: no
    /// tensor cores) and `WGCONV_F32_TENSOR_CORES` (`1`/`on`: f32 may use them).
    pub fn from_env() -> Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let backends = var("WGCONV_BACKEND")
            .map(|v| parse_backend(&v))
            .transpose()?;
        let off = |k: &str| matches!(var(k).as_deref(), Some("0" | "off" | "false" | "no"));
        let on = |k: &str| matches!(var(k).as_deref(), Some("1" | "on" | "true" | "yes"));
        let pipeline_cache = !off("WGCONV_PIPELINE_CACHE");
        let shader_checks = var("WGCONV_SHADER_CHECKS")
            .map(|v| ShaderChecks::parse(&v))
            .transpose()?
            .unwrap_or_default();
        let defaults = Self::default();
        Ok(Self {
            backends,
            adapter_name: var("WGCONV_ADAPTER"),
            pipeline_cache,
            cache_dir: var(cache::CACHE_DIR_ENV)
                .map(PathBuf::from)
                .or(defaults.cache_dir.clone()),
            shader_checks,
            tensor_cores: !off("WGCONV_TENSOR_CORES"),
            f32_tensor_cores: on("WGCONV_F32_TENSOR_CORES"),
            ..defaults
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

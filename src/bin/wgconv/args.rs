//! Options shared by several subcommands: adapter choice, precision, autotuning, shapes.

use crate::model as cli_model;
use clap::Args;
use wgconv::shaders::Shader;
use wgconv::{Error, Gpu, GpuOptions, Precision, Result};

#[derive(Args, Clone, Default)]
pub(crate) struct AdapterArgs {
    /// Backend: vulkan, gl, metal, dx12 (default: WGCONV_BACKEND, else the best found).
    #[arg(long)]
    pub(crate) backend: Option<String>,
    /// Part of the adapter name (default: WGCONV_ADAPTER).
    #[arg(long)]
    pub(crate) adapter: Option<String>,
    /// Do not load or save wgpu's pipeline cache file (default: WGCONV_PIPELINE_CACHE=0 also
    /// turns it off); the cache directory is WGCONV_CACHE_DIR, else the platform's cache
    /// directory (~/.cache/wgconv on Linux).
    #[arg(long)]
    pub(crate) no_pipeline_cache: bool,
}

#[derive(Args, Clone, Default)]
pub(crate) struct PrecisionArg {
    /// Storage / accumulation precision: f32, f16 (f16 storage and accumulation) or f16-acc32
    /// (f16 storage, f32 accumulation). f16 needs the adapter's shader-f16 feature.
    #[arg(long, default_value = "f32", value_parser = parse_precision)]
    pub(crate) precision: Precision,
}

fn parse_precision(s: &str) -> std::result::Result<Precision, String> {
    Precision::parse(s).map_err(|e| e.to_string())
}

/// The kernel family named by a shader label (`--fault`, `WGCONV_FAULT`).
pub(crate) fn parse_fault(label: &str) -> std::result::Result<Shader, String> {
    Shader::ALL
        .iter()
        .copied()
        .find(|s| s.label() == label)
        .ok_or_else(|| "not a shader label (e.g. conv, matmul, eltwise)".to_string())
}

/// `WGCONV_FAULT`, for `validate` without `--fault`.
pub(crate) fn fault_from_env() -> Result<Option<Shader>> {
    match std::env::var("WGCONV_FAULT") {
        Ok(v) if !v.is_empty() => {
            parse_fault(&v)
                .map(Some)
                .map_err(|reason| Error::InvalidSetting {
                    name: "WGCONV_FAULT",
                    value: v,
                    reason,
                })
        }
        _ => Ok(None),
    }
}

impl AdapterArgs {
    pub(crate) fn gpu(&self) -> Result<Gpu> {
        let mut opts = GpuOptions::from_env()?;
        if let Some(b) = &self.backend {
            opts.backends = Some(wgconv::device::parse_backend(b)?);
        }
        if let Some(a) = &self.adapter {
            opts.adapter_name = Some(a.clone());
        }
        if self.no_pipeline_cache {
            opts.pipeline_cache = false;
        }
        Gpu::with_options(&opts)
    }
}

/// Autotuning switches (default: on for real GPUs, off on software rasterizers).
#[derive(Args, Clone, Copy, Default)]
pub(crate) struct AutotuneArgs {
    /// Time every convolution configuration the first time a shape is seen on this adapter
    /// and keep the fastest (remembered in the cache directory). Default on real GPUs.
    #[arg(long, conflicts_with = "no_autotune")]
    pub(crate) autotune: bool,
    /// Use the heuristic's configurations (deterministic; no timing at session build).
    /// Default on software adapters such as lavapipe, whose speed ranking means nothing.
    #[arg(long)]
    pub(crate) no_autotune: bool,
}

impl AutotuneArgs {
    pub(crate) fn enabled(self, gpu: &Gpu) -> bool {
        if self.autotune || self.no_autotune {
            return self.autotune;
        }
        gpu.adapter_info().device_type != wgpu::DeviceType::Cpu
    }
}

pub(crate) fn parse_shapes(
    shapes: &[String],
) -> Result<std::collections::HashMap<String, Vec<usize>>> {
    shapes
        .iter()
        .map(|s| {
            let (n, v) = cli_model::split_assignment("shape", s)?;
            Ok((n.to_string(), cli_model::parse_shape(v)?))
        })
        .collect()
}

//! Static shader validation with naga: parse and validate every kernel's WGSL, resolve its
//! override constants, and translate it to SPIR-V, MSL, HLSL and GLSL, so that a shader one
//! backend cannot take fails here rather than on a user's machine.

use naga::back::{glsl, hlsl, msl, spv};
use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};

use crate::precision::Precision;
use crate::shaders::Shader;

/// A translation target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// Vulkan.
    SpirV,
    /// Metal.
    Msl,
    /// Direct3D 12.
    Hlsl,
    /// OpenGL ES 3.1.
    Glsl,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 4] = [Target::SpirV, Target::Msl, Target::Hlsl, Target::Glsl];

    /// Whether kernels in `precision` can reach this target. GLSL cannot take f16: naga 30's
    /// GLSL writer has no 16-bit float type ("A scalar with an unsupported width was
    /// requested"), and wgpu's GL backend never offers `SHADER_F16`, so no f16 pipeline is
    /// ever built for it.
    pub fn supports(self, precision: Precision) -> bool {
        self != Target::Glsl || !precision.is_f16()
    }

    /// Whether `shader` in `precision` can reach this target. Cooperative-matrix kernels reach
    /// SPIR-V only: naga 30's HLSL and GLSL writers have no cooperative matrices, and its MSL
    /// writer (MSL 2.3+) maps them to simdgroup matrices, which Metal has in 8x8 only, while
    /// the kernel's blocks are 16x16 (wgpu's Metal adapters report 8x8 configurations, so
    /// the device layer never enables the kernel there).
    pub fn accepts(self, shader: Shader, precision: Precision) -> bool {
        self.supports(precision) && (!shader.needs_coop() || self == Target::SpirV)
    }
}

/// Parses and validates a shader's full f32 source.
pub fn parse_and_validate(shader: Shader) -> Result<(naga::Module, ModuleInfo), String> {
    parse_and_validate_in(shader, Precision::F32)
}

/// Parses and validates a shader's full source for `precision`.
pub fn parse_and_validate_in(
    shader: Shader,
    precision: Precision,
) -> Result<(naga::Module, ModuleInfo), String> {
    parse_and_validate_with(shader, precision, Capabilities::all())
}

/// Parses and validates a shader's full source for `precision`, allowing only
/// `capabilities` (what a device's features enable: see `wgpu_naga_bridge`).
pub fn parse_and_validate_with(
    shader: Shader,
    precision: Precision,
    capabilities: Capabilities,
) -> Result<(naga::Module, ModuleInfo), String> {
    let source = shader.source(precision);
    let module = naga::front::wgsl::parse_str(&source)
        .map_err(|e| format!("parse: {}", e.emit_to_string(&source)))?;
    let info = Validator::new(ValidationFlags::all(), capabilities)
        .validate(&module)
        .map_err(|e| format!("validate: {}", e.emit_to_string(&source)))?;
    Ok((module, info))
}

/// Resolves overrides with `constants` and translates the f32 source to `target`.
pub fn translate(shader: Shader, constants: &[(&str, f64)], target: Target) -> Result<(), String> {
    translate_in(shader, Precision::F32, constants, target)
}

/// Resolves overrides with `constants` and translates the source for `precision` to `target`.
pub fn translate_in(
    shader: Shader,
    precision: Precision,
    constants: &[(&str, f64)],
    target: Target,
) -> Result<(), String> {
    translate_with(shader, precision, constants, target, Capabilities::all())
}

/// [`translate_in`], validating with `capabilities` only.
pub fn translate_with(
    shader: Shader,
    precision: Precision,
    constants: &[(&str, f64)],
    target: Target,
    capabilities: Capabilities,
) -> Result<(), String> {
    let (module, info) = parse_and_validate_with(shader, precision, capabilities)?;
    let mut pc = naga::back::PipelineConstants::default();
    for &(k, v) in constants {
        pc.insert(k.to_string(), v);
    }
    let stage = naga::ShaderStage::Compute;
    let (module, info) = naga::back::pipeline_constants::process_overrides(
        &module,
        &info,
        Some((stage, "main")),
        &pc,
    )
    .map_err(|e| format!("overrides: {e}"))?;
    let entry = Some((stage, "main".to_string()));
    match target {
        Target::SpirV => spv::write_vec(&module, &info, &spirv_options(), None)
            .map(drop)
            .map_err(|e| format!("spir-v: {e}")),
        Target::Msl => msl::write_string(
            &module,
            &info,
            &msl::Options::default(),
            &msl::PipelineOptions {
                entry_point: entry,
                ..Default::default()
            },
        )
        .map(drop)
        .map_err(|e| format!("msl: {e}")),
        Target::Hlsl => {
            let mut out = String::new();
            let options = hlsl::Options::default();
            let pipeline = hlsl::PipelineOptions { entry_point: entry };
            hlsl::Writer::new(&mut out, &options, &pipeline)
                .write(&module, &info, None)
                .map(drop)
                .map_err(|e| format!("hlsl: {e}"))
        }
        Target::Glsl => {
            let mut out = String::new();
            let options = glsl::Options::default();
            let pipeline = glsl::PipelineOptions {
                shader_stage: stage,
                entry_point: "main".to_string(),
                multiview: None,
            };
            glsl::Writer::new(
                &mut out,
                &module,
                &info,
                &options,
                &pipeline,
                naga::proc::BoundsCheckPolicies::default(),
            )
            .and_then(|mut w| w.write().map(drop))
            .map_err(|e| format!("glsl: {e}"))
        }
    }
}

/// SPIR-V as wgpu's Vulkan backend writes it with runtime checks on: out-of-range indices
/// clamped (`Restrict`) in arrays and buffers.
fn spirv_options() -> spv::Options<'static> {
    let restrict = naga::proc::BoundsCheckPolicy::Restrict;
    spv::Options {
        bounds_check_policies: naga::proc::BoundsCheckPolicies {
            index: restrict,
            buffer: restrict,
            image_load: restrict,
            binding_array: naga::proc::BoundsCheckPolicy::Unchecked,
        },
        ..Default::default()
    }
}

/// The layout naga computes for the WGSL `struct Params` of a shader: `(field, offset)` in
/// declaration order, and the struct's size.
pub fn params_layout(shader: Shader) -> Result<(Vec<(String, u32)>, u32), String> {
    let (module, _) = parse_and_validate(shader)?;
    for (_, ty) in module.types.iter() {
        if ty.name.as_deref() == Some("Params")
            && let naga::TypeInner::Struct { members, span } = &ty.inner
        {
            let fields = members
                .iter()
                .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
                .collect();
            return Ok((fields, *span));
        }
    }
    Err(format!("{} has no struct Params", shader.file_name()))
}

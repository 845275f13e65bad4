//! Tensor cores: asking for cooperative matrices when the adapter has a configuration the
//! tensor-core kernel can use (`crate::kernels::coop_conv`), and recording it on the target.

use super::Gpu;
use crate::kernels::coop_conv::CoopConfig;

/// The features the tensor-core kernel needs: cooperative matrices, the subgroup builtins it
/// numbers its subgroups with, and f16 for its staged operands.
const NEEDED: wgpu::Features = wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX
    .union(wgpu::Features::SUBGROUP)
    .union(wgpu::Features::SHADER_F16);

/// The configuration `adapter` offers the kernel, if any.
pub(super) fn adapter_config(adapter: &wgpu::Adapter) -> Option<CoopConfig> {
    if !adapter.features().contains(NEEDED) {
        return None;
    }
    let info = adapter.get_info();
    CoopConfig::from_adapter(
        &adapter.cooperative_matrix_properties(),
        info.subgroup_min_size,
        info.subgroup_max_size,
    )
}

/// The extra features to request on `adapter` (none unless `wanted` and usable), and whether
/// experimental features must be enabled for them.
pub(super) fn request(adapter: &wgpu::Adapter, wanted: bool) -> (wgpu::Features, bool) {
    if wanted && adapter_config(adapter).is_some() {
        (NEEDED, true)
    } else {
        (wgpu::Features::empty(), false)
    }
}

/// The configuration a device created on `adapter` with `features` can use.
pub(super) fn device_config(
    adapter: &wgpu::Adapter,
    features: wgpu::Features,
) -> Option<CoopConfig> {
    adapter_config(adapter).filter(|_| features.contains(NEEDED))
}

/// One line listing `adapter`'s cooperative-matrix configurations, and the one wgconv uses.
pub(super) fn report(adapter: &wgpu::Adapter) -> String {
    let props = adapter.cooperative_matrix_properties();
    let has = adapter
        .features()
        .contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX);
    let list = props
        .iter()
        .map(|p| {
            format!(
                "{}x{}x{} {:?}*{:?}+{:?}{}",
                p.m_size,
                p.n_size,
                p.k_size,
                p.ab_type,
                p.ab_type,
                p.cr_type,
                if p.saturating_accumulation {
                    " (saturating)"
                } else {
                    ""
                }
            )
        })
        .collect::<Vec<_>>();
    let used = match adapter_config(adapter) {
        Some(c) => format!(
            "used: 16x16x16 F16*F16+F32, subgroup size {}",
            c.subgroup_size
        ),
        None => "not used".into(),
    };
    format!(
        "cooperative matrix {}: [{}], {used}",
        if has { "yes" } else { "no" },
        list.join(", ")
    )
}

impl Gpu {
    /// The cooperative-matrix configuration this device's kernels may use (requested when the
    /// adapter offers one the tensor-core kernel serves and [`super::GpuOptions::tensor_cores`]
    /// is on), whatever the precision; see [`Gpu::uses_tensor_cores`].
    pub fn tensor_cores(&self) -> Option<CoopConfig> {
        self.target.coop
    }

    /// True when this handle's convolutions may run on tensor cores: the device has them and
    /// the precision is f16, or f32 with the opt-in ([`Gpu::with_f32_tensor_cores`]).
    pub fn uses_tensor_cores(&self) -> bool {
        self.target.tensor_cores().is_some()
    }

    /// Whether this handle lets f32 convolutions use tensor cores (operands rounded to f16).
    pub fn f32_tensor_cores(&self) -> bool {
        self.target.f32_tensor_cores
    }

    /// A handle on the same device whose f32 convolutions may run on tensor cores, rounding
    /// operands to f16 while staging (sums stay f32): off by default, like PyTorch's
    /// `allow_tf32`. Without usable tensor cores this changes nothing.
    pub fn with_f32_tensor_cores(&self, on: bool) -> Gpu {
        let mut g = self
            .with_precision(self.precision)
            .expect("a handle supports its own precision");
        g.target = g.target.with_f32_tensor_cores(on);
        g
    }
}

//! The fixed battery of kernel problems `wgconv validate` runs on every adapter: each kernel
//! family on ordinary and awkward shapes (odd sizes, non-multiples of tiles, large dilation,
//! groups, batch > 1), checked against the CPU reference. One file per kernel family; the
//! runners they share are in `run`.

use crate::compare::Tolerance;
use crate::device::Gpu;
use crate::error::Result;
use crate::precision::Precision;
use crate::tensor::Tensor;

mod algorithm;
mod conv;
mod conv_transpose;
mod depthwise;
mod eltwise;
mod f16;
mod matmul;
mod norm;
mod pool;
mod rearrange;
mod reduce;
mod resize;
mod run;
mod softmax;

pub use f16::f16_cases;

/// What a case produces: the GPU result, the reference, and the tolerance between them.
pub struct Outcome {
    /// GPU output.
    pub got: Tensor,
    /// CPU reference output.
    pub want: Tensor,
    /// Accepted difference.
    pub tolerance: Tolerance,
}

type Runner = Box<dyn Fn(&Gpu) -> Result<Outcome> + Send + Sync>;

/// One problem of the battery. Families ending in `f16` or `f16-acc32` (see [`f16_cases`])
/// run only on adapters with `SHADER_F16`.
pub struct Case {
    /// Kernel family (`conv`, `depthwise`, ...).
    pub family: &'static str,
    /// Problem description.
    pub name: String,
    /// Runs it on an adapter.
    pub run: Runner,
}

impl Case {
    /// True for the f16 cases, which need an adapter with `SHADER_F16`.
    pub fn needs_shader_f16(&self) -> bool {
        Precision::ALL
            .iter()
            .any(|p| p.is_f16() && self.family.ends_with(p.name()))
    }
}

fn exact() -> Tolerance {
    Tolerance {
        atol: 0.0,
        rtol: 0.0,
    }
}

/// Every case of the battery, family by family (the order `wgconv validate` reports them in).
pub fn cases() -> Vec<Case> {
    [
        conv::cases(),
        depthwise::cases(),
        algorithm::cases(),
        conv_transpose::cases(),
        matmul::cases(),
        rearrange::cases(),
        pool::cases(),
        resize::cases(),
        softmax::cases(),
        reduce::cases(),
        norm::cases(),
        eltwise::cases(),
        f16_cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

//! The built-in default job: run kernels on the GPU and check them against the CPU reference.

use std::time::Instant;

use crate::compare::{Tolerance, compare};
use crate::device::Gpu;
use crate::error::Result;
use crate::kernels::eltwise;
use crate::ops::Activation;
use crate::reference;
use crate::tensor::Tensor;

/// Runs the default job and returns a human-readable report.
pub fn run_default() -> Result<String> {
    let gpu = Gpu::new()?;
    let mut lines = vec![format!("adapter: {}", gpu.describe())];
    let x = Tensor::random(vec![1, 64, 56, 56], 42);
    let input = gpu.upload(&x)?;
    let out = gpu.zeros(x.shape())?;
    for act in Activation::all() {
        let d = eltwise::unary(&gpu, act, input.binding(), out.binding(), x.numel())?;
        let t0 = Instant::now();
        gpu.submit(&[&d])?;
        let got = gpu.download(&out)?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        let c = compare(
            got.data(),
            reference::eltwise::unary(act, &x).data(),
            Tolerance::elementwise(),
        );
        lines.push(format!(
            "{:<12} {:?} {:>8.3} ms  max abs err {:.2e}  {}",
            act.name(),
            x.shape(),
            ms,
            c.max_abs,
            if c.passed() { "ok" } else { "FAIL" }
        ));
    }
    Ok(lines.join("\n"))
}

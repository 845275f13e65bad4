//! `wgconv summary` and `wgconv info`: a model's layer table and the adapters found.

use crate::model::{self as cli_model, ModelSource};
use wgconv::{Gpu, Result};

use crate::args::parse_shapes;

pub(crate) fn summary_cmd(model: &str, shapes: &[String], torchsummary: bool) -> Result<String> {
    let g = cli_model::load(&ModelSource::parse(model, None), &parse_shapes(shapes)?)?;
    let s = wgconv::summary::Summary::of(&g);
    Ok(if torchsummary {
        s.torchsummary()
    } else {
        s.to_string()
    })
}

pub(crate) fn info() -> Result<String> {
    let mut out = String::new();
    let adapters = wgconv::device::enumerate_adapters(None);
    if adapters.is_empty() {
        return Err(Gpu::new()
            .err()
            .unwrap_or_else(|| wgconv::Error::NoAdapter {
                tried: "all".into(),
                filter: String::new(),
                hint: "install a Vulkan/Metal/DX12 driver (on Linux: mesa-vulkan-drivers)",
            }));
    }
    for (i, a) in wgconv::device::adapter_reports(None)
        .into_iter()
        .enumerate()
    {
        out += &format!("[{i}] {a}\n");
    }
    let checks = wgconv::GpuOptions::from_env()?.shader_checks;
    out += &format!(
        "shader checks: {}; WGCONV_SHADER_CHECKS=checked keeps them everywhere\n",
        wgconv::validate::describe_checks(checks)
    );
    Ok(out)
}

//! `wgconv validate`: every kernel family against the CPU reference on this adapter.

use std::path::PathBuf;

use crate::model::{self as cli_model, ModelSource};
use wgconv::shaders::Shader;
use wgconv::{GpuOptions, Result};

use crate::args::{AdapterArgs, parse_shapes};
use crate::write_file;

/// Runs validation; `Ok((report, passed))`.
pub(crate) fn validate_cmd(
    filter: Option<String>,
    json: Option<PathBuf>,
    html: Option<PathBuf>,
    model: Option<String>,
    shapes: &[String],
    fault: Option<Shader>,
    adapter: &AdapterArgs,
) -> Result<(String, bool)> {
    let bisect = match &model {
        Some(m) => Some(cli_model::load(
            &ModelSource::parse(m, None),
            &parse_shapes(shapes)?,
        )?),
        None => None,
    };
    let env = GpuOptions::from_env()?;
    let backends = match &adapter.backend {
        Some(b) => Some(wgconv::device::parse_backend(b)?),
        None => env.backends,
    };
    let opts = wgconv::validate::ValidateOptions {
        backends,
        adapter_name: adapter.adapter.clone().or(env.adapter_name),
        filter,
        fault,
        bisect,
        shader_checks: env.shader_checks,
    };
    let bar = indicatif::ProgressBar::new_spinner();
    let report = wgconv::validate::run(&opts, &mut |r| {
        bar.set_message(format!("{} {}", r.family, r.case));
        bar.tick();
    });
    bar.finish_and_clear();
    if let Some(p) = &json {
        write_file(
            p,
            &serde_json::to_string_pretty(&report).expect("report serializes"),
        )?;
    }
    if let Some(p) = &html {
        write_file(p, &report.html())?;
    }
    Ok((report.table(), report.passed()))
}

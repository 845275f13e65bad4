//! `wgconv bench`: the layer and model benchmark suite.

use std::path::PathBuf;

use wgconv::bench::{self, BenchOptions, Suite};
use wgconv::{Precision, Result};

use crate::args::{AdapterArgs, AutotuneArgs};
use crate::write_file;

pub(crate) fn bench_cmd(
    suite: Option<PathBuf>,
    json: Option<PathBuf>,
    roofline: Option<PathBuf>,
    mut opts: BenchOptions,
    precision: Precision,
    autotune: AutotuneArgs,
    adapter: &AdapterArgs,
) -> Result<String> {
    let suite = match &suite {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| wgconv::Error::InvalidSetting {
                name: "suite",
                value: p.display().to_string(),
                reason: e.to_string(),
            })?;
            Suite::parse(&text, &p.display().to_string())?
        }
        None => Suite::builtin(),
    };
    if let Some(unknown) = opts.skip.iter().find(|s| {
        !suite.layers.iter().any(|l| &l.name == *s) && !suite.models.iter().any(|m| &m.name == *s)
    }) {
        return Err(wgconv::Error::InvalidSetting {
            name: "skip",
            value: unknown.clone(),
            reason: "no suite item has this name".into(),
        });
    }
    // Layers and sessions take their precision from the handle.
    let gpu = adapter.gpu()?.with_precision(precision)?;
    opts.autotune = autotune.enabled(&gpu);
    let bar = indicatif::ProgressBar::new(opts.selected(&suite).len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{pos}/{len} {wide_bar} {elapsed} {msg}")
            .expect("progress template"),
    );
    let report = bench::run(&gpu, &suite, &opts, &mut |p| match p {
        bench::Progress::Started(name) => bar.set_message(name.to_string()),
        bench::Progress::Layer(_) | bench::Progress::Model(_) => bar.inc(1),
    })?;
    bar.finish_and_clear();
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).expect("report serializes");
        std::fs::write(&path, text).map_err(|e| wgconv::Error::InvalidSetting {
            name: "json",
            value: path.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    if let Some(path) = roofline {
        write_file(&path, "roofline", &bench::roofline::svg(&report))?;
    }
    let mut table = format!("precision: {precision}\n{}", report.table());
    table += &format!(
        "autotune: {}\n",
        if opts.autotune {
            "on (convolutions use the fastest configuration timed on this adapter)"
        } else {
            "off (heuristic configurations)"
        }
    );
    Ok(table)
}

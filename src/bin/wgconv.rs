//! The `wgconv` command line. With no subcommand it runs the main job on a built-in default.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use wgconv::bench::{self, BenchOptions, Peak, Suite};
use wgconv::{Gpu, GpuOptions, Result};

#[derive(Parser)]
#[command(
    name = "wgconv",
    version,
    about = "GPU inference engine for convolutional networks (wgpu + WGSL)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Clone, Default)]
struct AdapterArgs {
    /// Backend: vulkan, gl, metal, dx12 (default: WGCONV_BACKEND, else the best found).
    #[arg(long)]
    backend: Option<String>,
    /// Part of the adapter name (default: WGCONV_ADAPTER).
    #[arg(long)]
    adapter: Option<String>,
}

impl AdapterArgs {
    fn gpu(&self) -> Result<Gpu> {
        let mut opts = GpuOptions::from_env()?;
        if let Some(b) = &self.backend {
            opts.backends = Some(wgconv::device::parse_backend(b)?);
        }
        if let Some(a) = &self.adapter {
            opts.adapter_name = Some(a.clone());
        }
        Gpu::with_options(&opts)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Check every kernel on every adapter (or the chosen ones) against the CPU reference, and
    /// translate every shader to SPIR-V, MSL, HLSL and GLSL. Exits non-zero on any failure.
    ///
    /// Example: wgconv validate --json validate.json --html validate.html
    Validate {
        /// Only cases whose family or name contains this (e.g. conv, pool).
        #[arg(long)]
        filter: Option<String>,
        /// Write the report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write a self-contained HTML report here.
        #[arg(long)]
        html: Option<PathBuf>,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// List every adapter wgpu finds, with backend, type, driver, features and key limits.
    ///
    /// Example: wgconv info
    Info,
    /// Time every layer of a benchmark suite and report GFLOP/s, GB/s and % of peak.
    ///
    /// Example: wgconv bench --json bench/results/my-gpu.json
    Bench {
        /// Suite file (default: the built-in copy of bench/suite.json).
        suite: Option<PathBuf>,
        /// Also write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Timed runs per item (>= 20 recommended).
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Untimed warm-up runs per item.
        #[arg(long, default_value_t = 5)]
        warmup: usize,
        /// Only items whose name contains this.
        #[arg(long)]
        filter: Option<String>,
        /// Peak FP32 GFLOP/s of the adapter (overrides the built-in table).
        #[arg(long)]
        peak_gflops: Option<f64>,
        /// Peak memory bandwidth in GB/s (overrides the built-in table).
        #[arg(long)]
        peak_gbs: Option<f64>,
        /// Time with host wall clock even when GPU timestamps are available.
        #[arg(long)]
        wall_clock: bool,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
}

fn info() -> Result<String> {
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
    Ok(out)
}

fn bench_cmd(
    suite: Option<PathBuf>,
    json: Option<PathBuf>,
    opts: BenchOptions,
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
    let gpu = adapter.gpu()?;
    let selected = suite
        .layers
        .iter()
        .filter(|l| {
            opts.filter
                .as_ref()
                .is_none_or(|f| l.name.contains(f.as_str()))
        })
        .count();
    let bar = indicatif::ProgressBar::new(selected as u64);
    let report = bench::run_layers(&gpu, &suite, &opts, &mut |r| {
        bar.set_message(r.name.clone());
        bar.inc(1);
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
    Ok(report.table())
}

fn write_file(path: &PathBuf, what: &'static str, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| wgconv::Error::InvalidSetting {
        name: what,
        value: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Runs validation; `Ok((report, passed))`.
fn validate_cmd(
    filter: Option<String>,
    json: Option<PathBuf>,
    html: Option<PathBuf>,
    adapter: &AdapterArgs,
) -> Result<(String, bool)> {
    let env = GpuOptions::from_env()?;
    let backends = match &adapter.backend {
        Some(b) => Some(wgconv::device::parse_backend(b)?),
        None => env.backends,
    };
    let opts = wgconv::validate::ValidateOptions {
        backends,
        adapter_name: adapter.adapter.clone().or(env.adapter_name),
        filter,
        fault: env.fault,
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
            "json",
            &serde_json::to_string_pretty(&report).expect("report serializes"),
        )?;
    }
    if let Some(p) = &html {
        write_file(p, "html", &report.html())?;
    }
    Ok((report.table(), report.passed()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Validate {
            filter,
            json,
            html,
            adapter,
        }) => {
            return match validate_cmd(filter, json, html, &adapter) {
                Ok((table, passed)) => {
                    print!("{table}");
                    if passed {
                        ExitCode::SUCCESS
                    } else {
                        eprintln!("wgconv: validation FAILED");
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("wgconv: error: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        None => wgconv::demo::run_default(),
        Some(Command::Info) => info(),
        Some(Command::Bench {
            suite,
            json,
            runs,
            warmup,
            filter,
            peak_gflops,
            peak_gbs,
            wall_clock,
            adapter,
        }) => {
            let peak = match (peak_gflops, peak_gbs) {
                (Some(gflops), Some(gbs)) => Some(Peak { gflops, gbs }),
                (Some(gflops), None) => Some(Peak {
                    gflops,
                    gbs: f64::NAN,
                }),
                (None, Some(gbs)) => Some(Peak {
                    gflops: f64::NAN,
                    gbs,
                }),
                (None, None) => None,
            };
            let opts = BenchOptions {
                warmup,
                runs: runs.max(1),
                peak,
                timestamps: !wall_clock,
                filter,
            };
            bench_cmd(suite, json, opts, &adapter)
        }
    };
    match result {
        Ok(report) => {
            print!("{report}");
            if !report.ends_with('\n') {
                println!();
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wgconv: error: {e}");
            ExitCode::FAILURE
        }
    }
}

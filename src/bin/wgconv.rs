//! The `wgconv` command line. With no subcommand it runs the main job on a built-in default.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use std::time::Instant;

use wgconv::Tensor;
use wgconv::bench::{self, BenchOptions, Peak, Suite};
use wgconv::cli_model::{self, ModelSource};
use wgconv::tune::GpuTuner;
use wgconv::{Gpu, GpuOptions, Precision, Result};

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
    /// Do not load or save wgpu's pipeline cache file (default: WGCONV_PIPELINE_CACHE=0 also
    /// turns it off); the cache directory is WGCONV_CACHE_DIR, else ~/.cache/wgconv.
    #[arg(long)]
    no_pipeline_cache: bool,
}

#[derive(Args, Clone, Default)]
struct PrecisionArg {
    /// Storage / accumulation precision: f32, f16 (f16 storage and accumulation) or f16-acc32
    /// (f16 storage, f32 accumulation). f16 needs the adapter's shader-f16 feature.
    #[arg(long, default_value = "f32", value_parser = parse_precision)]
    precision: Precision,
}

fn parse_precision(s: &str) -> std::result::Result<Precision, String> {
    Precision::parse(s).map_err(|e| e.to_string())
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
        if self.no_pipeline_cache {
            opts.pipeline_cache = false;
        }
        Gpu::with_options(&opts)
    }
}

/// Autotuning switches (default: on for real GPUs, off on software rasterizers).
#[derive(Args, Clone, Copy, Default)]
struct AutotuneArgs {
    /// Time every convolution configuration the first time a shape is seen on this adapter
    /// and keep the fastest (remembered in the cache directory). Default on real GPUs.
    #[arg(long, conflicts_with = "no_autotune")]
    autotune: bool,
    /// Use the heuristic's configurations (deterministic; no timing at session build).
    /// Default on software adapters such as lavapipe, whose speed ranking means nothing.
    #[arg(long)]
    no_autotune: bool,
}

impl AutotuneArgs {
    fn enabled(self, gpu: &Gpu) -> bool {
        if self.autotune || self.no_autotune {
            return self.autotune;
        }
        gpu.adapter_info().device_type != wgpu::DeviceType::Cpu
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run an ONNX model or a built-in network on the GPU; write every output as NAME.npy.
    ///
    /// Examples:
    ///   wgconv run model.onnx --input input=image.npy --output-dir out/
    ///   wgconv run resnet18 --shape input=1x3x224x224 --runs 20
    Run {
        /// An .onnx file, or a zoo network (resnet18, resnet34, resnet50, mobilenet_v2,
        /// efficientnet_b0, squeezenet1_1, googlenet, shufflenet_v2_x1_0, cifar10_net).
        model: String,
        /// NAME=FILE.npy (float32, float64, int64 or int32); repeat per input. Without it,
        /// seeded random inputs of the model's shapes.
        #[arg(long = "input", value_name = "NAME=FILE.npy")]
        inputs: Vec<String>,
        /// NAME=1x3x224x224: fixes a (dynamic) input shape; for zoo networks, the input shape.
        #[arg(long = "shape", value_name = "NAME=SHAPE")]
        shapes: Vec<String>,
        /// safetensors file with PyTorch state_dict names (zoo networks only).
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Write outputs here as <output name>.npy.
        #[arg(long)]
        output_dir: Option<PathBuf>,
        /// Timed runs after the first.
        #[arg(long, default_value_t = 10)]
        runs: usize,
        #[command(flatten)]
        precision: PrecisionArg,
        #[command(flatten)]
        autotune: AutotuneArgs,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// Print a torchsummary-style table (layer, output shape, parameters, MACs) of an ONNX
    /// model or a built-in network.
    ///
    /// Example: wgconv summary cifar10_net
    Summary {
        /// An .onnx file or a zoo network name.
        model: String,
        /// NAME=1x3x224x224 for dynamic inputs (or the zoo input shape).
        #[arg(long = "shape", value_name = "NAME=SHAPE")]
        shapes: Vec<String>,
        /// Print exactly torchsummary's table (no MACs column).
        #[arg(long)]
        torchsummary: bool,
    },
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
        /// Also bisect this network (an .onnx file or a zoo name) node by node on each adapter
        /// and report the first node whose output leaves tolerance.
        #[arg(long)]
        model: Option<String>,
        /// NAME=1x3x224x224 input shapes for --model.
        #[arg(long = "shape", value_name = "NAME=SHAPE")]
        shapes: Vec<String>,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// List every adapter wgpu finds, with backend, type, driver, features and key limits.
    ///
    /// Example: wgconv info
    Info,
    /// Time every layer and network of a benchmark suite and report GFLOP/s, GB/s, % of
    /// peak, and for networks images/s and cold-start (session creation) time.
    ///
    /// Example: wgconv bench --json bench/results/my-gpu.json --skip resnet50_b32
    Bench {
        /// Suite file (default: the built-in copy of bench/suite.json).
        suite: Option<PathBuf>,
        /// Also write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also write a roofline plot (SVG: arithmetic intensity vs GFLOP/s, log-log, under
        /// the peak compute and bandwidth roofs) here.
        #[arg(long, value_name = "OUT.svg")]
        roofline: Option<PathBuf>,
        /// Timed runs per item (>= 20 recommended).
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Untimed warm-up runs per item.
        #[arg(long, default_value_t = 5)]
        warmup: usize,
        /// Only items whose name contains this.
        #[arg(long)]
        filter: Option<String>,
        /// Leave out the item with exactly this name (repeatable, or comma-separated).
        #[arg(long, value_delimiter = ',')]
        skip: Vec<String>,
        /// Only the suite's single layers.
        #[arg(long, conflicts_with = "models_only")]
        layers_only: bool,
        /// Only the suite's networks.
        #[arg(long)]
        models_only: bool,
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
        precision: PrecisionArg,
        #[command(flatten)]
        autotune: AutotuneArgs,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
}

fn parse_shapes(shapes: &[String]) -> Result<std::collections::HashMap<String, Vec<usize>>> {
    shapes
        .iter()
        .map(|s| {
            let (n, v) = cli_model::split_assignment("shape", s)?;
            Ok((n.to_string(), cli_model::parse_shape(v)?))
        })
        .collect()
}

fn summary_cmd(model: &str, shapes: &[String], torchsummary: bool) -> Result<String> {
    let g = cli_model::load(&ModelSource::parse(model, None), &parse_shapes(shapes)?)?;
    let s = wgconv::summary::Summary::of(&g);
    Ok(if torchsummary {
        s.torchsummary()
    } else {
        s.to_string()
    })
}

/// File-name-safe version of an output name (ONNX names contain '/' and ':').
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run_cmd(
    model: &str,
    inputs: &[String],
    shapes: &[String],
    weights: Option<&PathBuf>,
    output_dir: Option<&PathBuf>,
    runs: usize,
    precision: Precision,
    autotune: AutotuneArgs,
    adapter: &AdapterArgs,
) -> Result<String> {
    let mut shape_map = parse_shapes(shapes)?;
    let mut given = Vec::new();
    for a in inputs {
        let (name, file) = cli_model::split_assignment("input", a)?;
        let t = wgconv::npy::read(std::path::Path::new(file))?;
        shape_map
            .entry(name.to_string())
            .or_insert_with(|| t.shape().to_vec());
        given.push((name.to_string(), t));
    }
    let source = ModelSource::parse(model, weights.map(|p| p.as_path()));
    let graph = cli_model::load(&source, &shape_map)?;
    let gpu = std::sync::Arc::new(adapter.gpu()?.with_precision(precision)?);
    let tune = autotune.enabled(&gpu);
    let mut config = wgconv::SessionConfig {
        shared_gpu: Some(gpu.clone()),
        ..Default::default()
    };
    config.session.autotune = tune;
    let t0 = Instant::now();
    let session = wgconv::Session::from_graph(&graph, &config)?;
    let build_ms = t0.elapsed().as_secs_f64() * 1e3;
    // Unknown names first: a misspelt input would otherwise be reported as a missing one.
    let names: Vec<String> = session.inputs().into_iter().map(|(n, _)| n).collect();
    if let Some((extra, _)) = given.iter().find(|(n, _)| !names.contains(n)) {
        return Err(wgconv::Error::InvalidSetting {
            name: "input",
            value: extra.clone(),
            reason: format!("the model has no such input (inputs: {names:?})"),
        });
    }
    let mut feed = Vec::new();
    for (i, (name, shape)) in session.inputs().into_iter().enumerate() {
        match given.iter().position(|(n, _)| *n == name) {
            Some(k) => feed.push(given.remove(k)),
            None if inputs.is_empty() => feed.push((name, Tensor::random(shape, 1000 + i as u64))),
            None => {
                return Err(wgconv::Error::InvalidSetting {
                    name: "input",
                    value: name.clone(),
                    reason: format!("the model needs input {name:?} of shape {shape:?}"),
                });
            }
        }
    }
    let refs: Vec<(&str, &Tensor)> = feed.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let t1 = Instant::now();
    let outputs = session.run_named(&refs)?;
    let first_ms = t1.elapsed().as_secs_f64() * 1e3;
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        session.run_named(&refs)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let mut report = vec![
        format!("model: {model}"),
        format!("adapter: {}", gpu.describe()),
        format!("precision: {precision}"),
        format!(
            "session build {build_ms:.1} ms; first run {first_ms:.2} ms; {} dispatches, 1 submit per run",
            session.dispatch_count()
        ),
        format!("pipeline cache: {}", gpu.pipeline_cache_state()),
    ];
    if tune {
        let t = gpu.tuner().stats();
        report.push(format!(
            "autotune: on ({} shapes timed in {} runs, {} from the cache)",
            t.tuned, t.timing_runs, t.cache_hits
        ));
    } else {
        report.push("autotune: off (heuristic choices)".into());
    }
    if !times.is_empty() {
        report.push(format!(
            "latency over {} runs (upload + kernels + readback): median {:.3} ms, min {:.3} ms",
            times.len(),
            times[times.len() / 2],
            times[0]
        ));
    }
    if let Some(dir) = output_dir {
        std::fs::create_dir_all(dir).map_err(|e| wgconv::Error::InvalidSetting {
            name: "output-dir",
            value: dir.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    for (name, t) in &outputs {
        let (lo, hi) = t
            .data()
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let mut line = format!(
            "output {name:?}: shape {:?}, min {lo:.4}, max {hi:.4}",
            t.shape()
        );
        if let Some(dir) = output_dir {
            let path = dir.join(format!("{}.npy", file_stem(name)));
            wgconv::npy::write(&path, t)?;
            line += &format!(" -> {}", path.display());
        }
        report.push(line);
    }
    Ok(report.join("\n"))
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
    model: Option<String>,
    shapes: &[String],
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
        fault: env.fault,
        bisect,
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
            model,
            shapes,
            adapter,
        }) => {
            return match validate_cmd(filter, json, html, model, &shapes, &adapter) {
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
        Some(Command::Run {
            model,
            inputs,
            shapes,
            weights,
            output_dir,
            runs,
            precision,
            autotune,
            adapter,
        }) => run_cmd(
            &model,
            &inputs,
            &shapes,
            weights.as_ref(),
            output_dir.as_ref(),
            runs,
            precision.precision,
            autotune,
            &adapter,
        ),
        Some(Command::Summary {
            model,
            shapes,
            torchsummary,
        }) => summary_cmd(&model, &shapes, torchsummary),
        Some(Command::Info) => info(),
        Some(Command::Bench {
            suite,
            json,
            roofline,
            runs,
            warmup,
            filter,
            skip,
            layers_only,
            models_only,
            peak_gflops,
            peak_gbs,
            wall_clock,
            precision,
            autotune,
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
                skip,
                layers: !models_only,
                models: !layers_only,
                autotune: false,
            };
            bench_cmd(
                suite,
                json,
                roofline,
                opts,
                precision.precision,
                autotune,
                &adapter,
            )
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

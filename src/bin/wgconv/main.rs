//! The `wgconv` command line. With no subcommand it runs the main job on a built-in default.

mod args;
mod bench;
mod demo;
mod info;
mod model;
mod run;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wgconv::Result;
use wgconv::bench::{BenchOptions, Peak};
use wgconv::shaders::Shader;

use crate::args::{AdapterArgs, AutotuneArgs, PrecisionArg, fault_from_env, parse_fault};
use crate::bench::{BenchOutputs, bench_cmd, bench_model_cmd};
use crate::info::{info, summary_cmd};
use crate::run::{RunOptions, run_cmd};
use crate::validate::validate_cmd;

#[derive(Parser)]
#[command(
    name = "wgconv",
    version,
    about = "GPU inference engine for convolutional networks (wgpu + WGSL)",
    after_help = "Exit codes: 0 success, 1 validation found failures, 2 usage error, 3 model or input error, 4 no adapter or device error."
)]
struct Cli {
    /// More diagnostics on stderr: -v also shows wgpu's warnings, -vv debug messages
    /// (RUST_LOG, when set, decides instead).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run an ONNX model or a built-in network on the GPU; write every output as NAME.npy.
    ///
    /// Examples:
    ///   wgconv run model.onnx --input input=image.npy --output-dir out/
    ///   wgconv run resnet18 --shape input=1x3x224x224 --runs 20 --warmup 3 --top-k 5
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
        /// Timed runs after the first (default: run once and write the outputs); prints mean,
        /// stddev, min, p50, p90, p99 and throughput.
        #[arg(long, default_value_t = 0)]
        runs: usize,
        /// Untimed runs before the timed ones.
        #[arg(long, default_value_t = 0)]
        warmup: usize,
        /// Threads running the timed runs at once (>= 1): each thread's upload and recording
        /// overlap the others' GPU work; prints the throughput beside one-at-a-time latency.
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
        in_flight: u32,
        /// Print the top K classes of each [N, classes] output, after a softmax.
        #[arg(long, value_name = "K")]
        top_k: Option<usize>,
        /// Class names for --top-k, one per line.
        #[arg(long, value_name = "FILE", requires = "top_k")]
        labels: Option<PathBuf>,
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
        /// Plant a fault in this kernel family (a shader label: conv, matmul, eltwise, ...;
        /// default: WGCONV_FAULT), to check that validation catches a broken kernel.
        #[arg(long, value_name = "SHADER", value_parser = parse_fault)]
        fault: Option<Shader>,
        #[command(flatten)]
        adapter: AdapterArgs,
    },
    /// List every adapter wgpu finds, with backend, type, driver, features and key limits.
    ///
    /// Example: wgconv info
    Info,
    /// Time networks (ONNX files, zoo names) as `run --runs` does, and the layers and networks
    /// of benchmark suites (GFLOP/s, GB/s, % of peak, images/s, cold start).
    ///
    /// Examples:
    ///   wgconv bench model.onnx --shape input=8x3x224x224 --profile --memory --json out.json
    ///   wgconv bench resnet18 bench/suite.json --csv out.csv --baseline old.json
    ///   wgconv bench --json bench/results/my-gpu.json --skip resnet50_b32
    ///   wgconv bench --model resnet18 --shape x=1x3x224x224 --shape x=8x3x224x224
    Bench {
        /// Items: an .onnx file, a zoo network name, or a suite .json (none: the built-in
        /// copy of bench/suite.json).
        items: Vec<String>,
        /// Instead of the items, time this model (an .onnx file or a zoo network) at every
        /// --shape in one session (plans per shape, then reuses them).
        #[arg(long, conflicts_with = "items")]
        model: Option<String>,
        /// NAME=SHAPE: fixes a (dynamic) input of the network items (a zoo network's input
        /// under any name). With --model, repeat a name for the next shape to run
        /// (--shape x=1x3x224x224 --shape x=8x3x224x224).
        #[arg(long = "shape", value_name = "NAME=SHAPE")]
        shapes: Vec<String>,
        /// Also write the results, with the run's metadata, as JSON here (schema: README).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also write one CSV row per item here.
        #[arg(long, value_name = "OUT.csv")]
        csv: Option<PathBuf>,
        /// Compare with an earlier --json file: new/old time per item, matched by name.
        #[arg(long, value_name = "OLD.json")]
        baseline: Option<PathBuf>,
        /// Per-launch GPU time of each network item: the top launches by time, with share,
        /// bytes and FLOPs (all launches in the JSON).
        #[arg(long)]
        profile: bool,
        /// Launches listed in the --profile table.
        #[arg(long, default_value_t = 15, value_name = "N")]
        top: usize,
        /// Device bytes of each network item: activation arena, scratch, parameters,
        /// staging, peak.
        #[arg(long)]
        memory: bool,
        /// Also write a roofline plot (SVG: arithmetic intensity vs GFLOP/s, log-log, under
        /// the peak compute and bandwidth roofs) of the suite items here.
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

fn write_file(path: &PathBuf, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(wgconv::Error::io("writing", path))
}

/// Exit codes (README "Command line"): 0 success, 1 validation found failures, 2 usage error
/// (clap's own, and option values wgconv rejects), 3 model, input or file error (a bad
/// `--baseline` file too), 4 no adapter or a device error (limits, memory, loss).
fn exit_code(e: &wgconv::Error) -> ExitCode {
    use wgconv::Error as E;
    ExitCode::from(match e {
        E::InvalidSetting { name, .. }
            if !matches!(*name, "model" | "input" | "npy" | "weights" | "baseline") =>
        {
            2
        }
        E::NoAdapter { .. }
        | E::RequestDevice { .. }
        | E::Validation { .. }
        | E::OutOfMemory { .. }
        | E::DeviceLost { .. }
        | E::Readback(_)
        | E::MissingFeature { .. }
        | E::DeviceLimit { .. } => 4,
        _ => 3,
    })
}

fn error_exit(e: &wgconv::Error) -> ExitCode {
    eprintln!("wgconv: error: {e}");
    exit_code(e)
}

/// Without a Wayland session (neither variable set) Mesa's Vulkan WSI still tries to connect,
/// and libwayland prints "XDG_RUNTIME_DIR is invalid" for every device opened. An absolute
/// WAYLAND_DISPLAY naming nothing makes that probe fail quietly.
fn quiet_wayland_probe() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        // SAFETY: first thing in main, before any other thread exists.
        unsafe { std::env::set_var("WAYLAND_DISPLAY", "/nonexistent/wgconv-no-wayland-session") };
    }
}

/// The library reports through `log`: its warnings (a damaged cache file, skipped f16 cases)
/// reach stderr as `wgconv: ...`; other crates' (wgpu's) only with -v.
fn install_logger(verbose: u8) {
    use std::io::Write;
    let (ours, theirs) = match verbose {
        0 => (log::LevelFilter::Warn, log::LevelFilter::Off),
        1 => (log::LevelFilter::Info, log::LevelFilter::Warn),
        _ => (log::LevelFilter::Debug, log::LevelFilter::Debug),
    };
    env_logger::Builder::new()
        .filter_level(theirs)
        .filter_module("wgconv", ours)
        .parse_default_env()
        .format(|f, r| {
            if r.target().starts_with("wgconv") {
                writeln!(f, "wgconv: {}", r.args())
            } else {
                writeln!(f, "{} {}: {}", r.target(), r.level(), r.args())
            }
        })
        .init();
}

fn main() -> ExitCode {
    quiet_wayland_probe();
    let cli = Cli::parse();
    install_logger(cli.verbose);
    let result = match cli.command {
        Some(Command::Validate {
            filter,
            json,
            html,
            model,
            shapes,
            fault,
            adapter,
        }) => {
            let fault = match fault.map_or_else(fault_from_env, |f| Ok(Some(f))) {
                Ok(f) => f,
                Err(e) => return error_exit(&e),
            };
            return match validate_cmd(filter, json, html, model, &shapes, fault, &adapter) {
                Ok((table, passed)) => {
                    print!("{table}");
                    if passed {
                        ExitCode::SUCCESS
                    } else {
                        eprintln!("wgconv: validation FAILED");
                        ExitCode::from(1)
                    }
                }
                Err(e) => error_exit(&e),
            };
        }
        None => demo::run_default(),
        Some(Command::Run {
            model,
            inputs,
            shapes,
            weights,
            output_dir,
            runs,
            warmup,
            in_flight,
            top_k,
            labels,
            precision,
            autotune,
            adapter,
        }) => run_cmd(
            &model,
            &inputs,
            &shapes,
            weights.as_ref(),
            output_dir.as_ref(),
            &RunOptions {
                runs,
                warmup,
                in_flight: in_flight as usize,
                top_k,
                labels,
            },
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
            items,
            model,
            shapes,
            json,
            csv,
            baseline,
            profile,
            top,
            memory,
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
            if let Some(model) = model {
                bench_model_cmd(
                    &model,
                    &shapes,
                    &opts,
                    precision.precision,
                    autotune,
                    &adapter,
                )
            } else {
                let outputs = BenchOutputs {
                    json,
                    csv,
                    roofline,
                    baseline,
                    profile,
                    top,
                    memory,
                };
                bench_cmd(
                    &items,
                    &shapes,
                    &outputs,
                    opts,
                    precision.precision,
                    autotune,
                    &adapter,
                )
            }
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
        Err(e) => error_exit(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::exit_code;
    use std::process::ExitCode;
    use wgconv::Error as E;

    /// Model, input and file errors exit 3; device errors 4; rejected option values 2.
    #[test]
    fn each_error_kind_has_its_exit_code() {
        let s = String::new;
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let model_or_input = [
            E::UnsupportedOps { nodes: vec![] },
            E::UnsupportedOpset {
                opset: 99,
                supported: wgconv::onnx::OPSETS,
            },
            E::MalformedModel {
                what: s(),
                location: s(),
                source: None,
            },
            E::MissingInput {
                name: s(),
                expected: vec![],
            },
            E::UnknownInput {
                name: s(),
                known: vec![],
            },
            E::DuplicateInput { name: s() },
            E::CountMismatch {
                what: "input",
                expected: 1,
                got: 2,
            },
            E::ShapeMismatch {
                what: s(),
                expected: vec![1],
                got: vec![2],
            },
            E::Io {
                action: "reading",
                path: "m.onnx".into(),
                source: io(),
            },
            E::invalid_op("node", "bad"),
            E::InvalidSetting {
                name: "input",
                value: s(),
                reason: s(),
            },
        ];
        for e in &model_or_input {
            assert_eq!(exit_code(e), ExitCode::from(3), "{e:?}");
        }
        let device = [
            E::DeviceLimit {
                what: s(),
                limit_name: "max_buffer_size",
                limit: 1,
                needed: 2,
            },
            E::OutOfMemory {
                during: s(),
                message: s(),
            },
            E::DeviceLost { reason: s() },
        ];
        for e in &device {
            assert_eq!(exit_code(e), ExitCode::from(4), "{e:?}");
        }
        let usage = E::InvalidSetting {
            name: "shape",
            value: s(),
            reason: s(),
        };
        assert_eq!(exit_code(&usage), ExitCode::from(2));
    }
}

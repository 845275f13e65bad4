//! The `wgconv` command line, run as a user would.

use std::path::Path;

fn wgconv(args: &[&str]) -> (bool, String, String) {
    let (code, stdout, stderr) = wgconv_status(args);
    (code == Some(0), stdout, stderr)
}

#[test]
fn run_writes_outputs_matching_pytorch() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/mobilenet_v2_w05");
    let out_dir = std::env::temp_dir().join(format!("wgconv-cli-{}", std::process::id()));
    let input = format!("input={}", dir.join("input.npy").display());
    let (ok, stdout, stderr) = wgconv(&[
        "run",
        dir.join("model.onnx").to_str().unwrap(),
        "--input",
        &input,
        "--output-dir",
        out_dir.to_str().unwrap(),
        "--runs",
        "2",
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("latency") && stdout.contains("llvmpipe"),
        "{stdout}"
    );
    let got = wgconv::npy::read(&out_dir.join("output.npy")).unwrap();
    let want = wgconv::npy::read(&dir.join("output.npy")).unwrap();
    let c = wgconv::compare::compare(
        got.data(),
        want.data(),
        wgconv::compare::Tolerance {
            atol: 1e-4,
            rtol: 1e-3,
        },
    );
    assert!(c.passed(), "{c}");
    std::fs::remove_dir_all(out_dir).ok();
}

#[test]
fn run_zoo_network_with_random_input() {
    let (ok, stdout, stderr) = wgconv(&[
        "run",
        "cifar10_net",
        "--shape",
        "input=2x3x32x32",
        "--runs",
        "3",
        "--in-flight",
        "2",
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("shape [2, 10]"), "{stdout}");
    assert!(
        stdout.contains("throughput with 2 runs in flight:") && stdout.contains("over 3 runs"),
        "{stdout}"
    );
    let (ok, _, stderr) = wgconv(&["run", "cifar10_net", "--in-flight", "0"]);
    assert!(!ok && stderr.contains("--in-flight"), "{stderr}");
}

#[test]
fn summary_reproduces_seed_003() {
    let (ok, stdout, _) = wgconv(&["summary", "cifar10_net", "--torchsummary"]);
    assert!(ok);
    assert!(stdout.contains("Total params: 193,376"), "{stdout}");
    let (ok, stdout, _) = wgconv(&["summary", "resnet18"]);
    assert!(ok && stdout.contains("11,689,512"), "{stdout}");
}

#[test]
fn errors_exit_non_zero_with_a_message() {
    for args in [
        vec!["run", "missing.onnx"],
        vec!["run", "not_a_network"],
        vec!["run", "cifar10_net", "--input", "x=nope.npy"],
        vec!["run", "cifar10_net", "--shape", "input=1xbad"],
        vec!["summary", "no_such_model"],
    ] {
        let (ok, _, stderr) = wgconv(&args);
        assert!(!ok, "{args:?} succeeded");
        assert!(stderr.contains("wgconv: error:"), "{args:?}: {stderr}");
    }
}

#[test]
fn info_and_validate() {
    let (ok, stdout, _) = wgconv(&["info"]);
    assert!(
        ok && stdout.contains("Vulkan") && stdout.contains("max_storage_buffer_binding_size"),
        "{stdout}"
    );
    let (ok, stdout, stderr) =
        wgconv(&["validate", "--filter", "activation", "--backend", "vulkan"]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("0 failed"), "{stdout}");
    // "0 failed" also holds when the filter matches nothing: every activation must have run.
    let ran = stdout
        .lines()
        .filter(|l| l.split_whitespace().take(2).eq(["ok", "activation"]))
        .count();
    assert_eq!(ran, wgconv::ops::Activation::all().len(), "{stdout}");
}

fn wgconv_status(args: &[&str]) -> (Option<i32>, String, String) {
    crate::common::wgconv_cli(args, &[])
}

/// `run` runs once by default; `--runs` prints the statistics and `--top-k` the top classes;
/// a headless machine prints nothing but results.
#[test]
fn run_once_by_default_then_statistics_and_top_k() {
    let (code, stdout, stderr) = wgconv_status(&["run", "cifar10_net"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains("latency"),
        "timed without --runs:\n{stdout}"
    );
    assert!(stdout.contains("output"), "{stdout}");
    assert!(
        !stderr.contains("XDG_RUNTIME_DIR"),
        "probe noise:\n{stderr}"
    );
    let (code, stdout, stderr) = wgconv_status(&[
        "run",
        "cifar10_net",
        "--shape",
        "x=2x3x32x32",
        "--runs",
        "4",
        "--warmup",
        "1",
        "--top-k",
        "3",
    ]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    for want in [
        "over 4 runs",
        "mean",
        "stddev",
        "p50",
        "p90",
        "p99",
        "items/s at batch 2",
    ] {
        assert!(stdout.contains(want), "no {want:?} in\n{stdout}");
    }
    // Two items, three classes each, probabilities in descending order.
    let probs: Vec<f64> = stdout
        .lines()
        .filter(|l| l.contains(" top "))
        .map(|l| l.rsplit("p=").next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(probs.len(), 6, "{stdout}");
    for item in probs.chunks(3) {
        assert!(
            item.windows(2).all(|w| w[0] >= w[1]) && item[0] <= 1.0,
            "{item:?}"
        );
    }
}

/// Exit codes: 2 usage, 3 model, input or file, 1 validation failure (each error variant's
/// code is checked in the binary's unit test).
#[test]
fn exit_codes_tell_errors_apart() {
    assert_eq!(wgconv_status(&["run", "--no-such-flag"]).0, Some(2));
    assert_eq!(
        wgconv_status(&["run", "cifar10_net", "--shape", "x=1xq"]).0,
        Some(2)
    );
    assert_eq!(
        wgconv_status(&["run", "/nonexistent/model.onnx"]).0,
        Some(3)
    );
    assert_eq!(
        wgconv_status(&["run", "cifar10_net", "--input", "x=/nonexistent/x.npy"]).0,
        Some(3)
    );
    assert_eq!(
        wgconv_status(&["run", "cifar10_net", "--shape", "x=1x3"]).0,
        Some(3)
    );
    let (code, _, _) = crate::common::wgconv_cli(
        &["validate", "--filter", "matmul", "--backend", "vulkan"],
        &[("WGCONV_FAULT", "matmul".as_ref())],
    );
    assert_eq!(
        code,
        Some(1),
        "a planted fault (WGCONV_FAULT) must fail validation"
    );
    let planted = ["validate", "--filter", "matmul", "--backend", "vulkan"];
    let (code, stdout, stderr) = wgconv_status(&[&planted[..], &["--fault", "matmul"]].concat());
    assert_eq!(
        code,
        Some(1),
        "--fault must fail validation\n{stdout}\n{stderr}"
    );
    assert_eq!(
        wgconv_status(&["validate", "--fault", "nonesuch"]).0,
        Some(2)
    );
}

/// The library logs its warnings; the binary's logger prints them as `wgconv: ...` on stderr.
#[test]
fn library_warnings_reach_stderr_through_the_logger() {
    let dir = std::env::temp_dir().join(format!("wgconv-cli-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(wgconv::tune::CACHE_FILE), "not json").unwrap();
    let (code, _, stderr) = crate::common::wgconv_cli(
        &["run", "cifar10_net", "--autotune", "--backend", "vulkan"],
        &[("WGCONV_CACHE_DIR", dir.as_os_str())],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("wgconv: ignoring the autotuning cache"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

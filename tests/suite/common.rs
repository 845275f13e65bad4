//! Shared test helpers: one GPU context per test binary, running dispatches, comparing.

use std::sync::OnceLock;

use wgconv::compare::{Tolerance, compare};
use wgconv::device::Dispatch;
use wgconv::{Gpu, GpuOptions, GpuTensor, Tensor};

/// The test GPU (`WGCONV_BACKEND` / `WGCONV_ADAPTER` pick it). Fails loudly when there is
/// none: a GPU test that skips cannot fail.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(
        || match GpuOptions::from_env().and_then(|o| Gpu::with_options(&o)) {
            Ok(g) => {
                eprintln!("test adapter: {}", g.describe());
                g
            }
            Err(e) => panic!("GPU tests need an adapter (in CI: lavapipe): {e}"),
        },
    )
}

/// Uploads every tensor.
pub fn upload_all(ts: &[&Tensor]) -> Vec<GpuTensor> {
    ts.iter()
        .map(|t| gpu().upload(t).expect("upload"))
        .collect()
}

/// Submits one dispatch and downloads `out`.
pub fn run(d: &Dispatch, out: &GpuTensor) -> Tensor {
    let g = gpu();
    g.submit(&[d]).expect("submit");
    g.download(out).expect("download")
}

/// Panics with a full report when `got` is not within `tol` of `expected`.
pub fn assert_close(what: &str, got: &Tensor, expected: &Tensor, tol: Tolerance) {
    assert_eq!(got.shape(), expected.shape(), "{what}: shape");
    let c = compare(got.data(), expected.data(), tol);
    assert!(c.passed(), "{what}: {c} (tolerance {tol:?})");
}

/// Runs the `wgconv` binary with `args` and `envs`: its exit code (`None` when a signal ended
/// it), stdout and stderr.
pub fn wgconv_cli(
    args: &[&str],
    envs: &[(&str, &std::ffi::OsStr)],
) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wgconv"))
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("the wgconv binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

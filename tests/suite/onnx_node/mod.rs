//! The ONNX backend node tests (onnx/backend/test/data/node in the onnx wheel, fetched by
//! .ci/run): every test of a CNN op, run on the test GPU and compared with the recorded
//! outputs. The tests that do not pass are listed with a reason in
//! tests/onnx_node_expected_failures.txt; a new failure and an unexpected pass both fail, with
//! the lines to change. `WGCONV_ONNX_NODE_BLESS=1` rewrites the list instead.

mod case;
mod select;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use select::{FAMILIES, NodeTest, family, scan, select};

const ENV: &str = "WGCONV_ONNX_NODE_TESTS";
const EXPECTED: &str = "tests/onnx_node_expected_failures.txt";
/// onnx 1.22.0 ships 1765 node tests; fewer means a truncated or wrong folder.
const MIN_TESTS: usize = 1500;
/// The selection from onnx 1.22.0 is larger; fewer means the selection broke.
const MIN_SELECTED: usize = 300;

/// `WGCONV_ONNX_NODE_TESTS`, else where `.ci/run` unpacks the data by default.
fn data_root() -> PathBuf {
    let default = || {
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache/wgconv/onnx-1.22.0/onnx/backend/test/data/node"))
    };
    let dir = std::env::var_os(ENV)
        .map(PathBuf::from)
        .or_else(default)
        .unwrap_or_else(|| {
            panic!(
                "{ENV} is not set and there is no HOME: it must name onnx/backend/test/data/node \
                 from the onnx 1.22.0 wheel (.ci/run fetches it; see README.md, \"ONNX\")"
            )
        });
    assert!(
        dir.is_dir(),
        "{ENV}={}: not a folder (.ci/run fetches it)",
        dir.display()
    );
    dir
}

/// One line of the expectations file: `test_name<TAB>reason`, the reason on one short line.
fn line(name: &str, reason: &str) -> String {
    let flat: String = reason
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('\t', " ");
    let short: String = flat.chars().take(160).collect();
    format!("{name}\t{short}")
}

fn read_expected(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, reason) = l.split_once('\t').unwrap_or((l, ""));
            (name.trim().to_string(), reason.to_string())
        })
        .collect()
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string payload".into())
}

/// Runs one test, catching panics (they are failures like any other).
fn outcome(t: &NodeTest) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| case::run(&t.dir))) {
        Ok(r) => r,
        Err(p) => Err(format!("panic: {}", panic_text(&*p))),
    }
}

fn summary(tests: &[NodeTest], results: &[Result<(), String>]) {
    let mut per_op: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (t, r) in tests.iter().zip(results) {
        let e = per_op.entry(t.op.as_str()).or_default();
        e.0 += r.is_ok() as usize;
        e.1 += 1;
    }
    eprintln!("ONNX node tests, passed / selected by family:");
    for (fam, ops) in FAMILIES {
        let (mut p, mut n) = (0, 0);
        let mut parts = Vec::new();
        for op in *ops {
            if let Some(&(op_p, op_n)) = per_op.get(op) {
                p += op_p;
                n += op_n;
                parts.push(format!("{op} {op_p}/{op_n}"));
            }
        }
        eprintln!("  {fam:<15} {p:>4}/{n:<4} {}", parts.join(", "));
    }
    let passed = results.iter().filter(|r| r.is_ok()).count();
    eprintln!(
        "  total: {} selected, {passed} passed, {} failed",
        tests.len(),
        tests.len() - passed
    );
}

#[test]
fn onnx_backend_node_tests() {
    let root = data_root();
    let scanned = scan(&root);
    assert!(
        scanned.len() >= MIN_TESTS,
        "{}: {} node tests, expected at least {MIN_TESTS} (onnx 1.22.0 has 1765)",
        root.display(),
        scanned.len()
    );
    let (tests, excluded) = select(&scanned);
    assert!(
        tests.len() >= MIN_SELECTED,
        "only {} of {} node tests selected, expected at least {MIN_SELECTED}",
        tests.len(),
        scanned.len()
    );
    assert!(tests.iter().all(|t| family(&t.op).is_some()));

    let start = Instant::now();
    let results: Vec<Result<(), String>> = tests.iter().map(outcome).collect();
    let elapsed = start.elapsed();
    if std::env::var_os("WGCONV_ONNX_NODE_LIST").is_some() {
        for (t, r) in tests.iter().zip(&results) {
            let r = r.as_ref().err().map_or("pass", String::as_str);
            eprintln!("{}", line(&format!("{}\t{}", t.name, t.op), r));
        }
    }
    summary(&tests, &results);
    eprintln!(
        "  not selected: {} of another op, {} of a CNN op with other element types (of {} node tests)",
        excluded.other_op,
        excluded.other_types,
        scanned.len()
    );
    eprintln!("  ran in {:.1} s", elapsed.as_secs_f64());

    let failing: BTreeMap<String, String> = tests
        .iter()
        .zip(&results)
        .filter_map(|(t, r)| r.as_ref().err().map(|e| (t.name.clone(), e.clone())))
        .collect();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(EXPECTED);
    if std::env::var_os("WGCONV_ONNX_NODE_BLESS").is_some() {
        let text: String = failing.iter().map(|(n, r)| line(n, r) + "\n").collect();
        std::fs::write(&path, text).expect("write the expectations file");
        eprintln!("wrote {} lines to {}", failing.len(), path.display());
        return;
    }
    let expected = read_expected(&path);
    let selected: BTreeMap<&str, ()> = tests.iter().map(|t| (t.name.as_str(), ())).collect();
    let new: Vec<String> = failing
        .iter()
        .filter(|(n, _)| !expected.contains_key(*n))
        .map(|(n, r)| line(n, r))
        .collect();
    let stale: Vec<String> = expected
        .iter()
        .filter(|(n, _)| !failing.contains_key(*n))
        .map(|(n, r)| {
            let why = if selected.contains_key(n.as_str()) {
                "passes now"
            } else {
                "not a selected test"
            };
            format!("{n}\t{r}    <- {why}")
        })
        .collect();
    if !new.is_empty() {
        eprintln!(
            "{} NEW failure(s); fix them or add these lines to {EXPECTED}:",
            new.len()
        );
        for l in &new {
            eprintln!("{l}");
        }
    }
    if !stale.is_empty() {
        eprintln!(
            "{} listed test(s) do not fail (unexpected pass); remove these lines from {EXPECTED}:",
            stale.len()
        );
        for l in &stale {
            eprintln!("{l}");
        }
    }
    assert!(
        new.is_empty() && stale.is_empty(),
        "{EXPECTED} is out of date: {} new failure(s), {} unexpected pass(es) (lines above; \
         WGCONV_ONNX_NODE_BLESS=1 rewrites it)",
        new.len(),
        stale.len()
    );
}

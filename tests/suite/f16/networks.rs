//! Whole networks and sessions in f16: end-to-end error against the f64 reference under a
//! statistical tolerance, and memory use.

use super::*;

fn rms(t: &Tensor) -> f64 {
    (t.data().iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / t.numel().max(1) as f64).sqrt()
}

/// The tolerance for a whole network in f16, against the f64 reference on the *unrounded*
/// f32 weights and input (end to end, as a user sees it). Model (the f32 one of
/// `graph::cpu::network_tolerance`, made statistical in k): sigma is the largest activation RMS
/// in the network; rounding errors are independent with random signs, so variances add; layers
/// are normalised (He-scaled weights, calibrated BatchNorm), so an error passes through later
/// layers with gain about one. Per layer with k products:
/// - accumulation: the i-th addition errs by at most u_a times the running sum, whose RMS grows
///   like sqrt(i / k) sigma, so the sum's error has variance about u_a^2 sigma^2 k / 2
///   (u_a = 2^-11 for f16 accumulation, 2^-24 for f32);
/// - storage: the operands (each rounded to f16, relative error uniform in [-u, u], u = 2^-11)
///   perturb the sum by about u sigma sqrt(2/3), and the output's rounding by u sigma / sqrt(3):
///   variance about u^2 sigma^2.
///
/// Over the L layers of the longest path the variance is sigma^2 (u_a^2 sum k / 2 + u^2 L), with
/// sum k <= sqrt(L) * sqrt(sum k^2) (Cauchy-Schwarz; `Graph::accumulation_depth_rss` gives
/// sqrt(sum k^2)) and L at most the node count. The tolerance is 3 standard deviations, with a
/// relative u for the output's own rounding.
fn f16_network_tolerance(
    g: &wgconv::graph::Graph,
    values: &[Option<Tensor>],
    p: Precision,
) -> Tolerance {
    let d = g.accumulation_depth_rss().max(1.0);
    let sigma = values
        .iter()
        .flatten()
        .map(rms)
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let u = p.storage_roundoff();
    let ua = p.acc_roundoff();
    let layers = g.nodes().len() as f64;
    let variance = ua * ua * layers.sqrt() * d / 2.0 + u * u * layers;
    Tolerance {
        atol: 3.0 * sigma * variance.sqrt(),
        rtol: u,
    }
}

/// A whole network in f16 and f16-acc32 against the f64 CPU reference; prints the measured
/// errors next to f32's.
fn check_network(name: &str, input: &[usize]) {
    check_graph(
        &format!("{name} {input:?}"),
        zoo::build(name, input).unwrap(),
    );
}

/// [`check_network`] of a given graph.
fn check_graph(name: &str, g: wgconv::graph::Graph) {
    let (g, inputs) = crate::graph::initialised(g, 7);
    let values = wgconv::graph::cpu::run_all(&g, &inputs).unwrap();
    let want = values[g.outputs()[0].0].clone().unwrap();
    let scale = want.data().iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    for p in Precision::ALL {
        let opts = SessionOptions {
            precision: Some(p),
            ..Default::default()
        };
        let s = Session::with_options(gpu(), &g, opts).unwrap();
        assert_eq!(s.precision(), p);
        let got = s.run(&inputs).unwrap();
        let tol = match p {
            Precision::F32 => wgconv::graph::cpu::network_tolerance(&g, &values),
            _ => f16_network_tolerance(&g, &values, p),
        };
        let c = compare(got[0].data(), want.data(), tol);
        eprintln!(
            "{name} {p}: max abs err {:.3e} ({:.2e} of max |y| = {scale:.3}), atol {:.3e} (sigma {:.3}, sqrt(sum k^2) {:.0}, nodes {}), arena {} bytes",
            c.max_abs,
            c.max_abs / scale,
            tol.atol,
            values.iter().flatten().map(rms).fold(0.0f64, f64::max),
            g.accumulation_depth_rss(),
            g.nodes().len(),
            s.plan().arena_bytes
        );
        assert!(c.passed(), "{name} {p}: {c} ({tol:?})");
    }
}

#[test]
fn resnet18_32px_in_f16() {
    check_network("resnet18", &[1, 3, 32, 32]);
}

#[test]
fn cifar10_net_in_f16() {
    check_network("cifar10_net", &[2, 3, 32, 32]);
}

/// Channel slices of 8x8 planes: the run from channel 1 starts at byte 256 in f32 (a view)
/// but 128 in f16 (a copy); the one from channel 0 is a view in every precision.
#[test]
fn slice_views_in_f16() {
    let g = crate::views::cut(1, 8, 8, &[(1, 8), (0, 1)]);
    check_graph("slice views", g.clone());
    for p in Precision::ALL {
        let opts = SessionOptions {
            precision: Some(p),
            ..Default::default()
        };
        let s = Session::with_options(gpu(), &g, opts).unwrap();
        let (h, plan) = (s.graph(), s.plan());
        plan.verify(h).unwrap_or_else(|e| panic!("{p}: {e}"));
        let views: Vec<bool> = plan
            .steps
            .iter()
            .filter(|step| matches!(h.node(step.node).op, wgconv::graph::Op::Slice { .. }))
            .map(|step| step.launches.is_empty())
            .collect();
        assert_eq!(views, [p.elem_bytes() == 4, true], "{p}");
    }
}

/// Two convolutions written in place into their concat (the second chunk at byte 768 in f16,
/// 1536 in f32).
#[test]
fn concat_in_place_in_f16() {
    check_graph(
        "concat in place",
        crate::concat_in_place::pair(1, 8, 6, 10, false),
    );
}

/// f16 sessions use half the activation and parameter memory of f32 (plus each region's
/// 256-byte alignment).
#[test]
fn f16_session_halves_memory() {
    let g = zoo::cifar10_net(&[1, 3, 32, 32]).unwrap();
    let plan = |p| {
        let s = Session::with_options(
            gpu(),
            &g,
            SessionOptions {
                precision: Some(p),
                ..Default::default()
            },
        )
        .unwrap();
        (s.plan().arena_bytes, s.plan().param_bytes)
    };
    let (a32, p32) = plan(Precision::F32);
    let (a16, p16) = plan(Precision::F16);
    let half = |b16: u64, b32: u64| (b16 as f64) < 0.52 * b32 as f64;
    assert!(
        half(a16, a32) && half(p16, p32),
        "{a32} {p32} vs {a16} {p16}"
    );
}

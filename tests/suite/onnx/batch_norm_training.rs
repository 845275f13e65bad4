//! Training-mode BatchNormalization (opset 15) against an f64 oracle written from the ONNX
//! definition: Y from the batch mean and population variance over every axis but 1, and the
//! running statistics `input * momentum + batch * (1 - momentum)`.

use prost::Message;
use wgconv::onnx::proto::{ModelProto, NodeProto};
use wgconv::onnx::{ImportOptions, import_bytes};
use wgconv::session::Session;
use wgconv::tensor::Tensor;

use super::{attr_f, attr_i, check, model_at, node, value_info};
use crate::common::gpu;

/// (Y, running mean, running var) for `x` with per-channel parameters `p` (scale, bias,
/// mean, var).
fn oracle(x: &Tensor, p: &[Tensor], eps: f64, momentum: f64) -> [Tensor; 3] {
    let xs = x.shape();
    let c = xs[1];
    let inner: usize = xs[2..].iter().product();
    let of = |i: usize| (i / inner) % c;
    let n = (x.data().len() / c) as f64;
    let mut mean = vec![0f64; c];
    for (i, &v) in x.data().iter().enumerate() {
        mean[of(i)] += v as f64 / n;
    }
    let mut var = vec![0f64; c];
    for (i, &v) in x.data().iter().enumerate() {
        var[of(i)] += (v as f64 - mean[of(i)]).powi(2) / n;
    }
    let pv = |k: usize, ch: usize| p[k].data()[ch] as f64;
    let y = x
        .data()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let ch = of(i);
            ((v as f64 - mean[ch]) / (var[ch] + eps).sqrt() * pv(0, ch) + pv(1, ch)) as f32
        })
        .collect();
    let running = |k: usize, batch: &[f64]| {
        let v = (0..c)
            .map(|ch| (pv(k, ch) * momentum + batch[ch] * (1.0 - momentum)) as f32)
            .collect();
        Tensor::new(vec![c], v).unwrap()
    };
    [
        Tensor::new(xs.to_vec(), y).unwrap(),
        running(2, &mean),
        running(3, &var),
    ]
}

#[test]
fn training_batch_norm_uses_batch_statistics() {
    let names = ["s", "b", "m", "v"];
    for (case, xs) in [
        vec![2, 3, 4, 5],
        vec![3, 1, 7],
        vec![5, 2],
        vec![1, 4, 3, 2, 3],
    ]
    .into_iter()
    .enumerate()
    {
        let (eps, momentum) = (1e-2, 0.8);
        let c = xs[1];
        let n = NodeProto {
            attribute: vec![
                attr_i("training_mode", 1),
                attr_f("epsilon", eps),
                attr_f("momentum", momentum),
            ],
            ..node(
                "BatchNormalization",
                "bn",
                &["x", "s", "b", "m", "v"],
                &["y", "rm", "rv"],
            )
        };
        let dims: Vec<i64> = xs.iter().map(|&d| d as i64).collect();
        let mut infos = vec![value_info("x", &dims)];
        infos.extend(names.iter().map(|p| value_info(p, &[c as i64])));
        let bytes = model_at(15, vec![n], infos, vec![], "y");
        let mut m = ModelProto::decode(bytes.as_slice()).unwrap();
        let g = m.graph.as_mut().unwrap();
        g.output.push(value_info("rm", &[]));
        g.output.push(value_info("rv", &[]));
        let g = import_bytes(&m.encode_to_vec(), &ImportOptions::default()).unwrap();

        let seed = 10 * case as u64;
        let x = Tensor::random(xs.clone(), seed);
        // The variance input must be positive; the rest any values.
        let p: Vec<Tensor> = (0..4)
            .map(|k| {
                let (lo, hi) = if k == 3 { (0.1, 2.0) } else { (-1.0, 1.0) };
                Tensor::random_range(vec![c], seed + 1 + k as u64, lo, hi)
            })
            .collect();
        let mut feed = vec![("x", &x)];
        feed.extend(names.iter().copied().zip(&p));
        let got = Session::new(gpu(), &g).unwrap().run_named(&feed).unwrap();
        let want = oracle(&x, &p, eps as f64, momentum as f64);
        for ((name, got), want) in got.iter().zip(&want) {
            check(&format!("{xs:?} {name}"), got, want);
        }
        assert_eq!(got.len(), 3, "{xs:?}: outputs");
    }
}

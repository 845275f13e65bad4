//! Weight slots fed at run time (graph inputs rather than initializers): BatchNormalization,
//! Clip, Gemm and the affine normalisations give what the same model with initializers gives,
//! for every parameter fed and for mixes of fed and constant ones.

use wgconv::onnx::proto::{AttributeProto, NodeProto, TensorProto};
use wgconv::onnx::{ImportOptions, decode_tensor, import_bytes};
use wgconv::session::Session;
use wgconv::tensor::Tensor;

use super::{attr_f, attr_i, check, floats, model_at, node, scalar, value_info, weight};
use crate::common::gpu;

/// One node `op` over `x` and `params` (inputs 1.. in order).
struct Case {
    op: &'static str,
    opset: i64,
    attrs: Vec<AttributeProto>,
    x: Vec<usize>,
    params: Vec<TensorProto>,
}

impl Case {
    /// The output with the parameters named in `fed` given at run time, the rest initializers.
    fn run(&self, fed: &[&str]) -> Tensor {
        let names: Vec<&str> = self.params.iter().map(|t| t.name()).collect();
        let mut inputs = vec!["x"];
        inputs.extend(&names);
        let xs: Vec<i64> = self.x.iter().map(|&d| d as i64).collect();
        let mut infos = vec![value_info("x", &xs)];
        let mut init = Vec::new();
        let x = Tensor::random(self.x.clone(), 1);
        let mut feed = vec![("x".to_string(), x)];
        // Given shapes, as a scalar's declared `[]` reads as unknown.
        let mut opts = ImportOptions::default();
        for t in &self.params {
            if fed.contains(&t.name()) {
                infos.push(value_info(t.name(), &t.dims));
                let c = decode_tensor(t).unwrap();
                opts.input_shapes.insert(t.name().into(), c.shape.clone());
                feed.push((
                    t.name().into(),
                    Tensor::new(c.shape.clone(), c.as_f32()).unwrap(),
                ));
            } else {
                init.push(t.clone());
            }
        }
        let n = NodeProto {
            attribute: self.attrs.clone(),
            ..node(self.op, "n", &inputs, &["y"])
        };
        let bytes = model_at(self.opset, vec![n], infos, init, "y");
        let g = import_bytes(&bytes, &opts)
            .unwrap_or_else(|e| panic!("{} with {fed:?} fed: {e}", self.op));
        let feed: Vec<(&str, &Tensor)> = feed.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let s = Session::new(gpu(), &g).unwrap();
        s.run_named(&feed).unwrap().remove(0).1
    }

    /// Every subset in `fed` against all-constant parameters.
    fn check(&self, fed: &[&[&str]]) {
        let want = self.run(&[]);
        for f in fed {
            check(&format!("{} with {f:?} fed", self.op), &self.run(f), &want);
        }
    }
}

#[test]
fn batch_norm_with_runtime_parameters() {
    Case {
        op: "BatchNormalization",
        opset: 15,
        attrs: vec![attr_f("epsilon", 1e-2)],
        x: vec![2, 3, 4, 5],
        params: vec![
            weight("s", &[3], 2),
            weight("b", &[3], 3),
            weight("m", &[3], 4),
            floats("v", &[0.5, 1.0, 2.0]),
        ],
    }
    .check(&[&["s", "b", "m", "v"], &["s", "v"], &["m"], &["b"]]);
}

#[test]
fn clip_with_runtime_bounds() {
    Case {
        op: "Clip",
        opset: 13,
        attrs: vec![],
        x: vec![2, 3, 4],
        params: vec![scalar("lo", -0.3), scalar("hi", 0.4)],
    }
    .check(&[&["lo", "hi"], &["lo"], &["hi"]]);
    // min > max: every output is max.
    Case {
        op: "Clip",
        opset: 13,
        attrs: vec![],
        x: vec![5],
        params: vec![scalar("lo", 0.5), scalar("hi", -0.5)],
    }
    .check(&[&["lo", "hi"]]);
}

#[test]
fn gemm_with_runtime_b_and_c() {
    for (trans_b, b) in [(0, [5, 4]), (1, [4, 5])] {
        Case {
            op: "Gemm",
            opset: 13,
            attrs: vec![
                attr_i("transB", trans_b),
                attr_f("alpha", 0.5),
                attr_f("beta", 2.0),
            ],
            x: vec![3, 5],
            params: vec![weight("B", &b, 2), weight("C", &[4], 3)],
        }
        .check(&[&["B", "C"], &["B"], &["C"]]);
    }
}

#[test]
fn normalisations_with_runtime_affine() {
    Case {
        op: "LayerNormalization",
        opset: 17,
        attrs: vec![attr_i("axis", -1)],
        x: vec![2, 3, 5],
        params: vec![weight("s", &[5], 2), weight("b", &[5], 3)],
    }
    .check(&[&["s", "b"]]);
    Case {
        op: "InstanceNormalization",
        opset: 13,
        attrs: vec![],
        x: vec![2, 3, 4, 5],
        params: vec![weight("s", &[3], 2), weight("b", &[3], 3)],
    }
    .check(&[&["s", "b"], &["s"]]);
    // Per group before opset 21, per channel from it.
    for (opset, n) in [(18, 2), (21, 4)] {
        Case {
            op: "GroupNormalization",
            opset,
            attrs: vec![attr_i("num_groups", 2)],
            x: vec![2, 4, 3, 3],
            params: vec![weight("s", &[n], 2), weight("b", &[n], 3)],
        }
        .check(&[&["s", "b"], &["b"]]);
    }
}

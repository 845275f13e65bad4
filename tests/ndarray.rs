//! `Session::run_ndarray` (feature `ndarray`): a standard-layout view runs straight from its
//! memory and equals the owned run; a transposed view is copied into standard layout and
//! equals a run on that copy; outputs come back as arrays of the output shapes.

use ndarray::{ArrayD, IxDyn};
use wgconv::graph::{Conv2d, Graph};
use wgconv::ops::BinaryOp;
use wgconv::{Gpu, Session, Tensor, weights};

/// `y` = relu(conv(x)), `s` = x + z, with x and z `[2, 3, 5, 7]`.
fn graph() -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", &[2, 3, 5, 7]);
    let z = g.input("z", &[2, 3, 5, 7]);
    let c = g.conv2d(x, "conv", Conv2d::new(4, 3).pad(1)).unwrap();
    let y = g.relu(c).unwrap();
    let s = g.binary(BinaryOp::Add, x, z).unwrap();
    g.output_named(y, "y");
    g.output_named(s, "s");
    weights::init_seeded(&mut g, 1);
    g
}

fn array(t: &Tensor) -> ArrayD<f32> {
    ArrayD::from_shape_vec(IxDyn(t.shape()), t.data().to_vec()).unwrap()
}

#[test]
fn ndarray_views_equal_owned_tensors() {
    let gpu = Gpu::new().expect("GPU tests need an adapter (in CI: lavapipe)");
    let s = Session::new(&gpu, &graph()).unwrap();
    let x = Tensor::random(vec![2, 3, 5, 7], 2);
    let z = Tensor::random(vec![2, 3, 5, 7], 3);
    let owned = s.run_named(&[("x", &x), ("z", &z)]).unwrap();
    let (ax, az) = (array(&x), array(&z));
    let before = s.counters().bytes_uploaded;
    let got = s
        .run_ndarray(&[("z", az.view()), ("x", ax.view())])
        .unwrap();
    // Exactly the elements' bytes: no padding, no conversion.
    assert_eq!(
        s.counters().bytes_uploaded,
        before + 2 * 4 * x.numel() as u64
    );
    for ((wn, w), (gn, g)) in owned.iter().zip(&got) {
        assert_eq!(wn, gn);
        assert_eq!(g.shape(), w.shape());
        assert_eq!(g.as_slice().unwrap(), w.data(), "{gn}");
    }
    // z given as the transpose of its transpose: not standard layout, same values.
    let zt = az.t().as_standard_layout().into_owned();
    let back = zt.t();
    assert!(!back.is_standard_layout());
    let got = s.run_ndarray(&[("x", ax.view()), ("z", back)]).unwrap();
    assert_eq!(got[1].1.as_slice().unwrap(), owned[1].1.data());
    let e = s.run_ndarray(&[("x", ax.view())]).unwrap_err().to_string();
    assert!(e.contains("\"z\""), "{e}");
}

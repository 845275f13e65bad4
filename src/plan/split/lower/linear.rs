//! Linear layers: row ranges with the whole weight, else row blocks times output-feature
//! ranges.

use super::{Chunk, NodeViews, search};
use crate::error::Result;
use crate::ops::Activation;
use crate::plan::split::{Lowering, Part};

/// `y[rows, F] = act(x[rows, K] W[F, K]^T + b[F])`: row ranges with the whole weight; else
/// blocks of rows times ranges of output features (weight rows and bias follow; the output
/// block is strided, so it is staged unless it spans whole rows or one row).
pub(super) fn lower_linear(
    n: &NodeViews<'_>,
    l: &mut Lowering,
    activation: Activation,
) -> Result<()> {
    let out = &n.out.1;
    let x = &n.ins[0].1;
    let (m, k, f) = (x.dims[0], x.dims[1], out.dims[1]);
    let map = |r0: usize, r1: usize, f0: usize, f1: usize| {
        let mut params = vec![n.params[0].sub(&[f0, 0], &[f1, k])];
        if let Some(b) = n.params.get(1) {
            params.push(b.sub(&[f0], &[f1]));
        }
        Chunk {
            shapes: Vec::new(),
            ins: vec![x.sub(&[r0, 0], &[r1, k])],
            params,
            out: out.sub(&[r0, f0], &[r1, f1]),
        }
    };
    let fits = |c: &Chunk| {
        c.ins
            .iter()
            .chain(&c.params)
            .chain([&c.out])
            .all(|v| l.fits(v))
    };
    // Rows per block: as many as fit with the whole weight, else with one feature.
    let mut rb = search(m, &|r| fits(&map(0, r, 0, f)));
    let mut fb = f;
    if rb == 0 {
        rb = search(m, &|r| fits(&map(0, r, 0, 1)));
        fb = search(f, &|c| fits(&map(0, rb.max(1), 0, c)));
        // Fewer rows may allow longer feature ranges (fewer weight re-reads per row).
        if rb > 1 {
            let fb1 = search(f, &|c| fits(&map(0, 1, 0, c)));
            if fb == 0 || fb1 > 2 * fb {
                (rb, fb) = (1, fb1);
            }
        }
    }
    if rb == 0 || fb == 0 {
        return Err(n.unsplittable(l, &map(0, 1.min(m), 0, 1.min(f)), 1));
    }
    let (rb, fb) = (m.div_ceil(m.div_ceil(rb)), f.div_ceil(f.div_ceil(fb)));
    for r0 in (0..m).step_by(rb) {
        for f0 in (0..f).step_by(fb) {
            l.begin_chunk();
            let c = map(r0, (r0 + rb).min(m), f0, (f0 + fb).min(f));
            let xb = l.input(&c.ins[0]);
            let w = l.input(&c.params[0]);
            let bias = c.params.get(1).map(|v| l.input(v));
            let y = l.output(&c.out);
            l.launch(Part::Linear {
                x_shape: c.ins[0].dims.clone(),
                w_shape: c.params[0].dims.clone(),
                activation,
                x: xb,
                w,
                bias,
                out: y,
            });
        }
    }
    Ok(())
}

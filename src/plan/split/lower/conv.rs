//! Convolutions and transposed convolutions: batch ranges, then per image output-channel
//! ranges (whole groups when grouped), then input-channel chunks accumulated in staging slots.
//! A convolution's input scale (`Epilogue::input_scale`, `[N, C, 1, ..]`) is cut like its
//! input's images and channels, so each chunk scales exactly the channels it reads.

use super::{NodeViews, chans, first_image, search};
use crate::error::Result;
use crate::ops::{Activation, Epilogue};
use crate::plan::split::{Lowering, Part, View, boxes};

/// A transposed convolution with one image or its weight beyond the limit (groups = 1): per
/// image, output-channel ranges; the weight `[C, O, *k]` is read at columns `o0..o1` (staged).
pub(super) fn lower_conv_transpose(
    n: &NodeViews<'_>,
    l: &mut Lowering,
    spec: &crate::ops::ConvTransposeSpec,
    epilogue: Epilogue,
) -> Result<()> {
    let x = &n.ins[0].1;
    let out = &n.out.1;
    let residual = epilogue.residual.then(|| &n.ins[1].1);
    let w = &n.params[0];
    let (batch, o) = (out.dims[0], out.dims[1]);
    let image_ok = |v: &View| l.fits(&first_image(v));
    let cols = |a: usize, b: usize| {
        let mut lo = vec![0; w.dims.len()];
        let mut hi = w.dims.clone();
        (lo[1], hi[1]) = (a, b);
        w.sub(&lo, &hi)
    };
    if spec.conv.groups != 1 || !image_ok(x) {
        let (name, v) = if spec.conv.groups != 1 {
            ("weight".to_string(), w.clone())
        } else {
            (format!("{:?}", n.ins[0].0), first_image(x))
        };
        return Err(n.err(
            l.limit,
            &name,
            &format!(
                "{:?}: a transposed conv splits only by batch and, with one group, by output channels with a whole input image",
                v.dims
            ),
            l.bytes(v.numel()),
        ));
    }
    let ok = |u: usize| {
        l.fits(&chans(out, 0, 0, u))
            && l.fits(&cols(0, u))
            && residual.is_none_or(|r| l.fits(&chans(r, 0, 0, u)))
    };
    let lo = search(o, &ok);
    if lo == 0 {
        let v = chans(out, 0, 0, 1);
        return Err(n.err(
            l.limit,
            &format!("{:?}", n.out.0),
            &format!("{:?}: one output channel plane does not fit", v.dims),
            l.bytes(v.numel()),
        ));
    }
    let ou = o.div_ceil(o.div_ceil(lo));
    for i in 0..batch {
        for a in (0..o).step_by(ou) {
            let b = (a + ou).min(o);
            l.begin_chunk();
            let xv = chans(x, i, 0, x.dims[1]);
            let input = l.input(&xv);
            let wv = cols(a, b);
            let weight = l.input(&wv);
            let bias = n.params.get(1).map(|v| l.input(&v.sub(&[a], &[b])));
            let res = residual.map(|r| l.input(&chans(r, i, a, b)));
            let y = l.output(&chans(out, i, a, b));
            l.launch(Part::ConvTranspose {
                spec: spec.clone(),
                in_shape: xv.dims.clone(),
                w_shape: wv.dims.clone(),
                epilogue,
                input,
                weight,
                bias,
                residual: res,
                out: y,
            });
        }
    }
    Ok(())
}

/// Convolutions: see the module comment.
pub(super) fn lower_conv(
    n: &NodeViews<'_>,
    l: &mut Lowering,
    spec: &crate::ops::ConvSpec,
    epilogue: Epilogue,
) -> Result<()> {
    let x = &n.ins[0].1;
    let out = &n.out.1;
    // Inputs: x, the scale when fused, the residual when fused (weights are parameters here).
    let residual = epilogue.residual.then(|| &n.ins[n.ins.len() - 1].1);
    let scale = epilogue.input_scale.then(|| &n.ins[1].1);
    let w = &n.params[0];
    let bias = n.params.get(1);
    let (batch, c, o) = (x.dims[0], x.dims[1], out.dims[1]);
    let g = spec.groups;
    let (cg, og) = (c / g, o / g);
    let wrow = w.dims[1..].iter().product::<usize>(); // C/g * prod(kernel)
    let kk = wrow / cg.max(1);
    let out_plane: usize = out.dims[2..].iter().product();
    let whole = |v: &View| v.clone();
    let fits_all = |vs: &[&View]| vs.iter().all(|v| l.fits(v));

    // 1. Batch ranges with the whole weight.
    let params_fit = fits_all(&n.params.iter().collect::<Vec<_>>());
    let image = |v: &View, a: usize, b: usize| {
        let mut lo = vec![0; v.dims.len()];
        let mut hi = v.dims.clone();
        lo[0] = a;
        hi[0] = b;
        v.sub(&lo, &hi)
    };
    let batch_fits = |nb: usize| {
        let mut vs = vec![image(x, 0, nb), image(out, 0, nb)];
        if let Some(r) = residual {
            vs.push(image(r, 0, nb));
        }
        if let Some(s) = scale {
            vs.push(image(s, 0, nb));
        }
        params_fit && fits_all(&vs.iter().collect::<Vec<_>>())
    };
    if batch > 0 && batch_fits(1) {
        let bs = boxes(&out.dims, 0, None, l.align_elems(), &|lo, hi| {
            batch_fits(hi[0] - lo[0])
        })
        .expect("one image fits");
        for (lo, hi) in bs {
            l.begin_chunk();
            let xv = image(x, lo[0], hi[0]);
            let input = l.input(&xv);
            let weight = l.input(&whole(w));
            let b = bias.map(|v| l.input(v));
            let res = residual.map(|r| l.input(&image(r, lo[0], hi[0])));
            let sc = scale.map(|s| l.input(&image(s, lo[0], hi[0])));
            let y = l.output(&image(out, lo[0], hi[0]));
            l.launch(Part::Conv {
                spec: spec.clone(),
                in_shape: xv.dims.clone(),
                w_shape: w.dims.clone(),
                epilogue,
                input,
                weight,
                bias: b,
                residual: res,
                scale: sc,
                out: y,
            });
        }
        return Ok(());
    }

    let rows = |v: &View, a: usize, b: usize| {
        let mut lo = vec![0; v.dims.len()];
        let mut hi = v.dims.clone();
        (lo[0], hi[0]) = (a, b);
        v.sub(&lo, &hi)
    };
    let largest = |cands: Vec<(String, View)>, why: &str| {
        let (name, v) = cands
            .into_iter()
            .max_by_key(|(_, v)| v.extent())
            .expect("candidates");
        n.err(
            l.limit,
            &name,
            &format!("{:?}: {why}", v.dims),
            l.bytes(v.extent()),
        )
    };
    let xname = format!("{:?}", n.ins[0].0);
    let yname = format!("{:?}", n.out.0);

    let unit_ok = |u: usize, cin: usize, kin: usize| {
        // `u` output channels reading `cin` input channels through weight rows of `kin` taps.
        let mut vs = vec![
            chans(x, 0, 0, cin),
            chans(out, 0, 0, u),
            w.sub(&vec![0; w.dims.len()], &{
                let mut h = w.dims.clone();
                h[0] = u;
                h
            })
            .reshaped(&[u, wrow])
            .sub(&[0, 0], &[u, kin]),
        ];
        if let Some(r) = residual {
            vs.push(chans(r, 0, 0, u));
        }
        if let Some(s) = scale {
            vs.push(chans(s, 0, 0, cin));
        }
        fits_all(&vs.iter().collect::<Vec<_>>())
    };

    if g > 1 {
        // 2a. Grouped (incl. depthwise): ranges of whole groups per image.
        let groups = search(g, &|u| unit_ok(u * og, u * cg, wrow));
        if groups == 0 {
            return Err(largest(
                vec![
                    (xname, chans(x, 0, 0, cg)),
                    (yname, chans(out, 0, 0, og)),
                    ("weight".into(), rows(w, 0, og)),
                ],
                "one group of one image does not fit",
            ));
        }
        let groups = g.div_ceil(g.div_ceil(groups));
        for i in 0..batch {
            let mut a = 0;
            while a < g {
                let u = groups.min(g - a);
                l.begin_chunk();
                let xv = chans(x, i, a * cg, (a + u) * cg);
                let input = l.input(&xv);
                let wv = rows(w, a * og, (a + u) * og);
                let weight = l.input(&wv);
                let b = bias.map(|v| l.input(&v.sub(&[a * og], &[(a + u) * og])));
                let res = residual.map(|r| l.input(&chans(r, i, a * og, (a + u) * og)));
                let sc = scale.map(|s| l.input(&chans(s, i, a * cg, (a + u) * cg)));
                let y = l.output(&chans(out, i, a * og, (a + u) * og));
                l.launch(Part::Conv {
                    spec: spec.clone().groups(u),
                    in_shape: xv.dims.clone(),
                    w_shape: wv.dims.clone(),
                    epilogue,
                    input,
                    weight,
                    bias: b,
                    residual: res,
                    scale: sc,
                    out: y,
                });
                a += u;
            }
        }
        return Ok(());
    }

    // 2b. groups = 1: output-channel ranges, and input-channel (K) chunks when one image's
    // input does not fit.
    let cin = if l.fits(&chans(x, 0, 0, c)) {
        c
    } else {
        search(c, &|cc| l.fits(&chans(x, 0, 0, cc)))
    };
    if cin == 0 {
        return Err(largest(
            vec![(xname, chans(x, 0, 0, 1))],
            "one input channel plane of one image does not fit",
        ));
    }
    let cin = c.div_ceil(c.div_ceil(cin));
    // The weight chunk [u, cin*kk] is read from a window of u whole rows when staged.
    let ou = search(o, &|u| {
        unit_ok(u, cin, cin * kk) && (cin == c || l.fits(&rows(w, 0, u)))
    });
    if ou == 0 {
        return Err(largest(
            vec![
                (yname, chans(out, 0, 0, 1)),
                ("weight".into(), rows(w, 0, 1)),
            ],
            "one output channel plane or weight row does not fit",
        ));
    }
    let ou = o.div_ceil(o.div_ceil(ou));
    let ksteps = c.div_ceil(cin);
    for i in 0..batch {
        let mut a = 0;
        while a < o {
            let u = ou.min(o - a);
            l.begin_chunk();
            let yv = chans(out, i, a, a + u);
            // Partial sums ping-pong between two slots reserved first.
            let bytes = l.bytes(u * out_plane);
            let ping = (ksteps > 1).then(|| [l.scratch(bytes), l.scratch(bytes)]);
            let reserved = l.slots_used();
            let wr = rows(w, a, a + u).reshaped(&[u, wrow]);
            let mut k0 = 0;
            let mut step = 0;
            while k0 < c {
                // Each K step's staging reuses the same slots: steps run in order.
                l.rewind(reserved);
                let kc = cin.min(c - k0);
                let first = k0 == 0;
                let lastk = k0 + kc == c;
                let xv = chans(x, i, k0, k0 + kc);
                let input = l.input(&xv);
                let wv = wr.sub(&[0, k0 * kk], &[u, (k0 + kc) * kk]);
                let weight = l.input(&wv);
                let b = if first {
                    bias.map(|v| l.input(&v.sub(&[a], &[a + u])))
                } else {
                    None
                };
                let res = if first {
                    residual.map(|r| l.input(&chans(r, i, a, a + u)))
                } else {
                    ping.map(|p| p[(step + 1) % 2])
                };
                let sc = scale.map(|s| l.input(&chans(s, i, k0, k0 + kc)));
                let y = match ping {
                    Some(p) if !lastk => p[step % 2],
                    _ => l.output(&yv),
                };
                let mut w_shape = w.dims.clone();
                (w_shape[0], w_shape[1]) = (u, kc);
                l.launch(Part::Conv {
                    spec: spec.clone(),
                    in_shape: xv.dims.clone(),
                    w_shape,
                    epilogue: Epilogue {
                        activation: if lastk {
                            epilogue.activation
                        } else {
                            Activation::Identity
                        },
                        residual: res.is_some(),
                        input_scale: sc.is_some(),
                    },
                    input,
                    weight,
                    bias: b,
                    residual: res,
                    scale: sc,
                    out: y,
                });
                k0 += kc;
                step += 1;
            }
            a += u;
        }
    }
    Ok(())
}

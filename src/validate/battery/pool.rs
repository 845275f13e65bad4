//! Windowed and global pooling cases.

use super::Case;
use super::run::one_input_case;
use crate::compare::Tolerance;
use crate::kernels::pool;
use crate::ops::{PoolKind, PoolSpec};
use crate::reference;

pub(super) fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (kind, k, s, p, ceil, incl) in [
        (PoolKind::Max, 3, 2, 1, true, true),
        (PoolKind::Avg, 3, 2, 1, true, false),
        (PoolKind::Avg, 2, 3, 1, false, true),
    ] {
        let mut spec = PoolSpec::new(kind, k, s, p);
        spec.ceil_mode = ceil;
        spec.count_include_pad = incl;
        let (s1, s2, s3) = (spec.clone(), spec.clone(), spec);
        v.push(one_input_case(
            "pool",
            format!("{kind:?} k{k} s{s} p{p} ceil={ceil} include_pad={incl} [2,3,14,15]"),
            vec![2, 3, 14, 15],
            move |xs| s1.output_shape(xs),
            move |g, xs, x, out| g.encode(pool::pool(g.target(), &s2, xs, x, out)),
            move |x| reference::pool::pool(&s3, x),
            Tolerance::accumulation(k * k),
        ));
    }
    // 3-D (dilated Lp, video-sized) and 1-D (max indices) windows.
    let mut lp = PoolSpec::nd(PoolKind::Lp(3), 3, 3, 2, 1);
    lp.dilation = vec![2, 1, 1];
    let idx = PoolSpec::nd(
        PoolKind::MaxIndex {
            column_major: false,
        },
        1,
        4,
        3,
        2,
    );
    for (spec, shape) in [(lp, vec![2, 3, 7, 10, 9]), (idx, vec![2, 3, 50])] {
        let (s1, s2, s3) = (spec.clone(), spec.clone(), spec.clone());
        let tol = match spec.kind {
            PoolKind::Lp(p) => Tolerance::accumulation(spec.window() * p as usize),
            // Indices are exact integers.
            _ => Tolerance {
                atol: 0.0,
                rtol: 0.0,
            },
        };
        v.push(one_input_case(
            "pool",
            format!("{spec:?} {shape:?}"),
            shape,
            move |xs| s1.output_shape(xs),
            move |g, xs, x, out| g.encode(pool::pool(g.target(), &s2, xs, x, out)),
            move |x| reference::pool::pool(&s3, x),
            tol,
        ));
    }
    // A 5-D global Lp pool (video heads).
    v.push(one_input_case(
        "global_pool",
        "Lp(2) [2,5,3,7,7]".into(),
        vec![2, 5, 3, 7, 7],
        |_| Ok(vec![2, 5, 1, 1, 1]),
        |g, xs, x, out| g.encode(pool::global_pool(g.target(), PoolKind::Lp(2), xs, x, out)),
        |x| reference::pool::global_pool(PoolKind::Lp(2), x),
        Tolerance::accumulation(2 * 3 * 7 * 7),
    ));
    for kind in [PoolKind::Avg, PoolKind::Max] {
        v.push(one_input_case(
            "global_pool",
            format!("{kind:?} [2,5,23,29]"),
            vec![2, 5, 23, 29],
            |_| Ok(vec![2, 5, 1, 1]),
            move |g, xs, x, out| g.encode(pool::global_pool(g.target(), kind, xs, x, out)),
            move |x| reference::pool::global_pool(kind, x),
            Tolerance::accumulation(23 * 29),
        ));
    }
    v
}

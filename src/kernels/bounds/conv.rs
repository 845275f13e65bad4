//! The host half of `shaders/conv.wgsl`'s bounds proof (its header's "Unchecked because"),
//! read from the launch alone: the tiling overrides that size its private and workgroup
//! arrays, the geometry `Params` its gather and epilogue index with, the ALIGNED and IN_RANGE
//! flags' preconditions (re-derived, since the constants are the launch's), and the bindings.

use super::params;
use crate::error::{Error, Result};
use crate::kernels::conv::ConvParams;
use crate::kernels::{Binding, Launch};
use crate::precision::Precision;

/// The shader's `MAX_LOADS` (prefetch registers `w_reg`, `x_reg`).
const MAX_LOADS: u64 = 16;
/// Largest WG_M / WG_N accepted: far above any device's workgroup, small enough that no tile
/// size or index the shader forms from the constants wraps a u32.
const MAX_WG: u64 = 1024;

/// Fails unless every index conv.wgsl forms under `launch` is inside its array or binding.
pub(super) fn check<B: Binding>(launch: &Launch<B>, precision: Precision) -> Result<()> {
    let fail = |m: String| Err(Error::invalid_op("conv", m));
    let constant = |name: &str, default: f64| {
        launch
            .constants
            .iter()
            .find(|c| c.0 == name)
            .map_or(default, |c| c.1)
    };
    let p: ConvParams = params(launch)?;

    // Tiling: w_tile / x_tile slots and the loaders' rows stay inside the tiles only for
    // powers of two with RN | WG_M and (WG_M / RN) | TK; the loops fit MAX_LOADS registers.
    let [wg_m, wg_n, rm, rn, tk] = [
        ("WG_M", 16.0),
        ("WG_N", 16.0),
        ("RM", 4.0),
        ("RN", 4.0),
        ("TK", 16.0),
    ]
    .map(|(n, d)| constant(n, d));
    let whole = |v: f64, max: u64| (1.0..=max as f64).contains(&v) && v == v.trunc();
    let tiling_ok = whole(wg_m, MAX_WG) && whole(wg_n, MAX_WG) && whole(tk, MAX_WG * MAX_LOADS);
    let (wg_m, wg_n, rm, rn, tk) = (wg_m as u64, wg_n as u64, rm, rn, tk as u64);
    let block = |v: f64| v == 4.0 || v == 8.0;
    if !tiling_ok
        || !block(rm)
        || !block(rn)
        || wg_m < 4
        || wg_n < 4
        || !wg_m.is_power_of_two()
        || !wg_n.is_power_of_two()
        || rn as u64 > wg_m
        || !tk.is_multiple_of(wg_m / rn as u64)
    {
        return fail(format!(
            "tiling WG_M {wg_m} WG_N {wg_n} RM {rm} RN {rn} TK {tk}: powers of two >= 4, RM and RN 4 or 8, RN <= WG_M, TK a multiple of WG_M/RN"
        ));
    }
    let (rm, rn) = (rm as u64, rn as u64);
    let (w_loads, x_loads) = ((tk * rm).div_ceil(wg_n), tk * rn / wg_m);
    if w_loads.max(x_loads) > MAX_LOADS {
        return fail(format!(
            "{w_loads} weight and {x_loads} input loads per invocation exceed MAX_LOADS {MAX_LOADS}"
        ));
    }
    let mut flags = [false; 5];
    for (f, name) in
        flags
            .iter_mut()
            .zip(["ALIGNED", "IN_RANGE", "HAS_BIAS", "HAS_RESIDUAL", "PARTIAL"])
    {
        *f = match constant(name, 0.0) {
            0.0 => false,
            1.0 => true,
            v => return fail(format!("{name} is {v}, must be 0 or 1")),
        };
    }
    let [aligned, in_range, has_bias, has_residual, partial] = flags;
    if launch.workgroups == 0 {
        return Ok(());
    }

    // Geometry: every divisor nonzero, the odometer's radices (c_per_group, k_d, k_h, k_w)
    // those of K, and the groups inside the channels, so a decomposed (pixel, k) is in range.
    let w = |v: u32| v as u64;
    let m = |v: &[u64]| v.iter().fold(1u64, |a, &b| a.saturating_mul(b));
    let counts = [
        p.batch,
        p.in_c,
        p.in_d,
        p.in_h,
        p.in_w,
        p.out_c,
        p.out_d,
        p.out_h,
        p.out_w,
        p.groups,
        p.c_per_group,
        p.m_per_group,
        p.k_d,
        p.k_h,
        p.k_w,
        p.n_total,
        p.tiles_m,
        p.tiles_n,
        p.k_chunk,
        p.splits,
    ];
    if counts.contains(&0) {
        return fail(format!("zero extent in {counts:?}"));
    }
    let k_sp = m(&[w(p.k_d), w(p.k_h), w(p.k_w)]);
    let out_sp = m(&[w(p.out_d), w(p.out_h), w(p.out_w)]);
    let in_sp = m(&[w(p.in_d), w(p.in_h), w(p.in_w)]);
    // The odometer starts at k's digits and adds TK's digits (one carry each): it equals k's
    // decomposition only when tk_* are TK's and K is whole channels.
    let tk_digits = [
        tk / k_sp,
        tk / (w(p.k_h) * w(p.k_w)) % w(p.k_d),
        tk / w(p.k_w) % w(p.k_h),
        tk % w(p.k_w),
    ];
    if [p.tk_c, p.tk_z, p.tk_y, p.tk_x].map(w) != tk_digits
        || w(p.k_total) != m(&[w(p.c_per_group), k_sp])
        || w(p.groups) * w(p.c_per_group) > w(p.in_c)
        || w(p.groups) * w(p.m_per_group) > w(p.out_c)
        || w(p.n_total) > m(&[w(p.batch), out_sp])
    {
        return fail(format!(
            "geometry {p:?} is not TK {tk}'s odometer over whole channels, groups and pixels"
        ));
    }
    // k counts below k_total + TK (the last chunk's rows), and a split's range ends by
    // splits * k_chunk, both in u32 (so k_begin = split * k_chunk is a whole multiple).
    if w(p.k_total) + tk > u32::MAX as u64 || w(p.splits) * w(p.k_chunk) > u32::MAX as u64 {
        return fail(format!(
            "reduction {} + TK {tk} or {} splits of {} overflow the kernel's u32",
            p.k_total, p.splits, p.k_chunk
        ));
    }
    // ALIGNED drops the m, n and k guards: whole tiles inside M and N, whole TK chunks.
    let (tile_m, tile_n) = (rm * wg_m, rn * wg_n);
    if aligned
        && (w(p.tiles_m) * tile_m > w(p.m_per_group)
            || w(p.tiles_n) * tile_n > w(p.n_total)
            || !w(p.k_total).is_multiple_of(tk)
            || !w(p.k_chunk).is_multiple_of(tk))
    {
        return fail(format!(
            "ALIGNED needs whole {tile_m}x{tile_n} tiles and TK {tk} chunks, got {p:?}"
        ));
    }
    // IN_RANGE drops the coordinate guards: no start padding, and the last output's farthest
    // tap inside the input, with no i32 wrap on the way.
    if in_range {
        let dims = [
            (p.out_d, p.stride_d, p.pad_d, p.k_d, p.dil_d, p.in_d),
            (p.out_h, p.stride_h, p.pad_h, p.k_h, p.dil_h, p.in_h),
            (p.out_w, p.stride_w, p.pad_w, p.k_w, p.dil_w, p.in_w),
        ];
        for (out, stride, pad, k, dil, input) in dims {
            let far = (w(out) - 1)
                .saturating_mul(stride.max(0) as u64)
                .saturating_add((w(k) - 1).saturating_mul(dil.max(0) as u64));
            if pad != 0 || stride < 0 || dil < 0 || far >= w(input) || far > i32::MAX as u64 {
                return fail(format!(
                    "IN_RANGE needs no padding and taps inside the input, got {p:?}"
                ));
            }
        }
    }

    // Bindings: reaches are products of the extents above, so one below 2^32 bounds every
    // intermediate the shader forms of them (each a partial sum or a factor's prefix).
    let elems =
        |i: usize, unit: usize| launch.bindings.get(i).map_or(0, |b| b.size() / unit as u64);
    let need = |i: usize, what: &str, reach: u64, unit: usize| {
        let have = elems(i, unit);
        if reach > have || reach > u32::MAX as u64 {
            return fail(format!(
                "{what} binding holds {have} elements, the kernel reaches {reach}"
            ));
        }
        Ok(())
    };
    let e = precision.elem_bytes();
    let output = m(&[w(p.batch), w(p.out_c), out_sp]);
    need(0, "input", m(&[w(p.batch), w(p.in_c), in_sp]), e)?;
    need(
        1,
        "weight",
        m(&[w(p.groups), w(p.m_per_group), w(p.k_total)]),
        e,
    )?;
    if partial {
        return need(
            5,
            "partial",
            m(&[w(p.splits), output]),
            precision.acc_bytes(),
        );
    }
    if has_bias {
        need(2, "bias", w(p.groups) * w(p.m_per_group), e)?;
    }
    if has_residual {
        need(3, "residual", output, e)?;
    }
    need(4, "output", output, e)
}

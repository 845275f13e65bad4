//! The host half of `shaders/matmul.wgsl`'s bounds proof (see its header): the tiling
//! overrides that size its workgroup and private arrays, and every storage reach, read from
//! the launch's own `Params`, constants and binding sizes.

use crate::error::{Error, Result};
use crate::kernels::matmul::MatmulParams;
use crate::kernels::{Binding, Launch};
use crate::precision::Precision;

/// Values one invocation prefetches per operand (`MAX_LOADS`, the size of the shader's
/// private a_next / b_next).
const MAX_LOADS: u64 = 16;

/// Fails unless the GEMM `launch` stays inside its arrays and bindings. Bindings (after the
/// uniform): a, b, bias, residual, c (Elem), partial (Acc), b_scale (Elem).
pub(super) fn check<B: Binding>(launch: &Launch<B>, precision: Precision) -> Result<()> {
    let op = launch.shader.label();
    let fail = |m: String| Err(Error::invalid_op(op, m));
    let constant = |name: &str, default: f64| {
        launch
            .constants
            .iter()
            .find(|c| c.0 == name)
            .map_or(default, |c| c.1)
    };
    let flag = |name: &str, default: bool| match constant(name, if default { 1.0 } else { 0.0 }) {
        0.0 => Ok(false),
        1.0 => Ok(true),
        v => Err(Error::invalid_op(op, format!("{name} {v} must be 0 or 1"))),
    };
    let whole = |name: &str, default: f64, allowed: &dyn Fn(u64) -> bool| {
        let v = constant(name, default);
        if v >= 1.0 && v <= u32::MAX as f64 && v == v.trunc() && allowed(v as u64) {
            Ok(v as u64)
        } else {
            Err(Error::invalid_op(op, format!("{name} {v} is not allowed")))
        }
    };
    // The swizzle keeps slots within a row only when WG_X / WG_Y (hence the slot counts)
    // are powers of two; RM, RN, TILE_K as the host's tiling allows.
    let pow2 = |v: u64| v.is_power_of_two();
    let four_or_eight = |v: u64| v == 4 || v == 8;
    let wg_x = whole("WG_X", 16.0, &pow2)?;
    let wg_y = whole("WG_Y", 16.0, &pow2)?;
    let rm = whole("RM", 4.0, &four_or_eight)?;
    let rn = whole("RN", 4.0, &four_or_eight)?;
    let tk = whole("TILE_K", 16.0, &|v| v == 16 || v == 32)?;
    // Staged values e = lid + r * threads, r < loads, run below loads * threads = TILE_K *
    // tile only if the division is exact. RM, RN <= 8 keep acc's RM * RN / 4 vec4s within
    // its 16.
    let loads_ok =
        |along: u64, wg: u64| (along * tk).is_multiple_of(wg) && along * tk / wg <= MAX_LOADS;
    if !loads_ok(rm, wg_x) || !loads_ok(rn, wg_y) {
        return fail(format!(
            "tiling WG {wg_x}x{wg_y}, RM {rm}, RN {rn}, TILE_K {tk} overflows the private arrays"
        ));
    }
    let aligned = flag("ALIGNED", false)?;
    let has_bias = flag("HAS_BIAS", false)?;
    let per_row = flag("BIAS_PER_ROW", true)?;
    let has_residual = flag("HAS_RESIDUAL", false)?;
    let has_scale = flag("HAS_B_SCALE", false)?;
    let partial = flag("PARTIAL", false)?;

    let p: MatmulParams = super::params(launch)?;
    let w = |v: u32| v as u64;
    let (tile_m, tile_n) = (rm * wg_y, rn * wg_x);
    // Workgroups past splits * batch * tiles return first; nothing runs without one.
    let groups = [p.splits, p.batch, p.tiles_m, p.tiles_n]
        .iter()
        .fold(1u64, |a, &v| a.saturating_mul(w(v)));
    if groups == 0 {
        return Ok(());
    }
    // No u32 wraps: the workgroup count (so split < splits, batch entry < batch, tile row <
    // tiles_m, column < tiles_n), a tile's rows and columns, and K plus one chunk (gk, k0).
    let (rows_all, cols_all) = (w(p.tiles_m) * tile_m, w(p.tiles_n) * tile_n);
    let limit = u32::MAX as u64;
    if groups > limit || rows_all > limit || cols_all > limit || w(p.k) + tk > limit {
        return fail(format!(
            "{groups} workgroups, {rows_all} x {cols_all} tiled rows and columns or K {} overflow the shader's u32",
            p.k
        ));
    }
    if p.batch_inner == 0 {
        return fail("inner batch must be >= 1".into());
    }
    // ALIGNED drops the row, column and K guards: every row and column of every tile is
    // formed, and K chunks stay whole only when K and the split range are whole chunks.
    if aligned && (!w(p.k).is_multiple_of(tk) || !w(p.k_chunk).is_multiple_of(tk)) {
        return fail(format!(
            "ALIGNED needs K {} and split range {} to be multiples of TILE_K {tk}",
            p.k, p.k_chunk
        ));
    }
    let (rows, cols) = if aligned {
        (rows_all, cols_all)
    } else {
        (rows_all.min(w(p.m)), cols_all.min(w(p.n)))
    };
    // gk < k_end <= K in both variants.
    let k = w(p.k);
    // The highest batch indices: b_outer <= (batch - 1) / batch_inner, b_inner < both.
    let b_outer = (w(p.batch) - 1) / w(p.batch_inner);
    let b_inner = (w(p.batch_inner) - 1).min(w(p.batch) - 1);
    // One past base + (r - 1) * rs + (c - 1) * cs, 0 when r or c is 0. Every intermediate the
    // shader forms (base, products, partial sums) is a sum of these terms, so a reach within
    // the binding (checked below to be < 2^32) bounds them all.
    let reach = |bo: u32, bi: u32, r: u64, rs: u32, c: u64, cs: u32| {
        if r == 0 || c == 0 {
            return 0;
        }
        [(b_outer, bo), (b_inner, bi), (r - 1, rs), (c - 1, cs)]
            .iter()
            .map(|&(n, s)| n.saturating_mul(w(s)))
            .fold(1u64, u64::saturating_add)
    };
    let size = |i: usize, unit: usize| launch.bindings.get(i).map_or(0, |b| b.size() / unit as u64);
    let need = |i: usize, what: &str, unit: usize, reach: u64| {
        let held = size(i, unit);
        if reach > 0 && (held < reach || reach > limit) {
            return fail(format!(
                "{what} binding holds {held} elements, the kernel reaches {reach}"
            ));
        }
        Ok(())
    };
    let elem = precision.elem_bytes();
    need(0, "a", elem, reach(p.a_bo, p.a_bi, rows, p.a_rs, k, p.a_cs))?;
    need(1, "b", elem, reach(p.b_bo, p.b_bi, k, p.b_rs, cols, p.b_cs))?;
    if has_scale && cols > 0 {
        need(6, "b_scale", elem, reach(p.s_bo, p.s_bi, k, 1, 1, 0))?;
    }
    let c = reach(p.c_bo, p.c_bi, rows, p.c_rs, cols, p.c_cs);
    if partial {
        // Slice split < splits of the Acc partial sums; no epilogue reads.
        let slices = w(p.splits - 1).saturating_mul(w(p.c_split));
        let reach = if c == 0 { 0 } else { slices.saturating_add(c) };
        return need(5, "partial", precision.acc_bytes(), reach);
    }
    if has_bias {
        // Read only by a stored element, so only with a row and a column.
        let len = if per_row { rows } else { cols };
        let len = if rows == 0 || cols == 0 { 0 } else { len };
        need(2, "bias", elem, reach(p.bias_bo, p.bias_bi, 1, 0, len, 1))?;
    }
    if has_residual {
        need(3, "residual", elem, c)?;
    }
    need(4, "c", elem, c)
}

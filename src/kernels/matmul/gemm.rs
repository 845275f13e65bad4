//! The tiled strided batched GEMM kernel itself (`shaders/matmul.wgsl`): its problem
//! description through strides, its tiling, and its launch.

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, Launch, Target};
use crate::ops::Activation;
use crate::shaders::Shader;

use super::tiling::GemmTiling;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/matmul.wgsl`.
    pub struct MatmulParams {
        pub m: u32, pub n: u32, pub k: u32,
        pub batch: u32, pub batch_inner: u32,
        pub tiles_m: u32, pub tiles_n: u32,
        pub a_rs: u32, pub a_cs: u32, pub a_bo: u32, pub a_bi: u32,
        pub b_rs: u32, pub b_cs: u32, pub b_bo: u32, pub b_bi: u32,
        pub c_rs: u32, pub c_cs: u32, pub c_bo: u32, pub c_bi: u32,
        pub bias_bo: u32, pub bias_bi: u32,
        pub k_chunk: u32, pub splits: u32, pub c_split: u32,
        pub s_bo: u32, pub s_bi: u32, pub _pad0: u32, pub _pad1: u32,
    }
}

/// How one operand of the batched GEMM is laid out in its buffer, in elements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Layout {
    /// Stride between rows.
    pub(super) rs: usize,
    /// Stride between columns.
    pub(super) cs: usize,
    /// Stride between outer batch entries (0 broadcasts).
    pub(super) bo: usize,
    /// Stride between inner batch entries (0 broadcasts).
    pub(super) bi: usize,
}

impl Layout {
    /// Elements from the first to one past the last element touched by a `rows x cols` matrix
    /// at every batch index (0 when nothing is touched).
    pub(super) fn extent(&self, rows: usize, cols: usize, outer: usize, inner: usize) -> usize {
        if rows == 0 || cols == 0 || outer == 0 || inner == 0 {
            return 0;
        }
        (outer - 1) * self.bo
            + (inner - 1) * self.bi
            + (rows - 1) * self.rs
            + (cols - 1) * self.cs
            + 1
    }
}

/// A batched GEMM problem `C[b] = A[b] (m x k) * B[b] (k x n)`, batch `outer x inner`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Gemm {
    pub(super) m: usize,
    pub(super) n: usize,
    pub(super) k: usize,
    pub(super) outer: usize,
    pub(super) inner: usize,
    pub(super) a: Layout,
    pub(super) b: Layout,
    pub(super) c: Layout,
    /// `(per_row, outer stride, inner stride)` of the bias, when there is one.
    pub(super) bias: Option<(bool, usize, usize)>,
    /// `(outer stride, inner stride)` of B's row scales (`b_scale[b][k]`, unit stride along
    /// K), used when a scale is bound.
    pub(super) b_scale: (usize, usize),
}

/// Checks that a binding holds at least `elems` elements of the handle's precision.
fn check_binding<B: Binding>(
    target: &Target,
    op: &str,
    what: &str,
    r: &B,
    elems: usize,
) -> Result<()> {
    let need = target.elem_bytes(elems);
    if r.size() < need {
        return Err(Error::invalid_op(
            op,
            format!(
                "{what} binding holds {} bytes, the shapes need {need}",
                r.size()
            ),
        ));
    }
    Ok(())
}

/// True when the GEMM may run without bounds checks: M and N are whole tiles, and K is whole
/// chunks, so every split range (a multiple of the chunk, cut at K) is too. Then every row,
/// column and K index the shader forms lies inside the matrices, whose extents
/// [`check_binding`] has checked against the bindings.
pub(super) fn aligned(m: usize, n: usize, k: usize, t: &GemmTiling) -> bool {
    m.is_multiple_of(t.tile_m() as usize)
        && n.is_multiple_of(t.tile_n() as usize)
        && k.is_multiple_of(t.tk as usize)
}

/// Builds the dispatch of a validated GEMM problem.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm<B: Binding>(
    target: &Target,
    op: &str,
    g: &Gemm,
    act: Activation,
    a: B,
    b: B,
    bias: Option<B>,
    residual: Option<B>,
    b_scale: Option<B>,
    out: B,
    tiling: Option<GemmTiling>,
    splits: Option<u32>,
) -> Result<Launch<B>> {
    let (m, n, k, outer, inner) = (g.m, g.n, g.k, g.outer, g.inner);
    check_binding(target, op, "A", &a, g.a.extent(m, k, outer, inner))?;
    check_binding(target, op, "B", &b, g.b.extent(k, n, outer, inner))?;
    // The shader reads b_scale[b_outer * s_bo + b_inner * s_bi + k] for k < K only.
    let (s_bo, s_bi) = g.b_scale;
    let scale_extent = Layout {
        rs: 1,
        cs: 0,
        bo: s_bo,
        bi: s_bi,
    }
    .extent(k, 1, outer, inner);
    if let Some(s) = &b_scale {
        check_binding(target, op, "B scale", s, scale_extent)?;
    }
    let c_extent = g.c.extent(m, n, outer, inner);
    let n_splits = splits.unwrap_or(1) as usize;
    if n_splits == 0 {
        return Err(Error::invalid_op(op, "split-K needs at least one split"));
    }
    if splits.is_some() {
        // Split-K writes slice s of the partial sums (Acc) at s * c_extent.
        let need = (c_extent * n_splits * target.precision().acc_bytes()) as u64;
        if out.size() < need {
            return Err(Error::invalid_op(
                op,
                format!(
                    "partial-sum binding holds {} bytes, {n_splits} split(s) need {need}",
                    out.size()
                ),
            ));
        }
    } else {
        check_binding(target, op, "output", &out, c_extent)?;
    }
    if let Some(r) = &residual {
        check_binding(target, op, "residual", r, c_extent)?;
    }
    let (per_row, bias_bo, bias_bi) = g.bias.unwrap_or((true, 0, 0));
    if let Some(bb) = &bias {
        let len = if per_row { m } else { n };
        check_binding(
            target,
            op,
            "bias",
            bb,
            Layout {
                rs: 0,
                cs: 1,
                bo: bias_bo,
                bi: bias_bi,
            }
            .extent(1, len, outer, inner),
        )?;
    }

    let batch = outer * inner;
    let tiling = tiling.unwrap_or_else(|| GemmTiling::for_workload(m, n, batch));
    tiling.check(op, target.limits())?;
    let (tile_m, tile_n, tk) = (
        tiling.tile_m() as usize,
        tiling.tile_n() as usize,
        tiling.tk as usize,
    );
    let tiles_m = m.div_ceil(tile_m);
    let tiles_n = n.div_ceil(tile_n);
    // Split ranges are whole TILE_K chunks (see conv.rs).
    let k_chunk = k.div_ceil(n_splits).div_ceil(tk).max(1) * tk;
    let aligned = aligned(m, n, k, &tiling);
    let u = |what: &str, v: usize| to_u32(op, what, v);
    let params = MatmulParams {
        m: u("rows", m)?,
        n: u("columns", n)?,
        k: u("reduction length", k)?,
        batch: u("batch", batch)?,
        batch_inner: u("inner batch", inner.max(1))?,
        tiles_m: u("row tiles", tiles_m)?,
        tiles_n: u("column tiles", tiles_n)?,
        a_rs: u("A stride", g.a.rs)?,
        a_cs: u("A stride", g.a.cs)?,
        a_bo: u("A stride", g.a.bo)?,
        a_bi: u("A stride", g.a.bi)?,
        b_rs: u("B stride", g.b.rs)?,
        b_cs: u("B stride", g.b.cs)?,
        b_bo: u("B stride", g.b.bo)?,
        b_bi: u("B stride", g.b.bi)?,
        c_rs: u("C stride", g.c.rs)?,
        c_cs: u("C stride", g.c.cs)?,
        c_bo: u("C stride", g.c.bo)?,
        c_bi: u("C stride", g.c.bi)?,
        bias_bo: u("bias stride", bias_bo)?,
        bias_bi: u("bias stride", bias_bi)?,
        k_chunk: u("split range", k_chunk)?,
        splits: u("splits", n_splits)?,
        c_split: u("partial slice", c_extent)?,
        s_bo: u("B scale stride", s_bo)?,
        s_bi: u("B scale stride", s_bi)?,
        _pad0: 0,
        _pad1: 0,
    };
    // Every index the shader forms must fit its u32 arithmetic.
    for (what, e) in [
        ("A extent", g.a.extent(m, k, outer, inner)),
        ("B extent", g.b.extent(k, n, outer, inner)),
        ("C extent", c_extent * n_splits),
        ("B scale extent", scale_extent),
    ] {
        u(what, e)?;
    }

    let flag = |v: bool| if v { 1.0 } else { 0.0 };
    let mut constants = act.constants().to_vec();
    constants.extend([
        ("WG_X", tiling.wg_x as f64),
        ("WG_Y", tiling.wg_y as f64),
        ("RM", tiling.rm as f64),
        ("RN", tiling.rn as f64),
        ("TILE_K", tk as f64),
        ("ALIGNED", flag(aligned)),
        // Consecutive invocations load along whichever tile dimension is contiguous in memory.
        ("A_K_FAST", flag(g.a.cs == 1 || g.a.rs != 1)),
        ("B_K_FAST", flag(g.b.rs == 1 && g.b.cs != 1)),
        ("HAS_BIAS", flag(bias.is_some())),
        ("BIAS_PER_ROW", flag(per_row)),
        ("HAS_RESIDUAL", flag(residual.is_some())),
        ("HAS_B_SCALE", flag(b_scale.is_some())),
        ("PARTIAL", flag(splits.is_some())),
    ]);
    // Unused optional inputs are bound to A (read-only, so no usage conflict with the output).
    target.launch(
        Shader::Matmul,
        &constants,
        &params,
        // `partial` (binding 6, Acc) is `out` too: the partial-sum scratch under split-K.
        &[
            a,
            b,
            bias.unwrap_or(a),
            residual.unwrap_or(a),
            out,
            out,
            // Read only under HAS_B_SCALE: otherwise a 4-byte prefix of A, which binds (and
            // counts as bound) next to nothing.
            b_scale.unwrap_or(a.resized(a.size().min(4))),
        ],
        (n_splits * batch * tiles_m * tiles_n) as u64,
    )
}

/// Winograd's batched GEMM: for each of `points` transform points p, `M[p] = U[p] V[p]` with
/// `U` `[points, O, C]`, `V` `[points, C, P]`, `M` `[points, O, P]`, all dense.
#[allow(clippy::too_many_arguments)]
pub(crate) fn batched_gemm<B: Binding>(
    target: &Target,
    op: &str,
    (points, o, c, p): (usize, usize, usize, usize),
    u: B,
    v: B,
    m: B,
    tiling: Option<GemmTiling>,
) -> Result<Launch<B>> {
    let problem = Gemm {
        m: o,
        n: p,
        k: c,
        outer: points,
        inner: 1,
        a: Layout {
            rs: c,
            cs: 1,
            bo: o * c,
            bi: 0,
        },
        b: Layout {
            rs: p,
            cs: 1,
            bo: c * p,
            bi: 0,
        },
        c: Layout {
            rs: p,
            cs: 1,
            bo: o * p,
            bi: 0,
        },
        bias: None,
        b_scale: (0, 0),
    };
    gemm(
        target,
        op,
        &problem,
        Activation::Identity,
        u,
        v,
        None,
        None,
        None,
        m,
        tiling,
        None,
    )
}

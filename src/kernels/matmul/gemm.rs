//! The tiled strided batched GEMM kernel itself (`shaders/matmul.wgsl`): its problem
//! description through strides, its tiling, and its launch.

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, Launch, Target};
use crate::ops::Activation;
use crate::shaders::Shader;

/// Rows (and columns) each invocation accumulates in registers; fixed in the shader.
const REG_BLOCK: usize = 4;

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

/// Workgroup shape of the GEMM kernel: `wg_x x wg_y` invocations, each a 4x4 register block,
/// so a workgroup computes a `(4*wg_y) x (4*wg_x)` tile of C (rows x columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GemmTiling {
    /// Invocations along columns (N).
    pub wg_x: u32,
    /// Invocations along rows (M).
    pub wg_y: u32,
}

impl GemmTiling {
    /// 64x64 tiles by default, skinny or small tiles when a side of C is small, so that a
    /// Linear with batch 1 or a 1x1 conv on a 4x4 map does not idle most lanes.
    pub fn for_problem(m: usize, n: usize) -> Self {
        let (wg_x, wg_y) = if m <= 16 && n <= 16 {
            // Tiny (often heavily batched) products: one 16x16 tile, 16 invocations.
            (4, 4)
        } else if m <= 16 {
            (16, 4)
        } else if n <= 16 {
            (4, 16)
        } else {
            (16, 16)
        };
        Self { wg_x, wg_y }
    }

    /// Rows of C per workgroup.
    pub fn tile_m(&self) -> u32 {
        self.wg_y * REG_BLOCK as u32
    }

    /// Columns of C per workgroup.
    pub fn tile_n(&self) -> u32 {
        self.wg_x * REG_BLOCK as u32
    }

    /// Bytes of workgroup memory the shader declares (TILE_K = 16 rows of each operand tile,
    /// padded by one word).
    pub fn workgroup_bytes(&self) -> u64 {
        (16 * (self.tile_m() + 1) + 16 * (self.tile_n() + 1)) as u64 * 4
    }

    /// Checks the tiling against the device's limits.
    pub fn check(&self, op: &str, limits: &wgpu::Limits) -> Result<()> {
        if self.wg_x == 0 || self.wg_y == 0 {
            return Err(Error::invalid_op(op, format!("tiling {self:?} is empty")));
        }
        let threads = self.wg_x as u64 * self.wg_y as u64;
        for (name, limit, need) in [
            (
                "max_compute_invocations_per_workgroup",
                limits.max_compute_invocations_per_workgroup,
                threads,
            ),
            (
                "max_compute_workgroup_size_x",
                limits.max_compute_workgroup_size_x,
                self.wg_x as u64,
            ),
            (
                "max_compute_workgroup_size_y",
                limits.max_compute_workgroup_size_y,
                self.wg_y as u64,
            ),
            (
                "max_compute_workgroup_storage_size",
                limits.max_compute_workgroup_storage_size,
                self.workgroup_bytes(),
            ),
        ] {
            if need > limit as u64 {
                return Err(Error::DeviceLimit {
                    what: format!("{op} tiling {self:?}"),
                    limit_name: name,
                    limit: limit as u64,
                    needed: need,
                });
            }
        }
        Ok(())
    }
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
    out: B,
    tiling: Option<GemmTiling>,
    splits: Option<u32>,
) -> Result<Launch<B>> {
    let (m, n, k, outer, inner) = (g.m, g.n, g.k, g.outer, g.inner);
    check_binding(target, op, "A", &a, g.a.extent(m, k, outer, inner))?;
    check_binding(target, op, "B", &b, g.b.extent(k, n, outer, inner))?;
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

    let tiling = tiling.unwrap_or_else(|| GemmTiling::for_problem(m, n));
    tiling.check(op, target.limits())?;
    let (wg_x, wg_y) = (tiling.wg_x as usize, tiling.wg_y as usize);
    let tiles_m = m.div_ceil(REG_BLOCK * wg_y);
    let tiles_n = n.div_ceil(REG_BLOCK * wg_x);
    let batch = outer * inner;
    // Split ranges are whole TILE_K chunks (see conv.rs).
    let k_chunk = k.div_ceil(n_splits).div_ceil(16).max(1) * 16;
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
    };
    // Every index the shader forms must fit its u32 arithmetic.
    for (what, e) in [
        ("A extent", g.a.extent(m, k, outer, inner)),
        ("B extent", g.b.extent(k, n, outer, inner)),
        ("C extent", c_extent * n_splits),
    ] {
        u(what, e)?;
    }

    let flag = |v: bool| if v { 1.0 } else { 0.0 };
    let mut constants = act.constants().to_vec();
    constants.extend([
        ("WG_X", wg_x as f64),
        ("WG_Y", wg_y as f64),
        ("TILE_K", 16.0),
        // Consecutive invocations load along whichever tile dimension is contiguous in memory.
        ("A_K_FAST", flag(g.a.cs == 1 || g.a.rs != 1)),
        ("B_K_FAST", flag(g.b.rs == 1 && g.b.cs != 1)),
        ("HAS_BIAS", flag(bias.is_some())),
        ("BIAS_PER_ROW", flag(per_row)),
        ("HAS_RESIDUAL", flag(residual.is_some())),
        ("PARTIAL", flag(splits.is_some())),
    ]);
    // Unused optional inputs are bound to A (read-only, so no usage conflict with the output).
    target.launch(
        Shader::Matmul,
        &constants,
        &params,
        // `partial` (binding 6, Acc) is `out` too: the partial-sum scratch under split-K.
        &[a, b, bias.unwrap_or(a), residual.unwrap_or(a), out, out],
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
        m,
        tiling,
        None,
    )
}

//! Tilings of the GEMM kernel (`shaders/matmul.wgsl`): their shapes and limits, the ones worth
//! tuning over, and the heuristic's choice.

use crate::error::{Error, Result};
use crate::kernels::algorithm::TARGET_WORKGROUPS;

/// Most values one invocation prefetches per operand and chunk (`MAX_LOADS` in the shader).
const MAX_LOADS: u32 = 16;

/// Workgroup shape of the GEMM kernel: `wg_x x wg_y` invocations, each an `rm x rn` register
/// block, so a workgroup computes a `(rm*wg_y) x (rn*wg_x)` tile of C (rows x columns),
/// staging `tk` values of K per chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GemmTiling {
    /// Invocations along columns (N).
    pub wg_x: u32,
    /// Invocations along rows (M).
    pub wg_y: u32,
    /// Rows of C per invocation (4 or 8).
    pub rm: u32,
    /// Columns of C per invocation (4 or 8).
    pub rn: u32,
    /// K values per staged chunk (16 or 32).
    pub tk: u32,
}

impl GemmTiling {
    /// `wg_x x wg_y` invocations with 4x4 register blocks and 16-long K chunks.
    pub const fn new(wg_x: u32, wg_y: u32) -> Self {
        Self {
            wg_x,
            wg_y,
            rm: 4,
            rn: 4,
            tk: 16,
        }
    }

    /// [`Self::for_workload`] for one `m x n` product.
    pub fn for_problem(m: usize, n: usize) -> Self {
        Self::for_workload(m, n, 1)
    }

    /// The heuristic's tiling for `batch` products of `m x n`, reasoned for a GPU with ~100+
    /// compute units (never timed on a software adapter):
    /// - a side of C up to 16: small or skinny 4x4-block tiles, so that a Linear with batch 1
    ///   or a 1x1 conv on a 4x4 map does not idle most lanes;
    /// - the biggest of 128x128 (8x8 blocks: 64 FMAs per 4 shared vec4 loads), 128x64 / 64x128
    ///   (8x4 / 4x8 along the longer side: 32 per 3) and 64x64 (4x4: 16 per 2) that fits
    ///   inside C and still launches [`TARGET_WORKGROUPS`] workgroups, so a large GPU stays
    ///   full; all with 16-long chunks, within WebGPU's guaranteed 16 KiB of workgroup memory.
    pub fn for_workload(m: usize, n: usize, batch: usize) -> Self {
        Self::for_occupancy(m, n, batch, TARGET_WORKGROUPS)
    }

    /// [`Self::for_workload`] for a GPU that wants `workgroups` in flight
    /// (`Target::workgroups`).
    pub fn for_occupancy(m: usize, n: usize, batch: usize, workgroups: u64) -> Self {
        if m <= 16 && n <= 16 {
            // Tiny (often heavily batched) products: one 16x16 tile, 16 invocations.
            return Self::new(4, 4);
        }
        if m <= 16 {
            return Self::new(16, 4);
        }
        if n <= 16 {
            return Self::new(4, 16);
        }
        let square = Self::new(16, 16);
        let (rm, rn) = if m > n { (8, 4) } else { (4, 8) };
        [(8, 8), (rm, rn)]
            .into_iter()
            .map(|(rm, rn)| Self { rm, rn, ..square })
            .find(|t| {
                t.tile_m() as usize <= m
                    && t.tile_n() as usize <= n
                    && t.tiles(m, n, batch) >= workgroups
            })
            .unwrap_or(square)
    }

    /// Workgroups covering `batch` products of `m x n`.
    pub fn tiles(&self, m: usize, n: usize, batch: usize) -> u64 {
        (batch * m.div_ceil(self.tile_m() as usize) * n.div_ceil(self.tile_n() as usize)) as u64
    }

    /// Tilings worth tuning over for an `m x n` product on a device with `limits`: 4x4
    /// blocks on 4 to 16 invocations per side (16-long chunks), and on 16x16 invocations
    /// 32-long chunks and the 8x4, 4x8 and 8x8 blocks; skipping tiles that one half as
    /// large along that side already covers. 32-long chunks on 128-wide tiles need more than
    /// WebGPU's guaranteed 16 KiB (an H100 offers 48 KiB).
    pub fn candidates(m: usize, n: usize, limits: &wgpu::Limits) -> Vec<Self> {
        let useful = |side: u32, extent: usize| side == 16 || ((side / 2) as usize) < extent;
        let mut v: Vec<Self> = [4u32, 8, 16]
            .into_iter()
            .flat_map(|wg_y| [4u32, 8, 16].map(|wg_x| Self::new(wg_x, wg_y)))
            .collect();
        let square = Self::new(16, 16);
        for (rm, rn, tk) in [
            (4, 4, 32),
            (8, 4, 16),
            (4, 8, 16),
            (8, 4, 32),
            (4, 8, 32),
            (8, 8, 16),
            (8, 8, 32),
        ] {
            v.push(Self {
                rm,
                rn,
                tk,
                ..square
            });
        }
        v.retain(|t| {
            useful(t.tile_m(), m) && useful(t.tile_n(), n) && t.check("gemm", limits).is_ok()
        });
        v
    }

    /// Rows of C per workgroup.
    pub fn tile_m(&self) -> u32 {
        self.wg_y * self.rm
    }

    /// Columns of C per workgroup.
    pub fn tile_n(&self) -> u32 {
        self.wg_x * self.rn
    }

    /// Bytes of workgroup memory the shader declares at f32: `tk` rows of each operand's
    /// tile.
    pub fn workgroup_bytes(&self) -> u64 {
        self.tk as u64 * (self.tile_m() + self.tile_n()) as u64 * 4
    }

    /// Values each invocation prefetches per chunk, of A and of B.
    fn loads(&self) -> (u32, u32) {
        (self.rm * self.tk / self.wg_x, self.rn * self.tk / self.wg_y)
    }

    /// Checks the tiling's shape rules and the device's limits.
    pub fn check(&self, op: &str, limits: &wgpu::Limits) -> Result<()> {
        let refuse = |why: &str| Err(Error::invalid_op(op, format!("tiling {self:?}: {why}")));
        // Powers of two: the shader's tile swizzle permutes slots within a row.
        if !self.wg_x.is_power_of_two() || !self.wg_y.is_power_of_two() {
            return refuse("invocations per side must be powers of two");
        }
        if ![4, 8].contains(&self.rm) || ![4, 8].contains(&self.rn) {
            return refuse("register blocks are 4 or 8 rows by 4 or 8 columns");
        }
        if ![16, 32].contains(&self.tk) {
            return refuse("K chunks are 16 or 32 long");
        }
        let (a, b) = self.loads();
        if !(self.rm * self.tk).is_multiple_of(self.wg_x)
            || !(self.rn * self.tk).is_multiple_of(self.wg_y)
            || a > MAX_LOADS
            || b > MAX_LOADS
        {
            return refuse(&format!(
                "each invocation must stage a whole number of values of A and B, at most {MAX_LOADS} each (rm*tk/wg_x, rn*tk/wg_y)"
            ));
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

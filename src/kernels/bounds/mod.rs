//! The host half of the trusted kernels' bounds proofs (`Shader::TRUSTED`), read from a
//! launch as it is about to be bound: its own `Params` bytes, override constants and binding
//! sizes. `Launch`'s fields are public, so the builders' checks alone cannot protect a module
//! compiled without runtime bounds checks; this one runs on what the device binds.

use crate::error::{Error, Result};
use crate::kernels::channel_affine::ChannelAffineParams;
use crate::kernels::convert::ConvertParams;
use crate::kernels::depthwise::DepthwiseParams;
use crate::kernels::eltwise::{EltwiseParams, WhereParams};
use crate::kernels::pad::PadParams;
use crate::kernels::pool::GlobalPoolParams;
use crate::kernels::se_gate::{MAX_HIDDEN, SeGateParams};
use crate::kernels::splitk::SplitkReduceParams;
use crate::kernels::winograd::{WinogradInputParams, WinogradOutputParams};
use crate::kernels::{Binding, GpuParams, Launch};
use crate::precision::Precision;
use crate::shaders::Shader;

mod conv;
mod matmul;

/// Fails unless every storage index `launch`'s shader can reach lies inside its binding
/// (elements of `precision`'s `Elem`, or `Acc` where the shader says). Only trusted shaders
/// have a proof here; others are refused.
pub fn check_trusted<B: Binding>(launch: &Launch<B>, precision: Precision) -> Result<()> {
    let op = launch.shader.label();
    let fail = |m: String| Err(Error::invalid_op(op, m));
    // Elements each binding holds (split-K's partial sums are Acc, convert's are words), and
    // the constant an override was given (else its default).
    let elems: Vec<u64> = launch
        .bindings
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let unit = match (launch.shader, i) {
                (Shader::SplitkReduce, 0) => precision.acc_bytes(),
                // Convert binds both sides as u32 words.
                (Shader::Convert, _) => 4,
                _ => precision.elem_bytes(),
            };
            b.size() / unit as u64
        })
        .collect();
    let constant = |name: &str, default: f64| {
        launch
            .constants
            .iter()
            .find(|c| c.0 == name)
            .map_or(default, |c| c.1)
    };
    // `reach` is one past the highest index read or written; none when nothing runs.
    let need = |i: usize, what: &str, reach: u64| {
        if reach > 0 && elems.get(i).is_none_or(|&e| e < reach) {
            return fail(format!(
                "{what} binding holds {} elements, the kernel reaches {reach}",
                elems.get(i).copied().unwrap_or(0)
            ));
        }
        Ok(())
    };
    match launch.shader {
        Shader::Eltwise => {
            let p: EltwiseParams = params(launch)?;
            let total = p.total as u64;
            need(2, "output", total)?;
            if constant("BINARY_OP", 4.0) == 4.0 {
                return need(0, "input", total);
            }
            let d = [p.d1, p.d2, p.d3, p.d4, p.d5];
            need(
                0,
                "a",
                strided_reach(op, total, d, [p.sa0, p.sa1, p.sa2, p.sa3, p.sa4, p.sa5])?,
            )?;
            need(
                1,
                "b",
                strided_reach(op, total, d, [p.sb0, p.sb1, p.sb2, p.sb3, p.sb4, p.sb5])?,
            )
        }
        Shader::Where => {
            let p: WhereParams = params(launch)?;
            let total = p.total as u64;
            let d = [p.d1, p.d2, p.d3, p.d4, p.d5];
            need(
                0,
                "cond",
                strided_reach(op, total, d, [p.sc0, p.sc1, p.sc2, p.sc3, p.sc4, p.sc5])?,
            )?;
            need(
                1,
                "x",
                strided_reach(op, total, d, [p.sx0, p.sx1, p.sx2, p.sx3, p.sx4, p.sx5])?,
            )?;
            need(
                2,
                "y",
                strided_reach(op, total, d, [p.sy0, p.sy1, p.sy2, p.sy3, p.sy4, p.sy5])?,
            )?;
            need(3, "output", total)
        }
        Shader::Pad => {
            let p: PadParams = params(launch)?;
            let rank = constant("RANK", 6.0);
            if !(1.0..=6.0).contains(&rank) || rank != rank.trunc() {
                return fail(format!("RANK {rank} must be 1..=6"));
            }
            // src is read only inside the input, at sum j_k * stride_k with j_k < i_k over the
            // RANK live dims: below their product (u64, so no u32 wrap either).
            let dims = [p.i0, p.i1, p.i2, p.i3, p.i4, p.i5];
            let live = &dims[6 - rank as usize..];
            let inside = live.iter().fold(1u64, |a, &d| a.saturating_mul(d as u64));
            need(0, "input", if p.total == 0 { 0 } else { inside })?;
            need(1, "output", p.total as u64)
        }
        Shader::GlobalPool => {
            let p: GlobalPoolParams = params(launch)?;
            let threads = constant("ROW_THREADS", 256.0);
            // A power of two dividing 256 keeps the tree's workgroup-memory indices below 256.
            if !(1.0..=256.0).contains(&threads) || !(threads as u32).is_power_of_two() {
                return fail(format!(
                    "ROW_THREADS {threads} must be a power of two <= 256"
                ));
            }
            need(0, "input", (p.rows as u64).saturating_mul(p.len as u64))?;
            need(1, "output", p.rows as u64)
        }
        Shader::SplitkReduce => {
            let p: SplitkReduceParams = params(launch)?;
            let n = p.numel as u64;
            if n > 0 && (p.spatial == 0 || p.channels == 0) {
                return fail(format!(
                    "spatial {} and channels {} must be >= 1",
                    p.spatial, p.channels
                ));
            }
            need(0, "partial", n.saturating_mul(p.splits as u64))?;
            if constant("HAS_BIAS", 0.0) != 0.0 {
                need(1, "bias", (p.channels as u64).min(n))?;
            }
            if constant("HAS_RESIDUAL", 0.0) != 0.0 {
                need(2, "residual", n)?;
            }
            need(3, "output", n)
        }
        Shader::ChannelAffine => {
            let p: ChannelAffineParams = params(launch)?;
            let total = p.total as u64;
            if total > 0 && (p.channels == 0 || p.inner == 0) {
                return fail(format!(
                    "channels {} and inner {} must be >= 1",
                    p.channels, p.inner
                ));
            }
            need(0, "input", total)?;
            need(1, "scale", (p.channels as u64).min(total))?;
            need(2, "shift", (p.channels as u64).min(total))?;
            let residual = if constant("HAS_RESIDUAL", 0.0) != 0.0 {
                total
            } else {
                total.min(1)
            };
            need(3, "residual", residual)?;
            need(4, "output", total)
        }
        Shader::Convert => {
            let p: ConvertParams = params(launch)?;
            let total = p.total as u64;
            if total == 0 {
                return Ok(());
            }
            if !(1..=4).contains(&p.channels) || p.plane == 0 {
                return fail(format!(
                    "channels {} must be 1..=4 (a vec4 index), plane {} >= 1",
                    p.channels, p.plane
                ));
            }
            // The f16 side guards i = 2 * w, which wraps once w reaches 2^31.
            let f16_out = constant("DST_F16", 0.0) != 0.0;
            if f16_out && launch.workgroups.saturating_mul(256) > 1 << 31 {
                return fail(format!(
                    "{} workgroups overflow the f16 output's index",
                    launch.workgroups
                ));
            }
            let maps = [p.map0, p.map1, p.map2, p.map3];
            let max_map = maps[..p.channels as usize]
                .iter()
                .max()
                .copied()
                .unwrap_or(0);
            // Source element of the last image's last position: n * plane + p runs below
            // images * plane.
            let images = (total - 1) / (p.plane as u64 * p.channels as u64) + 1;
            let last = (images * p.plane as u64 - 1)
                .saturating_mul(p.src_channels as u64)
                .saturating_add(p.src_offset as u64 + max_map as u64);
            if last > u32::MAX as u64 {
                return fail(format!("source element {last} overflows the shader's u32"));
            }
            // f16 sources are two to a word, u8 four.
            let shift = match constant("SRC", 0.0) {
                1.0 => 1,
                2.0 => 2,
                _ => 0,
            };
            need(0, "source", (last >> shift) + 1)?;
            let words = if f16_out { total.div_ceil(2) } else { total };
            need(1, "output", p.dst_offset as u64 + words)
        }
        Shader::SeGate => {
            let p: SeGateParams = params(launch)?;
            if p.hidden as usize > MAX_HIDDEN {
                return fail(format!(
                    "{} hidden units exceed the workgroup array's {MAX_HIDDEN}",
                    p.hidden
                ));
            }
            // Nothing is touched without a sample; then every binding is read whole.
            let runs = (p.batch as u64).min(1);
            let rows = p.batch as u64 * p.channels as u64;
            let spatial = if constant("FUSE_POOL", 0.0) != 0.0 {
                p.spatial as u64
            } else {
                1
            };
            let weights = runs * p.hidden as u64 * p.channels as u64;
            need(0, "input", rows.saturating_mul(spatial))?;
            need(1, "w1", weights)?;
            need(2, "b1", runs * p.hidden as u64)?;
            need(3, "w2", weights)?;
            need(4, "b2", runs * p.channels as u64)?;
            need(5, "gate", rows)
        }
        Shader::WinogradInput => {
            let p: WinogradInputParams = params(launch)?;
            let images = tile_images(op, p.tiles, p.tiles_h, p.tiles_w)?;
            let plane = (p.in_h as u64).saturating_mul(p.in_w as u64);
            let input = images
                .saturating_mul(p.channels as u64)
                .saturating_mul(plane);
            need(0, "input", input)?;
            need(
                1,
                "v",
                16u64.saturating_mul(p.channels as u64 * p.tiles as u64),
            )
        }
        Shader::WinogradOutput => {
            let p: WinogradOutputParams = params(launch)?;
            let images = tile_images(op, p.tiles, p.tiles_h, p.tiles_w)?;
            let planes = images.saturating_mul(p.out_c as u64);
            let output = planes.saturating_mul(p.out_h as u64 * p.out_w as u64);
            need(
                0,
                "m",
                16u64.saturating_mul(p.out_c as u64 * p.tiles as u64),
            )?;
            if constant("HAS_BIAS", 0.0) != 0.0 {
                need(1, "bias", p.out_c as u64)?;
            }
            if constant("HAS_RESIDUAL", 0.0) != 0.0 {
                need(2, "residual", output)?;
            }
            need(3, "output", output)
        }
        Shader::Depthwise => {
            let p: DepthwiseParams = params(launch)?;
            let geometry = [
                "DW_X", "DW_Y", "DW_C", "K_H", "K_W", "STRIDE_H", "STRIDE_W", "DIL_H", "DIL_W",
            ]
            .map(|n| constant(n, 1.0));
            if geometry.iter().any(|&v| v < 1.0 || v != v.trunc()) {
                return fail(format!(
                    "tiling and geometry {geometry:?} must be whole and >= 1"
                ));
            }
            let [dw_x, dw_y, dw_c, kh, kw, sh, sw, dh, dwl] = geometry.map(|v| v as u64);
            if constant("STAGE_INPUT", 1.0) != 0.0 {
                // The shader's PATCH_H x PATCH_W per channel (strips of 4 columns).
                // Saturating: constants are whatever the launch says.
                let span = |n: u64, step: u64| (n - 1).saturating_mul(step);
                let rows = span(dw_y, sh)
                    .saturating_add(span(kh, dh))
                    .saturating_add(1);
                let cols = span(dw_x.saturating_mul(4), sw)
                    .saturating_add(span(kw, dwl))
                    .saturating_add(1);
                let staged = dw_c.saturating_mul(rows).saturating_mul(cols);
                let cap = constant("PATCH_CAP", 3072.0);
                if cap.is_nan() || staged as f64 > cap {
                    return fail(format!(
                        "staged patches take {staged} elements, PATCH_CAP is {cap}"
                    ));
                }
            }
            let m = |v: &[u32]| v.iter().fold(1u64, |a, &b| a.saturating_mul(b as u64));
            let out_channels = m(&[p.channels, p.multiplier]);
            need(0, "input", m(&[p.batch, p.channels, p.in_h, p.in_w]))?;
            need(
                1,
                "weight",
                out_channels.saturating_mul(kh.saturating_mul(kw)),
            )?;
            if constant("HAS_BIAS", 0.0) != 0.0 {
                need(2, "bias", out_channels)?;
            }
            let plane = m(&[p.out_h, p.out_w]);
            let output = if p.batch == 0 || out_channels == 0 {
                0
            } else {
                m(&[p.batch - 1, p.out_c])
                    .saturating_add(out_channels)
                    .saturating_mul(plane)
            };
            if constant("HAS_RESIDUAL", 0.0) != 0.0 {
                need(3, "residual", output)?;
            }
            need(4, "output", output)
        }
        Shader::Matmul => matmul::check(launch, precision),
        Shader::Conv => conv::check(launch, precision),
        other => fail(format!(
            "{} has no bounds proof (not trusted)",
            other.label()
        )),
    }
}

/// One past the highest index of an operand read through per-dimension strides `s` under a
/// dense output of `total` elements with inner dims `d` (eltwise.wgsl, where.wgsl): index k
/// runs to d_k - 1, the outermost to (total - 1) / (d1..d5). In u64, so a reach within the
/// binding (< 2^32 elements) also means no u32 wrap in WGSL.
fn strided_reach(op: &str, total: u64, d: [u32; 5], s: [u32; 6]) -> Result<u64> {
    if total == 0 {
        return Ok(0);
    }
    let d = d.map(u64::from);
    if d.contains(&0) {
        return Err(Error::invalid_op(
            op,
            format!("zero dimension in {d:?} with {total} elements"),
        ));
    }
    let d0 = (total - 1) / d.iter().product::<u64>() + 1;
    let dims = [d0, d[0], d[1], d[2], d[3], d[4]];
    Ok(dims
        .iter()
        .zip(s)
        .map(|(&n, s)| (n - 1).saturating_mul(s as u64))
        .fold(1u64, u64::saturating_add))
}

/// Images the Winograd transforms' tile index t < tiles reaches: n = t / (tiles_h * tiles_w)
/// runs to (tiles - 1) / that. The product must not wrap in the shader's u32.
fn tile_images(op: &str, tiles: u32, tiles_h: u32, tiles_w: u32) -> Result<u64> {
    let per_image = tiles_h as u64 * tiles_w as u64;
    if tiles == 0 {
        return Ok(0);
    }
    if per_image == 0 || per_image > u32::MAX as u64 {
        return Err(Error::invalid_op(
            op,
            format!("{tiles_h} x {tiles_w} tiles per image must be 1..2^32"),
        ));
    }
    Ok((tiles as u64 - 1) / per_image + 1)
}

/// The launch's `Params` bytes as `P`, refusing bytes of another length.
fn params<P: GpuParams, B>(launch: &Launch<B>) -> Result<P> {
    bytemuck::try_pod_read_unaligned(&launch.params).map_err(|_| {
        Error::invalid_op(
            launch.shader.label(),
            format!(
                "params are {} bytes, expected {}",
                launch.params.len(),
                std::mem::size_of::<P>()
            ),
        )
    })
}

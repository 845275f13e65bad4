//! The host half of the trusted kernels' bounds proofs (`Shader::TRUSTED`), read from a
//! launch as it is about to be bound: its own `Params` bytes, override constants and binding
//! sizes. `Launch`'s fields are public, so the builders' checks alone cannot protect a module
//! compiled without runtime bounds checks; this one runs on what the device binds.

use crate::error::{Error, Result};
use crate::kernels::channel_affine::ChannelAffineParams;
use crate::kernels::eltwise::EltwiseParams;
use crate::kernels::{Binding, GpuParams, Launch};
use crate::shaders::Shader;

/// Fails unless every storage index `launch`'s shader can reach lies inside its binding
/// (`elem_bytes` per element). Only trusted shaders have a proof here; others are refused.
pub fn check_trusted<B: Binding>(launch: &Launch<B>, elem_bytes: u64) -> Result<()> {
    let op = launch.shader.label();
    let fail = |m: String| Err(Error::invalid_op(op, m));
    // Elements each binding holds, and the constant an override was given (else its default).
    let elems: Vec<u64> = launch
        .bindings
        .iter()
        .map(|b| b.size() / elem_bytes.max(1))
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
            if total == 0 {
                return Ok(());
            }
            let d = [p.d1, p.d2, p.d3, p.d4, p.d5].map(u64::from);
            if d.contains(&0) {
                return fail(format!("zero dimension in {d:?} with {total} elements"));
            }
            // i0 runs to (total - 1) / (d1..d5); each later index to its dim - 1. In u64, so
            // a reach within the binding (< 2^32 elements) also means no u32 wrap in WGSL.
            let d0 = (total - 1) / d.iter().product::<u64>() + 1;
            let dims = [d0, d[0], d[1], d[2], d[3], d[4]];
            let reach = |s: [u32; 6]| {
                dims.iter()
                    .zip(s)
                    .map(|(&n, s)| (n - 1).saturating_mul(s as u64))
                    .fold(1u64, u64::saturating_add)
            };
            need(0, "a", reach([p.sa0, p.sa1, p.sa2, p.sa3, p.sa4, p.sa5]))?;
            need(1, "b", reach([p.sb0, p.sb1, p.sb2, p.sb3, p.sb4, p.sb5]))
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
        other => fail(format!(
            "{} has no bounds proof (not trusted)",
            other.label()
        )),
    }
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

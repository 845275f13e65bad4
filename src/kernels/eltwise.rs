//! Elementwise activation and broadcasting binary ops (`shaders/eltwise.wgsl`), and the
//! ternary select `where` (`shaders/where.wgsl`).

use crate::error::{Error, Result};
use crate::kernels::{Binding, Launch, Target};
use crate::ops::{Activation, BinaryOp, broadcast_shape, broadcast_strides, where_shape};
use crate::shaders::Shader;
use crate::tensor::numel;

const WORKGROUP: u64 = 256;
/// Highest rank the kernel's index math unrolls.
pub const MAX_RANK: usize = 6;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/eltwise.wgsl`.
    pub struct EltwiseParams {
        pub total: u32,
        pub d1: u32, pub d2: u32, pub d3: u32, pub d4: u32, pub d5: u32,
        pub sa0: u32, pub sa1: u32, pub sa2: u32, pub sa3: u32, pub sa4: u32, pub sa5: u32,
        pub sb0: u32, pub sb1: u32, pub sb2: u32, pub sb3: u32, pub sb4: u32, pub sb5: u32,
        pub _pad0: u32, pub _pad1: u32,
    }
}

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/where.wgsl`.
    pub struct WhereParams {
        pub total: u32,
        pub d1: u32, pub d2: u32, pub d3: u32, pub d4: u32, pub d5: u32,
        pub sc0: u32, pub sc1: u32, pub sc2: u32, pub sc3: u32, pub sc4: u32, pub sc5: u32,
        pub sx0: u32, pub sx1: u32, pub sx2: u32, pub sx3: u32, pub sx4: u32, pub sx5: u32,
        pub sy0: u32, pub sy1: u32, pub sy2: u32, pub sy3: u32, pub sy4: u32, pub sy5: u32,
    }
}

/// Converts an element count or index to the kernels' u32, naming the op when it does not fit.
pub(crate) fn to_u32(op: &str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::DeviceLimit {
        what: format!("{op}: {what}"),
        limit_name: "u32 index range",
        limit: u32::MAX as u64,
        needed: v as u64,
    })
}

/// Pads a shape-like vector on the left to `MAX_RANK` entries.
fn pad6(v: &[usize], fill: usize) -> [usize; MAX_RANK] {
    let mut out = [fill; MAX_RANK];
    out[MAX_RANK - v.len()..].copy_from_slice(v);
    out
}

/// `out = act(input)` over `len` elements.
pub fn unary<B: Binding>(
    target: &Target,
    act: Activation,
    input: B,
    output: B,
    len: usize,
) -> Result<Launch<B>> {
    let params = EltwiseParams {
        total: to_u32("activation", "element count", len)?,
        ..Default::default()
    };
    // The (trusted) shader reads input[i] and writes output[i] for i < len only.
    target.require_elems("activation", "input", &input, len)?;
    target.require_elems("activation", "output", &output, len)?;
    let mut constants = act.constants().to_vec();
    constants.push(("BINARY_OP", 4.0));
    // `b` is unused by the unary path but bound so one layout serves both.
    target.launch(
        Shader::Eltwise,
        &constants,
        &params,
        &[input, input, output],
        (len as u64).div_ceil(WORKGROUP),
    )
}

/// `out = act(a op b)` with numpy broadcasting; `out` must have the broadcast shape.
pub fn binary<B: Binding>(
    target: &Target,
    op: BinaryOp,
    act: Activation,
    a: (B, &[usize]),
    b: (B, &[usize]),
    output: B,
) -> Result<Launch<B>> {
    let out_shape = broadcast_shape(a.1, b.1)?;
    if out_shape.len() > MAX_RANK {
        return Err(Error::invalid_op(
            op.name(),
            format!("rank {} exceeds the supported {MAX_RANK}", out_shape.len()),
        ));
    }
    let total = numel(&out_shape);
    let d = pad6(&out_shape, 1);
    let sa = pad6(&broadcast_strides(a.1, &out_shape), 0);
    let sb = pad6(&broadcast_strides(b.1, &out_shape), 0);
    let u = |v: usize| to_u32(op.name(), "size", v);
    let params = EltwiseParams {
        total: u(total)?,
        d1: u(d[1])?,
        d2: u(d[2])?,
        d3: u(d[3])?,
        d4: u(d[4])?,
        d5: u(d[5])?,
        sa0: u(sa[0])?,
        sa1: u(sa[1])?,
        sa2: u(sa[2])?,
        sa3: u(sa[3])?,
        sa4: u(sa[4])?,
        sa5: u(sa[5])?,
        sb0: u(sb[0])?,
        sb1: u(sb[1])?,
        sb2: u(sb[2])?,
        sb3: u(sb[3])?,
        sb4: u(sb[4])?,
        sb5: u(sb[5])?,
        ..Default::default()
    };
    // The (trusted) shader's indices: out < total; a and b at most numel - 1 of their own
    // shapes (broadcast strides are their row-major strides, 0 where the dim is broadcast).
    target.require_elems(op.name(), "a", &a.0, numel(a.1))?;
    target.require_elems(op.name(), "b", &b.0, numel(b.1))?;
    target.require_elems(op.name(), "output", &output, total)?;
    let mut constants = act.constants().to_vec();
    constants.push(("BINARY_OP", op.code() as f64));
    target.launch(
        Shader::Eltwise,
        &constants,
        &params,
        &[a.0, b.0, output],
        (total as u64).div_ceil(WORKGROUP),
    )
}

/// `out = cond != 0 ? x : y` with numpy broadcasting of the three; `out` must have their
/// broadcast shape.
pub fn where_select<B: Binding>(
    target: &Target,
    cond: (B, &[usize]),
    x: (B, &[usize]),
    y: (B, &[usize]),
    output: B,
) -> Result<Launch<B>> {
    let out_shape = where_shape(cond.1, x.1, y.1)?;
    if out_shape.len() > MAX_RANK {
        return Err(Error::invalid_op(
            "where",
            format!("rank {} exceeds the supported {MAX_RANK}", out_shape.len()),
        ));
    }
    let total = numel(&out_shape);
    let u = |v: usize| to_u32("where", "size", v);
    let d = pad6(&out_shape, 1);
    let st = |s: &[usize]| -> Result<[u32; MAX_RANK]> {
        let p = pad6(&broadcast_strides(s, &out_shape), 0);
        let mut out = [0; MAX_RANK];
        for (o, v) in out.iter_mut().zip(p) {
            *o = u(v)?;
        }
        Ok(out)
    };
    let (sc, sx, sy) = (st(cond.1)?, st(x.1)?, st(y.1)?);
    // The (trusted) shader's indices: out < total, each operand below numel of its shape.
    for (what, (b, shape)) in [("cond", cond), ("x", x), ("y", y)] {
        target.require_elems("where", what, &b, numel(shape))?;
    }
    target.require_elems("where", "output", &output, total)?;
    let params = WhereParams {
        total: u(total)?,
        d1: u(d[1])?,
        d2: u(d[2])?,
        d3: u(d[3])?,
        d4: u(d[4])?,
        d5: u(d[5])?,
        sc0: sc[0],
        sc1: sc[1],
        sc2: sc[2],
        sc3: sc[3],
        sc4: sc[4],
        sc5: sc[5],
        sx0: sx[0],
        sx1: sx[1],
        sx2: sx[2],
        sx3: sx[3],
        sx4: sx[4],
        sx5: sx[5],
        sy0: sy[0],
        sy1: sy[1],
        sy2: sy[2],
        sy3: sy[3],
        sy4: sy[4],
        sy5: sy[5],
    };
    target.launch(
        Shader::Where,
        &[],
        &params,
        &[cond.0, x.0, y.0, output],
        (total as u64).div_ceil(WORKGROUP),
    )
}

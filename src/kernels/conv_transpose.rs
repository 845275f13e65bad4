//! Transposed convolution, 1-D to 3-D (`shaders/conv_transpose.wgsl`): a gather over the taps
//! that reach each output, register-blocked over 4 output channels x 4 output columns.

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, ConvBindings, Launch, Target};
use crate::ops::{ConvTransposeSpec, Epilogue};
use crate::shaders::Shader;
use crate::tensor::numel;

const WORKGROUP: usize = 64;
/// Output channels per invocation (`OB` in the shader).
const CHANNEL_BLOCK: usize = 4;
/// Output columns per invocation (`XB` in the shader).
const COLUMN_BLOCK: usize = 4;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/conv_transpose.wgsl`.
    pub struct ConvTransposeParams {
        pub total: u32,
        pub c_in: u32, pub cg: u32, pub o_out: u32, pub og: u32, pub obg: u32, pub qb: u32,
        pub d_in: u32, pub h_in: u32, pub w_in: u32,
        pub d_out: u32, pub h_out: u32, pub w_out: u32,
        pub kd: u32, pub kh: u32, pub kw: u32,
        pub sd: u32, pub sh: u32, pub sw: u32,
        pub pd: u32, pub ph: u32, pub pw: u32,
        pub dd: u32, pub dh: u32, pub dw: u32,
        pub _pad0: u32, pub _pad1: u32, pub _pad2: u32,
    }
}

/// Left-pads a per-dimension vector to 3 entries (lower ranks are 3-D with leading size-1 dims).
fn as3(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    out[3 - v.len()..].copy_from_slice(v);
    out
}

/// Checks that a binding holds at least `elems` elements of the handle's precision.
fn check_binding<B: Binding>(target: &Target, what: &str, r: &B, elems: usize) -> Result<()> {
    let need = target.elem_bytes(elems);
    if r.size() < need {
        return Err(Error::invalid_op(
            "conv_transpose",
            format!(
                "{what} binding holds {} bytes, the shapes need {need}",
                r.size()
            ),
        ));
    }
    Ok(())
}

/// A transposed convolution of `input` `[N, C, *spatial]` with `weight` `[C, O/g, *k]`
/// (PyTorch `ConvTransposeNd`), writing `[N, O, *out]` with the fused epilogue.
pub fn conv_transpose<B: Binding>(
    target: &Target,
    spec: &ConvTransposeSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
) -> Result<Launch<B>> {
    const OP: &str = "conv_transpose";
    // An empty spatial input has no transposed-conv output size (PyTorch rejects it too).
    if input_shape.len() > 2 && input_shape[2..].contains(&0) {
        return Err(Error::invalid_op(
            "conv_transpose",
            format!("input {:?} has an empty spatial dimension", input_shape),
        ));
    }
    let out_shape = spec.output_shape(input_shape, weight_shape)?;
    crate::kernels::conv::input_scale(target, OP, input_shape, &epilogue, b.input_scale, false)?;
    let conv = &spec.conv;
    let (n, c, o, g) = (input_shape[0], input_shape[1], out_shape[1], conv.groups);
    let (cg, og) = (c / g, o / g);
    if og == 0 || cg == 0 {
        return Err(Error::invalid_op(
            OP,
            format!("input {input_shape:?} and weight {weight_shape:?} leave no channels"),
        ));
    }
    let residual = match (epilogue.residual, b.residual) {
        (true, None) => {
            return Err(Error::invalid_op(
                OP,
                "the epilogue adds a residual but no residual buffer is bound",
            ));
        }
        (false, Some(_)) => {
            return Err(Error::invalid_op(
                OP,
                "a residual buffer is bound but the epilogue does not add it",
            ));
        }
        (_, r) => r,
    };
    let out_len = numel(&out_shape);
    check_binding(target, "input", &b.input, numel(input_shape))?;
    check_binding(target, "weight", &b.weight, numel(weight_shape))?;
    check_binding(target, "output", &b.output, out_len)?;
    if let Some(r) = &residual {
        check_binding(target, "residual", r, out_len)?;
    }
    if let Some(bb) = &b.bias {
        check_binding(target, "bias", bb, o)?;
    }

    let din = as3(&input_shape[2..], 1);
    let dout = as3(&out_shape[2..], 1);
    let k = as3(&conv.kernel, 1);
    let s = as3(&conv.stride, 1);
    let p = as3(&conv.pad_begin, 0);
    let d = as3(&conv.dilation, 1);
    let obg = og.div_ceil(CHANNEL_BLOCK);
    let qb = dout[2].div_ceil(s[2]).div_ceil(COLUMN_BLOCK);
    let total = n * g * obg * dout[0] * dout[1] * s[2] * qb;

    let u = |what: &str, v: usize| to_u32(OP, what, v);
    // Every flat index the shader forms must fit u32.
    u("input elements", numel(input_shape))?;
    u("weight elements", numel(weight_shape))?;
    u("output elements", out_len)?;
    // Signed tap arithmetic: x + pad must fit i32.
    for i in 0..3 {
        i32::try_from(dout[i] + p[i] + k[i] * d[i]).map_err(|_| Error::DeviceLimit {
            what: format!("{OP}: spatial extent"),
            limit_name: "i32 index range",
            limit: i32::MAX as u64,
            needed: (dout[i] + p[i] + k[i] * d[i]) as u64,
        })?;
    }
    let params = ConvTransposeParams {
        total: u("invocations", total)?,
        c_in: u("channels", c)?,
        cg: u("channels", cg)?,
        o_out: u("channels", o)?,
        og: u("channels", og)?,
        obg: u("channel blocks", obg)?,
        qb: u("column blocks", qb)?,
        d_in: u("size", din[0])?,
        h_in: u("size", din[1])?,
        w_in: u("size", din[2])?,
        d_out: u("size", dout[0])?,
        h_out: u("size", dout[1])?,
        w_out: u("size", dout[2])?,
        kd: u("kernel", k[0])?,
        kh: u("kernel", k[1])?,
        kw: u("kernel", k[2])?,
        sd: u("stride", s[0])?,
        sh: u("stride", s[1])?,
        sw: u("stride", s[2])?,
        pd: u("padding", p[0])?,
        ph: u("padding", p[1])?,
        pw: u("padding", p[2])?,
        dd: u("dilation", d[0])?,
        dh: u("dilation", d[1])?,
        dw: u("dilation", d[2])?,
        ..Default::default()
    };
    let flag = |v: bool| if v { 1.0 } else { 0.0 };
    let mut constants = epilogue.activation.constants().to_vec();
    constants.extend([
        ("WG_SIZE", WORKGROUP as f64),
        ("HAS_BIAS", flag(b.bias.is_some())),
        ("HAS_RESIDUAL", flag(residual.is_some())),
    ]);
    // Unused optional inputs are bound to the input (read-only: no conflict with the output).
    target.launch(
        Shader::ConvTranspose,
        &constants,
        &params,
        &[
            b.input,
            b.weight,
            b.bias.unwrap_or(b.input),
            residual.unwrap_or(b.input),
            b.output,
        ],
        total.div_ceil(WORKGROUP) as u64,
    )
}

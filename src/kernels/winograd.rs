//! Winograd F(2x2, 3x3) convolution (`shaders/winograd_input.wgsl`, `matmul.wgsl`,
//! `shaders/winograd_output.wgsl`): 2-D 3x3 convolutions with stride 1, dilation 1 and one
//! group, any padding, in three passes over scratch memory.
//!
//! With `d` a 4x4 input patch, `g` a 3x3 filter and `B^T`, `G`, `A^T` Lavin & Gray's
//! matrices, each 2x2 output tile is `A^T [(G g G^T) . (B^T d B)] A`. The weight transform
//! `U = G g G^T` is done once on the host in f64 ([`transform_weights`]); per run the input
//! pass writes `V = B^T d B` for every tile, the GEMM pass multiplies, for each of the 16
//! transform points, `U[p]` (`[O, C]`) by `V[p]` (`[C, tiles]`), and the output pass applies
//! `A^T . A` plus the epilogue. [`super::winograd_fused`] computes the same in one dispatch,
//! `V` and `M` in workgroup memory (the heuristic's choice); this one stays a tuner candidate.
//!
//! Why F(2x2, 3x3) and not F(4x4, 3x3): its transforms hold only 0, +-1 and +-1/2, so the
//! input and output transforms are exact adds and the weight transform rounds once; F(4x4)'s
//! entries reach 8 (and 1/24 in G), which amplifies f32 rounding by about 30x in RMS (256x
//! worst case) over direct convolution, against 1.7x (7x worst case) for F(2x2) (see
//! [`WINOGRAD_ERROR_FACTOR`]). Networks are checked against a tolerance calibrated for direct
//! convolution, chained over dozens of layers; F(2x2) stays inside it.

use crate::compare::F16Tolerance;
use crate::error::{Error, Result};
use crate::kernels::conv;
use crate::kernels::eltwise::to_u32;
use crate::kernels::matmul::{self, GemmTiling};
use crate::kernels::{Binding, ConvBindings, Launch, Target};
use crate::ops::{ConvSpec, Epilogue};
use crate::precision::Precision;
use crate::shaders::Shader;
use crate::tensor::{Tensor, numel};

const OP: &str = "winograd conv";
const WORKGROUP: u64 = 256;

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/winograd_input.wgsl`.
    pub struct WinogradInputParams {
        pub channels: u32,
        pub in_h: u32,
        pub in_w: u32,
        pub tiles_h: u32,
        pub tiles_w: u32,
        pub tiles: u32,
        pub pad_h: i32,
        pub pad_w: i32,
    }
}

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/winograd_output.wgsl`.
    pub struct WinogradOutputParams {
        pub out_c: u32,
        pub out_h: u32,
        pub out_w: u32,
        pub tiles_h: u32,
        pub tiles_w: u32,
        pub tiles: u32,
        pub _pad0: u32,
        pub _pad1: u32,
    }
}

/// `G` of F(2x2, 3x3): 4x3.
const G: [[f64; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0.0, 0.0, 1.0],
];

/// How much F(2x2, 3x3)'s rounding can exceed a direct convolution's, worst case, per output:
/// every term of the direct sum is `|g||d|`; through the transforms each output gathers
/// `sum_{p,q} |A^T|_{ip} |A^T|_{jq} (|G| 1)_p (|G| 1)_q (|B^T| 1)_p (|B^T| 1)_q` such terms'
/// magnitude, at most (2+3+3)^2 = 64 (row sums of |G|: 1, 1.5, 1.5, 1; of |B^T|: 2 each;
/// |A^T| rows pick 3 points), against 9 for the direct 3x3 sum: 64/9 < 8. The same reduction
/// over C accumulates those terms, so `Tolerance::accumulation(8 * C * 9)` bounds Winograd
/// where `accumulation(C * 9)` bounds direct convolution.
pub const WINOGRAD_ERROR_FACTOR: usize = 8;

/// The error bound of Winograd F(2x2, 3x3) with f16 storage (`precision` F16 or F16AccF32) for
/// `k` = C * 9 direct terms per output. Each transformed product meets three f16 storage
/// roundings beyond the direct convolution's (U = G g G^T on upload, V = B^T d B and M = U V,
/// all stored as f16 because the GEMM between them reads and writes Elem), plus the
/// accumulation's roundings; the transforms amplify every term by at most
/// [`WINOGRAD_ERROR_FACTOR`] over the direct sum of |terms|. So: F16Tolerance's bound with
/// `8 * (3 + k)` f16 roundings in F16; in F16AccF32 the accumulation's roundings are f32's,
/// `8 * k * 2^-24 <= 8 * 2^-11` for `k <= 2^13`, so `8 * (3 + 1)` f16 roundings cover them
/// (beyond that, `k` is counted in f16 roundings too).
pub fn f16_tolerance(k: usize, precision: Precision) -> F16Tolerance {
    let f = WINOGRAD_ERROR_FACTOR;
    let roundings = match precision {
        Precision::F16AccF32 if k <= 1 << 13 => f * (3 + 1),
        _ => f * (3 + k),
    };
    F16Tolerance {
        k: roundings,
        acc_roundoff: Precision::F16.storage_roundoff(),
        slope: 1.0,
    }
}

/// Transform points (4x4 per tile).
pub const POINTS: usize = 16;

/// `U[p][o][c] = (G g[o][c] G^T)[p]` for weights `[O, C, 3, 3]`, computed in f64: a tensor
/// `[16, O, C]`, each transform point's matrix in the row-major `[O, C]` layout the GEMM reads
/// as its A operand.
///
/// # Panics
/// If `weight` is not `[O, C, 3, 3]` (the planner only asks for valid Winograd layers).
pub fn transform_weights(weight: &Tensor) -> Tensor {
    let s = weight.shape();
    assert!(
        s.len() == 4 && s[2] == 3 && s[3] == 3,
        "Winograd F(2x2, 3x3) weights must be [O, C, 3, 3], got {s:?}"
    );
    let (o, c) = (s[0], s[1]);
    let w = weight.data();
    let mut u = vec![0f32; POINTS * o * c];
    for oc in 0..o * c {
        let g = &w[oc * 9..oc * 9 + 9];
        // t = G g (4x3), then U = t G^T (4x4).
        let mut t = [[0f64; 3]; 4];
        for (i, row) in t.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (0..3).map(|k| G[i][k] * g[k * 3 + j] as f64).sum();
            }
        }
        for i in 0..4 {
            for j in 0..4 {
                let v: f64 = (0..3).map(|k| t[i][k] * G[j][k]).sum();
                u[(i * 4 + j) * o * c + oc] = v as f32;
            }
        }
    }
    Tensor::new(vec![POINTS, o, c], u).expect("sized above")
}

/// Bytes of the two scratch regions: `V` `[16, C, P]` and `M` `[16, O, P]`, `P` the 2x2 output
/// tiles over the batch, both stored as `precision`'s Elem.
pub fn scratch_bytes(input_shape: &[usize], out_shape: &[usize], precision: Precision) -> [u64; 2] {
    let p = out_shape[0] * out_shape[2].div_ceil(2) * out_shape[3].div_ceil(2);
    let f = |e: usize| precision.buffer_bytes(e);
    [f(POINTS * input_shape[1] * p), f(POINTS * out_shape[1] * p)]
}

/// Checks a Winograd F(2x2, 3x3) convolution for `op`: the layer's geometry, the bindings
/// against the op's shapes and `b.weight` against [`transform_weights`]' `[16, O, C]`; returns
/// the output shape.
pub(crate) fn validate<B: Binding>(
    target: &Target,
    op: &str,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: &ConvBindings<B>,
) -> Result<Vec<usize>> {
    if !crate::kernels::algorithm::winograd_applies(spec) {
        spec.validate(op)?;
        return Err(Error::invalid_op(
            op,
            format!(
                "needs a 2-D 3x3 kernel, stride 1, dilation 1 and one group; got kernel {:?}, stride {:?}, dilation {:?}, groups {}",
                spec.kernel, spec.stride, spec.dilation, spec.groups
            ),
        ));
    }
    // The transformed weights are 16/9 the size of the raw ones: check them against that, and
    // the other bindings against the op's shapes.
    let raw_weight = b.weight.resized(target.elem_bytes(numel(weight_shape)));
    let out_shape = conv::validate(
        target,
        op,
        spec,
        input_shape,
        weight_shape,
        epilogue,
        &ConvBindings {
            weight: raw_weight,
            ..*b
        },
    )?;
    let (c, o) = (input_shape[1], out_shape[1]);
    let u_bytes = target.elem_bytes(POINTS * o * c);
    if b.weight.size() < u_bytes {
        return Err(Error::invalid_op(
            op,
            format!(
                "transformed weight binding of {} bytes is too small for [16, {o}, {c}] ({u_bytes} bytes)",
                b.weight.size()
            ),
        ));
    }
    Ok(out_shape)
}

/// `output = act(conv(input, weight) + bias + residual)` by Winograd F(2x2, 3x3) in three
/// dispatches. `b.weight` holds [`transform_weights`] of the `[O, C, 3, 3]` weights of shape
/// `weight_shape`; `scratch` is `[V, M]` of [`scratch_bytes`], in buffers apart from each other,
/// from the input (V) and from the output (M).
#[allow(clippy::too_many_arguments)]
pub fn winograd<B: Binding>(
    target: &Target,
    spec: &ConvSpec,
    input_shape: &[usize],
    weight_shape: &[usize],
    epilogue: Epilogue,
    b: ConvBindings<B>,
    tiling: Option<GemmTiling>,
    scratch: [B; 2],
) -> Result<[Launch<B>; 3]> {
    let out_shape = validate(target, OP, spec, input_shape, weight_shape, epilogue, &b)?;
    let (c, o) = (input_shape[1], out_shape[1]);
    let need = scratch_bytes(input_shape, &out_shape, target.precision());
    for (r, n) in scratch.iter().zip(need) {
        if r.size() < n {
            return Err(Error::invalid_op(
                OP,
                format!(
                    "scratch binding of {} bytes is too small ({n} bytes needed)",
                    r.size()
                ),
            ));
        }
    }
    let (tiles_h, tiles_w) = (out_shape[2].div_ceil(2), out_shape[3].div_ceil(2));
    let tiles = out_shape[0] * tiles_h * tiles_w;
    let u = |what: &str, v: usize| to_u32(OP, what, v);
    for (what, e) in [
        ("input elements", numel(input_shape)),
        ("transformed input elements", POINTS * c * tiles),
        ("transformed output elements", POINTS * o * tiles),
        ("output elements", numel(&out_shape)),
    ] {
        u(what, e)?;
    }
    let pad = |v: usize| {
        i32::try_from(v).map_err(|_| Error::invalid_op(OP, format!("padding {v} does not fit i32")))
    };
    let [v_buf, m_buf] = scratch;
    let input = target.launch(
        Shader::WinogradInput,
        &[],
        &WinogradInputParams {
            channels: u("channels", c)?,
            in_h: u("input height", input_shape[2])?,
            in_w: u("input width", input_shape[3])?,
            tiles_h: u("tiles", tiles_h)?,
            tiles_w: u("tiles", tiles_w)?,
            tiles: u("tiles", tiles)?,
            pad_h: pad(spec.pad_begin[0])?,
            pad_w: pad(spec.pad_begin[1])?,
        },
        &[b.input, v_buf],
        ((c * tiles) as u64).div_ceil(WORKGROUP),
    )?;
    let gemm = matmul::batched_gemm(
        target,
        OP,
        (POINTS, o, c, tiles),
        b.weight,
        v_buf,
        m_buf,
        tiling,
    )?;
    let mut constants = epilogue.activation.constants().to_vec();
    constants.extend([
        ("HAS_BIAS", b.bias.is_some() as u32 as f64),
        ("HAS_RESIDUAL", b.residual.is_some() as u32 as f64),
    ]);
    let output = target.launch(
        Shader::WinogradOutput,
        &constants,
        &WinogradOutputParams {
            out_c: u("output channels", o)?,
            out_h: u("output height", out_shape[2])?,
            out_w: u("output width", out_shape[3])?,
            tiles_h: u("tiles", tiles_h)?,
            tiles_w: u("tiles", tiles_w)?,
            tiles: u("tiles", tiles)?,
            ..Default::default()
        },
        &[
            m_buf,
            b.bias.unwrap_or(m_buf),
            b.residual.unwrap_or(m_buf),
            b.output,
        ],
        ((o * tiles) as u64).div_ceil(WORKGROUP),
    )?;
    Ok([input, gemm, output])
}

//! The vocabulary of builder programs: `arbitrary`-decoded dimensions, reshape targets and
//! builder steps.

use arbitrary::{Arbitrary, Unstructured};

/// A dimension or hyper-parameter: mostly small, sometimes an edge value that shape arithmetic
/// must survive (0, u32 limits, usize limits).
#[derive(Clone, Copy, Debug)]
pub struct N(pub usize);

impl<'a> Arbitrary<'a> for N {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let b = u8::arbitrary(u)?;
        Ok(N(match b {
            0..=239 => (b % 8) as usize,
            240 => u32::MAX as usize,
            241 => u32::MAX as usize + 1,
            242 => usize::MAX,
            243 => usize::MAX / 2,
            244 => 1 << 31,
            245 => 1 << 20,
            246 => 1 << 16,
            247 => 1 << 32 | 1,
            248 => (1 << 21) + 3,
            _ => u16::arbitrary(u)? as usize,
        }))
    }
}

/// A reshape target entry: `-1`, `0`, small, or extreme.
#[derive(Clone, Copy, Debug)]
pub struct Dim64(pub i64);

impl<'a> Arbitrary<'a> for Dim64 {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let b = u8::arbitrary(u)?;
        Ok(Dim64(match b {
            0..=199 => (b % 9) as i64 - 1,
            200 => i64::MAX,
            201 => i64::MIN,
            202 => -2,
            203 => u32::MAX as i64 + 1,
            204 => 1 << 40,
            _ => i64::arbitrary(u)?,
        }))
    }
}

/// One builder call; operands index the values made so far (modulo their count).
#[derive(Arbitrary, Debug)]
pub enum Step {
    Input(Vec<N>),
    Conv2d {
        x: u8,
        out: N,
        kernel: [N; 2],
        stride: [N; 2],
        pad: [N; 2],
        dilation: [N; 2],
        groups: N,
        bias: bool,
    },
    ConvSpec {
        x: u8,
        kernel: Vec<N>,
        stride: Vec<N>,
        pad_begin: Vec<N>,
        pad_end: Vec<N>,
        dilation: Vec<N>,
        groups: N,
        weight: Vec<N>,
        bias: Option<N>,
        residual: Option<u8>,
    },
    ConvNd {
        x: u8,
        out: N,
        kernel: Vec<N>,
        stride: N,
        pad: N,
        groups: N,
        bias: bool,
    },
    ConvTranspose {
        x: u8,
        out: N,
        kernel: Vec<N>,
        stride: Vec<N>,
        pad: Vec<N>,
        dilation: Vec<N>,
        output_padding: Vec<N>,
        groups: N,
        bias: bool,
    },
    BatchNorm {
        x: u8,
        eps: f32,
    },
    Act {
        x: u8,
        which: u8,
        a: f32,
        b: f32,
    },
    Binary {
        a: u8,
        b: u8,
        op: u8,
    },
    Linear {
        x: u8,
        out: N,
        bias: bool,
    },
    MatMul {
        a: u8,
        b: u8,
    },
    Pool {
        x: u8,
        max: bool,
        kernel: [N; 2],
        stride: [N; 2],
        pad_begin: [N; 2],
        pad_end: [N; 2],
        dilation: [N; 2],
        ceil_mode: bool,
        count_include_pad: bool,
    },
    GlobalPool {
        x: u8,
        max: bool,
    },
    Flatten {
        x: u8,
        start: N,
    },
    Reshape {
        x: u8,
        shape: Vec<Dim64>,
    },
    Transpose {
        x: u8,
        perm: Vec<N>,
    },
    Concat {
        xs: Vec<u8>,
        axis: N,
    },
    SliceChannels {
        x: u8,
        start: N,
        end: N,
    },
    Slice {
        x: u8,
        starts: Vec<N>,
        ends: Vec<N>,
        steps: Vec<N>,
    },
    ChannelShuffle {
        x: u8,
        groups: N,
    },
    PixelShuffle {
        x: u8,
        factor: N,
    },
    SpaceToDepth {
        x: u8,
        block: N,
        dcr: bool,
    },
    Resize {
        x: u8,
        linear: bool,
        coordinate: u8,
        nearest: u8,
        out: [N; 2],
        scale: Option<[f64; 2]>,
    },
    Pad {
        x: u8,
        begin: Vec<N>,
        end: Vec<N>,
        value: f32,
    },
    Softmax {
        x: u8,
        axis: N,
    },
    Dropout {
        x: u8,
        p: f32,
    },
    Output {
        x: u8,
    },
}

/// One program item: a first-round builder step, or a step of the op families added since.
#[derive(Debug)]
pub enum Item {
    Step(Step),
    Family(Family),
}

/// `Step`'s variant count: the derived decoder maps its `u32` tag `t` to variant
/// `t * STEP_VARIANTS >> 32`.
const STEP_VARIANTS: u64 = 25;

impl<'a> Arbitrary<'a> for Item {
    /// The bottom 3/16 of each `Step` variant's tag range selects a [`Family`] step instead:
    /// none of the inputs kept in `tests/fixtures/fuzz/graph_build/` uses it, so they still
    /// decode as the programs they were found as.
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let family = u.peek_bytes(4).is_some_and(|b| {
            let t = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            ((u64::from(t) * STEP_VARIANTS) as u32) < 3 << 28
        });
        if family {
            u32::arbitrary(u)?;
            Ok(Item::Family(Family::arbitrary(u)?))
        } else {
            Ok(Item::Step(Step::arbitrary(u)?))
        }
    }
}

/// A step of the op families `Step` lacks; operands index the values made so far.
#[derive(Arbitrary, Debug)]
pub enum Family {
    /// Window pooling of any rank and kind: Lp, dilations, MaxPool's indices.
    PoolNd {
        x: u8,
        kind: u8,
        p: N,
        kernel: Vec<N>,
        stride: Vec<N>,
        pad_begin: Vec<N>,
        pad_end: Vec<N>,
        dilation: Vec<N>,
        ceil_mode: bool,
        count_include_pad: bool,
    },
    /// Every resize mode and coordinate transformation, cubic, antialias and crop included.
    Resize {
        x: u8,
        mode: u8,
        coordinate: u8,
        nearest: u8,
        out: [N; 2],
        scale: Option<[f64; 2]>,
        cubic_a: f64,
        exclude_outside: bool,
        antialias: bool,
        roi: [[f64; 2]; 2],
        extrapolation: f32,
    },
    /// A host tensor as a graph value.
    Constant {
        shape: Vec<N>,
    },
    /// A convolution (or a transposed one) whose weight, and maybe bias, are graph values;
    /// `slot` and `shape` (when given) override the operand's input index and shape.
    ConvInputWeight {
        x: u8,
        w: u8,
        b: Option<u8>,
        transpose: bool,
        stride: Vec<N>,
        pad_begin: Vec<N>,
        pad_end: Vec<N>,
        dilation: Vec<N>,
        output_padding: Vec<N>,
        groups: N,
        slot: Option<u8>,
        shape: Option<Vec<N>>,
    },
    Expand {
        x: u8,
        shape: Vec<N>,
    },
    Reduce {
        x: u8,
        kind: u8,
        axes: Vec<N>,
        keepdims: bool,
    },
    /// Layer, instance, group, Lp norms and LRN, with any hyper-parameter.
    Norm {
        x: u8,
        kind: u8,
        output: u8,
        axis: N,
        epsilon: f32,
        groups: N,
        p: N,
        size: N,
        alpha: f32,
        beta: f32,
        bias: f32,
        affine: bool,
    },
    /// Softmax, log-softmax, hardmax.
    Softmax {
        x: u8,
        kind: u8,
        axis: N,
    },
    Where {
        c: u8,
        x: u8,
        y: u8,
    },
    /// Every activation (the first-round `Act` reaches the first eleven only).
    Act {
        x: u8,
        which: u8,
        a: f32,
        b: f32,
    },
    /// Every binary op, with a fused activation.
    Binary {
        a: u8,
        b: u8,
        op: u8,
        act: u8,
    },
    Identity {
        x: u8,
    },
}

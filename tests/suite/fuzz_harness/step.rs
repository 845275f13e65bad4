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

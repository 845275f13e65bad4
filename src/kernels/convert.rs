//! Storage conversion and image ingestion (`shaders/convert.wgsl`): f32 <-> f16 casts between
//! an application's tensors and a session's storage, and 8-bit RGBA pixels normalised into an
//! NCHW network input, as one kernel.

use crate::error::{Error, Result};
use crate::kernels::eltwise::to_u32;
use crate::kernels::{Binding, Launch, Target};
use crate::ops::Rgba8Normalize;
use crate::precision::Precision;
use crate::shaders::Shader;

const WORKGROUP: u64 = 256;
const OP: &str = "convert";

crate::gpu_params! {
    /// Mirrors `Params` in `shaders/convert.wgsl`.
    pub struct ConvertParams {
        pub total: u32,
        pub plane: u32,
        pub channels: u32,
        pub src_channels: u32,
        pub src_offset: u32,
        pub dst_offset: u32,
        pub scale: f32,
        pub _pad0: u32,
        pub map0: u32,
        pub map1: u32,
        pub map2: u32,
        pub map3: u32,
        pub mean0: f32,
        pub mean1: f32,
        pub mean2: f32,
        pub mean3: f32,
        pub std0: f32,
        pub std1: f32,
        pub std2: f32,
        pub std3: f32,
    }
}

/// An element type the kernel reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    /// 32-bit floats.
    F32,
    /// 16-bit floats.
    F16,
    /// Bytes (RGBA8 pixels are four per element group).
    U8,
}

impl SourceFormat {
    /// The format tensors of `precision` are stored in.
    pub fn of(precision: Precision) -> Self {
        if precision.is_f16() {
            SourceFormat::F16
        } else {
            SourceFormat::F32
        }
    }

    fn bytes(self) -> u64 {
        match self {
            SourceFormat::F32 => 4,
            SourceFormat::F16 => 2,
            SourceFormat::U8 => 1,
        }
    }
}

/// One conversion: `out[n, c, p] = (in[n, p, map[c]] * scale - mean[c]) / std[c]`, reading
/// `[batch, plane, src_channels]` elements of `src` and writing `[batch, channels, plane]`
/// stored as `dst`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Convert {
    /// Source element type.
    pub src: SourceFormat,
    /// Output storage (f32, or f16 for both f16 precisions).
    pub dst: Precision,
    /// Batch size.
    pub batch: usize,
    /// Output channels (1 to 4).
    pub channels: usize,
    /// Elements per channel plane.
    pub plane: usize,
    /// Source channels interleaved per plane position.
    pub src_channels: usize,
    /// Source channel of each output channel.
    pub map: [u32; 4],
    /// Multiplies each source element before the mean is subtracted.
    pub scale: f32,
    /// Per output channel.
    pub mean: [f32; 4],
    /// Per output channel.
    pub std: [f32; 4],
}

impl Convert {
    /// `n` elements stored as `src`, rewritten as `dst` (a no-op when both store the same type).
    pub fn cast(src: Precision, dst: Precision, n: usize) -> Self {
        Self {
            src: SourceFormat::of(src),
            dst,
            batch: 1,
            channels: 1,
            plane: n,
            src_channels: 1,
            map: [0; 4],
            scale: 1.0,
            mean: [0.0; 4],
            std: [1.0; 4],
        }
    }

    /// `batch` frames of `height` x `width` RGBA8 pixels normalised by `norm` into
    /// `norm.out_dims(..)` stored as `dst`.
    pub fn rgba8(
        norm: &Rgba8Normalize,
        batch: usize,
        height: usize,
        width: usize,
        dst: Precision,
    ) -> Self {
        let (mean, std) = (norm.mean(), norm.std());
        let map = |c: usize| norm.source_byte(c) as u32;
        Self {
            src: SourceFormat::U8,
            dst,
            batch,
            channels: 3,
            plane: height * width,
            src_channels: 4,
            map: [map(0), map(1), map(2), 0],
            scale: 1.0 / 255.0,
            mean: [mean[0], mean[1], mean[2], 0.0],
            std: [std[0], std[1], std[2], 1.0],
        }
    }

    /// Elements written.
    pub fn out_elems(&self) -> usize {
        self.batch * self.channels * self.plane
    }

    /// Bytes read from the source.
    pub fn src_bytes(&self) -> u64 {
        (self.batch * self.plane * self.src_channels) as u64 * self.src.bytes()
    }
}

/// The launch of `c`. Storage bindings start on aligned offsets, so each side's tensor may
/// start after its binding's first byte: `src_skip` and `dst_skip` bytes (multiples of 4).
pub fn convert<B: Binding>(
    target: &Target,
    c: &Convert,
    src: B,
    src_skip: u64,
    dst: B,
    dst_skip: u64,
) -> Result<Launch<B>> {
    if !(1..=4).contains(&c.channels)
        || c.map[..c.channels]
            .iter()
            .any(|&m| m as usize >= c.src_channels)
    {
        return Err(Error::invalid_op(
            OP,
            format!(
                "{} output channel(s) reading source channels {:?} of {}: need 1 to 4 \
                 channels, each reading an existing source channel",
                c.channels,
                &c.map[..c.channels.min(4)],
                c.src_channels
            ),
        ));
    }
    if !src_skip.is_multiple_of(4) || !dst_skip.is_multiple_of(4) {
        return Err(Error::invalid_op(
            OP,
            format!("tensor offsets {src_skip} and {dst_skip} must be multiples of 4 bytes"),
        ));
    }
    let total = c.out_elems();
    let dst_bytes = c.dst.buffer_bytes(total);
    for (what, b, need) in [
        ("source", &src, src_skip + c.src_bytes()),
        ("output", &dst, dst_skip + dst_bytes),
    ] {
        if b.size() < need {
            return Err(Error::invalid_op(
                OP,
                format!("{what} binding has {} bytes, needs {need}", b.size()),
            ));
        }
    }
    let params = ConvertParams {
        total: to_u32(OP, "element count", total)?,
        plane: to_u32(OP, "plane size", c.plane.max(1))?,
        channels: c.channels as u32,
        src_channels: c.src_channels as u32,
        src_offset: to_u32(OP, "source offset", (src_skip / c.src.bytes()) as usize)?,
        dst_offset: to_u32(OP, "output offset", (dst_skip / 4) as usize)?,
        scale: c.scale,
        _pad0: 0,
        map0: c.map[0],
        map1: c.map[1],
        map2: c.map[2],
        map3: c.map[3],
        mean0: c.mean[0],
        mean1: c.mean[1],
        mean2: c.mean[2],
        mean3: c.mean[3],
        std0: c.std[0],
        std1: c.std[1],
        std2: c.std[2],
        std3: c.std[3],
    };
    let src_id = match c.src {
        SourceFormat::F32 => 0.0,
        SourceFormat::F16 => 1.0,
        SourceFormat::U8 => 2.0,
    };
    let words = if c.dst.is_f16() {
        (total as u64).div_ceil(2)
    } else {
        total as u64
    };
    target.launch(
        Shader::Convert,
        &[("SRC", src_id), ("DST_F16", c.dst.is_f16() as u32 as f64)],
        &params,
        &[src, dst],
        words.div_ceil(WORKGROUP),
    )
}

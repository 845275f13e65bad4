//! Lowering a node whose tensors exceed `max_storage_buffer_binding_size` to several launches,
//! each binding only a sub-range of every tensor.
//!
//! A node is split into chunks ([`lower`] decides how for each op); each chunk reads and writes
//! [`View`]s: dense boxes of the stored tensors (a batch range, one image's channel range, a
//! row range, ...). A view whose first byte is a multiple of `min_storage_buffer_offset_alignment`
//! and whose elements are contiguous is bound where it lies. Any other view is staged: a
//! strided copy (which takes element offsets, so it can bind an aligned-down window of the
//! source) moves it into a session-owned staging buffer before the chunk's kernel, or out of
//! one after it. Every launch stays inside the session's single compute pass; staging buffers
//! ("slots", numbered per chunk) are sized by a pure first pass over every split node and
//! allocated once, at session build.
//!
//! Chunks are chosen so that each view's extent fits the binding limit less one alignment
//! unit (the slack an aligned-down copy window may need); chunk boundaries are rounded to
//! aligned offsets of the output where that costs at most half a chunk, so most views bind in
//! place.

mod emit;
pub(crate) mod lower;
mod lowering;
mod view;

pub(crate) use emit::emit;
pub(crate) use lowering::Lowering;
pub(crate) use view::{View, boxes};

use super::Store;
use crate::kernels::rearrange::CopyPlan;
use crate::ops::{Activation, ConvSpec, ConvTransposeSpec, Epilogue};

/// A binding of a lowered launch: a byte range of a store, or a staging slot.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bind {
    Store {
        store: Store,
        offset: u64,
        size: u64,
    },
    Slot {
        slot: usize,
        size: u64,
    },
}

/// One kernel launch of a split node.
#[derive(Clone, Debug)]
pub(crate) enum Part {
    /// A strided copy (staging, or a chunk of a data-movement op).
    Copy {
        plan: CopyPlan,
        src: Bind,
        dst: Bind,
    },
    /// The node's own kernel on sub-shapes: `shapes` are its inputs' shapes.
    Node {
        shapes: Vec<Vec<usize>>,
        ins: Vec<Bind>,
        params: Vec<Bind>,
        out: Bind,
    },
    /// A convolution chunk with its own geometry (channel or input-channel split).
    Conv {
        spec: ConvSpec,
        in_shape: Vec<usize>,
        w_shape: Vec<usize>,
        epilogue: Epilogue,
        input: Bind,
        weight: Bind,
        bias: Option<Bind>,
        residual: Option<Bind>,
        /// The chunk's `[n, c]` input scale (`Epilogue::input_scale`).
        scale: Option<Bind>,
        out: Bind,
    },
    /// A transposed convolution chunk (one image's output-channel range).
    ConvTranspose {
        spec: ConvTransposeSpec,
        in_shape: Vec<usize>,
        w_shape: Vec<usize>,
        epilogue: Epilogue,
        input: Bind,
        weight: Bind,
        bias: Option<Bind>,
        residual: Option<Bind>,
        out: Bind,
    },
    /// A linear layer chunk (rows x output features).
    Linear {
        x_shape: Vec<usize>,
        w_shape: Vec<usize>,
        activation: Activation,
        x: Bind,
        w: Bind,
        bias: Option<Bind>,
        out: Bind,
    },
}

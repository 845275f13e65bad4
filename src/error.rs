//! One error type for the whole crate. Bad input is an error that names what and where;
//! panics are reserved for broken internal invariants.

use thiserror::Error;

/// Everything that can go wrong in wgconv.
#[derive(Debug, Error)]
#[non_exhaustive]
#[allow(missing_docs)] // each variant's message names its fields and says what they hold
pub enum Error {
    /// No adapter matched the request.
    #[error("no GPU adapter found (tried backends: {tried}{filter}). {hint}")]
    NoAdapter {
        tried: String,
        filter: String,
        hint: &'static str,
    },
    /// An environment variable or option had a value wgconv does not understand.
    #[error("invalid setting {name}={value:?}: {reason}")]
    InvalidSetting {
        name: &'static str,
        value: String,
        reason: String,
    },
    /// The adapter refused to create a device.
    #[error("could not create a device on adapter {adapter:?}: {message}")]
    RequestDevice { adapter: String, message: String },
    /// A wgpu validation error caught by an error scope (a bug in wgconv, or a driver issue).
    #[error("GPU validation error during {during}: {message}")]
    Validation { during: String, message: String },
    /// The device ran out of memory.
    #[error("GPU out of memory during {during}: {message}")]
    OutOfMemory { during: String, message: String },
    /// The device was lost; create a new context to continue.
    #[error("GPU device lost: {reason}")]
    DeviceLost { reason: String },
    /// Reading results back from the GPU failed.
    #[error("reading back from the GPU failed: {0}")]
    Readback(String),
    /// A tensor's data does not match its shape.
    #[error("tensor shape {shape:?} needs {expected} elements, got {actual}")]
    ShapeDataMismatch {
        shape: Vec<usize>,
        expected: usize,
        actual: usize,
    },
    /// A run-time input does not fit the model: wrong rank, a fixed dimension, a symbolic
    /// dimension bound differently by another input, or non-integer values where the model
    /// reads shapes or indices. `feeds` names the nodes that read it.
    #[error("input {input:?} (read by {feeds}): expected {expected}, got {got}")]
    InputMismatch {
        input: String,
        feeds: String,
        expected: String,
        got: String,
    },
    /// An operation was given shapes or attributes it cannot take.
    #[error("{op}: {message}")]
    InvalidOp { op: String, message: String },
    /// A parameter tensor could not be loaded (missing, mis-shaped, unexpected, bad dtype).
    #[error("weights: tensor {tensor:?} {message}")]
    Weights { tensor: String, message: String },
    /// A tensor or dispatch exceeds what the device can do.
    #[error("{what} exceeds the device limit {limit_name} = {limit} (needed {needed})")]
    DeviceLimit {
        what: String,
        limit_name: &'static str,
        limit: u64,
        needed: u64,
    },
    /// The device lacks an optional feature the request needs (e.g. f16 storage without
    /// `SHADER_F16`, as on GL backends).
    #[error("{what} needs the {feature} feature, which the device on {adapter:?} does not have")]
    MissingFeature {
        what: String,
        feature: &'static str,
        adapter: String,
    },
}

/// Crate-wide result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidOp`].
    pub fn invalid_op(op: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidOp {
            op: op.into(),
            message: message.into(),
        }
    }
}

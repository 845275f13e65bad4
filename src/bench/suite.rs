//! The benchmark suite format (`bench/suite.json`): layers described by shape, and models by
//! zoo name and input shape.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A whole suite.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Suite {
    /// Free text.
    #[serde(default)]
    pub comment: String,
    /// Single layers.
    #[serde(default)]
    pub layers: Vec<LayerItem>,
    /// Whole networks.
    #[serde(default)]
    pub models: Vec<ModelItem>,
}

/// One layer of the suite. Convolutions have a bias of length `cout`.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct LayerItem {
    /// Unique name.
    pub name: String,
    /// `conv2d`, `conv_transpose2d`, `conv3d`, `pixel_shuffle`, `space_to_depth`,
    /// `squeeze_excite`, `max_pool2d`, `avg_pool2d` (square window: `kernel[0]`, `stride[0]`,
    /// `pad[0]`), `global_avg_pool`, `global_max_pool`, `softmax` (over channels) or `add`
    /// (`relu(a + b)`, two tensors of the input shape).
    pub op: String,
    /// Batch.
    pub n: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Input spatial extent (H, W or D, H, W).
    pub spatial: Vec<usize>,
    /// Kernel extent per spatial dim.
    #[serde(default)]
    pub kernel: Vec<usize>,
    /// Stride per spatial dim.
    #[serde(default)]
    pub stride: Vec<usize>,
    /// Symmetric padding per spatial dim.
    #[serde(default)]
    pub pad: Vec<usize>,
    /// Dilation per spatial dim.
    #[serde(default)]
    pub dilation: Vec<usize>,
    /// Channel groups.
    #[serde(default = "one")]
    pub groups: usize,
    /// Pixel shuffle / space-to-depth factor.
    #[serde(default)]
    pub factor: usize,
    /// SE bottleneck width.
    #[serde(default)]
    pub squeeze: usize,
}

fn one() -> usize {
    1
}

/// One network of the suite.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ModelItem {
    /// Name of the entry (also the zoo name unless `model` is given).
    pub name: String,
    /// Zoo network name, when it differs from `name`.
    #[serde(default)]
    pub model: Option<String>,
    /// Input shape `[N, C, H, W]`.
    pub input: Vec<usize>,
    /// A remark for readers of the suite file (not used by the run).
    #[serde(default)]
    pub note: Option<String>,
}

impl ModelItem {
    /// The zoo network this entry runs.
    pub fn zoo_name(&self) -> &str {
        self.model.as_deref().unwrap_or(&self.name)
    }
}

/// The suite shipped with the crate (a copy of the project's `bench/suite.json`).
pub const DEFAULT_SUITE: &str = include_str!("../../bench/suite.json");

impl Suite {
    /// Parses a suite, naming the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::InvalidSetting {
            name: "suite",
            value: origin.to_string(),
            reason: e.to_string(),
        })
    }

    /// The built-in suite.
    pub fn builtin() -> Self {
        Self::parse(DEFAULT_SUITE, "built-in suite").expect("built-in suite parses")
    }
}

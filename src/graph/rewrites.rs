//! Which byte-saving rewrites run: one switch for the graph passes and the planner.

/// The byte-saving rewrites of the graph passes and the planner, one flag each:
/// [`Rewrites::NONE`] is the "before" of README's traffic table. A new rewrite adds its flag
/// here (in both constants) and reads it where it applies: graph passes through
/// [`passes::optimize_with`](super::passes::optimize_with), the planner through
/// `PlanOptions::rewrites`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rewrites {
    /// A channel shuffle read only by convolutions is folded into their weights
    /// ([`passes::fold_channel_shuffles`](super::passes::fold_channel_shuffles)).
    pub shuffle_fold: bool,
    /// Producers of a Concat write straight into their chunk of its output (`plan::storage`).
    pub concat_in_place: bool,
    /// Aligned contiguous Slices (and Split outputs) are views at an offset (`plan::views`).
    pub slice_views: bool,
    /// Winograd layers the heuristic picks run the fused one-dispatch kernel instead of three
    /// passes over scratch (`ConvAlgorithm::WinogradFused`; explicit overrides are kept).
    pub winograd_fused: bool,
    /// Squeeze-excitation's `x * gate` read by a 1x1 convolution is applied as that
    /// convolution reads its input ([`passes::fuse_se_scale`](super::passes::fuse_se_scale)).
    pub se_scale: bool,
}

impl Rewrites {
    /// Every rewrite on.
    pub const ALL: Rewrites = Rewrites {
        shuffle_fold: true,
        concat_in_place: true,
        slice_views: true,
        winograd_fused: true,
        se_scale: true,
    };
    /// Every rewrite off.
    pub const NONE: Rewrites = Rewrites {
        shuffle_fold: false,
        concat_in_place: false,
        slice_views: false,
        winograd_fused: false,
        se_scale: false,
    };
}

impl Default for Rewrites {
    fn default() -> Self {
        Self::ALL
    }
}

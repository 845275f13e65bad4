//! How many workgroups a GPU wants in flight, the goal of the tile and split-K heuristics
//! (`crate::kernels::algorithm`). wgpu reports no compute-unit count, so it comes from a small
//! table of adapter names; unknown adapters (CPU rasterisers included) get
//! [`TARGET_WORKGROUPS`].

use crate::kernels::algorithm::TARGET_WORKGROUPS;

/// Compute units (NVIDIA SMs, AMD CUs) by a substring of the adapter name, first match wins:
/// longer names before their prefixes ("H100 PCIe" before "H100"; "H200" also names GH200).
const COMPUTE_UNITS: &[(&str, u32)] = &[
    ("H200", 132),
    ("H100 PCIe", 114),
    ("H100", 132),
    ("A100", 108),
    ("L40", 142),
    ("V100", 80),
    ("RTX 4090", 128),
    ("RTX 3090", 82),
    ("MI300X", 304),
    ("MI300A", 228),
    ("RX 7900 XTX", 96),
];

/// The compute units of the adapter called `name`, where the table knows it.
pub fn compute_units(name: &str) -> Option<u32> {
    COMPUTE_UNITS
        .iter()
        .find(|(key, _)| name.contains(key))
        .map(|&(_, units)| units)
}

/// Workgroups in flight the heuristics aim at on the adapter called `name`: two per compute
/// unit (one computing while the other waits on its loads), or [`TARGET_WORKGROUPS`].
pub fn target_workgroups(name: &str) -> u64 {
    compute_units(name).map_or(TARGET_WORKGROUPS, |units| 2 * units as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_longest_names_first() {
        assert_eq!(compute_units("NVIDIA H100 80GB HBM3"), Some(132));
        assert_eq!(compute_units("NVIDIA H100 PCIe"), Some(114));
        assert_eq!(compute_units("NVIDIA A100-SXM4-40GB"), Some(108));
        assert_eq!(compute_units("NVIDIA GH200 480GB"), Some(132));
        assert_eq!(compute_units("llvmpipe (LLVM 15.0.7, 256 bits)"), None);
        assert_eq!(target_workgroups("NVIDIA H200"), 264);
        assert_eq!(target_workgroups("AMD Radeon Graphics"), TARGET_WORKGROUPS);
    }
}

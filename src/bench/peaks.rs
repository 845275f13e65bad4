//! Published FP32 peak throughput and memory bandwidth of common GPUs, for "% of peak" columns.
//! Figures are the vendors' datasheet numbers (boost clock, non-tensor FP32).

/// Peak figures of one GPU.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Peak {
    /// FP32 GFLOP/s.
    pub gflops: f64,
    /// Memory bandwidth in GB/s.
    pub gbs: f64,
}

/// (substring of the adapter name, peak). Checked in order, so more specific names come first.
const KNOWN: &[(&str, Peak)] = &[
    (
        "H100 PCIe",
        Peak {
            gflops: 51_200.0,
            gbs: 2_000.0,
        },
    ),
    (
        "H100",
        Peak {
            gflops: 66_900.0,
            gbs: 3_350.0,
        },
    ),
    (
        "H200",
        Peak {
            gflops: 66_900.0,
            gbs: 4_800.0,
        },
    ),
    (
        "A100",
        Peak {
            gflops: 19_500.0,
            gbs: 2_039.0,
        },
    ),
    (
        "L40S",
        Peak {
            gflops: 91_600.0,
            gbs: 864.0,
        },
    ),
    (
        "L4",
        Peak {
            gflops: 30_300.0,
            gbs: 300.0,
        },
    ),
    (
        "A10",
        Peak {
            gflops: 31_200.0,
            gbs: 600.0,
        },
    ),
    (
        "T4",
        Peak {
            gflops: 8_100.0,
            gbs: 320.0,
        },
    ),
    (
        "RTX 4090",
        Peak {
            gflops: 82_600.0,
            gbs: 1_008.0,
        },
    ),
    (
        "RTX 3090",
        Peak {
            gflops: 35_600.0,
            gbs: 936.0,
        },
    ),
    (
        "RTX 3080",
        Peak {
            gflops: 29_800.0,
            gbs: 760.0,
        },
    ),
    (
        "Radeon RX 7900 XTX",
        Peak {
            gflops: 61_400.0,
            gbs: 960.0,
        },
    ),
    (
        "Apple M1",
        Peak {
            gflops: 2_600.0,
            gbs: 68.0,
        },
    ),
    (
        "Apple M2",
        Peak {
            gflops: 3_600.0,
            gbs: 100.0,
        },
    ),
];

/// Built-in peak figures for an adapter name, if known.
pub fn lookup(adapter_name: &str) -> Option<Peak> {
    KNOWN
        .iter()
        .find(|(needle, _)| adapter_name.contains(needle))
        .map(|&(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_names_win() {
        assert_eq!(lookup("NVIDIA H100 PCIe").unwrap().gbs, 2_000.0);
        assert_eq!(lookup("NVIDIA H100 80GB HBM3").unwrap().gbs, 3_350.0);
        assert!(lookup("llvmpipe (LLVM 15.0.6, 256 bits)").is_none());
    }
}

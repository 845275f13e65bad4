//! Latency statistics of repeated runs: what `wgconv run --runs` and `wgconv bench` print.

use serde::{Deserialize, Serialize};

/// Statistics of timed runs, ms, with the throughput at the run's batch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Timed runs.
    pub runs: usize,
    /// Arithmetic mean.
    pub mean_ms: f64,
    /// Population standard deviation.
    pub stddev_ms: f64,
    /// Fastest run.
    pub min_ms: f64,
    /// Nearest-rank percentiles.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Items (the leading dimension of the first input) per run.
    pub batch: usize,
    /// `batch / mean`, items per second.
    pub items_per_s: f64,
}

impl Stats {
    /// Statistics of `times_ms` (in any order); `None` when there are none.
    pub fn of(times_ms: &[f64], batch: usize) -> Option<Self> {
        if times_ms.is_empty() {
            return None;
        }
        let mut t = times_ms.to_vec();
        t.sort_by(f64::total_cmp);
        let n = t.len() as f64;
        let mean = t.iter().sum::<f64>() / n;
        let stddev = (t.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let pct = |p: f64| t[((p / 100.0 * n).ceil() as usize).clamp(1, t.len()) - 1];
        Some(Self {
            runs: t.len(),
            mean_ms: mean,
            stddev_ms: stddev,
            min_ms: t[0],
            p50_ms: pct(50.0),
            p90_ms: pct(90.0),
            p99_ms: pct(99.0),
            batch,
            items_per_s: batch as f64 / (mean / 1e3),
        })
    }

    /// One line: `mean 1.000 ms, stddev ..., min ..., p50 ..., p90 ..., p99 ...; throughput
    /// N items/s at batch B`.
    pub fn line(&self) -> String {
        format!(
            "mean {:.3} ms, stddev {:.3} ms, min {:.3} ms, p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms; throughput {:.1} items/s at batch {}",
            self.mean_ms,
            self.stddev_ms,
            self.min_ms,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.items_per_s,
            self.batch
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_and_throughput() {
        let times: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let s = Stats::of(&times, 4).unwrap();
        assert_eq!(
            (s.min_ms, s.p50_ms, s.p90_ms, s.p99_ms),
            (1.0, 5.0, 9.0, 10.0)
        );
        assert_eq!(s.mean_ms, 5.5);
        assert!((s.stddev_ms - 8.25f64.sqrt()).abs() < 1e-12);
        assert!((s.items_per_s - 4.0 / 5.5e-3).abs() < 1e-9);
        assert!(Stats::of(&[], 1).is_none());
    }
}

//! `wgconv bench --profile`: the GPU time of every kernel launch of a session, with its share
//! of the total, the bytes it binds and its FLOPs.
//!
//! Each launch is timed alone ([`time_launches`]): with timestamps, in a compute pass of its
//! own (one pass per launch adds a little overhead per launch that a normal run, one pass for
//! all, does not have); without them, as its own submission waited on by the host (which adds
//! the submission and wait to every launch). The report names the method.

use serde::Serialize;

use crate::device::timer::{Clock, time_launches};
use crate::error::Result;
use crate::session::Session;

/// One launch's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LaunchTime {
    /// Position in the forward pass.
    pub index: usize,
    /// The graph node it belongs to (after fusion).
    pub node: String,
    /// The node's op kind.
    pub op: String,
    /// The kernel (shader file without `.wgsl`).
    pub kernel: String,
    /// Median time over the profiled runs, ms.
    pub ms: f64,
    /// Percent of the sum of every launch's median.
    pub share_pct: f64,
    /// Bytes of the storage ranges it binds (each read or written once at least).
    pub bytes: u64,
    /// Its node's FLOPs (2 per multiply-accumulate of the graph op) shared evenly among the
    /// node's launches (Winograd's transforms, split-K's reduction), so a node's launches sum
    /// to the node's FLOPs; 0 for ops whose work is not counted (elementwise, data movement).
    pub flops: u64,
}

/// Per-launch times of one session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Profile {
    /// How launches were timed.
    pub method: Clock,
    /// What the method adds to each launch's time.
    pub note: String,
    /// Profiled runs (the median of each launch is reported).
    pub runs: usize,
    /// Sum of the launches' medians, ms.
    pub total_ms: f64,
    /// Every launch, in execution order.
    pub launches: Vec<LaunchTime>,
}

/// Profiles `session`: `warmup` untimed runs, then `runs` timed ones, launch by launch.
/// Its inputs are those last written (a run or [`Session::write_inputs`]).
///
/// ```
/// use wgconv::graph::{Conv2d, Graph};
/// use wgconv::{Session, SessionConfig, Tensor, weights};
///
/// let mut g = Graph::new();
/// let x = g.input("x", &[1, 8, 16, 16]);
/// let y = g.conv2d(x, "conv", Conv2d::new(8, 3).pad(1))?;
/// let y = g.max_pool(y, 2, 2, 0, false)?;
/// g.output(y);
/// weights::init_seeded(&mut g, 1);
/// let session = Session::from_graph(&g, &SessionConfig::default().cache_dir(None))?;
/// session.write_inputs(&[Tensor::random(vec![1, 8, 16, 16], 2)])?;
/// let p = wgconv::bench::profile(&session, 1, 3, true)?;
/// assert_eq!(p.launches.len(), session.dispatch_count());
/// assert!(p.total_ms > 0.0);
/// # Ok::<(), wgconv::Error>(())
/// ```
pub fn profile(
    session: &Session<'_>,
    warmup: usize,
    runs: usize,
    use_timestamps: bool,
) -> Result<Profile> {
    let count = session.dispatch_count();
    let mut per_launch: Vec<Vec<f64>> = vec![Vec::new(); count];
    let mut method = Clock::WallTime;
    for i in 0..warmup + runs.max(1) {
        let (clock, ms) = time_launches(session.gpu(), count, use_timestamps, &|l, pass| {
            session.record_launch(l, pass)
        })?;
        method = clock;
        if i >= warmup {
            for (all, t) in per_launch.iter_mut().zip(ms) {
                all.push(t);
            }
        }
    }
    let medians: Vec<f64> = per_launch
        .into_iter()
        .map(|v| crate::device::timer::median(&v))
        .collect();
    let total_ms: f64 = medians.iter().sum();
    let g = session.graph();
    let mut launches = Vec::with_capacity(count);
    for step in &session.plan().steps {
        let node = g.node(step.node);
        let shapes: Vec<&[usize]> = node.inputs.iter().map(|&v| g.shape(v)).collect();
        let flops = 2 * node.op.macs(&shapes, g.shape(node.output));
        let n = step.launches.len() as u64;
        for l in &step.launches {
            let index = launches.len();
            launches.push(LaunchTime {
                index,
                node: node.name.clone(),
                op: node.op.kind().to_string(),
                kernel: l.shader.label().to_string(),
                ms: medians[index],
                share_pct: 100.0 * medians[index] / total_ms,
                bytes: l.bindings.iter().map(|b| b.size).sum(),
                flops: flops / n,
            });
        }
    }
    let note = match method {
        Clock::GpuTimestamps => {
            "GPU timestamps around each launch, one compute pass per launch (the extra passes add a little per-launch overhead)"
        }
        Clock::WallTime => {
            "no GPU timestamps: each launch submitted alone and waited on, host wall clock (includes submission and wait overhead)"
        }
    };
    Ok(Profile {
        method,
        note: note.into(),
        runs: runs.max(1),
        total_ms,
        launches,
    })
}

impl Profile {
    /// The `top` launches by time: ms, share, bytes, FLOPs, GFLOP/s and GB/s.
    pub fn table(&self, top: usize) -> String {
        let mut by_time: Vec<&LaunchTime> = self.launches.iter().collect();
        by_time.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        let mut s = format!(
            "profile: {} launches, {:.3} ms in all (median of {} runs); method: {}: {}\n",
            self.launches.len(),
            self.total_ms,
            self.runs,
            self.method.name(),
            self.note
        );
        s += &format!(
            "{:>5} {:<16} {:<18} {:>10} {:>7} {:>12} {:>12} {:>9} {:>8}  node\n",
            "#", "op", "kernel", "ms", "share%", "bytes", "FLOPs", "GFLOP/s", "GB/s"
        );
        for l in by_time.iter().take(top) {
            let per_s = |x: u64| x as f64 / (l.ms * 1e-3) / 1e9;
            s += &format!(
                "{:>5} {:<16} {:<18} {:>10.4} {:>7.2} {:>12} {:>12} {:>9.2} {:>8.2}  {}\n",
                l.index,
                l.op,
                l.kernel,
                l.ms,
                l.share_pct,
                l.bytes,
                l.flops,
                per_s(l.flops),
                per_s(l.bytes),
                l.node
            );
        }
        if by_time.len() > top {
            let rest: f64 = by_time[top..].iter().map(|l| l.share_pct).sum();
            s += &format!(
                "      ... {} more launches, {rest:.2}% of the time\n",
                by_time.len() - top
            );
        }
        s
    }
}

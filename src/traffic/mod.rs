//! Bytes a plan moves, as a pure function of the plan (no GPU), beside the least any plan of the
//! same graph could move ([`minimum`]).
//!
//! A launch's traffic is what a perfect cache would see within that launch and none between
//! launches: each distinct byte of each buffer it binds, read once if bound read-only and written
//! once if bound `read_write` (a range both read and written counts in both). Bindings of one
//! launch may overlap or alias (an absent bias bound as the weight, split-K's `partial` bound as
//! the output), so ranges are merged per buffer before they are summed. Parameters, scratch
//! (split-K partial sums, Winograd transforms) and split nodes' staging count like any tensor;
//! the `Params` uniform does not (a few dozen bytes). A kernel that reads only part of a binding
//! (a strided copy of a slice) is charged the whole binding: the figure is what the plan binds.

pub mod minimum;

use std::sync::OnceLock;

use serde::Serialize;

use crate::graph::Graph;
use crate::kernels::Launch;
use crate::plan::{Plan, Slice, Store};
use crate::shaders::Shader;

pub use minimum::{minimum_bytes, node_minimum};

/// Bytes read and written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Bytes {
    /// Bytes read.
    pub read: u64,
    /// Bytes written.
    pub written: u64,
}

impl Bytes {
    /// Read plus written.
    pub fn total(&self) -> u64 {
        self.read + self.written
    }
}

impl std::ops::Add for Bytes {
    type Output = Bytes;
    fn add(self, o: Bytes) -> Bytes {
        Bytes {
            read: self.read + o.read,
            written: self.written + o.written,
        }
    }
}

impl std::iter::Sum for Bytes {
    fn sum<I: Iterator<Item = Bytes>>(it: I) -> Bytes {
        it.fold(Bytes::default(), |a, b| a + b)
    }
}

/// The storage bindings (0-based, as in [`Launch::bindings`]) each shader declares
/// `read_write`, read from its source: `@binding(k)` is `bindings[k - 1]`.
fn written_bindings(shader: Shader) -> &'static [usize] {
    static TABLE: OnceLock<Vec<Vec<usize>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        Shader::ALL
            .iter()
            .map(|s| {
                s.body()
                    .lines()
                    .filter(|l| l.contains("var<storage, read_write>"))
                    .filter_map(|l| {
                        let (_, rest) = l.split_once("@binding(")?;
                        let (k, _) = rest.split_once(')')?;
                        k.trim().parse::<usize>().ok()?.checked_sub(1)
                    })
                    .collect()
            })
            .collect()
    });
    let at = Shader::ALL
        .iter()
        .position(|&s| s == shader)
        .expect("Shader::ALL lists every shader");
    &table[at]
}

/// Bytes of the union of `ranges` (buffer, first byte, one past the last).
fn union_bytes(mut ranges: Vec<(Store, u64, u64)>) -> u64 {
    ranges.sort_by_key(|&(store, start, end)| (store_key(store), start, end));
    let mut total = 0;
    let mut open: Option<(Store, u64, u64)> = None;
    for (store, start, end) in ranges {
        match &mut open {
            Some((s, _, e)) if *s == store && start <= *e => *e = (*e).max(end),
            _ => {
                if let Some((_, s, e)) = open {
                    total += e - s;
                }
                open = Some((store, start, end));
            }
        }
    }
    total + open.map_or(0, |(_, s, e)| e - s)
}

/// A total order on buffers, for sorting ranges by buffer.
fn store_key(store: Store) -> (u8, usize) {
    match store {
        Store::Arena(i) => (0, i),
        Store::Params(i) => (1, i),
        Store::Staging(i) => (2, i),
    }
}

/// What one launch reads and writes, each distinct byte of each buffer once.
pub fn launch_bytes(launch: &Launch<Slice>) -> Bytes {
    let written = written_bindings(launch.shader);
    let (mut reads, mut writes) = (Vec::new(), Vec::new());
    for (k, b) in launch.bindings.iter().enumerate() {
        let range = (b.store, b.offset, b.offset + b.size);
        if written.contains(&k) {
            writes.push(range);
        } else {
            reads.push(range);
        }
    }
    Bytes {
        read: union_bytes(reads),
        written: union_bytes(writes),
    }
}

/// Per step of `plan`, the sum of its launches' bytes (zero for views).
pub fn step_bytes(plan: &Plan) -> Vec<Bytes> {
    plan.steps
        .iter()
        .map(|s| s.launches.iter().map(launch_bytes).sum())
        .collect()
}

/// The hardware-independent figures of one plan of one graph.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// Kernel launches of one run.
    pub dispatches: usize,
    /// What the launches read and write, summed over launches ([`launch_bytes`]).
    pub moved: Bytes,
    /// The least any plan of the graph moves ([`minimum_bytes`]).
    pub minimum: u64,
}

impl Traffic {
    /// The figures of `plan`, lowered from `g`.
    pub fn of(g: &Graph, plan: &Plan) -> Self {
        Self {
            dispatches: plan.dispatch_count(),
            moved: step_bytes(plan).into_iter().sum(),
            minimum: minimum_bytes(g, plan.precision()),
        }
    }

    /// Bytes moved over the minimum (1.0 is perfect).
    pub fn ratio(&self) -> f64 {
        self.moved.total() as f64 / self.minimum.max(1) as f64
    }
}

/// Bytes moved beyond the minimum, per op kind (a convolution's with its algorithm), largest
/// first: `(kind, moved, minimum)` summed over the steps of that kind.
pub fn excess_by_op(g: &Graph, plan: &Plan) -> Vec<(String, u64, u64)> {
    let mut rows: Vec<(String, u64, u64)> = Vec::new();
    for (step, bytes) in plan.steps.iter().zip(step_bytes(plan)) {
        let node = g.node(step.node);
        let kind = match &step.algorithm {
            // The variant's name, without its tiling.
            Some(a) => {
                let name = format!("{a:?}");
                let variant = name.split(['(', ' ', '{']).next().unwrap_or_default();
                format!("{} ({variant})", node.op.kind())
            }
            None => node.op.kind().to_string(),
        };
        let min = node_minimum(g, step.node, plan.precision());
        match rows.iter_mut().find(|r| r.0 == kind) {
            Some(r) => (r.1, r.2) = (r.1 + bytes.total(), r.2 + min),
            None => rows.push((kind, bytes.total(), min)),
        }
    }
    let excess = |r: &(String, u64, u64)| r.1 as i128 - r.2 as i128;
    rows.sort_by_key(|r| std::cmp::Reverse(excess(r)));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_and_adjacent_ranges_merge_per_buffer() {
        let ranges = vec![
            (Store::Arena(0), 0, 100),
            (Store::Arena(0), 50, 150),
            (Store::Arena(0), 150, 200),
            (Store::Arena(1), 0, 100),
            (Store::Params(0), 0, 100),
            (Store::Arena(0), 300, 310),
        ];
        // 200 + 10 in arena 0, 100 in arena 1, 100 in the parameters.
        assert_eq!(union_bytes(ranges), 410);
    }

    /// The written-binding table read from each shader's source agrees with naga's reflection
    /// of the module (a storage global with STORE access).
    #[cfg(feature = "validate")]
    #[test]
    fn written_bindings_match_naga() {
        for &s in Shader::ALL {
            let module = naga::front::wgsl::parse_str(&s.source(crate::precision::Precision::F32))
                .unwrap_or_else(|e| panic!("{}: {e}", s.label()));
            let mut want: Vec<usize> = module
                .global_variables
                .iter()
                .filter_map(|(_, g)| match (g.space, &g.binding) {
                    (naga::AddressSpace::Storage { access }, Some(b))
                        if access.contains(naga::StorageAccess::STORE) =>
                    {
                        Some(b.binding as usize - 1)
                    }
                    _ => None,
                })
                .collect();
            want.sort();
            assert!(!want.is_empty(), "{} writes nothing", s.label());
            assert_eq!(written_bindings(s), want.as_slice(), "{}", s.label());
        }
    }
}

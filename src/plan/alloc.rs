//! Memory: activation tensors and scratch regions placed in a few arena buffers by liveness.
//!
//! Each tensor gets a region of one buffer. Tensors whose lifetimes (from the step that writes
//! them to the last step that reads them) do not overlap may share bytes. wgpu forbids binding
//! one buffer read-only and read-write in the same dispatch, even at disjoint ranges, so a
//! node's output goes to another buffer than its inputs: the buffers are a colouring of the
//! tensors (a chain alternates between two; an add or a concatenation needs one more). Inside
//! each buffer placement is greedy (each tensor at the lowest offset that clears every
//! already-placed tensor alive at the same time), tried in a few orders (largest first, the
//! classic heuristic for this interval-packing problem; earliest first; longest-lived first),
//! keeping the smallest. Views get no region of their own: they alias their source, whose
//! lifetime grows to cover theirs; a Concat's inputs written in place alias chunks of its
//! output, whose lifetime starts at the first of their writes. Offsets are multiples of
//! [`ALIGN`].
//!
//! A step's scratch regions (split-K partial sums, Winograd's transformed tensors) are placed by
//! the same colouring and packing, as values written and last read at that step, conflicting
//! with the node's inputs, its output and the step's other scratch regions.

use super::storage::Storage;
use super::{ALIGN, Region};
use crate::graph::{Graph, ValueId};
use crate::precision::Precision;

/// Where every value and scratch region lives.
pub(crate) struct Allocation {
    /// For every value, its region (a view's lies in its source's).
    pub regions: Vec<Region>,
    /// Per step, its scratch regions.
    pub scratch: Vec<Vec<Region>>,
    /// Sizes of the activation buffers.
    pub buffers: Vec<u64>,
    /// For every value, the inclusive interval its storage holds it (see `Plan::lifetimes`).
    pub lifetimes: Vec<(usize, usize)>,
    /// One buffer per tensor, for comparison.
    pub naive_bytes: u64,
}

pub(crate) fn aligned(bytes: u64) -> u64 {
    bytes.div_ceil(ALIGN) * ALIGN
}

/// Sizes are capped here (256 TiB, beyond any device) so that offsets and sums over a graph's
/// tensors cannot overflow u64.
const MAX_TENSOR_BYTES: u64 = 1 << 48;

/// Bytes of a tensor of `shape` stored in `precision` (at least 4, a multiple of 4, as
/// [`Precision::buffer_bytes`]), capped at [`MAX_TENSOR_BYTES`]: a graph input can declare a
/// shape too big to exist; the plan stays well-formed and the session refuses it against the
/// device's limits.
pub(crate) fn tensor_bytes(shape: &[usize], precision: Precision) -> u64 {
    let n = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    n.max(1)
        .saturating_mul(precision.elem_bytes() as u64)
        .min(MAX_TENSOR_BYTES)
        .div_ceil(4)
        * 4
}

/// Places `order`'s tensors one by one at the lowest aligned offset clear of every placed
/// tensor whose lifetime intersects; returns the regions and the arena size.
fn place(
    order: &[usize],
    lifetimes: &[(usize, usize)],
    size: &dyn Fn(usize) -> u64,
    nv: usize,
) -> (Vec<Region>, u64) {
    let mut regions = vec![
        Region {
            buffer: 0,
            offset: 0,
            bytes: 4
        };
        nv
    ];
    let mut placed: Vec<usize> = Vec::new();
    let mut arena = 0u64;
    for &v in order {
        let bytes = size(v);
        let (s, e) = lifetimes[v];
        let mut busy: Vec<Region> = placed
            .iter()
            .filter(|&&p| lifetimes[p].0 <= e && s <= lifetimes[p].1)
            .map(|&p| regions[p])
            .collect();
        busy.sort_by_key(|r| r.offset);
        let mut offset = 0u64;
        for r in &busy {
            if offset + bytes <= r.offset {
                break;
            }
            offset = offset.max(aligned(r.end()));
        }
        regions[v] = Region {
            buffer: 0,
            offset,
            bytes,
        };
        arena = arena.max(aligned(offset + bytes));
        placed.push(v);
    }
    (regions, arena)
}

/// Assigns each root in `order` a buffer not holding any of its conflicts, choosing the one
/// whose first-fit packing grows least (a new buffer grows by the whole tensor).
fn color_buffers(
    order: &[usize],
    conflicts: &[Vec<usize>],
    lifetimes: &[(usize, usize)],
    size: &dyn Fn(usize) -> u64,
    nv: usize,
) -> Vec<usize> {
    const NONE: usize = usize::MAX;
    let mut color = vec![NONE; nv];
    let mut offsets = vec![0u64; nv];
    let mut packed: Vec<(Vec<usize>, u64)> = Vec::new();
    for &v in order {
        let (s, e) = lifetimes[v];
        let mut best: Option<(u64, usize, u64)> = None;
        for b in 0..=packed.len() {
            if conflicts[v].iter().any(|&u| color[u] == b) {
                continue;
            }
            let (off, growth) = match packed.get(b) {
                Some((mine, peak)) => {
                    let mut busy: Vec<(u64, u64)> = mine
                        .iter()
                        .filter(|&&p| lifetimes[p].0 <= e && s <= lifetimes[p].1)
                        .map(|&p| (offsets[p], offsets[p] + size(p)))
                        .collect();
                    busy.sort();
                    let mut off = 0u64;
                    for (start, end) in busy {
                        if off + size(v) <= start {
                            break;
                        }
                        off = off.max(aligned(end));
                    }
                    (off, aligned(off + size(v)).saturating_sub(*peak))
                }
                None => (0, aligned(size(v))),
            };
            if best.is_none_or(|(g0, _, _)| growth < g0) {
                best = Some((growth, b, off));
            }
        }
        let (_, b, off) = best.expect("a new buffer is always allowed");
        if b == packed.len() {
            packed.push((Vec::new(), 0));
        }
        offsets[v] = off;
        packed[b].0.push(v);
        packed[b].1 = packed[b].1.max(aligned(off + size(v)));
        color[v] = b;
    }
    color
}

/// Packs each buffer's tensors with [`place`] under three orders (largest first, earliest
/// first, longest-lived first), keeping the smallest; returns the regions and buffer sizes.
fn pack_buffers(
    roots: &[usize],
    color: &[usize],
    lifetimes: &[(usize, usize)],
    size: &dyn Fn(usize) -> u64,
    nv: usize,
) -> (Vec<Region>, Vec<u64>) {
    let n_buffers = roots.iter().map(|&v| color[v] + 1).max().unwrap_or(1);
    let mut regions = vec![
        Region {
            buffer: 0,
            offset: 0,
            bytes: 4
        };
        nv
    ];
    let mut buffers = Vec::with_capacity(n_buffers);
    for b in 0..n_buffers {
        let mine: Vec<usize> = roots.iter().copied().filter(|&v| color[v] == b).collect();
        let mut by_size = mine.clone();
        by_size.sort_by_key(|&v| (std::cmp::Reverse(size(v)), v));
        let mut by_time = mine.clone();
        by_time.sort_by_key(|&v| (lifetimes[v].0, std::cmp::Reverse(size(v)), v));
        let mut by_span = mine.clone();
        by_span.sort_by_key(|&v| {
            (
                std::cmp::Reverse(lifetimes[v].1 - lifetimes[v].0),
                std::cmp::Reverse(size(v)),
                v,
            )
        });
        let (placed, bytes) = [by_size, by_time, by_span]
            .iter()
            .map(|order| place(order, lifetimes, size, nv))
            .min_by_key(|(_, arena)| *arena)
            .expect("three orders");
        for &v in &mine {
            regions[v] = Region {
                buffer: b,
                ..placed[v]
            };
        }
        buffers.push(bytes.max(ALIGN));
    }
    (regions, buffers)
}

/// Places every value of `g` and every step's scratch regions (`scratch_sizes[step]`, bytes
/// each). `storage` maps each value to the value whose storage it uses (itself, a view's
/// source, or the Concat output it is written into) and its offset there. With `reuse` false
/// no two tensors share bytes.
pub(crate) fn allocate(
    g: &Graph,
    storage: &Storage,
    scratch_sizes: &[Vec<u64>],
    reuse: bool,
    precision: Precision,
) -> Allocation {
    let nv = g.values().len();
    let n_steps = g.nodes().len();
    let storage_of = &storage.root;
    // Lifetimes of the roots: from the first write (a Concat in place is written by its
    // inputs' producers) to the last read through any alias.
    let mut lifetimes = vec![(usize::MAX, 0usize); nv];
    for &v in g.inputs() {
        lifetimes[v.0] = (0, 0);
    }
    for (i, node) in g.nodes().iter().enumerate() {
        let t = i + 1;
        for v in node.inputs.iter().chain([&node.output]) {
            let r = storage_of[v.0];
            lifetimes[r.0].1 = lifetimes[r.0].1.max(t);
        }
        let root = storage_of[node.output.0];
        lifetimes[root.0].0 = lifetimes[root.0].0.min(t);
    }
    for &v in g.outputs() {
        let r = storage_of[v.0];
        lifetimes[r.0].1 = n_steps + 1;
    }
    // Scratch regions join the placement as pseudo-values nv.. alive only at their step.
    let mut scratch_bytes: Vec<u64> = Vec::new();
    let mut scratch_of: Vec<(usize, usize)> = Vec::new(); // (step, index within the step)
    for (i, sizes) in scratch_sizes.iter().enumerate() {
        for (j, &b) in sizes.iter().enumerate() {
            scratch_bytes.push(b);
            scratch_of.push((i, j));
            lifetimes.push((i + 1, i + 1));
        }
    }
    let ns = scratch_bytes.len();
    let nt = nv + ns;
    // Buffers: wgpu forbids binding one buffer read-only and read-write in a dispatch, even
    // at disjoint ranges, so a node's output must live in another buffer than its inputs:
    // the buffers colour the "conflict graph" whose edges join each node's inputs to its
    // output. Colour greedily (each tensor into the allowed buffer whose packed size grows
    // least) in two orders, definition order and largest first, and keep the smaller total.
    let roots: Vec<usize> = (0..nv)
        .filter(|&v| storage_of[v] == ValueId(v) && lifetimes[v].0 != usize::MAX)
        .chain(nv..nt)
        .collect();
    let size = |v: usize| {
        if v < nv {
            tensor_bytes(g.shape(ValueId(v)), precision)
        } else {
            scratch_bytes[v - nv]
        }
    };
    let mut conflicts: Vec<Vec<usize>> = vec![Vec::new(); nt];
    let launching = g
        .nodes()
        .iter()
        .zip(&storage.view)
        .filter(|(_, v)| v.is_none());
    for (node, _) in launching {
        let out = storage_of[node.output.0].0;
        // A Concat's inputs written in place share its storage and are not bound.
        for u in node
            .inputs
            .iter()
            .map(|u| storage_of[u.0].0)
            .filter(|&u| u != out)
        {
            conflicts[out].push(u);
            conflicts[u].push(out);
        }
    }
    // A step's scratch is bound beside its inputs, its output and its other scratch.
    for (s, &(i, _)) in scratch_of.iter().enumerate() {
        let node = &g.nodes()[i];
        let mut others: Vec<usize> = node
            .inputs
            .iter()
            .chain([&node.output])
            .map(|v| storage_of[v.0].0)
            .collect();
        others.extend(
            scratch_of
                .iter()
                .enumerate()
                .filter(|&(t, &(j, _))| j == i && t != s)
                .map(|(t, _)| nv + t),
        );
        for u in others {
            conflicts[nv + s].push(u);
            conflicts[u].push(nv + s);
        }
    }
    let mut by_size = roots.clone();
    by_size.sort_by_key(|&v| (std::cmp::Reverse(size(v)), v));
    let placement_lifetimes: Vec<(usize, usize)> = if reuse {
        lifetimes.clone()
    } else {
        lifetimes
            .iter()
            .map(|&(s, e)| {
                if s == usize::MAX {
                    (s, e)
                } else {
                    (0, n_steps + 1)
                }
            })
            .collect()
    };
    let (regions, buffers) = [roots.clone(), by_size]
        .iter()
        .map(|order| {
            let color = color_buffers(order, &conflicts, &placement_lifetimes, &size, nt);
            pack_buffers(&roots, &color, &placement_lifetimes, &size, nt)
        })
        .min_by_key(|(_, buffers)| buffers.iter().sum::<u64>())
        .expect("two orders");
    let mut regions = regions;
    let mut scratch: Vec<Vec<Region>> = vec![Vec::new(); scratch_sizes.len()];
    for (s, &(i, _)) in scratch_of.iter().enumerate() {
        scratch[i].push(regions[nv + s]);
    }
    regions.truncate(nv);
    lifetimes.truncate(nv);
    for v in 0..nv {
        let r = storage_of[v].0;
        if r != v {
            regions[v] = Region {
                offset: regions[r].offset + storage.offset[v],
                bytes: tensor_bytes(g.shape(ValueId(v)), precision),
                ..regions[r]
            };
            lifetimes[v] = lifetimes[r];
        }
    }
    let naive_bytes: u64 = roots.iter().map(|&v| aligned(size(v))).sum();
    Allocation {
        regions,
        scratch,
        buffers,
        lifetimes,
        naive_bytes,
    }
}

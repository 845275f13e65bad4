//! The [`Lowering`] state: staging slots, the copies that stage strided views, and the
//! launches collected for split nodes.

use super::{Bind, Part, View};
use crate::error::{Error, Result};
use crate::kernels::Target;
use crate::kernels::rearrange::CopyPlan;
use crate::plan::Store;
use crate::tensor::strides;

/// Collects the launches of split nodes and the sizes their staging slots need.
pub(crate) struct Lowering {
    /// `max_storage_buffer_binding_size`.
    pub limit: u64,
    /// `min_storage_buffer_offset_alignment`.
    pub align: u64,
    /// Bytes per stored element (the session precision's).
    pub elem: u64,
    /// Largest size each slot is used with, over every split node.
    pub slot_sizes: Vec<u64>,
    launches: Vec<Part>,
    next_slot: usize,
    pending: Vec<Part>,
}

fn align_down(x: u64, a: u64) -> u64 {
    x - x % a
}

impl Lowering {
    pub fn new(target: &Target) -> Self {
        let l = &target.limits;
        Self::with_limits(
            l.max_storage_buffer_binding_size,
            l.min_storage_buffer_offset_alignment as u64,
        )
        .elem_bytes(target.precision.elem_bytes() as u64)
    }

    /// The same lowering for tensors of `elem` bytes per element (the session's precision;
    /// 4 unless set).
    pub fn elem_bytes(mut self, elem: u64) -> Self {
        self.elem = elem;
        self
    }

    /// Bytes a binding of `n` elements takes: a multiple of 4 (storage bindings are sized in
    /// words; an odd count of f16 is padded, which stays inside the tensor's region, regions
    /// being padded to 4 bytes and aligned).
    pub fn bytes(&self, n: usize) -> u64 {
        (n as u64 * self.elem).div_ceil(4) * 4
    }

    /// A lowering for a binding limit and an offset alignment (bytes).
    pub fn with_limits(limit: u64, align: u64) -> Self {
        Self {
            limit,
            align: align.max(4),
            elem: 4,
            slot_sizes: Vec::new(),
            launches: Vec::new(),
            next_slot: 0,
            pending: Vec::new(),
        }
    }

    /// Bytes a view may span: the binding limit less the slack of an aligned-down window.
    pub fn budget(&self) -> u64 {
        self.limit.saturating_sub(self.align) / 4 * 4
    }

    /// True when `v` can be bound, directly or through staging (the copies that stage a
    /// strided view are cut further where their windows span more than the limit).
    pub fn fits(&self, v: &View) -> bool {
        self.bytes(v.numel()) <= self.budget()
    }

    /// Elements per alignment unit.
    pub fn align_elems(&self) -> usize {
        (self.align / self.elem) as usize
    }

    /// Starts a chunk: its staging slots are numbered from 0 again (launches run in order, so
    /// chunks can share slots).
    pub fn begin_chunk(&mut self) {
        self.next_slot = 0;
    }

    /// Slots taken so far in this chunk.
    pub fn slots_used(&self) -> usize {
        self.next_slot
    }

    /// Frees the chunk's slots from `n` on (their launches are already recorded).
    pub fn rewind(&mut self, n: usize) {
        self.next_slot = n;
    }

    /// A fresh staging slot of `bytes` in this chunk.
    pub fn scratch(&mut self, bytes: u64) -> Bind {
        let s = self.next_slot;
        self.next_slot += 1;
        if self.slot_sizes.len() <= s {
            self.slot_sizes.resize(s + 1, 0);
        }
        let size = bytes.max(4);
        self.slot_sizes[s] = self.slot_sizes[s].max(size);
        Bind::Slot { slot: s, size }
    }

    fn direct(&self, v: &View) -> Option<Bind> {
        let start = v.start_byte(self.elem);
        (v.is_dense() && start.is_multiple_of(self.align)).then(|| Bind::Store {
            store: v.store,
            offset: start,
            size: self.bytes(v.numel()).max(4),
        })
    }

    /// A binding holding `v` densely: in place, or a staging slot filled by copies first.
    pub fn input(&mut self, v: &View) -> Bind {
        if let Some(b) = self.direct(v) {
            return b;
        }
        let (slot, mut copies) = self.stage(v, true);
        self.launches.append(&mut copies);
        slot
    }

    /// A binding for a kernel to write `v` densely: in place, or a staging slot copied out
    /// after the next [`Lowering::launch`].
    pub fn output(&mut self, v: &View) -> Bind {
        if let Some(b) = self.direct(v) {
            return b;
        }
        let (slot, mut copies) = self.stage(v, false);
        self.pending.append(&mut copies);
        slot
    }

    /// A fresh staging slot for `v` and the copies between them: from `v` into the slot when
    /// `into_slot` (inputs), else from the slot back to `v` (outputs).
    fn stage(&mut self, v: &View, into_slot: bool) -> (Bind, Vec<Part>) {
        let slot = self.scratch(self.bytes(v.numel()));
        let Bind::Slot { slot: s, .. } = slot else {
            unreachable!("scratch gives a slot")
        };
        // Each side of the copy: strides, element offset, store and base.
        let view = (v.strides.clone(), v.offset, (v.store, v.base));
        let dense = (strides(&v.dims), 0, (Store::Staging(s), 0));
        let (from, to) = if into_slot {
            (view, dense)
        } else {
            (dense, view)
        };
        let plan = CopyPlan {
            dims: v.dims.clone(),
            in_strides: from.0,
            out_strides: to.0,
            in_offset: from.1,
            out_offset: to.1,
            reversed: Vec::new(),
        };
        let mut copies = Vec::new();
        self.copy_rec(&plan.simplified(), from.2, to.2, &mut copies);
        (slot, copies)
    }

    /// Appends a kernel launch, then the copies out of any staged outputs.
    pub fn launch(&mut self, l: Part) {
        self.launches.push(l);
        self.launches.append(&mut self.pending);
    }

    /// Appends a copy between two stores without staging: the plan is cut along its outer
    /// dims until both aligned-down windows fit the binding limit.
    pub fn copy(
        &mut self,
        plan: &CopyPlan,
        src: (Store, u64),
        dst: (Store, u64),
        what: &dyn Fn(u64) -> Error,
    ) -> Result<()> {
        let p = plan.simplified();
        if p.total() == 0 {
            return Ok(());
        }
        if p.dims.is_empty() && !copy_fits(self.limit, self.align, self.elem, &p, src, dst) {
            return Err(what(self.bytes(1)));
        }
        let mut copies = Vec::new();
        self.copy_rec(&p, src, dst, &mut copies);
        self.launches.append(&mut copies);
        Ok(())
    }

    fn copy_windows(
        &self,
        p: &CopyPlan,
        src: (Store, u64),
        dst: (Store, u64),
    ) -> [(Bind, usize); 2] {
        copy_windows(self.align, self.elem, p, src, dst)
    }

    fn copy_fits(&self, p: &CopyPlan, src: (Store, u64), dst: (Store, u64)) -> bool {
        copy_fits(self.limit, self.align, self.elem, p, src, dst)
    }

    /// Appends to `out` the copies of `p`, cut until every window fits (a single element
    /// always does, the limit being at least one alignment unit).
    fn copy_rec(&self, p: &CopyPlan, src: (Store, u64), dst: (Store, u64), out: &mut Vec<Part>) {
        if p.total() == 0 {
            return;
        }
        if self.copy_fits(p, src, dst) {
            let [(s, ri), (d, ro)] = self.copy_windows(p, src, dst);
            out.push(Part::Copy {
                plan: CopyPlan {
                    in_offset: ri,
                    out_offset: ro,
                    ..p.clone()
                },
                src: s,
                dst: d,
            });
            return;
        }
        // Cut the dim along which the largest fitting run covers the most elements; when
        // no run of any dim fits, halve the dim that spans the most memory (a transpose reads
        // across its output's outer dims) and try again on each half.
        let sub = |k: usize, a: usize, c: usize| {
            let mut q = p.clone();
            q.dims[k] = c;
            // Output indices a..a+c of a reversed dim read input positions d-a-c..d-a.
            let first = if p.is_reversed(k) {
                p.dims[k] - a - c
            } else {
                a
            };
            q.in_offset += first * p.in_strides[k];
            q.out_offset += a * p.out_strides[k];
            q
        };
        let (limit, align, elem) = (self.limit, self.align, self.elem);
        let longest = |k: usize, a: usize| {
            let (mut lo, mut hi) = (0, p.dims[k] - a);
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                if copy_fits(limit, align, elem, &sub(k, a, mid), src, dst) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            lo
        };
        let total = p.total();
        let best = (0..p.dims.len())
            .filter(|&k| p.dims[k] > 1)
            .map(|k| (longest(k, 0) * (total / p.dims[k]), k))
            .max();
        match best {
            Some((covered, k)) if covered > 0 => {
                let mut a = 0;
                while a < p.dims[k] {
                    let c = longest(k, a).max(1);
                    self.copy_rec(&sub(k, a, c), src, dst, out);
                    a += c;
                }
            }
            Some(_) => {
                let k = (0..p.dims.len())
                    .filter(|&k| p.dims[k] > 1)
                    .max_by_key(|&k| (p.dims[k] - 1) * p.in_strides[k].max(p.out_strides[k]))
                    .expect("a dim longer than 1");
                let half = p.dims[k] / 2;
                self.copy_rec(&sub(k, 0, half), src, dst, out);
                self.copy_rec(&sub(k, half, p.dims[k] - half), src, dst, out);
            }
            // Every dim has one index: a single element always fits.
            None => unreachable!("a single element fits any binding"),
        }
    }

    /// The launches collected so far.
    pub fn take(&mut self) -> Vec<Part> {
        std::mem::take(&mut self.launches)
    }
}

/// The aligned-down windows of a copy's source and destination, and the copy's first element
/// index inside each, for elements of `elem` bytes.
fn copy_windows(
    align: u64,
    elem: u64,
    p: &CopyPlan,
    src: (Store, u64),
    dst: (Store, u64),
) -> [(Bind, usize); 2] {
    let (ie, oe) = p.extents();
    let w = |(store, base): (Store, u64), off: usize, end: usize| {
        let first = base + off as u64 * elem;
        let start = align_down(first, align);
        (
            Bind::Store {
                store,
                offset: start,
                // Whole words: an f16 window ending mid-word stays inside its padded region.
                size: (base + end as u64 * elem - start).div_ceil(4).max(1) * 4,
            },
            ((first - start) / elem) as usize,
        )
    };
    [w(src, p.in_offset, ie), w(dst, p.out_offset, oe)]
}

/// True when both windows of a copy fit `limit`.
fn copy_fits(
    limit: u64,
    align: u64,
    elem: u64,
    p: &CopyPlan,
    src: (Store, u64),
    dst: (Store, u64),
) -> bool {
    copy_windows(align, elem, p, src, dst)
        .iter()
        .all(|(b, _)| match b {
            Bind::Store { size, .. } | Bind::Slot { size, .. } => *size <= limit,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_copy_is_cut_into_few_windows() {
        // [2, 16, 42, 40] -> [0, 2, 3, 1] under a 64 KiB limit: each copy's windows fit, and
        // the cut stays coarse (not one copy per pixel).
        let p = crate::kernels::rearrange::transpose_plan(&[0, 2, 3, 1], &[2, 16, 42, 40]).unwrap();
        let mut l = Lowering::with_limits(64 << 10, 256);
        let fail = |_| Error::invalid_op("test", "unsplittable");
        l.copy(&p, (Store::Arena(0), 0), (Store::Arena(1), 256), &fail)
            .unwrap();
        let launches = l.take();
        assert!(launches.len() <= 16, "{} copies", launches.len());
        let mut total = 0;
        for c in &launches {
            let Part::Copy { plan, src, dst } = c else {
                panic!("a copy")
            };
            for b in [src, dst] {
                let Bind::Store { offset, size, .. } = b else {
                    panic!("a store")
                };
                assert!(offset % 256 == 0 && *size <= 64 << 10);
            }
            total += plan.total();
        }
        assert_eq!(total, p.total());
    }
}

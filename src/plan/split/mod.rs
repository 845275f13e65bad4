//! Lowering a node whose tensors exceed `max_storage_buffer_binding_size` to several launches,
//! each binding only a sub-range of every tensor.
//!
//! A node is split into chunks ([`lower`] decides how for each op); each chunk reads and writes
//! [`View`]s: dense boxes of the stored tensors (a batch range, one image's channel range, a
//! row range, ...). A view whose first byte is a multiple of `min_storage_buffer_offset_alignment`
//! and whose elements are contiguous is bound where it lies. Any other view is staged: a
//! strided copy (which takes element offsets, so it can bind an aligned-down window of the
//! source) moves it into a session-owned staging buffer before the chunk's kernel, or out of
//! one after it. Every launch stays inside the session's single compute pass; staging buffers
//! ("slots", numbered per chunk) are sized by a pure first pass over every split node and
//! allocated once, at session build.
//!
//! Chunks are chosen so that each view's extent fits the binding limit less one alignment
//! unit (the slack an aligned-down copy window may need); chunk boundaries are rounded to
//! aligned offsets of the output where that costs at most half a chunk, so most views bind in
//! place.

pub(crate) mod lower;

use super::launches::node_launches;
use super::{Slice, Store};
use crate::error::{Error, Result};
use crate::graph::Node;
use crate::kernels::algorithm::{self, ConvAlgorithm};
use crate::kernels::rearrange::{CopyPlan, strided_copy};
use crate::kernels::{ConvBindings, Launch, Target, conv_transpose, matmul};
use crate::ops::{Activation, ConvSpec, ConvTransposeSpec, Epilogue};
use crate::tensor::{numel, strides};

/// A box of a stored tensor: `dims` with element `strides`, starting `offset` elements after
/// the tensor's first element, which lies at byte `base` of `store`.
#[derive(Clone, Debug)]
pub(crate) struct View {
    pub store: Store,
    pub base: u64,
    pub offset: usize,
    pub dims: Vec<usize>,
    pub strides: Vec<usize>,
}

impl View {
    /// The whole tensor of `shape` at byte `base`.
    pub fn new(store: Store, base: u64, shape: &[usize]) -> Self {
        Self {
            store,
            base,
            offset: 0,
            dims: shape.to_vec(),
            strides: strides(shape),
        }
    }

    /// The box `[lo, hi)` of this view (one bound per dim).
    pub fn sub(&self, lo: &[usize], hi: &[usize]) -> Self {
        debug_assert!(lo.len() == self.dims.len() && hi.len() == self.dims.len());
        let offset = self.offset
            + lo.iter()
                .zip(&self.strides)
                .map(|(a, s)| a * s)
                .sum::<usize>();
        Self {
            offset,
            dims: lo.iter().zip(hi).map(|(a, b)| b - a).collect(),
            ..self.clone()
        }
    }

    /// The same elements seen with another dense shape (the view must be dense).
    pub fn reshaped(&self, shape: &[usize]) -> Self {
        debug_assert!(self.is_dense() && numel(shape) == self.numel());
        Self {
            dims: shape.to_vec(),
            strides: strides(shape),
            ..self.clone()
        }
    }

    pub fn numel(&self) -> usize {
        numel(&self.dims)
    }

    /// One past the last element touched, counted from the first.
    pub fn extent(&self) -> usize {
        if self.numel() == 0 {
            return 0;
        }
        1 + self
            .dims
            .iter()
            .zip(&self.strides)
            .map(|(d, s)| (d - 1) * s)
            .sum::<usize>()
    }

    /// True when the elements are contiguous in row-major order.
    pub fn is_dense(&self) -> bool {
        let mut expect = 1;
        for (&d, &s) in self.dims.iter().zip(&self.strides).rev() {
            if d == 1 {
                continue;
            }
            if s != expect {
                return false;
            }
            expect *= d;
        }
        true
    }

    fn start_byte(&self, elem: u64) -> u64 {
        self.base + self.offset as u64 * elem
    }
}

/// A binding of a lowered launch: a byte range of a store, or a staging slot.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bind {
    Store {
        store: Store,
        offset: u64,
        size: u64,
    },
    Slot {
        slot: usize,
        size: u64,
    },
}

/// One kernel launch of a split node.
#[derive(Clone, Debug)]
pub(crate) enum Part {
    /// A strided copy (staging, or a chunk of a data-movement op).
    Copy {
        plan: CopyPlan,
        src: Bind,
        dst: Bind,
    },
    /// The node's own kernel on sub-shapes: `shapes` are its inputs' shapes.
    Node {
        shapes: Vec<Vec<usize>>,
        ins: Vec<Bind>,
        params: Vec<Bind>,
        out: Bind,
    },
    /// A convolution chunk with its own geometry (channel or input-channel split).
    Conv {
        spec: ConvSpec,
        in_shape: Vec<usize>,
        w_shape: Vec<usize>,
        epilogue: Epilogue,
        input: Bind,
        weight: Bind,
        bias: Option<Bind>,
        residual: Option<Bind>,
        out: Bind,
    },
    /// A transposed convolution chunk (one image's output-channel range).
    ConvTranspose {
        spec: ConvTransposeSpec,
        in_shape: Vec<usize>,
        w_shape: Vec<usize>,
        epilogue: Epilogue,
        input: Bind,
        weight: Bind,
        bias: Option<Bind>,
        residual: Option<Bind>,
        out: Bind,
    },
    /// A linear layer chunk (rows x output features).
    Linear {
        x_shape: Vec<usize>,
        w_shape: Vec<usize>,
        activation: Activation,
        x: Bind,
        w: Bind,
        bias: Option<Bind>,
        out: Bind,
    },
}

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
            q.in_offset += a * p.in_strides[k];
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

/// A box `[lo, hi)` of a tensor.
pub(crate) type Bounds = (Vec<usize>, Vec<usize>);

/// Cuts `shape` into boxes that `fits`: a run of indices of dim `k` with every outer dim fixed
/// to one index and every inner dim whole, going one dim deeper only where a single index
/// does not fit (never deeper than `max_dim`). Dim `keep`, if any, is never cut (a softmax's
/// axis): boxes span it whole, so they are strided and get staged. Runs are rounded down to
/// multiples of `align_elems / gcd(inner, align_elems)` when that keeps at least half of the
/// run, so most chunks of the output start at aligned offsets. On failure returns the dim at
/// which a single index did not fit.
pub(crate) fn boxes(
    shape: &[usize],
    max_dim: usize,
    keep: Option<usize>,
    align_elems: usize,
    fits: &dyn Fn(&[usize], &[usize]) -> bool,
) -> std::result::Result<Vec<Bounds>, usize> {
    let mut out = Vec::new();
    if numel(shape) == 0 || fits(&vec![0; shape.len()], shape) {
        out.push((vec![0; shape.len()], shape.to_vec()));
        return Ok(out);
    }
    let cut = Cut {
        shape,
        max_dim,
        keep,
        align_elems,
        fits,
    };
    cut.rec(&[], &mut out)?;
    Ok(out)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

struct Cut<'a> {
    shape: &'a [usize],
    max_dim: usize,
    keep: Option<usize>,
    align_elems: usize,
    fits: &'a dyn Fn(&[usize], &[usize]) -> bool,
}

impl Cut<'_> {
    /// Boxes below `prefix` (the ranges of the outer dims).
    fn rec(
        &self,
        prefix: &[(usize, usize)],
        out: &mut Vec<Bounds>,
    ) -> std::result::Result<(), usize> {
        let shape = self.shape;
        let k = prefix.len();
        if k >= shape.len() || k > self.max_dim {
            return Err(k.saturating_sub(1));
        }
        if self.keep == Some(k) {
            let mut p = prefix.to_vec();
            p.push((0, shape[k]));
            return self.rec(&p, out);
        }
        let bounds = |a: usize, b: usize| -> Bounds {
            let mut lo: Vec<usize> = prefix.iter().map(|r| r.0).collect();
            let mut hi: Vec<usize> = prefix.iter().map(|r| r.1).collect();
            lo.push(a);
            hi.push(b);
            lo.extend(std::iter::repeat_n(0, shape.len() - k - 1));
            hi.extend_from_slice(&shape[k + 1..]);
            (lo, hi)
        };
        let d = shape[k];
        // Fits are translation-invariant (staging absorbs misalignment), so one search serves
        // every run.
        let (mut lo, mut hi) = (0, d);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let (a, b) = bounds(0, mid);
            if (self.fits)(&a, &b) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        if lo == 0 {
            for i in 0..d {
                let mut p = prefix.to_vec();
                p.push((i, i + 1));
                self.rec(&p, out).map_err(|e| e.max(k))?;
            }
            return Ok(());
        }
        let align_elems = self.align_elems;
        let inner = numel(&shape[k + 1..]).max(1);
        let unit = align_elems / gcd(inner, align_elems).max(1);
        let mut run = lo;
        if unit > 1 && run >= unit && run - run % unit >= run.div_ceil(2) {
            run -= run % unit;
        } else {
            // Balance the chunks instead.
            run = d.div_ceil(d.div_ceil(run));
        }
        let mut a = 0;
        while a < d {
            let b = (a + run).min(d);
            out.push(bounds(a, b));
            a = b;
        }
        Ok(())
    }
}

impl Bind {
    /// The plan's binding for this one.
    fn slice(&self) -> Slice {
        match *self {
            Bind::Store {
                store,
                offset,
                size,
            } => Slice {
                store,
                offset,
                size,
            },
            Bind::Slot { slot, size } => Slice {
                store: Store::Staging(slot),
                offset: 0,
                size,
            },
        }
    }
}

/// The launches of a split node's `parts` (its own kernel, run as `algorithm`, on each chunk's
/// shapes for [`Part::Node`]).
pub(crate) fn emit(
    target: &Target,
    node: &Node,
    algorithm: Option<ConvAlgorithm>,
    out_shape: &[usize],
    parts: Vec<Part>,
) -> Result<Vec<Launch<Slice>>> {
    let b = |x: &Bind| x.slice();
    // Conv and ConvTranspose parts bind their buffers alike.
    let conv_bindings =
        |input, weight, bias: &Option<Bind>, residual: &Option<Bind>, y| ConvBindings {
            input: b(input),
            weight: b(weight),
            bias: bias.as_ref().map(b),
            residual: residual.as_ref().map(b),
            output: b(y),
        };
    let mut out = Vec::new();
    for l in &parts {
        let d = match l {
            Part::Copy { plan, src, dst } => {
                strided_copy(target, "split copy", plan, b(src), b(dst))?
            }
            Part::Node {
                shapes,
                ins,
                params: ps,
                out: y,
            } => {
                let shapes: Vec<&[usize]> = shapes.iter().map(|s| s.as_slice()).collect();
                let ins: Vec<Slice> = ins.iter().map(b).collect();
                let ps: Vec<Slice> = ps.iter().map(b).collect();
                out.extend(node_launches(
                    target,
                    node,
                    algorithm,
                    &[],
                    &shapes,
                    out_shape,
                    &ins,
                    &ps,
                    b(y),
                )?);
                continue;
            }
            Part::Conv {
                spec,
                in_shape,
                w_shape,
                epilogue,
                input,
                weight,
                bias,
                residual,
                out: y,
            } => {
                // Each chunk is a convolution of its own geometry, run single-pass.
                let a = algorithm::single_pass(spec, in_shape, w_shape);
                let bindings = conv_bindings(input, weight, bias, residual, y);
                out.extend(algorithm::conv_with(
                    target,
                    &a,
                    spec,
                    in_shape,
                    w_shape,
                    *epilogue,
                    bindings,
                    &[],
                )?);
                continue;
            }
            Part::ConvTranspose {
                spec,
                in_shape,
                w_shape,
                epilogue,
                input,
                weight,
                bias,
                residual,
                out: y,
            } => conv_transpose::conv_transpose(
                target,
                spec,
                in_shape,
                w_shape,
                *epilogue,
                conv_bindings(input, weight, bias, residual, y),
            )?,
            Part::Linear {
                x_shape,
                w_shape,
                activation,
                x,
                w,
                bias,
                out: y,
            } => matmul::linear(
                target,
                x_shape,
                w_shape,
                *activation,
                b(x),
                b(w),
                bias.as_ref().map(b),
                b(y),
            )?,
        };
        out.push(d);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_tile_the_shape_and_fit() {
        let shape = [3, 5, 7, 9];
        let fits = |lo: &[usize], hi: &[usize]| {
            lo.iter().zip(hi).map(|(a, b)| b - a).product::<usize>() <= 40
        };
        let bs = boxes(&shape, 3, None, 8, &fits).unwrap();
        let mut seen = vec![0u8; numel(&shape)];
        let st = strides(&shape);
        for (lo, hi) in &bs {
            assert!(fits(lo, hi));
            let v = View::new(Store::Params(0), 0, &shape).sub(lo, hi);
            assert!(v.is_dense(), "{lo:?}..{hi:?}");
            for i in 0..v.numel() {
                let mut rest = i;
                let mut off = v.offset;
                for (d, s) in v.dims.iter().zip(&st).rev() {
                    off += (rest % d) * s;
                    rest /= d;
                }
                seen[off] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
        // Nothing may be cut below dim 1: a [7, 9] plane of 63 elements does not fit.
        assert_eq!(boxes(&shape, 1, None, 8, &fits), Err(1));
    }

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

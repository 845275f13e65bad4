//! How each op is cut into chunks whose views fit the binding limit.
//!
//! - Per-position ops (activation, broadcasting binary, channel affine / BatchNorm): boxes of
//!   the output over any dims (batch ranges, then channel ranges of one image, then row
//!   ranges of one channel plane ...); a broadcast operand's size-1 dims stay whole.
//! - Per-image ops: batch ranges; per-channel ones (pool, global pool, resize, pad when N and C
//!   are not padded) also channel ranges of one image (max pool indices: never cut); softmax
//!   boxes over every dim but its axis (strided, so staged); SE gate: batch ranges only;
//!   transposed conv: batch ranges, else (one group) per image output-channel ranges (weight
//!   columns staged).
//! - Convolution (general, depthwise, pointwise, grouped): batch ranges with the whole weight;
//!   else per image, output-channel ranges (whole groups when grouped) with their weight rows
//!   and bias; else (groups = 1, one image's input too big) input-channel (K) chunks too,
//!   accumulated through the residual epilogue in two ping-pong staging slots: the first chunk
//!   adds the bias (and the node's residual), the last applies the activation.
//! - Linear: row ranges with the whole weight; else row blocks times output-feature ranges
//!   with their weight rows (the strided output block staged). MatMul: ranges of batch entries and rows with the whole right operand.
//! - Data movement (transpose, slice, concat, pixel shuffle, space-to-depth, channel shuffle,
//!   a constant copied from its parameter):
//!   the strided copy cut along its outer dims ([`Lowering::copy`]).
//! - Reductions over axes: boxes over the dims before the first reduced one (batch ranges when
//!   dim 0 is kept).
//!
//! What cannot be cut that way (one channel plane, one weight row, one softmax row, a right
//! matmul operand, a weight of a transposed conv beyond the limit, a reduction's input below
//! its leading kept dims, a normalisation's input below the dims before its normalised ones) is
//! [`Error::DeviceLimit`] naming the node, op and tensor.

mod conv;
mod linear;

use self::conv::{lower_conv, lower_conv_transpose};
use self::linear::lower_linear;
use super::{Lowering, Part, View, boxes};
use crate::error::{Error, Result};
use crate::graph::{Graph, Node, Op, ValueId};
use crate::kernels::rearrange;
use crate::ops::NormKind;
use crate::plan::{Plan, Step, Store, param_precision};

/// A split node: its op and the whole views of its tensors.
pub(crate) struct NodeViews<'a> {
    pub node: &'a Node,
    /// Inputs, in the node's order, with their value names.
    pub ins: Vec<(String, View)>,
    /// Parameters, in [`crate::plan::device_params`] order.
    pub params: Vec<View>,
    pub out: (String, View),
}

impl<'a> NodeViews<'a> {
    /// The whole views of `node`'s tensors as `plan` places them.
    pub fn new(g: &Graph, node: &'a Node, plan: &Plan, step: &Step) -> Self {
        let view = |v: ValueId| {
            let r = plan.regions[v.0];
            (
                g.value(v).name.clone(),
                View::new(Store::Arena(r.buffer), r.offset, g.shape(v)),
            )
        };
        let precision = plan.target.precision;
        // Views count elements of the plan's precision; a parameter kept in another (Resize's
        // f32 table in an f16 plan) is only ever bound whole, so it is viewed as the same bytes
        // in plan elements.
        let ratio = param_precision(&node.op, precision).elem_bytes() / precision.elem_bytes();
        let params = step
            .params
            .iter()
            .zip(&step.param_data)
            .map(|(r, d)| {
                let t = d.tensor(&node.op);
                if ratio == 1 {
                    View::new(Store::Params(r.buffer), r.offset, t.shape())
                } else {
                    View::new(Store::Params(r.buffer), r.offset, &[t.numel() * ratio])
                }
            })
            .collect();
        Self {
            node,
            ins: node.inputs.iter().map(|&v| view(v)).collect(),
            params,
            out: view(node.output),
        }
    }
}

/// One chunk of a per-position or per-image op.
struct Chunk {
    shapes: Vec<Vec<usize>>,
    ins: Vec<View>,
    params: Vec<View>,
    out: View,
}

impl NodeViews<'_> {
    fn err(&self, limit: u64, tensor: &str, why: &str, needed: u64) -> Error {
        Error::DeviceLimit {
            what: format!(
                "node {:?} ({}): tensor {tensor} ({why})",
                self.node.name,
                self.node.op.kind()
            ),
            limit_name: "max_storage_buffer_binding_size",
            limit,
            needed,
        }
    }

    fn param_name(&self, i: usize) -> String {
        match (&self.node.op, i) {
            (Op::Conv { .. } | Op::ConvTranspose { .. } | Op::Linear { .. }, 0) => "weight".into(),
            (Op::Conv { .. } | Op::ConvTranspose { .. } | Op::Linear { .. }, 1) => "bias".into(),
            _ => format!("parameter {i}"),
        }
    }

    /// The error for a chunk that does not fit even when cut to one index of dim `k`: names
    /// its largest view.
    fn unsplittable(&self, l: &Lowering, c: &Chunk, k: usize) -> Error {
        let mut all: Vec<(String, &View)> = Vec::new();
        for (i, v) in c.ins.iter().enumerate() {
            all.push((format!("{:?}", self.ins[i].0), v));
        }
        for (i, v) in c.params.iter().enumerate() {
            all.push((self.param_name(i), v));
        }
        all.push((format!("{:?}", self.out.0), &c.out));
        let (name, v) = all
            .into_iter()
            .max_by_key(|(_, v)| v.extent())
            .expect("a chunk has an output");
        self.err(
            l.limit,
            &name,
            &format!(
                "{:?} even when the output {:?} is cut to one index of dim {k}",
                v.dims, self.out.1.dims
            ),
            l.bytes(v.extent()),
        )
    }

    fn by_boxes(
        &self,
        l: &mut Lowering,
        max_dim: Option<usize>,
        keep: Option<usize>,
        map: &dyn Fn(&[usize], &[usize]) -> Chunk,
    ) -> Result<()> {
        let shape = self.out.1.dims.clone();
        let r = shape.len();
        let fits = |lo: &[usize], hi: &[usize]| {
            let c = map(lo, hi);
            c.ins
                .iter()
                .chain(&c.params)
                .chain([&c.out])
                .all(|v| l.fits(v))
        };
        let found = match max_dim {
            Some(m) => boxes(&shape, m, keep, l.align_elems(), &fits),
            None if fits(&vec![0; r], &shape) => Ok(vec![(vec![0; r], shape.clone())]),
            None => Err(0),
        };
        let bs = found.map_err(|k| {
            let lo = vec![0; r];
            let hi: Vec<usize> = (0..r)
                .map(|j| if j <= k { shape[j].min(1) } else { shape[j] })
                .collect();
            self.unsplittable(l, &map(&lo, &hi), k)
        })?;
        for (lo, hi) in bs {
            l.begin_chunk();
            let c = map(&lo, &hi);
            let ins = c.ins.iter().map(|v| l.input(v)).collect();
            let params = c.params.iter().map(|v| l.input(v)).collect();
            let out = l.output(&c.out);
            l.launch(Part::Node {
                shapes: c.shapes,
                ins,
                params,
                out,
            });
        }
        Ok(())
    }

    fn copy(&self, l: &mut Lowering, plan: &rearrange::CopyPlan, input: usize) -> Result<()> {
        let (name, src) = &self.ins[input];
        self.copy_from(l, plan, &format!("{name:?}"), src)
    }

    /// The strided copy `plan` from `src` (named `what` in errors) into the output.
    fn copy_from(
        &self,
        l: &mut Lowering,
        plan: &rearrange::CopyPlan,
        name: &str,
        src: &View,
    ) -> Result<()> {
        let limit = l.limit;
        let what = |needed| self.err(limit, name, "a single element run of the copy", needed);
        let (s, d) = ((src.store, src.base), (self.out.1.store, self.out.1.base));
        l.copy(plan, s, d, &what)
    }
}

/// The box of `v` whose dims `0..=upto` follow the output box `[lo, hi)` (whole where `v` has
/// size 1 there, i.e. broadcasts) and whose other dims are whole. `v` is aligned to the
/// output's trailing dims when its rank is lower.
fn follow(v: &View, lo: &[usize], hi: &[usize], upto: usize) -> View {
    let r = v.dims.len();
    let shift = lo.len() - r;
    let (mut a, mut b) = (vec![0; r], v.dims.clone());
    for j in 0..r {
        let o = j + shift;
        if o <= upto && v.dims[j] != 1 {
            a[j] = lo[o];
            b[j] = hi[o];
        }
    }
    v.sub(&a, &b)
}

/// Largest `u` in 1..=max with `ok(u)`, 0 if none (`ok` is monotone).
fn search(max: usize, ok: &dyn Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, max);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if ok(mid) { lo = mid } else { hi = mid - 1 }
    }
    lo
}

/// Channel range [a, b) of image `i` of a `[N, C, ..]` view.
fn chans(v: &View, i: usize, a: usize, b: usize) -> View {
    let mut lo = vec![0; v.dims.len()];
    let mut hi = v.dims.clone();
    (lo[0], hi[0], lo[1], hi[1]) = (i, i + 1, a, b);
    v.sub(&lo, &hi)
}

/// Image 0 of an `[N, ..]` view.
fn first_image(v: &View) -> View {
    let lo = vec![0; v.dims.len()];
    let mut hi = v.dims.clone();
    hi[0] = hi[0].min(1);
    v.sub(&lo, &hi)
}

/// Lowers `n` into launches whose bindings all fit `l`'s limit.
pub(crate) fn lower(n: &NodeViews<'_>, l: &mut Lowering) -> Result<()> {
    let out = &n.out.1;
    // The cuts slice weights as parameters; weights given at run time are bound whole, so a
    // convolution reading them is refused rather than cut.
    if !n.node.op.runtime_operands().is_empty() {
        let (name, v) = n
            .ins
            .iter()
            .chain([&n.out])
            .max_by_key(|(_, v)| v.numel())
            .expect("a node has an output");
        let why = "a convolution with weights given at run time is not split";
        return Err(n.err(l.budget(), &format!("{name:?}"), why, l.bytes(v.numel())));
    }
    let rank = out.dims.len();
    let last = rank.saturating_sub(1);
    let whole_params = || n.params.clone();
    // Every input follows the output box up to `upto`; parameters whole.
    let per_image = |upto: usize| {
        move |lo: &[usize], hi: &[usize]| {
            let ins: Vec<View> = n.ins.iter().map(|(_, v)| follow(v, lo, hi, upto)).collect();
            Chunk {
                shapes: ins.iter().map(|v| v.dims.clone()).collect(),
                ins,
                params: whole_params(),
                out: out.sub(lo, hi),
            }
        }
    };
    match &n.node.op {
        Op::Activation(_) | Op::Binary { .. } | Op::Where => {
            n.by_boxes(l, Some(last), None, &per_image(last))
        }
        Op::BatchNorm { .. } | Op::ChannelAffine { .. } => {
            n.by_boxes(l, Some(last), None, &|lo: &[usize], hi: &[usize]| {
                let mut c = per_image(last)(lo, hi);
                // scale and shift follow the channel range.
                c.params = n
                    .params
                    .iter()
                    .map(|p| p.sub(&lo[1..2], &hi[1..2]))
                    .collect();
                c
            })
        }
        // Indices count from the whole input's start, which a chunk's kernel does not know.
        Op::Pool(spec) if spec.kind.is_index() => n.by_boxes(l, None, None, &per_image(1)),
        Op::Pool(_) | Op::GlobalPool(_) | Op::Resize(_) => {
            n.by_boxes(l, Some(1.min(last)), None, &per_image(1))
        }
        Op::SeGate { .. } => n.by_boxes(l, Some(0), None, &per_image(0)),
        Op::ConvTranspose { spec, epilogue, .. } => {
            if spec.conv.groups == 1 && !n.params.iter().all(|v| l.fits(v))
                || !l.fits(&first_image(&n.ins[0].1))
                || !l.fits(&first_image(out))
            {
                lower_conv_transpose(n, l, spec, *epilogue)
            } else {
                n.by_boxes(l, Some(0), None, &per_image(0))
            }
        }
        // Every slice along the axis is independent: cut any other dim.
        Op::Softmax { axis, .. } => n.by_boxes(l, Some(last), Some(*axis), &per_image(last)),
        // The dims before the first reduced one lead the output whatever keepdims: boxes over
        // them are independent reductions of the matching input boxes. Nothing else is cut.
        Op::Reduce(spec) => {
            let x = &n.ins[0].1;
            let lead = spec.axes.first().copied().unwrap_or(x.dims.len());
            let m = lead.checked_sub(1);
            n.by_boxes(l, m, None, &|lo: &[usize], hi: &[usize]| {
                let (mut a, mut b) = (vec![0; x.dims.len()], x.dims.clone());
                for j in 0..lead {
                    (a[j], b[j]) = (lo[j], hi[j]);
                }
                let xv = x.sub(&a, &b);
                Chunk {
                    shapes: vec![xv.dims.clone()],
                    ins: vec![xv],
                    params: whole_params(),
                    out: out.sub(lo, hi),
                }
            })
        }
        // Rows are independent: boxes over the dims before the normalised ones (LRN's window
        // and instance / group norm's channels stay whole, so only the batch) cut the input
        // the same way; parameters whole.
        Op::Norm { spec, .. } => {
            let x = &n.ins[0].1;
            let lead = match spec.kind {
                NormKind::Layer | NormKind::Lp => spec.axis,
                NormKind::Instance | NormKind::Group | NormKind::Lrn => 1,
            };
            n.by_boxes(
                l,
                lead.checked_sub(1),
                None,
                &|lo: &[usize], hi: &[usize]| {
                    let (mut a, mut b) = (vec![0; x.dims.len()], x.dims.clone());
                    for j in 0..lead {
                        (a[j], b[j]) = (lo[j], hi[j]);
                    }
                    let xv = x.sub(&a, &b);
                    Chunk {
                        shapes: vec![xv.dims.clone()],
                        ins: vec![xv],
                        params: whole_params(),
                        out: out.sub(lo, hi),
                    }
                },
            )
        }
        Op::Pad { begin, end, .. } => {
            let unpadded = begin
                .iter()
                .zip(end)
                .take_while(|(b, e)| **b == 0 && **e == 0)
                .count();
            let m = unpadded.checked_sub(1);
            n.by_boxes(l, m, None, &per_image(m.unwrap_or(0)))
        }
        Op::MatMul => {
            let (a, b) = (&n.ins[0].1, &n.ins[1].1);
            if a.dims.len() < 2 || b.dims.len() < 2 {
                // A 1-D operand drops a dim of the output, so boxes of the output do not map
                // onto it; such products are vector-sized in practice.
                let (name, v) = if a.numel() >= b.numel() {
                    (&n.ins[0].0, a)
                } else {
                    (&n.ins[1].0, b)
                };
                return Err(n.err(
                    l.limit,
                    &format!("{name:?}"),
                    "a matmul with a 1-D operand is not cut",
                    l.bytes(v.numel()),
                ));
            }
            // Batch entries and rows of `a` follow the output; `b` whole per batch entry
            // (broadcast dims of either stay whole).
            n.by_boxes(l, Some(rank - 2), None, &|lo: &[usize], hi: &[usize]| {
                let av = follow(a, lo, hi, rank - 2);
                let bv = if rank >= 3 {
                    follow(b, lo, hi, rank - 3)
                } else {
                    b.clone()
                };
                Chunk {
                    shapes: vec![av.dims.clone(), bv.dims.clone()],
                    ins: vec![av, bv],
                    params: Vec::new(),
                    out: out.sub(lo, hi),
                }
            })
        }
        Op::Linear { activation, .. } => lower_linear(n, l, *activation),
        Op::Conv { spec, epilogue, .. } => lower_conv(n, l, spec, *epilogue),
        Op::Transpose { perm } => n.copy(l, &rearrange::transpose_plan(perm, &n.ins[0].1.dims)?, 0),
        Op::Expand { .. } => n.copy(l, &rearrange::expand_plan(&n.ins[0].1.dims, &out.dims)?, 0),
        Op::Reverse { axes } => n.copy(l, &rearrange::reverse_plan(&n.ins[0].1.dims, axes)?, 0),
        Op::Constant { value } => n.copy_from(
            l,
            &rearrange::expand_plan(value.shape(), &out.dims)?,
            "its value",
            &n.params[0],
        ),
        Op::Slice {
            starts,
            ends,
            steps,
        } => n.copy(
            l,
            &rearrange::slice_plan(&n.ins[0].1.dims, starts, ends, steps)?,
            0,
        ),
        Op::PixelShuffle(s) => n.copy(l, &rearrange::pixel_shuffle_plan(s, &n.ins[0].1.dims)?, 0),
        Op::SpaceToDepth(s) => n.copy(l, &rearrange::space_to_depth_plan(s, &n.ins[0].1.dims)?, 0),
        Op::ChannelShuffle(s) => {
            n.copy(l, &rearrange::channel_shuffle_plan(s, &n.ins[0].1.dims)?, 0)
        }
        Op::Concat { axis } => {
            let mut offset = 0;
            for (i, (_, v)) in n.ins.iter().enumerate() {
                if v.numel() == 0 {
                    continue;
                }
                let plan = rearrange::copy_into_plan(*axis, &v.dims, &out.dims, offset)?;
                n.copy(l, &plan, i)?;
                offset += v.dims[*axis];
            }
            Ok(())
        }
        Op::Flatten { .. } | Op::Reshape { .. } | Op::Dropout { .. } | Op::Identity => {
            unreachable!("views dispatch nothing")
        }
    }
}

//! Constant folding of the integer shape computations exporters emit (Shape, Gather, Concat,
//! Unsqueeze, Cast, ...): with static input shapes they are all known at import time.

use super::tensor::{Const, ConstData};
use crate::error::{Error, Result};
use crate::ops::broadcast_shape;
use crate::tensor::{numel, strides};

fn err(op: &str, msg: impl Into<String>) -> Error {
    Error::invalid_op(format!("constant folding {op}"), msg.into())
}

/// The most elements one folded constant may have. Folding is for the small integer shape
/// computations exporters emit; a model asking for more (a `ConstantOfShape` of a huge
/// shape, a broadcast blow-up) gets an error instead of an allocation the size of its request.
pub const MAX_FOLD_ELEMENTS: usize = 1 << 24;

/// Element count of a folded constant of `shape`, or an error naming `op` when it is beyond
/// [`MAX_FOLD_ELEMENTS`].
pub fn fold_len(op: &str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_FOLD_ELEMENTS)
        .ok_or_else(|| {
            err(
                op,
                format!(
                    "the constant would have shape {shape:?}, more than {MAX_FOLD_ELEMENTS} elements"
                ),
            )
        })
}

/// Numpy-broadcast elementwise op on constants (integer math when both are integers).
pub fn binary(op: &str, a: &Const, b: &Const) -> Result<Const> {
    let shape = broadcast_shape(&a.shape, &b.shape)?;
    let n = fold_len(op, &shape)?;
    let idx = |c: &Const, flat: usize| -> usize {
        // Map an output flat index to the broadcast operand's flat index.
        let out_strides = strides(&shape);
        let lead = shape.len() - c.shape.len();
        let own = strides(&c.shape);
        let mut rest = flat;
        let mut src = 0;
        for d in 0..shape.len() {
            let i = rest / out_strides[d];
            rest %= out_strides[d];
            if d >= lead && c.shape[d - lead] != 1 {
                src += i * own[d - lead];
            }
        }
        src
    };
    match (&a.data, &b.data) {
        (ConstData::I64(x), ConstData::I64(y)) => {
            let f = |p: i64, q: i64| -> Result<i64> {
                Ok(match op {
                    "Add" => p.wrapping_add(q),
                    "Sub" => p.wrapping_sub(q),
                    "Mul" => p.wrapping_mul(q),
                    "Div" => {
                        if q == 0 {
                            return Err(err(op, "integer division by zero"));
                        }
                        // ONNX integer division truncates toward zero, as Rust's does.
                        p / q
                    }
                    "Equal" => (p == q) as i64,
                    "Less" => (p < q) as i64,
                    "Greater" => (p > q) as i64,
                    "LessOrEqual" => (p <= q) as i64,
                    "GreaterOrEqual" => (p >= q) as i64,
                    "Max" => p.max(q),
                    "Min" => p.min(q),
                    _ => return Err(err(op, "unsupported integer op")),
                })
            };
            let v = (0..n)
                .map(|i| f(x[idx(a, i)], y[idx(b, i)]))
                .collect::<Result<Vec<_>>>()?;
            Ok(Const::i64(shape, v))
        }
        _ => {
            let (x, y) = (a.as_f32(), b.as_f32());
            let f = |p: f32, q: f32| -> Result<f32> {
                Ok(match op {
                    "Add" => p + q,
                    "Sub" => p - q,
                    "Mul" => p * q,
                    "Div" => p / q,
                    "Equal" => (p == q) as i32 as f32,
                    "Less" => (p < q) as i32 as f32,
                    "Greater" => (p > q) as i32 as f32,
                    "LessOrEqual" => (p <= q) as i32 as f32,
                    "GreaterOrEqual" => (p >= q) as i32 as f32,
                    "Pow" => p.powf(q),
                    // NaN wins, as in numpy (f32::max / min would drop it).
                    "Max" | "Min" if p.is_nan() || q.is_nan() => f32::NAN,
                    "Max" => p.max(q),
                    "Min" => p.min(q),
                    _ => return Err(err(op, "unsupported float op")),
                })
            };
            let v = (0..n)
                .map(|i| f(x[idx(a, i)], y[idx(b, i)]))
                .collect::<Result<Vec<_>>>()?;
            Ok(Const::f32(shape, v))
        }
    }
}

/// Normalises a possibly negative axis for rank `r`.
pub fn axis(op: &str, a: i64, r: usize) -> Result<usize> {
    let ri = r as i64;
    let v = if a < 0 { a + ri } else { a };
    if v < 0 || v >= ri.max(1) {
        return Err(err(op, format!("axis {a} is out of range for rank {r}")));
    }
    Ok(v as usize)
}

/// `Gather` along `axis`.
pub fn gather(data: &Const, indices: &Const, ax: i64) -> Result<Const> {
    let r = data.shape.len();
    if r == 0 {
        return Err(err("Gather", "data is a scalar (rank 0)"));
    }
    let ax = axis("Gather", ax, r)?;
    let dim = data.shape[ax] as i64;
    let idx: Vec<usize> = indices
        .as_i64()
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + dim } else { i };
            if j < 0 || j >= dim {
                Err(err(
                    "Gather",
                    format!("index {i} out of range for dimension {dim}"),
                ))
            } else {
                Ok(j as usize)
            }
        })
        .collect::<Result<_>>()?;
    let outer: usize = data.shape[..ax].iter().product();
    let inner: usize = data.shape[ax + 1..].iter().product();
    let mut shape = data.shape[..ax].to_vec();
    shape.extend(&indices.shape);
    shape.extend(&data.shape[ax + 1..]);
    fold_len("Gather", &shape)?;
    let mut order = Vec::with_capacity(outer * idx.len() * inner);
    for o in 0..outer {
        for &i in &idx {
            order.extend((0..inner).map(|k| (o * data.shape[ax] + i) * inner + k));
        }
    }
    let data = match &data.data {
        ConstData::F32(v) => ConstData::F32(order.iter().map(|&s| v[s]).collect()),
        ConstData::I64(v) => ConstData::I64(order.iter().map(|&s| v[s]).collect()),
    };
    Ok(Const { shape, data })
}

/// `Concat` of constants along `axis`.
pub fn concat(parts: &[Const], ax: i64) -> Result<Const> {
    let first = parts.first().ok_or_else(|| err("Concat", "no inputs"))?;
    let r = first.shape.len();
    if r == 0 {
        return Err(err("Concat", "inputs are scalars (rank 0)"));
    }
    let ax = axis("Concat", ax, r)?;
    let outer: usize = first.shape[..ax].iter().product();
    let mut shape = first.shape.clone();
    shape[ax] = 0;
    for p in parts {
        if p.shape.len() != r
            || p.shape[..ax] != first.shape[..ax]
            || p.shape[ax + 1..] != first.shape[ax + 1..]
        {
            return Err(err(
                "Concat",
                format!(
                    "shapes {:?} and {:?} do not concatenate on axis {ax}",
                    first.shape, p.shape
                ),
            ));
        }
        shape[ax] += p.shape[ax];
    }
    fold_len("Concat", &shape)?;
    let all_int = parts.iter().all(|p| matches!(p.data, ConstData::I64(_)));
    let chunk = |p: &Const| p.shape[ax..].iter().product::<usize>();
    if all_int {
        let mut v = Vec::with_capacity(numel(&shape));
        for o in 0..outer {
            for p in parts {
                let c = chunk(p);
                v.extend_from_slice(&p.as_i64()[o * c..(o + 1) * c]);
            }
        }
        Ok(Const::i64(shape, v))
    } else {
        let mut v = Vec::with_capacity(numel(&shape));
        for o in 0..outer {
            for p in parts {
                let c = chunk(p);
                v.extend_from_slice(&p.as_f32()[o * c..(o + 1) * c]);
            }
        }
        Ok(Const::f32(shape, v))
    }
}

/// ONNX `Slice` bounds for one axis: clamps starts/ends, returns (start, end, step) with
/// `step > 0`.
pub fn slice_bounds(
    op: &str,
    dim: usize,
    start: i64,
    end: i64,
    step: i64,
) -> Result<(usize, usize, usize)> {
    if step <= 0 {
        return Err(err(
            op,
            format!("step {step}: only positive steps are supported"),
        ));
    }
    let d = dim as i64;
    let norm = |v: i64| -> i64 { if v < 0 { (v + d).max(0) } else { v.min(d) } };
    let (s, e) = (norm(start), norm(end));
    let e = e.max(s);
    Ok((s as usize, e as usize, step as usize))
}

/// ONNX `Slice` along one axis of length `dim` as an ascending range `(start, end, step)` and
/// whether it is walked backwards (a negative step selects the same set as the ascending range,
/// reversed). Empty selections are `(0, 0, 1)`.
pub fn slice_range(
    op: &str,
    dim: usize,
    start: i64,
    end: i64,
    step: i64,
) -> Result<(usize, usize, usize, bool)> {
    if step == 0 {
        return Err(err(op, "step 0"));
    }
    if step > 0 {
        let (s, e, st) = slice_bounds(op, dim, start, end, step)?;
        return Ok(if s == e {
            (0, 0, 1, false)
        } else {
            (s, e, st, false)
        });
    }
    let d = dim as i64;
    let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
    let (s, e) = (norm(start).clamp(-1, d - 1), norm(end).clamp(-1, d - 1));
    if s <= e {
        return Ok((0, 0, 1, false));
    }
    let stride = step.unsigned_abs();
    let count = ((s - e) as u64).div_ceil(stride);
    let lowest = s as u64 - (count - 1) * stride;
    Ok((lowest as usize, s as usize + 1, stride as usize, true))
}

/// The indices ONNX `Slice` selects along one axis of length `dim`, any non-zero step
/// (negative steps walk backwards: starts clamp to [0, dim-1], ends to [-1, dim-1]).
pub fn slice_indices(dim: usize, start: i64, end: i64, step: i64) -> Result<Vec<usize>> {
    if step == 0 {
        return Err(err("Slice", "step 0"));
    }
    let d = dim as i64;
    let norm = |v: i64| if v < 0 { v + d } else { v };
    let mut out = Vec::new();
    if step > 0 {
        let (s, e) = (norm(start).clamp(0, d), norm(end).clamp(0, d));
        let mut i = s;
        while i < e {
            out.push(i as usize);
            // A step beyond the end (up to i64::MAX) must stop, not wrap.
            i = i.saturating_add(step);
        }
    } else {
        let (s, e) = (norm(start).clamp(-1, d - 1), norm(end).clamp(-1, d - 1));
        let mut i = s;
        while i > e {
            out.push(i as usize);
            i = i.saturating_add(step);
        }
    }
    Ok(out)
}

/// `Slice` of a constant: `picks[d]` lists the indices kept along dimension `d`.
pub fn slice(c: &Const, picks: &[Vec<usize>]) -> Const {
    let shape: Vec<usize> = picks.iter().map(Vec::len).collect();
    let own = strides(&c.shape);
    let n = numel(&shape);
    let out_strides = strides(&shape);
    let src: Vec<usize> = (0..n)
        .map(|flat| {
            let mut rest = flat;
            let mut s = 0;
            for d in 0..shape.len() {
                let i = rest / out_strides[d];
                rest %= out_strides[d];
                s += picks[d][i] * own[d];
            }
            s
        })
        .collect();
    let data = match &c.data {
        ConstData::F32(v) => ConstData::F32(src.iter().map(|&s| v[s]).collect()),
        ConstData::I64(v) => ConstData::I64(src.iter().map(|&s| v[s]).collect()),
    };
    Const { shape, data }
}

/// `Transpose` of a constant.
pub fn transpose(c: &Const, perm: &[usize]) -> Result<Const> {
    let r = c.shape.len();
    let mut seen = vec![false; r];
    if perm.len() != r
        || perm
            .iter()
            .any(|&p| p >= r || std::mem::replace(&mut seen[p], true))
    {
        return Err(err(
            "Transpose",
            format!("perm {perm:?} is not a permutation of rank {r}"),
        ));
    }
    let shape: Vec<usize> = perm.iter().map(|&p| c.shape[p]).collect();
    let own = strides(&c.shape);
    let out_strides = strides(&shape);
    let src: Vec<usize> = (0..numel(&shape))
        .map(|flat| {
            let mut rest = flat;
            (0..r)
                .map(|d| {
                    let i = rest / out_strides[d];
                    rest %= out_strides[d];
                    i * own[perm[d]]
                })
                .sum()
        })
        .collect();
    let data = match &c.data {
        ConstData::F32(v) => ConstData::F32(src.iter().map(|&s| v[s]).collect()),
        ConstData::I64(v) => ConstData::I64(src.iter().map(|&s| v[s]).collect()),
    };
    Ok(Const { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_and_concat_shape_chain() {
        // Shape -> Gather(0) -> Unsqueeze -> Concat with [-1]: what torch.flatten exports.
        let shape = Const::i64(vec![4], vec![2, 512, 1, 1]);
        let n = gather(&shape, &Const::i64(vec![], vec![0]), 0).unwrap();
        assert_eq!(n, Const::i64(vec![], vec![2]));
        let c = concat(
            &[Const::i64(vec![1], vec![2]), Const::i64(vec![1], vec![-1])],
            0,
        )
        .unwrap();
        assert_eq!(c.as_i64(), vec![2, -1]);
    }

    #[test]
    fn integer_division_truncates_toward_zero_like_onnx() {
        let r = binary(
            "Div",
            &Const::i64(vec![2], vec![7, -7]),
            &Const::i64(vec![1], vec![2]),
        )
        .unwrap();
        assert_eq!(r.as_i64(), vec![3, -3]);
    }

    #[test]
    fn slice_clamps() {
        assert_eq!(
            slice_bounds("Slice", 10, 2, i64::MAX, 1).unwrap(),
            (2, 10, 1)
        );
        assert_eq!(slice_bounds("Slice", 10, -3, -1, 1).unwrap(), (7, 9, 1));
        assert!(slice_bounds("Slice", 10, 0, 5, -1).is_err());
        // Negative steps as ascending ranges, checked against the index lists they stand for.
        for (dim, start, end, step) in [
            (10, 9, 0, -1),
            (10, -1, i64::MIN, -1),
            (10, 20, -20, -3),
            (7, 5, 1, -2),
            (7, 1, 5, -2),
            (1, 0, -2, -1),
        ] {
            let want = slice_indices(dim, start, end, step).unwrap();
            let (s, e, st, back) = slice_range("Slice", dim, start, end, step).unwrap();
            let mut got: Vec<usize> = (s..e).step_by(st).collect();
            if back {
                got.reverse();
            }
            assert_eq!(got, want, "{dim} {start} {end} {step}");
        }
        // What torch.onnx emits to reverse a pads vector: Slice(start -1, end -INT_MAX, step -1).
        assert_eq!(
            slice_indices(4, -1, i64::MIN + 1, -1).unwrap(),
            vec![3, 2, 1, 0]
        );
        assert_eq!(slice_indices(5, 1, 4, 2).unwrap(), vec![1, 3]);
    }
}

// Reduction over any set of axes: out[o] = REDUCE_KIND over the input elements whose kept
// coordinates are o's (sum, mean, max, min, prod, L1, L2, sum of squares, log-sum,
// log-sum-exp) or ARG (argmax / argmin: the row-major index of the extreme among the reduced
// elements, as an f32 value).
//
// Layout: no permutation. The host merges adjacent dims and describes the input as two
// strided index spaces: the kept dims (out_dims / out_strides, the output dense over them in
// order, innermost last) and the reduced dims (red_dims / red_strides, `rlen` elements). Up to
// 8 of each (4 per vec4: uniform arrays need a 16-byte stride); a reduced element k of output
// o is at base(o) + offset(k), both found by peeling dims off the flat index.
// Tiling: a workgroup of 256 invocations handles 256 / ROW_THREADS outputs, ROW_THREADS
// invocations per output. ROW_THREADS = 1 (short reductions, rlen <= 32): one invocation per
// output, no barriers; a tree would leave most lanes idle. Otherwise a power of two 32..256
// picked from rlen: each invocation accumulates a strided partial (neighbouring invocations
// read neighbouring elements when the innermost reduced dim is contiguous), then partials meet
// in a tree in workgroup memory. LogSumExp needs the maximum first (stability: exp(x - max)
// never overflows), so it runs the walk twice.
// Elements are stored as Elem (precision prelude); partials are f32 whatever the precision
// (memory-bound: f32 math is free, and an f16 sum of thousands of terms would lose most bits).
// An empty reduced set gives ONNX's value (0, 1, -inf, +inf; NaN for the mean), from
// `empty_value`, since log(0) and 0 / 0 are not guaranteed on every backend.
// The arg kinds carry (value, index) pairs: `partial_idx` holds the indices beside `partial`
// (only those kinds touch it). Strided partials and the tree interleave indices, so ties are
// broken by comparing indices (first, or last for the *_LAST kinds), never by visiting order;
// NaN counts as the extreme (numpy). The host refuses empty sets for them.
// Overrides: REDUCE_KIND (ops::ReduceKind::code), ROW_THREADS (1 or a power of two 32..256).

override REDUCE_KIND: u32 = 0u;
override ROW_THREADS: u32 = 256u;

const KIND_SUM: u32 = 0u;
const KIND_MEAN: u32 = 1u;
const KIND_MAX: u32 = 2u;
const KIND_MIN: u32 = 3u;
const KIND_PROD: u32 = 4u;
const KIND_L1: u32 = 5u;
const KIND_L2: u32 = 6u;
const KIND_SUM_SQUARE: u32 = 7u;
const KIND_LOG_SUM: u32 = 8u;
const KIND_LOG_SUM_EXP: u32 = 9u;
const KIND_ARG_MAX: u32 = 10u;
const KIND_ARG_MIN: u32 = 11u;
const KIND_ARG_MAX_LAST: u32 = 12u;
const KIND_ARG_MIN_LAST: u32 = 13u;
const NO_INDEX: u32 = 0xffffffffu;

struct Params {
    total: u32,
    rlen: u32,
    out_rank: u32,
    red_rank: u32,
    out_dims: array<vec4<u32>, 2>,
    out_strides: array<vec4<u32>, 2>,
    red_dims: array<vec4<u32>, 2>,
    red_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<Elem>;
@group(0) @binding(2) var<storage, read_write> dst: array<Elem>;

var<workgroup> partial: array<f32, 256>;
var<workgroup> partial_idx: array<u32, 256>;

const NEG_INF_BITS: u32 = 0xff800000u;
const POS_INF_BITS: u32 = 0x7f800000u;

fn min_propagating_nan(a: f32, b: f32) -> f32 {
    if is_nan(a) {
        return a;
    }
    return select(min(a, b), b, is_nan(b));
}

fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) < POS_INF_BITS;
}

// The input offset of output element o: its kept coordinates times their strides.
fn out_base(o: u32) -> u32 {
    var rest = o;
    var off = 0u;
    for (var d = params.out_rank; d > 0u; d--) {
        let i = d - 1u;
        let n = params.out_dims[i / 4u][i % 4u];
        off += (rest % n) * params.out_strides[i / 4u][i % 4u];
        rest = rest / n;
    }
    return off;
}

// The offset of the k-th reduced element from its output's base.
fn red_offset(k: u32) -> u32 {
    var rest = k;
    var off = 0u;
    for (var d = params.red_rank; d > 0u; d--) {
        let i = d - 1u;
        let n = params.red_dims[i / 4u][i % 4u];
        off += (rest % n) * params.red_strides[i / 4u][i % 4u];
        rest = rest / n;
    }
    return off;
}

// The combining operation's identity (the accumulator's start).
fn identity() -> f32 {
    switch REDUCE_KIND {
        case KIND_MAX, KIND_LOG_SUM_EXP: {
            return bitcast<f32>(NEG_INF_BITS);
        }
        case KIND_MIN: {
            return bitcast<f32>(POS_INF_BITS);
        }
        case KIND_PROD: {
            return 1.0;
        }
        default: {
            return 0.0;
        }
    }
}

// The term one element contributes (LogSumExp's terms are taken in main).
fn term(x: f32) -> f32 {
    switch REDUCE_KIND {
        case KIND_L1: {
            return abs(x);
        }
        case KIND_L2, KIND_SUM_SQUARE: {
            return x * x;
        }
        default: {
            return x;
        }
    }
}

fn combine(a: f32, b: f32, max_pass: bool) -> f32 {
    if max_pass || REDUCE_KIND == KIND_MAX {
        return max_propagating_nan(a, b);
    }
    switch REDUCE_KIND {
        case KIND_MIN: {
            return min_propagating_nan(a, b);
        }
        case KIND_PROD: {
            return a * b;
        }
        default: {
            return a + b;
        }
    }
}

// Tree over the ROW_THREADS partials of one output; every invocation of the workgroup must
// call it. Returns the combined value to every invocation of the segment.
fn reduce_segment(lid: u32, value: f32, max_pass: bool) -> f32 {
    if ROW_THREADS == 1u {
        return value;
    }
    let t = lid % ROW_THREADS;
    let seg = lid - t;
    partial[lid] = value;
    workgroupBarrier();
    for (var s = ROW_THREADS / 2u; s > 0u; s = s >> 1u) {
        if t < s {
            partial[seg + t] = combine(partial[seg + t], partial[seg + t + s], max_pass);
        }
        workgroupBarrier();
    }
    let r = partial[seg];
    // The slot is overwritten by the next reduction only after everyone has read it.
    workgroupBarrier();
    return r;
}

fn empty_value() -> f32 {
    switch REDUCE_KIND {
        case KIND_MEAN: {
            return bitcast<f32>(0x7fc00000u);
        }
        case KIND_PROD: {
            return 1.0;
        }
        case KIND_MAX, KIND_LOG_SUM, KIND_LOG_SUM_EXP: {
            return bitcast<f32>(NEG_INF_BITS);
        }
        case KIND_MIN: {
            return bitcast<f32>(POS_INF_BITS);
        }
        default: {
            return 0.0;
        }
    }
}

fn is_arg() -> bool {
    return REDUCE_KIND >= KIND_ARG_MAX && REDUCE_KIND <= KIND_ARG_MIN_LAST;
}

// Whether (vb, ib) beats (va, ia) for the arg kinds. NO_INDEX is an empty slot.
fn arg_better(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
    if ib == NO_INDEX {
        return false;
    }
    if ia == NO_INDEX {
        return true;
    }
    let na = is_nan(va);
    let nb = is_nan(vb);
    if na != nb {
        return nb;
    }
    let max_kind = REDUCE_KIND == KIND_ARG_MAX || REDUCE_KIND == KIND_ARG_MAX_LAST;
    let last = REDUCE_KIND == KIND_ARG_MAX_LAST || REDUCE_KIND == KIND_ARG_MIN_LAST;
    // Two NaNs tie.
    if !na && va != vb {
        return select((vb < va), (vb > va), max_kind);
    }
    return select((ib < ia), (ib > ia), last);
}

// The arg kinds' walk and tree: the winning index of output o's reduced set, valid in
// invocation t == 0 of the segment; every invocation of the workgroup must call it.
fn arg_reduce(lid: u32, t: u32, n: u32, base: u32) -> u32 {
    var best_v = 0.0;
    var best_i = NO_INDEX;
    for (var k = t; k < n; k += ROW_THREADS) {
        let v = f32(src[base + red_offset(k)]);
        if arg_better(best_v, best_i, v, k) {
            best_v = v;
            best_i = k;
        }
    }
    if ROW_THREADS == 1u {
        return best_i;
    }
    let seg = lid - t;
    partial[lid] = best_v;
    partial_idx[lid] = best_i;
    workgroupBarrier();
    for (var s = ROW_THREADS / 2u; s > 0u; s = s >> 1u) {
        if t < s {
            let j = seg + t + s;
            if arg_better(partial[seg + t], partial_idx[seg + t], partial[j], partial_idx[j]) {
                partial[seg + t] = partial[j];
                partial_idx[seg + t] = partial_idx[j];
            }
        }
        workgroupBarrier();
    }
    return partial_idx[seg];
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let per_wg = 256u / ROW_THREADS;
    let first = flat_workgroup_id(wid, nwg) * per_wg;
    if first >= params.total {
        return;
    }
    let t = lid % ROW_THREADS;
    let o = first + lid / ROW_THREADS;
    // Outputs past the end walk an empty range but still reach every barrier.
    var n = 0u;
    var base = 0u;
    if o < params.total {
        n = params.rlen;
        base = out_base(o);
    }
    if is_arg() {
        let i = arg_reduce(lid, t, n, base);
        if t == 0u && o < params.total {
            dst[o] = Elem(f32(i));
        }
        return;
    }
    var m = 0.0;
    if REDUCE_KIND == KIND_LOG_SUM_EXP {
        var mx = bitcast<f32>(NEG_INF_BITS);
        for (var k = t; k < n; k += ROW_THREADS) {
            mx = max_propagating_nan(mx, f32(src[base + red_offset(k)]));
        }
        m = reduce_segment(lid, mx, true);
    }
    var acc = identity();
    if REDUCE_KIND == KIND_LOG_SUM_EXP {
        // An infinite or NaN maximum is the result; exp(x - m) would give NaN.
        acc = 0.0;
        if is_finite(m) {
            for (var k = t; k < n; k += ROW_THREADS) {
                acc += exp(f32(src[base + red_offset(k)]) - m);
            }
        }
    } else {
        for (var k = t; k < n; k += ROW_THREADS) {
            acc = combine(acc, term(f32(src[base + red_offset(k)])), false);
        }
    }
    acc = reduce_segment(lid, acc, false);
    if t != 0u || o >= params.total {
        return;
    }
    var r = acc;
    if params.rlen == 0u {
        r = empty_value();
    } else {
        switch REDUCE_KIND {
            case KIND_MEAN: {
                r = acc / f32(params.rlen);
            }
            case KIND_L2: {
                r = sqrt(acc);
            }
            case KIND_LOG_SUM: {
                r = log(acc);
            }
            case KIND_LOG_SUM_EXP: {
                r = select(m, m + log(acc), is_finite(m));
            }
            default: {}
        }
    }
    dst[o] = Elem(r);
}

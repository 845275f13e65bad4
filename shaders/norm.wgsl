// Normalisations: statistics of a row, then an affine (NORM_KIND, ops::NormKind::code).
//   layer, instance, group: y = (x - mean) / sqrt(var + eps) * scale[p] + bias[p]
//   lp:                     y = x / ||row||_p          (p = 1 or 2; a zero row stays 0)
//   lrn:                    y = x / (k + alpha / size * sum(x^2 over a channel window))^beta
//
// Layout: dense row-major input and output of the same shape. The host describes the rows:
// element k of row r is at (r / stride) * len * stride + r % stride + k * stride (stride 1:
// contiguous rows for layer / instance / group; Lp's axis may be any dim). The affine's index
// is p = (r % pgroups) * pcpg + k / pinner: layer (1, 0, 1) -> k over the normalised shape;
// instance (C, 1, len) -> the channel; group (G, C/G, spatial) -> the channel.
// Tiling: a workgroup of 256 invocations handles 256 / ROW_THREADS rows, ROW_THREADS
// invocations per row (1 for rows of <= 32 elements; else a power of two 32..256 from len,
// as in reduce.wgsl), strided partial sums meeting in a tree in workgroup memory.
// Statistics: two passes, mean first, then the sum of (x - mean)^2, all in f32 whatever Elem.
// Welford would read the row once instead of twice, but its tree merge carries three
// partials and divides at every step; rows are re-read from cache, the kernel is
// memory-bound, and the two-pass variance is exactly centred, so a row of huge equal values
// (1e6 + tiny noise) keeps its variance where E[x^2] - E[x]^2 would cancel to garbage.
// LRN is not a row reduction (each output sums its own window of `size` channels), so it is
// its own arm: one invocation per element, no workgroup memory. It shares the bindings and
// Params, which keeps one shader and one pipeline-cache family per normalisation.
// NORM_OUTPUT 1 / 2 writes the row's mean / 1 / sqrt(var + eps) instead, one per row (ONNX
// LayerNormalization's optional outputs: a node each, so one kernel keeps one output).
// Overrides: NORM_KIND, ROW_THREADS, NORM_OUTPUT. scale and bias are Elem arrays; kinds without an affine
// bind some valid buffer there (read at index 0 and ignored: bindings must be statically used).

override NORM_KIND: u32 = 0u;
override ROW_THREADS: u32 = 256u;
override NORM_OUTPUT: u32 = 0u;

const KIND_LAYER: u32 = 0u;
const KIND_INSTANCE: u32 = 1u;
const KIND_GROUP: u32 = 2u;
const KIND_LP: u32 = 3u;
const KIND_LRN: u32 = 4u;

struct Params {
    rows: u32,
    len: u32,
    stride: u32,
    pgroups: u32,
    pcpg: u32,
    pinner: u32,
    epsilon: f32,
    p: u32,
    // LRN: the input as [outer, channels, inner], total elements.
    total: u32,
    channels: u32,
    inner: u32,
    size: u32,
    alpha: f32,
    beta: f32,
    lrn_bias: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<Elem>;
@group(0) @binding(2) var<storage, read> scale: array<Elem>;
@group(0) @binding(3) var<storage, read> bias: array<Elem>;
@group(0) @binding(4) var<storage, read_write> dst: array<Elem>;

var<workgroup> partial: array<f32, 256>;

// Sum over the ROW_THREADS partials of one row; every invocation of the workgroup calls it
// and gets the row's total.
fn row_sum(lid: u32, value: f32) -> f32 {
    if ROW_THREADS == 1u {
        return value;
    }
    let t = lid % ROW_THREADS;
    let seg = lid - t;
    partial[lid] = value;
    workgroupBarrier();
    for (var s = ROW_THREADS / 2u; s > 0u; s = s >> 1u) {
        if t < s {
            partial[seg + t] = partial[seg + t] + partial[seg + t + s];
        }
        workgroupBarrier();
    }
    let r = partial[seg];
    // The slot is overwritten by the next sum only after everyone has read it.
    workgroupBarrier();
    return r;
}

// One output of LRN. The window is ONNX's: floor((size - 1) / 2) channels before, the
// ceiling after (PyTorch's even-size window is shifted by one).
fn lrn(i: u32) {
    if i >= params.total {
        return;
    }
    let c = (i / params.inner) % params.channels;
    let plane = i - c * params.inner;
    let before = (params.size - 1u) / 2u;
    let after = params.size - 1u - before;
    let lo = select(0u, c - before, c >= before);
    let hi = min(params.channels - 1u, c + after);
    var sq = 0.0;
    for (var j = lo; j <= hi; j++) {
        let v = f32(src[plane + j * params.inner]);
        sq = fma(v, v, sq);
    }
    let d = pow(params.lrn_bias + params.alpha / f32(params.size) * sq, params.beta);
    dst[i] = Elem(f32(src[i]) / d);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    if NORM_KIND == KIND_LRN {
        lrn(flat_workgroup_id(wid, nwg) * 256u + lid);
        return;
    }
    let per_wg = 256u / ROW_THREADS;
    let first = flat_workgroup_id(wid, nwg) * per_wg;
    if first >= params.rows {
        return;
    }
    let t = lid % ROW_THREADS;
    let r = first + lid / ROW_THREADS;
    // Rows past the end walk an empty range but still reach every barrier.
    var n = 0u;
    var base = 0u;
    if r < params.rows {
        n = params.len;
        base = (r / params.stride) * params.len * params.stride + r % params.stride;
    }
    let step = params.stride;
    var acc = 0.0;
    for (var k = t; k < n; k += ROW_THREADS) {
        let v = f32(src[base + k * step]);
        switch NORM_KIND {
            case KIND_LP: {
                acc += select(v * v, abs(v), params.p == 1u);
            }
            default: {
                acc += v;
            }
        }
    }
    let s = row_sum(lid, acc);
    let affine = NORM_KIND != KIND_LP;
    var mean = 0.0;
    var mul = 1.0;
    if affine {
        mean = s / f32(max(params.len, 1u));
        var sq = 0.0;
        for (var k = t; k < n; k += ROW_THREADS) {
            let d = f32(src[base + k * step]) - mean;
            sq = fma(d, d, sq);
        }
        let variance = row_sum(lid, sq) / f32(max(params.len, 1u));
        mul = 1.0 / sqrt(variance + params.epsilon);
    } else {
        let norm = select(sqrt(s), s, params.p == 1u);
        // A zero row stays zero (ONNX's reference and its node tests; PyTorch's normalize).
        mul = select(1.0 / norm, 0.0, norm == 0.0);
    }
    if NORM_OUTPUT != 0u {
        if t == 0u && r < params.rows {
            dst[r] = Elem(select(mul, mean, NORM_OUTPUT == 1u));
        }
        return;
    }
    for (var k = t; k < n; k += ROW_THREADS) {
        let i = base + k * step;
        let pi = (r % params.pgroups) * params.pcpg + k / params.pinner;
        let a = select(0u, pi, affine);
        let y = (f32(src[i]) - mean) * mul;
        let g = f32(scale[a]);
        let b = f32(bias[a]);
        dst[i] = Elem(select(y, fma(y, g, b), affine));
    }
}

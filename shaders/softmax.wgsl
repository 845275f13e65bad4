// Numerically stable softmax along one axis: y = exp(x - max) / sum(exp(x - max)); with
// MODE 1 its log, (x - max) - log(sum(exp(x - max))); with MODE 2 hardmax, 1 at the first
// maximum of the row and 0 elsewhere (the sum pass becomes a first-index pass: the smallest
// k holding the max, combined as max(-k) by the same tree).
//
// Layout: the tensor viewed as [outer, len, inner] (len = the softmax axis); a softmax row is
// (o, i), its k-th element at o*len*inner + k*inner + i.
// Tiling (override COLUMNS):
//   false (inner small, e.g. the last axis): 256 / ROW_THREADS rows per workgroup, ROW_THREADS
//          invocations per row; max and sum are per-invocation strided partials combined by a
//          tree in workgroup memory (f32); the row is read three times (max, sum, write).
//   true  (inner >= 32, e.g. channels of NCHW): one invocation per row, neighbouring
//          invocations on neighbouring i, so every pass over k reads and writes coalesced
//          without any reduction across invocations.
// Elements are stored as Elem (precision prelude); max, exp and sums run in f32.
// Overrides: COLUMNS, ROW_THREADS (power of two, 32..256), MODE (ops::SoftmaxKind::code).

override COLUMNS: bool = false;
override MODE: u32 = 0u;
override ROW_THREADS: u32 = 256u;

struct Params {
    rows: u32,
    len: u32,
    inner: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<Elem>;
@group(0) @binding(2) var<storage, read_write> dst: array<Elem>;

var<workgroup> partial: array<f32, 256>;

fn neg_inf() -> f32 {
    return bitcast<f32>(0xff800000u);
}

// The first element of row `row` (rows are numbered o * inner + i).
fn row_base(row: u32) -> u32 {
    let o = row / params.inner;
    let i = row % params.inner;
    return o * params.len * params.inner + i;
}

const MODE_LOG: u32 = 1u;
const MODE_HARDMAX: u32 = 2u;

// Output k of a row, given its max m, its sum s of exp(x - m) (MODE 0 and 1) or the index
// of its first maximum (hardmax).
fn finish(x: f32, m: f32, s: f32, k: u32, first: u32) -> f32 {
    if MODE == MODE_HARDMAX {
        return select(0.0, 1.0, k == first);
    }
    if MODE == MODE_LOG {
        return (x - m) - log(s);
    }
    return exp(x - m) / s;
}

fn softmax_column(wg: u32, lid: u32) {
    let row = wg * 256u + lid;
    if row >= params.rows {
        return;
    }
    let base = row_base(row);
    let step = params.inner;
    var m = neg_inf();
    for (var k = 0u; k < params.len; k++) {
        m = max(m, f32(src[base + k * step]));
    }
    var s = 0.0;
    var first = params.len;
    for (var k = 0u; k < params.len; k++) {
        let x = f32(src[base + k * step]);
        if MODE == MODE_HARDMAX {
            if x == m && first == params.len {
                first = k;
            }
        } else {
            s += exp(x - m);
        }
    }
    for (var k = 0u; k < params.len; k++) {
        dst[base + k * step] = Elem(finish(f32(src[base + k * step]), m, s, k, first));
    }
}

// Tree reduction over the ROW_THREADS partials of one row segment; every invocation of the
// workgroup must call it. Returns the combined value to every invocation of the segment.
fn reduce_segment(lid: u32, value: f32, is_max: bool) -> f32 {
    let t = lid % ROW_THREADS;
    let seg = lid - t;
    partial[lid] = value;
    workgroupBarrier();
    for (var s = ROW_THREADS / 2u; s > 0u; s = s >> 1u) {
        if t < s {
            let a = partial[seg + t];
            let b = partial[seg + t + s];
            partial[seg + t] = select(a + b, max(a, b), is_max);
        }
        workgroupBarrier();
    }
    let r = partial[seg];
    // The slot is overwritten by the next reduction only after everyone has read it.
    workgroupBarrier();
    return r;
}

fn softmax_rows(wg: u32, lid: u32) {
    let rows_per_wg = 256u / ROW_THREADS;
    let first_row = wg * rows_per_wg;
    if first_row >= params.rows {
        return;
    }
    let t = lid % ROW_THREADS;
    let row = first_row + lid / ROW_THREADS;
    // Rows past the end reduce an empty range but still reach every barrier.
    var n = 0u;
    var base = 0u;
    if row < params.rows {
        n = params.len;
        base = row_base(row);
    }
    let step = params.inner;
    var m = neg_inf();
    for (var k = t; k < n; k += ROW_THREADS) {
        m = max(m, f32(src[base + k * step]));
    }
    m = reduce_segment(lid, m, true);
    var s = 0.0;
    var first = 0u;
    if MODE == MODE_HARDMAX {
        // -k of this invocation's first maximum (-len if none): the row's first is the max.
        var neg_first = -f32(params.len);
        for (var k = t; k < n; k += ROW_THREADS) {
            if f32(src[base + k * step]) == m {
                neg_first = -f32(k);
                break;
            }
        }
        first = u32(-reduce_segment(lid, neg_first, true));
    } else {
        for (var k = t; k < n; k += ROW_THREADS) {
            s += exp(f32(src[base + k * step]) - m);
        }
        s = reduce_segment(lid, s, false);
    }
    for (var k = t; k < n; k += ROW_THREADS) {
        dst[base + k * step] = Elem(finish(f32(src[base + k * step]), m, s, k, first));
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let wg = flat_workgroup_id(wid, nwg);
    if COLUMNS {
        softmax_column(wg, lid);
    } else {
        softmax_rows(wg, lid);
    }
}

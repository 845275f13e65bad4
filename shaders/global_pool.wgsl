// Global max / average / Lp pooling: out[row] = reduce(in[row, 0..len]) over rows = N*C, len = the
// spatial size (SE blocks' squeeze, network heads).
//
// Layout: input [rows, len] dense, output [rows].
// Tiling: a workgroup of 256 invocations reduces 256 / ROW_THREADS rows, ROW_THREADS
// invocations per row (a power of two, 32..256, picked by the host from len so short rows
// such as 7x7 do not leave most of a workgroup idle). Each invocation accumulates a strided
// partial (coalesced: neighbouring invocations read neighbouring elements) in f32, then the
// row's invocations combine partials by a tree in workgroup memory.
// Elements are stored as Elem (precision prelude); partials are f32 whatever the precision
// (bandwidth-bound: f32 math is free, and an f16 sum of a 56x56 map would lose most bits).
// Overrides: POOL_KIND (0 max, 1 average, 2 Lp with params.p), ROW_THREADS.
// Unchecked because (Shader::TRUSTED): src[row * len + k] only for row < rows, k < len;
// dst[row] for row < rows; partial at lid < 256 and seg + t + s < seg + ROW_THREADS <= 256
// (ROW_THREADS a power of two <= 256, seg a multiple of it, t < s <= ROW_THREADS / 2).
// kernels/pool.rs sizes the bindings; kernels/bounds.rs re-checks them and ROW_THREADS from
// the Params and constants bound at dispatch.

override POOL_KIND: u32 = 1u;
override ROW_THREADS: u32 = 256u;

struct Params {
    rows: u32,
    len: u32,
    p: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<Elem>;
@group(0) @binding(2) var<storage, read_write> dst: array<Elem>;

var<workgroup> partial: array<f32, 256>;

fn combine(a: f32, b: f32) -> f32 {
    if POOL_KIND == 0u {
        return max_propagating_nan(a, b);
    }
    return a + b;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows_per_wg = 256u / ROW_THREADS;
    let first_row = flat_workgroup_id(wid, nwg) * rows_per_wg;
    if first_row >= params.rows {
        return;
    }
    let t = lid % ROW_THREADS;
    let row = first_row + lid / ROW_THREADS;
    // Rows past the end still take part in the barriers below.
    var acc: f32;
    if POOL_KIND == 0u {
        acc = bitcast<f32>(0xff800000u);
    } else {
        acc = 0.0;
    }
    if row < params.rows {
        let base = row * params.len;
        for (var k = t; k < params.len; k += ROW_THREADS) {
            var v = f32(src[base + k]);
            if POOL_KIND == 2u {
                v = lp_term(v, params.p);
            }
            acc = combine(acc, v);
        }
    }
    partial[lid] = acc;
    workgroupBarrier();
    let seg = lid - t;
    for (var s = ROW_THREADS / 2u; s > 0u; s = s >> 1u) {
        if t < s {
            partial[seg + t] = combine(partial[seg + t], partial[seg + t + s]);
        }
        workgroupBarrier();
    }
    if t == 0u && row < params.rows {
        var r = partial[seg];
        if POOL_KIND == 1u {
            r = r / f32(params.len);
        } else if POOL_KIND == 2u {
            r = lp_root(r, params.p);
        }
        dst[row] = Elem(r);
    }
}

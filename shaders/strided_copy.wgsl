// Generic strided copy: every data-movement op (pixel shuffle / depth-to-space, space-to-depth,
// channel shuffle, transpose, concat, slice, split) is a host-side mapping onto this kernel.
//
// Layout: a <= 6-D index space d0..d5 (leading dims 1). Element idx is read from
// src[in_offset + sum_i j_i * is_i] and written to dst[out_offset + sum_i idx_i * os_i], with
// j_i = idx_i, or d_i - 1 - idx_i where bit i of `reversed` is set (flips, negative-step slices).
// Offsets are in elements, so slices need no 256-byte aligned bindings.
// Elements are Elem (precision prelude), copied bit for bit (the tile holds Elem too).
// Overrides: TILED, RANK (flat path only).
// Tiling (override TILED):
//   false: the index space is walked in row-major order, ELEMS elements per invocation, each
//          one workgroup-width (256) apart so that every step of a workgroup touches 256
//          consecutive indices (coalesced in the dimension with unit output stride).
//   true:  a transpose whose write-contiguous dim (d5) and read-contiguous dim (d4) differ goes
//          through a 32x33 workgroup tile: read coalesced along d4, write coalesced along d5.
//          Dims d0..d3 are the outer loop (one tile of one outer index per workgroup).

override TILED: bool = false;
// Live dims of the flat path: d(6 - RANK)..d5 (1..6).
override RANK: u32 = 6u;

const WG: u32 = 256u;
const ELEMS: u32 = 4u;
const TILE: u32 = 32u;
// 32 columns x 8 rows of invocations; each covers TILE / 8 rows of the tile.
const TILE_ROWS: u32 = 8u;
// Row pitch 33: the column read of the write phase hits 32 different banks.
const PITCH: u32 = 33u;

struct Params {
    total: u32,
    d0: u32,
    d1: u32,
    d2: u32,
    d3: u32,
    d4: u32,
    d5: u32,
    is0: u32,
    is1: u32,
    is2: u32,
    is3: u32,
    is4: u32,
    is5: u32,
    os0: u32,
    os1: u32,
    os2: u32,
    os3: u32,
    os4: u32,
    os5: u32,
    in_offset: u32,
    out_offset: u32,
    // Bit k: dim k is read backwards (flat path only).
    reversed: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<Elem>;
@group(0) @binding(2) var<storage, read_write> dst: array<Elem>;

var<workgroup> tile: array<Elem, 1056>; // TILE * PITCH

fn copy_tiled(wg: u32, lid: u32) {
    let nt4 = (params.d4 + TILE - 1u) / TILE;
    let nt5 = (params.d5 + TILE - 1u) / TILE;
    let per_outer = nt4 * nt5;
    let outer = wg / per_outer;
    if outer >= params.d0 * params.d1 * params.d2 * params.d3 {
        return;
    }
    let t = wg % per_outer;
    let t4 = (t / nt5) * TILE;
    let t5 = (t % nt5) * TILE;
    var rest = outer;
    let i3 = rest % params.d3; rest = rest / params.d3;
    let i2 = rest % params.d2; rest = rest / params.d2;
    let i1 = rest % params.d1; let i0 = rest / params.d1;
    let ib = params.in_offset + i0 * params.is0 + i1 * params.is1 + i2 * params.is2 + i3 * params.is3;
    let ob = params.out_offset + i0 * params.os0 + i1 * params.os1 + i2 * params.os2 + i3 * params.os3;
    let tx = lid % TILE;
    let ty = lid / TILE;
    // Load: consecutive invocations walk d4, the dim with unit input stride.
    for (var r = 0u; r < TILE; r += TILE_ROWS) {
        let j4 = t4 + tx;
        let j5 = t5 + ty + r;
        if j4 < params.d4 && j5 < params.d5 {
            tile[(ty + r) * PITCH + tx] = src[ib + j4 * params.is4 + j5 * params.is5];
        }
    }
    workgroupBarrier();
    // Store: consecutive invocations walk d5, the dim with unit output stride.
    for (var r = 0u; r < TILE; r += TILE_ROWS) {
        let j4 = t4 + ty + r;
        let j5 = t5 + tx;
        if j4 < params.d4 && j5 < params.d5 {
            dst[ob + j4 * params.os4 + j5 * params.os5] = tile[tx * PITCH + ty + r];
        }
    }
}

// Input and output offsets of an index, built dim by dim from the innermost.
struct Walk {
    rest: u32,
    si: u32,
    oi: u32,
}

// Adds dim k's share. Only the RANK innermost dims are live (the host merges and drops dims,
// so most copies need two or three); the outermost live dim takes the whole remaining
// quotient, so a rank-r copy costs r - 1 divisions. RANK and k are constants: the branches
// fold away.
fn walk_dim(w: ptr<function, Walk>, k: u32, d: u32, is: u32, os: u32) {
    if RANK + k < 6u {
        return;
    }
    var j = (*w).rest;
    if RANK + k > 6u {
        j = (*w).rest % d;
        (*w).rest = (*w).rest / d;
    }
    let back = ((params.reversed >> k) & 1u) == 1u;
    (*w).si += select(j, d - 1u - j, back) * is;
    (*w).oi += j * os;
}

fn copy_flat(wg: u32, lid: u32) {
    let first = wg * (WG * ELEMS) + lid;
    for (var k = 0u; k < ELEMS; k++) {
        let i = first + k * WG;
        if i >= params.total {
            return;
        }
        var w = Walk(i, params.in_offset, params.out_offset);
        walk_dim(&w, 5u, params.d5, params.is5, params.os5);
        walk_dim(&w, 4u, params.d4, params.is4, params.os4);
        walk_dim(&w, 3u, params.d3, params.is3, params.os3);
        walk_dim(&w, 2u, params.d2, params.is2, params.os2);
        walk_dim(&w, 1u, params.d1, params.is1, params.os1);
        walk_dim(&w, 0u, params.d0, params.is0, params.os0);
        dst[w.oi] = src[w.si];
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let wg = flat_workgroup_id(wid, nwg);
    if TILED {
        copy_tiled(wg, lid);
    } else {
        copy_flat(wg, lid);
    }
}

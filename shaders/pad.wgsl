// Constant padding (ONNX Pad mode=constant, F.pad): out = inside ? in[idx - begin] : value.
//
// Layout: dense row-major src and dst with <= 6 live dims (the host merges every unpadded
// dim into its outer neighbour, so NCHW spatial padding runs as [N*C, H, W]); dst dims
// o0..o5, src dims i0..i5, leading padding b0..b5 (leading dims 1 / 1 / 0).
// Tiling: ELEMS outputs per invocation, each a workgroup width (256) apart, so every step of a
// workgroup writes 256 consecutive outputs and reads runs of consecutive inputs (coalesced).
// Elements are Elem (precision prelude); the f32 pad value is converted once (in f16 a value
// beyond 65504 becomes an infinity).
// Overrides: RANK (live dims, 1..6; dims o(6-RANK)..o5).
// Unchecked because (Shader::TRUSTED): dst[i] only for i < params.total; src only when every
// live coordinate j_k < i_k, at sum j_k * prod(i_inner), below the product of the live input
// dims (a coordinate before the padding wraps and fails j < in_d). kernels/pad.rs sizes both
// bindings; kernels/bounds.rs recomputes both reaches from the Params and RANK at dispatch.

override RANK: u32 = 6u;

const WG: u32 = 256u;
const ELEMS: u32 = 4u;

struct Params {
    total: u32,
    value: f32,
    o0: u32,
    o1: u32,
    o2: u32,
    o3: u32,
    o4: u32,
    o5: u32,
    i0: u32,
    i1: u32,
    i2: u32,
    i3: u32,
    i4: u32,
    i5: u32,
    b0: u32,
    b1: u32,
    b2: u32,
    b3: u32,
    b4: u32,
    b5: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<Elem>;
@group(0) @binding(2) var<storage, read_write> dst: array<Elem>;

// The source offset of an output index, built dim by dim from the innermost.
struct Walk {
    rest: u32,
    src: u32,
    stride: u32,
    inside: bool,
}

// Adds dim k (0 outermost). Dims outside the RANK innermost are skipped; the outermost live
// dim takes the whole remaining quotient. A coordinate before the padding wraps around in
// u32 and fails `j < in_d` like one past the input. RANK and k are constants: the branches
// fold away.
fn walk_dim(w: ptr<function, Walk>, k: u32, out_d: u32, in_d: u32, begin: u32) {
    if RANK + k < 6u {
        return;
    }
    var o = (*w).rest;
    if RANK + k > 6u {
        o = (*w).rest % out_d;
        (*w).rest = (*w).rest / out_d;
    }
    let j = o - begin;
    (*w).inside = (*w).inside && j < in_d;
    (*w).src += j * (*w).stride;
    (*w).stride *= in_d;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let first = flat_workgroup_id(wid, nwg) * (WG * ELEMS) + lid;
    for (var e = 0u; e < ELEMS; e++) {
        let i = first + e * WG;
        if i >= params.total {
            return;
        }
        var w = Walk(i, 0u, 1u, true);
        walk_dim(&w, 5u, params.o5, params.i5, params.b5);
        walk_dim(&w, 4u, params.o4, params.i4, params.b4);
        walk_dim(&w, 3u, params.o3, params.i3, params.b3);
        walk_dim(&w, 2u, params.o2, params.i2, params.b2);
        walk_dim(&w, 1u, params.o1, params.i1, params.b1);
        walk_dim(&w, 0u, params.o0, params.i0, params.b0);
        var v = Elem(params.value);
        if w.inside {
            v = src[w.src];
        }
        dst[i] = v;
    }
}

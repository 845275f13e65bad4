// Where: out = cond != 0 ? x : y with numpy broadcasting of all three (ONNX Where; bool
// tensors are 0 / 1 in the engine, so any non-zero condition, NaN included, picks x).
//
// Layout: up to 6-D row-major tensors, as eltwise.wgsl: `out` is dense with dims d0..d5
// (leading dims 1); `cond`, `x` and `y` are read through per-dimension strides (0 along
// broadcast dimensions). A kernel of its own rather than a third operand in eltwise.wgsl:
// that one's layout (and every binary and activation launch, fused or not) would grow a
// binding and 6 strides that only Where reads.
// Tiling: one element per invocation, 256 invocations per workgroup.
// Elements are stored as Elem (prelude) and copied unchanged (no arithmetic).
// Overrides: none.
// Unchecked because (Shader::TRUSTED): nothing is accessed unless i < params.total; out[i]
// needs total elements, cond, x and y are read below numel of their own shapes (row-major
// strides, 0 along broadcast dims, each i_k < d_k). kernels/eltwise.rs refuses bindings holding
// fewer elements; kernels/bounds.rs recomputes each reach from the Params bound at dispatch.

struct Params {
    total: u32,
    d1: u32,
    d2: u32,
    d3: u32,
    d4: u32,
    d5: u32,
    sc0: u32,
    sc1: u32,
    sc2: u32,
    sc3: u32,
    sc4: u32,
    sc5: u32,
    sx0: u32,
    sx1: u32,
    sx2: u32,
    sx3: u32,
    sx4: u32,
    sx5: u32,
    sy0: u32,
    sy1: u32,
    sy2: u32,
    sy3: u32,
    sy4: u32,
    sy5: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> cond: array<Elem>;
@group(0) @binding(2) var<storage, read> x: array<Elem>;
@group(0) @binding(3) var<storage, read> y: array<Elem>;
@group(0) @binding(4) var<storage, read_write> out: array<Elem>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup_id(wid, nwg) * 256u + lid;
    if i >= params.total {
        return;
    }
    // Unravel the output index, innermost dimension first.
    var rest = i;
    let i5 = rest % params.d5; rest = rest / params.d5;
    let i4 = rest % params.d4; rest = rest / params.d4;
    let i3 = rest % params.d3; rest = rest / params.d3;
    let i2 = rest % params.d2; rest = rest / params.d2;
    let i1 = rest % params.d1; let i0 = rest / params.d1;
    let ic = i0 * params.sc0 + i1 * params.sc1 + i2 * params.sc2 + i3 * params.sc3 + i4 * params.sc4 + i5 * params.sc5;
    // is_nan explicitly: some compilers assume no NaN and fold NaN != 0 to false.
    let c = f32(cond[ic]);
    if c != 0.0 || is_nan(c) {
        out[i] = x[i0 * params.sx0 + i1 * params.sx1 + i2 * params.sx2 + i3 * params.sx3 + i4 * params.sx4 + i5 * params.sx5];
    } else {
        out[i] = y[i0 * params.sy0 + i1 * params.sy1 + i2 * params.sy2 + i3 * params.sy3 + i4 * params.sy4 + i5 * params.sy5];
    }
}

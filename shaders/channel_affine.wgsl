// Per-channel affine with fused residual and activation: what a BatchNorm becomes when it
// cannot be folded into the convolution before it (pre-activation blocks, BN after ReLU).
//   out[i] = act(x[i] * scale[c] + shift[c] (+ residual[i])),  c = (i / inner) % channels
//
// Layout: x, residual, out dense row-major [N, C, inner] (inner = product of spatial dims);
// scale and shift [C].
// Tiling: one element per invocation, 256 invocations per workgroup (memory-bound).
// Elements, scale and shift are stored as Elem (precision prelude); the affine runs in f32.
// Overrides: HAS_RESIDUAL (residual is bound to some valid buffer and ignored when false),
// ACTIVATION / ACT_ALPHA / ACT_BETA.
// Unchecked because (Shader::TRUSTED): nothing is accessed unless i < params.total; x, out and
// residual (index i, or 0 when absent: then it is x) hold total elements, scale and shift
// channels >= 1 (c is a remainder mod channels; inner >= 1). kernels/channel_affine.rs refuses
// bindings holding fewer elements; kernels/bounds.rs checks the Params bound at dispatch.

override HAS_RESIDUAL: bool = false;

struct Params {
    total: u32,
    channels: u32,
    inner: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<Elem>;
@group(0) @binding(2) var<storage, read> scale: array<Elem>;
@group(0) @binding(3) var<storage, read> shift: array<Elem>;
@group(0) @binding(4) var<storage, read> residual: array<Elem>;
@group(0) @binding(5) var<storage, read_write> out: array<Elem>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup_id(wid, nwg) * 256u + lid;
    if i >= params.total {
        return;
    }
    let c = (i / params.inner) % params.channels;
    var v = fma(f32(x[i]), f32(scale[c]), f32(shift[c]));
    // Read unconditionally (the binding must be statically used); the select drops it.
    let r = f32(residual[select(0u, i, HAS_RESIDUAL)]);
    if HAS_RESIDUAL {
        v = v + r;
    }
    out[i] = Elem(activate(v));
}

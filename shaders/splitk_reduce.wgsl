// Split-K reduction with the fused epilogue:
//   output[i] = activate(sum_s partial[s * numel + i] + bias[(i / spatial) % channels] + residual[i]).
//
// Layout: partial [splits, N, O, *spatial] (the slices conv.wgsl / matmul.wgsl write with
// PARTIAL), bias [O], residual and output [N, O, *spatial]. Partial sums are Acc (f32 in f32
// and f16-acc32, f16 in f16: rounding them to f16 storage would add an error proportional to the
// sum of |partials|, beyond f16-acc32's bound), the rest Elem; the sum and the epilogue run in
// f32. WGSL has no float atomics, so the splits meet here instead of in the GEMM.
// Tiling: one output element per invocation, 256 per workgroup; consecutive invocations read
// consecutive elements of every slice, so each slice is one coalesced stream. Memory bound:
// (splits + 2) reads and one write per element.
// Overrides: HAS_BIAS, HAS_RESIDUAL, ACTIVATION (prelude).
// Unchecked because (Shader::TRUSTED): nothing is accessed unless i < params.numel; partial
// at s * numel + i < splits * numel (in Acc), bias at a remainder mod channels >= 1, residual
// and output at i. kernels/splitk.rs sizes the bindings; kernels/bounds.rs recomputes each
// reach from the Params bound at dispatch.

override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;

struct Params {
    numel: u32,
    splits: u32,
    spatial: u32,
    channels: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partial: array<Acc>;
@group(0) @binding(2) var<storage, read> bias: array<Elem>;
@group(0) @binding(3) var<storage, read> residual: array<Elem>;
@group(0) @binding(4) var<storage, read_write> output: array<Elem>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup_id(wid, nwg) * 256u + lid;
    if i >= params.numel {
        return;
    }
    var v = 0.0;
    for (var s = 0u; s < params.splits; s++) {
        v += f32(partial[s * params.numel + i]);
    }
    if HAS_BIAS {
        v += f32(bias[(i / params.spatial) % params.channels]);
    }
    if HAS_RESIDUAL {
        v += f32(residual[i]);
    }
    output[i] = Elem(activate(v));
}

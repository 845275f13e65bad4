// Squeeze-and-excitation's squeeze and excitation, one workgroup per sample:
//   p[c]       = mean over the spatial positions of x[n, c]          (FUSE_POOL only)
//   hidden[j]  = act(b1[j] + sum_c w1[j, c] * p[c])                  (j < R)
//   gate[n, c] = sigmoid(b2[c] + sum_j w2[c, j] * hidden[j])         (c < C)
//
// Layout: input is the feature map [N, C, S] (S = H*W) with FUSE_POOL, else the pooled
// [N, C] map; gate [N, C]; w1 [R, C], b1 [R], w2 [C, R], b2 [C]; all row-major.
// Tiling: 256 invocations. With FUSE_POOL each invocation averages whole channels (S
// consecutive values each; the host fuses only when ceil(C/256) * S is small) and parks the
// means in `gate`, which the same workgroup then overwrites. Layer 1 takes hidden units 32 at
// a time, 8 lanes per unit, each lane summing every 8th channel (consecutive lanes read
// consecutive weights), then a 3-step shared-memory reduction; the hidden vector stays in
// workgroup memory (at most MAX_HIDDEN units). Layer 2 gives each invocation whole output
// channels (R terms each).
// Tensors are stored as Elem (precision prelude). The means are summed in f32 (parked in
// `gate` as Elem); both layers accumulate in Acc, and their activations run in f32.
// Overrides: FUSE_POOL; ACTIVATION / ACT_ALPHA / ACT_BETA for the hidden layer.
// Unchecked because (Shader::TRUSTED): a workgroup returns unless n < batch; input at
// (n * C + c) * S + i (FUSE_POOL, i < S) or n * C + c, and gate at n * C + c, for c < C; w1 at
// j * C + c and w2 at c * R + j, b1 at j, b2 at c, for j < R, c < C; hidden at j < R <=
// MAX_HIDDEN; partial at lid < 256 and lid + s with lane < s <= LANES / 2, below the unit's
// 8 lanes. kernels/se_gate.rs sizes the bindings and refuses R > MAX_HIDDEN; kernels/bounds.rs
// re-checks both from the Params bound at dispatch.

override FUSE_POOL: bool = false;

const LANES: u32 = 8u;
const UNITS: u32 = 32u;
const MAX_HIDDEN: u32 = 1024u;

struct Params {
    batch: u32,
    channels: u32,
    hidden: u32,
    spatial: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<Elem>;
@group(0) @binding(2) var<storage, read> w1: array<Elem>;
@group(0) @binding(3) var<storage, read> b1: array<Elem>;
@group(0) @binding(4) var<storage, read> w2: array<Elem>;
@group(0) @binding(5) var<storage, read> b2: array<Elem>;
@group(0) @binding(6) var<storage, read_write> gate: array<Elem>;

var<workgroup> hidden: array<Acc, MAX_HIDDEN>;
var<workgroup> partial: array<Acc, 256>;

// The pooled value of channel c of this sample.
fn pooled(base: u32, c: u32) -> Acc {
    if FUSE_POOL {
        return Acc(gate[base + c]);
    }
    return Acc(input[base + c]);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let n = flat_workgroup_id(wid, nwg);
    if n >= params.batch {
        return;
    }
    let c_total = params.channels;
    let r_total = params.hidden;
    let base = n * c_total;
    if FUSE_POOL {
        let s = params.spatial;
        for (var c = lid; c < c_total; c += 256u) {
            var acc = 0.0;
            let start = (base + c) * s;
            for (var i = 0u; i < s; i++) {
                acc += f32(input[start + i]);
            }
            gate[base + c] = Elem(acc / f32(s));
        }
        // Only this workgroup reads these means: a workgroup-scope storage barrier suffices.
        storageBarrier();
    }
    let unit = lid / LANES;
    let lane = lid % LANES;
    for (var j0 = 0u; j0 < r_total; j0 += UNITS) {
        let j = j0 + unit;
        var acc = Acc(0.0);
        if j < r_total {
            for (var c = lane; c < c_total; c += LANES) {
                acc = fma(Acc(w1[j * c_total + c]), pooled(base, c), acc);
            }
        }
        partial[lid] = acc;
        workgroupBarrier();
        for (var s = LANES / 2u; s > 0u; s = s / 2u) {
            if lane < s {
                partial[lid] = partial[lid] + partial[lid + s];
            }
            workgroupBarrier();
        }
        if lane == 0u && j < r_total {
            hidden[j] = Acc(activate(f32(partial[lid]) + f32(b1[j])));
        }
        workgroupBarrier();
    }
    // Everyone has read the parked means (the barrier above) before they are overwritten.
    for (var c = lid; c < c_total; c += 256u) {
        var acc = Acc(b2[c]);
        for (var j = 0u; j < r_total; j++) {
            acc = fma(Acc(w2[c * r_total + j]), hidden[j], acc);
        }
        gate[base + c] = Elem(sigmoid(f32(acc)));
    }
}

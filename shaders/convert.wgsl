// Storage conversion and image ingestion. Reads elements interleaved as [N, plane, src_channels]
// in one storage format (f32, f16 or u8) and writes NCHW [N, channels, plane] in f32 or f16:
//   out[n, c, p] = (in[n, p, map[c]] * scale - mean[c]) / std[c]
// A plain cast is N = channels = src_channels = 1 with scale 1, mean 0, std 1; RGBA8 pixels are
// u8 with src_channels 4, scale 1/255 and map choosing R, G, B (or B, G, R).
// Both sides are bound as u32 words (f16 two to a word, u8 four), so no shader-f16 is needed;
// one invocation writes one output word (one f32 or two f16), 256 invocations per workgroup.
// Overrides: SRC (0 f32, 1 f16, 2 u8), DST_F16.
// Unchecked because (Shader::TRUSTED): nothing is written unless the element index i < total
// (for f16 output, i = 2 * w, which the dispatch keeps below 2^32); c = nc % channels < channels
// <= 4 indexes the vec4s; the source element src_offset + (n * plane + p) * src_channels +
// map[c] is below the last image's end plus the largest map used (each map < src_channels),
// and its word (e, e >> 1 or e >> 2) inside the source; dst_offset + w inside the output.
// kernels/convert.rs sizes both sides; kernels/bounds.rs recomputes both reaches and the
// channel count from the Params bound at dispatch.

override SRC: u32 = 0u;
override DST_F16: bool = false;

struct Params {
    total: u32,        // output elements
    plane: u32,        // elements per channel plane
    channels: u32,     // output channels (<= 4)
    src_channels: u32, // interleaved source channels per plane position
    src_offset: u32,   // source elements before element 0 in the source binding
    dst_offset: u32,   // words before output word 0 in the output binding
    scale: f32,
    _pad0: u32,
    map0: u32,
    map1: u32,
    map2: u32,
    map3: u32,
    mean0: f32,
    mean1: f32,
    mean2: f32,
    mean3: f32,
    std0: f32,
    std1: f32,
    std2: f32,
    std3: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

fn load(e: u32) -> f32 {
    switch SRC {
        case 1u: {
            return unpack2x16float(src[e >> 1u])[e & 1u];
        }
        case 2u: {
            return f32((src[e >> 2u] >> ((e & 3u) * 8u)) & 0xffu);
        }
        default: {
            return bitcast<f32>(src[e]);
        }
    }
}

fn value(i: u32) -> f32 {
    let map = vec4<u32>(params.map0, params.map1, params.map2, params.map3);
    let mean = vec4<f32>(params.mean0, params.mean1, params.mean2, params.mean3);
    let spread = vec4<f32>(params.std0, params.std1, params.std2, params.std3);
    let p = i % params.plane;
    let nc = i / params.plane;
    let c = nc % params.channels;
    let n = nc / params.channels;
    let e = params.src_offset + (n * params.plane + p) * params.src_channels + map[c];
    return (load(e) * params.scale - mean[c]) / spread[c];
}

// f16 bits of `v` rounded as the host does: beyond f16's range is an infinity (pack2x16float
// leaves out-of-range values indeterminate, so they never reach it), NaN stays NaN.
fn f16_bits(v: f32) -> u32 {
    if is_nan(v) {
        return 0x7e00u;
    }
    if abs(v) >= 65520.0 {
        return select(0x7c00u, 0xfc00u, v < 0.0);
    }
    return pack2x16float(vec2<f32>(clamp(v, -65504.0, 65504.0), 0.0)) & 0xffffu;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let w = flat_workgroup_id(wid, nwg) * 256u + lid;
    if DST_F16 {
        let i = 2u * w;
        if i >= params.total {
            return;
        }
        // An odd count's last word pads with zero: the padding half belongs to this tensor.
        var hi = 0u;
        if i + 1u < params.total {
            hi = f16_bits(value(i + 1u));
        }
        dst[params.dst_offset + w] = f16_bits(value(i)) | (hi << 16u);
    } else {
        if w >= params.total {
            return;
        }
        dst[params.dst_offset + w] = bitcast<u32>(value(w));
    }
}

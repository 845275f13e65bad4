// The implicit-GEMM convolution's parameters and im2col odometer, shared by conv.wgsl and
// coop_conv.wgsl (prepended to those two only; src/shaders.rs). `Params` mirrors
// `crate::kernels::conv::ConvParams`, filled by `conv::implicit_gemm_params`: 3-D geometry
// (1-D and 2-D padded with unit dims), per-group GEMM extents M = m_per_group, N = n_total,
// K = k_total, tile counts, split-K ranges (conv.wgsl only) and TK in the kernel-offset radix.

struct Params {
    batch: u32,
    in_c: u32,
    in_d: u32,
    in_h: u32,
    in_w: u32,
    out_c: u32,
    out_d: u32,
    out_h: u32,
    out_w: u32,
    groups: u32,
    c_per_group: u32,
    m_per_group: u32,
    k_d: u32,
    k_h: u32,
    k_w: u32,
    k_total: u32,
    stride_d: i32,
    stride_h: i32,
    stride_w: i32,
    pad_d: i32,
    pad_h: i32,
    pad_w: i32,
    dil_d: i32,
    dil_h: i32,
    dil_w: i32,
    n_total: u32,
    tiles_m: u32,
    tiles_n: u32,
    k_chunk: u32,
    splits: u32,
    tk_c: u32,
    tk_z: u32,
    tk_y: u32,
    tk_x: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// The kernel offset one reduction step after `o` = (channel, kz, ky, kx), digits below their
// radices (c_per_group, k_d, k_h, k_w): the im2col gather steps along K without division.
fn next_kernel_offset(o: vec4<u32>) -> vec4<u32> {
    var n = o;
    n.w += 1u;
    if n.w == params.k_w {
        n.w = 0u;
        n.z += 1u;
        if n.z == params.k_h {
            n.z = 0u;
            n.y += 1u;
            if n.y == params.k_d {
                n.y = 0u;
                n.x += 1u;
            }
        }
    }
    return n;
}

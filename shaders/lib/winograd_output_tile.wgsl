// Winograd F(2x2, 3x3)'s output transform and epilogue, shared by winograd_output.wgsl and
// winograd_fused.wgsl (prepended to those two only; src/shaders.rs). Each of them declares
// what this reads: `params` (out_c, out_h, out_w), `bias`, `residual`, `output`, HAS_BIAS and
// HAS_RESIDUAL. Its index proof is the including shader's: n < batch and o < out_c there.

// The 2x2 outputs of tile (tr, tc) of channel o of image n from its 16 transform points q
// (row i, column j in q[i][j]): y = A^T q A (exact adds), then bias, residual and activation;
// only outputs inside the map are written (odd sizes cut the last tile row or column).
fn store_output_tile(q: array<vec4<f32>, 4>, n: u32, o: u32, tr: u32, tc: u32) {
    // Rows: A^T M; then columns: (A^T M) A.
    let s0 = q[0] + q[1] + q[2];
    let s1 = q[1] - q[2] - q[3];
    var y: array<vec2<f32>, 2>;
    y[0] = vec2<f32>(s0.x + s0.y + s0.z, s0.y - s0.z - s0.w);
    y[1] = vec2<f32>(s1.x + s1.y + s1.z, s1.y - s1.z - s1.w);

    var bv = 0.0;
    if HAS_BIAS {
        bv = f32(bias[o]);
    }
    let plane_out = params.out_h * params.out_w;
    let base = (n * params.out_c + o) * plane_out;
    for (var i = 0u; i < 2u; i++) {
        let oy = 2u * tr + i;
        for (var j = 0u; j < 2u; j++) {
            let ox = 2u * tc + j;
            if oy < params.out_h && ox < params.out_w {
                let oi = base + oy * params.out_w + ox;
                var val = y[i][j] + bv;
                if HAS_RESIDUAL {
                    val += f32(residual[oi]);
                }
                output[oi] = Elem(activate(val));
            }
        }
    }
}

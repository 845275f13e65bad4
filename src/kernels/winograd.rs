//! Winograd F(2x2, 3x3) convolution (`shaders/winograd_input.wgsl`, `matmul.wgsl`,
//! `shaders/winograd_output.wgsl`): 2-D 3x3 convolutions with stride 1, dilation 1 and one
//! group, any padding, in three passes over scratch memory.
//!
//! With `d` a 4x4 input patch, `g` a 3x3 filter and `B^T`, `G`, `A^T` Lavin & Gray's
//! matrices, each 2x2 output tile is `A^T [(G g G^T) . (B^T d B)] A`. The weight transform
//! `U = G g G^T` is done once on the host in f64 ([`transform_weights`]); per run the input
//! pass writes `V = B^T d B` for every tile, the GEMM pass multiplies, for each of the 16
//! transform points, `U[p]` (`[O, C]`) by `V[p]` (`[C, tiles]`), and the output pass applies
//! `A^T . A` plus the epilogue.
//!
//! Why F(2x2, 3x3) and not F(4x4, 3x3): its transforms hold only 0, +-1 and +-1/2, so the
//! input and output transforms are exact adds and the weight transform rounds once; F(4x4)'s
//! entries reach 8 (and 1/24 in G), which amplifies f32 rounding by about 30x in RMS (256x
//! worst case) over direct convolution, against 1.7x (7x worst case) for F(2x2) (see
//! [`WINOGRAD_ERROR_FACTOR`]). Networks are checked against a tolerance calibrated for direct
//! convolution, chained over dozens of layers; F(2x2) stays inside it.

use crate::tensor::Tensor;

/// `G` of F(2x2, 3x3): 4x3.
const G: [[f64; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0.0, 0.0, 1.0],
];

/// How much F(2x2, 3x3)'s rounding can exceed a direct convolution's, worst case, per output:
/// every term of the direct sum is `|g||d|`; through the transforms each output gathers
/// `sum_{p,q} |A^T|_{ip} |A^T|_{jq} (|G| 1)_p (|G| 1)_q (|B^T| 1)_p (|B^T| 1)_q` such terms'
/// magnitude, at most (2+3+3)^2 = 64 (row sums of |G|: 1, 1.5, 1.5, 1; of |B^T|: 2 each;
/// |A^T| rows pick 3 points), against 9 for the direct 3x3 sum: 64/9 < 8. The same reduction
/// over C accumulates those terms, so `Tolerance::accumulation(8 * C * 9)` bounds Winograd
/// where `accumulation(C * 9)` bounds direct convolution.
pub const WINOGRAD_ERROR_FACTOR: usize = 8;

/// Transform points (4x4 per tile).
pub const POINTS: usize = 16;

/// `U[p][o][c] = (G g[o][c] G^T)[p]` for weights `[O, C, 3, 3]`, computed in f64: a tensor
/// `[16, O, C]`, each transform point's matrix in the row-major `[O, C]` layout the GEMM reads
/// as its A operand.
///
/// # Panics
/// If `weight` is not `[O, C, 3, 3]` (the planner only asks for valid Winograd layers).
pub fn transform_weights(weight: &Tensor) -> Tensor {
    let s = weight.shape();
    assert!(
        s.len() == 4 && s[2] == 3 && s[3] == 3,
        "Winograd F(2x2, 3x3) weights must be [O, C, 3, 3], got {s:?}"
    );
    let (o, c) = (s[0], s[1]);
    let w = weight.data();
    let mut u = vec![0f32; POINTS * o * c];
    for oc in 0..o * c {
        let g = &w[oc * 9..oc * 9 + 9];
        // t = G g (4x3), then U = t G^T (4x4).
        let mut t = [[0f64; 3]; 4];
        for (i, row) in t.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (0..3).map(|k| G[i][k] * g[k * 3 + j] as f64).sum();
            }
        }
        for i in 0..4 {
            for j in 0..4 {
                let v: f64 = (0..3).map(|k| t[i][k] * G[j][k]).sum();
                u[(i * 4 + j) * o * c + oc] = v as f32;
            }
        }
    }
    Tensor::new(vec![POINTS, o, c], u).expect("sized above")
}

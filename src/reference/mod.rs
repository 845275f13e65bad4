//! CPU reference implementations: naive loops, f64 accumulation, written independently of the
//! shaders' index math. The oracle for tests and `wgconv validate`, never the fast path.

pub mod activation;
pub mod channel_affine;
pub mod conv;
pub mod conv_transpose;
pub mod eltwise;
pub mod matmul;
pub mod norm;
pub mod pad;
pub mod pixels;
pub mod pool;
pub mod rearrange;
pub mod reduce;
pub mod resize;
pub mod se_gate;
pub mod softmax;
pub mod splitk;

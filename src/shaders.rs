//! The kernel source registry: one WGSL file per kernel family in `shaders/`, each compiled with
//! the shared preludes in `shaders/lib/` prepended.

/// Declares `Shader` with one variant per file in `shaders/`.
macro_rules! shaders {
    ($($variant:ident => $file:literal),* $(,)?) => {
        /// A kernel family's WGSL source.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Shader {
            $($variant),*
        }

        impl Shader {
            /// Every shader, in declaration order.
            pub const ALL: &'static [Shader] = &[$(Shader::$variant),*];

            /// File name inside `shaders/`.
            pub fn file_name(self) -> &'static str {
                match self {
                    $(Shader::$variant => $file),*
                }
            }

            /// The complete module source: preludes followed by the family's file.
            pub fn source(self) -> &'static str {
                match self {
                    $(Shader::$variant => concat!(
                        include_str!("../shaders/lib/common.wgsl"),
                        "\n",
                        include_str!("../shaders/lib/activation.wgsl"),
                        "\n",
                        include_str!(concat!("../shaders/", $file)),
                    )),*
                }
            }
        }
    };
}

shaders! {
    Eltwise => "eltwise.wgsl",
    Conv => "conv.wgsl",
    Depthwise => "depthwise.wgsl",
    Matmul => "matmul.wgsl",
    ConvTranspose => "conv_transpose.wgsl",
    StridedCopy => "strided_copy.wgsl",
    Pool => "pool.wgsl",
    GlobalPool => "global_pool.wgsl",
    Softmax => "softmax.wgsl",
    ChannelAffine => "channel_affine.wgsl",
    SeGate => "se_gate.wgsl",
    Resize => "resize.wgsl",
    Pad => "pad.wgsl",
    SplitkReduce => "splitk_reduce.wgsl",
    WinogradInput => "winograd_input.wgsl",
    WinogradOutput => "winograd_output.wgsl",
}

impl Shader {
    /// A label for debuggers and error messages (the file name without `.wgsl`).
    pub fn label(self) -> &'static str {
        self.file_name().trim_end_matches(".wgsl")
    }
}

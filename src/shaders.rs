//! The kernel source registry: one WGSL file per kernel family in `shaders/`, each compiled with
//! the shared preludes in `shaders/lib/` prepended. The first prelude declares the storage and
//! accumulation types (`Elem`, `Acc`) of the requested [`Precision`], so one source serves f32
//! and f16.

use crate::precision::Precision;

/// Declares `Shader` with one variant per file in `shaders/`.
macro_rules! shaders {
    ($($variant:ident => $file:literal),* $(,)?) => {
        /// A kernel family's WGSL source.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Shader {
            $(#[doc = concat!("`shaders/", $file, "`.")] $variant),*
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

            /// The family's own file, without preludes.
            pub fn body(self) -> &'static str {
                match self {
                    $(Shader::$variant => include_str!(concat!("../shaders/", $file))),*
                }
            }
        }
    };
}

shaders! {
    Eltwise => "eltwise.wgsl",
    Where => "where.wgsl",
    Conv => "conv.wgsl",
    Depthwise => "depthwise.wgsl",
    Matmul => "matmul.wgsl",
    ConvTranspose => "conv_transpose.wgsl",
    StridedCopy => "strided_copy.wgsl",
    Pool => "pool.wgsl",
    GlobalPool => "global_pool.wgsl",
    Softmax => "softmax.wgsl",
    Reduce => "reduce.wgsl",
    Norm => "norm.wgsl",
    ChannelAffine => "channel_affine.wgsl",
    SeGate => "se_gate.wgsl",
    Resize => "resize.wgsl",
    Pad => "pad.wgsl",
    SplitkReduce => "splitk_reduce.wgsl",
    WinogradInput => "winograd_input.wgsl",
    WinogradOutput => "winograd_output.wgsl",
    WinogradFused => "winograd_fused.wgsl",
    Convert => "convert.wgsl",
    CoopConv => "coop_conv.wgsl",
}

impl Shader {
    /// A label for debuggers and error messages (the file name without `.wgsl`).
    pub fn label(self) -> &'static str {
        self.file_name().trim_end_matches(".wgsl")
    }

    /// Kernels whose every storage index is proven in range: a guard in the shader plus a
    /// binding-size check in its host builder, named in the file's "Unchecked because"
    /// header. The device may compile them without wgpu's runtime bounds checks (the
    /// `shader_checks` option of the device layer). Every other kernel keeps them: its indices
    /// have not all been proven yet.
    pub const TRUSTED: &'static [Shader] = &[
        Shader::Eltwise,
        Shader::ChannelAffine,
        Shader::Depthwise,
        Shader::Where,
        Shader::Pad,
        Shader::GlobalPool,
        Shader::SplitkReduce,
        Shader::WinogradInput,
        Shader::WinogradOutput,
        Shader::SeGate,
        Shader::Convert,
        Shader::Matmul,
        Shader::Conv,
    ];

    /// Whether this kernel is in [`Shader::TRUSTED`].
    pub fn trusted(self) -> bool {
        Self::TRUSTED.contains(&self)
    }
}

/// Declares `Elem` / `Acc` for each precision (first: `enable f16;` must precede everything).
const PRELUDE_F32: &str = include_str!("../shaders/lib/precision_f32.wgsl");
const PRELUDE_F16: &str = include_str!("../shaders/lib/precision_f16.wgsl");
const PRELUDE_F16_ACC32: &str = include_str!("../shaders/lib/precision_f16_acc32.wgsl");
/// Shared by every precision.
const PRELUDE_COMMON: &str = include_str!("../shaders/lib/common.wgsl");
const PRELUDE_ACTIVATION: &str = include_str!("../shaders/lib/activation.wgsl");
/// The implicit-GEMM convolutions' `Params` and im2col odometer.
const LIB_CONV_GEOMETRY: &str = include_str!("../shaders/lib/conv_geometry.wgsl");
/// Winograd's output transform and epilogue.
const LIB_WINOGRAD_OUTPUT: &str = include_str!("../shaders/lib/winograd_output_tile.wgsl");

impl Shader {
    /// The WGSL extensions this family needs beyond its precision's (directives must precede
    /// every declaration, so they open the module).
    pub fn enables(self) -> &'static str {
        match self {
            // f16 staging in every precision, cooperative matrices (src/kernels/coop_conv.rs).
            Shader::CoopConv => "enable f16;\nenable wgpu_cooperative_matrix;",
            _ => "",
        }
    }

    /// The family's own libraries from `shaders/lib/`, after the shared preludes.
    pub fn libraries(self) -> &'static str {
        match self {
            Shader::Conv | Shader::CoopConv => LIB_CONV_GEOMETRY,
            Shader::WinogradOutput | Shader::WinogradFused => LIB_WINOGRAD_OUTPUT,
            _ => "",
        }
    }

    /// True for kernels that need cooperative matrices (and the subgroup builtins): built only
    /// for a device that has them (`crate::kernels::Target::coop`).
    pub fn needs_coop(self) -> bool {
        self == Shader::CoopConv
    }

    /// The complete module source for `precision`: the family's extensions, the precision
    /// prelude, the shared preludes, the family's libraries, then the family's file.
    pub fn source(self, precision: Precision) -> String {
        let types = match precision {
            Precision::F32 => PRELUDE_F32,
            Precision::F16 => PRELUDE_F16,
            Precision::F16AccF32 => PRELUDE_F16_ACC32,
        };
        [
            self.enables(),
            types,
            PRELUDE_COMMON,
            PRELUDE_ACTIVATION,
            self.libraries(),
            self.body(),
        ]
        .join("\n")
    }
}

// Prelude (chosen by src/shaders.rs for Precision::F16AccF32; needs the shader-f16 feature):
// tensors stored as f16, accumulated in f32.
enable f16;
alias Elem = f16;
alias Acc = f32;

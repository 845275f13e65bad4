// Prelude (chosen by src/shaders.rs for Precision::F16; needs the shader-f16 feature):
// tensors stored as f16 and accumulated in f16.
enable f16;
alias Elem = f16;
alias Acc = f16;

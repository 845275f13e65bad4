// Prelude (chosen by src/shaders.rs for Precision::F32): storage and accumulation in f32.
// `Elem` is the type of tensors in storage buffers, `Acc` the type kernels accumulate in.
alias Elem = f32;
alias Acc = f32;

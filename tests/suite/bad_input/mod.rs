//! Bad input of every kind (issue 7): corrupt ONNX, wrong inputs, zero-sized dimensions, absurd
//! attributes, broken safetensors. Each is a typed error whose message names what is wrong and
//! where; none panics, none reaches the GPU in a state that could hang it.

mod builder;
pub(crate) mod onnx;
mod run_inputs;
mod safetensors;
mod zero_sized;

fn assert_names(err: &str, wants: &[&str]) {
    for w in wants {
        assert!(err.contains(w), "{w:?} not in: {err}");
    }
}

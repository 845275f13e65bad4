//! Arbitrary bytes as an ONNX model: import, shape inference, passes, planning, and the CPU
//! reference on tiny graphs. Bad input must be a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/suite/fuzz_harness/mod.rs"]
mod fuzz_harness;

fuzz_target!(|data: &[u8]| {
    let _ = fuzz_harness::onnx_import(data);
});

//! `arbitrary`-decoded builder programs (any op, any hyper-parameter, 0 and huge values
//! included) through the graph builder, the passes, the planner and the CPU reference.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/suite/fuzz_harness/mod.rs"]
mod fuzz_harness;

fuzz_target!(|data: &[u8]| {
    let _ = fuzz_harness::graph_build(data);
});

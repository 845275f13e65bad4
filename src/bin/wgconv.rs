//! The `wgconv` command line. With no arguments it runs the main job on a built-in default.

use std::process::ExitCode;

fn main() -> ExitCode {
    match wgconv::demo::run_default() {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wgconv: error: {e}");
            ExitCode::FAILURE
        }
    }
}

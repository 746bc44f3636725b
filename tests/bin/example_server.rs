//! The example app's `main`, built with the tests so the `cdn` tests can start it as a
//! process of its own (`CARGO_BIN_EXE_example-server`): where asset URLs point is
//! process-wide, and the other tests' in-process apps serve `/static/`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match example_app::run_from_env().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

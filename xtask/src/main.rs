//! `cargo xtask`: the asset pipeline's commands.
//!
//! `publish`, `verify` and `prune` are asset-publish's and `media sync`/`media gc` are asset-storage's, so
//! users' own xtasks get them too. This package links neither minifier, no S3 emulator and no
//! test server: the main job, `cargo xtask publish`, compiles only what publishing needs (the
//! app's build script compiles the pipeline once). `build` and `corpus` run the `xtask-build`
//! package and `bench` the `xtask-bench` package, each compiled when first used.

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

  publish     build the app and upload its assets (run `cargo xtask publish --help`)
  verify      check a destination against the build
  prune       delete old generations' objects
  media sync  copy media between stores (run `cargo xtask media --help`)
  media gc    remove direct uploads nobody confirmed
  build       run the pipeline over a folder (`cargo xtask build --help`)
  corpus      build popular npm packages and run their scripts as published and as built
  bench       speed figures beside their baselines (`cargo xtask bench --help`)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("publish" | "verify" | "prune") => asset_publish::cli::main(args),
        Some("media") => asset_storage::cli::main(args.into_iter().skip(1)),
        // The pipeline commands, in the dev profile (its minifier crates are optimised).
        Some("build" | "corpus") => forward("xtask-build", None, &args),
        // Our code and its peers all optimised, so the comparisons are fair.
        Some("bench") => forward("xtask-bench", Some("bench-opt"), &args[1..]),
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo run --package <package>` with the arguments passed on; cargo's own progress shows
/// while it compiles.
fn forward(package: &str, profile: Option<&str>, args: &[String]) -> ExitCode {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["run", "--package", package]);
    if let Some(p) = profile {
        cmd.args(["--profile", p]);
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace");
    match cmd.arg("--").args(args).current_dir(root).status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(s.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: running cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

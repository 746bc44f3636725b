//! `cargo xtask build` and `cargo xtask corpus` (xtask runs this package for them): the
//! pipeline on any folder, and on popular npm packages.

mod build;
mod corpus;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pipeline over a folder: hashed files, .gz/.br variants and manifest.json.
    Build(build::Args),
    /// Build popular npm packages with `--check` and run their scripts as published and as
    /// built, side by side in node (needs node and npm; installs into target/corpus).
    Corpus(corpus::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Build(args) => build::run(args),
        Command::Corpus(args) => corpus::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace's target directory (`CARGO_TARGET_DIR`, else `<workspace>/target`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(Into::into)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The workspace root (two levels above this package).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("this package lives in xtask/build")
        .to_path_buf()
}

//! `cargo xtask build` and `cargo xtask corpus` (xtask runs this package for them): the
//! pipeline on any folder, and on popular npm packages.

mod build;
mod corpus;

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

#[path = "../../paths.rs"]
mod paths;
use paths::target_dir;

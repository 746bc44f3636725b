//! `cargo xtask`: the asset pipeline's commands (one module per subcommand; `publish`,
//! `verify` and `prune` are asset-build's and `media sync` is asset-storage's, so users' own
//! xtasks get them too).

mod bench;
mod build;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Asset pipeline tasks",
    after_help = "Also: publish, verify, prune (run `cargo xtask publish --help`), media sync (run `cargo xtask media --help`)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pipeline over a folder: hashed files, .gz/.br variants and manifest.json.
    Build(build::Args),
    /// Speed figures beside their baselines (markdown table, target/bench/results.json).
    Bench(bench::Args),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(cmd) = args.first()
        && matches!(cmd.as_str(), "publish" | "verify" | "prune")
    {
        return asset_build::publish::cli::main(args);
    }
    if args.first().is_some_and(|c| c == "media") {
        return asset_storage::cli::main(args.into_iter().skip(1));
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => build::run(args),
        Command::Bench(args) => bench::run(args),
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
pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(Into::into)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

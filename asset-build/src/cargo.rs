//! Talking to cargo from a build script: where things go (`OUT_DIR`, the shared cache), what
//! re-runs the script (`cargo::rerun-if-changed`), and how problems are reported.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::pipeline::Output;

pub(crate) use asset_manifest::TREE;
/// The generated Rust inside `OUT_DIR`, included by `asset_runtime::include_assets!()`.
pub(crate) const CODE: &str = "asset_runtime.rs";

/// Settings for a build script: `[package.metadata.assets]` of the package being built,
/// output into `$OUT_DIR/assets`, cache beside the profiles in the target directory.
///
/// # Errors
/// Not run by cargo (no `OUT_DIR`/`CARGO_MANIFEST_DIR`), or a bad setting.
pub fn config_from_env() -> Result<Config> {
    let var = |name: &str| {
        std::env::var_os(name).map(PathBuf::from).ok_or_else(|| {
            Error::Config(format!("{name} is not set: call this from a build script"))
        })
    };
    let manifest_dir = var("CARGO_MANIFEST_DIR")?;
    let out_dir = var("OUT_DIR")?;
    let mut config = Config::from_package(&manifest_dir, out_dir.join(TREE))?;
    if let Some(cache) = cache_dir_for(&out_dir) {
        config = config.cache_dir(cache);
    }
    if let Some(jobs) = std::env::var("NUM_JOBS").ok().and_then(|n| n.parse().ok()) {
        config = config.jobs(jobs);
    }
    Ok(config)
}

/// `<target>/asset-cache` for `OUT_DIR` = `<target>/<profile>/build/<pkg>-<hash>/out`, so that
/// every profile shares it.
pub fn cache_dir_for(out_dir: &Path) -> Option<PathBuf> {
    let build = out_dir.ancestors().nth(2)?;
    (build.file_name()? == "build")
        .then(|| build.parent()?.parent().map(|t| t.join("asset-cache")))?
}

/// Runs the pipeline from a build script and writes the generated code; prints the
/// `rerun-if-changed` lines and warnings for cargo.
///
/// # Errors
/// Whatever the pipeline reports; see [`report`] to print it for cargo.
pub(crate) fn run(config: &Config) -> Result<Output> {
    // Before the run, so that fixing a broken asset re-runs the script too.
    println!("cargo::rerun-if-changed={}", config.source().display());
    // Sass reads partials from its load paths too.
    for dir in &config.load_paths {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        println!(
            "cargo::rerun-if-changed={}",
            Path::new(&dir).join("Cargo.toml").display()
        );
    }
    let output = crate::pipeline::run(config)?;
    for w in &output.warnings {
        println!("cargo::warning={}", one_line(&w.to_string()));
    }
    let out_dir = config
        .out()
        .parent()
        .ok_or_else(|| Error::Config("the output tree has no parent".into()))?;
    let tree = config
        .out()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| TREE.into());
    let code = crate::codegen::generate(&output.manifest, &tree, config.embeds());
    crate::write::if_changed(&out_dir.join(CODE), code.as_bytes())?;
    Ok(output)
}

/// Prints `error` for cargo (one `cargo::error=` line per problem) and exits with status 1.
pub fn report(error: &Error) -> ! {
    let problems = error.problems();
    if problems.is_empty() {
        println!("cargo::error={}", one_line(&error.to_string()));
    } else {
        for p in problems {
            println!("cargo::error={}", one_line(&p.to_string()));
        }
    }
    std::process::exit(1)
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

//! The static-asset pipeline, for `build.rs`: minify CSS (lightningcss) and JS (swc), rewrite
//! references to content-hashed names, precompress, and write `manifest.json` plus the Rust
//! that `asset-runtime` embeds.
//!
//! ```no_run
//! // build.rs
//! asset_build::build_script();
//! ```
//!
//! Settings come from `[package.metadata.assets]` in `Cargo.toml`, or from code:
//!
//! ```no_run
//! asset_build::build_script_with(|c| c.gzip(None).source_maps(true));
//! ```

mod bundle;
mod cache;
mod cargo;
pub mod check;
mod codegen;
mod compress;
mod config;
mod css;
mod depth;
mod error;
mod esm;
mod graph;
mod hash;
mod js;
mod pipeline;
mod refs;
mod sass;
mod scan;
mod sourcemap;
mod state;
mod transform;
mod write;

pub use cargo::{cache_dir_for, config_from_env, report};
pub use check::check_tree;
pub use config::{Config, CssImports, InvalidCss, Jsx, JsxRuntime, Metadata, Missing, Targets};
pub use error::{Error, Pos, Problem, ProblemKind, Result};
pub use pipeline::{Output, Stats, run};

/// The manifest's crate: the contract a build's output follows.
pub use asset_manifest;
pub use asset_manifest::{Encoding, Entry, Manifest, Variant};

/// The whole build script: settings from `[package.metadata.assets]`, output into `OUT_DIR`.
/// On failure prints every problem for cargo and exits non-zero.
pub fn build_script() -> Output {
    build_script_with(|c| c)
}

/// Like [`build_script`], with the settings adjusted in code first.
pub fn build_script_with(adjust: impl FnOnce(Config) -> Config) -> Output {
    match config_from_env().and_then(|c| cargo::run(&adjust(c))) {
        Ok(output) => output,
        Err(e) => report(&e),
    }
}

/// Runs the build-script step with explicit settings (output tree in `config.out()`, generated
/// code beside it).
///
/// # Errors
/// Every broken asset, or I/O.
pub fn run_for_cargo(config: &Config) -> Result<Output> {
    cargo::run(config)
}

/// Generated Rust for a manifest (what the build script writes), for tools and tests.
pub fn generate_code(manifest: &Manifest, embed: bool) -> String {
    codegen::generate(manifest, cargo::TREE, embed)
}

/// sha256 of `bytes` (the digest the pipeline names files by), for benchmarks.
pub fn hash_block(bytes: &[u8]) -> [u8; 32] {
    asset_manifest::hash::sha256(bytes)
}

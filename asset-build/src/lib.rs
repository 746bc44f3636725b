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

// Without the pipeline (a publishing tool), some shared helpers go unused.
#![cfg_attr(not(feature = "pipeline"), allow(dead_code))]

#[cfg(feature = "pipeline")]
mod bundle;
#[cfg(feature = "pipeline")]
mod cache;
#[cfg(feature = "pipeline")]
mod cargo;
pub mod check;
#[cfg(feature = "pipeline")]
mod codegen;
#[cfg(feature = "pipeline")]
mod compress;
#[cfg(feature = "pipeline")]
mod config;
#[cfg(feature = "pipeline")]
mod css;
#[cfg(feature = "pipeline")]
mod depth;
mod error;
#[cfg(feature = "pipeline")]
mod esm;
#[cfg(feature = "pipeline")]
mod graph;
mod hash;
#[cfg(feature = "pipeline")]
mod js;
pub mod manifest;
#[cfg(feature = "pipeline")]
mod pipeline;
#[cfg(feature = "publish")]
pub mod publish;
mod refs;
#[cfg(feature = "pipeline")]
mod sass;
#[cfg(feature = "pipeline")]
mod scan;
#[cfg(feature = "pipeline")]
mod sourcemap;
#[cfg(feature = "pipeline")]
mod state;
#[cfg(feature = "pipeline")]
mod transform;
#[cfg(feature = "pipeline")]
mod write;

#[cfg(feature = "pipeline")]
pub use cargo::{cache_dir_for, config_from_env, report};
pub use check::check_tree;
#[cfg(feature = "pipeline")]
pub use compress::Encoding;
#[cfg(feature = "pipeline")]
pub use config::{Config, CssImports, InvalidCss, Jsx, JsxRuntime, Metadata, Missing, Targets};
pub use error::{Error, Pos, Problem, Result};
pub use manifest::Manifest;
#[cfg(feature = "pipeline")]
pub use pipeline::{Output, Stats, run};

#[cfg(feature = "pipeline")]
/// The whole build script: settings from `[package.metadata.assets]`, output into `OUT_DIR`.
/// On failure prints every problem for cargo and exits non-zero.
pub fn build_script() -> Output {
    build_script_with(|c| c)
}

#[cfg(feature = "pipeline")]
/// Like [`build_script`], with the settings adjusted in code first.
pub fn build_script_with(adjust: impl FnOnce(Config) -> Config) -> Output {
    match config_from_env().and_then(|c| cargo::run(&adjust(c))) {
        Ok(output) => output,
        Err(e) => report(&e),
    }
}

#[cfg(feature = "pipeline")]
/// Runs the build-script step with explicit settings (output tree in `config.out()`, generated
/// code beside it).
///
/// # Errors
/// Every broken asset, or I/O.
pub fn run_for_cargo(config: &Config) -> Result<Output> {
    cargo::run(config)
}

#[cfg(feature = "pipeline")]
/// Generated Rust for a manifest (what the build script writes), for tools and tests.
pub fn generate_code(manifest: &Manifest, embed: bool) -> String {
    codegen::generate(manifest, cargo::TREE, embed)
}

/// sha256 of `bytes` (the digest the pipeline names files by), for benchmarks.
pub fn hash_block(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

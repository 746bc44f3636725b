//! Finds the Cargo.lock this build resolved and passes the exact versions of the crates that
//! shape the pipeline's outputs (swc's parser, minifier, printer and TypeScript/JSX transforms, grass, lightningcss, the source
//! map writer, the encoders) to the cache keys, so that an update of any of them is never
//! answered from the cache.

use std::path::{Path, PathBuf};

const TOOLS: &[&str] = &[
    "swc_ecma_parser",
    "swc_ecma_minifier",
    "swc_ecma_codegen",
    "swc_ecma_transforms_base",
    "swc_ecma_transforms_typescript",
    "swc_ecma_transforms_react",
    "grass_compiler",
    "lightningcss",
    "parcel_sourcemap",
    "mbrotli",
    "flate2",
    "zlib-rs",
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let versions = match find_lock() {
        Some(lock) => {
            println!("cargo::rerun-if-changed={}", lock.display());
            std::fs::read_to_string(&lock)
                .map(|text| versions(&text))
                .unwrap_or_default()
        }
        None => String::new(),
    };
    let versions = if versions.is_empty() {
        "no Cargo.lock found".to_owned()
    } else {
        versions
    };
    println!("cargo::rustc-env=ASSET_BUILD_TOOL_VERSIONS={versions}");
}

/// The lock file of the workspace being built: above this package (a path dependency, as
/// here) or above the target directory (a registry dependency).
fn find_lock() -> Option<PathBuf> {
    let starts = ["CARGO_MANIFEST_DIR", "OUT_DIR"]
        .iter()
        .filter_map(|k| std::env::var_os(k).map(PathBuf::from));
    for start in starts {
        let mut dir: Option<&Path> = Some(&start);
        while let Some(d) = dir {
            let lock = d.join("Cargo.lock");
            if lock.is_file() {
                return Some(lock);
            }
            dir = d.parent();
        }
    }
    None
}

/// `name version` of every locked package in [`TOOLS`], sorted.
fn versions(lock: &str) -> String {
    let mut found = Vec::new();
    let mut name: Option<&str> = None;
    for line in lock.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            name = None;
        } else if let Some(v) = line.strip_prefix("name = ") {
            name = Some(v.trim_matches('"'));
        } else if let (Some(n), Some(v)) = (name, line.strip_prefix("version = "))
            && TOOLS.contains(&n)
        {
            found.push(format!("{n} {}", v.trim_matches('"')));
        }
    }
    found.sort();
    found.join(", ")
}

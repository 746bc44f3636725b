//! A first `cargo xtask publish` is two cargo builds: xtask's, then the example app's. A crate
//! both use compiles once only when both builds ask for the same features; xtask's
//! `Cargo.toml` turns on what the app's build does. This keeps them from drifting apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// `cargo tree` of one package: crate (name and version) -> the feature sets it is built
/// with (one per side, target and host, where they differ).
fn feature_sets(package: &str) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-e",
            "normal,build",
            "--prefix",
            "none",
        ])
        .args(["-f", "{p}|{f}", "-p", package])
        .current_dir(root)
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut sets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let Some((krate, features)) = line.split_once('|') else {
            continue;
        };
        // Workspace crates carry their path; a repeated crate is marked "(*)".
        let name = krate.split(" (").next().unwrap().to_owned();
        let features = features.trim_end_matches(" (*)").to_owned();
        sets.entry(name).or_default().insert(features);
    }
    sets
}

#[test]
fn xtask_asks_for_no_feature_set_the_app_build_does_not() {
    let xtask = feature_sets("xtask");
    let app = feature_sets("example-app");
    assert!(
        xtask.len() > 100 && app.len() > 100,
        "cargo tree read too little"
    );
    let mut apart = Vec::new();
    for (krate, sets) in &xtask {
        // xtask's media CLI and the app's HTTP service are different builds on purpose.
        if krate.starts_with("asset-storage ") {
            continue;
        }
        if let Some(app_sets) = app.get(krate)
            && !sets.is_subset(app_sets)
        {
            apart.push(format!("{krate}: xtask {sets:?}, the app {app_sets:?}"));
        }
    }
    assert!(
        apart.is_empty(),
        "these compile twice on a first publish; add the app's features to xtask/Cargo.toml:\n{}",
        apart.join("\n")
    );
}

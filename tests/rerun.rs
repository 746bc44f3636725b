//! `rerun-if-changed` is exact: adding, changing or removing an asset re-runs a build script
//! that uses asset-build; touching anything else does not. Real `cargo build -v` runs of
//! `fixtures/rerun-probe` in this workspace. A binary of its own because it edits the probe's
//! assets (restored on exit, even on failure) and cargo runs test binaries one at a time.

use std::path::{Path, PathBuf};
use std::process::Command;

fn app() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/rerun-probe")
}

/// Builds the workspace as `cargo test --workspace` does (same packages, so the same feature
/// resolution: every unit but the probe is fresh); whether the probe's build script ran.
fn build_script_ran() -> bool {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "-v", "--workspace", "--all-targets"])
        .current_dir(app())
        .output()
        .expect("running cargo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo build failed:\n{stderr}");
    stderr.lines().any(|l| {
        l.trim_start().starts_with("Running")
            && l.contains("rerun-probe-")
            && l.contains("build-script-build")
    })
}

/// Puts files back as they were when dropped.
struct Restore {
    changed: Vec<(PathBuf, Vec<u8>)>,
    added: Vec<PathBuf>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        for (p, bytes) in &self.changed {
            let _ = std::fs::write(p, bytes);
        }
        for p in &self.added {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn touch(path: &Path) {
    let f = std::fs::File::options().append(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
}

#[test]
fn build_script_reruns_exactly_when_assets_change() {
    let assets = app().join("assets");
    let theme = assets.join("css/probe.css");
    let added = assets.join("css/added-by-test.css");
    let mut restore = Restore {
        changed: vec![(theme.clone(), std::fs::read(&theme).unwrap())],
        added: vec![added.clone()],
    };

    build_script_ran();
    assert!(
        !build_script_ran(),
        "a second build with nothing changed does not re-run it"
    );

    touch(&app().join("NOTES.txt"));
    touch(&app().join("src/lib.rs"));
    assert!(
        !build_script_ran(),
        "changes outside the assets do not re-run it"
    );

    std::fs::write(&theme, ".probe { color: #445566; }\n").unwrap();
    assert!(build_script_ran(), "changing an asset re-runs it");

    std::fs::write(&added, ".added { color: red; }\n").unwrap();
    assert!(build_script_ran(), "adding an asset re-runs it");

    std::fs::remove_file(&added).unwrap();
    assert!(build_script_ran(), "removing an asset re-runs it");

    drop(std::mem::replace(
        &mut restore,
        Restore {
            changed: Vec::new(),
            added: Vec::new(),
        },
    ));
    assert!(build_script_ran(), "restoring the asset re-runs it");
    assert!(!build_script_ran());
}

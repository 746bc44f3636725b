//! Where the workspace and its target directory are, for the packages under `xtask/`
//! (included by `xtask-build` and `xtask-bench`, each two levels below the root).

use std::path::{Path, PathBuf};

/// The workspace's target directory (`CARGO_TARGET_DIR`, else `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(Into::into)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The workspace root (two levels above the including package).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the package lives in xtask/<name>")
        .to_path_buf()
}

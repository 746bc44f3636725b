//! A persistent, content-addressed cache of transform and compression results, shared by
//! every profile (it lives beside the profiles in the target directory). A key is a sha256 of
//! everything the result depends on: tool versions, settings and input bytes.

use std::path::{Path, PathBuf};

/// Everything a stage's output depends on besides its input and settings; part of every key:
/// this crate's version, the exact versions of the tools as resolved in Cargo.lock (found by
/// `build.rs`), and a number bumped whenever our own stages change their output.
pub(crate) const TOOLS: &str = concat!(
    "asset-build ",
    env!("CARGO_PKG_VERSION"),
    "; ",
    env!("ASSET_BUILD_TOOL_VERSIONS"),
    "; brotli encoder 8; cache 7"
);

/// The cache directory, or none (every lookup misses).
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    dir: Option<PathBuf>,
}

impl Cache {
    pub(crate) fn new(dir: Option<&Path>) -> Cache {
        Cache {
            dir: dir.map(Path::to_path_buf),
        }
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(&key[..2]).join(key))
    }

    /// The stored bytes for `key`, if any.
    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(key)?).ok()
    }

    /// Stores `bytes` under `key`. A failure only costs the next run time, so it is ignored.
    pub(crate) fn put(&self, key: &str, bytes: &[u8]) {
        let Some(path) = self.path(key) else { return };
        let Some(parent) = path.parent() else { return };
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
        // Write then rename, so a reader (another build) never sees half an entry.
        let tmp = parent.join(format!(".{key}.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// A cache key over a stage name and its inputs.
pub(crate) fn key(stage: &str, parts: &[&[u8]]) -> String {
    crate::hash::sha256_parts(
        [TOOLS.as_bytes(), stage.as_bytes()]
            .into_iter()
            .chain(parts.iter().copied()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_finds() {
        let dir = std::env::temp_dir().join(format!("asset-cache-test-{}", std::process::id()));
        let c = Cache::new(Some(&dir));
        let k = key("t", &[b"x"]);
        assert_eq!(c.get(&k), None);
        c.put(&k, b"value");
        assert_eq!(c.get(&k).as_deref(), Some(&b"value"[..]));
        assert_ne!(k, key("t", &[b"y"]));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn keys_name_the_tools_as_locked_in_cargo_lock() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
            .expect("the workspace's Cargo.lock");
        for tool in [
            "swc_ecma_minifier",
            "swc_ecma_transforms_typescript",
            "grass_compiler",
            "lightningcss",
            "mbrotli",
            "zlib-rs",
        ] {
            let at = lock
                .find(&format!("name = \"{tool}\"\nversion = \""))
                .unwrap_or_else(|| panic!("{tool} is locked"));
            let version = lock[at..].lines().nth(1).unwrap();
            let version = version
                .trim_start_matches("version = \"")
                .trim_end_matches('"');
            assert!(
                TOOLS.contains(&format!("{tool} {version}")),
                "{tool} {version} not in {TOOLS}"
            );
        }
    }
}

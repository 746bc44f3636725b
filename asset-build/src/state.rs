//! What the last successful run saw, so the next one reads and hashes only what changed.
//!
//! `<cache>/state/<hash of the output path>.json` holds the settings, a stamp (size, mtime, ctime, inode) of every
//! source file and the references between them. A run whose sources all carry the same stamp
//! takes their manifest entries from the last run; a changed file is processed again with
//! every file that refers to it, directly or not (their text holds its hashed name). Anything
//! else (a file added or removed, other settings, an output file missing) is a full run,
//! through the content cache. Stamps taken within [`RACY`] of a run's start are not trusted:
//! a write in the same clock tick could leave the stamp unchanged (git's "racy" files).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use asset_manifest::{FILE_NAME, Manifest};

pub(crate) const VERSION: u32 = 1;
/// Stamps this close to (or after) the start of the run that took them are re-checked: the
/// clock tick of file times (a few ms on Linux; whole seconds on some file systems, whose
/// times have no nanoseconds: there, 2 s).
const RACY: Duration = Duration::from_millis(20);
const RACY_COARSE: Duration = Duration::from_secs(2);

/// Where the state of the run that writes into `out` is kept.
pub(crate) fn path(cache_dir: &Path, out: &Path) -> PathBuf {
    let out = out.canonicalize().unwrap_or_else(|_| out.to_path_buf());
    let id = crate::hash::sha256_hex(out.to_string_lossy().as_bytes());
    cache_dir.join("state").join(format!("{}.json", &id[..32]))
}

/// A file's identity for change detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
}

impl Stamp {
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        let ns = |t: std::io::Result<SystemTime>| {
            t.ok().map_or(0, |t| match t.duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_nanos() as i128,
                Err(e) => -(e.duration().as_nanos() as i128),
            })
        };
        #[cfg(unix)]
        let (ctime_ns, ino) = {
            use std::os::unix::fs::MetadataExt as _;
            (
                i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
                m.ino(),
            )
        };
        #[cfg(not(unix))]
        let (ctime_ns, ino) = (ns(m.created()), 0);
        Some(Stamp {
            size: m.len(),
            mtime_ns: ns(m.modified()),
            ctime_ns,
            ino,
        })
    }
}

/// The saved state of a successful run.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    /// [`VERSION`].
    pub version: u32,
    /// [`crate::Config`]'s output fingerprint.
    pub settings: String,
    /// When the run began (ns since the epoch).
    pub started_ns: i128,
    /// The manifest's id, to know the output tree is the one this state describes.
    pub manifest_id: String,
    pub stamps: BTreeMap<String, Stamp>,
    /// sha256 of each source's bytes: a file whose stamp changed but not its bytes (touched,
    /// checked out again, saved unchanged) costs one read.
    pub hashes: BTreeMap<String, String>,
    /// Each source's references to other sources (logical paths).
    pub deps: BTreeMap<String, Vec<String>>,
}

pub(crate) fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// What can be taken from the last run.
pub(crate) struct Reuse {
    pub manifest: Manifest,
    /// Sources whose entries are taken as they were.
    pub clean: HashSet<String>,
    /// Their references and hashes, carried into the next state.
    pub deps: BTreeMap<String, Vec<String>>,
    pub hashes: BTreeMap<String, String>,
}

fn only<V: Clone>(m: &BTreeMap<String, V>, keys: &HashSet<String>) -> BTreeMap<String, V> {
    m.iter()
        .filter(|(k, _)| keys.contains(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl State {
    /// The last run's state, if it can be read.
    pub(crate) fn load(path: &Path) -> Option<State> {
        let bytes = std::fs::read(path).ok()?;
        serde_json::from_slice::<State>(&bytes)
            .ok()
            .filter(|s| s.version == VERSION)
    }

    /// Saves the state (written last, after the manifest; a failure only costs speed).
    pub(crate) fn save(&self, path: &Path) {
        let bytes = serde_json::to_vec(self).expect("the state serializes");
        let _ = crate::write::atomic_write(path, &bytes);
    }

    /// Which sources are unchanged since this state, given the stamps now. `None` when the
    /// whole tree must be processed.
    pub(crate) fn reuse(
        &self,
        settings: &str,
        stamps: &BTreeMap<String, Stamp>,
        source: &Path,
        out: &Path,
    ) -> Option<Reuse> {
        if self.settings != settings || self.stamps.len() != stamps.len() {
            return None;
        }
        let mut changed = Vec::new();
        for ((a, old), (b, new)) in self.stamps.iter().zip(stamps) {
            if a != b {
                return None;
            }
            let window = if old.mtime_ns % 1_000_000_000 == 0 {
                RACY_COARSE
            } else {
                RACY
            };
            let racy = self.started_ns - window.as_nanos() as i128;
            if (old != new || old.mtime_ns >= racy || old.ctime_ns >= racy)
                && std::fs::read(source.join(a))
                    .ok()
                    .map(|b| crate::hash::sha256_hex(&b))
                    != self.hashes.get(a).cloned()
            {
                changed.push(a.as_str());
            }
        }
        let manifest = Manifest::from_json(&std::fs::read(out.join(FILE_NAME)).ok()?).ok()?;
        if manifest.id != self.manifest_id {
            return None;
        }
        // Everything that refers to a changed file, directly or not, changes too.
        let mut users: HashMap<&str, Vec<&str>> = HashMap::new();
        for (from, tos) in &self.deps {
            for to in tos {
                users.entry(to.as_str()).or_default().push(from.as_str());
            }
        }
        let mut dirty: HashSet<&str> = HashSet::new();
        while let Some(f) = changed.pop() {
            if dirty.insert(f) {
                changed.extend(users.get(f).into_iter().flatten());
            }
        }
        let clean: HashSet<String> = self
            .stamps
            .keys()
            .filter(|k| !dirty.contains(k.as_str()))
            .cloned()
            .collect();
        // The clean files' outputs must all still be there.
        let present =
            |p: &str, size: u64| std::fs::metadata(out.join(p)).is_ok_and(|m| m.len() == size);
        for logical in &clean {
            let e = manifest.assets.get(logical)?;
            let map = format!("{logical}.map");
            let extra = manifest
                .assets
                .get(&map)
                .filter(|_| !stamps.contains_key(&map));
            for e in std::iter::once(e).chain(extra) {
                if !present(&e.path, e.size)
                    || !e.encodings.values().all(|v| present(&v.path, v.size))
                {
                    return None;
                }
            }
        }
        Some(Reuse {
            deps: only(&self.deps, &clean),
            hashes: only(&self.hashes, &clean),
            manifest,
            clean,
        })
    }
}

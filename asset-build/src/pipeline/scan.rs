//! Stage 1: the sources, listed and read (unchanged ones left unread), the bundles of the
//! settings added as sources of their own, and what the last successful run lets stand.
//! [`SourceId`] indexes the per-source tables ([`PerSource`]) every later stage keeps.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Index, IndexMut};
use std::path::PathBuf;

use super::diagnostics::Diagnostics;
use super::parallel::parallel;
use crate::bundle::{self, Bundle};
use crate::config::{Config, CssImports};
use crate::error::Result;
use crate::hash;
use crate::scan::{self, Source};
use crate::state::{self, Stamp, State};

/// A source's place in the scanned list, and so in every per-source table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct SourceId(pub(super) usize);

/// One value per source, indexed by [`SourceId`].
#[derive(Debug, Clone)]
pub(super) struct PerSource<T>(Vec<T>);

impl<T> PerSource<T> {
    /// Every source's id, in order.
    pub(super) fn ids(&self) -> impl Iterator<Item = SourceId> + use<T> {
        (0..self.0.len()).map(SourceId)
    }

    /// Every source's value, in order.
    pub(super) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// Each source's id with its value.
    pub(super) fn enumerate(&self) -> impl Iterator<Item = (SourceId, &T)> {
        self.0.iter().enumerate().map(|(i, v)| (SourceId(i), v))
    }

    /// A table of the same sources, each value made from this one's.
    pub(super) fn map<U>(&self, f: impl FnMut(&T) -> U) -> PerSource<U> {
        PerSource(self.0.iter().map(f).collect())
    }
}

impl<T> FromIterator<T> for PerSource<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        PerSource(iter.into_iter().collect())
    }
}

impl<T> IntoIterator for PerSource<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<T> Index<SourceId> for PerSource<T> {
    type Output = T;

    fn index(&self, id: SourceId) -> &T {
        &self.0[id.0]
    }
}

impl<T> IndexMut<SourceId> for PerSource<T> {
    fn index_mut(&mut self, id: SourceId) -> &mut T {
        &mut self.0[id.0]
    }
}

/// What scanning found: the sources (bundles last), and each read file's sha256.
pub(super) struct Scanned {
    pub(super) sources: PerSource<Source>,
    /// Each source's id by its logical path.
    pub(super) index: HashMap<String, SourceId>,
    /// The bundles of the settings, each at its own source (`Bundle::at`).
    pub(super) bundles: Vec<Bundle>,
    pub(super) incremental: Incremental,
    /// Per source: its last run's output stands.
    pub(super) clean: PerSource<bool>,
    /// One sha256 of each file read: its transform cache key, its name when it ships as
    /// written, and its entry in the run state.
    pub(super) source_hashes: PerSource<Option<String>>,
    /// Files found (bundles not counted).
    pub(super) files: usize,
    /// Their size: as stamped for unread files, as read for the others.
    pub(super) bytes_in: u64,
}

impl Scanned {
    /// Sources whose outputs of the last run stand.
    pub(super) fn reused(&self) -> usize {
        self.clean.iter().filter(|&&c| c).count()
    }
}

/// The incremental side of a run: what this run's state will record for the next one, and
/// what the last successful run's state lets stand.
pub(super) struct Incremental {
    pub(super) started: i128,
    pub(super) settings: String,
    pub(super) state_path: Option<PathBuf>,
    pub(super) stamps: Option<BTreeMap<String, Stamp>>,
    pub(super) reuse: Option<state::Reuse>,
}

impl Incremental {
    /// Whether the last run's output of the file at `logical` stands.
    fn is_clean(&self, logical: &str) -> bool {
        self.reuse
            .as_ref()
            .is_some_and(|r| r.clean.contains(logical))
    }
}

/// Lists and reads the sources, hashes each file read, and adds the bundles.
///
/// # Errors
/// I/O errors on the source tree; broken files go to `diagnostics`.
pub(super) fn scan_sources(config: &Config, diagnostics: &mut Diagnostics) -> Result<Scanned> {
    let started = state::now_ns();
    let (mut files, listing_problems) = scan::list(&config.source)?;
    // Sass partials are read by the entries that use them, TypeScript declarations only by
    // the type checker: neither ships.
    files.retain(|(logical, _)| !scan::is_input_only(logical));
    let incremental = incremental(config, started, &files, listing_problems.is_empty());
    diagnostics.errors(listing_problems);
    let is_clean = |l: &str| incremental.is_clean(l);
    let (mut sources, read_problems) =
        scan::read(&config.source, files, config.allow_empty, &is_clean)?;
    diagnostics.errors(read_problems);
    let clean: Vec<bool> = sources.iter().map(|s| is_clean(&s.logical)).collect();
    let source_hashes: Vec<Option<String>> = parallel(&sources, config.jobs, |s| {
        (!is_clean(&s.logical)).then(|| hash::sha256_hex(&s.bytes))
    });
    let files = sources.len();
    let bytes_in = bytes_in(&sources, &incremental);
    let bundles = plan_bundles(config, &mut sources, diagnostics);
    let n = sources.len();
    let index = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.logical.clone(), SourceId(i)))
        .collect();
    Ok(Scanned {
        sources: PerSource(sources),
        index,
        bundles,
        incremental,
        clean: PerSource(resized(clean, n, false)),
        source_hashes: PerSource(resized(source_hashes, n, None)),
        files,
        bytes_in,
    })
}

/// This run's stamps of `files` and settings, and, with a cache, what the last run's state
/// lets stand.
fn incremental(
    config: &Config,
    started: i128,
    files: &scan::Listing,
    listed_cleanly: bool,
) -> Incremental {
    // Sass entries depend on files that are not sources, and bundles on other sources'
    // outputs: such trees are processed whole, through the content cache.
    let derived = !config.bundles.is_empty() || files.iter().any(|(l, _)| crate::scan::is_sass(l));
    // With a cache, the last run's outputs stand for files that have not changed.
    let settings = config.output_fingerprint();
    let state_path = config
        .cache_dir
        .as_ref()
        .map(|c| state::path(c, &config.out));
    let stamps: Option<BTreeMap<String, Stamp>> = state_path.as_ref().and_then(|_| {
        files
            .iter()
            .map(|(l, p)| Some((l.clone(), Stamp::of(p)?)))
            .collect()
    });
    // (Not with inlined @imports: a changed stylesheet needs the text of those it inlines.)
    let reuse = match (&stamps, &state_path) {
        (Some(stamps), Some(path))
            if listed_cleanly && config.css_imports == CssImports::Keep && !derived =>
        {
            State::load(path).and_then(|s| s.reuse(&settings, stamps, &config.source, &config.out))
        }
        _ => None,
    };
    Incremental {
        started,
        settings,
        state_path,
        stamps,
        reuse,
    }
}

/// The size of every source: as stamped for unread ones, as read for the others.
fn bytes_in(sources: &[Source], incremental: &Incremental) -> u64 {
    sources
        .iter()
        .map(|s| {
            let stamp = incremental
                .stamps
                .as_ref()
                .and_then(|st| st.get(&s.logical));
            match stamp {
                Some(stamp) if incremental.is_clean(&s.logical) => stamp.size(),
                _ => s.bytes.len() as u64,
            }
        })
        .sum()
}

/// The bundles of the settings, each added as a source of its own (never read: its text is
/// joined from its parts' when they are finished).
fn plan_bundles(
    config: &Config,
    sources: &mut Vec<Source>,
    diagnostics: &mut Diagnostics,
) -> Vec<Bundle> {
    let mut problems = Vec::new();
    let bundles = bundle::plan(&config.bundles, sources, &mut problems);
    diagnostics.errors(problems);
    bundles
}

/// `table` with a `fill` value for each source added after it was made (the bundles).
fn resized<T: Clone>(mut table: Vec<T>, n: usize, fill: T) -> Vec<T> {
    table.resize(n, fill);
    table
}

//! The whole run, one module per stage, in the order the data flows through them:
//! [`scan`] (sources, bundles, what the last run lets stand) -> [`transform`] (cached, in
//! parallel) -> [`resolve`] (the reference graph) -> [`finish`] (hashed in dependency order,
//! names filled in by [`fill`]) -> [`compress`] (cached, in parallel) -> [`write`] (manifest,
//! output tree, run state). Every stage reports into one [`Diagnostics`].

mod compress;
mod diagnostics;
mod fill;
mod finish;
mod parallel;
mod resolve;
mod scan;
mod transform;
mod write;

use std::time::{Duration, Instant};

use crate::cache::Cache;
use crate::config::Config;
use crate::error::{Problem, Result};
use asset_manifest::Manifest;

use diagnostics::Diagnostics;

/// What a run produced.
#[derive(Debug)]
pub struct Output {
    /// The manifest written with the output tree.
    pub manifest: Manifest,
    /// Problems that did not fail the build (missing source maps, `missing = "warn"`).
    pub warnings: Vec<Problem>,
    /// What the run did, and how long each stage took.
    pub stats: Stats,
}

/// Counts and timings of a run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Files in the asset directory.
    pub files: usize,
    /// CSS/JS files transformed in this run, and those taken from the cache.
    pub transformed: usize,
    /// CSS/JS files whose transform came from the cache.
    pub transform_cached: usize,
    /// Variants compressed in this run, and those taken from the cache.
    pub compressed: usize,
    /// Variants that came from the cache.
    pub compress_cached: usize,
    /// Unchanged files whose outputs of the last run stand (not read, not hashed).
    pub reused: usize,
    /// Bytes of the sources.
    pub bytes_in: u64,
    /// Bytes of the files shipped (variants not counted).
    pub bytes_out: u64,
    /// Wall time of each stage.
    pub stages: Vec<(&'static str, Duration)>,
}

/// Runs the pipeline over `config.source`, writing into `config.out`: scan, transform,
/// resolve, hash, compress, then the manifest and the output tree.
///
/// # Errors
/// [`Error::Assets`](crate::Error::Assets) with every broken asset found; I/O errors on the
/// trees.
pub fn run(config: &Config) -> Result<Output> {
    let cache = Cache::new(config.cache_dir.as_deref());
    let mut diagnostics = Diagnostics::default();
    let mut stages = Stopwatch::start();
    let scanned = scan::scan_sources(config, &mut diagnostics)?;
    stages.lap("scan");
    let transformed = transform::transform_sources(config, &cache, &scanned);
    let (transformed_count, transform_cached) = (transformed.transformed, transformed.cached);
    stages.lap("transform");
    let graph = resolve::resolve(config, &scanned, transformed, &mut diagnostics);
    let finished = finish::hash_in_order(config, &scanned, &graph, &mut diagnostics);
    stages.lap("hash");
    if !config.ship_bundle_parts {
        graph.refs_to_unshipped_parts(&scanned, &mut diagnostics);
    }
    let warnings = diagnostics.into_warnings()?;
    let shipped = finished.shipped(config, &scanned);
    let compressed = compress::compress_all(config, &cache, shipped);
    let (compressed_count, compress_cached) = (compressed.compressed, compressed.cached);
    stages.lap("compress");
    let manifest = write::write_output(config, &scanned, &compressed)?;
    if warnings.is_empty() {
        write::save_state(&scanned, &graph, &manifest);
    }
    stages.lap("write");
    let stats = Stats {
        files: scanned.files,
        transformed: transformed_count,
        transform_cached,
        compressed: compressed_count,
        compress_cached,
        reused: scanned.reused(),
        bytes_in: scanned.bytes_in,
        bytes_out: manifest.assets.values().map(|e| e.size).sum(),
        stages: stages.laps,
    };
    Ok(Output {
        manifest,
        warnings,
        stats,
    })
}

/// The wall time of each stage, one lap per stage.
struct Stopwatch {
    clock: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl Stopwatch {
    fn start() -> Stopwatch {
        Stopwatch {
            clock: Instant::now(),
            laps: Vec::new(),
        }
    }

    /// Ends the lap of stage `name` and starts the next.
    fn lap(&mut self, name: &'static str) {
        self.laps.push((name, self.clock.elapsed()));
        self.clock = Instant::now();
    }
}

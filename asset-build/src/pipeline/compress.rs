//! Stage 5: the precompressed variants (brotli, gzip) of every compressible file that is not
//! reused, through the cache, in parallel, largest first; a variant is kept only where it
//! is smaller.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::finish::ShippedFile;
use super::parallel::parallel;
use crate::cache::{self, Cache};
use asset_manifest::Encoding;

use crate::compress;
use crate::config::Config;
use crate::scan;

/// One precompressed variant of a shipped file.
pub(super) struct Encoded {
    /// Its content coding (`br`, `gzip`).
    pub(super) encoding: Encoding,
    /// Its path in the output tree: the file's hashed path plus the encoding's extension.
    pub(super) path: String,
    pub(super) bytes: Vec<u8>,
}

/// A shipped file with its variants, in the manifest's order.
pub(super) struct CompressedFile {
    pub(super) shipped: ShippedFile,
    pub(super) variants: Vec<Encoded>,
}

/// Stage 5's output: every shipped file, in order, with its variants; and how many variants
/// were made or taken from the cache.
pub(super) struct Compressed {
    pub(super) files: Vec<CompressedFile>,
    pub(super) compressed: usize,
    pub(super) cached: usize,
}

/// One variant to make: file `file` of the shipped list, at `level`.
struct Job {
    file: usize,
    encoding: Encoding,
    level: u32,
}

/// Compresses every shipped file that is compressible and not reused, in every encoding the
/// settings ask for.
pub(super) fn compress_all(
    config: &Config,
    cache: &Cache,
    shipped: Vec<ShippedFile>,
) -> Compressed {
    let mut jobs: Vec<Job> = Vec::new();
    for (file, s) in shipped.iter().enumerate() {
        if s.reused || !scan::content_type(&s.logical).1 {
            continue;
        }
        if let Some(level) = config.brotli_for(&s.logical, s.file.bytes.len()) {
            jobs.push(Job {
                file,
                encoding: Encoding::Br,
                level,
            });
        }
        if let Some(level) = config.gzip {
            jobs.push(Job {
                file,
                encoding: Encoding::Gzip,
                level,
            });
        }
    }
    jobs.sort_by_key(|j| {
        (
            std::cmp::Reverse(shipped[j.file].file.bytes.len()),
            j.encoding,
        )
    });
    let hits = AtomicUsize::new(0);
    let made = parallel(&jobs, config.jobs, |job| {
        let (v, hit) = through_cache(cache, job, &shipped[job.file]);
        if hit {
            hits.fetch_add(1, Ordering::Relaxed);
        }
        v
    });
    let cached = hits.load(Ordering::Relaxed);
    let mut files: Vec<CompressedFile> = shipped
        .into_iter()
        .map(|shipped| CompressedFile {
            shipped,
            variants: Vec::new(),
        })
        .collect();
    for (job, bytes) in jobs.iter().zip(made) {
        let Some(bytes) = bytes else { continue };
        let f = &mut files[job.file];
        f.variants.push(Encoded {
            encoding: job.encoding,
            path: job.encoding.variant_path(&f.shipped.file.hashed),
            bytes,
        });
    }
    for f in &mut files {
        f.variants.sort_by_key(|v| v.encoding);
    }
    Compressed {
        compressed: jobs.len() - cached,
        cached,
        files,
    }
}

/// The variant `job` makes of `shipped`, from the cache or made and kept (`None`: not
/// smaller); and whether it was a hit.
fn through_cache(cache: &Cache, job: &Job, shipped: &ShippedFile) -> (Option<Vec<u8>>, bool) {
    let f = &shipped.file;
    let key = cache::key(
        job.encoding.as_str(),
        &[
            compress::encoder(job.encoding).as_bytes(),
            job.level.to_string().as_bytes(),
            f.sha256.as_bytes(),
        ],
    );
    if let Some(v) = cache.get(&key) {
        return ((!v.is_empty()).then_some(v), true);
    }
    let v = compress::compress(job.encoding, &f.bytes, job.level);
    // An empty entry records "not smaller", so that is not tried again either.
    cache.put(&key, v.as_deref().unwrap_or_default());
    (v, false)
}

//! Stage 2: every changed CSS and JS file transformed (lightningcss, swc; Sass compiled
//! first) through the content cache, in parallel, then the bundles of one ES module.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::parallel::parallel;
use super::scan::{PerSource, Scanned, SourceId};
use crate::bundle::Bundle;
use crate::cache::{self, Cache};
use crate::config::Config;
use crate::error::Problem;
use crate::error::ProblemKind;
use crate::scan::{Kind, Lang, Source};
use crate::transform::Transformed;

/// What the transform made of one source.
pub(super) enum FileOutcome {
    /// Nothing to transform: shipped as written, or unchanged since the last run.
    Untouched,
    Transformed(Transformed),
    Failed(Problem),
}

/// Stage 2's output: each source's outcome, and how many were made or taken from the cache
/// (bundles of one ES module not counted).
pub(super) struct TransformOutcome {
    pub(super) files: PerSource<FileOutcome>,
    pub(super) transformed: usize,
    pub(super) cached: usize,
}

/// A transform's result before it is an outcome: `None` where there is nothing to transform.
type TransformResult = Option<Result<Transformed, Problem>>;

impl From<TransformResult> for FileOutcome {
    fn from(result: TransformResult) -> FileOutcome {
        match result {
            None => FileOutcome::Untouched,
            Some(Ok(t)) => FileOutcome::Transformed(t),
            Some(Err(p)) => FileOutcome::Failed(p),
        }
    }
}

/// Transforms every changed CSS and JS file (through the cache), then the bundles of one
/// ES module.
pub(super) fn transform_sources(
    config: &Config,
    cache: &Cache,
    scanned: &Scanned,
) -> TransformOutcome {
    let mut outcome = transform_files(config, cache, scanned);
    bundle_modules(config, cache, scanned, &mut outcome.files);
    outcome
}

/// Transforms every changed CSS and JS file, largest first so that no big file starts last.
fn transform_files(config: &Config, cache: &Cache, scanned: &Scanned) -> TransformOutcome {
    let fingerprint = config.transform_fingerprint();
    let hits = AtomicUsize::new(0);
    let with_hashes: Vec<(&Source, &Option<String>)> = scanned
        .sources
        .iter()
        .zip(scanned.source_hashes.iter())
        .collect();
    let results: Vec<TransformResult> = parallel(&with_hashes, config.jobs, |&(s, hash)| {
        // Files shipped as written (and unchanged ones) have nothing to transform.
        let hash = hash.as_deref().filter(|_| s.kind.is_transformed())?;
        let kind_tag = format!("{:?}", s.kind);
        let key = cache::key(
            "transform",
            &[
                kind_tag.as_bytes(),
                s.logical.as_bytes(),
                fingerprint.as_bytes(),
                hash.as_bytes(),
            ],
        );
        let (result, hit) = through_cache(cache, &key, || {
            let result = guarded(&s.display, || transform_one(&s.logical, s, config))?;
            Some(result.map_err(|p| relocate(p, &s.logical, &s.display)))
        });
        if hit {
            hits.fetch_add(1, Ordering::Relaxed);
        }
        result
    });
    let cached = hits.load(Ordering::Relaxed);
    TransformOutcome {
        transformed: results.iter().flatten().count() - cached,
        cached,
        files: results.into_iter().map(FileOutcome::from).collect(),
    }
}

/// Bundles of one ES module: the module with its static imports joined (`esm`), then
/// transformed like any module, through the cache (a hit stands while every file read has
/// the bytes it had). Its outcome is then an ordinary module's, at the bundle's place.
fn bundle_modules(
    config: &Config,
    cache: &Cache,
    scanned: &Scanned,
    files: &mut PerSource<FileOutcome>,
) {
    let modules: BTreeSet<String> = scanned
        .sources
        .iter()
        .filter(|s| matches!(s.kind, Kind::Js(_)) && !s.bytes.is_empty())
        .map(|s| s.logical.clone())
        .collect();
    let fingerprint = config.transform_fingerprint();
    for b in &scanned.bundles {
        let &[entry] = b.parts.as_slice() else {
            continue;
        };
        let entry = SourceId(entry);
        let is_module = matches!(&files[entry],
            FileOutcome::Transformed(t) if t.script.is_some_and(|s| s.module));
        let Some(hash) = scanned.source_hashes[entry]
            .as_deref()
            .filter(|_| is_module)
        else {
            continue;
        };
        let (name, part) = (
            &scanned.sources[SourceId(b.at)].logical,
            &scanned.sources[entry].logical,
        );
        let key = cache::key(
            "module-bundle",
            &[
                name.as_bytes(),
                part.as_bytes(),
                fingerprint.as_bytes(),
                hash.as_bytes(),
            ],
        );
        let display = &scanned.sources[SourceId(b.at)].display;
        let make = || {
            guarded(display, || {
                Some(bundle_module(config, scanned, b, &modules))
            })
        };
        files[SourceId(b.at)] = through_cache(cache, &key, make).0.into();
    }
}

/// Bundle `b` of one ES module (its only part), joined with the modules it imports
/// statically and transformed.
fn bundle_module(
    config: &Config,
    scanned: &Scanned,
    b: &Bundle,
    modules: &BTreeSet<String>,
) -> Result<Transformed, Problem> {
    let bundle = &scanned.sources[SourceId(b.at)];
    let part = &scanned.sources[SourceId(b.parts[0])].logical;
    let name = &bundle.logical;
    let bundled = crate::esm::bundle(name, part, modules, config)?;
    let mut t = crate::js::transform(name, bundled.code.as_bytes(), Some(true), config)?;
    // The minified module's map leads to the joined text; followed through the joined text's
    // own map, it leads to the modules.
    if let (Some(outer), Some(inner)) = (&t.map, &bundled.map) {
        let chained = crate::bundle::chain_maps(outer, inner).map_err(|e| {
            Problem::new(
                bundle.display.clone(),
                None,
                ProblemKind::Syntax {
                    message: format!("source map: {e}"),
                },
            )
        })?;
        t.map = Some(chained);
    }
    t.inputs = bundled.inputs;
    Ok(t)
}

/// A transform's result from the cache (a hit stands while every file it read besides its
/// source has the bytes it had), or made by `make` and kept; and whether it was a hit.
fn through_cache(
    cache: &Cache,
    key: &str,
    make: impl FnOnce() -> TransformResult,
) -> (TransformResult, bool) {
    if let Some(t) = cache
        .get(key)
        .and_then(|b| serde_json::from_slice::<Transformed>(&b).ok())
        .filter(Transformed::inputs_unchanged)
    {
        return (Some(Ok(t)), true);
    }
    let result = make();
    if let Some(Ok(t)) = &result {
        cache.put(
            key,
            &serde_json::to_vec(t).expect("transform result serializes"),
        );
    }
    (result, false)
}

/// Runs the transform for the file's kind (other kinds have none). `name` is the name the
/// tools and messages use for the file. (Here, not in `crate::transform`: that module is the
/// interface the CSS and JS transforms share, and depends on neither.)
fn transform_one(name: &str, source: &Source, config: &Config) -> TransformResult {
    match (source.kind, source.lang) {
        (Kind::Css, Lang::Sass) => Some(sass_to_css(name, source, config)),
        (Kind::Css, _) => Some(crate::css::transform(name, &source.bytes, config)),
        (Kind::Js(script), _) => Some(crate::js::transform(
            name,
            &source.bytes,
            script.module(),
            config,
        )),
        (Kind::SourceMap | Kind::Other, _) => None,
    }
}

/// A Sass entry compiled (grass), then transformed like any stylesheet. Its references
/// resolve from the entry's place, as Sass writes them; each is reported at the entry's
/// line where its text stands there. The partials it read are its inputs.
fn sass_to_css(name: &str, source: &Source, config: &Config) -> Result<Transformed, Problem> {
    let path = config.source.join(name);
    let compiled =
        crate::sass::compile(&source.display, &path, &config.source, &config.load_paths)?;
    let mut t = crate::css::transform(name, compiled.css.as_bytes(), config)?;
    let text = String::from_utf8_lossy(&source.bytes);
    for r in &mut t.refs {
        r.pos = text
            .find(r.spec.as_str())
            .map_or(crate::error::Pos::START, |at| {
                crate::error::pos_of(text.as_bytes(), at)
            });
    }
    t.inputs = compiled.inputs;
    Ok(t)
}

/// The problem, about the file as the user names it (a transform names it by its logical
/// path; a problem in another file, such as a Sass partial, already names that file).
fn relocate(mut p: Problem, logical: &str, display: &str) -> Problem {
    let own = matches!(
        p.kind,
        ProblemKind::Syntax { .. } | ProblemKind::BadFile { .. }
    );
    if own && p.path == logical {
        display.clone_into(&mut p.path);
    }
    p
}

/// Runs `f`, turning a panic into a problem with the file instead of a crash.
fn guarded<T>(
    display: &str,
    f: impl FnOnce() -> Option<Result<T, Problem>>,
) -> Option<Result<T, Problem>> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Some(Err(Problem::new(
            display.to_owned(),
            None,
            ProblemKind::Syntax {
                message:
                    "internal error while transforming this file (please report it with the file)"
                        .into(),
            },
        ))),
    }
}

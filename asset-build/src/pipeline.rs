//! The whole run: scan -> transform (cached, in parallel) -> resolve references -> hash in
//! dependency order -> compress (cached, in parallel) -> manifest -> write the output tree.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::bundle::{self, Bundle};
use crate::cache::{self, Cache};
use crate::compress::{self, Encoding};
use crate::config::{Config, CssImports, Missing};
use crate::error::{Error, Problem, Result};
use crate::graph;
use crate::hash;
use crate::manifest::{Entry, Manifest, Variant};
use crate::refs::{self, Class};
use crate::scan::{self, Kind, Lang, Source};
use crate::sourcemap::Edit;
use crate::state::{self, Stamp, State};
use crate::transform::{Ref, RefKind, Transformed};

/// What a run produced.
#[derive(Debug)]
pub struct Output {
    pub manifest: Manifest,
    /// Problems that did not fail the build (missing source maps, `missing = "warn"`).
    pub warnings: Vec<Problem>,
    pub stats: Stats,
}

/// Counts and timings of a run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub files: usize,
    /// CSS/JS files transformed in this run, and those taken from the cache.
    pub transformed: usize,
    pub transform_cached: usize,
    /// Variants compressed in this run, and those taken from the cache.
    pub compressed: usize,
    pub compress_cached: usize,
    /// Unchanged files whose outputs of the last run stand (not read, not hashed).
    pub reused: usize,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Wall time of each stage.
    pub stages: Vec<(&'static str, Duration)>,
}

/// Where a reference goes.
#[derive(Debug, Clone)]
enum Target {
    /// Left as written.
    Keep,
    /// Another asset, plus the `?query#fragment` kept after it.
    Asset(usize, String),
}

/// A file's shipped bytes and name.
#[derive(Debug, Clone)]
struct Final {
    hashed: String,
    bytes: Vec<u8>,
    sha256: String,
}

/// Runs the pipeline over `config.source`, writing into `config.out`: scan, transform,
/// resolve, hash, compress, then the manifest and the output tree.
///
/// # Errors
/// [`Error::Assets`] with every broken asset found; I/O errors on the trees.
pub fn run(config: &Config) -> Result<Output> {
    let mut stats = Stats::default();
    let cache = Cache::new(config.cache_dir.as_deref());
    let mut clock = Instant::now();
    let mut lap = |stats: &mut Stats, name: &'static str| {
        stats.stages.push((name, clock.elapsed()));
        clock = Instant::now();
    };
    let mut scanned = scan_sources(config, &mut stats)?;
    let mut problems = std::mem::take(&mut scanned.problems);
    let bundles = plan_bundles(config, &mut scanned, &mut problems);
    lap(&mut stats, "scan");
    let mut transformed = transform_sources(config, &cache, &scanned, &mut stats);
    bundle_modules(config, &cache, &scanned, &bundles, &mut transformed);
    lap(&mut stats, "transform");
    let sources = &scanned.sources;
    let index: HashMap<&str, usize> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.logical.as_str(), i))
        .collect();
    let mut graph = resolve(config, sources, &index, transformed, &mut problems);
    let joined = add_bundle_nodes(&bundles, sources, &mut graph);
    let ctx = Finisher {
        sources,
        nodes: &graph.nodes,
        config,
        index: &index,
        bundles: joined,
    };
    let (finals, extras) = hash_in_order(
        &ctx,
        &scanned,
        &graph.edges,
        &mut graph.broken,
        &mut problems,
    );
    lap(&mut stats, "hash");
    if !config.ship_bundle_parts {
        refs_to_unshipped_parts(&bundles, &ctx, &mut problems);
    }
    if !problems.is_empty() {
        return Err(all_problems(problems));
    }
    let all = shipped(config, sources, &bundles, finals, extras);
    let variants = compress_all(config, &cache, &all, &scanned.clean, &mut stats);
    lap(&mut stats, "compress");
    let manifest = write_output(config, &scanned, &index, &all, variants, &mut stats)?;
    if graph.warnings.is_empty() {
        save_state(&scanned, &graph.edges, &manifest);
    }
    lap(&mut stats, "write");
    Ok(Output {
        manifest,
        warnings: graph.warnings,
        stats,
    })
}

/// With parts shipped only inside their bundles, a reference to a part from anything else
/// would point at nothing: a problem at the reference.
fn refs_to_unshipped_parts(bundles: &[Bundle], ctx: &Finisher, problems: &mut Vec<Problem>) {
    let parts: std::collections::HashSet<usize> = bundles
        .iter()
        .flat_map(|b| b.parts.iter().copied())
        .collect();
    for (i, node) in ctx.nodes.iter().enumerate() {
        let Some((t, targets)) = node else { continue };
        if parts.contains(&i) || ctx.bundles.contains_key(&i) {
            continue;
        }
        for (r, target) in t.refs.iter().zip(targets) {
            if let Target::Asset(j, _) = target
                && parts.contains(j)
            {
                problems.push(Problem::BadFile {
                    path: ctx.sources[i].display.clone(),
                    pos: Some(r.pos),
                    message: format!(
                        "{} `{}` names `{}`, which ships only inside its bundle (refer to the bundle, or set ship-bundle-parts = true)",
                        r.kind.describe(),
                        r.spec,
                        ctx.sources[*j].logical
                    ),
                });
            }
        }
    }
}

/// Every problem of the run, in a stable order, once each.
fn all_problems(mut problems: Vec<Problem>) -> Error {
    problems.sort_by(|a, b| {
        a.path()
            .cmp(b.path())
            .then_with(|| a.to_string().cmp(&b.to_string()))
    });
    problems.dedup();
    Error::Assets(problems)
}

/// What ships: every finished source and generated map, less the parts shipped only inside
/// their bundles. (Trees with bundles are never reused, so no reused index shifts.)
fn shipped(
    config: &Config,
    sources: &[Source],
    bundles: &[Bundle],
    finals: Vec<Option<Final>>,
    extras: Vec<(String, Final)>,
) -> Vec<(String, Final)> {
    let dropped: std::collections::HashSet<&str> = bundles
        .iter()
        .filter(|_| !config.ship_bundle_parts)
        .flat_map(|b| b.parts.iter().map(|&j| sources[j].logical.as_str()))
        .collect();
    sources
        .iter()
        .zip(finals)
        .map(|(s, f)| {
            (
                s.logical.clone(),
                f.expect("every unbroken file is finished"),
            )
        })
        .chain(extras)
        .filter(|(logical, _)| {
            let source = logical.strip_suffix(".map").unwrap_or(logical);
            !dropped.contains(logical.as_str()) && !dropped.contains(source)
        })
        .collect()
}

/// What scanning found: the sources (unchanged ones unread), what the last run's state lets
/// stand, and each read file's sha256.
struct Scanned {
    started: i128,
    sources: Vec<Source>,
    problems: Vec<Problem>,
    settings: String,
    state_path: Option<std::path::PathBuf>,
    stamps: Option<BTreeMap<String, Stamp>>,
    reuse: Option<state::Reuse>,
    /// Per source: its last run's output stands.
    clean: Vec<bool>,
    /// One sha256 of each file read: its transform cache key, its name when it ships as
    /// written, and its entry in the run state.
    source_hashes: Vec<Option<String>>,
}

fn scan_sources(config: &Config, stats: &mut Stats) -> Result<Scanned> {
    let started = state::now_ns();
    let (mut files, mut problems) = scan::list(&config.source)?;
    // Sass partials are read by the entries that use them, TypeScript declarations only by
    // the type checker: neither ships.
    files.retain(|(logical, _)| !scan::is_input_only(logical));
    // Sass entries depend on files that are not sources, and bundles on other sources'
    // outputs: such trees are processed whole, through the content cache.
    let derived = !config.bundles.is_empty() || files.iter().any(|(l, _)| crate::sass::is_sass(l));
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
            if problems.is_empty() && config.css_imports == CssImports::Keep && !derived =>
        {
            State::load(path).and_then(|s| s.reuse(&settings, stamps, &config.source, &config.out))
        }
        _ => None,
    };
    let is_clean = |l: &str| reuse.as_ref().is_some_and(|r| r.clean.contains(l));
    let (sources, read_problems) =
        scan::read(&config.source, files, config.allow_empty, &is_clean)?;
    problems.extend(read_problems);
    let clean: Vec<bool> = sources.iter().map(|s| is_clean(&s.logical)).collect();
    let source_hashes: Vec<Option<String>> = parallel(&sources, config.jobs, |s| {
        (!is_clean(&s.logical)).then(|| hash::sha256_hex(&s.bytes))
    });
    stats.files = sources.len();
    stats.reused = clean.iter().filter(|&&c| c).count();
    stats.bytes_in = sources
        .iter()
        .map(
            |s| match stamps.as_ref().and_then(|st| st.get(&s.logical)) {
                Some(stamp) if is_clean(&s.logical) => stamp.size(),
                _ => s.bytes.len() as u64,
            },
        )
        .sum();
    Ok(Scanned {
        started,
        sources,
        problems,
        settings,
        state_path,
        stamps,
        reuse,
        clean,
        source_hashes,
    })
}

/// The bundles of the settings, each added as a source of its own (never read: its text is
/// joined from its parts' when they are finished).
fn plan_bundles(
    config: &Config,
    scanned: &mut Scanned,
    problems: &mut Vec<Problem>,
) -> Vec<Bundle> {
    let bundles = bundle::plan(&config.bundles, &mut scanned.sources, problems);
    let n = scanned.sources.len();
    scanned.clean.resize(n, false);
    scanned.source_hashes.resize(n, None);
    bundles
}

/// Bundles of one ES module: the module with its static imports joined (`esm`), then
/// transformed like any module, through the cache (a hit stands while every file read has
/// the bytes it had). Its node is then an ordinary module's, at the bundle's place.
fn bundle_modules(
    config: &Config,
    cache: &Cache,
    scanned: &Scanned,
    bundles: &[Bundle],
    transformed: &mut [TransformResult],
) {
    let sources = &scanned.sources;
    let modules: std::collections::BTreeSet<String> = sources
        .iter()
        .filter(|s| matches!(s.kind, Kind::Js(_)) && !s.bytes.is_empty())
        .map(|s| s.logical.clone())
        .collect();
    let fingerprint = config.transform_fingerprint();
    for b in bundles {
        let &[entry] = b.parts.as_slice() else {
            continue;
        };
        let is_module =
            matches!(&transformed[entry], Some(Ok(t)) if t.script.is_some_and(|s| s.module));
        let Some(hash) = scanned.source_hashes[entry]
            .as_deref()
            .filter(|_| is_module)
        else {
            continue;
        };
        let (name, part) = (&sources[b.at].logical, &sources[entry].logical);
        let key = cache::key(
            "module-bundle",
            &[
                name.as_bytes(),
                part.as_bytes(),
                fingerprint.as_bytes(),
                hash.as_bytes(),
            ],
        );
        let make = || {
            let bundled = crate::esm::bundle(name, part, &modules, config)?;
            let mut t = crate::js::transform(name, bundled.code.as_bytes(), Some(true), config)?;
            // The minified module's map leads to the joined text; followed through the
            // joined text's own map, it leads to the modules.
            if let (Some(outer), Some(inner)) = (&t.map, &bundled.map) {
                let chained =
                    crate::bundle::chain_maps(outer, inner).map_err(|e| Problem::Syntax {
                        path: sources[b.at].display.clone(),
                        pos: None,
                        message: format!("source map: {e}"),
                    })?;
                t.map = Some(chained);
            }
            t.inputs = bundled.inputs;
            Ok(t)
        };
        let display = &sources[b.at].display;
        transformed[b.at] = through_cache(cache, &key, || guarded(display, || Some(make()))).0;
    }
}

/// Each joined bundle's node: one reference per part, in order (so the parts are finished
/// first). (A bundle of one ES module already has its node: `bundle_modules`.) Returns the
/// joined bundles' parts by bundle.
fn add_bundle_nodes(
    bundles: &[Bundle],
    sources: &[Source],
    g: &mut Resolved,
) -> HashMap<usize, Vec<usize>> {
    let mut joined = HashMap::new();
    for b in bundles {
        if g.nodes[b.at].is_some() || g.broken[b.at] {
            continue;
        }
        joined.insert(b.at, b.parts.clone());
        let refs = b
            .parts
            .iter()
            .map(|&j| Ref {
                placeholder: String::new(),
                spec: sources[j].logical.clone(),
                kind: RefKind::Part,
                pos: crate::error::Pos::START,
                media: None,
                supports: None,
                layer: None,
            })
            .collect();
        let targets = b
            .parts
            .iter()
            .map(|&j| Target::Asset(j, String::new()))
            .collect();
        g.nodes[b.at] = Some((
            Transformed {
                refs,
                ..Default::default()
            },
            targets,
        ));
        g.edges[b.at] = b.parts.clone();
        g.edges[b.at].sort_unstable();
        g.edges[b.at].dedup();
    }
    joined
}

type TransformResult = Option<std::result::Result<Transformed, Problem>>;

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

/// Transforms every changed CSS and JS file (through the cache), largest first so that no
/// big file starts last.
fn transform_sources(
    config: &Config,
    cache: &Cache,
    scanned: &Scanned,
    stats: &mut Stats,
) -> Vec<TransformResult> {
    let fingerprint = config.transform_fingerprint();
    let hits = AtomicUsize::new(0);
    let with_hashes: Vec<(&Source, &Option<String>)> =
        scanned.sources.iter().zip(&scanned.source_hashes).collect();
    let transformed: Vec<TransformResult> = parallel(&with_hashes, config.jobs, |&(s, hash)| {
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
    stats.transform_cached = hits.load(Ordering::Relaxed);
    stats.transformed = transformed.iter().flatten().count() - stats.transform_cached;
    transformed
}

/// Runs the transform for the file's kind (other kinds have none). `name` is the name the
/// tools and messages use for the file. (Here, not in `transform`: that module is the
/// interface the CSS and JS transforms share, and depends on neither.)
fn transform_one(
    name: &str,
    source: &Source,
    config: &Config,
) -> Option<std::result::Result<Transformed, Problem>> {
    match (source.kind, source.lang) {
        (Kind::Css, Lang::Sass) => Some(sass_to_css(name, source, config)),
        (Kind::Css, _) => Some(crate::css::transform(name, &source.bytes, config)),
        (Kind::Js(module), _) => Some(crate::js::transform(name, &source.bytes, module, config)),
        (Kind::SourceMap | Kind::Other, _) => None,
    }
}

/// A Sass entry compiled (grass), then transformed like any stylesheet. Its references
/// resolve from the entry's place, as Sass writes them; each is reported at the entry's
/// line where its text stands there. The partials it read are its inputs.
fn sass_to_css(
    name: &str,
    source: &Source,
    config: &Config,
) -> std::result::Result<Transformed, Problem> {
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

/// The reference graph: each transformed file with the target of each reference.
struct Resolved {
    nodes: Vec<Option<(Transformed, Vec<Target>)>>,
    edges: Vec<Vec<usize>>,
    broken: Vec<bool>,
    warnings: Vec<Problem>,
}

/// Resolves every reference to another asset (or keeps it as written); problems for
/// references that escape the root or point at nothing.
fn resolve(
    config: &Config,
    sources: &[Source],
    index: &HashMap<&str, usize>,
    transformed: Vec<TransformResult>,
    problems: &mut Vec<Problem>,
) -> Resolved {
    let mut g = Resolved {
        nodes: Vec::with_capacity(sources.len()),
        edges: vec![Vec::new(); sources.len()],
        broken: vec![false; sources.len()],
        warnings: Vec::new(),
    };
    for (i, (src, t)) in sources.iter().zip(transformed).enumerate() {
        let t = match t {
            None => {
                g.nodes.push(None);
                continue;
            }
            Some(Err(p)) => {
                problems.push(p);
                g.broken[i] = true;
                g.nodes.push(None);
                continue;
            }
            Some(Ok(t)) => t,
        };
        g.warnings
            .extend(t.warnings.iter().map(|w| dropped(src, w)));
        let targets: Vec<Target> = t
            .refs
            .iter()
            .map(|r| resolve_ref(config, src, index, r, i, &mut g, problems))
            .collect();
        g.edges[i].sort_unstable();
        g.edges[i].dedup();
        g.nodes.push(Some((t, targets)));
    }
    if config.css_imports == CssImports::Inline {
        warn_inlined_in_place(sources, &g.nodes, &mut g.warnings);
    }
    g
}

/// A transform's warning as a problem of the source; for Sass, whose positions are in the
/// compiled CSS, with that line named in the message.
fn dropped(src: &Source, w: &crate::transform::Warning) -> Problem {
    match w.pos {
        Some(p) if crate::sass::is_sass(&src.logical) => Problem::Dropped {
            path: src.display.clone(),
            pos: None,
            message: format!("line {} of the compiled CSS: {}", p.line, w.message),
        },
        pos => Problem::Dropped {
            path: src.display.clone(),
            pos,
            message: w.message.clone(),
        },
    }
}

/// The target of reference `r` of source `i`, recording the edge or the problem.
fn resolve_ref(
    config: &Config,
    src: &Source,
    index: &HashMap<&str, usize>,
    r: &Ref,
    i: usize,
    g: &mut Resolved,
    problems: &mut Vec<Problem>,
) -> Target {
    let class = if r.kind == RefKind::JsImport {
        refs::classify_js(&r.spec)
    } else {
        refs::classify(&r.spec)
    };
    let Class::Relative { path, suffix } = class else {
        return Target::Keep;
    };
    let Some(target) = refs::resolve(&src.logical, &path) else {
        problems.push(Problem::Escapes {
            path: src.display.clone(),
            pos: r.pos,
            kind: r.kind.describe(),
            reference: r.spec.clone(),
        });
        g.broken[i] = true;
        return Target::Keep;
    };
    let found = match find_target(index, &target, r) {
        Ok(found) => found,
        Err(message) => {
            problems.push(Problem::Syntax {
                path: src.display.clone(),
                pos: Some(r.pos),
                message,
            });
            g.broken[i] = true;
            return Target::Keep;
        }
    };
    if let Some(j) = found {
        g.edges[i].push(j);
        return Target::Asset(j, suffix.to_owned());
    }
    let p = Problem::MissingTarget {
        path: src.display.clone(),
        pos: r.pos,
        kind: r.kind.describe(),
        reference: r.spec.clone(),
        target: scan::display_path(&config.source, &target),
    };
    if r.kind == RefKind::SourceMap || config.missing == Missing::Warn {
        g.warnings.push(p);
    } else {
        problems.push(p);
        g.broken[i] = true;
    }
    Target::Keep
}

/// The asset at `target`, or for an ES import, the one file TypeScript's import forms name
/// (`./x.js` for `x.ts`, extensionless); more than one is an error.
fn find_target(
    index: &HashMap<&str, usize>,
    target: &str,
    r: &Ref,
) -> std::result::Result<Option<usize>, String> {
    if let Some(&j) = index.get(target) {
        return Ok(Some(j));
    }
    if r.kind != RefKind::JsImport {
        return Ok(None);
    }
    let candidates: Vec<(&str, usize)> = refs::import_candidates(target)
        .into_iter()
        .filter_map(|c| index.get_key_value(c.as_str()).map(|(k, &j)| (*k, j)))
        .collect();
    match candidates.as_slice() {
        [] => Ok(None),
        [(_, j)] => Ok(Some(*j)),
        many => {
            let names: Vec<String> = many.iter().map(|(k, _)| format!("`{k}`")).collect();
            Err(format!(
                "import `{}` could name {}: write the file's extension",
                r.spec,
                names.join(" or ")
            ))
        }
    }
}

/// Names every file after its dependencies (transform, then hash): unchanged files keep
/// their names, a CSS cycle is a problem, an ES-module cycle shares one hash. Returns each
/// source's final form and the generated extras (source maps).
fn hash_in_order(
    ctx: &Finisher,
    scanned: &Scanned,
    edges: &[Vec<usize>],
    broken: &mut [bool],
    problems: &mut Vec<Problem>,
) -> (Vec<Option<Final>>, Vec<(String, Final)>) {
    let sources = ctx.sources;
    let mut finals: Vec<Option<Final>> = vec![None; sources.len()];
    let mut extras: Vec<(String, Final)> = Vec::new();
    for comp in graph::components(edges) {
        // An unchanged file keeps its name (nothing it refers to changed either).
        if let (&[i], Some(r)) = (comp.as_slice(), &scanned.reuse)
            && scanned.clean[i]
        {
            let e = &r.manifest.assets[&sources[i].logical];
            finals[i] = Some(Final {
                hashed: e.path.clone(),
                bytes: Vec::new(),
                sha256: e.sha256.clone(),
            });
            continue;
        }
        if comp
            .iter()
            .any(|&i| broken[i] || edges[i].iter().any(|&j| broken[j]))
        {
            comp.iter().for_each(|&i| broken[i] = true);
            continue;
        }
        let cyclic = comp.len() > 1 || edges[comp[0]].contains(&comp[0]);
        let result = if !cyclic {
            let i = comp[0];
            finish_one(ctx, scanned, i, &finals, &mut extras).map(|f| finals[i] = Some(f))
        } else if comp
            .iter()
            .any(|&i| !matches!(sources[i].kind, Kind::Js(_)))
        {
            let cycle = graph::cycle_in(&comp, edges)
                .into_iter()
                .map(|i| sources[i].display.clone())
                .collect();
            Err(Problem::Cycle { cycle })
        } else {
            // ES modules may import each other in a cycle: one hash names the whole cycle.
            ctx.finish_cycle(&comp, &mut finals, &mut extras)
        };
        if let Err(p) = result {
            problems.push(p);
            comp.iter().for_each(|&i| broken[i] = true);
        }
    }
    (finals, extras)
}

/// The final form of a file outside any cycle: its filled-in text, or its bytes as written.
fn finish_one(
    ctx: &Finisher,
    scanned: &Scanned,
    i: usize,
    finals: &[Option<Final>],
    extras: &mut Vec<(String, Final)>,
) -> std::result::Result<Final, Problem> {
    let src = &ctx.sources[i];
    if let Some(parts) = ctx.bundles.get(&i) {
        return ctx.finish_bundle(i, parts, finals, extras);
    }
    match &ctx.nodes[i] {
        Some(_) => {
            let (text, edits) = ctx.text(i, &src.logical, finals, &mut Vec::new());
            let map = ctx.adjusted_map(i, &edits)?;
            ctx.finish(i, text, map, None, extras)
        }
        None => Ok(Final::named(
            &src.logical,
            src.bytes.clone(),
            scanned.source_hashes[i]
                .clone()
                .expect("a file read was hashed"),
            None,
        )),
    }
}

/// The precompressed variants of every compressible file that is not reused (through the
/// cache), largest first: (file index, encoding) -> bytes, where smaller.
type Variants = BTreeMap<(usize, &'static str), (String, Vec<u8>)>;

fn compress_all(
    config: &Config,
    cache: &Cache,
    all: &[(String, Final)],
    clean: &[bool],
    stats: &mut Stats,
) -> Variants {
    let reused = |i: usize| i < clean.len() && clean[i];
    let mut jobs: Vec<(usize, Encoding, u32)> = Vec::new();
    for (i, (logical, f)) in all.iter().enumerate() {
        if reused(i) || !scan::content_type(logical).1 {
            continue;
        }
        if let Some(q) = config.brotli_for(logical, f.bytes.len()) {
            jobs.push((i, Encoding::Br, q));
        }
        if let Some(l) = config.gzip {
            jobs.push((i, Encoding::Gzip, l));
        }
    }
    jobs.sort_by_key(|&(i, e, _)| (std::cmp::Reverse(all[i].1.bytes.len()), e));
    let hits = AtomicUsize::new(0);
    let variants = parallel(&jobs, config.jobs, |&(i, enc, level)| {
        let f = &all[i].1;
        let key = cache::key(
            enc.token(),
            &[
                enc.encoder().as_bytes(),
                level.to_string().as_bytes(),
                f.sha256.as_bytes(),
            ],
        );
        match cache.get(&key) {
            Some(v) => {
                hits.fetch_add(1, Ordering::Relaxed);
                (!v.is_empty()).then_some(v)
            }
            None => {
                let v = compress::compress(enc, &f.bytes, level);
                // An empty entry records "not smaller", so that is not tried again either.
                cache.put(&key, v.as_deref().unwrap_or_default());
                v
            }
        }
    });
    stats.compress_cached = hits.load(Ordering::Relaxed);
    stats.compressed = jobs.len() - stats.compress_cached;
    jobs.iter()
        .zip(variants)
        .filter_map(|(&(i, enc, _), v)| {
            let path = format!("{}{}", all[i].1.hashed, enc.suffix());
            Some(((i, enc.token()), (path, v?)))
        })
        .collect()
}

/// The manifest (reused entries as they were, new ones from their final bytes), written
/// with the hashed files and variants into the output tree.
fn write_output(
    config: &Config,
    scanned: &Scanned,
    index: &HashMap<&str, usize>,
    all: &[(String, Final)],
    variants: Variants,
    stats: &mut Stats,
) -> Result<Manifest> {
    let mut assets = BTreeMap::new();
    let mut files: Vec<(&str, &[u8])> = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    for (i, (logical, f)) in all.iter().enumerate() {
        let reused = i < scanned.clean.len() && scanned.clean[i];
        if let Some(r) = scanned.reuse.as_ref().filter(|_| reused) {
            // Its entry as it was, with the source map generated for it, if any.
            let map = format!("{logical}.map");
            let extra = r
                .manifest
                .assets
                .get_key_value(&map)
                .filter(|_| !index.contains_key(map.as_str()));
            for (k, e) in std::iter::once((logical, &r.manifest.assets[logical])).chain(extra) {
                kept.push(&e.path);
                kept.extend(e.encodings.values().map(|v| v.path.as_str()));
                assets.insert(k.clone(), e.clone());
            }
            continue;
        }
        let mine = variants.range((i, "")..(i + 1, ""));
        let encodings = mine
            .clone()
            .map(|((_, tok), (path, bytes))| {
                let v = Variant {
                    path: path.clone(),
                    size: bytes.len() as u64,
                };
                ((*tok).to_owned(), v)
            })
            .collect();
        assets.insert(
            logical.clone(),
            Entry {
                path: f.hashed.clone(),
                size: f.bytes.len() as u64,
                content_type: scan::content_type(logical).0.to_owned(),
                integrity: hash::integrity(&f.bytes),
                sha256: f.sha256.clone(),
                encodings,
            },
        );
        files.push((&f.hashed, &f.bytes));
        files.extend(mine.map(|(_, (path, bytes))| (path.as_str(), bytes.as_slice())));
    }
    let manifest = Manifest::new(assets);
    stats.bytes_out = manifest.assets.values().map(|e| e.size).sum();
    crate::write::tree(&config.out, &files, &kept, &manifest.to_json())?;
    Ok(manifest)
}

/// The run state for the next run: stamps, hashes and references of every source.
fn save_state(scanned: &Scanned, edges: &[Vec<usize>], manifest: &Manifest) {
    let (Some(stamps), Some(path)) = (&scanned.stamps, &scanned.state_path) else {
        return;
    };
    let sources = &scanned.sources;
    let deps = sources
        .iter()
        .zip(edges)
        .zip(&scanned.clean)
        .filter(|(_, clean)| !**clean)
        .map(|((s, e), _)| {
            let to = e.iter().map(|&j| sources[j].logical.clone()).collect();
            (s.logical.clone(), to)
        });
    let (mut all_deps, mut hashes) = scanned
        .reuse
        .as_ref()
        .map(|r| (r.deps.clone(), r.hashes.clone()))
        .unwrap_or_default();
    all_deps.extend(deps);
    hashes.extend(
        sources
            .iter()
            .zip(&scanned.source_hashes)
            .filter_map(|(s, h)| Some((s.logical.clone(), h.clone()?))),
    );
    let state = State {
        version: state::VERSION,
        settings: scanned.settings.clone(),
        started_ns: scanned.started,
        manifest_id: manifest.id.clone(),
        stamps: stamps.clone(),
        hashes,
        deps: all_deps,
    };
    state.save(path);
}

impl Final {
    /// Names `bytes` by their own hash, or by `group` (the hash of a cycle).
    fn new(logical: &str, bytes: Vec<u8>, group: Option<&str>) -> Final {
        let sha256 = hash::sha256_hex(&bytes);
        Final::named(logical, bytes, sha256, group)
    }

    /// The same, with the sha256 of `bytes` already known.
    fn named(logical: &str, bytes: Vec<u8>, sha256: String, group: Option<&str>) -> Final {
        let hashed = hash::hashed_path(logical, group.unwrap_or(&sha256));
        Final {
            hashed,
            bytes,
            sha256,
        }
    }
}

/// Fills transformed code with the names of finished files.
/// With `css-imports = "inline"`, a url() in a custom property of an `@import`ed stylesheet
/// moves into the importing file, where browsers may resolve it from either place: it is
/// rewritten to reach the same file from its new place, with a warning.
fn warn_inlined_in_place(
    sources: &[Source],
    nodes: &[Option<(Transformed, Vec<Target>)>],
    warnings: &mut Vec<Problem>,
) {
    let mut imported = vec![false; sources.len()];
    for (t, targets) in nodes.iter().flatten() {
        for (r, target) in t.refs.iter().zip(targets) {
            if let (RefKind::Import, Target::Asset(j, _)) = (r.kind, target) {
                imported[*j] = true;
            }
        }
    }
    for (i, node) in nodes.iter().enumerate() {
        let Some((t, targets)) = node else { continue };
        if !imported[i] {
            continue;
        }
        for (r, target) in t.refs.iter().zip(targets) {
            if r.kind == RefKind::UrlInPlace && matches!(target, Target::Asset(..)) {
                warnings.push(Problem::Ambiguous {
                    path: sources[i].display.clone(),
                    pos: r.pos,
                    message: format!(
                        "url() `{}` in a custom property is inlined into another stylesheet: rewritten relative to that stylesheet, so it reaches the same file where the var() resolves against the inlining stylesheet",
                        r.spec
                    ),
                });
            }
        }
    }
}

struct Finisher<'a> {
    sources: &'a [Source],
    nodes: &'a [Option<(Transformed, Vec<Target>)>],
    config: &'a Config,
    index: &'a HashMap<&'a str, usize>,
    /// Bundle source -> its parts.
    bundles: HashMap<usize, Vec<usize>>,
}

impl Finisher<'_> {
    /// The shipped text of file `i` as if it stood at logical path `at` (its own path, or that
    /// of the stylesheet it is inlined into), and where it differs from the transformed code
    /// (for the source map). `imports` collects `@import`s kept as written, which must stay
    /// at the top of the final file.
    fn text(
        &self,
        i: usize,
        at: &str,
        finals: &[Option<Final>],
        imports: &mut Vec<String>,
    ) -> (String, Vec<Edit>) {
        let own_file = imports.is_empty() && at == self.sources[i].logical;
        let (t, targets) = self.nodes[i]
            .as_ref()
            .expect("only transformed files have text");
        let inline =
            self.config.css_imports == CssImports::Inline && self.sources[i].kind == Kind::Css;
        let mut replacements: Vec<Replacement> = Vec::with_capacity(t.refs.len());
        let mut inlined = String::new();
        let last_kept = self.last_kept_import(t, targets);
        for (k, (r, target)) in t.refs.iter().zip(targets).enumerate() {
            if inline && r.kind == RefKind::Import {
                // The rule was removed from the code; put back its content, or the rule.
                match target {
                    Target::Asset(j, _)
                        if self.is_stylesheet(target) && last_kept.is_none_or(|l| k > l) =>
                    {
                        let (body, _) = self.text(*j, at, finals, imports);
                        inlined.push_str(&wrap(
                            &body,
                            r.layer.as_deref(),
                            r.media.as_deref(),
                            r.supports.as_deref(),
                        ));
                    }
                    _ => imports.push(self.import_rule(r, target, at, finals)),
                }
                continue;
            }
            replacements.push(self.replacement(i, r, target, at, finals));
        }
        let (code, mut edits) = fill(&t.code, &replacements);
        if !inline {
            return (code, edits);
        }
        let prefix = if own_file {
            imports.concat() + &inlined
        } else {
            inlined
        };
        if !prefix.is_empty() {
            edits.push(Edit {
                line: 0,
                col: 0,
                delta: utf16_len(&prefix),
                before: true,
            });
        }
        (prefix + &code, edits)
    }

    fn is_stylesheet(&self, target: &Target) -> bool {
        matches!(target, Target::Asset(j, _) if self.sources[*j].kind == Kind::Css)
    }

    /// Kept `@import`s must stand first in the file; an import inlined before a kept one would
    /// move after it and change the cascade. So imports are inlined only after the last one
    /// that must stay an `@import` (remote, or not a stylesheet): its index among the refs.
    fn last_kept_import(&self, t: &Transformed, targets: &[Target]) -> Option<usize> {
        t.refs
            .iter()
            .zip(targets)
            .enumerate()
            .rfind(|(_, (r, target))| r.kind == RefKind::Import && !self.is_stylesheet(target))
            .map(|(k, _)| k)
    }

    /// An `@import` kept as a rule in an inlining stylesheet, pointing at the hashed file.
    fn import_rule(&self, r: &Ref, target: &Target, at: &str, finals: &[Option<Final>]) -> String {
        let url = match target {
            Target::Asset(j, suffix) => self.url(at, *j, suffix, finals),
            Target::Keep => r.spec.clone(),
        };
        let mut rule = format!("@import {}", crate::css::quote(&url));
        match r.layer.as_deref() {
            Some("") => rule.push_str(" layer"),
            Some(name) => rule.push_str(&format!(" layer({name})")),
            None => {}
        }
        if let Some(s) = &r.supports {
            rule.push_str(&format!(" supports({s})"));
        }
        if let Some(m) = &r.media {
            rule.push(' ');
            rule.push_str(m);
        }
        rule.push(';');
        rule
    }

    /// What stands for reference `r` of file `i` (shipped as if at `at`).
    fn replacement<'r>(
        &self,
        i: usize,
        r: &'r Ref,
        target: &Target,
        at: &str,
        finals: &[Option<Final>],
    ) -> Replacement<'r> {
        let url = match target {
            Target::Keep => r.spec.clone(),
            // In its own file, only the name changes: the path resolves as it did, whichever
            // base a browser takes for it. Inlined elsewhere, it is rewritten to reach the
            // same file from there (warned about when resolving).
            Target::Asset(j, suffix)
                if r.kind == RefKind::UrlInPlace && at == self.sources[i].logical =>
            {
                self.url_in_place(&r.spec, *j, suffix, finals)
            }
            Target::Asset(j, suffix) => self.url(at, *j, suffix, finals),
        };
        let css = matches!(r.kind, RefKind::Url | RefKind::UrlInPlace | RefKind::Import);
        Replacement {
            placeholder: &r.placeholder,
            bare_in_url: matches!(r.kind, RefKind::Url | RefKind::UrlInPlace)
                .then(|| crate::css::url_argument(&url)),
            text: if css { crate::css::quote(&url) } else { url },
        }
    }

    /// `spec` as written with its last path segment replaced by the hashed file's name.
    fn url_in_place(&self, spec: &str, j: usize, suffix: &str, finals: &[Option<Final>]) -> String {
        let hashed = &finals[j]
            .as_ref()
            .expect("dependencies are finished first")
            .hashed;
        let path = spec.split(['?', '#']).next().unwrap_or(spec);
        let name = refs::percent_encode_path(hashed.rsplit('/').next().unwrap_or(hashed));
        match path.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{name}{suffix}"),
            None => format!("{name}{suffix}"),
        }
    }

    fn url(&self, at: &str, j: usize, suffix: &str, finals: &[Option<Final>]) -> String {
        let hashed = &finals[j]
            .as_ref()
            .expect("dependencies are finished first")
            .hashed;
        refs::relative_url(at, hashed) + suffix
    }

    /// File `i`'s source map, if it has one, with its columns moved by `edits`.
    fn adjusted_map(&self, i: usize, edits: &[Edit]) -> Result<Option<String>, Problem> {
        let Some(map) = self.nodes[i].as_ref().and_then(|(t, _)| t.map.as_deref()) else {
            return Ok(None);
        };
        crate::sourcemap::adjust(map, edits)
            .map(Some)
            .map_err(|e| Problem::Syntax {
                path: self.sources[i].display.clone(),
                pos: None,
                message: format!("source map: {e}"),
            })
    }

    /// A bundle's final bytes and name: its parts' texts as if they stood at the bundle's
    /// place, joined (`bundle::join`), with one source map over all of them.
    fn finish_bundle(
        &self,
        b: usize,
        parts: &[usize],
        finals: &[Option<Final>],
        extras: &mut Vec<(String, Final)>,
    ) -> Result<Final, Problem> {
        let src = &self.sources[b];
        let css = src.kind == Kind::Css;
        let bad = |message: String| Problem::BadFile {
            path: src.display.clone(),
            pos: None,
            message,
        };
        let mut imports = Vec::new();
        let mut texts = Vec::with_capacity(parts.len());
        let mut maps = Vec::with_capacity(parts.len());
        for (k, &j) in parts.iter().enumerate() {
            let part = &self.sources[j];
            let (t, _) = self.nodes[j]
                .as_ref()
                .ok_or_else(|| bad(format!("part `{}` was not transformed", part.logical)))?;
            let keeps_imports = self.config.css_imports == CssImports::Keep;
            if css && k > 0 && keeps_imports && t.refs.iter().any(|r| r.kind == RefKind::Import) {
                return Err(bad(format!(
                    "part `{}` has an @import, which must stand first in a stylesheet: list the imported file in the bundle before it, or set css-imports = \"inline\"",
                    part.logical
                )));
            }
            let (text, edits) = self.text(j, &src.logical, finals, &mut imports);
            maps.push(self.adjusted_map(j, &edits)?);
            texts.push(bundle::Part {
                logical: &part.logical,
                text,
                script: t.script,
            });
        }
        let (mut body, mut lines) = bundle::join(css, &texts).map_err(bad)?;
        if !imports.is_empty() {
            body = imports.concat() + "\n" + &body;
            lines.iter_mut().for_each(|l| *l += 1);
        }
        let map = if self.config.source_maps {
            let with_maps: Vec<(u32, &str, String)> = lines
                .iter()
                .zip(parts)
                .zip(maps)
                .filter_map(|((&line, &j), m)| Some((line, self.sources[j].logical.as_str(), m?)))
                .collect();
            let merged = bundle::merge_maps(&src.logical, &with_maps)
                .map_err(|e| bad(format!("source map: {e}")))?;
            Some(merged)
        } else {
            None
        };
        self.finish(b, body, map, None, extras)
    }

    /// The file's final bytes and name. With a source map (already true for `text`), the map
    /// becomes an asset of its own, `<logical>.map`, named by its own hash, and the file ends
    /// with a `sourceMappingURL` to it.
    fn finish(
        &self,
        i: usize,
        mut text: String,
        map: Option<String>,
        group: Option<&str>,
        extras: &mut Vec<(String, Final)>,
    ) -> Result<Final, Problem> {
        let src = &self.sources[i];
        if let Some(adjusted) = map {
            let map_logical = format!("{}.map", src.logical);
            if self.index.contains_key(map_logical.as_str()) {
                return Err(Problem::BadFile {
                    path: src.display.clone(),
                    pos: None,
                    message: format!(
                        "its generated source map would replace the asset `{map_logical}`: rename that file or turn source maps off"
                    ),
                });
            }
            let map_final = Final::new(&map_logical, adjusted.into_bytes(), None);
            let url = refs::relative_url(&src.logical, &map_final.hashed);
            if src.kind == Kind::Css {
                text.push_str(&format!("\n/*# sourceMappingURL={url} */"));
            } else {
                text.push_str(&format!("\n//# sourceMappingURL={url}"));
            }
            extras.push((map_logical, map_final));
        }
        Ok(Final::new(&src.logical, text.into_bytes(), group))
    }

    /// Names every module of a cycle with one hash over all their texts, then fills in the
    /// references between them.
    fn finish_cycle(
        &self,
        comp: &[usize],
        finals: &mut [Option<Final>],
        extras: &mut Vec<(String, Final)>,
    ) -> Result<(), Problem> {
        // First pass: references inside the cycle stand as their logical paths.
        for &j in comp {
            finals[j] = Some(Final {
                hashed: self.sources[j].logical.clone(),
                bytes: Vec::new(),
                sha256: String::new(),
            });
        }
        // The hash covers everything a member's served bytes depend on: its text (with the
        // cycle's own references as logical paths) and its source map, which its
        // `sourceMappingURL` names by hash (a comment-only edit changes only the map).
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for &i in comp {
            parts.push(self.sources[i].logical.as_bytes().to_vec());
            parts.push(
                self.text(i, &self.sources[i].logical, finals, &mut Vec::new())
                    .0
                    .into_bytes(),
            );
            if let Some(map) = self.nodes[i].as_ref().and_then(|(t, _)| t.map.as_deref()) {
                parts.push(map.as_bytes().to_vec());
            }
        }
        let group = hash::sha256_parts(parts.iter().map(Vec::as_slice));
        for &j in comp {
            let hashed = hash::hashed_path(&self.sources[j].logical, &group);
            finals[j] = Some(Final {
                hashed,
                bytes: Vec::new(),
                sha256: String::new(),
            });
        }
        let mut done = Vec::new();
        for &i in comp {
            let (text, edits) = self.text(i, &self.sources[i].logical, finals, &mut Vec::new());
            let map = self.adjusted_map(i, &edits)?;
            done.push((i, self.finish(i, text, map, Some(&group), extras)?));
        }
        for (i, f) in done {
            finals[i] = Some(f);
        }
        Ok(())
    }
}

/// `code` with every placeholder replaced, and the edits that made (for source maps).
/// A placeholder in transformed code and what replaces it.
struct Replacement<'a> {
    placeholder: &'a str,
    text: String,
    /// Used instead where the placeholder is the whole argument of `url()`: unquoted, when
    /// nothing in it needs quotes.
    bare_in_url: Option<String>,
}

fn fill(code: &str, replacements: &[Replacement]) -> (String, Vec<Edit>) {
    let mut hits: Vec<(usize, usize)> = Vec::new();
    for (k, Replacement { placeholder, .. }) in replacements.iter().enumerate() {
        hits.extend(code.match_indices(placeholder).map(|(pos, _)| (pos, k)));
    }
    hits.sort_unstable();
    let mut out = String::with_capacity(code.len() + 64 * hits.len());
    let mut edits = Vec::with_capacity(hits.len());
    let (mut at, mut line, mut col) = (0usize, 0u32, 0u32);
    let advance = |s: &str, line: &mut u32, col: &mut u32| {
        for ch in s.chars() {
            if ch == '\n' {
                *line += 1;
                *col = 0;
            } else {
                *col += ch.len_utf16() as u32;
            }
        }
    };
    for (pos, k) in hits {
        if pos < at {
            continue;
        }
        let r = &replacements[k];
        let placeholder = r.placeholder;
        let in_url =
            code[..pos].ends_with("url(") && code[pos + placeholder.len()..].starts_with(')');
        let replacement = match &r.bare_in_url {
            Some(bare) if in_url => bare,
            _ => &r.text,
        };
        advance(&code[at..pos], &mut line, &mut col);
        out.push_str(&code[at..pos]);
        out.push_str(replacement);
        edits.push(Edit {
            line,
            col,
            delta: utf16_len(replacement) - utf16_len(placeholder),
            before: false,
        });
        advance(placeholder, &mut line, &mut col);
        at = pos + placeholder.len();
    }
    out.push_str(&code[at..]);
    (out, edits)
}

fn utf16_len(s: &str) -> i64 {
    s.chars().map(|c| c.len_utf16() as i64).sum()
}

fn wrap(body: &str, layer: Option<&str>, media: Option<&str>, supports: Option<&str>) -> String {
    let mut out = body.to_owned();
    match layer {
        Some("") => out = format!("@layer{{{out}}}"),
        Some(name) => out = format!("@layer {name}{{{out}}}"),
        None => {}
    }
    if let Some(m) = media.filter(|m| !m.trim().is_empty() && m.trim() != "all") {
        out = format!("@media {m}{{{out}}}");
    }
    if let Some(s) = supports {
        out = format!("@supports {s}{{{out}}}");
    }
    out
}

/// The problem, about the file as the user names it (a transform names it by its logical
/// path; a problem in another file, such as a Sass partial, already names that file).
fn relocate(p: Problem, logical: &str, display: &str) -> Problem {
    match p {
        Problem::Syntax { pos, message, path } if path == logical => Problem::Syntax {
            path: display.to_owned(),
            pos,
            message,
        },
        Problem::BadFile { pos, message, path } if path == logical => Problem::BadFile {
            path: display.to_owned(),
            pos,
            message,
        },
        other => other,
    }
}

/// Runs `f`, turning a panic into a problem with the file instead of a crash.
fn guarded<T>(
    display: &str,
    f: impl FnOnce() -> Option<std::result::Result<T, Problem>>,
) -> Option<std::result::Result<T, Problem>> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Some(Err(Problem::Syntax {
            path: display.to_owned(),
            pos: None,
            message: "internal error while transforming this file (please report it with the file)"
                .into(),
        })),
    }
}

/// `f` over `items` on `jobs` threads (with stacks deep enough for deeply nested input),
/// results in input order.
pub(crate) fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            let r = f(item);
            *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        }
    };
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            std::thread::Builder::new()
                .stack_size(64 << 20)
                .spawn_scoped(s, work)
                .expect("spawning a worker thread");
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item is done")
        })
        .collect()
}

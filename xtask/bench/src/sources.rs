//! Compiled sources against the tools users would otherwise run in node: Sass (grass, then
//! lightningcss) against dart-sass (npm `sass`, `--style=compressed`) on Bootstrap's own
//! `scss/`; TypeScript strip + minify (swc) against esbuild on a real TypeScript code base
//! (RxJS's `src/`, 250 modules with extensionless imports). Both sides write no compressed
//! variants; time is the median wall time of cold runs, bytes are the minified output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};
use asset_build::Config;

use crate::{Figure, figure, median, secs};

const PACKAGES: &[&str] = &[
    "bootstrap@5.3.8",
    "rxjs@7.8.2",
    "sass@1.108.2",
    "esbuild@0.28.2",
];

/// The npm packages, installed once into `dir/sources-npm`.
fn ensure_packages(dir: &Path) -> anyhow::Result<PathBuf> {
    let npm = dir.join("sources-npm");
    if !npm.join("node_modules/rxjs/src").is_dir() || !npm.join("node_modules/.bin/sass").exists() {
        println!(
            "installing {} into {} (npm)",
            PACKAGES.join(", "),
            npm.display()
        );
        std::fs::create_dir_all(&npm)?;
        let ok = Command::new("npm")
            .args(["install", "--silent", "--no-save", "--no-audit", "--prefix"])
            .arg(&npm)
            .args(PACKAGES)
            .status();
        if !ok.is_ok_and(|s| s.success()) {
            bail!("could not install {} with npm", PACKAGES.join(" "));
        }
    }
    Ok(npm.join("node_modules"))
}

pub fn bench(dir: &Path, runs: usize) -> anyhow::Result<Vec<Figure>> {
    let modules = ensure_packages(dir)?;
    let mut figures = sass(dir, &modules, runs)?;
    figures.extend(typescript(dir, &modules, runs)?);
    Ok(figures)
}

/// A cold run of our pipeline (no cache, no compressed variants) over `input`: median
/// seconds and the manifest.
fn ours(input: &Path, out: &Path, runs: usize) -> anyhow::Result<(f64, asset_build::Manifest)> {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(out);
        let config = Config::new(input, out).gzip(None).brotli(None);
        let start = Instant::now();
        let o = asset_build::run(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(secs(start.elapsed()));
        last = Some(o.manifest);
    }
    Ok((median(times), last.expect("at least one run")))
}

/// The bytes of every output, with the `.<hash>` of the names they refer to taken out (the
/// peers' outputs keep the names as written).
fn unhashed_bytes(out: &Path, manifest: &asset_build::Manifest) -> anyhow::Result<u64> {
    let mut total = 0;
    for e in manifest.assets.values() {
        let text = std::fs::read_to_string(out.join(&e.path))?;
        total += crate::strip_hashes(&text).len() as u64;
    }
    Ok(total)
}

/// Median seconds of `cmd` run `runs` times (after `prepare` each time).
fn timed(runs: usize, prepare: impl Fn(), mut cmd: impl FnMut() -> Command) -> anyhow::Result<f64> {
    let mut times = Vec::new();
    for _ in 0..runs {
        prepare();
        let mut c = cmd();
        let start = Instant::now();
        let out = c.output().with_context(|| format!("{c:?}"))?;
        if !out.status.success() {
            bail!("{c:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        times.push(secs(start.elapsed()));
    }
    Ok(median(times))
}

fn sass(dir: &Path, modules: &Path, runs: usize) -> anyhow::Result<Vec<Figure>> {
    let input = dir.join("sass-in");
    if !input.is_dir() {
        tests::copy_tree(&modules.join("bootstrap/scss"), &input.join("scss"));
    }
    let entries: Vec<String> = std::fs::read_dir(input.join("scss"))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".scss") && !n.starts_with('_'))
        .collect();
    let (ours_s, manifest) = ours(&input, &dir.join("sass-ours"), runs)?;
    let ours_bytes = unhashed_bytes(&dir.join("sass-ours"), &manifest)?;
    let base_out = dir.join("sass-base");
    let sass_bin = modules.join(".bin/sass");
    let base_s = timed(
        runs,
        || {
            let _ = std::fs::remove_dir_all(&base_out);
        },
        || {
            let mut c = Command::new(&sass_bin);
            c.args(["--style=compressed", "--no-source-map", "--quiet"]);
            for n in &entries {
                c.arg(format!(
                    "{}:{}",
                    input.join("scss").join(n).display(),
                    base_out.join(n.replace(".scss", ".css")).display()
                ));
            }
            c
        },
    )?;
    let base_bytes: u64 = entries
        .iter()
        .map(|n| {
            std::fs::metadata(base_out.join(n.replace(".scss", ".css"))).map_or(0, |m| m.len())
        })
        .sum();
    Ok(vec![
        figure(
            format!(
                "Sass: Bootstrap 5.3 scss/ ({} entries), compile + minify",
                entries.len()
            ),
            ours_s,
            "s",
            "dart-sass (npm sass, --style=compressed), one process",
            Some(base_s),
            "<= 1.0",
        ),
        figure(
            "Sass: Bootstrap CSS bytes",
            ours_bytes as f64,
            "bytes",
            "dart-sass --style=compressed",
            Some(base_bytes as f64),
            "<= 1.0",
        ),
    ])
}

fn typescript(dir: &Path, modules: &Path, runs: usize) -> anyhow::Result<Vec<Figure>> {
    let input = dir.join("ts-in");
    if !input.is_dir() {
        tests::copy_tree(&modules.join("rxjs/src"), &input);
        // Only the TypeScript: the tsconfig files and the UMD shim are not the code base.
        for (path, _) in crate::files(&input)? {
            if !path.ends_with(".ts") || path.ends_with(".d.ts") {
                std::fs::remove_file(&path)?;
            }
        }
    }
    let sources: Vec<String> = crate::files(&input)?.into_iter().map(|(p, _)| p).collect();
    let (ours_s, manifest) = ours(&input, &dir.join("ts-ours"), runs)?;
    let ours_bytes = unhashed_bytes(&dir.join("ts-ours"), &manifest)?;
    let base_out = dir.join("ts-base");
    let esbuild = modules.join(".bin/esbuild");
    let base_s = timed(
        runs,
        || {
            let _ = std::fs::remove_dir_all(&base_out);
        },
        || {
            let mut c = Command::new(&esbuild);
            c.args(["--minify", "--format=esm", "--log-level=error"])
                .arg(format!("--outdir={}", base_out.display()))
                .arg(format!("--outbase={}", input.display()))
                .args(&sources);
            c
        },
    )?;
    let base_bytes: u64 = crate::files(&base_out)?.iter().map(|(_, s)| s).sum();
    Ok(vec![
        figure(
            format!(
                "TypeScript: RxJS src/ ({} modules), strip + minify",
                sources.len()
            ),
            ours_s,
            "s",
            "esbuild --minify --format=esm, every module, one process",
            Some(base_s),
            "<= 1.5",
        ),
        figure(
            "TypeScript: RxJS minified bytes (content hashes taken out of ours)",
            ours_bytes as f64,
            "bytes",
            "esbuild --minify (import paths as written)",
            Some(base_bytes as f64),
            "<= 1.05",
        ),
    ])
}

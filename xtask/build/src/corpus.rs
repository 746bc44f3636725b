//! `cargo xtask corpus`: the pipeline on popular npm packages, checked end to end.
//!
//! 1. npm installs the packages of `xtask/corpus/package.json` (with esbuild and jsdom) into
//!    `<dir>/npm` (again only when that file changes);
//! 2. `corpus.mjs prepare` copies each package's files, and everything they refer to, into
//!    `<dir>/in/<package>`;
//! 3. each package is built as `cargo xtask build --check` would (defaults: minify, hash,
//!    compress), into `<dir>/out/<package>`, and every reference in the output must resolve;
//! 4. `corpus.mjs compare` runs each script as published and as built, side by side (UMD in a
//!    jsdom window, ES modules imported in node), with a small API call per package, and
//!    measures esbuild's minified bytes of the same files.
//!
//! A table goes to stdout; any failure makes the command fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use asset_build::{Config, Error};

#[derive(clap::Args)]
pub struct Args {
    /// Where the packages, inputs and outputs go (default: target/corpus).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Do not read or write the build cache (every file is minified and compressed).
    #[arg(long)]
    no_cache: bool,
}

/// What `corpus.mjs compare` prints per package.
#[derive(serde::Deserialize)]
struct Compared {
    name: String,
    scripts: usize,
    failures: Vec<String>,
    /// css and js: [ours, esbuild, ours brotli, esbuild brotli].
    bytes: std::collections::BTreeMap<String, [u64; 4]>,
}

struct Built {
    files: usize,
    references: usize,
    failures: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let dir = args
        .dir
        .unwrap_or_else(|| crate::target_dir().join("corpus"));
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let npm = dir.join("npm");
    install(&here.join("package.json"), &npm)?;
    let (input, output) = (dir.join("in"), dir.join("out"));
    node(&here, "prepare", &[&npm, &input])?;
    let _ = std::fs::remove_dir_all(&output);
    let mut built = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&input)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        println!("building {name}");
        let cache = (!args.no_cache).then(|| crate::target_dir().join("asset-cache"));
        let b = build(&input.join(&name), &output.join(&name), cache)?;
        built.insert(name, b);
    }
    println!("running each script as published and as built (node, jsdom)");
    let compared = node(&here, "compare", &[&npm, &input, &output])?;
    let rows: Vec<Compared> = compared
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("reading corpus.mjs's output")?;
    let failures = print_table(&built, &rows);
    if failures > 0 {
        bail!("{failures} failure(s) in the corpus");
    }
    Ok(())
}

/// `npm install` of the corpus's package.json into `npm`, when it changed since the last one.
fn install(package_json: &Path, npm: &Path) -> anyhow::Result<()> {
    let wanted = std::fs::read(package_json)?;
    let stamp = npm.join("package.json");
    if std::fs::read(&stamp).ok().as_ref() == Some(&wanted) && npm.join("node_modules").is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(npm)?;
    std::fs::write(&stamp, &wanted)?;
    println!(
        "installing the corpus's npm packages into {}",
        npm.display()
    );
    let ok = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--loglevel=error",
        ])
        .current_dir(npm)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        // Next time installs again.
        let _ = std::fs::remove_file(&stamp);
        bail!(
            "npm install in {} failed: are node and npm installed and the registry reachable?",
            npm.display()
        );
    }
    Ok(())
}

/// `node corpus.mjs <command> <paths>`; its stdout.
fn node(here: &Path, command: &str, paths: &[&Path]) -> anyhow::Result<String> {
    let out = Command::new("node")
        .arg(here.join("corpus.mjs"))
        .arg(command)
        .args(paths)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running node (is it installed?)")?;
    if !out.status.success() {
        bail!("node corpus.mjs {command} failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One package through the pipeline with the defaults, then `--check`'s reference check.
fn build(input: &Path, output: &Path, cache: Option<PathBuf>) -> anyhow::Result<Built> {
    let mut config = Config::new(input, output);
    if let Some(c) = cache {
        config = config.cache_dir(c);
    }
    let out = match asset_build::run(&config) {
        Ok(o) => o,
        Err(Error::Assets(problems)) => {
            return Ok(Built {
                files: 0,
                references: 0,
                failures: problems.iter().map(ToString::to_string).collect(),
            });
        }
        Err(e) => return Err(e).with_context(|| format!("building {}", input.display())),
    };
    let failures = asset_build::check_tree(output)?
        .into_iter()
        .map(|w| format!("broken reference: {w}"))
        .collect();
    Ok(Built {
        files: out.manifest.assets.len(),
        references: crate::build::count_references(output, &out.manifest),
        failures,
    })
}

/// The table, then every failure; returns how many failures there were. Bytes are ours and
/// esbuild's minified output of the same files; brotli is quality 11 of both.
fn print_table(built: &std::collections::BTreeMap<String, Built>, rows: &[Compared]) -> usize {
    println!();
    println!(
        "| package | files | references | scripts run | failures | CSS bytes (esbuild) | JS bytes (esbuild) | CSS brotli vs esbuild | JS brotli vs esbuild |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut total = [[0u64; 4]; 2];
    let (mut files, mut refs, mut scripts, mut failures) = (0, 0, 0, 0);
    let mut details = Vec::new();
    for row in rows {
        let Some(b) = built.get(&row.name) else {
            continue;
        };
        let kinds = ["css", "js"].map(|k| row.bytes.get(k).copied().unwrap_or_default());
        for (t, k) in total.iter_mut().zip(&kinds) {
            for i in 0..4 {
                t[i] += k[i];
            }
        }
        let [css, js] = kinds;
        let n = b.failures.len() + row.failures.len();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.name,
            b.files,
            b.references,
            row.scripts,
            n,
            versus(css[0], css[1]),
            versus(js[0], js[1]),
            ratio(css[2], css[3]),
            ratio(js[2], js[3]),
        );
        files += b.files;
        refs += b.references;
        scripts += row.scripts;
        failures += n;
        details.extend(
            b.failures
                .iter()
                .chain(&row.failures)
                .map(|f| format!("{}: {f}", row.name)),
        );
    }
    let [css, js] = total;
    println!(
        "| **{} packages** | {files} | {refs} | {scripts} | {failures} | {} | {} | {} ({} / {}) | {} ({} / {}) |",
        rows.len(),
        versus(css[0], css[1]),
        versus(js[0], js[1]),
        ratio(css[2], css[3]),
        css[2],
        css[3],
        ratio(js[2], js[3]),
        js[2],
        js[3],
    );
    for d in &details {
        eprintln!("failure: {d}");
    }
    failures
}

fn versus(ours: u64, theirs: u64) -> String {
    if theirs == 0 {
        return "-".into();
    }
    format!("{ours} ({theirs}, {})", ratio(ours, theirs))
}

fn ratio(ours: u64, theirs: u64) -> String {
    if theirs == 0 {
        return "-".into();
    }
    format!("{:.3}x", ours as f64 / theirs as f64)
}

//! `cargo xtask build <ASSET_DIR> --out <DIR>`: the build-script pipeline on any folder.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, bail};
use asset_build::{Config, CssImports, Error, Missing, Targets};

#[derive(clap::Args)]
pub struct Args {
    /// The folder of assets.
    asset_dir: PathBuf,
    /// Where the hashed files, variants and manifest.json go.
    #[arg(long)]
    out: PathBuf,
    /// Inline `@import`ed stylesheets instead of keeping them as their own files.
    #[arg(long)]
    inline_imports: bool,
    /// Warn (instead of failing) on references to files that are not assets.
    #[arg(long)]
    warn_missing: bool,
    /// Ship CSS and JS as written.
    #[arg(long)]
    no_minify: bool,
    /// Browser targets for CSS, e.g. `--target "chrome 109" --target "safari 15.6"`.
    #[arg(long = "target")]
    targets: Vec<String>,
    /// brotli quality (0-11); `none` for no .br files.
    #[arg(long, default_value = "11")]
    brotli: String,
    /// brotli quality for files over 128 KiB (the lower of this and --brotli applies).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=11))]
    brotli_large: u32,
    /// gzip level (0-9); `none` for no .gz files.
    #[arg(long, default_value = "9")]
    gzip: String,
    /// Do not read or write the cache (every file is transformed and compressed).
    #[arg(long)]
    no_cache: bool,
    /// Threads (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Afterwards, check that every relative reference in the output resolves.
    #[arg(long)]
    check: bool,
}

fn level(s: &str, max: u32, what: &str) -> anyhow::Result<Option<u32>> {
    if s == "none" {
        return Ok(None);
    }
    match s.parse::<u32>() {
        Ok(n) if n <= max => Ok(Some(n)),
        _ => bail!("--{what} takes 0..={max} or `none`, not `{s}`"),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.asset_dir.is_dir() {
        bail!("{}: not a directory", args.asset_dir.display());
    }
    let mut config = Config::new(&args.asset_dir, &args.out)
        .css_imports(if args.inline_imports {
            CssImports::Inline
        } else {
            CssImports::Keep
        })
        .missing(if args.warn_missing {
            Missing::Warn
        } else {
            Missing::Error
        })
        .minify(!args.no_minify)
        .brotli(level(&args.brotli, 11, "brotli")?)
        .brotli_large(args.brotli_large)
        .gzip(level(&args.gzip, 9, "gzip")?);
    if !args.targets.is_empty() {
        config = config.targets(Targets::parse(&args.targets)?);
    }
    if !args.no_cache {
        config = config.cache_dir(crate::target_dir().join("asset-cache"));
    }
    if let Some(j) = args.jobs {
        config = config.jobs(j);
    }
    let start = Instant::now();
    let output = match asset_build::run(&config) {
        Ok(o) => o,
        Err(Error::Assets(problems)) => {
            for p in &problems {
                eprintln!("error: {p}");
            }
            bail!(
                "{} broken asset(s) in {}",
                problems.len(),
                args.asset_dir.display()
            );
        }
        Err(e) => return Err(e).with_context(|| format!("building {}", args.asset_dir.display())),
    };
    for w in &output.warnings {
        eprintln!("warning: {w}");
    }
    let s = &output.stats;
    let stages: Vec<String> = s
        .stages
        .iter()
        .map(|(n, d)| format!("{n} {:.0} ms", d.as_secs_f64() * 1000.0))
        .collect();
    println!(
        "built {} assets into {} in {:.2} s: {} unchanged since the last run, {} transformed ({} cached), {} variants compressed ({} cached), {} -> {} bytes [{}]",
        s.files,
        args.out.display(),
        start.elapsed().as_secs_f64(),
        s.reused,
        s.transformed,
        s.transform_cached,
        s.compressed,
        s.compress_cached,
        s.bytes_in,
        s.bytes_out,
        stages.join(", ")
    );
    if args.check {
        let wrong = asset_build::check_tree(&args.out)?;
        for w in &wrong {
            eprintln!("broken: {w}");
        }
        if !wrong.is_empty() {
            bail!(
                "{} broken reference(s) in {}",
                wrong.len(),
                args.out.display()
            );
        }
        let refs = count_references(&args.out, &output.manifest);
        println!(
            "checked: every file present, {refs} references in shipped CSS/JS, all relative ones resolve"
        );
    }
    Ok(())
}

/// How many references the shipped CSS and JS files under `out` make.
pub fn count_references(out: &std::path::Path, manifest: &asset_build::Manifest) -> usize {
    manifest
        .assets
        .values()
        .filter_map(|e| Some((e, std::fs::read_to_string(out.join(&e.path)).ok()?)))
        .map(|(e, t)| asset_build::check::references_in(&e.path, &t).len())
        .sum()
}

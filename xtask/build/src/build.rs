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
    /// A TOML file whose top level holds the keys of `[package.metadata.assets]`
    /// (`minify = false`, `targets = [...]`, ...); flags given as well win.
    #[arg(long)]
    settings: Option<PathBuf>,
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
    /// brotli quality (0-11; default 11); `none` for no .br files.
    #[arg(long)]
    brotli: Option<String>,
    /// brotli quality for files over 128 KiB (default 10; the lower of this and --brotli
    /// applies).
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=11))]
    brotli_large: Option<u32>,
    /// gzip level (0-9; default 9); `none` for no .gz files.
    #[arg(long)]
    gzip: Option<String>,
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

/// The settings file's settings, then the flags that were given.
fn config(args: &Args) -> anyhow::Result<Config> {
    let mut config = Config::new(&args.asset_dir, &args.out);
    if let Some(file) = &args.settings {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        // Load paths in the file are relative to the file.
        let base = file.parent().unwrap_or(std::path::Path::new("."));
        let meta = asset_build::Metadata::from_settings_file(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
            .relative_to(base);
        config = meta
            .apply(config)
            .with_context(|| format!("{}", file.display()))?;
    }
    if args.inline_imports {
        config = config.css_imports(CssImports::Inline);
    }
    if args.warn_missing {
        config = config.missing(Missing::Warn);
    }
    if args.no_minify {
        config = config.minify(false);
    }
    if let Some(b) = &args.brotli {
        config = config.brotli(level(b, 11, "brotli")?);
    }
    if let Some(q) = args.brotli_large {
        config = config.brotli_large(q);
    }
    if let Some(g) = &args.gzip {
        config = config.gzip(level(g, 9, "gzip")?);
    }
    if !args.targets.is_empty() {
        config = config.targets(Targets::parse(&args.targets)?);
    }
    Ok(config)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.asset_dir.is_dir() {
        bail!("{}: not a directory", args.asset_dir.display());
    }
    let mut config = config(&args)?;
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

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: super::Args,
    }

    fn build(argv: &[&str]) -> asset_build::Output {
        let cli = Cli::try_parse_from(std::iter::once("build").chain(argv.iter().copied()))
            .expect("arguments");
        asset_build::run(&super::config(&cli.args).expect("settings")).expect("build")
    }

    #[test]
    fn a_settings_file_sets_what_the_package_metadata_would_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let assets = dir.path().join("assets");
        std::fs::create_dir_all(assets.join("js")).unwrap();
        // Long enough for gzip to pay.
        let js: String = (0..40)
            .map(|i| format!("export function greet{i}(name) {{\n  return 'hello ' + name;\n}}\n"))
            .collect();
        std::fs::write(assets.join("js/app.js"), &js).unwrap();
        let settings = dir.path().join("settings.toml");
        std::fs::write(&settings, "minify = false\ngzip = false\nbrotli = false\n").unwrap();
        let (a, s) = (assets.to_str().unwrap(), settings.to_str().unwrap());

        let out = dir.path().join("out");
        let o = build(&[a, "--out", out.to_str().unwrap(), "--settings", s]);
        let e = &o.manifest.assets["js/app.js"];
        assert_eq!(std::fs::read_to_string(out.join(&e.path)).unwrap(), js);
        assert!(e.encodings.is_empty(), "no variants: {:?}", e.encodings);

        // A flag given as well wins over the file.
        let out = dir.path().join("out2");
        let o = build(&[
            a,
            "--out",
            out.to_str().unwrap(),
            "--settings",
            s,
            "--gzip",
            "6",
        ]);
        let e = &o.manifest.assets["js/app.js"];
        assert!(
            e.encodings.contains_key(&asset_build::Encoding::Gzip),
            "{:?}",
            e.encodings
        );

        // An unknown key is an error naming the file.
        std::fs::write(&settings, "minfy = false\n").unwrap();
        let cli = Cli::try_parse_from(["build", a, "--out", "x", "--settings", s]).unwrap();
        let err = format!("{:#}", super::config(&cli.args).unwrap_err());
        assert!(
            err.contains("settings.toml") && err.contains("minfy"),
            "{err}"
        );
    }

    #[test]
    fn a_settings_file_takes_bundles_load_paths_and_jsx() {
        let dir = tempfile::tempdir().unwrap();
        let assets = dir.path().join("assets");
        let w = |p: &str, t: &str| {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, t).unwrap();
        };
        w("assets/js/a.js", "var a = 1\n");
        w("assets/js/b.js", "console.log(a);\n");
        w(
            "assets/js/v.tsx",
            "export const v = <p>{1 as number}</p>;\n",
        );
        w(
            "assets/css/app.scss",
            "@use \"vars\";\nbody { color: vars.$ink; }\n",
        );
        w("scss/_vars.scss", "$ink: #123;\n");
        // Load paths are relative to the settings file.
        w(
            "conf/settings.toml",
            "load-paths = [\"../scss\"]\njsx-runtime = \"classic\"\njsx-pragma = \"h\"\nship-bundle-parts = false\n[bundles]\n\"js/site.js\" = [\"js/a.js\", \"js/b.js\"]\n",
        );
        let out = dir.path().join("out");
        let settings = dir.path().join("conf/settings.toml");
        let o = build(&[
            assets.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--settings",
            settings.to_str().unwrap(),
        ]);
        let names: Vec<&str> = o.manifest.assets.keys().map(String::as_str).collect();
        assert_eq!(names, ["css/app.scss", "js/site.js", "js/v.tsx"]);
        let text = |k: &str| std::fs::read_to_string(out.join(&o.manifest.assets[k].path)).unwrap();
        assert_eq!(text("css/app.scss"), "body{color:#123}");
        assert_eq!(text("js/site.js"), "var a=1;\n;\nconsole.log(a);");
        assert!(
            text("js/v.tsx").contains("h(\"p\",null,1)"),
            "{}",
            text("js/v.tsx")
        );
    }
}

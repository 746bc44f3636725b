//! The command line of `publish`, `verify` and `prune`, shared by this workspace's xtask and
//! any user's: `asset_build::publish::cli::main(std::env::args().skip(1))`.
//!
//! Settings, most specific first: flags; environment (`ASSET_PUBLISH_TO`, `AWS_*`);
//! `[package.metadata.assets.publish]`; defaults (a local folder under `target/`).

use std::process::ExitCode;

use super::{Error, Location, PruneOptions, StoreSettings, Variants};

const USAGE: &str = "usage:
  publish [--to URL] [--package PKG] [--profile P] [--endpoint URL] [--region R]
          [--concurrency N] [--variants separate|gzipped|none] [--cache-control V]
          [--virtual-hosted] [--relist] [--dry-run]
  verify  [--to URL] [--package PKG] [--deep] [--endpoint URL] [--region R]
          [--variants separate|gzipped|none] [--cache-control V] [--virtual-hosted]
          [--concurrency N] [--base-url URL [--origin URL]]
  prune   [--to URL] [--package PKG] --keep N [--older-than 7d] [--grace 1h] [--apply]
URL: s3://bucket/prefix or file:///path";

#[derive(Debug, Default)]
struct Flags {
    to: Option<String>,
    package: Option<String>,
    profile: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    concurrency: Option<usize>,
    variants: Option<Variants>,
    cache_control: Option<String>,
    virtual_hosted: bool,
    dry_run: bool,
    relist: bool,
    deep: bool,
    base_url: Option<String>,
    origin: Option<String>,
    keep: Option<usize>,
    older_than: Option<std::time::Duration>,
    grace: Option<std::time::Duration>,
    apply: bool,
}

fn parse(command: &str, args: &[String]) -> Result<Flags, Error> {
    let mut f = Flags::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| Error::Config(format!("{name} needs a value\n{USAGE}")))
        };
        let number = |v: String| {
            v.parse::<usize>()
                .map_err(|_| Error::Config(format!("{name}: `{v}` is not a number")))
        };
        match (command, name) {
            (_, "--to") => f.to = Some(value()?),
            (_, "--package" | "-p") => f.package = Some(value()?),
            (_, "--endpoint") => f.endpoint = Some(value()?),
            (_, "--region") => f.region = Some(value()?),
            (_, "--variants") => f.variants = Some(value()?.parse()?),
            ("publish", "--profile") => f.profile = Some(value()?),
            // Publish and verify read the same settings: verify checks what publish wrote.
            ("publish" | "verify", "--concurrency") => {
                f.concurrency = Some(number(value()?)?.max(1))
            }
            ("publish" | "verify", "--cache-control") => f.cache_control = Some(value()?),
            ("publish" | "verify" | "prune", "--virtual-hosted") => f.virtual_hosted = true,
            ("publish", "--dry-run") => f.dry_run = true,
            ("publish", "--relist") => f.relist = true,
            ("verify", "--deep") => f.deep = true,
            ("verify", "--base-url") => f.base_url = Some(value()?),
            ("verify", "--origin") => f.origin = Some(value()?),
            ("prune", "--keep") => f.keep = Some(number(value()?)?),
            ("prune", "--older-than") => f.older_than = Some(super::parse_age(&value()?)?),
            ("prune", "--grace") => f.grace = Some(super::parse_age(&value()?)?),
            ("prune", "--apply") => f.apply = true,
            _ => {
                return Err(Error::Config(format!(
                    "{command}: unknown argument `{arg}`\n{USAGE}"
                )));
            }
        }
    }
    Ok(f)
}

/// Runs `publish`, `verify` or `prune` (the first argument) and returns the exit code:
/// 0 on success, 1 on failure (every problem printed, secrets masked).
pub fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let args: Vec<String> = args.into_iter().collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command, rest)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command with already split arguments.
///
/// # Errors
/// Bad arguments, or whatever the command reports.
pub async fn run(command: &str, args: &[String]) -> Result<ExitCode, Error> {
    if !matches!(command, "publish" | "verify" | "prune") {
        return Err(Error::Config(format!(
            "unknown command `{command}`\n{USAGE}"
        )));
    }
    let flags = parse(command, args)?;
    let pkg = super::package(None, flags.package.as_deref())?;
    let settings = settings(&flags, &pkg)?;
    let say = |line: &str| println!("{line}");
    match command {
        "publish" => {
            let mut settings = settings;
            settings.interrupt = super::Interrupt::on_signals();
            say(&format!(
                "building {} (cargo build -p {}{}): its build script runs the asset pipeline",
                pkg.name,
                pkg.name,
                flags
                    .profile
                    .as_deref()
                    .map(|p| format!(" --profile {p}"))
                    .unwrap_or_default()
            ));
            let build = super::locate(&pkg, flags.profile.as_deref())?;
            say(&format!(
                "publishing {} assets from {} to {}",
                build.manifest.assets.len(),
                build.tree.display(),
                settings.location()
            ));
            let (summary, _) =
                super::publish(&settings, &build.manifest, &build.tree, flags.dry_run, &say)
                    .await?;
            println!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        "verify" => verify(&settings, &flags).await,
        _ => prune(&settings, &flags).await,
    }
}

async fn verify(settings: &StoreSettings, flags: &Flags) -> Result<ExitCode, Error> {
    let (manifest, mut wrong) = super::verify(settings, flags.deep).await?;
    if let Some(base) = &flags.base_url {
        let origin = flags.origin.as_deref().unwrap_or("https://example.com");
        wrong.extend(super::check_public(&manifest, base, origin, settings.concurrency).await?);
    }
    for w in &wrong {
        println!("wrong: {w}");
    }
    if !wrong.is_empty() {
        println!("{} problem(s) at {}", wrong.len(), settings.location());
        return Ok(ExitCode::FAILURE);
    }
    let n = manifest.files().count();
    println!(
        "verified build {} at {}: {n} objects, {} checked{}",
        manifest.id,
        settings.location(),
        n,
        if flags.deep { " byte for byte" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

async fn prune(settings: &StoreSettings, flags: &Flags) -> Result<ExitCode, Error> {
    let keep = flags
        .keep
        .ok_or_else(|| Error::Config(format!("prune needs --keep N\n{USAGE}")))?;
    let opts = PruneOptions {
        keep,
        older_than: flags.older_than,
        apply: flags.apply,
        grace: flags.grace.unwrap_or(super::prune::DEFAULT_GRACE),
    };
    let r = super::prune(settings, &opts).await?;
    for k in &r.spared {
        println!("spared {k}: a publish started using it during the prune");
    }
    let (deleted, removed, note) = if flags.apply {
        ("deleted", "removed", "")
    } else {
        (
            "would delete",
            "would remove",
            " (dry run: add --apply to delete)",
        )
    };
    for k in &r.delete {
        println!("{deleted} {k}");
    }
    println!(
        "kept {} generation(s), {removed} {} generation(s) and {} object(s) at {}{note}",
        r.kept_generations.len(),
        r.removed_generations.len(),
        r.delete.len(),
        settings.location(),
    );
    Ok(ExitCode::SUCCESS)
}

/// The destination and store settings for `pkg`, from flags, environment, metadata, defaults.
fn settings(flags: &Flags, pkg: &super::PackageInfo) -> Result<StoreSettings, Error> {
    let table = pkg.settings.clone().unwrap_or_default();
    let meta = |k: &str| table.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    for k in table.keys() {
        if ![
            "to",
            "endpoint",
            "region",
            "cache-control",
            "variants",
            "concurrency",
            "virtual-hosted",
        ]
        .contains(&k.as_str())
        {
            return Err(Error::Config(format!(
                "[package.metadata.assets.publish]: unknown setting `{k}`"
            )));
        }
    }
    let default = format!(
        "file://{}",
        pkg.target_dir
            .join("asset-publish")
            .join(&pkg.name)
            .display()
    );
    let to = flags
        .to
        .clone()
        .or_else(|| {
            std::env::var("ASSET_PUBLISH_TO")
                .ok()
                .filter(|v| !v.is_empty())
        })
        .or_else(|| meta("to"))
        .unwrap_or(default);
    let mut s = StoreSettings::from_env(Location::parse(&to)?);
    if let Some(e) = flags.endpoint.clone().or_else(|| meta("endpoint")) {
        s.connection.endpoint = Some(e);
    }
    if let Some(r) = flags.region.clone().or_else(|| meta("region")) {
        s.connection.region = Some(r);
    }
    if let Some(c) = flags
        .cache_control
        .clone()
        .or_else(|| meta("cache-control"))
    {
        s.cache_control = c;
    }
    if let Some(v) = flags
        .variants
        .map(Ok)
        .or_else(|| meta("variants").map(|v| v.parse()))
    {
        s.variants = v?;
    }
    if let Some(n) = flags.concurrency.or_else(|| {
        table
            .get("concurrency")
            .and_then(|v| v.as_integer())
            .map(|n| n.max(1) as usize)
    }) {
        s.concurrency = n;
    }
    s.connection.virtual_hosted |= flags.virtual_hosted
        || table
            .get("virtual-hosted")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
    s.relist |= flags.relist;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| (*a).to_owned()).collect()
    }

    fn package(settings: Option<toml::Table>) -> super::super::PackageInfo {
        super::super::locate::test_package("app", settings, "/w/target")
    }

    #[test]
    fn flags_parse_per_command() {
        let f = parse(
            "publish",
            &args(&[
                "--to=s3://b/p",
                "--concurrency",
                "4",
                "--dry-run",
                "--variants",
                "gzipped",
            ]),
        )
        .unwrap();
        assert_eq!(
            (f.to.as_deref(), f.concurrency, f.dry_run, f.variants),
            (Some("s3://b/p"), Some(4), true, Some(Variants::Gzipped))
        );
        let f = parse(
            "prune",
            &args(&["--keep", "3", "--older-than", "7d", "--apply"]),
        )
        .unwrap();
        assert_eq!(
            (f.keep, f.older_than.map(|d| d.as_secs()), f.apply),
            (Some(3), Some(7 * 86_400), true)
        );
        let f = parse(
            "verify",
            &args(&[
                "--cache-control",
                "public, max-age=60",
                "--variants",
                "none",
                "--virtual-hosted",
            ]),
        )
        .unwrap();
        assert_eq!(
            (f.cache_control.as_deref(), f.variants, f.virtual_hosted),
            (Some("public, max-age=60"), Some(Variants::None), true)
        );
        assert!(
            parse("verify", &args(&["--apply"]))
                .unwrap_err()
                .to_string()
                .contains("unknown argument `--apply`")
        );
        assert!(
            parse("publish", &args(&["--to"]))
                .unwrap_err()
                .to_string()
                .contains("--to needs a value")
        );
        assert!(
            parse("prune", &args(&["--keep", "x"]))
                .unwrap_err()
                .to_string()
                .contains("`x` is not a number")
        );
    }

    #[test]
    fn flags_win_over_metadata_which_wins_over_the_local_default() {
        let none = settings(&Flags::default(), &package(None)).unwrap();
        assert_eq!(
            none.connection.location,
            Location::File {
                path: "/w/target/asset-publish/app".into()
            }
        );

        let table: toml::Table = toml::from_str(
            "to = 's3://meta/p'\nregion = 'eu-west-1'\nvariants = 'none'\nconcurrency = 3\n",
        )
        .unwrap();
        let meta = settings(&Flags::default(), &package(Some(table.clone()))).unwrap();
        assert_eq!(
            meta.connection.location,
            Location::S3 {
                bucket: "meta".into(),
                prefix: "p".into()
            }
        );
        assert_eq!(
            (
                meta.connection.region.as_deref(),
                meta.variants,
                meta.concurrency
            ),
            (Some("eu-west-1"), Variants::None, 3)
        );

        let flags = Flags {
            to: Some("file:///x".into()),
            region: Some("us-west-2".into()),
            ..Flags::default()
        };
        let both = settings(&flags, &package(Some(table))).unwrap();
        assert_eq!(
            both.connection.location,
            Location::File { path: "/x".into() }
        );
        assert_eq!(both.connection.region.as_deref(), Some("us-west-2"));

        let bad: toml::Table = toml::from_str("bucket = 'x'").unwrap();
        assert!(
            settings(&Flags::default(), &package(Some(bad)))
                .unwrap_err()
                .to_string()
                .contains("unknown setting `bucket`")
        );
    }
}

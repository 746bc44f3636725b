//! The typed command line (clap): one struct per command, the flags each shares, and how
//! they combine with the environment, `[package.metadata.assets.publish]` and the defaults
//! into [`StoreSettings`].

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::{Error, Location, PackageInfo, StoreSettings, Variants};

/// Publish a package's built assets to object storage, check them there, prune old releases.
///
/// URL: s3://bucket/prefix, file:///path or a folder path. Settings, most specific first:
/// flags; the environment (ASSET_PUBLISH_TO, AWS_*); [package.metadata.assets.publish];
/// a local folder under target/asset-publish/.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", disable_version_flag = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// `publish`, `verify` or `prune`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the package, upload the assets its build script wrote, then write the manifest.
    Publish(PublishArgs),
    /// Check every object the destination's manifest names (size, headers; --deep: bytes).
    Verify(VerifyArgs),
    /// Delete what only dropped generations reference (a dry run without --apply).
    Prune(PruneArgs),
}

/// Where the destination is and how to reach it: flags every command takes.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// The destination: s3://bucket/prefix, file:///path or a folder.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// The package whose assets these are (default: [workspace.metadata.assets]
    /// default-package, else the one package with asset-build in [build-dependencies]).
    #[arg(long, short = 'p', value_name = "PKG")]
    pub package: Option<String>,
    /// The S3 endpoint (R2, Spaces, MinIO, ...).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The S3 region.
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// How compressed variants are stored.
    #[arg(long, value_enum)]
    pub variants: Option<Variants>,
    /// Virtual-hosted-style S3 requests (bucket.endpoint) instead of path-style.
    #[arg(long)]
    pub virtual_hosted: bool,
}

/// What publish writes, and verify checks: flags both take.
#[derive(Debug, Clone, Default, Args)]
pub struct ObjectArgs {
    /// Requests at once.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Cache-Control of the hashed files.
    #[arg(long, value_name = "V")]
    pub cache_control: Option<String>,
}

/// `publish`'s flags.
#[derive(Debug, Clone, Default, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub store: StoreArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub objects: ObjectArgs,
    /// The cargo profile to build the package in.
    #[arg(long, value_name = "P")]
    pub profile: Option<String>,
    /// List the destination even when its manifest is already this build's (puts back
    /// objects deleted by hand).
    #[arg(long)]
    pub relist: bool,
    /// List and plan only: print what would be uploaded.
    #[arg(long)]
    pub dry_run: bool,
    /// After the manifest is written, wait until this public URL (the CDN's base URL)
    /// serves this build's manifest with CORS, so a deploy script starts the new app only
    /// then.
    #[arg(long, value_name = "URL", conflicts_with = "dry_run")]
    pub wait_ready: Option<String>,
    /// The longest --wait-ready waits (90s, 30m, 1h).
    #[arg(long, value_name = "AGE", value_parser = age, default_value = "10m", requires = "wait_ready")]
    pub wait_timeout: Duration,
}

/// `verify`'s flags.
#[derive(Debug, Clone, Default, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub store: StoreArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub objects: ObjectArgs,
    /// Also fetch every object and compare its sha256, variants decoded.
    #[arg(long)]
    pub deep: bool,
    /// Also read stylesheets, scripts and fonts through this public URL, checking CORS and
    /// Content-Type.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The page origin sent with --base-url's requests.
    #[arg(long, value_name = "URL", requires = "base_url", default_value = crate::PublicCheck::DEFAULT_ORIGIN)]
    pub origin: String,
}

/// `prune`'s flags.
#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub store: StoreArgs,
    /// Keep the newest N generations.
    #[arg(long, value_name = "N")]
    pub keep: usize,
    /// Also keep generations younger than this (90s, 30m, 12h, 7d, 2w).
    #[arg(long, value_name = "AGE", value_parser = age)]
    pub older_than: Option<Duration>,
    /// Never delete generations published, or objects changed, within this time.
    #[arg(long, value_name = "AGE", value_parser = age, default_value = "1h")]
    pub grace: Duration,
    /// Delete (without it, only report what would be deleted).
    #[arg(long)]
    pub apply: bool,
}

fn age(s: &str) -> Result<Duration, Error> {
    crate::parse_age(s)
}

impl Command {
    /// The flags that say where the destination is.
    pub fn store(&self) -> &StoreArgs {
        match self {
            Command::Publish(a) => &a.store,
            Command::Verify(a) => &a.store,
            Command::Prune(a) => &a.store,
        }
    }

    /// The flags on what publish writes, for the commands that take them.
    pub fn objects(&self) -> Option<&ObjectArgs> {
        match self {
            Command::Publish(a) => Some(&a.objects),
            Command::Verify(a) => Some(&a.objects),
            Command::Prune(_) => None,
        }
    }
}

/// The keys `[package.metadata.assets.publish]` may hold.
const SETTINGS: [&str; 7] = [
    "to",
    "endpoint",
    "region",
    "cache-control",
    "variants",
    "concurrency",
    "virtual-hosted",
];

/// The destination and store settings for `pkg`, from flags, environment, metadata, defaults.
///
/// # Errors
/// An unknown metadata key, a bad URL or a bad `variants` value.
pub fn settings(command: &Command, pkg: &PackageInfo) -> Result<StoreSettings, Error> {
    let (store, objects) = (
        command.store(),
        command.objects().cloned().unwrap_or_default(),
    );
    let table = pkg.settings.clone().unwrap_or_default();
    let meta = |k: &str| table.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    if let Some(k) = table.keys().find(|k| !SETTINGS.contains(&k.as_str())) {
        return Err(Error::Config(format!(
            "[package.metadata.assets.publish]: unknown setting `{k}`"
        )));
    }
    let default = format!(
        "file://{}",
        pkg.target_dir
            .join("asset-publish")
            .join(&pkg.name)
            .display()
    );
    let to = store
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
    if let Some(e) = store.endpoint.clone().or_else(|| meta("endpoint")) {
        s.connection.endpoint = Some(e);
    }
    if let Some(r) = store.region.clone().or_else(|| meta("region")) {
        s.connection.region = Some(r);
    }
    if let Some(c) = objects.cache_control.or_else(|| meta("cache-control")) {
        s.cache_control = c;
    }
    if let Some(v) = store
        .variants
        .map(Ok)
        .or_else(|| meta("variants").map(|v| v.parse()))
    {
        s.variants = v?;
    }
    let meta_concurrency = || table.get("concurrency").and_then(|v| v.as_integer());
    if let Some(n) = objects
        .concurrency
        .or_else(|| meta_concurrency().map(|n| n.max(1) as usize))
    {
        s.concurrency = n.max(1);
    }
    s.connection.virtual_hosted |= store.virtual_hosted
        || table
            .get("virtual-hosted")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied()))
            .map(|c| c.command)
    }

    fn package(settings: Option<toml::Table>) -> PackageInfo {
        crate::locate::test_package("app", settings, "/w/target")
    }

    #[test]
    fn wait_ready_takes_a_url_and_a_timeout_and_not_a_dry_run() {
        let Ok(Command::Publish(p)) =
            parse(&["publish", "--wait-ready", "https://cdn.example.com/static/"])
        else {
            panic!("publish --wait-ready")
        };
        assert_eq!(
            (p.wait_ready.as_deref(), p.wait_timeout.as_secs()),
            (Some("https://cdn.example.com/static/"), 600)
        );
        let Ok(Command::Publish(p)) = parse(&[
            "publish",
            "--wait-ready",
            "https://c/",
            "--wait-timeout",
            "90s",
        ]) else {
            panic!("publish --wait-timeout")
        };
        assert_eq!(p.wait_timeout.as_secs(), 90);
        assert!(parse(&["publish", "--wait-ready", "https://c/", "--dry-run"]).is_err());
        assert!(parse(&["publish", "--wait-timeout", "90s"]).is_err());
    }

    #[test]
    fn flags_parse_per_command() {
        let Ok(Command::Publish(p)) = parse(&[
            "publish",
            "--to=s3://b/p",
            "--concurrency",
            "4",
            "--dry-run",
            "--variants",
            "gzipped",
        ]) else {
            panic!("publish")
        };
        assert_eq!(
            (
                p.store.to.as_deref(),
                p.objects.concurrency,
                p.dry_run,
                p.store.variants
            ),
            (Some("s3://b/p"), Some(4), true, Some(Variants::Gzipped))
        );
        let Ok(Command::Prune(p)) =
            parse(&["prune", "--keep", "3", "--older-than", "7d", "--apply"])
        else {
            panic!("prune")
        };
        assert_eq!(
            (p.keep, p.older_than.map(|d| d.as_secs()), p.apply, p.grace),
            (3, Some(7 * 86_400), true, crate::prune::DEFAULT_GRACE)
        );
        let Ok(Command::Verify(v)) = parse(&[
            "verify",
            "--cache-control",
            "public, max-age=60",
            "--variants",
            "none",
            "--virtual-hosted",
            "-p",
            "app",
        ]) else {
            panic!("verify")
        };
        assert_eq!(
            (
                v.objects.cache_control.as_deref(),
                v.store.variants,
                v.store.virtual_hosted,
                v.store.package.as_deref()
            ),
            (
                Some("public, max-age=60"),
                Some(Variants::None),
                true,
                Some("app")
            )
        );
    }

    #[test]
    fn bad_flags_are_refused_by_name() {
        for (args, says) in [
            (&["verify", "--apply"][..], "--apply"),
            (&["publish", "--to"], "--to"),
            (&["prune", "--keep", "x"], "invalid digit"),
            (&["prune"], "--keep"),
            (&["prune", "--keep", "1", "--grace", "soon"], "soon"),
            (&["verify", "--origin", "https://a"], "--base-url"),
            (&["publish", "--variants", "zip"], "separate"),
            (&["deploy"], "deploy"),
        ] {
            let e = parse(args).unwrap_err().to_string();
            assert!(e.contains(says), "{args:?}: {e}");
        }
        let help = parse(&["publish", "--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(help.to_string().contains("--dry-run"), "{help}");
    }

    #[test]
    fn flags_win_over_metadata_which_wins_over_the_local_default() {
        let none = settings(&Command::Verify(VerifyArgs::default()), &package(None)).unwrap();
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
        let meta = settings(
            &Command::Publish(PublishArgs::default()),
            &package(Some(table.clone())),
        )
        .unwrap();
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

        let flags = PublishArgs {
            store: StoreArgs {
                to: Some("file:///x".into()),
                region: Some("us-west-2".into()),
                ..StoreArgs::default()
            },
            ..PublishArgs::default()
        };
        let both = settings(&Command::Publish(flags), &package(Some(table))).unwrap();
        assert_eq!(
            both.connection.location,
            Location::File { path: "/x".into() }
        );
        assert_eq!(both.connection.region.as_deref(), Some("us-west-2"));

        let bad: toml::Table = toml::from_str("bucket = 'x'").unwrap();
        assert!(
            settings(&Command::Verify(VerifyArgs::default()), &package(Some(bad)))
                .unwrap_err()
                .to_string()
                .contains("unknown setting `bucket`")
        );
    }
}

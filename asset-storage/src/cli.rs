//! The `media` command line (`cargo xtask media sync ...`, `cargo xtask media gc ...`),
//! callable from any xtask: `asset_storage::cli::main(std::env::args().skip(2))`. The
//! arguments are typed (clap), one struct per command.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::{Error, Location, Settings, Storage};

/// `media`: copy media between stores, or remove what nobody confirmed.
#[derive(Debug, Parser)]
#[command(
    name = "media",
    about,
    after_help = "URL: s3://bucket/prefix, file:///path or a folder. Credentials: the AWS_* variables and profiles (AWS_PROFILE)."
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// One `media` command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy what the destination lacks, keeping keys, types, names and privacy.
    Sync(SyncArgs),
    /// Remove direct uploads nobody confirmed, used tickets' tombstones, staging and
    /// half-written files, and incomplete S3 multipart uploads, older than an age.
    Gc(GcArgs),
}

/// `media sync`'s flags.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Where the media are.
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// Where they go.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// The source's S3 endpoint (R2, MinIO, an emulator).
    #[arg(long, value_name = "URL")]
    pub from_endpoint: Option<String>,
    /// The source's region.
    #[arg(long, value_name = "R")]
    pub from_region: Option<String>,
    /// The source's AWS profile.
    #[arg(long, value_name = "P")]
    pub from_profile: Option<String>,
    /// The destination's S3 endpoint.
    #[arg(long, value_name = "URL")]
    pub to_endpoint: Option<String>,
    /// The destination's region.
    #[arg(long, value_name = "R")]
    pub to_region: Option<String>,
    /// The destination's AWS profile.
    #[arg(long, value_name = "P")]
    pub to_profile: Option<String>,
    /// Only say what would be copied.
    #[arg(long)]
    pub dry_run: bool,
}

/// `media gc`'s flags.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// The store (default: MEDIA_STORAGE).
    #[arg(long, value_name = "URL")]
    pub at: Option<String>,
    /// Only what is older than this (90s, 30m, 12h, 1d; at least MEDIA_URL_EXPIRY + 1h).
    #[arg(long, value_name = "AGE", value_parser = age, default_value = "1d")]
    pub older_than: Duration,
    /// Its S3 endpoint.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Its region.
    #[arg(long, value_name = "R")]
    pub region: Option<String>,
    /// Its AWS profile.
    #[arg(long, value_name = "P")]
    pub profile: Option<String>,
    /// Only say what would be removed.
    #[arg(long)]
    pub dry_run: bool,
}

fn age(s: &str) -> Result<Duration, Error> {
    crate::parse_age(s)
}

/// How to reach one store.
#[derive(Debug, Default, PartialEq, Eq)]
struct Side {
    url: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    profile: Option<String>,
}

fn open(side: &Side) -> Result<Storage, Error> {
    open_with(side, |_| {})
}

fn open_with(side: &Side, edit: impl FnOnce(&mut Settings)) -> Result<Storage, Error> {
    let location = Location::parse(side.url.as_deref().unwrap_or_default())?;
    let mut settings = Settings::new(location.clone());
    if let Some(p) = &side.profile {
        settings.store = crate::StoreConfig::from_env_profile(location, p);
    }
    if let Some(e) = &side.endpoint {
        settings.store.endpoint = Some(e.clone());
    }
    if let Some(r) = &side.region {
        settings.store.region = Some(r.clone());
    }
    // Sync and gc sign nothing: no need for (or warning about) a signing key.
    settings.signing_key = Some(crate::SigningKey::random()?);
    edit(&mut settings);
    Storage::new(settings)
}

/// Runs `media <command> ...` and returns the exit code: 0 on success (and for `--help`), 1
/// on failure (problems printed, secrets masked), 2 for arguments clap refuses.
pub fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let cli = match Cli::try_parse_from(std::iter::once("media".to_owned()).chain(args)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
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
    match runtime.block_on(run(&cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command, printing what it does.
///
/// # Errors
/// Bad settings, or whatever the command reports.
pub async fn run(command: &Command) -> Result<(), Error> {
    match command {
        Command::Sync(args) => sync(args).await,
        Command::Gc(args) => gc(args).await,
    }
}

async fn sync(args: &SyncArgs) -> Result<(), Error> {
    let from = open(&Side {
        url: Some(args.from.clone()),
        endpoint: args.from_endpoint.clone(),
        region: args.from_region.clone(),
        profile: args.from_profile.clone(),
    })?;
    let to = open(&Side {
        url: Some(args.to.clone()),
        endpoint: args.to_endpoint.clone(),
        region: args.to_region.clone(),
        profile: args.to_profile.clone(),
    })?;
    println!(
        "media sync {} -> {}{}",
        from.settings().store.location,
        to.settings().store.location,
        if args.dry_run { " (dry run)" } else { "" }
    );
    let say = |line: &str| println!("{line}");
    let summary = crate::sync(&from, &to, args.dry_run, &say).await?;
    for k in &summary.ignored {
        println!("ignored (not a media key): {k}");
    }
    println!("{summary}");
    Ok(())
}

/// `media gc`: the same store flags as one side of `sync`, under their plain names.
async fn gc(args: &GcArgs) -> Result<(), Error> {
    let env = Settings::from_env()?;
    let side = Side {
        url: Some(
            args.at
                .clone()
                .unwrap_or_else(|| env.store.location.to_string()),
        ),
        endpoint: args.endpoint.clone(),
        region: args.region.clone(),
        profile: args.profile.clone(),
    };
    let storage = open_with(&side, |s| s.url_expiry = env.url_expiry)?;
    println!(
        "media gc {}{}",
        storage.settings().store.location,
        if args.dry_run { " (dry run)" } else { "" }
    );
    let summary = storage
        .collect_garbage(args.older_than, args.dry_run)
        .await?;
    let verb = if args.dry_run { "would" } else { "did" };
    for k in &summary.removed {
        println!("{verb} remove {k}");
    }
    for k in &summary.aborted {
        println!("{verb} abort {k}");
    }
    println!("{summary}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("media").chain(args.iter().copied())).map(|c| c.command)
    }

    #[test]
    fn flags() {
        let Ok(Command::Sync(f)) = parse(&[
            "sync",
            "--from",
            "media",
            "--to=s3://b/m",
            "--to-endpoint",
            "http://127.0.0.1:9000",
            "--dry-run",
        ]) else {
            panic!("sync")
        };
        assert_eq!(
            (
                f.from.as_str(),
                f.to.as_str(),
                f.to_endpoint.as_deref(),
                f.dry_run
            ),
            ("media", "s3://b/m", Some("http://127.0.0.1:9000"), true)
        );
        assert!(parse(&["sync", "--from", "a"]).is_err());
        let e = parse(&["sync", "--from", "a", "--to", "b", "--bogus"]).unwrap_err();
        assert!(e.to_string().contains("--bogus"), "{e}");
        let Ok(Command::Gc(g)) = parse(&["gc", "--older-than", "2d", "--dry-run"]) else {
            panic!("gc")
        };
        assert_eq!(
            (g.older_than.as_secs(), g.dry_run, g.at),
            (2 * 86_400, true, None)
        );
        let Ok(Command::Gc(g)) = parse(&["gc"]) else {
            panic!("gc")
        };
        assert_eq!(g.older_than.as_secs(), 86_400);
        assert!(parse(&["gc", "--older-than", "soon"]).is_err());
    }
}

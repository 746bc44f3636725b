//! The `media` command line (`cargo xtask media sync ...`, `cargo xtask media gc ...`),
//! callable from any xtask:
//! `asset_storage::cli::main(std::env::args().skip(2))`.

use std::process::ExitCode;

use crate::{Error, Location, Settings, Storage};

const USAGE: &str = "usage:
  media sync --from URL --to URL [--dry-run]
             [--from-endpoint URL] [--from-region R] [--to-endpoint URL] [--to-region R]
  media gc [--at URL] [--older-than AGE] [--dry-run] [--endpoint URL] [--region R]
           removes direct uploads nobody confirmed (and used tickets' tombstones) older
           than AGE (default 1d; at least MEDIA_URL_EXPIRY + 1h); URL defaults to
           MEDIA_STORAGE
URL: s3://bucket/prefix, file:///path or a folder. Credentials: the AWS_* variables and
profiles (AWS_PROFILE); --from-profile/--to-profile/--profile pick a profile.";

#[derive(Debug, Default, PartialEq, Eq)]
struct Side {
    url: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    profile: Option<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Flags {
    from: Side,
    to: Side,
    dry_run: bool,
}

/// Walks `--name value` and `--name=value` arguments: `take` handles one flag, calling
/// `value()` for a flag that has one, and says whether it knew the flag.
fn each_flag(
    command: &str,
    args: &[String],
    mut take: impl FnMut(&str, &mut dyn FnMut() -> Result<String, Error>) -> Result<bool, Error>,
) -> Result<(), Error> {
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
        if !take(name, &mut value)? {
            return Err(Error::Config(format!(
                "media {command}: unknown argument `{arg}`\n{USAGE}"
            )));
        }
    }
    Ok(())
}

fn parse(args: &[String]) -> Result<Flags, Error> {
    let mut f = Flags::default();
    each_flag("sync", args, |name, value| {
        match name {
            "--from" => f.from.url = Some(value()?),
            "--to" => f.to.url = Some(value()?),
            "--from-endpoint" => f.from.endpoint = Some(value()?),
            "--to-endpoint" => f.to.endpoint = Some(value()?),
            "--from-region" => f.from.region = Some(value()?),
            "--to-region" => f.to.region = Some(value()?),
            "--from-profile" => f.from.profile = Some(value()?),
            "--to-profile" => f.to.profile = Some(value()?),
            "--dry-run" => f.dry_run = true,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if f.from.url.is_none() || f.to.url.is_none() {
        return Err(Error::Config(format!(
            "media sync needs --from and --to\n{USAGE}"
        )));
    }
    Ok(f)
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

/// Runs `media <command> ...` and returns the exit code (problems printed, secrets masked).
pub fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let args: Vec<String> = args.into_iter().collect();
    if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return if args.is_empty() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
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
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command with its arguments (`sync --from ... --to ...`).
///
/// # Errors
/// Bad arguments, or whatever the command reports.
pub async fn run(args: &[String]) -> Result<(), Error> {
    let Some((command, rest)) = args.split_first() else {
        return Err(Error::Config(USAGE.into()));
    };
    if command == "gc" {
        return gc(rest).await;
    }
    if command != "sync" {
        return Err(Error::Config(format!(
            "unknown media command `{command}`\n{USAGE}"
        )));
    }
    let flags = parse(rest)?;
    let (from, to) = (open(&flags.from)?, open(&flags.to)?);
    let (a, b) = (
        from.settings().store.location.to_string(),
        to.settings().store.location.to_string(),
    );
    println!(
        "media sync {a} -> {b}{}",
        if flags.dry_run { " (dry run)" } else { "" }
    );
    let say = |line: &str| println!("{line}");
    let summary = crate::sync(&from, &to, flags.dry_run, &say).await?;
    for k in &summary.ignored {
        println!("ignored (not a media key): {k}");
    }
    println!("{summary}");
    Ok(())
}

/// `media gc`: the same flags as one side of `sync`, under their plain names.
async fn gc(args: &[String]) -> Result<(), Error> {
    let mut side = Side::default();
    let (mut age, mut dry_run) = (std::time::Duration::from_secs(86_400), false);
    each_flag("gc", args, |name, value| {
        match name {
            "--at" => side.url = Some(value()?),
            "--endpoint" => side.endpoint = Some(value()?),
            "--region" => side.region = Some(value()?),
            "--profile" => side.profile = Some(value()?),
            "--older-than" => age = crate::parse_age(&value()?)?,
            "--dry-run" => dry_run = true,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let env = Settings::from_env()?;
    if side.url.is_none() {
        side.url = Some(env.store.location.to_string());
    }
    let storage = open_with(&side, |s| s.url_expiry = env.url_expiry)?;
    println!(
        "media gc {}{}",
        storage.settings().store.location,
        if dry_run { " (dry run)" } else { "" }
    );
    let summary = storage.collect_garbage(age, dry_run).await?;
    for k in &summary.removed {
        println!("{} {k}", if dry_run { "would remove" } else { "removed" });
    }
    println!("{summary}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn flags() {
        let f = parse(&args(&[
            "--from",
            "media",
            "--to=s3://b/m",
            "--to-endpoint",
            "http://127.0.0.1:9000",
            "--dry-run",
        ]))
        .unwrap();
        assert_eq!(f.from.url.as_deref(), Some("media"));
        assert_eq!(f.to.url.as_deref(), Some("s3://b/m"));
        assert_eq!(f.to.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(f.dry_run);
        assert!(parse(&args(&["--from", "a"])).is_err());
        let e = parse(&args(&["--from", "a", "--to", "b", "--bogus"])).unwrap_err();
        assert!(e.to_string().contains("unknown argument `--bogus`"), "{e}");
    }
}

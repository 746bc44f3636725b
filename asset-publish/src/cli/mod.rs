//! The command line of `publish`, `verify` and `prune`, shared by this workspace's xtask and
//! any user's: `asset_publish::cli::main(std::env::args().skip(1))`. The arguments are typed
//! ([`Cli`], clap), one struct per command; [`run`] takes them already parsed.
//!
//! Settings, most specific first: flags; environment (`ASSET_PUBLISH_TO`, `AWS_*`);
//! `[package.metadata.assets.publish]`; defaults (a local folder under `target/`).

mod args;
mod progress;

use std::process::ExitCode;

use clap::Parser as _;

pub use args::{Cli, Command, ObjectArgs, PruneArgs, PublishArgs, StoreArgs, VerifyArgs, settings};

use crate::{
    Error, Interrupt, PackageInfo, PruneOptions, PublicCheck, PublishOptions, StoreSettings,
    VerifyOptions,
};

/// Runs `publish`, `verify` or `prune` (the first argument) and returns the exit code:
/// 0 on success (and for `--help`), 1 on failure (every problem printed, secrets masked),
/// 2 for arguments clap refuses (with its message and usage).
pub fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let cli = match Cli::try_parse_from(std::iter::once("cargo xtask".to_owned()).chain(args)) {
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
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one parsed command in the current workspace, printing what it does.
///
/// # Errors
/// Bad settings, or whatever the command reports.
pub async fn run(command: &Command) -> Result<ExitCode, Error> {
    let pkg = crate::package(None, command.store().package.as_deref())?;
    let settings = settings(command, &pkg)?;
    match command {
        Command::Publish(args) => publish(&settings, &pkg, args).await,
        Command::Verify(args) => verify(&settings, args).await,
        Command::Prune(args) => prune(&settings, args).await,
    }
}

async fn publish(
    settings: &StoreSettings,
    pkg: &PackageInfo,
    args: &PublishArgs,
) -> Result<ExitCode, Error> {
    let options = PublishOptions {
        dry_run: args.dry_run,
        relist: args.relist,
        interrupt: Interrupt::on_signals(),
    };
    let profile = args.profile.as_deref();
    println!(
        "building {} (cargo build -p {}{}): its build script runs the asset pipeline",
        pkg.name,
        pkg.name,
        profile
            .map(|p| format!(" --profile {p}"))
            .unwrap_or_default()
    );
    let build = crate::locate(pkg, profile)?;
    println!(
        "publishing {} assets from {} to {}",
        build.manifest.assets.len(),
        build.tree.display(),
        settings.location()
    );
    let progress = progress::Printed::default();
    let (summary, plan) =
        crate::publish(settings, &build.manifest, &build.tree, &options, &progress).await?;
    if options.dry_run {
        for u in &plan.uploads {
            println!(
                "would upload {} ({} bytes, {}{})",
                u.key,
                u.size,
                u.content_type,
                u.content_encoding
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default()
            );
        }
    }
    println!("{summary}");
    if let Some(base) = &args.wait_ready {
        wait_ready(base, &build.manifest.id, args.wait_timeout).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Polls `<base>manifest.json` until it is build `id`'s, read with an `Origin` and answered
/// with CORS: what the app's readiness probe checks before it links the CDN.
async fn wait_ready(base: &str, id: &str, timeout: std::time::Duration) -> Result<(), Error> {
    use asset_runtime::probe::{ManifestCheck, WaitError, wait_until_serving};
    println!(
        "waiting (at most {} s) until {base} serves build {id}",
        timeout.as_secs()
    );
    let check = ManifestCheck::from_id(id.to_owned());
    let interval = std::time::Duration::from_secs(2);
    match wait_until_serving(base, &check, timeout, interval).await {
        Ok(served) => {
            println!("{base} serves build {served}: ready to roll out");
            Ok(())
        }
        Err(WaitError::TimedOut { after, last }) => Err(Error::Config(format!(
            "{base} did not serve build {id} within {} s: {last}",
            after.as_secs()
        ))),
        Err(e) => Err(Error::Config(format!("--wait-ready {base}: {e}"))),
    }
}

async fn verify(settings: &StoreSettings, args: &VerifyArgs) -> Result<ExitCode, Error> {
    let options = VerifyOptions {
        deep: args.deep,
        public: args.base_url.as_ref().map(|base_url| PublicCheck {
            base_url: base_url.clone(),
            origin: args.origin.clone(),
        }),
    };
    let report = crate::verify(settings, &options).await?;
    for w in &report.wrong {
        println!("wrong: {w}");
    }
    if !report.wrong.is_empty() {
        println!(
            "{} problem(s) at {}",
            report.wrong.len(),
            settings.location()
        );
        return Ok(ExitCode::FAILURE);
    }
    let n = report.manifest.files().count();
    println!(
        "verified build {} at {}: {n} objects, {} checked{}",
        report.manifest.id,
        settings.location(),
        n,
        if args.deep { " byte for byte" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

async fn prune(settings: &StoreSettings, args: &PruneArgs) -> Result<ExitCode, Error> {
    let options = PruneOptions {
        keep: args.keep,
        older_than: args.older_than,
        apply: args.apply,
        grace: args.grace,
    };
    let r = crate::prune(settings, &options).await?;
    for k in &r.spared {
        println!("spared {k}: a publish started using it during the prune");
    }
    let (deleted, removed, note) = if args.apply {
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

//! Publishing a build's assets to object storage (S3 and compatible stores, or a local
//! folder), for `cargo xtask publish`, `verify` and `prune`:
//! locate the build output -> plan (one listing; pure) -> upload what is missing -> commit the
//! generation record, then `manifest.json` last.
//!
//! It reads only what the build wrote (`manifest.json` and the files it names, see
//! `asset-manifest`), never runs the pipeline itself, so a publishing tool compiles no
//! minifier. A user's own xtask gets the same commands from one call:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     asset_publish::cli::main(std::env::args().skip(1))
//! }
//! ```
//!
//! Or from code, with the settings and options spelled out:
//!
//! ```no_run
//! # async fn f(build: asset_publish::BuildOutput) -> Result<(), asset_publish::Error> {
//! use asset_publish::{Location, PublishOptions, Quiet, StoreSettings};
//!
//! let settings = StoreSettings::from_env(Location::parse("s3://my-bucket/static")?);
//! let options = PublishOptions { dry_run: true, ..PublishOptions::default() };
//! let (summary, plan) =
//!     asset_publish::publish(&settings, &build.manifest, &build.tree, &options, &Quiet).await?;
//! println!("{summary}: {} to upload", plan.uploads.len());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod cli;
mod dest;
mod interrupt;
mod locate;
mod plan;
mod progress;
pub mod prune;
mod public;
mod remote;
mod upload;
mod verify;

use std::path::PathBuf;
use std::time::Duration;

pub use asset_manifest::{Encoding, Manifest};
pub use asset_storage::{Location, StoreConfig};
pub use dest::{StoreSettings, Variants};
pub use interrupt::Interrupt;
pub use locate::{BuildOutput, PackageInfo, locate, package};
pub use plan::{Plan, Remote, Upload, plan};
pub use progress::{Progress, Quiet};
pub use prune::{PruneOptions, PruneReport, apply as apply_prune, plan_prune, prune};
pub use public::{PublicCheck, check_public};
pub use upload::{PublishOptions, Summary, publish};
pub use verify::{VerifyOptions, VerifyReport, verify};

/// Where generation records live, below the prefix.
pub const GENERATIONS: &str = "manifests/";
/// `Cache-Control` of hashed files: cached for a year, never revalidated.
pub const IMMUTABLE: &str = asset_http::IMMUTABLE;
/// `Cache-Control` of `manifest.json`: always revalidated.
pub const SHORT: &str = "public, max-age=60, must-revalidate";

/// Why a publish, verify or prune failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad settings or arguments, or a destination that is not what it should be.
    #[error("{0}")]
    Config(String),
    /// Building the package, or reading what its build wrote.
    #[error("building the package: {0}")]
    Build(String),
    /// A store operation failed (after its retries); secrets masked.
    #[error("{op} {key}: {message}")]
    Store {
        /// What was being done (`uploading`, `listing`, ...).
        op: &'static str,
        /// The object (or destination) it was done to.
        key: String,
        /// The store's error, on one line.
        message: String,
    },
    /// A local file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The destination holds other bytes under a name of this build (never overwritten).
    #[error("{0}")]
    Conflict(String),
    /// Stopped by [`Interrupt`]: the uploads in flight were aborted, no manifest written.
    #[error("interrupted: nothing more was uploaded and manifest.json was not written")]
    Interrupted,
}

impl Error {
    /// A store error, with every secret of `settings` masked in its text.
    pub(crate) fn store(
        op: &'static str,
        key: impl Into<String>,
        e: object_store::Error,
        settings: &StoreSettings,
    ) -> Error {
        Error::Store {
            op,
            key: key.into(),
            message: settings.redact(&one_line(&e.to_string())),
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl From<asset_storage::Error> for Error {
    fn from(e: asset_storage::Error) -> Error {
        match e {
            asset_storage::Error::Io { path, source } => Error::Io { path, source },
            asset_storage::Error::Store { op, key, message } => Error::Store { op, key, message },
            e => Error::Config(e.to_string()),
        }
    }
}

/// A generation: one published manifest and when it was published (`manifests/<id>.json`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Generation {
    /// The manifest's id.
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub published_at_ms: u64,
    /// The manifest as published.
    pub manifest: Manifest,
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Parses `90s`, `30m`, `12h`, `7d`, `2w`.
///
/// # Errors
/// Anything else.
pub fn parse_age(s: &str) -> Result<Duration, Error> {
    Ok(asset_storage::parse_age(s)?)
}

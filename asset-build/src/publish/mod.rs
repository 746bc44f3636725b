//! Publishing a build's assets to object storage (S3 and compatible stores, or a local
//! folder), for `cargo xtask publish`, `verify` and `prune`:
//! locate the build output -> plan (one listing; pure) -> upload what is missing -> commit the
//! generation record, then `manifest.json` last.
//!
//! A user's own xtask gets the same commands from one call:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     asset_build::publish::cli::main(std::env::args().skip(1))
//! }
//! ```

pub mod cli;
mod dest;
mod locate;
mod plan;
pub mod prune;
mod public;
mod upload;
mod verify;

use std::path::PathBuf;
use std::time::Duration;

pub use asset_storage::{Location, StoreConfig};
pub use dest::{Interrupt, StoreSettings, Variants};
pub use locate::{BuildOutput, PackageInfo, locate, package};
pub use plan::{Plan, Remote, Upload, plan};
pub use prune::{PruneOptions, PruneReport, apply as apply_prune, plan_prune, prune};
pub use public::check_public;
pub use upload::{Summary, publish};
pub use verify::verify;

/// Where generation records live, below the prefix.
pub const GENERATIONS: &str = "manifests/";
/// `Cache-Control` of hashed files: cached for a year, never revalidated.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of `manifest.json`: always revalidated.
pub const SHORT: &str = "public, max-age=60, must-revalidate";

/// Why a publish, verify or prune failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("building the package: {0}")]
    Build(String),
    #[error("{op} {key}: {message}")]
    Store {
        op: &'static str,
        key: String,
        message: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Conflict(String),
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
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub published_at_ms: u64,
    pub manifest: crate::Manifest,
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

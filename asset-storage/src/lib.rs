//! Media storage: the files an app's users upload, on S3 (or any S3-compatible store) or a
//! local folder, behind one API that is safe by default.
//!
//! - The server names every object: `<public|private>/<use>/<128 random bits>/<clean name>`.
//!   A client's file name never becomes a path, nothing escapes the storage's prefix, and a
//!   save never overwrites.
//! - Uploads stream (never whole in memory) under a size cap; their type is sniffed from the
//!   bytes and checked against the declared type, the extension and a per-use allowlist.
//! - Objects are private by default, read through expiring signed URLs (S3's own presigning,
//!   or an HMAC the local [`Storage::service`] checks); public ones get plain URLs from a base
//!   URL (a CDN) with no request to the store.
//! - Direct browser uploads through presigned PUTs ([`Storage::upload_ticket`], then
//!   [`Storage::confirm_upload`]), thumbnails made once ([`Storage::thumbnail`]), copying
//!   between stores ([`sync`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), asset_storage::Error> {
//! use asset_storage::{Policy, Storage, TypeSet};
//! let storage = Storage::from_env()?; // MEDIA_STORAGE=s3://bucket/media, or ./media
//! let avatars = Policy::new("avatars")?.types(TypeSet::images()).max_size(5 << 20).public();
//! let file = tokio::fs::File::open("me.png").await.unwrap();
//! let body = tokio_util::io::ReaderStream::new(file);
//! let saved = storage.save(&avatars, "me.png", Some("image/png"), body).await?;
//! println!("{}", storage.url(&saved).await?);
//! # Ok(()) }
//! ```
//!
//! The same [`store::StoreConfig`] opens the store of `cargo xtask publish`.

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "axum")]
mod form;
mod idle;
mod name;
#[cfg(feature = "axum")]
mod serve;
pub mod sign;
pub mod sniff;
mod storage;
pub mod store;
mod sync;
#[cfg(feature = "thumbnails")]
mod thumb;

use std::path::PathBuf;

pub use name::{MAX_FILE_NAME, MAX_KEY, Visibility, check_key, clean_file_name};
#[cfg(feature = "axum")]
pub use serve::MediaService;
pub use sign::SigningKey;
pub use sniff::{Family, Kind, TypeSet};
pub use storage::{
    Budgets, CONFIRM_GRACE, Clock, Download, GcSummary, ListEntry, Object, PENDING_DIR,
    PRIVATE_CACHE, PUBLIC_CACHE, Page, Policy, Settings, Storage, UploadTicket,
};
pub use store::{Location, StoreConfig};
pub use sync::{SyncSummary, sync};
#[cfg(feature = "thumbnails")]
pub use thumb::ThumbSize;

/// Why a storage operation failed. [`Error::status`] gives the HTTP status a handler should
/// answer with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Settings that cannot work (500).
    #[error("{0}")]
    Config(String),
    /// A key or file name that cannot be used (400), and why.
    #[error("invalid name `{name}`: {reason}")]
    InvalidName {
        /// The name, made printable.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// More bytes than the policy, ticket or budget allows (413).
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// A type the policy does not accept (415).
    #[error("files of type {detected} are not accepted here (accepted: {allowed})")]
    TypeNotAllowed {
        /// The type the bytes (or the declaration) have.
        detected: String,
        /// What the policy accepts, for the message.
        allowed: String,
    },
    /// Bytes that are not what the client or the name says (415).
    #[error("the file's bytes are {detected}, which does not match {claimed}")]
    TypeMismatch {
        /// The type sniffed from the bytes.
        detected: String,
        /// What was claimed (a type or an extension).
        claimed: String,
    },
    /// No object at the key (404).
    #[error("no object `{key}`")]
    NotFound {
        /// The key asked for.
        key: String,
    },
    /// An object at the key already (409): keys are never overwritten.
    #[error("an object `{key}` already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// A request body that is malformed or breaks a form's limits (400).
    #[error("reading the upload: {0}")]
    Body(String),
    /// A token or signature that does not hold (403).
    #[error("{0}")]
    Forbidden(String),
    /// A client that sent nothing for longer than the budget allows (408).
    #[error("{what}: nothing arrived for {} s", after.as_secs())]
    Timeout {
        /// What stalled (`the upload`, `the form`).
        what: &'static str,
        /// The budget it broke ([`Budgets::upload_idle`]).
        after: std::time::Duration,
    },
    /// No room within the budget of uploads at once (503).
    #[error("{0}")]
    Busy(String),
    /// An original a thumbnail cannot be made from (422).
    #[error("{key}: not an image we can read: {message}")]
    Image {
        /// The original's key.
        key: String,
        /// Why.
        message: String,
    },
    /// The store failed (502); the message stays in the server's log.
    #[error("{op} {key}: {message}")]
    Store {
        /// What was being done (`saving`, `reading`, ...).
        op: &'static str,
        /// The key it was done to.
        key: String,
        /// The store's message, credentials redacted.
        message: String,
    },
    /// A local file could not be read or written (500).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

impl Error {
    /// The HTTP status for this error: 400 bad name or body, 403, 404, 408 stalled, 409, 413
    /// too large, 503 over the budget of uploads at once,
    /// 415 wrong type, 422 unreadable image, 500/502 for configuration and store failures.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Error::InvalidName { .. } | Error::Body(_) => S::BAD_REQUEST,
            Error::TooLarge { .. } => S::PAYLOAD_TOO_LARGE,
            Error::TypeNotAllowed { .. } | Error::TypeMismatch { .. } => S::UNSUPPORTED_MEDIA_TYPE,
            Error::NotFound { .. } => S::NOT_FOUND,
            Error::AlreadyExists { .. } => S::CONFLICT,
            Error::Forbidden(_) => S::FORBIDDEN,
            Error::Timeout { .. } => S::REQUEST_TIMEOUT,
            Error::Busy(_) => S::SERVICE_UNAVAILABLE,
            Error::Image { .. } => S::UNPROCESSABLE_ENTITY,
            Error::Store { .. } => S::BAD_GATEWAY,
            Error::Config(_) | Error::Io { .. } => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short machine-readable code (`too_large`, `type_not_allowed`, ...), for JSON errors.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::InvalidName { .. } => "invalid_name",
            Error::TooLarge { .. } => "too_large",
            Error::TypeNotAllowed { .. } => "type_not_allowed",
            Error::TypeMismatch { .. } => "type_mismatch",
            Error::NotFound { .. } => "not_found",
            Error::AlreadyExists { .. } => "already_exists",
            Error::Body(_) => "bad_body",
            Error::Forbidden(_) => "forbidden",
            Error::Timeout { .. } => "timeout",
            Error::Busy(_) => "busy",
            Error::Image { .. } => "bad_image",
            Error::Store { .. } => "store",
            Error::Io { .. } => "io",
        }
    }

    /// A store error on `key`, with every secret of `config` masked.
    pub fn store(
        op: &'static str,
        key: impl Into<String>,
        e: object_store::Error,
        config: &StoreConfig,
    ) -> Error {
        let key = key.into();
        match e {
            object_store::Error::NotFound { .. } => Error::NotFound { key },
            object_store::Error::AlreadyExists { .. } => Error::AlreadyExists { key },
            e => Error::Store {
                op,
                key,
                message: config.redact(&one_line(&e.to_string())),
            },
        }
    }
}

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses `90s`, `30m`, `12h`, `7d`, `2w`.
///
/// # Errors
/// Anything else.
pub fn parse_age(s: &str) -> Result<std::time::Duration, Error> {
    let bad = || Error::Config(format!("`{s}` is not an age like 90s, 30m, 12h, 7d or 2w"));
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    Ok(std::time::Duration::from_secs(n * secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(parse_age("90s").unwrap(), Duration::from_secs(90));
        assert!(parse_age("7").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("3y").is_err());
    }
}

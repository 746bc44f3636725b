//! [`Settings`] of a storage and the [`Policy`] of one use of uploads.

use std::time::Duration;

use crate::name::{self, Visibility};
use crate::sniff::TypeSet;
use crate::store::{Location, StoreConfig};
use crate::{Error, SigningKey};

/// `Cache-Control` of public objects: a key is never reused, so they never change.
pub const PUBLIC_CACHE: &str = asset_http::IMMUTABLE;
/// `Cache-Control` of private objects.
pub const PRIVATE_CACHE: &str = "private, max-age=3600";

/// Settings of a [`Storage`], from code or from the environment ([`Settings::from_env`]).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the objects are and how to reach them.
    pub store: StoreConfig,
    /// Where public objects are read: a CDN or custom domain in front of the bucket, or
    /// where the app mounts [`Storage::service`] for a local folder. Default: the bucket's
    /// own URL for S3, `/media/` for a local folder.
    pub base_url: Option<String>,
    /// The local backend's URL signing key; `None`: a random one (with a warning).
    pub signing_key: Option<SigningKey>,
    /// How long signed URLs and upload tickets stay valid.
    pub url_expiry: Duration,
    /// `Cache-Control` of public objects ([`PUBLIC_CACHE`]).
    pub public_cache_control: String,
    /// `Cache-Control` of private objects ([`PRIVATE_CACHE`]).
    pub private_cache_control: String,
    /// Origins that may read and PUT through the local service (CORS).
    pub cors_origins: Vec<String>,
    /// Uploads larger than this go to the store in parts of this size.
    pub part_size: usize,
    /// S3 storage class of new objects (`STANDARD_IA`, `INTELLIGENT_TIERING`, ...).
    pub storage_class: Option<String>,
    /// What the work of one request may cost (thumbnails, uploads at once, stalls).
    pub budgets: Budgets,
}

/// What the server may spend on work a visitor's request starts, beyond the upload itself
/// (whose budget is the policy's size cap and, for forms, [`crate::axum::FormLimits`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budgets {
    /// Pixels (width x height) of an image a thumbnail is made from, read from its header
    /// before anything is decoded: 24 million (6000 x 4000). A thumbnail's intermediates are
    /// never larger than the decoded original: the crop comes before the scaling, the scaling
    /// reads the original in place, and thumbnails are never larger than what they show.
    pub thumbnail_pixels: u64,
    /// Bytes the image decoder may allocate for one original: 256 MiB (a 24-megapixel image
    /// with 16-bit RGBA channels takes 192 MiB).
    pub thumbnail_memory: u64,
    /// Thumbnails made at once by one storage; the others wait their turn: 2.
    pub thumbnails_at_once: usize,
    /// Largest original read for a thumbnail: 64 MiB.
    pub thumbnail_source_bytes: u64,
    /// Uploads (saves, forms' files, the local service's PUTs) streaming at once: 32. Each
    /// holds at most one part ([`Settings::part_size`]) in memory and one open multipart
    /// upload, so this bounds both. An upload that finds no room within
    /// [`Budgets::upload_idle`] is refused with 503.
    pub uploads_at_once: usize,
    /// Longest wait for the next bytes of an upload (or for room to start one): 30 s. A
    /// stalled upload fails with 408 and leaves nothing.
    pub upload_idle: Duration,
}

impl Default for Budgets {
    fn default() -> Budgets {
        Budgets {
            thumbnail_pixels: 24_000_000,
            thumbnail_memory: 256 << 20,
            thumbnails_at_once: 2,
            thumbnail_source_bytes: 64 << 20,
            uploads_at_once: 32,
            upload_idle: Duration::from_secs(30),
        }
    }
}

impl Settings {
    /// Defaults for `location`, connection settings from the standard `AWS_*` variables.
    pub fn new(location: Location) -> Settings {
        Settings {
            store: StoreConfig::from_env(location),
            base_url: None,
            signing_key: None,
            url_expiry: Duration::from_secs(3600),
            public_cache_control: PUBLIC_CACHE.into(),
            private_cache_control: PRIVATE_CACHE.into(),
            cors_origins: Vec::new(),
            part_size: 8 << 20,
            storage_class: None,
            budgets: Budgets::default(),
        }
    }

    /// Settings from the environment:
    /// `MEDIA_STORAGE` (`s3://bucket/prefix`, `file:///path` or a folder; default `media`),
    /// `MEDIA_BASE_URL`, `MEDIA_SIGNING_KEY` (32+ bytes), `MEDIA_URL_EXPIRY` (`1h`),
    /// `MEDIA_CACHE_CONTROL`, `MEDIA_STORAGE_CLASS`, `MEDIA_CORS_ORIGINS` (comma-separated),
    /// and for S3 the
    /// `AWS_*` variables and profiles.
    ///
    /// # Errors
    /// A variable that does not parse.
    pub fn from_env() -> Result<Settings, Error> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let location = Location::parse(&var("MEDIA_STORAGE").unwrap_or_else(|| "media".into()))?;
        let mut s = Settings::new(location);
        s.base_url = var("MEDIA_BASE_URL");
        if let Some(k) = var("MEDIA_SIGNING_KEY") {
            s.signing_key = Some(SigningKey::new(k)?);
        }
        if let Some(e) = var("MEDIA_URL_EXPIRY") {
            s.url_expiry = crate::parse_age(&e)?;
        }
        if let Some(c) = var("MEDIA_CACHE_CONTROL") {
            s.public_cache_control = c;
        }
        s.storage_class = var("MEDIA_STORAGE_CLASS");
        if let Some(o) = var("MEDIA_CORS_ORIGINS") {
            s.cors_origins = o
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
        }
        Ok(s)
    }
}

/// What one use of uploads accepts (avatars, invoices, ...): its key prefix, types, size
/// cap and visibility.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) prefix: String,
    pub(crate) types: TypeSet,
    pub(crate) max_size: u64,
    pub(crate) visibility: Visibility,
    pub(crate) cache_control: Option<String>,
}

impl Policy {
    /// A private use under `prefix` (e.g. `avatars`) accepting [`TypeSet::documents`] up to
    /// 10 MiB.
    ///
    /// # Errors
    /// A prefix with anything but lowercase letters, digits, `-`, `_` and `/`.
    pub fn new(prefix: &str) -> Result<Policy, Error> {
        name::check_use_prefix(prefix)?;
        Ok(Policy {
            prefix: prefix.to_owned(),
            types: TypeSet::documents(),
            max_size: 10 << 20,
            visibility: Visibility::Private,
            cache_control: None,
        })
    }
    /// The types accepted (default: documents).
    pub fn types(mut self, types: TypeSet) -> Policy {
        self.types = types;
        self
    }
    /// The largest file accepted, in bytes (default: 10 MiB).
    pub fn max_size(mut self, bytes: u64) -> Policy {
        self.max_size = bytes;
        self
    }
    /// Objects readable by anyone at their plain URL.
    pub fn public(mut self) -> Policy {
        self.visibility = Visibility::Public;
        self
    }
    /// Objects read only through signed, expiring URLs (the default).
    pub fn private(mut self) -> Policy {
        self.visibility = Visibility::Private;
        self
    }
    /// Public or private, from a value.
    pub fn visibility(mut self, v: Visibility) -> Policy {
        self.visibility = v;
        self
    }
    /// `Cache-Control` for this use's objects instead of the storage's.
    pub fn cache_control(mut self, value: &str) -> Policy {
        self.cache_control = Some(value.to_owned());
        self
    }
    /// The largest file accepted, in bytes.
    pub fn max(&self) -> u64 {
        self.max_size
    }
    /// The use prefix (`avatars`): the second segment of every key it makes.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    /// The start of every key this use makes.
    pub(crate) fn key_start(&self) -> String {
        format!("{}/{}/", self.visibility.as_str(), self.prefix)
    }
}

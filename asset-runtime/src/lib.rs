//! Run-time half of the asset pipeline: the assets a crate's build script produced (see
//! `asset-build`), their URLs under a base URL chosen at start-up (a CDN, or the app's own
//! prefix), HTML tags with Subresource Integrity, and a tower service that serves the embedded
//! files.
//!
//! ```text
//! asset_runtime::include_assets!(); // first item of lib.rs / main.rs: defines ASSETS and asset!
//!
//! fn page() -> String {
//!     format!("<link rel=stylesheet href=\"{}\">", asset!("css/app.css"))
//! }
//! ```
//!
//! With a CDN base URL, the readiness probe (feature `probe`, module `probe`) keeps URLs on the
//! app's own `/static/` until the CDN serves this build; [`Assets::health`] reports where they
//! point.

mod base;
mod health;
mod html;
#[cfg(feature = "probe")]
pub mod probe;
mod serve;
mod state;

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

pub use asset_runtime_macros::__unknown_asset;
pub use base::{
    BaseUrlError, DEFAULT_PREFIX, PinnedBase, base_url, configured_base_url, init_from_env,
    pin_base, set_base_url,
};
pub use health::Health;
pub use serve::ServeAssets;
pub use state::{AssetState, ProbeRecord, Reason, asset_state, last_probe};

/// Includes the code the build script generated: `ASSETS` and the `asset!` macro. Put it
/// first in `lib.rs` or `main.rs`, so that `asset!` is in scope in every module after it.
#[macro_export]
macro_rules! include_assets {
    () => {
        include!(concat!(env!("OUT_DIR"), "/asset_runtime.rs"));
    };
}

/// One asset: its logical path, hashed path, integrity and (when embedded) its bytes.
/// `Display` writes its URL.
#[derive(Debug)]
pub struct Asset {
    path: &'static str,
    hashed: &'static str,
    url_path: &'static str,
    size: u64,
    content_type: &'static str,
    integrity: &'static str,
    sha256: &'static str,
    body: Option<&'static [u8]>,
    br: Option<&'static [u8]>,
    gzip: Option<&'static [u8]>,
}

impl Asset {
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn __new(
        path: &'static str,
        hashed: &'static str,
        url_path: &'static str,
        size: u64,
        content_type: &'static str,
        integrity: &'static str,
        sha256: &'static str,
        body: Option<&'static [u8]>,
        br: Option<&'static [u8]>,
        gzip: Option<&'static [u8]>,
    ) -> Asset {
        Asset {
            path,
            hashed,
            url_path,
            size,
            content_type,
            integrity,
            sha256,
            body,
            br,
            gzip,
        }
    }

    /// The logical path, as written in `asset!`: `css/app.css`.
    pub fn path(&self) -> &'static str {
        self.path
    }
    /// The hashed path relative to the base URL: `css/app.3f2a...css`.
    pub fn hashed_path(&self) -> &'static str {
        self.hashed
    }
    /// The full URL: base URL + hashed path (percent-encoded).
    pub fn url(&self) -> String {
        self.to_string()
    }
    /// `sha384-...`, for the `integrity` attribute.
    pub fn integrity(&self) -> &'static str {
        self.integrity
    }
    /// The `Content-Type` it is served with.
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }
    /// Size in bytes, uncompressed.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// sha256 of the bytes, hex.
    pub fn sha256(&self) -> &'static str {
        self.sha256
    }
    /// The bytes, if the build embedded them.
    pub fn bytes(&self) -> Option<&'static [u8]> {
        self.body
    }
    pub(crate) fn variant(&self, enc: serve::Coding) -> Option<&'static [u8]> {
        match enc {
            serve::Coding::Br => self.br,
            serve::Coding::Gzip => self.gzip,
            serve::Coding::Identity => self.body,
        }
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(base_url())?;
        f.write_str(self.url_path)
    }
}

/// Every asset of a crate (the generated `ASSETS`).
#[derive(Debug)]
pub struct Assets {
    list: &'static [Asset],
    embedded: bool,
    id: &'static str,
    by_url: OnceLock<HashMap<&'static str, (usize, bool)>>,
}

impl Assets {
    #[doc(hidden)]
    pub const fn __new(list: &'static [Asset], embedded: bool) -> Assets {
        Assets::__with_id(list, embedded, "")
    }

    #[doc(hidden)]
    pub const fn __with_id(list: &'static [Asset], embedded: bool, id: &'static str) -> Assets {
        Assets {
            list,
            embedded,
            id,
            by_url: OnceLock::new(),
        }
    }

    /// The id of this build's manifest (`manifest.json`'s `id`): what the readiness probe
    /// expects at the CDN. Empty for code generated before ids were carried.
    pub fn manifest_id(&self) -> &'static str {
        self.id
    }

    /// The asset at a logical path that is only known at run time.
    pub fn get(&self, path: &str) -> Option<&'static Asset> {
        self.list
            .binary_search_by(|a| a.path.cmp(path))
            .ok()
            .map(|i| &self.list[i])
    }
    /// Every asset, sorted by logical path.
    pub fn iter(&self) -> impl Iterator<Item = &'static Asset> {
        self.list.iter()
    }
    /// Whether the files are in the binary (else only a CDN serves them).
    pub fn embedded(&self) -> bool {
        self.embedded
    }
    /// Sets the base URL from `ASSET_BASE_URL` (see [`init_from_env`]) and checks that the
    /// URLs can be served: a build that does not embed its files needs a base URL.
    ///
    /// # Errors
    /// A malformed `ASSET_BASE_URL`, or none for a CDN-only build.
    pub fn init_from_env(&self) -> Result<(), BaseUrlError> {
        base::init_from_env()?;
        self.check_base_url()
    }

    /// Whether the current base URL can serve these assets: a build that does not embed its
    /// files needs a base URL other than the app's own prefix.
    ///
    /// # Errors
    /// No base URL set for a CDN-only build.
    pub fn check_base_url(&self) -> Result<(), BaseUrlError> {
        if !self.embedded && base_url() == DEFAULT_PREFIX {
            return Err(BaseUrlError {
                value: DEFAULT_PREFIX.to_owned(),
                reason: "this build does not embed its assets (embed = false): set ASSET_BASE_URL to where they are published",
            });
        }
        Ok(())
    }

    /// A tower service serving the embedded files; nest it where the base URL points,
    /// e.g. `Router::new().nest_service("/static", ASSETS.service())`.
    pub fn service(&'static self) -> ServeAssets {
        ServeAssets::new(self)
    }

    /// The asset served at a (decoded) path below the prefix, and whether it is the hashed
    /// (immutable) name.
    pub(crate) fn by_served_path(&self, path: &str) -> Option<(&'static Asset, bool)> {
        let map = self.by_url.get_or_init(|| {
            let mut m = HashMap::with_capacity(self.list.len() * 2);
            for (i, a) in self.list.iter().enumerate() {
                m.insert(a.path, (i, false));
                m.insert(a.hashed, (i, true));
            }
            m
        });
        map.get(path).map(|&(i, hashed)| (&self.list[i], hashed))
    }
}

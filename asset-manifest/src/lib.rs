//! `manifest.json`: the one contract between the build (`asset-build` writes it and the
//! generated code from it), the app (`asset-runtime` serves what that code names) and
//! publishing (`asset-publish` uploads exactly the files it names, and commits it last).
//!
//! ```
//! use std::collections::BTreeMap;
//! use asset_manifest::{Encoding, Entry, Manifest, Variant};
//!
//! let entry = Entry {
//!     path: "css/app.0123456789abcdef.css".into(),
//!     size: 120,
//!     content_type: "text/css".into(),
//!     integrity: "sha384-...".into(),
//!     sha256: "...".into(),
//!     encodings: BTreeMap::from([(
//!         Encoding::Br,
//!         Variant { path: "css/app.0123456789abcdef.css.br".into(), size: 80 },
//!     )]),
//! };
//! let m = Manifest::new(BTreeMap::from([("css/app.css".to_owned(), entry)]));
//! assert_eq!(Manifest::from_json(&m.to_json()).unwrap(), m);
//! assert_eq!(m.files().count(), 2);
//! ```

#![warn(missing_docs)]

pub mod hash;

mod encoding;
mod url;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use encoding::Encoding;
pub use url::percent_encode_path;

/// The format version written into every manifest.
pub const VERSION: u32 = 1;

/// The file name of the manifest in an output tree and at a publish destination.
pub const FILE_NAME: &str = "manifest.json";
/// The build script's output tree inside `OUT_DIR` (generated code refers to it; publish reads
/// the files from it).
pub const TREE: &str = "assets";

/// Every asset of one build, by logical path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`VERSION`].
    pub version: u32,
    /// sha256 over the assets table: names this build (a publish generation, an ETag salt).
    pub id: String,
    /// Every asset, by logical path (`css/app.css`).
    pub assets: BTreeMap<String, Entry>,
}

/// One asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Hashed path, relative, `/`-separated: where the file is in the output tree.
    pub path: String,
    /// Size in bytes of the file as shipped (identity encoding).
    pub size: u64,
    /// The `Content-Type` it is served with.
    pub content_type: String,
    /// `sha384-...` for Subresource Integrity.
    pub integrity: String,
    /// sha256 of the bytes as shipped, hex (the ETag, and what `verify --deep` compares).
    pub sha256: String,
    /// Precompressed variants by `Content-Encoding` token (`br`, `gzip`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encodings: BTreeMap<Encoding, Variant>,
}

/// A precompressed variant stored beside its asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Hashed path plus `.br` or `.gz`.
    pub path: String,
    /// Size in bytes of the compressed file.
    pub size: u64,
}

/// A manifest (or an encoding's name) that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not JSON of the manifest's shape.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// A format version this code does not know.
    #[error("manifest version {found} is not supported (expected {VERSION})")]
    Version {
        /// The version the manifest declares.
        found: u32,
    },
    /// A `Content-Encoding` token that is not one of ours.
    #[error("content coding `{0}`: expected br or gzip")]
    UnknownEncoding(String),
}

impl Manifest {
    /// A manifest over `assets`, with its id computed.
    pub fn new(assets: BTreeMap<String, Entry>) -> Manifest {
        let body = serde_json::to_vec(&assets).expect("manifest entries serialize");
        Manifest {
            version: VERSION,
            id: hash::sha256_hex(&body)[..32].to_owned(),
            assets,
        }
    }

    /// Parses a manifest, checking its version.
    ///
    /// # Errors
    /// Not JSON of this shape, or a version this code does not know.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, Error> {
        let m: Manifest = serde_json::from_slice(bytes)?;
        if m.version != VERSION {
            return Err(Error::Version { found: m.version });
        }
        Ok(m)
    }

    /// Pretty JSON with a final newline; the same manifest always gives the same bytes.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("manifest serializes");
        v.push(b'\n');
        v
    }

    /// Every file the manifest names, with its size: the hashed files and their variants.
    pub fn files(&self) -> impl Iterator<Item = (&str, u64)> {
        self.assets.values().flat_map(|e| {
            std::iter::once((e.path.as_str(), e.size))
                .chain(e.encodings.values().map(|v| (v.path.as_str(), v.size)))
        })
    }
}

impl Entry {
    /// The hashed path as it stands in a URL (percent-encoded).
    pub fn url_path(&self) -> String {
        percent_encode_path(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(encodings: &[(Encoding, u64)]) -> Entry {
        Entry {
            path: "a.1.css".into(),
            size: 10,
            content_type: "text/css".into(),
            integrity: "sha384-x".into(),
            sha256: "00".into(),
            encodings: encodings
                .iter()
                .map(|&(e, size)| {
                    let path = e.variant_path("a.1.css");
                    (e, Variant { path, size })
                })
                .collect(),
        }
    }

    #[test]
    fn encodings_are_keyed_by_their_tokens_in_token_order() {
        let m = Manifest::new(BTreeMap::from([(
            "a.css".to_owned(),
            entry(&[(Encoding::Gzip, 4), (Encoding::Br, 3)]),
        )]));
        let json = String::from_utf8(m.to_json()).unwrap();
        let br = json.find("\"br\": {").unwrap();
        let gzip = json.find("\"gzip\": {").unwrap();
        assert!(br < gzip, "{json}");
        assert_eq!(Manifest::from_json(json.as_bytes()).unwrap(), m);
    }

    #[test]
    fn no_variants_leaves_the_key_out() {
        let m = Manifest::new(BTreeMap::from([("a.css".to_owned(), entry(&[]))]));
        let json = String::from_utf8(m.to_json()).unwrap();
        assert!(!json.contains("encodings"), "{json}");
    }

    #[test]
    fn another_version_is_refused() {
        let json = br#"{"version": 2, "id": "x", "assets": {}}"#;
        assert_eq!(
            Manifest::from_json(json).unwrap_err().to_string(),
            "manifest version 2 is not supported (expected 1)"
        );
    }
}

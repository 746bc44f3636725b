//! `manifest.json`: the one contract between the build, the runtime and `cargo xtask publish`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    pub version: u32,
    /// sha256 over the assets table: names this build (a publish generation, an ETag salt).
    pub id: String,
    pub assets: BTreeMap<String, Entry>,
}

/// One asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Hashed path, relative, `/`-separated: where the file is in the output tree.
    pub path: String,
    /// Size in bytes of the file as shipped (identity encoding).
    pub size: u64,
    pub content_type: String,
    /// `sha384-...` for Subresource Integrity.
    pub integrity: String,
    /// sha256 of the bytes as shipped, hex (the ETag, and what `verify --deep` compares).
    pub sha256: String,
    /// Precompressed variants by `Content-Encoding` token (`br`, `gzip`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encodings: BTreeMap<String, Variant>,
}

/// A precompressed variant stored beside its asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Hashed path plus `.br` or `.gz`.
    pub path: String,
    pub size: u64,
}

impl Manifest {
    /// A manifest over `assets`, with its id computed.
    pub fn new(assets: BTreeMap<String, Entry>) -> Manifest {
        let body = serde_json::to_vec(&assets).expect("manifest entries serialize");
        Manifest {
            version: VERSION,
            id: crate::hash::sha256_hex(&body)[..32].to_owned(),
            assets,
        }
    }

    /// Parses a manifest, checking its version.
    ///
    /// # Errors
    /// Not JSON of this shape, or a version this code does not know.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if m.version != VERSION {
            return Err(format!(
                "manifest version {} is not supported (expected {VERSION})",
                m.version
            ));
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

//! The publish plan: from the manifest and one listing of the destination, which objects to
//! upload (with their headers) and which are already there. Pure: `--dry-run` prints it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Error, Variants};
use crate::manifest::Manifest;

/// One object to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Key below the prefix.
    pub key: String,
    /// The local file with the bytes.
    pub file: PathBuf,
    pub size: u64,
    pub content_type: String,
    pub content_encoding: Option<&'static str>,
}

/// What a publish will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub uploads: Vec<Upload>,
    /// Keys already at the destination with the right size.
    pub present: Vec<String>,
    /// Precompressed variants at the destination with another size: equivalent if they
    /// decode to the same bytes (another compression level or encoder version), which publish
    /// checks before uploading anything; they are never overwritten.
    pub recheck: Vec<Upload>,
}

impl Plan {
    pub fn upload_bytes(&self) -> u64 {
        self.uploads.iter().map(|u| u.size).sum()
    }
}

/// Every object the manifest needs at the destination, for this way of storing variants.
pub fn objects(manifest: &Manifest, tree: &Path, variants: Variants) -> Vec<Upload> {
    let mut out = Vec::new();
    for entry in manifest.assets.values() {
        let gz = entry.encodings.get("gzip");
        match (variants, gz) {
            (Variants::Gzipped, Some(gz)) => out.push(Upload {
                key: entry.path.clone(),
                file: tree.join(&gz.path),
                size: gz.size,
                content_type: entry.content_type.clone(),
                content_encoding: Some("gzip"),
            }),
            _ => out.push(Upload {
                key: entry.path.clone(),
                file: tree.join(&entry.path),
                size: entry.size,
                content_type: entry.content_type.clone(),
                content_encoding: None,
            }),
        }
        if variants == Variants::Separate {
            for (token, v) in &entry.encodings {
                let encoding = if token == "br" { "br" } else { "gzip" };
                out.push(Upload {
                    key: v.path.clone(),
                    file: tree.join(&v.path),
                    size: v.size,
                    content_type: entry.content_type.clone(),
                    content_encoding: Some(encoding),
                });
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// The sha256 of the identity bytes each key of `manifest` holds (a variant's is that of the
/// file it compresses).
pub(crate) fn sha256_of_keys(manifest: &Manifest) -> HashMap<&str, &str> {
    manifest
        .assets
        .values()
        .flat_map(|e| {
            std::iter::once((e.path.as_str(), e.sha256.as_str())).chain(
                e.encodings
                    .values()
                    .map(|v| (v.path.as_str(), e.sha256.as_str())),
            )
        })
        .collect()
}

/// A `.br`/`.gz` object beside its identity file (not gzip stored under the main key).
pub fn is_variant(u: &Upload) -> bool {
    u.content_encoding.is_some() && (u.key.ends_with(".br") || u.key.ends_with(".gz"))
}

/// Compares what the manifest needs with `listing` (key -> size below the prefix).
///
/// # Errors
/// A hashed key that exists with another size: the destination holds something else under
/// our name, and it is never overwritten.
pub fn plan(
    manifest: &Manifest,
    tree: &Path,
    variants: Variants,
    listing: &HashMap<String, u64>,
) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    let mut conflicts = Vec::new();
    for u in objects(manifest, tree, variants) {
        match listing.get(&u.key) {
            Some(&size) if size == u.size => plan.present.push(u.key),
            Some(_) if is_variant(&u) => plan.recheck.push(u),
            Some(&size) => conflicts.push(format!(
                "{} is {size} bytes at the destination, {} here",
                u.key, u.size
            )),
            None => plan.uploads.push(u),
        }
    }
    if !conflicts.is_empty() {
        return Err(Error::Conflict(format!(
            "objects exist with other contents (they are never overwritten; delete them by hand if they are junk):\n  {}",
            conflicts.join("\n  ")
        )));
    }
    // Largest first, so the slowest uploads start early.
    plan.uploads
        .sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.key.cmp(&b.key)));
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Entry, Variant};
    use std::collections::BTreeMap;

    fn manifest() -> Manifest {
        let mut encodings = BTreeMap::new();
        encodings.insert(
            "br".to_owned(),
            Variant {
                path: "a.1.css.br".into(),
                size: 3,
            },
        );
        encodings.insert(
            "gzip".to_owned(),
            Variant {
                path: "a.1.css.gz".into(),
                size: 4,
            },
        );
        let entry = Entry {
            path: "a.1.css".into(),
            size: 10,
            content_type: "text/css".into(),
            integrity: "i".into(),
            sha256: "s".into(),
            encodings,
        };
        Manifest::new(BTreeMap::from([("a.css".to_owned(), entry)]))
    }

    #[test]
    fn uploads_what_is_missing_and_skips_what_is_there() {
        let listing = HashMap::from([("a.1.css".to_owned(), 10)]);
        let p = plan(&manifest(), Path::new("t"), Variants::Separate, &listing).unwrap();
        assert_eq!(p.present, ["a.1.css"]);
        let keys: Vec<_> = p
            .uploads
            .iter()
            .map(|u| (u.key.as_str(), u.content_encoding))
            .collect();
        assert_eq!(
            keys,
            [("a.1.css.gz", Some("gzip")), ("a.1.css.br", Some("br"))]
        );
    }

    #[test]
    fn gzipped_mode_stores_gzip_under_the_main_key() {
        let p = plan(
            &manifest(),
            Path::new("t"),
            Variants::Gzipped,
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(p.uploads.len(), 1);
        assert_eq!(
            (
                p.uploads[0].key.as_str(),
                p.uploads[0].size,
                p.uploads[0].content_encoding
            ),
            ("a.1.css", 4, Some("gzip"))
        );
        assert_eq!(p.uploads[0].file, Path::new("t/a.1.css.gz"));
    }

    #[test]
    fn a_size_mismatch_is_a_conflict() {
        let listing = HashMap::from([("a.1.css".to_owned(), 11)]);
        let e = plan(&manifest(), Path::new("t"), Variants::None, &listing).unwrap_err();
        assert!(e.to_string().contains("a.1.css is 11 bytes"), "{e}");
    }
}

//! The publish plan: from the manifest and one listing of the destination, which objects to
//! upload (with their headers), which are already there, and which must be read to tell.
//! Reads only the local files: `--dry-run` prints it.
//!
//! An object counts as there only when the listing proves its bytes: same size and an ETag
//! that is the MD5 of this build's file (a single PUT, or a multipart upload in publish's
//! part size), never size alone. Anything else under our name is read and compared first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use asset_manifest::{Encoding, Manifest};

use crate::{Error, Variants};

/// One object to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Key below the prefix.
    pub key: String,
    /// The local file with the bytes.
    pub file: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The `Content-Type` it is stored with.
    pub content_type: String,
    /// The `Content-Encoding` it is stored with: a variant, or gzip under the main key.
    pub content_encoding: Option<Encoding>,
}

/// What a publish will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// What is missing at the destination, largest first.
    pub uploads: Vec<Upload>,
    /// Keys whose listing proves the destination holds these bytes.
    pub present: Vec<String>,
    /// Objects at the destination the listing does not prove: the right size with an ETag
    /// that is not our MD5 (a local folder, SSE-KMS, another tool's part size), or a
    /// precompressed variant of another size. Publish reads each before uploading anything:
    /// the same bytes (for a variant: decoding to the same bytes, as another compression
    /// level or encoder version does) are kept, anything else is a conflict; they are never
    /// overwritten.
    pub recheck: Vec<Upload>,
}

impl Plan {
    /// The bytes of every upload.
    pub fn upload_bytes(&self) -> u64 {
        self.uploads.iter().map(|u| u.size).sum()
    }
}

/// Every object the manifest needs at the destination, for this way of storing variants.
pub(crate) fn objects(manifest: &Manifest, tree: &Path, variants: Variants) -> Vec<Upload> {
    let mut out = Vec::new();
    for entry in manifest.assets.values() {
        let gz = entry.encodings.get(&Encoding::Gzip);
        match (variants, gz) {
            (Variants::Gzipped, Some(gz)) => out.push(Upload {
                key: entry.path.clone(),
                file: tree.join(&gz.path),
                size: gz.size,
                content_type: entry.content_type.clone(),
                content_encoding: Some(Encoding::Gzip),
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
            for (&encoding, v) in &entry.encodings {
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
pub(crate) fn is_variant(u: &Upload) -> bool {
    u.content_encoding.is_some()
        && Encoding::ALL
            .iter()
            .any(|e| u.key.ends_with(&format!(".{}", e.extension())))
}

/// An object at the destination, as the listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag, as the store gives it (quoted or not).
    pub e_tag: Option<String>,
}

/// The part size of publish's multipart uploads (their ETag depends on it).
pub(crate) const PART_SIZE: usize = 8 * 1024 * 1024;

/// Compares what the manifest needs with `listing` (key below the prefix -> object).
///
/// # Errors
/// An identity file that exists with another size: the destination holds something else
/// under our name, and it is never overwritten.
pub fn plan(
    manifest: &Manifest,
    tree: &Path,
    variants: Variants,
    listing: &HashMap<String, Remote>,
) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    let mut conflicts = Vec::new();
    for u in objects(manifest, tree, variants) {
        match listing.get(&u.key) {
            None => plan.uploads.push(u),
            Some(r) if r.size == u.size && e_tag_proves(r.e_tag.as_deref(), &u.file) => {
                plan.present.push(u.key);
            }
            Some(r) if r.size == u.size || is_variant(&u) => plan.recheck.push(u),
            Some(r) => conflicts.push(format!(
                "{} is {} bytes at the destination, {} here",
                u.key, r.size, u.size
            )),
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

/// Whether an S3 ETag is the MD5 of `file`'s bytes: of a single PUT (`<md5>`), or of a
/// multipart upload in [`PART_SIZE`] parts (`<md5 of the parts' MD5s>-<parts>`). Other ETags
/// (a local folder's, SSE-KMS's, another part size) prove nothing.
fn e_tag_proves(e_tag: Option<&str>, file: &Path) -> bool {
    let Some(tag) = e_tag.map(|t| t.trim_matches('"').to_ascii_lowercase()) else {
        return false;
    };
    let Ok(bytes) = std::fs::read(file) else {
        return false;
    };
    tag == s3_e_tag(&bytes, tag.contains('-'))
}

/// The ETag S3 gives `bytes` uploaded in one PUT, or in publish's multipart parts.
pub(crate) fn s3_e_tag(bytes: &[u8], multipart: bool) -> String {
    use md5::{Digest as _, Md5};
    if !multipart {
        return asset_manifest::hash::hex(&Md5::digest(bytes));
    }
    let mut of_parts = Md5::new();
    let mut parts = 0;
    for part in bytes.chunks(PART_SIZE) {
        of_parts.update(Md5::digest(part));
        parts += 1;
    }
    format!(
        "{}-{parts}",
        asset_manifest::hash::hex(&of_parts.finalize())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use asset_manifest::{Entry, Variant};
    use std::collections::BTreeMap;

    fn manifest() -> Manifest {
        let mut encodings = BTreeMap::new();
        encodings.insert(
            Encoding::Br,
            Variant {
                path: "a.1.css.br".into(),
                size: 3,
            },
        );
        encodings.insert(
            Encoding::Gzip,
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

    fn remote(size: u64, e_tag: Option<&str>) -> Remote {
        Remote {
            size,
            e_tag: e_tag.map(Into::into),
        }
    }

    #[test]
    fn uploads_what_is_missing_and_skips_what_the_listing_proves() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.1.css"), "0123456789").unwrap();
        // S3's ETag of a single PUT: the MD5 of the bytes, quoted.
        let md5 = "\"781e5e245d69b566979b86e28d23f2c7\"";
        let listing = HashMap::from([("a.1.css".to_owned(), remote(10, Some(md5)))]);
        let p = plan(&manifest(), dir.path(), Variants::Separate, &listing).unwrap();
        assert_eq!(p.present, ["a.1.css"]);
        assert!(p.recheck.is_empty());
        let keys: Vec<_> = p
            .uploads
            .iter()
            .map(|u| (u.key.as_str(), u.content_encoding))
            .collect();
        assert_eq!(
            keys,
            [
                ("a.1.css.gz", Some(Encoding::Gzip)),
                ("a.1.css.br", Some(Encoding::Br))
            ]
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
            ("a.1.css", 4, Some(Encoding::Gzip))
        );
        assert_eq!(p.uploads[0].file, Path::new("t/a.1.css.gz"));
    }

    #[test]
    fn the_right_size_alone_proves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.1.css"), "0123456789").unwrap();
        for e_tag in [
            None,
            // Same size, other bytes ("0123456780").
            Some("\"a8a5b8cbd2ab5e7e3ca1d4d4bd4ee2ad\""),
            // A local folder's ETag (inode, mtime, size).
            Some("3a1f-63b2c1d0-a"),
        ] {
            let listing = HashMap::from([("a.1.css".to_owned(), remote(10, e_tag))]);
            let p = plan(&manifest(), dir.path(), Variants::None, &listing).unwrap();
            assert!(p.present.is_empty(), "{e_tag:?}");
            assert_eq!(p.recheck.len(), 1, "{e_tag:?}: read and compared first");
        }
    }

    #[test]
    fn multipart_e_tags_are_computed_over_publish_parts() {
        let bytes = vec![7u8; PART_SIZE + 5];
        let tag = s3_e_tag(&bytes, true);
        assert!(tag.ends_with("-2"), "{tag}");
        assert_ne!(tag.split('-').next().unwrap(), s3_e_tag(&bytes, false));
    }

    #[test]
    fn a_size_mismatch_is_a_conflict() {
        let listing = HashMap::from([("a.1.css".to_owned(), remote(11, None))]);
        let e = plan(&manifest(), Path::new("t"), Variants::None, &listing).unwrap_err();
        assert!(e.to_string().contains("a.1.css is 11 bytes"), "{e}");
    }
}

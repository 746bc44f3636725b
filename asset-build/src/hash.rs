//! Content hashes: sha256 for names and cache keys, sha384 for Subresource Integrity. The
//! plain sha256 and hex that publishing shares are `asset_manifest::hash`'s.

use base64::Engine as _;
use sha2::{Digest, Sha256, Sha384};

pub(crate) use asset_manifest::hash::{hex, sha256_hex};

/// Hex digits of sha256 kept in a hashed file name (64 bits).
pub(crate) const NAME_HASH_LEN: usize = 16;

/// sha256 over several parts, each length-prefixed so that no two lists collide.
pub(crate) fn sha256_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex(&h.finalize())
}

/// `sha384-<base64>`, as the `integrity` attribute wants it.
pub(crate) fn integrity(bytes: &[u8]) -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes))
    )
}

/// `css/app.css` + hash -> `css/app.<hash>.css`; the hash goes before the last extension,
/// which is the shipped one for a compiled source (`css/app.scss` -> `css/app.<hash>.css`,
/// `js/x.ts` -> `js/x.<hash>.js`).
pub(crate) fn hashed_path(logical: &str, hash: &str) -> String {
    let short = &hash[..NAME_HASH_LEN.min(hash.len())];
    let (dir, name) = match logical.rfind('/') {
        Some(i) => (&logical[..=i], &logical[i + 1..]),
        None => ("", logical),
    };
    match name.rfind('.') {
        Some(i) if i > 0 => {
            let ext = crate::refs::shipped_extension(&name[i + 1..]);
            format!("{dir}{}.{short}.{ext}", &name[..i])
        }
        _ => format!("{dir}{name}.{short}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_matches_known_vector() {
        // echo -n abc | openssl dgst -sha384 -binary | base64
        assert_eq!(
            integrity(b"abc"),
            "sha384-ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn"
        );
    }

    #[test]
    fn hashed_names_keep_stem_and_extension() {
        let h = "0123456789abcdef0123";
        assert_eq!(
            hashed_path("css/app.css", h),
            "css/app.0123456789abcdef.css"
        );
        assert_eq!(
            hashed_path("js/app.js.map", h),
            "js/app.js.0123456789abcdef.map"
        );
        assert_eq!(hashed_path("LICENSE", h), "LICENSE.0123456789abcdef");
        assert_eq!(hashed_path("css/a.scss", h), "css/a.0123456789abcdef.css");
        assert_eq!(hashed_path("js/m.mts", h), "js/m.0123456789abcdef.mjs");
        assert_eq!(hashed_path("a.b/.x", h), "a.b/.x.0123456789abcdef");
    }

    #[test]
    fn parts_are_length_prefixed() {
        assert_ne!(
            sha256_parts([&b"ab"[..], b"c"]),
            sha256_parts([&b"a"[..], b"bc"])
        );
    }
}

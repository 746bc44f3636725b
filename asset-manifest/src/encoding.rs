//! [`Encoding`]: a precompressed variant's content coding, named the same way everywhere (the
//! manifest's keys, `Content-Encoding`, the variant's file extension).

use serde::{Deserialize, Serialize};

/// A content coding of a precompressed variant. Serialized as its `Content-Encoding` token
/// (`"br"`, `"gzip"`), which is also its key in [`crate::Entry::encodings`]. The order (`Br`
/// first) is the tokens' order, so a manifest's variants are listed as they always were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Encoding {
    /// Brotli: `Content-Encoding: br`, files ending in `.br`.
    #[serde(rename = "br")]
    Br,
    /// gzip: `Content-Encoding: gzip`, files ending in `.gz`.
    #[serde(rename = "gzip")]
    Gzip,
}

impl Encoding {
    /// Every encoding, in the manifest's order.
    pub const ALL: [Encoding; 2] = [Encoding::Br, Encoding::Gzip];

    /// The `Content-Encoding` token (`br`, `gzip`): the content-coding name HTTP uses, and
    /// the variant's key in the manifest.
    ///
    /// ```
    /// assert_eq!(asset_manifest::Encoding::Gzip.as_str(), "gzip");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Br => "br",
            Encoding::Gzip => "gzip",
        }
    }

    /// The extension of the variant's file, without the dot (`br`, `gz`): the variant of
    /// `a.1.css` is `a.1.css.gz`.
    ///
    /// ```
    /// assert_eq!(asset_manifest::Encoding::Gzip.extension(), "gz");
    /// ```
    pub fn extension(self) -> &'static str {
        match self {
            Encoding::Br => "br",
            Encoding::Gzip => "gz",
        }
    }

    /// The encoding whose variant files end in `.<extension>`, if any.
    pub fn from_extension(extension: &str) -> Option<Encoding> {
        Encoding::ALL
            .into_iter()
            .find(|e| e.extension() == extension)
    }

    /// The variant path of a file: `path` plus `.br` or `.gz`.
    pub fn variant_path(self, path: &str) -> String {
        format!("{path}.{}", self.extension())
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Encoding {
    type Err = crate::Error;
    /// The encoding of a `Content-Encoding` token (`br`, `gzip`).
    fn from_str(s: &str) -> Result<Encoding, crate::Error> {
        Encoding::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| crate::Error::UnknownEncoding(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_uses_the_content_coding_tokens() {
        for e in Encoding::ALL {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.as_str()));
            assert_eq!(serde_json::from_str::<Encoding>(&json).unwrap(), e);
            assert_eq!(e.as_str().parse::<Encoding>().unwrap(), e);
            assert_eq!(Encoding::from_extension(e.extension()), Some(e));
        }
        assert_eq!(
            "deflate".parse::<Encoding>().unwrap_err().to_string(),
            "content coding `deflate`: expected br or gzip"
        );
    }

    #[test]
    fn the_order_is_the_tokens_order() {
        let mut by_token = Encoding::ALL;
        by_token.sort_by_key(|e| e.as_str());
        assert_eq!(by_token, Encoding::ALL);
        assert!(Encoding::Br < Encoding::Gzip);
    }

    #[test]
    fn variant_paths_add_the_extension() {
        assert_eq!(Encoding::Br.variant_path("a.1.css"), "a.1.css.br");
        assert_eq!(Encoding::Gzip.variant_path("a.1.css"), "a.1.css.gz");
    }
}

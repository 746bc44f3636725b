//! How an entry's hashed path appears in a URL: the same percent-encoding in the generated
//! code (what the runtime links), in the pipeline's rewritten references, and where publish
//! checks the public URL.

/// Percent-encodes what may not stand literally in a URL path (keeps `/`, letters, digits,
/// `-._~` and the sub-delimiters that need no quoting in CSS or JS strings, but not `+`,
/// which S3 and form decoders read as a space).
///
/// ```
/// assert_eq!(asset_manifest::percent_encode_path("img/a b+c.png"), "img/a%20b%2Bc.png");
/// ```
pub fn percent_encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'/' | b'-'
                    | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
                    | b':'
            )
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

//! What serving a file over HTTP means, written once for the two services that do it: the
//! embedded assets of `asset-runtime` and the local media folder of `asset-storage`. Byte
//! ranges ([`range`]), request paths decoded segment by segment ([`decode_path`]), and the
//! `Cache-Control` values of hashed and revalidated files. No dependencies: both services
//! build their own responses with these answers.

use std::ops::Range;

/// `Cache-Control` of a file whose name changes with its bytes (a hashed asset, a media
/// key that is never reused): cached for a year, never revalidated.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `Cache-Control` of a file whose name stays while its bytes change: revalidated each time.
pub const REVALIDATE: &str = "public, no-cache";

/// What a `Range` header asks of a representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteRange {
    /// No single byte range we serve (several ranges, another unit, a malformed or reversed
    /// range): the whole representation, with 200.
    Whole,
    /// These bytes (end exclusive), with 206 and `Content-Range: bytes start-(end-1)/len`.
    Part(Range<u64>),
    /// A range that starts past the end (or an empty suffix): 416 with `Content-Range:
    /// bytes */len`.
    Unsatisfiable,
}

/// The byte range `value` (a `Range` header) asks of a `len`-byte representation.
pub fn range(value: &str, len: u64) -> ByteRange {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return ByteRange::Whole;
    };
    if spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return ByteRange::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    let wanted = match (a.is_empty(), b.is_empty()) {
        (true, true) => return ByteRange::Whole,
        (true, false) => match num(b) {
            Some(0) => return ByteRange::Unsatisfiable,
            Some(n) => len.saturating_sub(n)..len,
            None => return ByteRange::Whole,
        },
        (false, _) => {
            let Some(start) = num(a) else {
                return ByteRange::Whole;
            };
            let end = match (b.is_empty(), num(b)) {
                (true, _) => len,
                (false, Some(last)) if last >= start => last.saturating_add(1).min(len),
                _ => return ByteRange::Whole,
            };
            start..end
        }
    };
    if wanted.start >= len || wanted.is_empty() {
        ByteRange::Unsatisfiable
    } else {
        ByteRange::Part(wanted)
    }
}

/// The `Content-Range` of `part` of a `len`-byte representation (`bytes 0-9/100`).
pub fn content_range(part: &Range<u64>, len: u64) -> String {
    format!("bytes {}-{}/{len}", part.start, part.end.saturating_sub(1))
}

/// A request path (`/css/app%20x.css`) as the `/`-separated names it stands for, each
/// percent-decoded on its own; `None` for what names no file: a malformed escape, bytes that
/// are not UTF-8, a decoded `/` or `\` or NUL inside a name, an empty, `.` or `..` name.
pub fn decode_path(path: &str) -> Option<String> {
    let mut names = Vec::new();
    for raw in path.strip_prefix('/').unwrap_or(path).split('/') {
        let bytes = raw.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = |at: usize| (*bytes.get(at)? as char).to_digit(16);
                out.push((hex(i + 1)? * 16 + hex(i + 2)?) as u8);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        let name = String::from_utf8(out).ok()?;
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
            return None;
        }
        names.push(name);
    }
    Some(names.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str, expected: &str) {
        let got = match range(value, 10) {
            ByteRange::Part(r) => format!("{}..{}", r.start, r.end),
            ByteRange::Unsatisfiable => "416".into(),
            ByteRange::Whole => "all".into(),
        };
        assert_eq!(got, expected, "{value}");
    }

    #[test]
    fn ranges() {
        check("bytes=0-4", "0..5");
        check("bytes=5-", "5..10");
        check("bytes=-3", "7..10");
        check("bytes=-30", "0..10");
        check("bytes=8-100", "8..10");
        check("bytes=9-18446744073709551615", "9..10");
        check("bytes=10-", "416");
        check("bytes=-0", "416");
        check("bytes=0-1,3-4", "all");
        check("items=0-1", "all");
        check("bytes=4-2", "all");
        check("bytes=x-2", "all");
        check("bytes=-", "all");
        assert_eq!(range("bytes=0-", 0), ByteRange::Unsatisfiable);
        assert_eq!(content_range(&(0..10), 100), "bytes 0-9/100");
    }

    #[test]
    fn paths_decode_per_name() {
        assert_eq!(
            decode_path("/public/a/b%20c.png").unwrap(),
            "public/a/b c.png"
        );
        assert_eq!(decode_path("css/%C3%BCber.css").unwrap(), "css/über.css");
        for bad in [
            "/public/a%2F..%2Fb",
            "/public/%+5",
            "/public/%ff",
            "/public/%2e%2e/x",
            "/a//b",
            "/a/./b",
            "/a/%5Cb",
            "/a/%00",
            "/a/%2",
            "/../x",
            "/a\\b",
            "/%zz",
            "/a%2fb",
            "/",
            "/./a",
        ] {
            assert_eq!(decode_path(bad), None, "{bad}");
        }
    }
}

//! Content types from the bytes. An upload's type is what its first bytes say (magic
//! numbers), never what the client declares: the declared type and the file name's
//! extension must agree with it, and a per-use allowlist decides what may be stored. What
//! may be shown inline is a fixed list (raster images, PDF, plain text, audio, video):
//! everything else, HTML and SVG always, is served as an attachment.

use crate::Error;

/// A family of types, for allowlists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// PNG, JPEG, GIF, WebP, AVIF, BMP, ICO.
    Image,
    /// PDF documents.
    Pdf,
    /// UTF-8 text (plain, CSV, JSON, Markdown...).
    Text,
    /// MP3, WAV, Ogg, FLAC.
    Audio,
    /// MP4, WebM.
    Video,
    /// ZIP (and the office formats made of it), gzip.
    Archive,
    /// HTML, SVG, XML: markup a browser would run scripts in. Never inline.
    Markup,
}

/// A type we can recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// Its media type, as stored and served.
    pub mime: &'static str,
    /// Its family, for allowlists.
    pub family: Family,
    /// Extensions a file of this type may have (lowercase, no dot).
    pub extensions: &'static [&'static str],
}

const fn kind(mime: &'static str, family: Family, extensions: &'static [&'static str]) -> Kind {
    Kind {
        mime,
        family,
        extensions,
    }
}

/// PNG images.
pub const PNG: Kind = kind("image/png", Family::Image, &["png"]);
/// JPEG images.
pub const JPEG: Kind = kind("image/jpeg", Family::Image, &["jpg", "jpeg", "jpe", "jfif"]);
/// GIF images.
pub const GIF: Kind = kind("image/gif", Family::Image, &["gif"]);
/// WebP images.
pub const WEBP: Kind = kind("image/webp", Family::Image, &["webp"]);
/// AVIF images.
pub const AVIF: Kind = kind("image/avif", Family::Image, &["avif"]);
/// BMP images.
pub const BMP: Kind = kind("image/bmp", Family::Image, &["bmp"]);
/// Icons.
pub const ICO: Kind = kind("image/x-icon", Family::Image, &["ico"]);
/// PDF documents.
pub const PDF: Kind = kind("application/pdf", Family::Pdf, &["pdf"]);
/// UTF-8 text without markup.
pub const TEXT: Kind = kind(
    "text/plain; charset=utf-8",
    Family::Text,
    &[
        "txt", "text", "log", "md", "csv", "tsv", "json", "yaml", "yml", "toml", "ini",
    ],
);
/// MP3 audio.
pub const MP3: Kind = kind("audio/mpeg", Family::Audio, &["mp3"]);
/// WAV audio.
pub const WAV: Kind = kind("audio/wav", Family::Audio, &["wav"]);
/// Ogg audio.
pub const OGG: Kind = kind("audio/ogg", Family::Audio, &["ogg", "oga", "opus"]);
/// FLAC audio.
pub const FLAC: Kind = kind("audio/flac", Family::Audio, &["flac"]);
/// MP4 video (and QuickTime, M4A).
pub const MP4: Kind = kind("video/mp4", Family::Video, &["mp4", "m4v", "m4a", "mov"]);
/// WebM video (and Matroska).
pub const WEBM: Kind = kind("video/webm", Family::Video, &["webm", "mkv"]);
/// ZIP archives and the formats made of them (office documents, EPUB, JAR).
pub const ZIP: Kind = kind(
    "application/zip",
    Family::Archive,
    &[
        "zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub", "jar",
    ],
);
/// gzip archives.
pub const GZIP: Kind = kind("application/gzip", Family::Archive, &["gz", "tgz"]);
/// HTML: markup a browser runs scripts in.
pub const HTML: Kind = kind("text/html", Family::Markup, &["html", "htm", "xhtml"]);
/// SVG: an image that can hold scripts.
pub const SVG: Kind = kind("image/svg+xml", Family::Markup, &["svg", "svgz"]);
/// XML: markup.
pub const XML: Kind = kind("application/xml", Family::Markup, &["xml"]);

/// Extensions that web servers run or browsers treat as active content, beyond the types
/// [`ALL`] names: bytes we do not recognise never get one.
const ACTIVE_EXTENSIONS: &[&str] = &[
    "php", "php3", "php4", "php5", "php7", "phar", "phtml", "pht", "shtml", "shtm", "stm", "asp",
    "aspx", "ascx", "ashx", "asmx", "cer", "jsp", "jspx", "cgi", "pl", "py", "rb", "sh", "bash",
    "js", "mjs", "cjs", "css", "xht", "xsl", "xslt", "swf", "hta", "htc", "vbs", "wsf", "bat",
    "cmd", "exe", "dll", "msi", "com", "scr", "jar", "war", "htaccess", "mht", "mhtml", "appcache",
    "manifest", "wasm", "rdf", "xul", "svgz",
];

/// Whether two content types name the same type (parameters aside, any case).
pub fn same_type(a: &str, b: &str) -> bool {
    essence(a).eq_ignore_ascii_case(essence(b))
}

/// How many leading bytes [`sniff`] looks at.
pub const SNIFF_LEN: usize = 4096;

/// The type of a file that starts with `head` (its first [`SNIFF_LEN`] bytes, or all of it),
/// or `None` when nothing we know matches (arbitrary binary).
pub fn sniff(head: &[u8]) -> Option<Kind> {
    binary_kind(head).or_else(|| text_kind(text_head(head)?))
}

/// A binary format by its magic number.
fn binary_kind(head: &[u8]) -> Option<Kind> {
    let starts = |m: &[u8]| head.starts_with(m);
    let at = |i: usize, m: &[u8]| head.get(i..i + m.len()) == Some(m);
    if starts(b"\x89PNG\r\n\x1a\n") {
        return Some(PNG);
    }
    if starts(b"\xff\xd8\xff") {
        return Some(JPEG);
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some(GIF);
    }
    if starts(b"RIFF") && at(8, b"WEBP") {
        return Some(WEBP);
    }
    if starts(b"RIFF") && at(8, b"WAVE") {
        return Some(WAV);
    }
    if at(4, b"ftyp") {
        return Some(if at(8, b"avif") || at(8, b"avis") {
            AVIF
        } else {
            MP4
        });
    }
    if starts(b"BM") && head.len() >= 14 && at(6, b"\0\0\0\0") {
        return Some(BMP);
    }
    if starts(b"\0\0\x01\0") && head.len() >= 6 {
        return Some(ICO);
    }
    if starts(b"%PDF-") {
        return Some(PDF);
    }
    if starts(b"ID3") || (head.len() >= 2 && head[0] == 0xff && head[1] & 0xe0 == 0xe0) {
        return Some(MP3);
    }
    if starts(b"OggS") {
        return Some(OGG);
    }
    if starts(b"fLaC") {
        return Some(FLAC);
    }
    if starts(b"\x1a\x45\xdf\xa3") {
        return Some(WEBM);
    }
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        return Some(ZIP);
    }
    if starts(b"\x1f\x8b") {
        return Some(GZIP);
    }
    None
}

/// Text: markup where a browser would find it, else plain text.
fn text_kind(text: &str) -> Option<Kind> {
    // Markup is what a browser would render and run scripts in: look for it the way
    // browsers sniff (leading white space and comments skipped, case-insensitive tags).
    let lower = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    let markup_tags = [
        "<!doctype html",
        "<html",
        "<head",
        "<body",
        "<script",
        "<iframe",
        "<h1",
        "<div",
        "<font",
        "<table",
        "<a ",
        "<title",
        "<style",
        "<b>",
        "<br",
        "<p>",
        "<!--",
    ];
    if lower.contains("<svg") {
        return Some(SVG);
    }
    if markup_tags.iter().any(|t| lower.starts_with(t)) || lower.contains("<script") {
        return Some(HTML);
    }
    if lower.starts_with("<?xml") {
        return Some(XML);
    }
    Some(TEXT)
}

/// `head` as text if it is UTF-8 (a character cut at the end allowed) without control
/// characters other than tab, newline, carriage return and form feed.
fn text_head(head: &[u8]) -> Option<&str> {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() && head.len() - e.valid_up_to() < 4 => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let ok = text
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'));
    ok.then_some(text)
}

/// Every type [`sniff`] can return.
pub const ALL: &[Kind] = &[
    PNG, JPEG, GIF, WEBP, AVIF, BMP, ICO, PDF, TEXT, MP3, WAV, OGG, FLAC, MP4, WEBM, ZIP, GZIP,
    HTML, SVG, XML,
];

/// Which types one use accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeSet {
    kinds: Vec<&'static str>,
    /// Files whose type is not recognised (stored as `application/octet-stream`).
    pub unknown: bool,
}

impl TypeSet {
    /// Exactly these families.
    pub fn families(families: &[Family]) -> TypeSet {
        TypeSet {
            kinds: ALL
                .iter()
                .filter(|k| families.contains(&k.family))
                .map(|k| k.mime)
                .collect(),
            unknown: false,
        }
    }
    /// Raster images: PNG, JPEG, GIF, WebP, AVIF, BMP, ICO (not SVG).
    pub fn images() -> TypeSet {
        TypeSet::families(&[Family::Image])
    }
    /// What most apps take as attachments: images, PDF, plain text, audio, video and ZIP-based
    /// documents (DOCX, XLSX, ODT, EPUB). Not HTML, SVG or XML.
    pub fn documents() -> TypeSet {
        TypeSet::families(&[
            Family::Image,
            Family::Pdf,
            Family::Text,
            Family::Audio,
            Family::Video,
            Family::Archive,
        ])
    }
    /// Every type, unknown binaries included (markup is still served as an attachment).
    pub fn any() -> TypeSet {
        TypeSet {
            kinds: ALL.iter().map(|k| k.mime).collect(),
            unknown: true,
        }
    }
    /// These types by MIME name (`image/png`, `application/pdf`, `text/plain`, ...).
    pub fn mimes(mimes: &[&str]) -> TypeSet {
        TypeSet {
            kinds: ALL
                .iter()
                .filter(|k| mimes.iter().any(|m| same_type(k.mime, m)))
                .map(|k| k.mime)
                .collect(),
            unknown: false,
        }
    }
    /// Adds `kind`.
    pub fn with(mut self, kind: Kind) -> TypeSet {
        if !self.kinds.contains(&kind.mime) {
            self.kinds.push(kind.mime);
        }
        self
    }

    /// Whether `kind` (`None`: a type not recognised) is accepted.
    pub fn allows(&self, kind: Option<Kind>) -> bool {
        match kind {
            Some(k) => self.kinds.contains(&k.mime),
            None => self.unknown,
        }
    }
    /// The allowed types, for error messages.
    pub fn describe(&self) -> String {
        let mut names: Vec<&str> = self.kinds.iter().map(|m| essence(m)).collect();
        if self.unknown {
            names.push("other binary files");
        }
        names.join(", ")
    }
}

/// The MIME type without parameters, as written (compare with [`same_type`]).
pub fn essence(mime: &str) -> &str {
    mime.split(';').next().unwrap_or("").trim()
}

/// Checks a sniffed type against the use's allowlist, the client's declared type and the file
/// name's extension, and returns the Content-Type to store.
///
/// # Errors
/// [`Error::TypeNotAllowed`] or [`Error::TypeMismatch`] (both 415 over HTTP).
pub fn check(
    sniffed: Option<Kind>,
    allowed: &TypeSet,
    declared: Option<&str>,
    file_name: &str,
) -> Result<String, Error> {
    let detected = sniffed.map_or("application/octet-stream", |k| essence(k.mime));
    if !allowed.allows(sniffed) {
        return Err(Error::TypeNotAllowed {
            detected: detected.to_owned(),
            allowed: allowed.describe(),
        });
    }
    let ext = crate::name::extension(file_name);
    let declared = declared
        .map(|d| essence(d).to_ascii_lowercase())
        .filter(|d| !d.is_empty() && d != "application/octet-stream");
    let Some(kind) = sniffed else {
        // Bytes we do not know may not carry a name that a web server or static host would
        // serve as a known type, or run (`x.html`, `shell.php`).
        if let Some(ext) = &ext
            && (ALL.iter().any(|k| k.extensions.contains(&ext.as_str()))
                || ACTIVE_EXTENSIONS.contains(&ext.as_str()))
        {
            return Err(Error::TypeMismatch {
                detected: detected.to_owned(),
                claimed: format!("the extension .{ext}"),
            });
        }
        return Ok("application/octet-stream".into());
    };
    if let Some(ext) = &ext
        && !kind.extensions.contains(&ext.as_str())
    {
        return Err(Error::TypeMismatch {
            detected: detected.to_owned(),
            claimed: format!("the extension .{ext}"),
        });
    }
    if let Some(d) = &declared
        && !declared_matches(kind, d)
    {
        return Err(Error::TypeMismatch {
            detected: detected.to_owned(),
            claimed: format!("the declared type {d}"),
        });
    }
    // Text keeps the more precise name the extension gives (CSV, JSON, Markdown), always
    // as UTF-8; no text type is one a browser would execute.
    if kind == TEXT {
        let precise = match ext.as_deref() {
            Some("csv") => "text/csv; charset=utf-8",
            Some("json") => "application/json",
            Some("md") => "text/markdown; charset=utf-8",
            _ => kind.mime,
        };
        return Ok(precise.into());
    }
    Ok(kind.mime.into())
}

fn declared_matches(kind: Kind, declared: &str) -> bool {
    if essence(kind.mime) == declared {
        return true;
    }
    match kind.family {
        Family::Text => {
            declared.starts_with("text/")
                && !matches!(declared, "text/html" | "text/xml" | "text/javascript")
                || matches!(
                    declared,
                    "application/json" | "application/x-yaml" | "application/toml"
                )
        }
        _ => {
            matches!(
                (kind.mime, declared),
                ("image/jpeg", "image/jpg" | "image/pjpeg")
                    | ("image/x-icon", "image/vnd.microsoft.icon")
                    | ("image/bmp", "image/x-ms-bmp")
                    | ("audio/wav", "audio/x-wav" | "audio/wave")
                    | ("audio/mpeg", "audio/mp3")
                    | ("audio/flac", "audio/x-flac")
                    | ("audio/ogg", "video/ogg" | "application/ogg")
                    | ("video/mp4", "audio/mp4" | "video/quicktime" | "audio/x-m4a")
                    | ("video/webm", "audio/webm" | "video/x-matroska")
                    | ("application/zip", _)
                    | (
                        "application/gzip",
                        "application/x-gzip" | "application/x-tar"
                    )
                    | ("text/html", "application/xhtml+xml")
                    | ("application/xml", "text/xml")
            ) && (kind.mime != "application/zip" || zip_declared(declared))
        }
    }
}

/// ZIP-based documents declare their own types.
fn zip_declared(declared: &str) -> bool {
    declared == "application/x-zip-compressed"
        || declared.starts_with("application/vnd.openxmlformats-officedocument.")
        || declared.starts_with("application/vnd.oasis.opendocument.")
        || matches!(
            declared,
            "application/epub+zip" | "application/java-archive"
        )
}

/// Whether a browser may show `content_type` inline: raster images, PDF, plain text, audio,
/// video. Never HTML, SVG, XML or anything unknown.
pub fn inline_safe(content_type: &str) -> bool {
    let t = essence(content_type).to_ascii_lowercase();
    ALL.iter().any(|k| {
        essence(k.mime) == t
            && matches!(
                k.family,
                Family::Image | Family::Pdf | Family::Text | Family::Audio | Family::Video
            )
    }) || matches!(
        t.as_str(),
        "text/csv" | "text/markdown" | "application/json"
    )
}

/// `Content-Disposition` for a file called `name` of `content_type`: `inline` where
/// [`inline_safe`], else `attachment`, with an ASCII `filename` and the exact name as RFC 6266
/// / RFC 8187 `filename*`.
pub fn content_disposition(content_type: &str, name: &str) -> String {
    let kind = if inline_safe(content_type) {
        "inline"
    } else {
        "attachment"
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, RFC8187).to_string();
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// attr-char of RFC 8187: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" /
/// "_" / "`" / "|" / "~"; everything else is percent-encoded.
const RFC8187: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The original name from a `Content-Disposition` we wrote.
pub(crate) fn name_from_disposition(value: &str) -> Option<String> {
    let encoded = value.split("filename*=UTF-8''").nth(1)?;
    let encoded = encoded.split(';').next()?.trim();
    percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniffed(bytes: &[u8]) -> &'static str {
        sniff(bytes).map_or("unknown", |k| k.mime)
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(sniffed(b"\x89PNG\r\n\x1a\n\0\0"), "image/png");
        assert_eq!(sniffed(b"\xff\xd8\xff\xe0JFIF"), "image/jpeg");
        assert_eq!(sniffed(b"GIF89a..."), "image/gif");
        assert_eq!(sniffed(b"RIFF\0\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(sniffed(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniffed(b"PK\x03\x04rest"), "application/zip");
        assert_eq!(sniffed(b"\0\0\0\x18ftypmp42"), "video/mp4");
        assert_eq!(sniffed(b"\0\0\0\x1cftypavif"), "image/avif");
        assert_eq!(sniffed(b"hello, world\n"), "text/plain; charset=utf-8");
        assert_eq!(sniffed(b"\0\x01\x02binary"), "unknown");
    }

    #[test]
    fn markup_is_found_where_browsers_would_find_it() {
        assert_eq!(sniffed(b"  <!DOCTYPE html><p>x"), "text/html");
        assert_eq!(sniffed(b"<HTML><body>"), "text/html");
        assert_eq!(sniffed(b"hello <script>alert(1)</script>"), "text/html");
        assert_eq!(
            sniffed(b"<?xml version=\"1.0\"?><svg xmlns="),
            "image/svg+xml"
        );
        assert_eq!(sniffed(b"<svg onload=alert(1)>"), "image/svg+xml");
        assert_eq!(sniffed(b"\xef\xbb\xbf<!-- x --><html>"), "text/html");
        assert_eq!(sniffed(b"<?xml version=\"1.0\"?><a/>"), "application/xml");
    }

    #[test]
    fn a_script_posing_as_an_image_is_refused() {
        let e = check(
            sniff(b"<script>alert(1)</script>"),
            &TypeSet::images(),
            Some("image/png"),
            "cat.png",
        )
        .unwrap_err();
        assert!(matches!(e, Error::TypeNotAllowed { .. }), "{e}");
    }

    #[test]
    fn declared_type_and_extension_must_agree_with_the_bytes() {
        let png = sniff(b"\x89PNG\r\n\x1a\n");
        let images = TypeSet::images();
        assert_eq!(
            check(png, &images, Some("image/png"), "a.png").unwrap(),
            "image/png"
        );
        assert_eq!(check(png, &images, None, "noext").unwrap(), "image/png");
        assert_eq!(
            check(png, &images, Some("application/octet-stream"), "a.PNG").unwrap(),
            "image/png"
        );
        assert!(matches!(
            check(png, &images, Some("image/png"), "a.jpg"),
            Err(Error::TypeMismatch { .. })
        ));
        assert!(matches!(
            check(png, &images, Some("text/html"), "a.png"),
            Err(Error::TypeMismatch { .. })
        ));
        let text = sniff(b"a,b\n1,2\n");
        let docs = TypeSet::documents();
        assert_eq!(
            check(text, &docs, Some("text/csv"), "x.csv").unwrap(),
            "text/csv; charset=utf-8"
        );
        assert!(check(text, &docs, Some("text/html"), "x.csv").is_err());
        assert!(check(None, &docs, None, "x.bin").is_err());
        assert_eq!(
            check(None, &TypeSet::any(), None, "x.bin").unwrap(),
            "application/octet-stream"
        );
    }

    #[test]
    fn dispositions() {
        assert_eq!(
            content_disposition("image/png", "cat.png"),
            "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png"
        );
        assert_eq!(
            content_disposition("text/html", "été \"x\".html"),
            "attachment; filename=\"_t_ _x_.html\"; filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22.html"
        );
        assert!(content_disposition("image/svg+xml", "a.svg").starts_with("attachment"));
        assert!(content_disposition("application/octet-stream", "a").starts_with("attachment"));
        assert_eq!(
            name_from_disposition(&content_disposition("text/html", "été \"x\".html")).unwrap(),
            "été \"x\".html"
        );
    }
}

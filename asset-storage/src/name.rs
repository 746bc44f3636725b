//! Object names. The server makes every name: `<visibility>/<use>/<32 hex>/<clean name>`,
//! where the 32 hex digits are 128 random bits and the clean name is what is left of the
//! client's file name after everything that could mean a path, a control or an encoding
//! trick is taken out. Names given back to the API (`open`, `delete`, ...) are checked to
//! stay inside the storage's prefix.

use crate::Error;

/// Longest key accepted, in bytes (S3 allows 1024; the prefix needs some of it).
pub const MAX_KEY: usize = 900;
/// Longest clean file name, in bytes.
pub const MAX_FILE_NAME: usize = 120;
/// Where the local backend keeps each object's metadata; never a key of an object.
pub(crate) const META_DIR: &str = ".meta";

/// Public objects may be read by anyone with the URL; private ones only through a signed,
/// expiring URL. The visibility is the first segment of the key, so a copy of the key is a
/// copy of the visibility (a restored backup cannot make a private file public).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Readable by anyone at its plain URL (under `public/`).
    Public,
    /// Readable only through a signed, expiring URL (under `private/`).
    Private,
}

impl Visibility {
    /// The key's first segment for this visibility.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }

    /// The visibility a key carries.
    pub fn of(key: &str) -> Option<Visibility> {
        match key.split('/').next() {
            Some("public") => Some(Visibility::Public),
            Some("private") => Some(Visibility::Private),
            _ => None,
        }
    }
}

/// Checks a per-use prefix such as `avatars` or `docs/invoices`: lowercase ASCII letters,
/// digits, `-` and `_`, segments joined by `/`.
///
/// # Errors
/// Anything else.
pub(crate) fn check_use_prefix(prefix: &str) -> Result<(), Error> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 100
        && prefix.split('/').all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "upload prefix `{prefix}`: use lowercase letters, digits, `-`, `_` and `/` between segments"
        )))
    }
}

/// A new key for an upload of `file_name` (the client's, cleaned) under `prefix`.
///
/// # Errors
/// The system's random source failed.
pub(crate) fn new_key(
    visibility: Visibility,
    prefix: &str,
    file_name: &str,
) -> Result<String, Error> {
    Ok(format!(
        "{}/{prefix}/{}/{}",
        visibility.as_str(),
        random_hex()?,
        clean_file_name(file_name)
    ))
}

/// 128 random bits as 32 lowercase hex digits.
///
/// # Errors
/// The system's random source failed.
pub(crate) fn random_hex() -> Result<String, Error> {
    let mut bits = [0u8; 16];
    getrandom::fill(&mut bits)
        .map_err(|e| Error::Config(format!("the system's random source failed: {e}")))?;
    Ok(bits.iter().map(|b| format!("{b:02x}")).collect())
}

/// What is kept of a client's file name, for humans reading keys and URLs: its last path
/// component (after `/` or `\\`), in ASCII (accents dropped from Latin letters, other
/// characters replaced by `_`), no control characters, NUL, quotes, `%` or other punctuation,
/// no leading dot (`file` is put before it) or dash, no `..`, at most [`MAX_FILE_NAME`] bytes with the extension
/// kept; `file` if nothing is left. The exact name the client gave is kept in the object's
/// metadata, never in its key.
pub fn clean_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out = String::new();
    for c in last.chars() {
        let ascii = fold_latin(c);
        for c in ascii.chars() {
            let keep = c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
            let c = if keep { c } else { '_' };
            if c == '_' && out.ends_with('_') {
                continue;
            }
            out.push(c);
        }
    }
    let mut name = out;
    // Each rule can undo another's work (a cut can end on `_`, a trim can leave `..`):
    // apply them until none changes anything, so a clean name cleans to itself.
    loop {
        let before = name.clone();
        name = name
            .trim_start_matches(['-', '_'])
            .trim_end_matches(['.', '_', '-'])
            .to_owned();
        // No `..` anywhere (some tools split on it), no `_` or `-` just before a dot.
        while name.contains("..") || name.contains("_.") || name.contains("-.") {
            name = name
                .replace("..", ".")
                .replace("_.", ".")
                .replace("-.", ".");
        }
        if name.len() > MAX_FILE_NAME {
            let (stem, ext) = match name.rfind('.') {
                Some(i) if name.len() - i <= 12 => (&name[..i], &name[i..]),
                _ => (name.as_str(), ""),
            };
            name = format!("{}{ext}", &stem[..MAX_FILE_NAME - ext.len()]);
        }
        if name.is_empty() || name.starts_with('.') {
            name = format!("file{name}");
        }
        if name == before {
            return name;
        }
    }
}

/// The extension of a name (lowercase, without the dot): 1 to 10 ASCII letters and digits
/// after the last dot, what a web server or static host picks a type by. The type check
/// compares it with the bytes, on the clean name, which is the one the key keeps.
pub(crate) fn extension(name: &str) -> Option<String> {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| (1..=10).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The ASCII letters of a Latin letter with diacritics (`é` -> `e`, `ß` -> `ss`); `c` itself
/// for ASCII, `_` for anything else.
fn fold_latin(c: char) -> std::borrow::Cow<'static, str> {
    if c.is_ascii() {
        return c.to_string().into();
    }
    let folded = match c {
        'À'..='Å' => "A",
        'à'..='å' | 'ā' | 'ă' | 'ą' => "a",
        'Æ' => "AE",
        'æ' => "ae",
        'Ç' | 'Ć' | 'Č' => "C",
        'ç' | 'ć' | 'č' => "c",
        'Ð' | 'Ď' => "D",
        'ð' | 'ď' | 'đ' => "d",
        'È'..='Ë' | 'Ę' | 'Ě' => "E",
        'è'..='ë' | 'ē' | 'ę' | 'ě' => "e",
        'Ì'..='Ï' => "I",
        'ì'..='ï' | 'ı' => "i",
        'Ł' => "L",
        'ł' => "l",
        'Ñ' | 'Ń' | 'Ň' => "N",
        'ñ' | 'ń' | 'ň' => "n",
        'Ò'..='Ö' | 'Ø' | 'Ő' => "O",
        'ò'..='ö' | 'ø' | 'ő' => "o",
        'Œ' => "OE",
        'œ' => "oe",
        'Ř' => "R",
        'ř' => "r",
        'Ś' | 'Š' | 'Ş' => "S",
        'ś' | 'š' | 'ş' => "s",
        'ß' => "ss",
        'Ť' => "T",
        'ť' => "t",
        'Ù'..='Ü' | 'Ů' | 'Ű' => "U",
        'ù'..='ü' | 'ů' | 'ű' => "u",
        'Ý' | 'Ÿ' => "Y",
        'ý' | 'ÿ' => "y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        'ź' | 'ż' | 'ž' => "z",
        'Þ' => "Th",
        'þ' => "th",
        _ => "_",
    };
    folded.into()
}

/// Checks a key given to the API: relative, `/`-separated, no empty, `.` or `..` segment,
/// no backslash, control character or NUL, at most [`MAX_KEY`] bytes, not in the metadata
/// folder.
///
/// # Errors
/// [`Error::InvalidName`] saying which rule it breaks.
pub fn check_key(key: &str) -> Result<(), Error> {
    let bad = |reason: &str| {
        Err(Error::InvalidName {
            name: printable(key),
            reason: reason.to_owned(),
        })
    };
    if key.is_empty() {
        return bad("empty");
    }
    if key.len() > MAX_KEY {
        return bad("longer than 900 bytes");
    }
    if key.starts_with('/') {
        return bad("absolute");
    }
    if key.contains('\\') {
        return bad("contains a backslash");
    }
    if key.chars().any(char::is_control) {
        return bad("contains a control character");
    }
    for seg in key.split('/') {
        match seg {
            "" => return bad("has an empty segment"),
            "." | ".." => return bad("has a `.` or `..` segment"),
            _ => {}
        }
    }
    if key.split('/').next() == Some(META_DIR) {
        return bad("names the metadata folder");
    }
    Ok(())
}

/// `s` with control characters escaped, cut to 200 characters: safe to print in an error.
pub(crate) fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(200).flat_map(char::escape_debug).collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// The thumbnail key of `key` for the size `name`: beside the original, in a `_thumb` folder
/// no clean file name can collide with (a clean name has no `/`).
#[cfg(feature = "thumbnails")]
pub(crate) fn thumbnail_key(key: &str, size: &str, ext: &str) -> String {
    let dir = key.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{dir}/_thumb/{size}.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(clean_file_name(input), expected, "{input:?}");
    }

    #[test]
    fn client_names_are_cleaned() {
        check("photo.png", "photo.png");
        check("../../etc/passwd", "passwd");
        check("a\\b", "b");
        check("C:\\Users\\me\\cv.pdf", "cv.pdf");
        check("%2e%2e%2fsecret", "2e_2e_2fsecret");
        check("nul\0byte.txt", "nul_byte.txt");
        check("..", "file");
        check(".htaccess", "file.htaccess");
        check("-rf", "rf");
        check("", "file");
        check("my report (final).pdf", "my_report_final.pdf");
        check("résumé été.pdf", "resume_ete.pdf");
        check("Straße Œuvre.txt", "Strasse_OEuvre.txt");
        check("写真.jpg", "file.jpg");
        check("a\u{202e}gnp.exe", "a_gnp.exe");
        check("a..b", "a.b");
        check("x.php.", "x.php");
        check("<script>.svg", "script.svg");
        let long = format!("{}.png", "a".repeat(10_000));
        let c = clean_file_name(&long);
        assert!(c.len() <= MAX_FILE_NAME && c.ends_with(".png"), "{c}");
        let long = "é".repeat(10_000);
        assert_eq!(clean_file_name(&long), "e".repeat(MAX_FILE_NAME));
    }

    /// Names from an alphabet of the characters that matter to the rules, and any string.
    fn names() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let tricky = prop::sample::select(vec![
            ".", "..", "/", "\\", "_", "-", "%", "\0", "\n", " ", "é", "ß", "写", "\u{202e}",
            "php", "html", "png", "svg", "a", "Z", "9", "~", "#", "?", ":", "*",
        ]);
        prop_oneof![
            prop::collection::vec(tricky, 0..60).prop_map(|p| p.concat()),
            any::<String>(),
            prop::collection::vec(any::<u8>(), 0..400)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        ]
    }

    proptest::proptest! {
        /// Any client name gives a key that passes `check_key`, stays in its use's folder,
        /// ends with the clean name (which cleans to itself), and whose extension, as a web
        /// server would read it, is the one the type check compares with the bytes.
        #[test]
        fn any_name_gives_a_confined_key_that_keeps_the_checked_extension(name in names()) {
            let clean = clean_file_name(&name);
            proptest::prop_assert_eq!(clean_file_name(&clean), clean.clone());
            proptest::prop_assert!(!clean.is_empty() && clean.len() <= MAX_FILE_NAME);
            let key = new_key(Visibility::Public, "up", &name).unwrap();
            proptest::prop_assert!(check_key(&key).is_ok(), "{}", key);
            let parts: Vec<&str> = key.split('/').collect();
            proptest::prop_assert_eq!(parts.len(), 4);
            proptest::prop_assert_eq!((parts[0], parts[1]), ("public", "up"));
            proptest::prop_assert_eq!(parts[3], clean.as_str());
            let served = parts[3].rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
            match extension(parts[3]) {
                Some(e) => proptest::prop_assert_eq!(Some(e), served),
                // No extension a server could map: none, or not a short alphanumeric one.
                None => {
                    let unmappable = served.as_ref().is_none_or(|e| {
                        e.len() > 10 || !e.bytes().all(|b| b.is_ascii_alphanumeric())
                    });
                    proptest::prop_assert!(unmappable, "{:?}", served);
                }
            }
            // PNG bytes pass the check exactly when the kept extension is PNG's or absent.
            let png = crate::sniff::check(
                Some(crate::sniff::PNG),
                &crate::TypeSet::images(),
                None,
                &clean,
            );
            let ext = extension(&clean);
            proptest::prop_assert_eq!(png.is_ok(), ext.is_none() || ext.as_deref() == Some("png"));
        }
    }

    #[test]
    fn keys_are_confined() {
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "../a",
            "a/./b",
            "a//b",
            "a\\b",
            "a\0b",
            "a\nb",
            ".meta/public/x",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_key(&"a".repeat(901)).is_err());
        assert!(check_key("public/avatars/0123/me.png").is_ok());
        assert!(check_key("public/a/..b/c").is_ok());
    }

    #[test]
    fn new_keys_carry_visibility_prefix_random_and_name() {
        let a = new_key(Visibility::Private, "docs", "../x.pdf").unwrap();
        let b = new_key(Visibility::Private, "docs", "../x.pdf").unwrap();
        assert_ne!(a, b);
        let parts: Vec<_> = a.split('/').collect();
        assert_eq!(parts[0], "private");
        assert_eq!(parts[1], "docs");
        assert_eq!(parts[2].len(), 32);
        assert_eq!(parts[3], "x.pdf");
        check_key(&a).unwrap();
        assert_eq!(Visibility::of(&a), Some(Visibility::Private));
    }

    #[test]
    fn use_prefixes() {
        assert!(check_use_prefix("avatars").is_ok());
        assert!(check_use_prefix("docs/2024").is_ok());
        for bad in ["", "A", "a/../b", "/a", "a/", "a b", "a.b"] {
            assert!(check_use_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[cfg(feature = "thumbnails")]
    #[test]
    fn thumbnails_sit_beside_the_original() {
        assert_eq!(
            thumbnail_key("public/a/0f/me.png", "small", "png"),
            "public/a/0f/_thumb/small.png"
        );
    }
}

//! References between assets: which are relative (and so rewritten), how they resolve to a
//! logical path, and how a rewritten reference is spelled relative to the referring file.

/// A reference as written, split into what is resolved and what is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Class<'a> {
    /// Left exactly as written: `data:`, `scheme:`, `//host`, `#frag`, `/root`, empty, or a
    /// bare JS module specifier.
    External,
    /// A relative path (percent-decoded) and the `?query#fragment` suffix kept after it.
    Relative { path: String, suffix: &'a str },
}

/// Classifies a CSS `url()`/`@import` reference or a source-map URL.
pub(crate) fn classify(spec: &str) -> Class<'_> {
    let s = spec.trim();
    if s.is_empty()
        || s.starts_with('#')
        || s.starts_with('/')
        || s.starts_with('\\')
        || has_scheme(s)
    {
        return Class::External;
    }
    let cut = s.find(['?', '#']).unwrap_or(s.len());
    let (path, suffix) = s.split_at(cut);
    if path.is_empty() {
        return Class::External;
    }
    Class::Relative {
        path: percent_decode(path),
        suffix,
    }
}

/// Classifies an ES module specifier: only `./` and `../` ones name assets.
pub(crate) fn classify_js(spec: &str) -> Class<'_> {
    if spec.starts_with("./") || spec.starts_with("../") {
        classify(spec)
    } else {
        Class::External
    }
}

fn has_scheme(s: &str) -> bool {
    let Some(colon) = s.find(':') else {
        return false;
    };
    let scheme = &s[..colon];
    !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Decodes `%XX` escapes; a malformed escape or non-UTF-8 result is kept as written.
pub(crate) fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hexval = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// Percent-encodes a URL path: the manifest's rule, which the runtime's URLs follow too.
pub(crate) use asset_manifest::percent_encode_path;

/// Resolves `path` against the directory of the logical path `from`. `None` if it climbs
/// above the root.
pub(crate) fn resolve(from: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in path.split(['/', '\\']) {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// The relative URL from the file at logical path `from` to the file at `to`, encoded.
pub(crate) fn relative_url(from: &str, to: &str) -> String {
    let from_dir: Vec<&str> = {
        let mut v: Vec<&str> = from.split('/').collect();
        v.pop();
        v
    };
    let to_parts: Vec<&str> = to.split('/').collect();
    let (to_dir, name) = to_parts.split_at(to_parts.len() - 1);
    let common = from_dir
        .iter()
        .zip(to_dir)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = String::new();
    for _ in common..from_dir.len() {
        out.push_str("../");
    }
    for seg in &to_dir[common..] {
        out.push_str(seg);
        out.push('/');
    }
    out.push_str(name[0]);
    let encoded = percent_encode_path(&out);
    // `./` keeps ES module specifiers relative; harmless in CSS.
    if encoded.starts_with("../") {
        encoded
    } else {
        format!("./{encoded}")
    }
}

/// Other files an ES import may name when its target as written is not an asset, the ways
/// TypeScript allows: `./x.js` naming `x.ts` (or `.tsx`, `.jsx`), `./x.mjs` naming `x.mts`,
/// and an import without a script extension naming `x.ts`, `x.js`, ... or `x/index.*`.
pub(crate) fn import_candidates(target: &str) -> Vec<String> {
    let name = target.rsplit('/').next().unwrap_or(target);
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&target[..target.len() - name.len() + i], &name[i + 1..]),
        _ => (target, ""),
    };
    let with = |exts: &[&str], base: &str| -> Vec<String> {
        exts.iter().map(|e| format!("{base}.{e}")).collect()
    };
    match ext {
        "js" => with(&["ts", "tsx", "jsx"], stem),
        "mjs" => with(&["mts"], stem),
        "cjs" => with(&["cts"], stem),
        "jsx" => with(&["tsx"], stem),
        "ts" | "tsx" | "mts" | "cts" | "json" | "css" | "wasm" => Vec::new(),
        _ => {
            const SCRIPTS: &[&str] = &["ts", "tsx", "js", "jsx", "mjs", "mts"];
            let mut all = with(SCRIPTS, target);
            all.extend(with(SCRIPTS, &format!("{target}/index")));
            all
        }
    }
}

/// The extension a compiled source ships with (`scss` -> `css`, `ts` -> `js`, `mts` ->
/// `mjs`), or the extension itself.
pub(crate) fn shipped_extension(ext: &str) -> &str {
    match ext.to_ascii_lowercase().as_str() {
        "scss" | "sass" => "css",
        "ts" | "tsx" | "jsx" => "js",
        "mts" => "mjs",
        "cts" => "cjs",
        _ => ext,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_typescript_allows_have_candidates() {
        assert_eq!(
            import_candidates("js/x.js"),
            ["js/x.ts", "js/x.tsx", "js/x.jsx"]
        );
        assert_eq!(import_candidates("x.mjs"), ["x.mts"]);
        assert!(import_candidates("js/x.ts").is_empty());
        let bare = import_candidates("js/app.config");
        assert_eq!(bare[0], "js/app.config.ts");
        assert!(bare.contains(&"js/app.config/index.tsx".to_owned()));
    }

    fn rel(path: &str, suffix: &'static str) -> Class<'static> {
        Class::Relative {
            path: path.into(),
            suffix,
        }
    }

    #[test]
    fn external_references_are_left_alone() {
        for s in [
            "data:image/png;base64,xx",
            "https://x.org/a.png",
            "HTTP://x",
            "//cdn/x.css",
            "#frag",
            "/abs.png",
            "",
            "mailto:a@b",
        ] {
            assert_eq!(classify(s), Class::External, "{s}");
        }
        assert_eq!(classify_js("lodash"), Class::External);
        assert_eq!(classify_js("/x.js"), Class::External);
    }

    #[test]
    fn relative_references_keep_query_and_fragment() {
        assert_eq!(
            classify("../img/a.png?v=1#x"),
            rel("../img/a.png", "?v=1#x")
        );
        assert_eq!(classify("font.woff2#iefix"), rel("font.woff2", "#iefix"));
        assert_eq!(classify("sp%20ace.png"), rel("sp ace.png", ""));
        assert_eq!(classify("caf%C3%A9.png"), rel("café.png", ""));
        assert_eq!(classify("bad%zz.png"), rel("bad%zz.png", ""));
        assert_eq!(classify_js("./util.mjs"), rel("./util.mjs", ""));
    }

    #[test]
    fn resolution_stays_under_the_root() {
        assert_eq!(
            resolve("css/app.css", "../img/a.png").as_deref(),
            Some("img/a.png")
        );
        assert_eq!(
            resolve("css/app.css", "./x/./y.png").as_deref(),
            Some("css/x/y.png")
        );
        assert_eq!(resolve("app.css", "../a.png"), None);
    }

    #[test]
    fn relative_urls_are_encoded() {
        assert_eq!(relative_url("css/app.css", "img/a.1.png"), "../img/a.1.png");
        assert_eq!(relative_url("css/app.css", "css/b.1.css"), "./b.1.css");
        assert_eq!(
            relative_url("a/b/c.css", "a/d/e f#?.png"),
            "../d/e%20f%23%3F.png"
        );
        assert_eq!(relative_url("x.css", "ü.png"), "./%C3%BC.png");
        assert_eq!(
            relative_url("css/a.css", "img/c++.1.svg"),
            "../img/c%2B%2B.1.svg"
        );
        assert_eq!(percent_decode("c%2B%2B.svg"), "c++.svg");
    }
}

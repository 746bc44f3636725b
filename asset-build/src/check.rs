//! Checks an output tree: every file the manifest names is there with its size, and every
//! relative reference inside shipped CSS and JS resolves to a file of the tree.

use std::path::Path;

use crate::refs::{self, Class};
use asset_manifest::{FILE_NAME, Manifest};

/// What is wrong with the tree at `out`, one line each (empty when all is well).
///
/// # Errors
/// No readable `manifest.json`.
pub fn check_tree(out: &Path) -> crate::Result<Vec<String>> {
    let path = out.join(FILE_NAME);
    let bytes = std::fs::read(&path).map_err(crate::Error::io(&path))?;
    let manifest = Manifest::from_json(&bytes)
        .map_err(|e| crate::Error::Config(format!("{}: {e}", path.display())))?;
    let mut wrong = Vec::new();
    for (file, size) in manifest.files() {
        match std::fs::metadata(out.join(file)) {
            Ok(m) if m.len() == size => {}
            Ok(m) => wrong.push(format!("{file}: {} bytes, manifest says {size}", m.len())),
            Err(e) => wrong.push(format!("{file}: {e}")),
        }
    }
    for entry in manifest.assets.values() {
        let is_code = entry.content_type.starts_with("text/css")
            || entry.content_type.starts_with("text/javascript");
        let Ok(text) = std::fs::read_to_string(out.join(&entry.path)) else {
            continue;
        };
        if !is_code {
            continue;
        }
        for reference in references_in(&entry.path, &text) {
            let Class::Relative { path, .. } = refs::classify(&reference) else {
                continue;
            };
            match refs::resolve(&entry.path, &path) {
                Some(target) if out.join(&target).is_file() => {}
                Some(target) => wrong.push(format!(
                    "{}: `{reference}` -> {target} does not exist",
                    entry.path
                )),
                None => wrong.push(format!("{}: `{reference}` leaves the tree", entry.path)),
            }
        }
    }
    Ok(wrong)
}

/// The references in shipped (minified) CSS or JS of unknown kind: both kinds' (see
/// [`references_in`]).
pub fn references(text: &str) -> Vec<String> {
    collect(text, true, true)
}

/// The references in the shipped file `path`: in CSS `url("..")`, `url(..)` and
/// `@import ".."`; in JS quoted strings that start with `./` or `../` after `from`, `import`
/// or `import(` (a `url(` in JS is text, often a template: `url(${id})`); in both
/// `sourceMappingURL=`.
pub fn references_in(path: &str, text: &str) -> Vec<String> {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "css" => collect(text, true, false),
        "js" | "mjs" => collect(text, false, true),
        _ => collect(text, true, true),
    }
}

fn collect(text: &str, css: bool, js: bool) -> Vec<String> {
    const CSS: &[&str] = &["url(\"", "@import \""];
    const JS: &[&str] = &["from\"", "import\"", "import(\"", "from \"", "import \""];
    let mut out = Vec::new();
    let markers = [if css { CSS } else { &[] }, if js { JS } else { &[] }].concat();
    for marker in markers {
        let mut rest = text;
        while let Some(i) = rest.find(marker) {
            rest = &rest[i + marker.len()..];
            if let Some(end) = rest.find('"') {
                let r = &rest[..end];
                if marker.starts_with("url")
                    || marker.starts_with('@')
                    || r.starts_with("./")
                    || r.starts_with("../")
                {
                    out.push(r.to_owned());
                }
            }
        }
    }
    // Unquoted `url(..)`.
    let mut rest = if css { text } else { "" };
    while let Some(i) = rest.find("url(") {
        rest = &rest[i + "url(".len()..];
        if !rest.starts_with(['"', '\''])
            && let Some(end) = rest.find(')')
        {
            out.push(rest[..end].trim().to_owned());
        }
    }
    for line in text.lines() {
        if let Some(i) = line.find("sourceMappingURL=") {
            out.push(
                line[i + "sourceMappingURL=".len()..]
                    .trim()
                    .trim_end_matches("*/")
                    .trim()
                    .to_owned(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::references_in;

    #[test]
    fn a_url_in_js_is_text_not_a_reference() {
        // pdf.js builds CSS filter values in templates: `url(${id}#${name})`.
        let js = "const f=`url(${this.id}#${t})`;import\"./a.js\";//# sourceMappingURL=x.map";
        assert_eq!(references_in("pdf.mjs", js), ["./a.js", "x.map"]);
        let css = "a{background:url(img/x.png)}@import \"b.css\";";
        assert_eq!(references_in("site.css", css), ["b.css", "img/x.png"]);
    }
}

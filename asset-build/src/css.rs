//! Stage 2 for CSS: lightningcss parses, minifies for the browser targets and prints with
//! dependency analysis, so every `url()` and `@import` comes back as a placeholder to fill
//! in once its target's hashed name is known (transform, then hash).

use std::sync::{Arc, RwLock};

use lightningcss::dependencies::{Dependency, DependencyOptions};
use lightningcss::error::{Error as CssError, ErrorLocation};
use lightningcss::stylesheet::{MinifyOptions, ParserOptions, PrinterOptions, StyleSheet};
use lightningcss::targets::{Browsers, Targets};

use crate::config::Config;
use crate::error::{Pos, Problem};
use crate::transform::{Ref, RefKind, Transformed};

/// Deeper nesting than this is refused before parsing: lightningcss recurses without a limit.
const MAX_DEPTH: usize = 256;

/// Minifies (or, with minification off, only checks and re-prints) one stylesheet.
///
/// # Errors
/// The parse, minify or print error, at its position in the file.
pub fn transform(display: &str, bytes: &[u8], config: &Config) -> Result<Transformed, Problem> {
    let text = crate::transform::utf8(display, bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    crate::depth::check(display, text, crate::depth::Lang::Css, MAX_DEPTH)?;
    let warnings = Arc::new(RwLock::new(Vec::new()));
    let options = ParserOptions {
        filename: display.to_owned(),
        warnings: Some(warnings.clone()),
        ..ParserOptions::default()
    };
    let mut sheet = StyleSheet::parse(text, options).map_err(|e| problem(display, &e))?;
    // Relative url()s in custom properties: marked absolute so that lightningcss reports
    // them as dependencies (it refuses relative ones there), and put back below.
    let mut in_place = InPlace::default();
    let _ = lightningcss::visitor::Visit::visit(&mut sheet, &mut in_place);
    let targets = targets(config);
    if config.minify {
        sheet
            .minify(MinifyOptions {
                targets,
                ..MinifyOptions::default()
            })
            .map_err(|e| problem(display, &e))?;
    }
    let mut map = (config.source_maps && config.minify).then(|| {
        let mut m = parcel_sourcemap::SourceMap::new("/");
        m.add_source(display.rsplit('/').next().unwrap_or(display));
        let _ = m.set_source_content(0, text);
        m
    });
    let printed = sheet
        .to_css(PrinterOptions {
            source_map: map.as_mut(),
            minify: config.minify,
            targets,
            analyze_dependencies: Some(DependencyOptions {
                remove_imports: config.css_imports == crate::config::CssImports::Inline,
            }),
            ..PrinterOptions::default()
        })
        .map_err(|e| problem(display, &e))?;
    let layers = import_layers(&sheet);
    let refs = references(printed.dependencies.unwrap_or_default(), &in_place, layers);
    let map = match map {
        Some(mut m) => {
            let bad = |e: String| Problem::Syntax {
                path: display.to_owned(),
                pos: None,
                message: format!("writing the source map failed: {e}"),
            };
            let json = m.to_json(None).map_err(|e| bad(format!("{e:?}")))?;
            Some(utf16_map(&json, &printed.code).map_err(bad)?)
        }
        None => None,
    };
    Ok(Transformed {
        code: printed.code,
        refs,
        map,
    })
}

/// The references lightningcss reported, as refs: custom-property urls put back as written
/// (`UrlInPlace`), each `@import` with its layer, repeats (prefixed copies) once.
fn references(deps: Vec<Dependency>, in_place: &InPlace, layers: Vec<Option<String>>) -> Vec<Ref> {
    let mut refs: Vec<Ref> = Vec::new();
    let mut layers = layers.into_iter();
    for dep in deps {
        let (kind, url, placeholder, loc, media, supports) = match dep {
            Dependency::Url(u) => match in_place.original(&u.url) {
                Some(url) => (RefKind::UrlInPlace, url, u.placeholder, u.loc, None, None),
                None => (RefKind::Url, u.url, u.placeholder, u.loc, None, None),
            },
            Dependency::Import(i) => (
                RefKind::Import,
                i.url,
                i.placeholder,
                i.loc,
                i.media,
                i.supports,
            ),
        };
        let layer = if kind == RefKind::Import {
            layers.next().flatten()
        } else {
            None
        };
        let placeholder = format!("\"{placeholder}\"");
        if refs.iter().any(|r| r.placeholder == placeholder) {
            continue; // the same url again, e.g. in a prefixed fallback copy
        }
        refs.push(Ref {
            placeholder,
            spec: url,
            kind,
            pos: Pos {
                line: loc.start.line.max(1),
                col: loc.start.column.max(1),
            },
            media,
            supports,
            layer,
        });
    }
    refs
}

/// The map with generated columns in UTF-16 units (lightningcss counts bytes).
fn utf16_map(json: &str, code: &str) -> Result<String, String> {
    if code.is_ascii() {
        return Ok(json.to_owned());
    }
    let mut v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mappings = v["mappings"].as_str().ok_or("no mappings")?;
    let fixed = crate::sourcemap::byte_columns_to_utf16(mappings, code)?;
    v["mappings"] = fixed.into();
    serde_json::to_string(&v).map_err(|e| e.to_string())
}

/// The cascade layer of each `@import`, in order (`Some("")`: an anonymous layer).
fn import_layers(sheet: &StyleSheet) -> Vec<Option<String>> {
    use lightningcss::rules::CssRule;
    use lightningcss::traits::ToCss as _;
    sheet
        .rules
        .0
        .iter()
        .filter_map(|r| match r {
            CssRule::Import(i) => Some(i.layer.as_ref().map(|l| {
                l.as_ref()
                    .and_then(|n| n.to_css_string(PrinterOptions::default()).ok())
                    .unwrap_or_default()
            })),
            _ => None,
        })
        .collect()
}

/// The relative url()s of custom properties, each replaced by a marker that lightningcss
/// takes for an absolute URL.
#[derive(Default)]
struct InPlace {
    originals: Vec<String>,
}

const IN_PLACE_MARK: &str = "/\u{1}in-place/";

impl InPlace {
    fn original(&self, url: &str) -> Option<String> {
        let n: usize = url.strip_prefix(IN_PLACE_MARK)?.parse().ok()?;
        self.originals.get(n).cloned()
    }

    fn tokens(&mut self, list: &mut lightningcss::properties::custom::TokenList<'_>) {
        use lightningcss::properties::custom::TokenOrValue;
        for t in &mut list.0 {
            match t {
                TokenOrValue::Url(u) if !u.is_absolute() => {
                    let mark = format!("{IN_PLACE_MARK}{}", self.originals.len());
                    self.originals.push(u.url.to_string());
                    u.url = mark.into();
                }
                TokenOrValue::Function(f) => self.tokens(&mut f.arguments),
                TokenOrValue::Var(v) => {
                    if let Some(fb) = &mut v.fallback {
                        self.tokens(fb);
                    }
                }
                TokenOrValue::Env(e) => {
                    if let Some(fb) = &mut e.fallback {
                        self.tokens(fb);
                    }
                }
                _ => {}
            }
        }
    }
}

impl<'i> lightningcss::visitor::Visitor<'i> for InPlace {
    type Error = std::convert::Infallible;

    fn visit_types(&self) -> lightningcss::visitor::VisitTypes {
        lightningcss::visit_types!(PROPERTIES)
    }

    fn visit_property(
        &mut self,
        property: &mut lightningcss::properties::Property<'i>,
    ) -> Result<(), Self::Error> {
        if let lightningcss::properties::Property::Custom(c) = property {
            self.tokens(&mut c.value);
        }
        Ok(())
    }
}

fn problem<T: std::fmt::Display>(display: &str, e: &CssError<T>) -> Problem {
    let pos = e
        .loc
        .as_ref()
        .map(|ErrorLocation { line, column, .. }| Pos {
            line: line + 1,
            col: (*column).max(1),
        });
    let mut message = e.kind.to_string();
    if message.contains("Ambiguous url") || message.contains("custom property") {
        message.push_str(" (a relative url() in a custom property resolves differently per browser: use a path from the site root or move it into a real property)");
    }
    Problem::Syntax {
        path: display.to_owned(),
        pos,
        message: lowercase_first(&message),
    }
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn targets(config: &Config) -> Targets {
    let mut b = Browsers::default();
    for (name, major, minor) in &config.targets.0 {
        let v = (major << 16) | (minor << 8);
        let slot = match name.as_str() {
            "android" => &mut b.android,
            "chrome" => &mut b.chrome,
            "edge" => &mut b.edge,
            "firefox" => &mut b.firefox,
            "ie" => &mut b.ie,
            "ios_saf" => &mut b.ios_saf,
            "opera" => &mut b.opera,
            "safari" => &mut b.safari,
            _ => &mut b.samsung,
        };
        // The oldest version listed for a browser wins.
        *slot = Some(slot.map_or(v, |old| old.min(v)));
    }
    Targets::from(b)
}

/// `s` as a double-quoted CSS string, escaped as cssparser would.
/// A `url()` argument: bare when nothing in it needs quoting (2 bytes less per reference),
/// else a quoted string.
pub fn url_argument(s: &str) -> String {
    let bare = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'(' | b')' | b'\\'));
    if bare { s.to_owned() } else { quote(s) }
}

pub fn quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\0' => o.push('\u{FFFD}'),
            '\u{1}'..='\u{1f}' | '\u{7f}' => o.push_str(&format!("\\{:x} ", c as u32)),
            _ => o.push(c),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected_code: &str, expected_refs: &[(&str, RefKind)]) {
        let t = transform("t.css", input.as_bytes(), &Config::new("a", "b")).unwrap();
        let mut code = t.code.clone();
        for r in &t.refs {
            code = code.replace(&r.placeholder, &format!("<{}>", r.spec));
        }
        assert_eq!(code, expected_code);
        let refs: Vec<_> = t.refs.iter().map(|r| (r.spec.as_str(), r.kind)).collect();
        assert_eq!(refs, expected_refs);
    }

    #[test]
    fn minifies_and_reports_urls() {
        check(
            "a { color: #ff0000; background: url( 'img/a b.png?x#y' ) }\n",
            "a{color:red;background:url(<img/a b.png?x#y>)}",
            &[("img/a b.png?x#y", RefKind::Url)],
        );
    }

    #[test]
    fn keeps_imports_as_rules() {
        check(
            "@import url(\"b.css\") screen;\nb{c:d}",
            "@import <b.css> screen;b{c:d}",
            &[("b.css", RefKind::Import)],
        );
    }

    #[test]
    fn errors_have_one_based_positions() {
        let e = transform("t.css", b"a{}\n\n  }}@media (", &Config::new("a", "b")).unwrap_err();
        let Problem::Syntax { pos: Some(pos), .. } = e else {
            panic!("{e:?}")
        };
        assert_eq!(pos.line, 3);
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = "a{".repeat(300);
        let e = transform("t.css", deep.as_bytes(), &Config::new("a", "b")).unwrap_err();
        assert!(e.to_string().contains("nesting deeper"), "{e}");
    }

    #[test]
    fn quote_escapes_like_cssparser() {
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\a \"");
        assert_eq!(
            url_argument("../img/a.1f.png?v=1#x"),
            "../img/a.1f.png?v=1#x"
        );
        assert_eq!(url_argument("sp ace.png"), "\"sp ace.png\"");
        assert_eq!(url_argument("a(1).png"), "\"a(1).png\"");
        assert_eq!(url_argument("caf\u{e9}.svg"), "\"caf\u{e9}.svg\"");
    }
}

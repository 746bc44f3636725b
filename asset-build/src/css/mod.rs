//! Stage 2 for CSS: lightningcss parses, minifies for the browser targets and prints with
//! dependency analysis, so every `url()` and `@import` comes back as a placeholder to fill
//! in once its target's hashed name is known (transform, then hash).

use std::sync::{Arc, RwLock};

use lightningcss::dependencies::{Dependency, DependencyOptions};
use lightningcss::error::{Error as CssError, ErrorLocation};
use lightningcss::stylesheet::{MinifyOptions, ParserOptions, PrinterOptions, StyleSheet};
use lightningcss::targets::{Browsers, Targets};

use crate::config::Config;
use crate::error::ProblemKind;
use crate::error::{Pos, Problem};
use crate::transform::{Ref, RefKind, Transformed, Warning};

mod tweaks;
mod visit;

use tweaks::print_tweaks;
use visit::{InPlace, TightCommas};

/// Deeper nesting than this is refused before parsing: lightningcss recurses without a limit.
const MAX_DEPTH: usize = 256;

/// Minifies (or, with minification off, only checks and re-prints) one stylesheet.
///
/// # Errors
/// The parse, minify or print error, at its position in the file.
pub(crate) fn transform(
    display: &str,
    bytes: &[u8],
    config: &Config,
) -> Result<Transformed, Problem> {
    let text = crate::transform::utf8(display, bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    crate::depth::check(display, text, crate::depth::Lang::Css, MAX_DEPTH)?;
    let recovered = Arc::new(RwLock::new(Vec::new()));
    let options = ParserOptions {
        filename: display.to_owned(),
        // What browsers drop (an invalid rule, declaration or media query) is dropped, and
        // reported below; a stylesheet that cannot be parsed at all still fails.
        error_recovery: true,
        warnings: Some(recovered.clone()),
        ..ParserOptions::default()
    };
    let mut sheet = StyleSheet::parse(text, options).map_err(|e| problem(display, &e))?;
    let warnings = dropped(display, &recovered, sheet.rules.0.is_empty(), config)?;
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
        let _ = lightningcss::visitor::Visit::visit(&mut sheet, &mut TightCommas);
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
    let (code, edits) = if config.minify {
        print_tweaks(&printed.code)
    } else {
        (printed.code.clone(), Vec::new())
    };
    let map = match map {
        Some(mut m) => {
            let bad = |e: String| {
                Problem::new(
                    display.to_owned(),
                    None,
                    ProblemKind::Syntax {
                        message: format!("writing the source map failed: {e}"),
                    },
                )
            };
            let json = m.to_json(None).map_err(|e| bad(format!("{e:?}")))?;
            let json = utf16_map(&json, &printed.code).map_err(bad)?;
            Some(crate::sourcemap::adjust(&json, &edits).map_err(bad)?)
        }
        None => None,
    };
    Ok(Transformed {
        code,
        refs,
        map,
        warnings,
        ..Default::default()
    })
}

/// What the parser dropped as browsers do: warnings. The first of them is the file's error
/// with `invalid-css = "error"`, or when nothing was left (a file that is not CSS at all).
fn dropped(
    display: &str,
    recovered: &RwLock<Vec<CssError<lightningcss::error::ParserError<'_>>>>,
    nothing_left: bool,
    config: &Config,
) -> Result<Vec<Warning>, Problem> {
    let recovered = recovered
        .read()
        .map_or_else(|e| e.into_inner().clone(), |w| w.clone());
    let mut warnings = Vec::new();
    for e in &recovered {
        let Problem {
            pos,
            kind: ProblemKind::Syntax { message },
            ..
        } = problem(display, e)
        else {
            continue;
        };
        if nothing_left {
            return Err(Problem::new(
                display.to_owned(),
                pos,
                ProblemKind::Syntax { message },
            ));
        }
        if config.invalid_css == crate::config::InvalidCss::Error {
            return Err(Problem::new(
                display.to_owned(),
                pos,
                ProblemKind::Syntax {
                    message: format!("{message} (invalid-css = \"error\")"),
                },
            ));
        }
        warnings.push(Warning {
            pos,
            message: format!("{message}: dropped, as browsers drop it"),
        });
    }
    Ok(warnings)
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
    Problem::new(
        display.to_owned(),
        pos,
        ProblemKind::Syntax {
            message: lowercase_first(&message),
        },
    )
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
pub(crate) fn url_argument(s: &str) -> String {
    let bare = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'(' | b')' | b'\\'));
    if bare { s.to_owned() } else { quote(s) }
}

pub(crate) fn quote(s: &str) -> String {
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

    fn warnings(input: &str) -> Vec<String> {
        let t = transform("a.css", input.as_bytes(), &Config::new("a", "b")).unwrap();
        t.warnings
            .iter()
            .map(|w| {
                let p = w.pos.unwrap_or(Pos::START);
                format!("{}:{}: {}", p.line, p.col, w.message)
            })
            .collect()
    }

    #[test]
    fn what_browsers_drop_is_dropped_with_a_warning_and_the_rest_ships() {
        // Foundation 6.9's IE hack and Semantic UI 2.5's selector after a pseudo-element.
        let css = "a{color:red}\n@media screen and (min-width:0\\0){.x{top:0}}\n[data-tooltip]:after .header{color:blue}\nb{color:green}\n";
        let t = transform("a.css", css.as_bytes(), &Config::new("a", "b")).unwrap();
        assert!(
            t.code.contains("a{color:red}") && t.code.contains("b{color:green}"),
            "{}",
            t.code
        );
        assert!(!t.code.contains("header"), "{}", t.code);
        let w = warnings(css);
        assert!(!w.is_empty(), "{w:?}");
        assert!(
            w.iter().all(|m| m.contains("dropped, as browsers drop it")),
            "{w:?}"
        );
        assert!(w.iter().any(|m| m.starts_with("3:")), "{w:?}");
        // A setting makes them errors.
        let strict = Config::new("a", "b").invalid_css(crate::config::InvalidCss::Error);
        let e = transform("a.css", css.as_bytes(), &strict).unwrap_err();
        assert!(e.to_string().starts_with("a.css:"), "{e}");
        // Clean CSS has no warnings.
        assert_eq!(warnings("a{color:red}"), Vec::<String>::new());
    }

    #[test]
    fn errors_and_warnings_have_one_based_positions() {
        let w = warnings("a{color:red}\n\n  }}@media (");
        assert!(w[0].starts_with("3:"), "{w:?}");
        // Nothing left to ship: the file is not CSS, an error.
        let e = transform("t.css", b"\n\n  }}@media (", &Config::new("a", "b")).unwrap_err();
        let (ProblemKind::Syntax { .. }, Some(pos)) = (&e.kind, e.pos) else {
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
    fn commas_in_token_values_lose_their_space_but_custom_properties_stay_as_written() {
        check(
            ".a{--s: 0 1px rgba(0, 0, 0, .1), 0 2px red;color:rgba(239, 68, 68, var(--o));box-shadow:var(--a, 0 0 #0000), var(--s)}",
            ".a{--s:0 1px #0000001a, 0 2px red;color:rgba(239,68,68,var(--o));box-shadow:var(--a,0 0 #0000),var(--s)}",
            &[],
        );
    }

    #[test]
    fn escapes_lose_the_space_only_where_nothing_could_continue_them() {
        let (code, edits) = print_tweaks(
            ".\\32 xl\\:p-4{a:b}.\\31 0{c:d}/* \\32 x */.\\@x,.\\32 \\33 y{content:\"\\2014 z\"}",
        );
        assert_eq!(
            code,
            ".\\32xl\\:p-4{a:b}.\\31 0{c:d}/* \\32 x */.\\@x,.\\32\\33y{content:\"\\2014z\"}"
        );
        // Columns of the removed spaces, before removal.
        let cols: Vec<u32> = edits.iter().map(|e| e.col).collect();
        assert_eq!(cols, [4, 48, 52, 69]);
        // Private-use characters in strings become escapes, with a space where needed.
        let (code, edits) =
            print_tweaks(".a:before{content:\"\u{f101}\"}.b:after{content:\"\u{f102}a\"}");
        assert_eq!(
            code,
            ".a:before{content:\"\\f101\"}.b:after{content:\"\\f102 a\"}"
        );
        let moved: Vec<(u32, i64)> = edits.iter().map(|e| (e.col, e.delta)).collect();
        assert_eq!(moved, [(20, 4), (41, 5)]);
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

//! Text work for finishing a file, on strings only: placeholders replaced (with the edits
//! that moves source-map columns by), inlined stylesheets wrapped in their `@import`'s
//! conditions, `@import` rules and in-place urls written out.

use crate::refs;
use crate::sourcemap::Edit;
use crate::transform::Ref;

/// A placeholder in transformed code and what replaces it.
pub(super) struct Replacement<'a> {
    pub(super) placeholder: &'a str,
    pub(super) text: String,
    /// Used instead where the placeholder is the whole argument of `url()`: unquoted, when
    /// nothing in it needs quotes.
    pub(super) bare_in_url: Option<String>,
}

/// `code` with every placeholder replaced, and the edits that made (for source maps).
pub(super) fn fill(code: &str, replacements: &[Replacement]) -> (String, Vec<Edit>) {
    let mut hits: Vec<(usize, usize)> = Vec::new();
    for (k, Replacement { placeholder, .. }) in replacements.iter().enumerate() {
        hits.extend(code.match_indices(placeholder).map(|(pos, _)| (pos, k)));
    }
    hits.sort_unstable();
    let mut out = String::with_capacity(code.len() + 64 * hits.len());
    let mut edits = Vec::with_capacity(hits.len());
    let (mut at, mut line, mut col) = (0usize, 0u32, 0u32);
    for (pos, k) in hits {
        if pos < at {
            continue;
        }
        let r = &replacements[k];
        let placeholder = r.placeholder;
        let in_url =
            code[..pos].ends_with("url(") && code[pos + placeholder.len()..].starts_with(')');
        let replacement = match &r.bare_in_url {
            Some(bare) if in_url => bare,
            _ => &r.text,
        };
        advance(&code[at..pos], &mut line, &mut col);
        out.push_str(&code[at..pos]);
        out.push_str(replacement);
        edits.push(Edit {
            line,
            col,
            delta: utf16_len(replacement) - utf16_len(placeholder),
            before: false,
        });
        advance(placeholder, &mut line, &mut col);
        at = pos + placeholder.len();
    }
    out.push_str(&code[at..]);
    (out, edits)
}

/// Moves a (0-based line, UTF-16 column) position past `s`.
fn advance(s: &str, line: &mut u32, col: &mut u32) {
    for ch in s.chars() {
        if ch == '\n' {
            *line += 1;
            *col = 0;
        } else {
            *col += ch.len_utf16() as u32;
        }
    }
}

/// The length of `s` in UTF-16 units, as source maps count columns.
pub(super) fn utf16_len(s: &str) -> i64 {
    s.chars().map(|c| c.len_utf16() as i64).sum()
}

/// An inlined stylesheet's `body` inside the conditions of the `@import` it replaces.
pub(super) fn wrap(
    body: &str,
    layer: Option<&str>,
    media: Option<&str>,
    supports: Option<&str>,
) -> String {
    let mut out = body.to_owned();
    match layer {
        Some("") => out = format!("@layer{{{out}}}"),
        Some(name) => out = format!("@layer {name}{{{out}}}"),
        None => {}
    }
    if let Some(m) = media.filter(|m| !m.trim().is_empty() && m.trim() != "all") {
        out = format!("@media {m}{{{out}}}");
    }
    if let Some(s) = supports {
        out = format!("@supports {s}{{{out}}}");
    }
    out
}

/// `@import` `r` kept as a rule, pointing at `url`, with its layer, supports condition and
/// media query.
pub(super) fn import_rule(r: &Ref, url: &str) -> String {
    let mut rule = format!("@import {}", crate::css::quote(url));
    match r.layer.as_deref() {
        Some("") => rule.push_str(" layer"),
        Some(name) => rule.push_str(&format!(" layer({name})")),
        None => {}
    }
    if let Some(s) = &r.supports {
        rule.push_str(&format!(" supports({s})"));
    }
    if let Some(m) = &r.media {
        rule.push(' ');
        rule.push_str(m);
    }
    rule.push(';');
    rule
}

/// `spec` as written with its last path segment replaced by the name of the file at
/// `hashed`, and `suffix` (its `?query#fragment`) after it.
pub(super) fn url_in_place(spec: &str, hashed: &str, suffix: &str) -> String {
    let path = spec.split(['?', '#']).next().unwrap_or(spec);
    let name = refs::percent_encode_path(hashed.rsplit('/').next().unwrap_or(hashed));
    match path.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{name}{suffix}"),
        None => format!("{name}{suffix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills `code` with one placeholder, `@P`, replaced by `text` (or `bare` as the whole
    /// argument of `url()`), and checks the text and the edits' (line, col, delta), at positions in `code`.
    fn check(code: &str, text: &str, bare: Option<&str>, filled: &str, edits: &[(u32, u32, i64)]) {
        let replacements = [Replacement {
            placeholder: "@P",
            text: text.to_owned(),
            bare_in_url: bare.map(str::to_owned),
        }];
        let (out, made) = fill(code, &replacements);
        assert_eq!(out, filled);
        let made: Vec<(u32, u32, i64)> = made.iter().map(|e| (e.line, e.col, e.delta)).collect();
        assert_eq!(made, edits);
    }

    #[test]
    fn each_placeholder_is_replaced_and_moves_the_columns_after_it() {
        check(
            "a @P b @P",
            "xyz",
            None,
            "a xyz b xyz",
            &[(0, 2, 1), (0, 7, 1)],
        );
        check("é\n@P", "x", None, "é\nx", &[(1, 0, -1)]);
    }

    #[test]
    fn the_whole_argument_of_url_takes_the_bare_form() {
        check(
            "url(@P) @P",
            "\"a.css\"",
            Some("a.css"),
            "url(a.css) \"a.css\"",
            &[(0, 4, 3), (0, 8, 5)],
        );
    }

    #[test]
    fn an_inlined_stylesheet_takes_its_imports_conditions() {
        assert_eq!(wrap("a{}", Some(""), Some("all"), None), "@layer{a{}}");
        assert_eq!(
            wrap("a{}", Some("x"), Some("print"), Some("(display:grid)")),
            "@supports (display:grid){@media print{@layer x{a{}}}}"
        );
    }

    #[test]
    fn a_url_in_place_keeps_its_directory_and_suffix() {
        assert_eq!(
            url_in_place("../img/a.png?v#f", "img/a.0123.png", "?v#f"),
            "../img/a.0123.png?v#f"
        );
        assert_eq!(url_in_place("a.png", "img/a.0123.png", ""), "a.0123.png");
    }
}

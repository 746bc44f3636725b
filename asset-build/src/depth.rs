//! Bracket nesting, measured before parsing: the parsers and minifiers recurse once per level,
//! so input nested deeper than a limit is refused with its position instead of overflowing
//! the stack. Brackets inside strings and comments (and, for JS, template text and regular
//! expressions) do not count.

use crate::error::ProblemKind;
use crate::error::{Problem, pos_of};

/// Which language's strings and comments to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Css,
    Js,
}

/// Refuses `text` if its brackets nest deeper than `max`.
///
/// # Errors
/// [`Problem::Syntax`] at the first bracket past the limit.
pub(crate) fn check(display: &str, text: &str, lang: Lang, max: usize) -> Result<(), Problem> {
    match deepest(text.as_bytes(), lang, max) {
        None => Ok(()),
        Some(at) => Err(Problem::new(
            display.to_owned(),
            Some(pos_of(text.as_bytes(), at)),
            ProblemKind::Syntax {
                message: format!("nesting deeper than {max} levels"),
            },
        )),
    }
}

/// The offset of the first bracket that nests deeper than `max`, if any.
fn deepest(b: &[u8], lang: Lang, max: usize) -> Option<usize> {
    let mut s = Scanner {
        b,
        js: lang == Lang::Js,
        max,
        i: 0,
        depth: 0,
        regex_ok: true,
        templates: Vec::new(),
    };
    while s.i < b.len() {
        if let Some(at) = s.step() {
            return Some(at);
        }
    }
    None
}

/// Where the scan is: the offset, the bracket depth, and what a `/` would mean here.
struct Scanner<'a> {
    b: &'a [u8],
    js: bool,
    max: usize,
    i: usize,
    depth: usize,
    /// For JS: whether a `/` here starts a regular expression (after an operator or an
    /// opening bracket) rather than dividing (after a value).
    regex_ok: bool,
    /// Template literals open `${` scopes: the depth at which each `}` returns to the text.
    templates: Vec<usize>,
}

impl Scanner<'_> {
    /// Consumes one token; `Some(offset)` when a bracket there nests too deep.
    fn step(&mut self) -> Option<usize> {
        let (b, i) = (self.b, self.i);
        let c = b[i];
        let next = b.get(i + 1).copied();
        match c {
            b'"' | b'\'' => self.skip_to(skip_string(b, i, c), false),
            b'/' if next == Some(b'*') => {
                let end = find(b, i + 2, b"*/").map_or(b.len(), |e| e + 2);
                self.i = end;
            }
            b'/' if self.js && next == Some(b'/') => {
                self.i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |e| i + e);
            }
            b'/' if self.js && self.regex_ok => self.skip_to(skip_regex(b, i), false),
            b'`' if self.js => return self.template_text(i + 1),
            b'}' if self.js && self.templates.last() == Some(&self.depth.saturating_sub(1)) => {
                self.depth -= 1;
                self.templates.pop();
                return self.template_text(i + 1);
            }
            b'{' | b'(' | b'[' => {
                self.depth += 1;
                self.skip_to(i + 1, true);
                if self.depth > self.max {
                    return Some(i);
                }
            }
            b'}' | b')' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                self.skip_to(i + 1, c == b'}');
            }
            c if c.is_ascii_whitespace() => self.i += 1,
            c if is_word(c) => self.word(),
            _ => self.skip_to(i + 1, true),
        }
        None
    }

    fn skip_to(&mut self, end: usize, regex_ok: bool) {
        self.i = end;
        self.regex_ok = regex_ok;
    }

    /// From inside a template's text: to its end, or into its next `${` scope.
    fn template_text(&mut self, from: usize) -> Option<usize> {
        let (end, opens) = skip_template(self.b, from);
        self.i = end;
        if opens {
            self.templates.push(self.depth);
            self.depth += 1;
            self.regex_ok = true;
            if self.depth > self.max {
                return Some(end - 2);
            }
        }
        None
    }

    /// An identifier or number: after a value a `/` divides; after a keyword it starts a regex.
    fn word(&mut self) {
        let start = self.i;
        while self.i < self.b.len() && is_word(self.b[self.i]) {
            self.i += 1;
        }
        self.regex_ok = matches!(
            &self.b[start..self.i],
            b"return"
                | b"typeof"
                | b"instanceof"
                | b"in"
                | b"of"
                | b"new"
                | b"delete"
                | b"void"
                | b"throw"
                | b"case"
                | b"do"
                | b"else"
                | b"yield"
                | b"await"
        );
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

fn find(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(pat.len())
        .position(|w| w == pat)
        .map(|p| p + from)
}

/// The offset after the string starting at `i` (quote `q`); escapes skipped.
fn skip_string(b: &[u8], mut i: usize, q: u8) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == q => return i + 1,
            b'\n' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// The offset after the regular expression starting at `i` (classes and escapes skipped).
fn skip_regex(b: &[u8], mut i: usize) -> usize {
    i += 1;
    let mut class = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' => {
                class = true;
                i += 1;
            }
            b']' => {
                class = false;
                i += 1;
            }
            b'/' if !class => return i + 1,
            b'\n' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// From inside a template's text at `i`: the offset after its closing backtick (`false`) or
/// after the next `${` (`true`).
fn skip_template(b: &[u8], mut i: usize) -> (usize, bool) {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'`' => return (i + 1, false),
            b'$' if b.get(i + 1) == Some(&b'{') => return (i + 2, true),
            _ => i += 1,
        }
    }
    (b.len(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(text: &str, lang: Lang, max: usize) -> bool {
        deepest(text.as_bytes(), lang, max).is_none()
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let deep = "[".repeat(10);
        assert!(!depth_ok(&format!("a {{ b: {deep} }}"), Lang::Css, 5));
        assert!(depth_ok(
            &format!("a {{ content: \"{deep}\" }}"),
            Lang::Css,
            5
        ));
        assert!(depth_ok(
            &format!("a {{ content: '{deep}' }}"),
            Lang::Css,
            5
        ));
        assert!(depth_ok(&format!("/* {deep} */ a {{}}"), Lang::Css, 5));
        assert!(depth_ok(&format!("// {deep}\nlet a = 1;"), Lang::Js, 5));
        assert!(depth_ok(&format!("let r = /{deep}/g;"), Lang::Js, 5));
        assert!(depth_ok(
            &format!("let r = x.replace(/[[(]/g, '');{}", "(".repeat(3)),
            Lang::Js,
            5
        ));
        assert!(depth_ok(
            &format!("let t = `{deep}${{a}}{deep}`;"),
            Lang::Js,
            5
        ));
        assert!(!depth_ok(&format!("let a = {deep}"), Lang::Js, 5));
        // Division is not a regex: the brackets after it count.
        assert!(!depth_ok(&format!("let a = b / 2; x({deep})"), Lang::Js, 5));
        // Nesting through template substitutions counts.
        assert!(!depth_ok("`${`${`${`${`${`${1}`}`}`}`}`}`", Lang::Js, 5));
        assert!(depth_ok("`${`${1}`}`", Lang::Js, 5));
    }

    #[test]
    fn the_position_is_the_first_bracket_too_deep() {
        let e = check("a.js", "let a =\n  [[[[", Lang::Js, 3).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("a.js:2:6: nesting deeper than 3 levels"),
            "{e}"
        );
    }
}

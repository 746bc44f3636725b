//! Bracket nesting, measured before parsing: the parsers and minifiers recurse once per level,
//! so input nested deeper than a limit is refused with its position instead of overflowing
//! the stack. Brackets inside strings and comments (and, for JS, template text and regular
//! expressions) do not count.

use crate::error::{Problem, pos_of};

/// Which language's strings and comments to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Css,
    Js,
}

/// Refuses `text` if its brackets nest deeper than `max`.
///
/// # Errors
/// [`Problem::Syntax`] at the first bracket past the limit.
pub fn check(display: &str, text: &str, lang: Lang, max: usize) -> Result<(), Problem> {
    match deepest(text.as_bytes(), lang, max) {
        None => Ok(()),
        Some(at) => Err(Problem::Syntax {
            path: display.to_owned(),
            pos: Some(pos_of(text.as_bytes(), at)),
            message: format!("nesting deeper than {max} levels"),
        }),
    }
}

/// The offset of the first bracket that nests deeper than `max`, if any.
fn deepest(b: &[u8], lang: Lang, max: usize) -> Option<usize> {
    let mut depth = 0usize;
    // For JS: whether a `/` here starts a regular expression (after an operator or an opening
    // bracket) rather than dividing (after a value).
    let mut regex_ok = true;
    // Template literals open `${` scopes: the depth at which each `}` returns to the template.
    let mut templates: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' => {
                i = skip_string(b, i, c);
                regex_ok = false;
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = find(b, i + 2, b"*/").map_or(b.len(), |e| e + 2);
                continue;
            }
            b'/' if lang == Lang::Js && b.get(i + 1) == Some(&b'/') => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |e| i + e);
                continue;
            }
            b'/' if lang == Lang::Js && regex_ok => {
                i = skip_regex(b, i);
                regex_ok = false;
                continue;
            }
            b'`' if lang == Lang::Js => {
                match skip_template(b, i + 1) {
                    (end, false) => i = end,
                    (end, true) => {
                        templates.push(depth);
                        depth += 1;
                        if depth > max {
                            return Some(end - 2);
                        }
                        i = end;
                        regex_ok = true;
                    }
                }
                continue;
            }
            b'}' if lang == Lang::Js && templates.last() == Some(&depth.saturating_sub(1)) => {
                depth -= 1;
                templates.pop();
                // Back in the template's text, up to its end or the next `${`.
                match skip_template(b, i + 1) {
                    (end, false) => i = end,
                    (end, true) => {
                        templates.push(depth);
                        depth += 1;
                        i = end;
                        regex_ok = true;
                    }
                }
                continue;
            }
            b'{' | b'(' | b'[' => {
                depth += 1;
                if depth > max {
                    return Some(i);
                }
                regex_ok = true;
            }
            b'}' | b')' | b']' => {
                depth = depth.saturating_sub(1);
                regex_ok = c == b'}';
            }
            c if c.is_ascii_whitespace() => {}
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'$') || b[i] >= 0x80)
                {
                    i += 1;
                }
                // After a value a `/` divides; after a keyword it starts a regex.
                regex_ok = matches!(
                    &b[start..i],
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
                continue;
            }
            _ => regex_ok = true,
        }
        i += 1;
    }
    None
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

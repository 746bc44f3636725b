//! Procedural half of `asset-runtime`: the compile error for an unknown asset path, naming the
//! closest known paths. The generated `asset!` macro calls it from its fallback arm.

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// `__unknown_asset!("css/ap.css", "css/app.css", "img/logo.png", ...)`: always a compile
/// error at the first literal, suggesting up to three of the others.
#[proc_macro]
pub fn __unknown_asset(input: TokenStream) -> TokenStream {
    let mut literals = Vec::new();
    for tt in input {
        match tt {
            TokenTree::Literal(l) => literals.push(l),
            TokenTree::Group(g) if g.delimiter() == Delimiter::None => {
                literals.extend(g.stream().into_iter().filter_map(|t| match t {
                    TokenTree::Literal(l) => Some(l),
                    _ => None,
                }))
            }
            _ => {}
        }
    }
    let Some(first) = literals.first() else {
        return error(Span::call_site(), "asset! takes one string literal");
    };
    let span = first.span();
    let Some(wanted) = unquote(&first.to_string()) else {
        return error(
            span,
            "asset! takes a plain string literal, e.g. asset!(\"css/app.css\")",
        );
    };
    let known: Vec<String> = literals[1..]
        .iter()
        .filter_map(|l| unquote(&l.to_string()))
        .collect();
    error(span, &message(&wanted, &known))
}

fn message(wanted: &str, known: &[String]) -> String {
    let mut ranked: Vec<(usize, &String)> =
        known.iter().map(|k| (distance(wanted, k), k)).collect();
    ranked.sort();
    let best: Vec<String> = ranked
        .iter()
        .take(3)
        .map(|(_, k)| format!("`{k}`"))
        .collect();
    if best.is_empty() {
        format!("no asset `{wanted}`: this crate has no assets")
    } else {
        format!("no asset `{wanted}`; the closest are {}", best.join(", "))
    }
}

/// The value of a plain `"..."` literal (escapes other than `\"` and `\\` are not expected in
/// paths, and are kept as written).
fn unquote(lit: &str) -> Option<String> {
    let inner = lit.strip_prefix('"')?.strip_suffix('"')?;
    Some(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn error(span: Span, msg: &str) -> TokenStream {
    let mut lit = Literal::string(msg);
    lit.set_span(span);
    let mut bang = Punct::new('!', Spacing::Alone);
    bang.set_span(span);
    let mut group = Group::new(Delimiter::Parenthesis, TokenTree::Literal(lit).into());
    group.set_span(span);
    [
        TokenTree::Punct(Punct::new(':', Spacing::Joint)),
        TokenTree::Punct(Punct::new(':', Spacing::Alone)),
        TokenTree::Ident(Ident::new("core", span)),
        TokenTree::Punct(Punct::new(':', Spacing::Joint)),
        TokenTree::Punct(Punct::new(':', Spacing::Alone)),
        TokenTree::Ident(Ident::new("compile_error", span)),
        TokenTree::Punct(bang),
        TokenTree::Group(group),
    ]
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_three() {
        let known: Vec<String> = ["css/app.css", "css/print.css", "img/logo.png", "js/app.js"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            message("css/ap.css", &known),
            "no asset `css/ap.css`; the closest are `css/app.css`, `css/print.css`, `js/app.js`"
        );
        assert_eq!(message("x", &[]), "no asset `x`: this crate has no assets");
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "ab"), 2);
    }
}

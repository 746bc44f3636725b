//! Relative module specifiers: found, and replaced by placeholders (in the program when it
//! is printed, or in the file's own text when it ships as written).

use swc_core::common::{BytePos, Span};
use swc_core::ecma::ast::{
    CallExpr, Callee, ExportAll, Expr, ExprOrSpread, ImportDecl, Lit, NamedExport, Str,
};
use swc_core::ecma::visit::{VisitMut, VisitMutWith};

use crate::refs::{Class, classify_js};
use crate::transform::{Ref, RefKind, Transformed};

/// A token that does not occur in the source, so placeholders cannot collide with its text.
pub(super) fn placeholder_token(text: &str) -> String {
    let mut n = 0u32;
    loop {
        let token = format!("__asset_ref{n:x}_");
        if !text.contains(&token) {
            return token;
        }
        n += 1;
    }
}

pub(super) fn placeholder(token: &str, i: usize) -> String {
    format!("{token}{i}__")
}

/// Finds relative module specifiers; when minifying, replaces them with placeholders.
pub(super) struct Specifiers<'a> {
    pub(super) token: &'a str,
    pub(super) found: Vec<(Span, String)>,
    pub(super) minify: bool,
}

impl Specifiers<'_> {
    fn visit_str(&mut self, s: &mut Str) {
        let Some(value) = s.value.as_str() else {
            return;
        };
        if !matches!(classify_js(value), Class::Relative { .. }) {
            return;
        }
        let i = self.found.len();
        self.found.push((s.span, value.to_owned()));
        if self.minify {
            *s = Str {
                span: s.span,
                value: placeholder(self.token, i).into(),
                raw: None,
            };
        }
    }
}

impl VisitMut for Specifiers<'_> {
    fn visit_mut_import_decl(&mut self, n: &mut ImportDecl) {
        self.visit_str(&mut n.src);
    }
    fn visit_mut_export_all(&mut self, n: &mut ExportAll) {
        self.visit_str(&mut n.src);
    }
    fn visit_mut_named_export(&mut self, n: &mut NamedExport) {
        if let Some(src) = &mut n.src {
            self.visit_str(src);
        }
    }
    fn visit_mut_call_expr(&mut self, n: &mut CallExpr) {
        n.visit_mut_children_with(self);
        if !matches!(n.callee, Callee::Import(_)) {
            return;
        }
        if let Some(ExprOrSpread { spread: None, expr }) = n.args.first_mut()
            && let Expr::Lit(Lit::Str(s)) = &mut **expr
        {
            self.visit_str(s);
        }
    }
}

/// Without minification: the file's own text, with each specifier's characters (inside its
/// quotes) and the trailing `sourceMappingURL` replaced by placeholders.
pub(super) fn replace_in_text(
    text: &str,
    start: BytePos,
    found: &[(Span, String)],
    mut refs: Vec<Ref>,
    token: &str,
) -> Transformed {
    let mut edits: Vec<(usize, usize, String)> = found
        .iter()
        .enumerate()
        .map(|(i, (span, _))| {
            let lo = (span.lo.0 - start.0) as usize + 1;
            let hi = (span.hi.0 - start.0) as usize - 1;
            (lo, hi, placeholder(token, i))
        })
        .collect();
    if let Some((lo, hi)) = source_mapping_url(text) {
        let ph = placeholder(token, found.len());
        refs.push(Ref {
            placeholder: ph.clone(),
            spec: text[lo..hi].to_owned(),
            kind: RefKind::SourceMap,
            pos: crate::error::pos_of(text.as_bytes(), lo),
            media: None,
            supports: None,
            layer: None,
        });
        edits.push((lo, hi, ph));
    }
    edits.sort_by_key(|e| e.0);
    let mut code = String::with_capacity(text.len());
    let mut at = 0;
    for (lo, hi, ph) in edits {
        code.push_str(&text[at..lo]);
        code.push_str(&ph);
        at = hi;
    }
    code.push_str(&text[at..]);
    Transformed {
        code,
        refs,
        ..Default::default()
    }
}

/// Byte range of the URL in a final `//# sourceMappingURL=...` line.
pub(crate) fn source_mapping_url(text: &str) -> Option<(usize, usize)> {
    let trimmed = text.trim_end();
    let line_start = trimmed.rfind('\n').map_or(0, |i| i + 1);
    let line = &trimmed[line_start..];
    let rest = line
        .strip_prefix("//# sourceMappingURL=")
        .or_else(|| line.strip_prefix("//@ sourceMappingURL="))?;
    let lo = line_start + (line.len() - rest.len());
    let url = rest.trim_end();
    (!url.is_empty() && !url.contains(char::is_whitespace)).then_some((lo, lo + url.len()))
}

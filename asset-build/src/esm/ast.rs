//! Small builders for the code the registry adds around each module (namespace lookups,
//! `__r(i)` calls, getters), so the linking code reads as the JavaScript it makes.

use swc_core::common::{DUMMY_SP, Span, SyntaxContext};
use swc_core::ecma::ast::{
    ArrowExpr, ArrowFunctionBody, BindingIdent, CallExpr, Callee, ComputedPropName, Decl, Expr,
    ExprStmt, Ident, IdentName, KeyValueProp, Lit, MemberExpr, MemberProp, ModuleExportName,
    Number, ObjectLit, ObjectPatProp, Pat, Prop, PropName, PropOrSpread, SeqExpr, Stmt, Str,
    VarDecl, VarDeclKind, VarDeclarator,
};
use swc_core::ecma::visit::VisitMut;

pub(super) fn ident(sym: &str, ctxt: SyntaxContext) -> Ident {
    Ident::new(sym.into(), DUMMY_SP, ctxt)
}

pub(super) fn str_lit(s: &str) -> Expr {
    Expr::Lit(Lit::Str(Str {
        span: DUMMY_SP,
        value: s.into(),
        raw: None,
    }))
}

pub(super) fn num(n: usize) -> Expr {
    Expr::Lit(Lit::Num(Number {
        span: DUMMY_SP,
        value: n as f64,
        raw: None,
    }))
}

/// Whether `name` can be written as a plain identifier (ASCII letters, digits, `_`, `$`).
pub(super) fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// `obj.name`, or `obj["name"]` when `name` is not an identifier.
pub(super) fn member(obj: Expr, name: &str) -> Expr {
    let is_ident = is_identifier(name);
    let prop = if is_ident {
        MemberProp::Ident(IdentName::new(name.into(), DUMMY_SP))
    } else {
        MemberProp::Computed(ComputedPropName {
            span: DUMMY_SP,
            expr: Box::new(str_lit(name)),
        })
    };
    Expr::Member(MemberExpr {
        span: DUMMY_SP,
        obj: Box::new(obj),
        prop,
    })
}

pub(super) fn call(callee: Expr, args: Vec<Expr>) -> Expr {
    Expr::Call(CallExpr {
        span: DUMMY_SP,
        callee: Callee::Expr(Box::new(callee)),
        args: args.into_iter().map(Into::into).collect(),
        ..Default::default()
    })
}

/// `() => body`
pub(super) fn arrow(body: Expr) -> Expr {
    Expr::Arrow(ArrowExpr {
        span: DUMMY_SP,
        body: Box::new(ArrowFunctionBody::Expr(Box::new(body))),
        ..Default::default()
    })
}

/// `(0, e)`: a call through it has no `this`, as a call of an imported function has none.
pub(super) fn unbound(e: Expr) -> Expr {
    Expr::Seq(SeqExpr {
        span: DUMMY_SP,
        exprs: vec![Box::new(num(0)), Box::new(e)],
    })
}

/// `{ "k": v, ... }`
pub(super) fn object(props: Vec<(String, Expr)>) -> Expr {
    Expr::Object(ObjectLit {
        span: DUMMY_SP,
        props: props
            .into_iter()
            .map(|(k, v)| {
                PropOrSpread::Prop(Box::new(Prop::KeyValue(KeyValueProp {
                    key: PropName::Str(Str {
                        span: DUMMY_SP,
                        value: k.as_str().into(),
                        raw: None,
                    }),
                    value: Box::new(v),
                })))
            })
            .collect(),
    })
}

pub(super) fn var(kind: VarDeclKind, name: Ident, init: Expr) -> Stmt {
    Stmt::Decl(Decl::Var(Box::new(VarDecl {
        span: DUMMY_SP,
        kind,
        decls: vec![VarDeclarator {
            span: DUMMY_SP,
            name: Pat::Ident(BindingIdent {
                id: name,
                type_ann: None,
            }),
            init: Some(Box::new(init)),
            definite: false,
        }],
        ..Default::default()
    })))
}

pub(super) fn stmt(e: Expr) -> Stmt {
    Stmt::Expr(ExprStmt {
        span: DUMMY_SP,
        expr: Box::new(e),
    })
}

/// The name a module exports under, as text.
pub(super) fn export_name(n: &ModuleExportName) -> String {
    match n {
        ModuleExportName::Ident(i) => i.sym.to_string(),
        ModuleExportName::Str(s) => s.value.to_atom_lossy().to_string(),
    }
}

/// Every name a binding pattern declares.
pub(super) fn pat_ids(p: &Pat, out: &mut Vec<Ident>) {
    match p {
        Pat::Ident(b) => out.push(b.id.clone()),
        Pat::Array(a) => a.elems.iter().flatten().for_each(|e| pat_ids(e, out)),
        Pat::Rest(r) => pat_ids(&r.arg, out),
        Pat::Assign(a) => pat_ids(&a.left, out),
        Pat::Object(o) => {
            for prop in &o.props {
                match prop {
                    ObjectPatProp::KeyValue(kv) => pat_ids(&kv.value, out),
                    ObjectPatProp::Assign(a) => out.push(a.key.id.clone()),
                    ObjectPatProp::Rest(r) => pat_ids(&r.arg, out),
                }
            }
        }
        Pat::Expr(_) | Pat::Invalid(_) => {}
    }
}

/// The names a declaration declares.
pub(super) fn decl_ids(d: &Decl) -> Vec<Ident> {
    let mut out = Vec::new();
    match d {
        Decl::Fn(f) => out.push(f.ident.clone()),
        Decl::Class(c) => out.push(c.ident.clone()),
        Decl::Var(v) => v.decls.iter().for_each(|d| pat_ids(&d.name, &mut out)),
        Decl::Using(u) => u.decls.iter().for_each(|d| pat_ids(&d.name, &mut out)),
        _ => {}
    }
    out
}

/// Drops every span (for the prelude, which has no source to map to).
pub(super) struct DropSpans;

impl VisitMut for DropSpans {
    fn visit_mut_span(&mut self, s: &mut Span) {
        *s = DUMMY_SP;
    }
}

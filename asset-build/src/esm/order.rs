//! Evaluation order. ES modules evaluate depth first, dependencies in import order; a bundle's
//! bare imports stay ES imports, which run before any of its own code. That keeps the order
//! only while no bundled module with side effects comes before a bare import: such a bundle
//! is refused at the import, never silently reordered.

use swc_core::common::Span;
use swc_core::ecma::ast::{
    Class, Decl, DefaultDecl, Expr, ModuleDecl, ModuleItem, Prop, PropOrSpread, Stmt,
};

use super::graph::{Body, Graph, Target};
use crate::error::Problem;

/// The bare specifiers, in the order ES evaluation first reaches them.
///
/// # Errors
/// A bare import that ES would evaluate after a bundled module with side effects.
pub(super) fn bare_in_order(graph: &Graph) -> Result<Vec<String>, Problem> {
    let mut steps = Vec::new();
    let mut seen = vec![false; graph.units.len()];
    visit(graph, 0, &mut seen, &mut steps);
    let mut bare: Vec<String> = Vec::new();
    let mut effect: Option<usize> = None;
    for step in steps {
        match step {
            Step::Local(u) => {
                if effect.is_none() && u != 0 && has_effects(&graph.units[u].body) {
                    effect = Some(u);
                }
            }
            Step::Bare { spec, from, span } => {
                if bare.contains(&spec) {
                    continue;
                }
                if let Some(e) = effect {
                    let first = &graph.units[e].display;
                    let msg = format!(
                        "`{spec}` would run before `{first}`, which runs first in the source and has side effects: a bundle's bare imports stay imports, which run before its own modules (import `{spec}` before the module that imports `{first}`, or leave `{first}` out of the bundle)"
                    );
                    let unit = &graph.units[from];
                    return Err(super::link::problem(graph, unit, span, msg));
                }
                bare.push(spec);
            }
        }
    }
    Ok(bare)
}

enum Step {
    Local(usize),
    Bare {
        spec: String,
        from: usize,
        span: Span,
    },
}

fn visit(graph: &Graph, u: usize, seen: &mut [bool], steps: &mut Vec<Step>) {
    seen[u] = true;
    for r in &graph.units[u].requests {
        match &r.target {
            Target::Local(t) if !seen[*t] => visit(graph, *t, seen, steps),
            Target::Local(_) => {}
            Target::Bare(spec) => steps.push(Step::Bare {
                spec: spec.clone(),
                from: u,
                span: r.span,
            }),
        }
    }
    steps.push(Step::Local(u));
}

/// Whether evaluating the module's own body can be observed (conservatively: anything but
/// declarations whose initialisers only make values).
fn has_effects(body: &Body) -> bool {
    let Body::Script(module) = body else {
        return false;
    };
    !module.body.iter().all(|item| match item {
        ModuleItem::ModuleDecl(d) => match d {
            ModuleDecl::Import(_) | ModuleDecl::ExportAll(_) | ModuleDecl::ExportNamed(_) => true,
            ModuleDecl::ExportDecl(d) => pure_decl(&d.decl),
            ModuleDecl::ExportDefaultDecl(d) => match &d.decl {
                DefaultDecl::Class(c) => pure_class(&c.class),
                _ => true,
            },
            ModuleDecl::ExportDefaultExpr(e) => pure(&e.expr),
            _ => false,
        },
        ModuleItem::Stmt(Stmt::Decl(d)) => pure_decl(d),
        ModuleItem::Stmt(Stmt::Empty(_)) => true,
        ModuleItem::Stmt(_) => false,
    })
}

fn pure_decl(d: &Decl) -> bool {
    match d {
        Decl::Fn(_) => true,
        Decl::Class(c) => pure_class(&c.class),
        Decl::Var(v) => v.decls.iter().all(|d| d.init.as_deref().is_none_or(pure)),
        _ => false,
    }
}

fn pure_class(c: &Class) -> bool {
    use swc_core::ecma::ast::ClassMember;
    c.super_class
        .as_deref()
        .is_none_or(|e| matches!(e, Expr::Ident(_)))
        && c.body.iter().all(|m| match m {
            ClassMember::Constructor(_) | ClassMember::Empty(_) => true,
            ClassMember::Method(m) => !m.key.is_computed(),
            ClassMember::PrivateMethod(_) => true,
            ClassMember::ClassProp(p) => !p.is_static && !p.key.is_computed(),
            ClassMember::PrivateProp(p) => !p.is_static,
            _ => false,
        })
}

fn pure(e: &Expr) -> bool {
    match e {
        Expr::Lit(_) | Expr::Fn(_) | Expr::Arrow(_) | Expr::Ident(_) => true,
        Expr::Class(c) => pure_class(&c.class),
        Expr::Paren(p) => pure(&p.expr),
        Expr::Tpl(t) => t.exprs.is_empty(),
        Expr::Array(a) => a
            .elems
            .iter()
            .flatten()
            .all(|e| e.spread.is_none() && pure(&e.expr)),
        Expr::Object(o) => o.props.iter().all(|p| match p {
            PropOrSpread::Prop(p) => match &**p {
                Prop::KeyValue(kv) => !kv.key.is_computed() && pure(&kv.value),
                Prop::Method(m) => !m.key.is_computed(),
                Prop::Shorthand(_) => true,
                _ => false,
            },
            PropOrSpread::Spread(_) => false,
        }),
        _ => false,
    }
}

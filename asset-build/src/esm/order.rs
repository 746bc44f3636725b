//! Evaluation order. ES modules evaluate depth first, dependencies in import order; a bundle's
//! bare imports stay ES imports, which run before any of its own code. That keeps the order
//! only while no bundled module with side effects comes before a bare import: such a bundle
//! is refused at the import, never silently reordered.

use swc_core::common::Span;
use swc_core::ecma::ast::{
    AssignTarget, BinaryOp, CallExpr, Callee, Class, Decl, DefaultDecl, Expr, MemberProp,
    ModuleDecl, ModuleItem, ObjectLit, Pat, Prop, PropOrSpread, SimpleAssignTarget, Stmt,
};

use super::graph::{Body, Graph, Target};
use crate::error::Problem;

/// A bare specifier and the import attributes it is imported with.
pub(super) type Bare = (String, Option<Box<ObjectLit>>);

/// The bare specifiers, in the order ES evaluation first reaches them.
///
/// # Errors
/// A bare import that ES would evaluate after a bundled module with side effects.
pub(super) fn bare_in_order(graph: &Graph) -> Result<Vec<Bare>, Problem> {
    let mut steps = Vec::new();
    let mut seen = vec![false; graph.units.len()];
    visit(graph, 0, &mut seen, &mut steps);
    let mut bare: Vec<Bare> = Vec::new();
    let mut effect: Option<usize> = None;
    for step in steps {
        match step {
            Step::Local(u) => {
                if effect.is_none() && u != 0 && has_effects(&graph.units[u].body) {
                    effect = Some(u);
                }
            }
            Step::Bare {
                spec,
                from,
                span,
                with,
            } => {
                if bare.iter().any(|(s, _)| *s == spec) {
                    continue;
                }
                if let Some(e) = effect {
                    let first = &graph.units[e].logical;
                    // The JSX runtime's import is added by the compiler: no place of its own.
                    let added = if span.is_dummy() {
                        " (imported for this module's JSX)"
                    } else {
                        ""
                    };
                    let msg = format!(
                        "`{spec}`{added} would run before `{first}`, which has side effects and runs first in the source: a bundle's bare imports stay imports, and those run before any of its own modules (import `{spec}` before what imports `{first}`, or leave `{first}` out of the bundle)"
                    );
                    let unit = &graph.units[from];
                    return Err(super::link::problem(graph, unit, span, msg));
                }
                bare.push((spec, with));
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
        with: Option<Box<ObjectLit>>,
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
                with: r.with.clone(),
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
        Expr::Call(c) => is_enum(c),
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

/// A TypeScript `enum` as compiled: `function (E) { E[E["A"] = 0] = "A"; return E; }({})`
/// (or `(E || (E = {}))`), which only fills in its own object.
fn is_enum(c: &CallExpr) -> bool {
    let Callee::Expr(callee) = &c.callee else {
        return false;
    };
    let Expr::Fn(f) = strip(callee) else {
        return false;
    };
    let [param] = f.function.params.as_slice() else {
        return false;
    };
    let Pat::Ident(e) = &param.pat else {
        return false;
    };
    let own = |x: &Expr| matches!(strip(x), Expr::Ident(i) if i.sym == e.id.sym);
    let args_pure = c.args.iter().all(|a| {
        a.spread.is_none()
            && match strip(&a.expr) {
                Expr::Bin(b) if b.op == BinaryOp::LogicalOr => {
                    matches!(&*b.left, Expr::Ident(_)) && fills_own_var(&b.right)
                }
                other => pure(other),
            }
    });
    let body_pure = f.function.body.as_ref().is_some_and(|b| {
        b.stmts.iter().all(|s| match s {
            Stmt::Return(r) => r.arg.as_deref().is_some_and(own),
            Stmt::Expr(x) => fills(&x.expr, &own),
            _ => false,
        })
    });
    args_pure && body_pure
}

/// `E[E["A"] = 0] = "A"`: assignments to members of the enum's own object.
fn fills(e: &Expr, own: &dyn Fn(&Expr) -> bool) -> bool {
    let Expr::Assign(a) = strip(e) else {
        return false;
    };
    let AssignTarget::Simple(SimpleAssignTarget::Member(m)) = &a.left else {
        return false;
    };
    let key_ok = match &m.prop {
        MemberProp::Computed(k) => pure(&k.expr) || fills(&k.expr, own),
        MemberProp::Ident(_) => true,
        MemberProp::PrivateName(_) => false,
    };
    own(&m.obj) && key_ok && (pure(&a.right) || fills(&a.right, own))
}

/// `(E = {})`: the enum's variable given a new object.
fn fills_own_var(e: &Expr) -> bool {
    matches!(strip(e), Expr::Assign(a)
        if matches!(a.left, AssignTarget::Simple(SimpleAssignTarget::Ident(_)))
            && matches!(&*a.right, Expr::Object(o) if o.props.is_empty()))
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        other => other,
    }
}

//! The visitors that make a module's code work inside the registry: references to imported
//! bindings become member accesses on the imported namespace (so they stay live; only real
//! references, told apart by the resolver's marks), `import.meta` becomes the module's own,
//! `import()` of a bundled module gives the bundle's instance, and top-level `await` is found.

use std::collections::{BTreeSet, HashMap};

use swc_core::common::{DUMMY_SP, Span};
use swc_core::ecma::ast::{
    ArrowExpr, AwaitExpr, CallExpr, Callee, Expr, ExprOrSpread, ForOfStmt, Function, Id, IdentName,
    KeyValueProp, Lit, MetaPropKind, OptCall, Pat, Prop, PropName, SimpleAssignTarget, Str,
    TaggedTpl, UsingDecl,
};
use swc_core::ecma::visit::{Visit, VisitMut, VisitMutWith, VisitWith};

use super::ast::{arrow, call, member, num, unbound};
use super::graph::find_module;
use super::link::global;
use crate::refs::{self, Class};

/// References to imported bindings, replaced by what stands for them (`__ns.a`, or the
/// namespace itself).
pub(super) struct ImportRefs<'a> {
    pub map: &'a HashMap<Id, Expr>,
}

impl ImportRefs<'_> {
    /// What a callee or tag that is an imported binding becomes: `(0, __ns.a)`, so the call
    /// has no `this`, as a call of an imported function has none.
    fn callee(&self, e: &mut Expr) -> bool {
        let Expr::Ident(i) = e else { return false };
        let Some(to) = self.map.get(&i.to_id()) else {
            return false;
        };
        *e = match to {
            Expr::Member(_) => unbound(to.clone()),
            other => other.clone(),
        };
        true
    }
}

impl VisitMut for ImportRefs<'_> {
    fn visit_mut_expr(&mut self, e: &mut Expr) {
        if let Expr::Ident(i) = e
            && let Some(to) = self.map.get(&i.to_id())
        {
            *e = to.clone();
            return;
        }
        e.visit_mut_children_with(self);
    }

    fn visit_mut_callee(&mut self, c: &mut Callee) {
        if let Callee::Expr(e) = c
            && self.callee(e)
        {
            return;
        }
        c.visit_mut_children_with(self);
    }

    fn visit_mut_opt_call(&mut self, c: &mut OptCall) {
        if !self.callee(&mut c.callee) {
            c.callee.visit_mut_with(self);
        }
        c.args.visit_mut_with(self);
    }

    fn visit_mut_tagged_tpl(&mut self, t: &mut TaggedTpl) {
        if !self.callee(&mut t.tag) {
            t.tag.visit_mut_with(self);
        }
        t.tpl.visit_mut_with(self);
    }

    fn visit_mut_prop(&mut self, p: &mut Prop) {
        if let Prop::Shorthand(i) = p
            && let Some(to) = self.map.get(&i.to_id())
        {
            *p = Prop::KeyValue(KeyValueProp {
                key: PropName::Ident(IdentName::new(i.sym.clone(), i.span)),
                value: Box::new(to.clone()),
            });
            return;
        }
        p.visit_mut_children_with(self);
    }

    // An assignment to an import throws a TypeError in ES modules; so does one to a getter
    // without a setter, or to the namespace's `const`.
    fn visit_mut_simple_assign_target(&mut self, t: &mut SimpleAssignTarget) {
        if let SimpleAssignTarget::Ident(b) = t
            && let Some(to) = self.map.get(&b.id.to_id())
        {
            *t = match to.clone() {
                Expr::Member(m) => SimpleAssignTarget::Member(m),
                Expr::Ident(i) => SimpleAssignTarget::Ident(i.into()),
                _ => return,
            };
            return;
        }
        t.visit_mut_children_with(self);
    }

    fn visit_mut_pat(&mut self, p: &mut Pat) {
        if let Pat::Ident(b) = p
            && let Some(to) = self.map.get(&b.id.to_id())
        {
            *p = Pat::Expr(Box::new(to.clone()));
            return;
        }
        p.visit_mut_children_with(self);
    }
}

/// `import.meta` of a bundled module becomes its own object (`meta`); `used` says whether
/// there was any.
pub(super) struct ImportMeta {
    pub meta: swc_core::ecma::ast::Ident,
    pub used: bool,
}

impl VisitMut for ImportMeta {
    fn visit_mut_expr(&mut self, e: &mut Expr) {
        if let Expr::MetaProp(m) = e
            && m.kind == MetaPropKind::ImportMeta
        {
            *e = Expr::Ident(self.meta.clone());
            self.used = true;
            return;
        }
        e.visit_mut_children_with(self);
    }
}

/// `import("./x.js")`: a module of the bundle is the bundle's own instance
/// (`Promise.resolve().then(() => __r(i))`); any other file keeps its own `import()`, the
/// specifier pointed from the bundle's place at the same file.
pub(super) struct DynamicImports<'a> {
    pub from: &'a str,
    pub bundle: &'a str,
    pub modules: &'a BTreeSet<String>,
    pub index: &'a HashMap<String, usize>,
    pub r: &'a swc_core::ecma::ast::Ident,
    /// Whether an `import()` gives the entry (which then needs a namespace object).
    pub entry: bool,
}

impl VisitMut for DynamicImports<'_> {
    fn visit_mut_expr(&mut self, e: &mut Expr) {
        e.visit_mut_children_with(self);
        let Expr::Call(c) = e else { return };
        let Some((named, suffix)) = self.relative(c) else {
            return;
        };
        let found = find_module(&named, self.modules).unwrap_or(named);
        if let Some(&i) = self.index.get(&found).filter(|_| suffix.is_empty()) {
            self.entry |= i == 0;
            let promise = call(member(Expr::Ident(global("Promise")), "resolve"), vec![]);
            let then = member(promise, "then");
            *e = call(
                then,
                vec![arrow(call(Expr::Ident(self.r.clone()), vec![num(i)]))],
            );
            return;
        }
        let spec = format!("{}{suffix}", refs::relative_url(self.bundle, &found));
        if let Some(ExprOrSpread { expr, .. }) = c.args.first_mut() {
            **expr = Expr::Lit(Lit::Str(Str {
                span: expr_span(expr),
                value: spec.into(),
                raw: None,
            }));
        }
    }
}

impl DynamicImports<'_> {
    /// The logical path and suffix an `import()` of a relative literal names.
    fn relative(&self, c: &CallExpr) -> Option<(String, String)> {
        if !matches!(c.callee, Callee::Import(_)) {
            return None;
        }
        let Some(ExprOrSpread { spread: None, expr }) = c.args.first() else {
            return None;
        };
        let Expr::Lit(Lit::Str(s)) = &**expr else {
            return None;
        };
        let Class::Relative { path, suffix } = refs::classify_js(s.value.as_str()?) else {
            return None;
        };
        Some((refs::resolve(self.from, &path)?, suffix.to_owned()))
    }
}

fn expr_span(e: &Expr) -> Span {
    match e {
        Expr::Lit(Lit::Str(s)) => s.span,
        _ => DUMMY_SP,
    }
}

/// The first top-level `await` (or `for await`, `await using`) of a module, outside functions.
#[derive(Default)]
pub(super) struct TopLevelAwait {
    pub found: Option<Span>,
}

impl Visit for TopLevelAwait {
    fn visit_function(&mut self, _: &Function) {}
    fn visit_arrow_expr(&mut self, _: &ArrowExpr) {}
    fn visit_await_expr(&mut self, a: &AwaitExpr) {
        self.found.get_or_insert(a.span);
    }
    fn visit_for_of_stmt(&mut self, f: &ForOfStmt) {
        if f.is_await {
            self.found.get_or_insert(f.span);
        }
        f.visit_children_with(self);
    }
    fn visit_using_decl(&mut self, u: &UsingDecl) {
        if u.is_await {
            self.found.get_or_insert(u.span);
        }
        u.visit_children_with(self);
    }
}

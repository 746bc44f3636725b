//! Live re-exports from the entry. An ES export is live only if its binding is a top-level
//! one, so a binding of a bundled module that the entry exports (`export { x } from "./b"`,
//! `export *`, an imported binding exported again) moves to the bundle's top level: declared
//! there with `let`, and its module's declaration becomes an assignment (a function is
//! assigned before its module's imports run, as if hoisted). The one difference left: such a
//! binding reads `undefined` rather than throwing before its module ran (only a cycle can).

use std::collections::{BTreeMap, HashSet};

use swc_core::common::DUMMY_SP;
use swc_core::ecma::ast::{
    AssignExpr, AssignOp, AssignTarget, ClassExpr, Decl, EmptyStmt, Expr, FnExpr, Id, Ident,
    ModuleItem, SeqExpr, SimpleAssignTarget, Stmt, VarDeclKind,
};

use super::ast::{decl_ids, stmt};
use super::exports::{Export, Origin};
use super::link::Linked;

/// Moves the bindings the entry re-exports to the top level; gives their names, to declare
/// there. The entry's getters then read them directly.
pub(super) fn hoist(linked: &mut [Linked], exports: &[BTreeMap<String, Export>]) -> Vec<Ident> {
    let mut wanted: Vec<HashSet<Id>> = vec![HashSet::new(); linked.len()];
    let names: Vec<String> = linked[0].getters.iter().map(|(n, _)| n.clone()).collect();
    for name in names {
        if linked[0].own.get(&name) == Some(&true) {
            continue;
        }
        let Some((u, id)) = origin_binding(linked, exports, &name) else {
            continue;
        };
        wanted[u].insert(id.to_id());
        if let Some(g) = linked[0].getters.iter_mut().find(|(n, _)| *n == name) {
            g.1 = Expr::Ident(id);
        }
        linked[0].own.insert(name, true);
    }
    let mut top = Vec::new();
    for (u, want) in wanted.iter().enumerate().skip(1) {
        if !want.is_empty() {
            top.extend(hoist_in(&mut linked[u], want));
        }
    }
    top
}

/// The binding of a bundled module that the entry's export `name` stands for, following
/// re-exports from module to module.
fn origin_binding(
    linked: &[Linked],
    exports: &[BTreeMap<String, Export>],
    name: &str,
) -> Option<(usize, Ident)> {
    let mut origin = exports[0].get(name)?.origin.clone();
    for _ in 0..linked.len() {
        let Origin::Local(u, n) = origin else {
            return None;
        };
        if u == 0 {
            return None;
        }
        if linked[u].own.get(&n) == Some(&true) {
            let (_, e) = linked[u].getters.iter().find(|(k, _)| *k == n)?;
            let Expr::Ident(id) = e else { return None };
            return Some((u, id.clone()));
        }
        origin = exports[u].get(&n)?.origin.clone();
    }
    None
}

/// Turns the declarations of `want` in a module's body into assignments; the names to declare
/// at the top level (every name a changed declaration declares).
fn hoist_in(l: &mut Linked, want: &HashSet<Id>) -> Vec<Ident> {
    let mut top = Vec::new();
    let mut early = Vec::new();
    for item in &mut l.body {
        let ModuleItem::Stmt(Stmt::Decl(decl)) = item else {
            continue;
        };
        let ids = decl_ids(decl);
        if !ids.iter().any(|i| want.contains(&i.to_id())) {
            continue;
        }
        top.extend(ids);
        let replaced = match std::mem::replace(decl, Decl::Var(Box::default())) {
            Decl::Fn(f) => {
                let value = Expr::Fn(FnExpr {
                    ident: Some(f.ident.clone()),
                    function: f.function,
                });
                early.push(stmt(assign(target(f.ident), value)));
                Stmt::Empty(EmptyStmt { span: DUMMY_SP })
            }
            Decl::Class(c) => {
                let value = Expr::Class(ClassExpr {
                    ident: Some(c.ident.clone()),
                    class: c.class,
                });
                stmt(assign(target(c.ident), value))
            }
            Decl::Var(v) => {
                let lexical = v.kind != VarDeclKind::Var;
                let exprs: Vec<Box<Expr>> = v
                    .decls
                    .into_iter()
                    .filter_map(|d| {
                        let value = match d.init {
                            Some(init) => *init,
                            None if lexical => *Expr::undefined(DUMMY_SP),
                            None => return None,
                        };
                        let target = AssignTarget::try_from(d.name).ok()?;
                        Some(Box::new(assign(target, value)))
                    })
                    .collect();
                if exprs.is_empty() {
                    Stmt::Empty(EmptyStmt { span: DUMMY_SP })
                } else {
                    stmt(Expr::Seq(SeqExpr {
                        span: DUMMY_SP,
                        exprs,
                    }))
                }
            }
            other => Stmt::Decl(other),
        };
        *item = ModuleItem::Stmt(replaced);
    }
    early.append(&mut l.define);
    l.define = early;
    top
}

fn assign(left: AssignTarget, right: Expr) -> Expr {
    Expr::Assign(AssignExpr {
        span: DUMMY_SP,
        op: AssignOp::Assign,
        left,
        right: Box::new(right),
    })
}

fn target(id: Ident) -> AssignTarget {
    AssignTarget::Simple(SimpleAssignTarget::Ident(id.into()))
}

//! What bundling needs to know of a classic script: whether it is strict, whether it declares
//! globals of the page (a `var` in a block too), and the names it shares with the page while
//! it loads.

use swc_core::common::Mark;
use swc_core::ecma::ast::{Decl, Expr, Lit, Program, Stmt};
use swc_core::ecma::visit::{Visit, VisitWith};

use crate::transform::{PageNames, Script};

/// What joining this file with others in a bundle needs to know.
pub(super) fn script_facts(program: &Program) -> Script {
    let Program::Script(script) = program else {
        return Script {
            module: true,
            strict: true,
            globals: false,
        };
    };
    let strict = script
        .body
        .iter()
        .map_while(|s| match s {
            Stmt::Expr(e) => match &*e.expr {
                Expr::Lit(Lit::Str(s)) => Some(s),
                _ => None,
            },
            _ => None,
        })
        .any(|s| {
            s.raw
                .as_deref()
                .map_or(s.value.as_str() == Some("use strict"), |raw| {
                    raw == "\"use strict\"" || raw == "'use strict'"
                })
        });
    let globals = script.body.iter().any(|s| {
        matches!(
            s,
            Stmt::Decl(Decl::Var(_) | Decl::Fn(_) | Decl::Class(_) | Decl::Using(_))
        )
    }) || {
        let mut vars = ScriptVars::default();
        script.visit_with(&mut vars);
        vars.found
    };
    Script {
        module: false,
        strict,
        globals,
    }
}

/// The names a classic script shares with the page while it loads, from a program the
/// resolver has marked (`unresolved`: its free names).
pub(crate) fn page_names(program: &Program, unresolved: Mark) -> Option<PageNames> {
    let Program::Script(script) = program else {
        return None;
    };
    let mut reads = LoadReads {
        unresolved,
        found: Default::default(),
    };
    script.visit_with(&mut reads);
    let mut hoisted = Hoisted::default();
    script.visit_with(&mut hoisted);
    for s in &script.body {
        if let Stmt::Decl(Decl::Fn(f)) = s {
            hoisted.found.insert(f.ident.sym.to_string());
        }
    }
    Some(PageNames {
        reads: reads.found,
        hoisted: hoisted.found,
    })
}

/// Free names read outside function bodies: what a script reads from the page as it loads.
struct LoadReads {
    unresolved: Mark,
    found: std::collections::BTreeSet<String>,
}

impl Visit for LoadReads {
    fn visit_ident(&mut self, i: &swc_core::ecma::ast::Ident) {
        if i.ctxt.outer() == self.unresolved {
            self.found.insert(i.sym.to_string());
        }
    }
    fn visit_function(&mut self, _: &swc_core::ecma::ast::Function) {}
    fn visit_arrow_expr(&mut self, _: &swc_core::ecma::ast::ArrowExpr) {}
    fn visit_getter_prop(&mut self, _: &swc_core::ecma::ast::GetterProp) {}
    fn visit_setter_prop(&mut self, _: &swc_core::ecma::ast::SetterProp) {}
    // A class's members run later; what it extends is read now.
    fn visit_class(&mut self, c: &swc_core::ecma::ast::Class) {
        c.super_class.visit_with(self);
    }
}

/// The names of `var`s outside function bodies.
#[derive(Default)]
struct Hoisted {
    found: std::collections::BTreeSet<String>,
}

impl Visit for Hoisted {
    fn visit_var_decl(&mut self, d: &swc_core::ecma::ast::VarDecl) {
        if d.kind == swc_core::ecma::ast::VarDeclKind::Var {
            for v in &d.decls {
                let mut names = BindingNames::default();
                v.name.visit_with(&mut names);
                self.found.extend(names.0);
            }
        }
        d.visit_children_with(self);
    }
    fn visit_function(&mut self, _: &swc_core::ecma::ast::Function) {}
    fn visit_arrow_expr(&mut self, _: &swc_core::ecma::ast::ArrowExpr) {}
    fn visit_getter_prop(&mut self, _: &swc_core::ecma::ast::GetterProp) {}
    fn visit_setter_prop(&mut self, _: &swc_core::ecma::ast::SetterProp) {}
    fn visit_class(&mut self, _: &swc_core::ecma::ast::Class) {}
}

/// The names a binding pattern declares.
#[derive(Default)]
struct BindingNames(Vec<String>);

impl Visit for BindingNames {
    fn visit_binding_ident(&mut self, b: &swc_core::ecma::ast::BindingIdent) {
        self.0.push(b.id.sym.to_string());
    }
    // Default values are expressions, not names declared.
    fn visit_expr(&mut self, _: &Expr) {}
}

/// Finds a `var` that belongs to the script itself: anywhere but inside a function (in a
/// block, a loop head, a `try`, a `switch`, it still declares a global of the page).
#[derive(Default)]
struct ScriptVars {
    found: bool,
}

impl Visit for ScriptVars {
    fn visit_var_decl(&mut self, d: &swc_core::ecma::ast::VarDecl) {
        self.found |= d.kind == swc_core::ecma::ast::VarDeclKind::Var;
        d.visit_children_with(self);
    }
    // Function bodies (methods, accessors, arrows, class static blocks) have their own.
    fn visit_function(&mut self, _: &swc_core::ecma::ast::Function) {}
    fn visit_arrow_expr(&mut self, _: &swc_core::ecma::ast::ArrowExpr) {}
    fn visit_getter_prop(&mut self, _: &swc_core::ecma::ast::GetterProp) {}
    fn visit_setter_prop(&mut self, _: &swc_core::ecma::ast::SetterProp) {}
    fn visit_static_block(&mut self, _: &swc_core::ecma::ast::StaticBlock) {}
}

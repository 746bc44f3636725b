//! One module made ready for the registry: its imports become `const __ns = __r(i)` calls in
//! source order (ES modules evaluate their dependencies in import order, before the body),
//! its references to imported bindings member accesses on those namespaces, its exports
//! getters on its namespace object, defined before anything runs (function declarations are
//! there in a cycle; `let`, `const` and classes keep their temporal dead zone).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use swc_core::common::{Mark, Span, SyntaxContext};
use swc_core::ecma::ast::{
    ClassDecl, DefaultDecl, ExportDefaultExpr, ExportSpecifier, Expr, FnDecl, Id, Ident,
    ImportDecl, ImportSpecifier, ModuleDecl, ModuleExportName, ModuleItem, NamedExport, Stmt,
    VarDeclKind,
};
use swc_core::ecma::visit::{VisitMutWith, VisitWith};

use super::ast::{call, export_name, ident, member, num, object, stmt, str_lit, var};
use super::exports::Export;
use super::graph::{Body, Graph, Target, Unit};
use super::rewrite::{DynamicImports, ImportMeta, ImportRefs, TopLevelAwait};
use crate::error::Problem;
use crate::error::ProblemKind;

/// The names every linked module shares: the prelude's functions and the bundle's
/// namespace imports of bare specifiers.
pub(super) struct Shared<'a> {
    pub r: Ident,
    pub e: Ident,
    pub m: Ident,
    pub s: Ident,
    pub bare: &'a HashMap<String, Ident>,
    pub bundle: &'a str,
    pub modules: &'a BTreeSet<String>,
}

/// A module's code once linked.
#[derive(Default)]
pub(super) struct Linked {
    /// Before the body: the namespace's getters, then the names of anonymous defaults.
    pub define: Vec<Stmt>,
    /// The getters, by exported name (the entry exports them instead).
    pub getters: Vec<(String, Expr)>,
    /// Namespaces of bare modules whose names `export *` brings.
    pub bare_stars: Vec<Expr>,
    /// The entry's re-exports of bare modules (kept as ES re-exports): getters only its
    /// namespace object needs.
    pub bare_reexports: Vec<(String, Expr)>,
    /// `const __ns = __r(i)`, in source order.
    pub imports: Vec<Stmt>,
    /// The body, export keywords taken off (the entry's bare imports and re-exports stay).
    pub body: Vec<ModuleItem>,
    /// The module's imports of bare modules, for the bundle's top level (ES import bindings
    /// are live already; the module's names are kept, hygiene keeps them apart).
    pub top_imports: Vec<ModuleItem>,
    /// Bare modules whose namespace the module reads (`export *`, re-exports).
    pub bare_used: BTreeSet<String>,
    /// Whether the module's `import()`s give the entry.
    pub imports_entry: bool,
    /// The module's `import.meta` object, when it uses one.
    pub meta: Option<Ident>,
    /// Whether an exported name's getter reads a binding of the module itself.
    pub own: HashMap<String, bool>,
}

/// A name the linker makes, apart from every other (hygiene renames it if it must).
pub(super) fn fresh(sym: &str) -> Ident {
    ident(sym, SyntaxContext::empty().apply_mark(Mark::new()))
}

/// A reference to a global (`Object`, `Promise`): a context of its own, declared nowhere,
/// so hygiene renames any module binding that would capture it.
pub(super) fn global(sym: &str) -> Ident {
    fresh(sym)
}

/// Links unit `u` (`u == 0`: the entry, which stays at the bundle's top level).
///
/// # Errors
/// A named import from a JSON module, or top-level `await` outside the entry.
pub(super) fn link(
    graph: &Graph,
    u: usize,
    exports: &BTreeMap<String, Export>,
    shared: &Shared,
) -> Result<Linked, Problem> {
    let unit = &graph.units[u];
    let module = match &unit.body {
        Body::Json(text) => return Ok(json(text)),
        Body::Script(module) => module.clone(),
    };
    let entry = u == 0;
    if !entry {
        let mut tla = TopLevelAwait::default();
        module.visit_with(&mut tla);
        if let Some(span) = tla.found {
            return Err(problem(graph, unit, span, "top-level `await` in a module the bundle holds: the registry evaluates its modules synchronously, so only the entry may await at its top level (move the `await` into a function, or into the entry)".into()));
        }
    }
    let mut l = Linked::default();
    let mut ns_of: HashMap<usize, Ident> = HashMap::new();
    for r in &unit.requests {
        if let Target::Local(t) = r.target
            && !ns_of.contains_key(&t)
        {
            let id = fresh(&format!("__ns_{}", stem(&graph.units[t].logical)));
            l.imports.push(var(
                VarDeclKind::Const,
                id.clone(),
                call(Expr::Ident(shared.r.clone()), vec![num(t)]),
            ));
            ns_of.insert(t, id);
        }
    }
    let mut cx = Cx {
        graph,
        unit,
        shared,
        entry,
        ns_of: &ns_of,
        imported: HashMap::new(),
        l,
    };
    for item in module.body {
        cx.item(item)?;
    }
    for (name, e) in exports {
        if let Some(t) = e.star {
            cx.l.getters
                .push((name.clone(), member(slot(shared, t), name)));
        }
    }
    cx.finish(u)
}

/// What linking one module works with.
struct Cx<'a> {
    graph: &'a Graph,
    unit: &'a Unit,
    shared: &'a Shared<'a>,
    entry: bool,
    ns_of: &'a HashMap<usize, Ident>,
    imported: HashMap<Id, Expr>,
    l: Linked,
}

impl Cx<'_> {
    fn target(&self, spec: &swc_core::ecma::ast::Str) -> Option<&Target> {
        let spec = spec.value.as_str()?;
        self.unit
            .requests
            .iter()
            .find(|r| r.spec == spec)
            .map(|r| &r.target)
    }

    /// The namespace a target's bindings are read from, or `None` for the entry's bare
    /// imports, which stay imports.
    fn namespace(&mut self, t: &Target) -> Option<Expr> {
        match t {
            Target::Local(i) => Some(Expr::Ident(self.ns_of[i].clone())),
            Target::Bare(_) if self.entry => None,
            Target::Bare(spec) => Some(self.bare(spec)),
        }
    }

    /// The bundle's namespace import of a bare module.
    fn bare(&mut self, spec: &str) -> Expr {
        self.l.bare_used.insert(spec.to_owned());
        Expr::Ident(self.shared.bare[spec].clone())
    }

    fn item(&mut self, item: ModuleItem) -> Result<(), Problem> {
        let decl = match item {
            ModuleItem::Stmt(s) => {
                self.l.body.push(ModuleItem::Stmt(s));
                return Ok(());
            }
            ModuleItem::ModuleDecl(d) => d,
        };
        match decl {
            ModuleDecl::Import(i) => self.import(i),
            ModuleDecl::ExportNamed(e) => self.export_named(e),
            ModuleDecl::ExportAll(e) => {
                match self.target(&e.src).cloned() {
                    Some(Target::Bare(spec)) if self.entry => {
                        let ns = self.bare(&spec);
                        self.l.bare_stars.push(ns);
                        self.l
                            .body
                            .push(ModuleItem::ModuleDecl(ModuleDecl::ExportAll(e)));
                    }
                    Some(Target::Bare(spec)) => {
                        let ns = self.bare(&spec);
                        self.l.bare_stars.push(ns);
                    }
                    _ => {}
                }
                Ok(())
            }
            ModuleDecl::ExportDecl(d) => {
                for id in super::ast::decl_ids(&d.decl) {
                    self.getter(id.sym.to_string(), Expr::Ident(id), true);
                }
                self.l.body.push(ModuleItem::Stmt(Stmt::Decl(d.decl)));
                Ok(())
            }
            ModuleDecl::ExportDefaultDecl(d) => {
                self.default_decl(d.decl);
                Ok(())
            }
            ModuleDecl::ExportDefaultExpr(e) => {
                self.default_expr(e);
                Ok(())
            }
            other => {
                self.l.body.push(ModuleItem::ModuleDecl(other));
                Ok(())
            }
        }
    }

    fn getter(&mut self, name: String, e: Expr, own: bool) {
        self.l.own.insert(name.clone(), own);
        self.l.getters.push((name, e));
    }

    fn import(&mut self, i: ImportDecl) -> Result<(), Problem> {
        let Some(target) = self.target(&i.src).cloned() else {
            return Ok(());
        };
        if matches!(target, Target::Bare(_)) && !self.entry {
            if !i.specifiers.is_empty() {
                let decl = ModuleItem::ModuleDecl(ModuleDecl::Import(i));
                self.l.top_imports.push(decl);
            }
            return Ok(());
        }
        let Some(ns) = self.namespace(&target) else {
            self.l
                .body
                .push(ModuleItem::ModuleDecl(ModuleDecl::Import(i)));
            return Ok(());
        };
        let json =
            matches!(target, Target::Local(t) if matches!(self.graph.units[t].body, Body::Json(_)));
        for s in &i.specifiers {
            let (local, to) = match s {
                ImportSpecifier::Namespace(n) => (&n.local, ns.clone()),
                ImportSpecifier::Default(d) => (&d.local, member(ns.clone(), "default")),
                ImportSpecifier::Named(n) => {
                    let name = n
                        .imported
                        .as_ref()
                        .map_or(n.local.sym.to_string(), export_name);
                    if json && name != "default" {
                        let msg = format!(
                            "a JSON module has only a default export, not `{name}`: import it as `import data from \"…\"`"
                        );
                        return Err(problem(self.graph, self.unit, n.span, msg));
                    }
                    (&n.local, member(ns.clone(), &name))
                }
            };
            self.imported.insert(local.to_id(), to);
        }
        Ok(())
    }

    fn export_named(&mut self, e: NamedExport) -> Result<(), Problem> {
        let from = match &e.src {
            Some(src) => self.target(src).cloned(),
            None => None,
        };
        let ns = match &from {
            // The registry's slot, not this module's `const`: a getter may run in a cycle
            // before that is set, once the module it reads from has started.
            Some(Target::Local(t)) => Some(slot(self.shared, *t)),
            Some(t) => self.namespace(t),
            None => None,
        };
        if let (Some(Target::Bare(spec)), None) = (&from, &ns) {
            let bare = self.bare(spec);
            for s in &e.specifiers {
                let (name, value) = match s {
                    ExportSpecifier::Namespace(n) => (export_name(&n.name), bare.clone()),
                    ExportSpecifier::Named(n) => (
                        export_name(n.exported.as_ref().unwrap_or(&n.orig)),
                        member(bare.clone(), &export_name(&n.orig)),
                    ),
                    ExportSpecifier::Default(_) => continue,
                };
                self.l.bare_reexports.push((name, value));
            }
            self.l
                .body
                .push(ModuleItem::ModuleDecl(ModuleDecl::ExportNamed(e)));
            return Ok(());
        }
        for s in e.specifiers {
            match (s, &ns) {
                (ExportSpecifier::Namespace(n), Some(ns)) => {
                    self.getter(export_name(&n.name), ns.clone(), false)
                }
                (ExportSpecifier::Named(n), Some(ns)) => {
                    let name = export_name(n.exported.as_ref().unwrap_or(&n.orig));
                    self.getter(name, member(ns.clone(), &export_name(&n.orig)), false);
                }
                (ExportSpecifier::Named(n), None) => {
                    let name = export_name(n.exported.as_ref().unwrap_or(&n.orig));
                    if let ModuleExportName::Ident(i) = n.orig {
                        let own = !self.imported.contains_key(&i.to_id());
                        self.getter(name, Expr::Ident(i), own);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `export default function/class`: a declaration (hoisted, for a function); without a
    /// name of its own it is still named `default`, as in an ES module.
    fn default_decl(&mut self, d: DefaultDecl) {
        match d {
            DefaultDecl::Fn(f) => {
                let anonymous = f.ident.is_none();
                let id = f.ident.unwrap_or_else(|| fresh("__default"));
                if anonymous {
                    self.l.define.push(name_default(&id));
                }
                self.getter("default".into(), Expr::Ident(id.clone()), true);
                let decl = FnDecl {
                    ident: id,
                    declare: false,
                    function: f.function,
                };
                self.l.body.push(ModuleItem::Stmt(Stmt::Decl(decl.into())));
            }
            DefaultDecl::Class(c) => match c.ident {
                Some(id) => {
                    self.getter("default".into(), Expr::Ident(id.clone()), true);
                    let decl = ClassDecl {
                        ident: id,
                        declare: false,
                        class: c.class,
                    };
                    self.l.body.push(ModuleItem::Stmt(Stmt::Decl(decl.into())));
                }
                None => self.default_value(Expr::Class(c)),
            },
            DefaultDecl::TsInterfaceDecl(_) => {}
        }
    }

    fn default_expr(&mut self, e: ExportDefaultExpr) {
        self.default_value(*e.expr);
    }

    /// `const __default = value`; an anonymous function or class is then named `default`,
    /// as ES names it (unless a class has a static `name` of its own).
    fn default_value(&mut self, value: Expr) {
        let rename = is_anonymous(&value);
        let id = fresh("__default");
        self.getter("default".into(), Expr::Ident(id.clone()), true);
        let decl = var(VarDeclKind::Const, id.clone(), value);
        self.l.body.push(ModuleItem::Stmt(decl));
        if rename {
            self.l.body.push(ModuleItem::Stmt(name_default(&id)));
        }
    }

    /// The references rewritten, `import.meta` and `import()` handled; the getters defined
    /// (outside the entry, whose exports stay ES exports).
    fn finish(self, u: usize) -> Result<Linked, Problem> {
        let refs = &mut ImportRefs {
            map: &self.imported,
        };
        let mut l = self.l;
        for (_, g) in &mut l.getters {
            g.visit_mut_with(refs);
        }
        l.body.visit_mut_with(refs);
        let mut dynamic = DynamicImports {
            from: &self.unit.logical,
            bundle: self.shared.bundle,
            modules: self.shared.modules,
            index: &self.graph.index,
            r: &self.shared.r,
            entry: false,
        };
        l.body.visit_mut_with(&mut dynamic);
        l.imports_entry = dynamic.entry;
        // The entry keeps the bundle's `import.meta` where the bundle is in its folder.
        if u != 0 || dir(&self.unit.logical) != dir(self.shared.bundle) {
            let mut meta = ImportMeta {
                meta: fresh("__meta"),
                used: false,
            };
            l.body.visit_mut_with(&mut meta);
            l.meta = meta.used.then_some(meta.meta);
        }
        Ok(l)
    }
}

/// The folder of a logical path.
fn dir(logical: &str) -> &str {
    logical.rsplit_once('/').map_or("", |(d, _)| d)
}

/// `__s[t]`: module `t`'s namespace in the registry (there once `t` has started).
fn slot(shared: &Shared, t: usize) -> Expr {
    Expr::Member(swc_core::ecma::ast::MemberExpr {
        span: swc_core::common::DUMMY_SP,
        obj: Box::new(Expr::Ident(shared.s.clone())),
        prop: swc_core::ecma::ast::MemberProp::Computed(swc_core::ecma::ast::ComputedPropName {
            span: swc_core::common::DUMMY_SP,
            expr: Box::new(num(t)),
        }),
    })
}

/// A JSON module: its default export is the parsed value, as `JSON.parse` gives it.
fn json(text: &str) -> Linked {
    let id = fresh("__json");
    let parse = call(
        member(Expr::Ident(global("JSON")), "parse"),
        vec![str_lit(text)],
    );
    Linked {
        getters: vec![("default".into(), Expr::Ident(id.clone()))],
        body: vec![ModuleItem::Stmt(var(VarDeclKind::Const, id, parse))],
        own: HashMap::from([("default".into(), true)]),
        ..Default::default()
    }
}

/// `Object.defineProperty(f, "name", { value: "default" })`
fn name_default(f: &Ident) -> Stmt {
    let object_ = Expr::Ident(global("Object"));
    stmt(call(
        member(object_, "defineProperty"),
        vec![
            Expr::Ident(f.clone()),
            str_lit("name"),
            object(vec![("value".into(), str_lit("default"))]),
        ],
    ))
}

/// An anonymous function or class (one ES names after the binding it is given to).
fn is_anonymous(e: &Expr) -> bool {
    match e {
        Expr::Paren(p) => is_anonymous(&p.expr),
        Expr::Fn(f) => f.ident.is_none(),
        Expr::Class(c) => c.ident.is_none() && !has_static_name(&c.class),
        Expr::Arrow(_) => true,
        _ => false,
    }
}

/// Whether a class defines a static `name` itself (ES then leaves its name alone).
fn has_static_name(c: &swc_core::ecma::ast::Class) -> bool {
    use swc_core::ecma::ast::{ClassMember, PropName};
    let named = |k: &PropName| match k {
        PropName::Ident(i) => i.sym == "name",
        PropName::Str(s) => s.value.as_str() == Some("name"),
        _ => false,
    };
    c.body.iter().any(|m| match m {
        ClassMember::ClassProp(p) => p.is_static && named(&p.key),
        ClassMember::Method(m) => m.is_static && named(&m.key),
        _ => false,
    })
}

/// The file name without extension, as a JavaScript name (for readable namespaces).
fn stem(logical: &str) -> String {
    let name = logical.rsplit('/').next().unwrap_or(logical);
    let name = name.split('.').next().unwrap_or(name);
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.is_empty() { "m".into() } else { s }
}

pub(super) fn problem(graph: &Graph, unit: &Unit, span: Span, message: String) -> Problem {
    Problem::new(
        unit.display.clone(),
        Some(crate::js::position(&graph.cm, span)),
        ProblemKind::Syntax { message },
    )
}

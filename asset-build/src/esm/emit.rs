//! The bundle as one ES module: the bare imports (in evaluation order), a short prelude (the
//! registry), one function per bundled module, then the entry's own code at the top level,
//! so its exports stay ES exports. Printed from one AST whose spans point into each module's
//! file, so the source map leads back to every module.

use std::path::Path;

use swc_core::common::comments::{Comment, CommentKind, Comments, SingleThreadedComments};
use swc_core::common::source_map::SourceMapGenConfig;
use swc_core::common::sync::Lrc;
use swc_core::common::{DUMMY_SP, FileName, SourceMap};
use swc_core::ecma::ast::{
    ArrowExpr, ArrowFunctionBody, AssignExpr, AssignOp, BindingIdent, Decl, EsVersion,
    ExportNamedSpecifier, ExportSpecifier, Expr, FunctionBody, Ident, ImportDecl, ImportSpecifier,
    ImportStarAsSpecifier, MemberExpr, Module, ModuleDecl, ModuleExportName, ModuleItem,
    NamedExport, ObjectLit, Pat, Program, Stmt, Str, VarDecl, VarDeclKind, VarDeclarator,
};
use swc_core::ecma::codegen::text_writer::JsWriter;
use swc_core::ecma::codegen::{Config as CodegenConfig, Emitter};
use swc_core::ecma::transforms::base::fixer::fixer;
use swc_core::ecma::transforms::base::hygiene::hygiene;
use swc_core::ecma::visit::{VisitMut, VisitMutWith};

use super::ast::{DropSpans, call, is_identifier, member, num, object, stmt, str_lit, var};
use super::link::{Linked, Shared, fresh, global};
use crate::refs;

/// The registry. `__r(i)` evaluates module `i` once and gives its namespace (already while it
/// evaluates: a cycle sees it as ES modules do); `__e` defines a namespace's getters (sorted,
/// `export *` of bare modules included, `default` never), as a module namespace object is.
const REGISTRY: &str = r#"const __f = [], __s = [];
function __r(i) {
  let n = __s[i];
  if (!n) __f[i](n = __s[i] = Object.create(null));
  return n;
}
function __e(n, g, ...s) {
  STARS
  for (const k of Object.keys(g).sort()) Object.defineProperty(n, k, { get: g[k], enumerable: true });
  Object.preventExtensions(Object.defineProperty(n, Symbol.toStringTag, { value: "Module" }));
}
"#;

/// In `__e`, only when a module has `export * from` a bare module.
const STARS: &str = r#"for (const o of s) for (const k in o) if (k !== "default" && !Object.hasOwn(g, k)) g[k] = () => o[k];"#;

/// A bundled module's `import.meta`: its `url` is its own file's, and `resolve` resolves
/// relative specifiers from there (bare ones as the bundle would).
const META: &str = r#"function __m(u) {
  const m = Object.create(null);
  m.url = u = new URL(u, import.meta.url).href;
  if (import.meta.resolve) m.resolve = (s) => /^(\.{0,2}\/|[a-z][a-z\d+.-]*:)/i.test(s) ? new URL(s, u).href : import.meta.resolve(s);
  return m;
}
"#;

/// The names the prelude defines, each made apart from any name in the modules.
pub(super) fn prelude_names() -> [Ident; 5] {
    ["__r", "__e", "__m", "__s", "__f"].map(fresh)
}

/// The prelude's statements (the registry when `registry`, with bare `export *` support
/// when `stars`; `__m` when `meta`), its names given the contexts of `names`.
fn prelude(names: &[Ident; 5], registry: bool, meta: bool, stars: bool) -> Vec<ModuleItem> {
    let mut text = String::new();
    if registry {
        text = REGISTRY.replace("STARS", if stars { STARS } else { "" });
    }
    if meta {
        text.push_str(META);
    }
    let cm: Lrc<SourceMap> = Lrc::new(SourceMap::default());
    let fm = cm.new_source_file(Lrc::new(FileName::Anon), text);
    let program = crate::js::parse(
        &cm,
        &fm,
        "prelude",
        Some(true),
        crate::scan::Lang::Plain,
        None,
    )
    .expect("the prelude parses");
    let Program::Module(mut module) = program else {
        unreachable!("parsed as a module")
    };
    module.visit_mut_with(&mut DropSpans);
    module.visit_mut_with(&mut Named(names));
    module.body
}

struct Named<'a>(&'a [Ident; 5]);

impl VisitMut for Named<'_> {
    fn visit_mut_ident(&mut self, i: &mut Ident) {
        if let Some(n) = self.0.iter().find(|n| n.sym == i.sym) {
            i.ctxt = n.ctxt;
        } else if ["Object", "Symbol", "URL"].contains(&i.sym.as_str()) {
            i.ctxt = global(&i.sym).ctxt;
        }
    }
}

/// Everything the bundle is assembled from.
pub(super) struct Parts<'a> {
    pub shared: &'a Shared<'a>,
    pub f: &'a Ident,
    pub bare_order: &'a [super::order::Bare],
    pub linked: Vec<Linked>,
    /// Bindings of bundled modules that the entry exports, declared at the top level.
    pub hoisted: Vec<Ident>,
    /// Each module's path from the bundle, as its shipped file (for `import.meta.url`).
    pub urls: Vec<String>,
    /// Whether a module imports the entry (then the entry has a namespace too).
    pub entry_ns: bool,
    pub names: &'a [Ident; 5],
}

/// The bundle's module.
pub(super) fn assemble(mut parts: Parts) -> Module {
    // Bare modules in evaluation order, then each module's own imports of them.
    let used = |spec: &str| parts.linked.iter().any(|l| l.bare_used.contains(spec));
    let mut items: Vec<ModuleItem> = parts
        .bare_order
        .iter()
        .map(|(spec, with)| {
            let ns = used(spec).then(|| &parts.shared.bare[spec]);
            bare_import(spec, ns, with.clone())
        })
        .collect();
    for l in &mut parts.linked {
        items.append(&mut l.top_imports);
    }
    if !parts.hoisted.is_empty() {
        items.push(ModuleItem::Stmt(Stmt::Decl(Decl::Var(Box::new(VarDecl {
            kind: VarDeclKind::Let,
            decls: std::mem::take(&mut parts.hoisted)
                .into_iter()
                .map(|id| VarDeclarator {
                    span: DUMMY_SP,
                    name: Pat::Ident(id.into()),
                    init: None,
                    definite: false,
                })
                .collect(),
            ..Default::default()
        })))));
    }
    let meta = parts.linked.iter().any(|l| l.meta.is_some());
    let stars = parts.linked.iter().any(|l| !l.bare_stars.is_empty());
    let registry = parts.linked.len() > 1;
    items.extend(prelude(parts.names, registry, meta, stars));
    let mut linked = std::mem::take(&mut parts.linked).into_iter();
    let entry = linked.next().expect("the entry is linked");
    for (i, l) in linked.enumerate() {
        items.push(registered(&parts, i + 1, l));
    }
    if let Some(m) = entry.meta.clone() {
        let url = str_lit(&parts.urls[0]);
        let make = call(Expr::Ident(parts.shared.m.clone()), vec![url]);
        items.push(ModuleItem::Stmt(var(VarDeclKind::Const, m, make)));
    }
    items.extend(entry_items(parts.shared, entry, parts.entry_ns));
    Module {
        span: DUMMY_SP,
        body: items,
        shebang: None,
    }
}

/// `__f[i] = (n) => { __e(n, getters); …; const __ns = __r(j); …; body }`
fn registered(parts: &Parts, i: usize, l: Linked) -> ModuleItem {
    let n = fresh("n");
    let mut stmts = vec![define(parts.shared, Expr::Ident(n.clone()), &l)];
    stmts.extend(l.define);
    if let Some(m) = l.meta {
        let url = str_lit(&parts.urls[i]);
        let make = call(Expr::Ident(parts.shared.m.clone()), vec![url]);
        stmts.push(var(VarDeclKind::Const, m, make));
    }
    stmts.extend(l.imports);
    stmts.extend(l.body.into_iter().filter_map(|item| item.stmt()));
    let f = Expr::Arrow(ArrowExpr {
        span: DUMMY_SP,
        params: vec![Pat::Ident(BindingIdent {
            id: n,
            type_ann: None,
        })],
        body: Box::new(ArrowFunctionBody::FunctionBody(FunctionBody {
            span: DUMMY_SP,
            stmts,
        })),
        ..Default::default()
    });
    let slot = Expr::Member(MemberExpr {
        span: DUMMY_SP,
        obj: Box::new(Expr::Ident(parts.f.clone())),
        prop: swc_core::ecma::ast::MemberProp::Computed(swc_core::ecma::ast::ComputedPropName {
            span: DUMMY_SP,
            expr: Box::new(num(i)),
        }),
    });
    ModuleItem::Stmt(stmt(assign(slot, f)))
}

/// The entry at the top level: its namespace (when a module imports it), its imports, its
/// exports (a re-export of a bundled module's binding is its value once the imports ran),
/// then its body.
fn entry_items(shared: &Shared, mut entry: Linked, entry_ns: bool) -> Vec<ModuleItem> {
    let mut items = Vec::new();
    if entry_ns {
        let slot = swc_core::ecma::ast::MemberExpr {
            span: DUMMY_SP,
            obj: Box::new(Expr::Ident(shared.s.clone())),
            prop: swc_core::ecma::ast::MemberProp::Computed(
                swc_core::ecma::ast::ComputedPropName {
                    span: DUMMY_SP,
                    expr: Box::new(num(0)),
                },
            ),
        };
        let create = call(
            member(Expr::Ident(global("Object")), "create"),
            vec![Expr::Lit(swc_core::ecma::ast::Lit::Null(
                swc_core::ecma::ast::Null { span: DUMMY_SP },
            ))],
        );
        items.push(ModuleItem::Stmt(define(
            shared,
            assign(Expr::Member(slot), create),
            &entry,
        )));
    }
    items.extend(entry.define.drain(..).map(ModuleItem::Stmt));
    items.extend(entry.imports.drain(..).map(ModuleItem::Stmt));
    for (name, value) in entry.getters.drain(..) {
        let local = match value {
            Expr::Ident(i) if entry.own.get(&name) == Some(&true) => i,
            other => {
                let copy = fresh("__x");
                items.push(ModuleItem::Stmt(var(
                    VarDeclKind::Const,
                    copy.clone(),
                    other,
                )));
                copy
            }
        };
        items.push(export(local, &name));
    }
    items.extend(entry.body);
    items
}

/// `__e(ns, { name: () => value, ... }, ...bare namespaces)`
fn define(shared: &Shared, ns: Expr, l: &Linked) -> Stmt {
    let getters = l
        .getters
        .iter()
        .chain(&l.bare_reexports)
        .map(|(k, v)| (k.clone(), super::ast::arrow(v.clone())))
        .collect();
    let mut args = vec![ns, object(getters)];
    args.extend(l.bare_stars.iter().cloned());
    stmt(call(Expr::Ident(shared.e.clone()), args))
}

fn assign(to: Expr, value: Expr) -> Expr {
    let Expr::Member(m) = to else {
        unreachable!("assignments are to members")
    };
    Expr::Assign(AssignExpr {
        span: DUMMY_SP,
        op: AssignOp::Assign,
        left: m.into(),
        right: Box::new(value),
    })
}

/// `export { local as name }`, the name always spelled out (hygiene may rename `local`).
fn export(local: Ident, name: &str) -> ModuleItem {
    let is_ident = is_identifier(name);
    let exported = if is_ident {
        ModuleExportName::Ident(Ident::new_no_ctxt(name.into(), DUMMY_SP))
    } else {
        ModuleExportName::Str(Str {
            span: DUMMY_SP,
            value: name.into(),
            raw: None,
        })
    };
    ModuleItem::ModuleDecl(ModuleDecl::ExportNamed(NamedExport {
        span: DUMMY_SP,
        specifiers: vec![ExportSpecifier::Named(ExportNamedSpecifier {
            span: DUMMY_SP,
            orig: ModuleExportName::Ident(local),
            exported: Some(exported),
            is_type_only: false,
        })],
        src: None,
        type_only: false,
        with: None,
    }))
}

/// `import * as __b from "spec"`, or `import "spec"` when no module reads its bindings.
fn bare_import(spec: &str, ns: Option<&Ident>, with: Option<Box<ObjectLit>>) -> ModuleItem {
    let specifiers = ns
        .map(|local| {
            ImportSpecifier::Namespace(ImportStarAsSpecifier {
                span: DUMMY_SP,
                local: local.clone(),
            })
        })
        .into_iter()
        .collect();
    ModuleItem::ModuleDecl(ModuleDecl::Import(ImportDecl {
        span: DUMMY_SP,
        specifiers,
        src: Box::new(Str {
            span: DUMMY_SP,
            value: spec.into(),
            raw: None,
        }),
        type_only: false,
        with,
        phase: Default::default(),
    }))
}

/// Module `logical`'s path from the bundle, as the file it ships as (`.ts` ships as `.js`).
pub(super) fn shipped_url(bundle: &str, logical: &str) -> String {
    let ext = crate::scan::extension(logical);
    let shipped = refs::shipped_extension(ext);
    let base = &logical[..logical.len() - ext.len()];
    refs::relative_url(bundle, &format!("{base}{shipped}"))
}

/// The bundle as text and, with `map` (the bundle's logical path and the asset directory),
/// its source map: each module named by its path from the bundle, its text embedded.
pub(super) fn print(
    cm: &Lrc<SourceMap>,
    comments: &SingleThreadedComments,
    module: Module,
    map: Option<(&str, &Path)>,
) -> Result<(String, Option<String>), String> {
    let c: Option<&dyn Comments> = Some(comments);
    let licences = take_licences(comments);
    let program = Program::Module(module).apply(hygiene()).apply(fixer(c));
    let mut out = Vec::new();
    let mut mappings = Vec::new();
    {
        let mut emitter = Emitter {
            cfg: CodegenConfig::default().with_target(EsVersion::latest()),
            cm: cm.clone(),
            comments: c,
            wr: JsWriter::new(cm.clone(), "\n", &mut out, map.map(|_| &mut mappings)),
        };
        emitter
            .emit_program(&program)
            .map_err(|e| format!("printing the bundle failed: {e}"))?;
    }
    let code = String::from_utf8(out).map_err(|_| "the bundle is not UTF-8".to_owned())?;
    let code = format!("{licences}{code}");
    let shift = licences.matches('\n').count() as u32;
    for (_, at) in &mut mappings {
        at.line += shift;
    }
    let Some((bundle, root)) = map else {
        return Ok((code, None));
    };
    let sm = cm.build_source_map(&mappings, None, ModuleNames { bundle, root });
    let mut json = Vec::new();
    sm.to_writer(&mut json)
        .map_err(|e| format!("writing the bundle's source map failed: {e}"))?;
    Ok((code, Some(String::from_utf8_lossy(&json).into_owned())))
}

/// Every licence comment (`/*!`, `@license`, `@preserve`) of the modules, taken out of
/// `comments` and given as the lines that start the bundle (in module order, each once): an
/// import or `export` keyword they stood before is gone from the bundle.
fn take_licences(comments: &SingleThreadedComments) -> String {
    let (mut leading, mut trailing) = comments.borrow_all_mut();
    let mut found: Vec<(swc_core::common::BytePos, Comment)> = Vec::new();
    for map in [&mut *leading, &mut *trailing] {
        for (pos, list) in map.iter_mut() {
            list.retain(|c| {
                let licence = crate::js::is_licence(c);
                if licence {
                    found.push((*pos, c.clone()));
                }
                !licence
            });
        }
    }
    found.sort_by_key(|(pos, c)| (*pos, c.span.lo));
    let mut text = String::new();
    let mut seen = std::collections::HashSet::new();
    for (_, c) in found {
        if !seen.insert(c.text.clone()) {
            continue;
        }
        match c.kind {
            CommentKind::Block => text.push_str(&format!("/*{}*/\n", c.text)),
            CommentKind::Line => text.push_str(&format!("//{}\n", c.text)),
        }
    }
    text
}

/// Names each module of a bundle's map by its path from the bundle, with its text embedded.
struct ModuleNames<'a> {
    bundle: &'a str,
    root: &'a Path,
}

impl SourceMapGenConfig for ModuleNames<'_> {
    fn file_name_to_source(&self, f: &FileName) -> String {
        match f {
            FileName::Real(p) => match p.strip_prefix(self.root) {
                Ok(rel) => {
                    refs::relative_url(self.bundle, &rel.to_string_lossy().replace('\\', "/"))
                }
                Err(_) => p.display().to_string(),
            },
            other => other.to_string(),
        }
    }
    fn inline_sources_content(&self, _f: &FileName) -> bool {
        true
    }
}

//! What each module of a bundle exports, known at build time as ES linking knows it:
//! explicit exports, then the names `export * from` brings (never `default`, never one the
//! module exports itself, and a name two stars bring from different bindings is left out, as
//! ambiguous). Stars from bare modules are resolved when the bundle runs.

use std::collections::{BTreeMap, HashMap, HashSet};

use swc_core::ecma::ast::{ExportSpecifier, ImportSpecifier, ModuleDecl, ModuleItem};

use super::ast::{decl_ids, export_name};
use super::graph::{Body, Graph, Target};

/// The binding an exported name stands for, to tell two stars' names apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    Local(usize, String),
    Bare(String, String),
    Namespace(Target),
}

/// One exported name of a module: where its value comes from, and the module of the
/// `export *` that brought it (`None`: the module exports it itself).
#[derive(Clone, Debug)]
pub(super) struct Export {
    pub origin: Origin,
    pub star: Option<usize>,
}

/// A module's own export statements, before stars are followed.
struct Table {
    explicit: BTreeMap<String, Origin>,
    stars: Vec<Target>,
}

/// Every module's exported names (index as in `graph.units`).
pub(super) fn all(graph: &Graph) -> Vec<BTreeMap<String, Export>> {
    let tables: Vec<Table> = (0..graph.units.len()).map(|u| table(graph, u)).collect();
    let mut memo = HashMap::new();
    (0..tables.len())
        .map(|u| names(&tables, u, &mut HashSet::new(), &mut memo).0)
        .collect()
}

/// `u`'s exported names, as ES's GetExportedNames: a star that leads back to a module
/// being visited adds nothing on that path. The second value says whether such a cycle was
/// cut below `u`: that result is only a part of what `u` exports from elsewhere in the
/// cycle, so it is not remembered.
fn names(
    tables: &[Table],
    u: usize,
    visiting: &mut HashSet<usize>,
    memo: &mut HashMap<usize, BTreeMap<String, Export>>,
) -> (BTreeMap<String, Export>, bool) {
    if let Some(done) = memo.get(&u) {
        return (done.clone(), false);
    }
    if !visiting.insert(u) {
        return (BTreeMap::new(), true);
    }
    let mut cut = false;
    let t = &tables[u];
    let mut out: BTreeMap<String, Export> = t
        .explicit
        .iter()
        .map(|(k, o)| {
            let export = Export {
                origin: o.clone(),
                star: None,
            };
            (k.clone(), export)
        })
        .collect();
    let mut ambiguous = HashSet::new();
    for star in &t.stars {
        let Target::Local(s) = star else { continue };
        let (from_star, cut_below) = names(tables, *s, visiting, memo);
        cut |= cut_below;
        for (k, e) in from_star {
            if k == "default" || t.explicit.contains_key(&k) {
                continue;
            }
            match out.get(&k) {
                Some(have) if have.origin != e.origin => {
                    ambiguous.insert(k);
                }
                Some(_) => {}
                None => {
                    let export = Export {
                        origin: e.origin,
                        star: Some(*s),
                    };
                    out.insert(k, export);
                }
            }
        }
    }
    out.retain(|k, _| !ambiguous.contains(k));
    visiting.remove(&u);
    if !cut {
        memo.insert(u, out.clone());
    }
    (out, cut)
}

/// A module's export statements, each name's origin followed through its imports.
fn table(graph: &Graph, u: usize) -> Table {
    let unit = &graph.units[u];
    let mut t = Table {
        explicit: BTreeMap::new(),
        stars: Vec::new(),
    };
    let module = match &unit.body {
        Body::Json(_) => {
            t.explicit
                .insert("default".into(), Origin::Local(u, "default".into()));
            return t;
        }
        Body::Script(module) => module,
    };
    let target = |spec: &str| target_of(graph, u, spec);
    let imported = imported(module, &target);
    let local = |name: &str, exported: &str| {
        imported
            .get(name)
            .cloned()
            .unwrap_or_else(|| Origin::Local(u, exported.to_owned()))
    };
    for item in &module.body {
        let ModuleItem::ModuleDecl(decl) = item else {
            continue;
        };
        match decl {
            ModuleDecl::ExportDecl(d) => {
                for id in decl_ids(&d.decl) {
                    t.explicit
                        .insert(id.sym.to_string(), Origin::Local(u, id.sym.to_string()));
                }
            }
            ModuleDecl::ExportDefaultDecl(_) | ModuleDecl::ExportDefaultExpr(_) => {
                t.explicit
                    .insert("default".into(), Origin::Local(u, "default".into()));
            }
            ModuleDecl::ExportAll(e) => {
                if let Some(tg) = e.src.value.as_str().and_then(target) {
                    t.stars.push(tg);
                }
            }
            ModuleDecl::ExportNamed(e) => {
                let from = e
                    .src
                    .as_ref()
                    .and_then(|s| s.value.as_str())
                    .and_then(target);
                for s in &e.specifiers {
                    let (name, origin) = match (s, &from) {
                        (ExportSpecifier::Namespace(n), Some(tg)) => {
                            (export_name(&n.name), Origin::Namespace(tg.clone()))
                        }
                        (ExportSpecifier::Named(n), Some(tg)) => {
                            let name = n.exported.as_ref().unwrap_or(&n.orig);
                            (export_name(name), member(tg.clone(), export_name(&n.orig)))
                        }
                        (ExportSpecifier::Named(n), None) => {
                            let name = export_name(n.exported.as_ref().unwrap_or(&n.orig));
                            let origin = local(&export_name(&n.orig), &name);
                            (name, origin)
                        }
                        _ => continue,
                    };
                    t.explicit.insert(name, origin);
                }
            }
            _ => {}
        }
    }
    t
}

impl Origin {
    /// The origin of `name` in the namespace this origin stands for (a module's export is
    /// told apart by module and name).
    fn member(self, name: String) -> Origin {
        match self {
            Origin::Namespace(Target::Local(t)) => Origin::Local(t, name),
            Origin::Namespace(Target::Bare(s)) => Origin::Bare(s, name),
            other => other,
        }
    }
}

/// What a module's specifier leads to.
fn target_of(graph: &Graph, u: usize, spec: &str) -> Option<Target> {
    graph.units[u]
        .requests
        .iter()
        .find(|r| r.spec == spec)
        .map(|r| r.target.clone())
}

/// Export `name` of a target.
fn member(target: Target, name: String) -> Origin {
    match target {
        Target::Bare(spec) => Origin::Bare(spec, name),
        t => Origin::Namespace(t).member(name),
    }
}

/// Each imported binding's origin, by local name.
fn imported(
    module: &swc_core::ecma::ast::Module,
    target: &dyn Fn(&str) -> Option<Target>,
) -> HashMap<String, Origin> {
    let mut imported = HashMap::new();
    for item in &module.body {
        let ModuleItem::ModuleDecl(ModuleDecl::Import(i)) = item else {
            continue;
        };
        let Some(tg) = i.src.value.as_str().and_then(target) else {
            continue;
        };
        for s in &i.specifiers {
            let (local, origin) = match s {
                ImportSpecifier::Namespace(n) => (&n.local, Origin::Namespace(tg.clone())),
                ImportSpecifier::Default(d) => (&d.local, member(tg.clone(), "default".into())),
                ImportSpecifier::Named(n) => {
                    let name = n
                        .imported
                        .as_ref()
                        .map_or(n.local.sym.to_string(), export_name);
                    (&n.local, member(tg.clone(), name))
                }
            };
            imported.insert(local.sym.to_string(), origin);
        }
    }
    imported
}

//! ES-module bundles: a bundle of one ES module is that module with its static relative
//! imports in one ES module that behaves as the modules do, through a small module registry
//! rather than scope hoisting. Each bundled module is a function that defines its namespace
//! (getters, so bindings stay live) and then runs; the entry's code stays at the top level,
//! so its exports stay ES exports. Dynamic `import()`s of a bundled module give the same
//! instance; of any other file, they stay separate files, their specifiers rewritten to reach
//! the same file from the bundle's place. Bare imports (`preact`, what an import map resolves)
//! stay imports. The bundle's text then goes through the JS transform like any module
//! (minified, its remaining references hashed).
//!
//! `graph` walks and compiles the modules, `exports` works out what each exports, `order`
//! checks that keeping bare imports as imports keeps the evaluation order, `link` and
//! `rewrite` make each module's code registry code, `hoist` moves the bindings the entry
//! re-exports to the top level (so they stay live), `emit` assembles and prints the bundle.

mod ast;
mod emit;
mod exports;
mod graph;
mod hoist;
mod link;
mod order;
mod rewrite;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap};

use swc_core::common::{GLOBALS, Globals};

use crate::config::Config;
use crate::error::Problem;
use crate::error::ProblemKind;
use crate::transform::Input;

use graph::{Graph, Target};
use link::{Shared, fresh};

/// The bundle's text (not yet minified), its source map back to the modules (when source
/// maps are on) and every file it was made from.
pub(crate) struct Bundled {
    pub code: String,
    pub map: Option<String>,
    pub inputs: Vec<Input>,
}

/// The module graph of `entry`, from the sources `modules` (logical paths of the tree's
/// scripts), made into one module that will stand at `bundle`.
///
/// # Errors
/// A syntax error in a module, a relative import that names no script, a JSON import
/// without `with { type: "json" }`, top-level `await` outside the entry, or a bare import
/// that would change the evaluation order, each at the file's line and column.
pub(crate) fn bundle(
    bundle: &str,
    entry: &str,
    modules: &BTreeSet<String>,
    config: &Config,
) -> Result<Bundled, Problem> {
    GLOBALS.set(&Globals::new(), || {
        let graph = Graph::walk(entry, modules, config)?;
        let bare_order = order::bare_in_order(&graph)?;
        let exports = exports::all(&graph);
        let bare: HashMap<String, _> = bare_order
            .iter()
            .map(|(spec, _)| (spec.clone(), fresh(&format!("__b_{}", js_name(spec)))))
            .collect();
        let names = emit::prelude_names();
        let [r, e, m, s, f] = names.clone();
        let shared = Shared {
            r,
            e,
            m,
            s,
            bare: &bare,
            bundle,
            modules,
        };
        let mut linked = (0..graph.units.len())
            .map(|u| link::link(&graph, u, &exports[u], &shared))
            .collect::<Result<Vec<_>, _>>()?;
        let hoisted = hoist::hoist(&mut linked, &exports);
        let urls = graph
            .units
            .iter()
            .map(|u| emit::shipped_url(bundle, &u.logical))
            .collect();
        let entry_ns = linked.iter().any(|l| l.imports_entry)
            || graph
                .units
                .iter()
                .any(|u| u.requests.iter().any(|r| r.target == Target::Local(0)));
        let module = emit::assemble(emit::Parts {
            shared: &shared,
            f: &f,
            bare_order: &bare_order,
            linked,
            hoisted,
            urls,
            entry_ns,
            names: &names,
        });
        let map = config.source_maps.then_some((bundle, graph.root.as_path()));
        let (code, map) = emit::print(&graph.cm, &graph.comments, module, map).map_err(|e| {
            Problem::new(
                crate::bundle::display(bundle),
                None,
                ProblemKind::BadFile { message: e },
            )
        })?;
        Ok(Bundled {
            code,
            map,
            inputs: graph.inputs,
        })
    })
}

/// A bare specifier as part of a JavaScript name (`@scope/pkg` -> `_scope_pkg`).
fn js_name(spec: &str) -> String {
    spec.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

//! ES-module bundles: a bundle of one ES module is that module with its static imports
//! (relative ones, followed recursively, TypeScript and JSX compiled first) joined into one
//! module by swc's bundler. Dynamic `import()`s stay separate files: their specifiers are
//! rewritten to reach the same file from the bundle's place. Bare imports (`preact`, what an
//! import map resolves) stay imports. The joined text then goes through the JS transform like
//! any module (minified, its remaining references hashed).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use swc_core::bundler::{Bundler, Config as BundlerConfig, Hook, Load, ModuleData, ModuleRecord};
use swc_core::common::comments::{Comments, SingleThreadedComments};
use swc_core::common::source_map::SourceMapGenConfig;
use swc_core::common::sync::Lrc;
use swc_core::common::{FileName, GLOBALS, Globals, Mark, SourceMap, Span};
use swc_core::ecma::ast::{
    CallExpr, Callee, EsVersion, Expr, ExprOrSpread, KeyValueProp, Lit, Module, ModuleDecl,
    ModuleItem, Program, Str,
};
use swc_core::ecma::codegen::text_writer::JsWriter;
use swc_core::ecma::codegen::{Config as CodegenConfig, Emitter};
use swc_core::ecma::loader::resolve::Resolution;
use swc_core::ecma::transforms::base::helpers::{self, Helpers};
use swc_core::ecma::transforms::base::resolver;
use swc_core::ecma::visit::{VisitMut, VisitMutWith};

use crate::config::Config;
use crate::error::Problem;
use crate::refs::{self, Class};
use crate::scan::{self, Lang};
use crate::transform::Input;

/// The joined module's text (not yet minified), its source map back to the modules (when
/// source maps are on) and every file it was made from.
pub struct Bundled {
    pub code: String,
    pub map: Option<String>,
    pub inputs: Vec<Input>,
}

/// The module graph of `entry`, from the sources `modules` (logical paths of the tree's
/// scripts), joined into one module that will stand at `bundle`.
///
/// # Errors
/// A syntax error in a module, a relative import that names no script, or the bundler's
/// failure, each naming the bundle and the file.
pub fn bundle(
    bundle: &str,
    entry: &str,
    modules: &BTreeSet<String>,
    config: &Config,
) -> Result<Bundled, Problem> {
    let bad = |path: &str, message: String| Problem::BadFile {
        path: path.to_owned(),
        pos: None,
        message,
    };
    let graph = Graph::walk(entry, modules, &config.source)?;
    let root = config.source.canonicalize().map_err(|e| {
        bad(
            &config.source.display().to_string(),
            format!("reading the asset directory: {e}"),
        )
    })?;
    let cm: Lrc<SourceMap> = Lrc::new(SourceMap::default());
    let loader = Loader {
        cm: cm.clone(),
        comments: SingleThreadedComments::default(),
        root: root.clone(),
        bundle: bundle.to_owned(),
        graph: &graph,
        config,
        failed: RefCell::new(None),
    };
    let output = run_bundler(bundle, entry, &root, &loader, config);
    if let Some(p) = loader.failed.into_inner() {
        return Err(p);
    }
    let module = output.map_err(|e| bad(&crate::bundle::display(bundle), e))?;
    let (code, map) = print(
        &cm,
        &loader.comments,
        &module,
        config.source_maps.then_some((bundle, &root)),
    )
    .map_err(|e| bad(&crate::bundle::display(bundle), e))?;
    Ok(Bundled {
        code,
        map,
        inputs: graph.inputs,
    })
}

/// swc's bundler over the walked graph: the one module it makes of the entry.
fn run_bundler(
    bundle: &str,
    entry: &str,
    root: &Path,
    loader: &Loader,
    config: &Config,
) -> Result<Module, String> {
    let graph = loader.graph;
    let resolver = Resolver {
        root: root.to_owned(),
        graph: graph.resolved.clone(),
    };
    let mut externals: Vec<_> = graph.bare.iter().map(|s| s.as_str().into()).collect();
    // The automatic JSX runtime's import is added by the JSX transform, after the walk.
    if let crate::config::Jsx::Automatic { import_source } = &config.jsx {
        externals.push(format!("{import_source}/jsx-runtime").into());
    }
    let globals = Globals::new();
    let bundles = GLOBALS.set(&globals, || {
        let mut bundler = Bundler::new(
            &globals,
            loader.cm.clone(),
            loader,
            resolver,
            BundlerConfig {
                require: false,
                external_modules: externals,
                ..Default::default()
            },
            Box::new(NoImportMeta),
        );
        let entries = HashMap::from([(bundle.to_owned(), FileName::Real(root.join(entry)))]);
        bundler.bundle(entries)
    });
    let bundles = bundles.map_err(|e| format!("the bundler failed: {e:#}"))?;
    bundles
        .into_iter()
        .next()
        .map(|b| b.module)
        .ok_or_else(|| "the bundler made nothing".to_owned())
}

/// The modules reachable by static imports from the entry, read once: their text, where each
/// relative specifier leads, and the bare specifiers.
struct Graph {
    texts: BTreeMap<String, String>,
    /// (importing module, specifier) -> the logical path it names.
    resolved: HashMap<(String, String), String>,
    bare: BTreeSet<String>,
    inputs: Vec<Input>,
}

impl Graph {
    fn walk(entry: &str, modules: &BTreeSet<String>, root: &Path) -> Result<Graph, Problem> {
        let mut g = Graph {
            texts: BTreeMap::new(),
            resolved: HashMap::new(),
            bare: BTreeSet::new(),
            inputs: Vec::new(),
        };
        let mut queue = VecDeque::from([entry.to_owned()]);
        while let Some(logical) = queue.pop_front() {
            if g.texts.contains_key(&logical) {
                continue;
            }
            let display = scan::display_path(root, &logical);
            let path = root.join(&logical);
            let bytes = std::fs::read(&path).map_err(|e| Problem::BadFile {
                path: display.clone(),
                pos: None,
                message: format!("reading it failed: {e}"),
            })?;
            let text = crate::transform::utf8(&display, &bytes)?.to_owned();
            g.inputs
                .push(Input::read(path.canonicalize().unwrap_or(path), &bytes));
            for (spec, pos) in static_imports(&display, &logical, &text)? {
                match refs::classify_js(&spec) {
                    Class::Relative { path, .. } => {
                        let named = refs::resolve(&logical, &path);
                        let target = named
                            .as_deref()
                            .and_then(|t| find_module(t, modules))
                            .ok_or_else(|| Problem::Syntax {
                                path: display.clone(),
                                pos: Some(pos),
                                message: format!(
                                    "import `{spec}` names no script in the asset directory"
                                ),
                            })?;
                        // A script that would now be found first, or make the name
                        // ambiguous, changes the bundle: the names looked for in vain count.
                        for other in named.iter().flat_map(|n| looked_for(n)) {
                            if other != target && !modules.contains(&other) {
                                g.inputs.push(Input::absent(root.join(&other)));
                            }
                        }
                        queue.push_back(target.clone());
                        g.resolved.insert((logical.clone(), spec), target);
                    }
                    _ => {
                        g.bare.insert(spec);
                    }
                }
            }
            g.texts.insert(logical, text);
        }
        Ok(g)
    }
}

/// Every name an import of `target` could find: itself, then the ways TypeScript allows.
fn looked_for(target: &str) -> Vec<String> {
    let mut names = vec![target.to_owned()];
    names.extend(refs::import_candidates(target));
    names
}

/// The script `target` names, directly or the ways TypeScript allows.
fn find_module(target: &str, modules: &BTreeSet<String>) -> Option<String> {
    if modules.contains(target) {
        return Some(target.to_owned());
    }
    let found: Vec<String> = refs::import_candidates(target)
        .into_iter()
        .filter(|c| modules.contains(c))
        .collect();
    (found.len() == 1).then(|| found[0].clone())
}

/// The specifiers of a module's static imports and re-exports (not type-only ones).
fn static_imports(
    display: &str,
    logical: &str,
    text: &str,
) -> Result<Vec<(String, crate::error::Pos)>, Problem> {
    let cm: Lrc<SourceMap> = Lrc::new(SourceMap::default());
    let fm = cm.new_source_file(
        Lrc::new(FileName::Custom(display.to_owned())),
        text.to_owned(),
    );
    let lang = scan::lang_of(logical);
    let program = GLOBALS.set(&Globals::new(), || {
        crate::js::parse(&cm, &fm, display, Some(true), lang, None)
    })?;
    let Program::Module(module) = program else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for item in &module.body {
        let ModuleItem::ModuleDecl(decl) = item else {
            continue;
        };
        let src = match decl {
            ModuleDecl::Import(i) if !i.type_only => Some(&i.src),
            ModuleDecl::ExportAll(e) if !e.type_only => Some(&e.src),
            ModuleDecl::ExportNamed(e) if !e.type_only => e.src.as_ref(),
            _ => None,
        };
        if let Some(src) = src.and_then(|s| Some((s.value.as_str()?.to_owned(), s.span))) {
            out.push((src.0, crate::js::position(&cm, src.1)));
        }
    }
    Ok(out)
}

/// Gives the bundler each module parsed, with TypeScript and JSX compiled and its dynamic
/// imports pointed from the bundle's place.
struct Loader<'a> {
    cm: Lrc<SourceMap>,
    /// Every module's comments (licence comments survive into the bundle).
    comments: SingleThreadedComments,
    root: PathBuf,
    bundle: String,
    graph: &'a Graph,
    config: &'a Config,
    /// The first problem (the bundler's own error would lose the file and position).
    failed: RefCell<Option<Problem>>,
}

impl Load for &Loader<'_> {
    fn load(&self, file: &FileName) -> anyhow::Result<ModuleData> {
        let FileName::Real(path) = file else {
            anyhow::bail!("not a file: {file:?}");
        };
        let logical = path
            .strip_prefix(&self.root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .map_err(|_| anyhow::anyhow!("{} is outside the asset directory", path.display()))?;
        let text = self
            .graph
            .texts
            .get(&logical)
            .ok_or_else(|| anyhow::anyhow!("{logical} was not read"))?;
        let display = scan::display_path(&self.config.source, &logical);
        let fm = self
            .cm
            .new_source_file(Lrc::new(file.clone()), text.clone());
        let lang = scan::lang_of(&logical);
        let c: Option<&dyn Comments> = Some(&self.comments);
        let parsed = crate::js::parse(&self.cm, &fm, &display, Some(true), lang, c);
        let mut program = match parsed.and_then(|p| {
            crate::js::refuse_commonjs(&display, &p, &self.cm)?;
            Ok(p)
        }) {
            Ok(p) => p,
            Err(p) => {
                self.failed.borrow_mut().get_or_insert(p);
                anyhow::bail!("{display}: syntax error");
            }
        };
        let helpers = Helpers::new(false);
        helpers::HELPERS.set(&helpers, || {
            let marks = crate::js::Marks {
                unresolved: Mark::new(),
                top_level: Mark::new(),
            };
            program.mutate(resolver(
                marks.unresolved,
                marks.top_level,
                lang != Lang::Plain,
            ));
            crate::js::to_javascript(&mut program, lang, &self.config.jsx, &self.cm, c, marks);
            program.visit_mut_with(&mut DynamicImports {
                from: &logical,
                bundle: &self.bundle,
                graph: self.graph,
            });
        });
        let Program::Module(module) = program else {
            anyhow::bail!("{display} is not an ES module");
        };
        Ok(ModuleData {
            fm,
            module,
            helpers,
        })
    }
}

/// Points relative `import()` specifiers from the bundle's place at the same file.
struct DynamicImports<'a> {
    from: &'a str,
    bundle: &'a str,
    graph: &'a Graph,
}

impl VisitMut for DynamicImports<'_> {
    fn visit_mut_call_expr(&mut self, n: &mut CallExpr) {
        n.visit_mut_children_with(self);
        if !matches!(n.callee, Callee::Import(_)) {
            return;
        }
        let Some(ExprOrSpread { spread: None, expr }) = n.args.first_mut() else {
            return;
        };
        let Expr::Lit(Lit::Str(s)) = &mut **expr else {
            return;
        };
        let Some(Class::Relative { path, suffix }) = s.value.as_str().map(refs::classify_js) else {
            return;
        };
        // Resolved against the module it is written in; resolution proper (and a missing
        // target's error) happens on the bundle's text, from the bundle's place.
        let Some(target) = refs::resolve(self.from, &path) else {
            return;
        };
        let target = self
            .graph
            .resolved
            .get(&(
                self.from.to_owned(),
                s.value.as_str().unwrap_or_default().to_owned(),
            ))
            .cloned()
            .unwrap_or(target);
        let spec = format!("{}{suffix}", refs::relative_url(self.bundle, &target));
        *s = Str {
            span: s.span,
            value: spec.into(),
            raw: None,
        };
    }
}

/// Resolves static imports from the walk's table.
struct Resolver {
    root: PathBuf,
    graph: HashMap<(String, String), String>,
}

impl swc_core::bundler::Resolve for Resolver {
    fn resolve(&self, base: &FileName, spec: &str) -> anyhow::Result<Resolution> {
        let FileName::Real(base) = base else {
            anyhow::bail!("not a file: {base:?}");
        };
        let from = base
            .strip_prefix(&self.root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let target = self
            .graph
            .get(&(from, spec.to_owned()))
            .ok_or_else(|| anyhow::anyhow!("cannot resolve `{spec}`"))?;
        Ok(Resolution {
            filename: FileName::Real(self.root.join(target)),
            slug: None,
        })
    }
}

/// `import.meta` of an inlined module has no meaning of its own in a bundle: left empty.
struct NoImportMeta;

impl Hook for NoImportMeta {
    fn get_import_meta_props(
        &self,
        _span: Span,
        _module_record: &ModuleRecord,
    ) -> anyhow::Result<Vec<KeyValueProp>> {
        Ok(Vec::new())
    }
}

/// The joined module as text and, with `map` (the bundle's logical path and the asset
/// directory), its source map: each module named by its path from the bundle, its text
/// embedded.
fn print(
    cm: &Lrc<SourceMap>,
    comments: &SingleThreadedComments,
    module: &Module,
    map: Option<(&str, &Path)>,
) -> Result<(String, Option<String>), String> {
    let mut out = Vec::new();
    let mut mappings = Vec::new();
    {
        let mut emitter = Emitter {
            cfg: CodegenConfig::default().with_target(EsVersion::latest()),
            cm: cm.clone(),
            comments: Some(comments),
            wr: JsWriter::new(cm.clone(), "\n", &mut out, map.map(|_| &mut mappings)),
        };
        emitter
            .emit_module(module)
            .map_err(|e| format!("printing the bundle failed: {e}"))?;
    }
    let code = String::from_utf8(out).map_err(|_| "the bundle is not UTF-8".to_owned())?;
    let Some((bundle, root)) = map else {
        return Ok((code, None));
    };
    let sm = cm.build_source_map(&mappings, None, ModuleNames { bundle, root });
    let mut json = Vec::new();
    sm.to_writer(&mut json)
        .map_err(|e| format!("writing the bundle's source map failed: {e}"))?;
    Ok((code, Some(String::from_utf8_lossy(&json).into_owned())))
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

//! The module graph of a bundle: every module reachable by static imports from the entry,
//! each read once, parsed into one `SourceMap` (so spans keep pointing into their files),
//! TypeScript and JSX compiled, and only then its static imports collected (an import used
//! only as a type is gone by then). JSON modules (`with { type: "json" }`) are read and
//! checked. Every file read, and every name looked for in vain, is an input of the bundle.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;

use swc_core::common::comments::{Comments, SingleThreadedComments};
use swc_core::common::sync::Lrc;
use swc_core::common::{FileName, Mark, SourceMap, Span};
use swc_core::ecma::ast::{Module, ModuleDecl, ModuleItem, ObjectLit, Program, Prop, PropName};
use swc_core::ecma::transforms::base::helpers::{self, Helpers};
use swc_core::ecma::transforms::base::resolver;

use crate::config::Config;
use crate::error::ProblemKind;
use crate::error::{Pos, Problem};
use crate::js::Marks;
use crate::refs::{self, Class};
use crate::scan::{self, Lang};
use crate::transform::Input;

/// What a static import leads to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Target {
    /// A module of the bundle (its index in [`Graph::units`]).
    Local(usize),
    /// A bare specifier (`preact`): it stays an import of the bundle.
    Bare(String),
}

/// One static import or re-export, in source order.
pub(super) struct Request {
    pub spec: String,
    pub span: Span,
    pub target: Target,
    /// Its import attributes (`with { type: "json" }`).
    pub with: Option<Box<ObjectLit>>,
}

/// What a module is made of once compiled.
pub(super) enum Body {
    /// An ES module, TypeScript and JSX compiled.
    Script(Module),
    /// A JSON module's text (checked to be JSON).
    Json(String),
}

/// One module of the bundle.
pub(super) struct Unit {
    pub logical: String,
    pub display: String,
    pub body: Body,
    pub requests: Vec<Request>,
}

/// The modules reachable by static imports from the entry (`units[0]`).
pub(super) struct Graph {
    pub cm: Lrc<SourceMap>,
    /// Every module's comments (licence comments survive into the bundle).
    pub comments: SingleThreadedComments,
    /// The asset directory, canonical (the source files' names are below it).
    pub root: PathBuf,
    pub units: Vec<Unit>,
    pub index: HashMap<String, usize>,
    pub inputs: Vec<Input>,
}

/// A request before its target module has an index.
struct Pending {
    spec: String,
    span: Span,
    target: Option<String>,
    with: Option<Box<ObjectLit>>,
}

impl Graph {
    /// Reads, compiles and links up every module reachable from `entry`. Must run inside
    /// swc's `GLOBALS`.
    pub(super) fn walk(
        entry: &str,
        modules: &BTreeSet<String>,
        config: &Config,
    ) -> Result<Graph, Problem> {
        let root = config.source.canonicalize().map_err(|e| {
            Problem::new(
                config.source.display().to_string(),
                None,
                ProblemKind::BadFile {
                    message: format!("reading the asset directory: {e}"),
                },
            )
        })?;
        let mut g = Graph {
            cm: Lrc::new(SourceMap::default()),
            comments: SingleThreadedComments::default(),
            root,
            units: Vec::new(),
            index: HashMap::new(),
            inputs: Vec::new(),
        };
        let mut pending = Vec::new();
        g.reach(entry, &mut pending, modules, config)?;
        g.add_dynamic_returns(&mut pending, modules, config);
        for (unit, requests) in g.units.iter_mut().zip(pending) {
            unit.requests = requests
                .into_iter()
                .map(|r| Request {
                    target: match r.target {
                        Some(t) => Target::Local(g.index[&t]),
                        None => Target::Bare(r.spec.clone()),
                    },
                    spec: r.spec,
                    span: r.span,
                    with: r.with,
                })
                .collect();
        }
        Ok(g)
    }

    /// Adds every module reachable by static imports from `start` that the graph lacks.
    fn reach(
        &mut self,
        start: &str,
        pending: &mut Vec<Vec<Pending>>,
        modules: &BTreeSet<String>,
        config: &Config,
    ) -> Result<(), Problem> {
        let mut queue = VecDeque::from([start.to_owned()]);
        while let Some(logical) = queue.pop_front() {
            if self.index.contains_key(&logical) {
                continue;
            }
            let (unit, requests) = self.read_unit(&logical, modules, config)?;
            queue.extend(requests.iter().filter_map(|r| r.target.clone()));
            self.index.insert(logical, self.units.len());
            self.units.push(unit);
            pending.push(requests);
        }
        Ok(())
    }

    /// A module that only an `import()` reaches ships as a file of its own, with its own
    /// instances of what it imports. When its imports (static, or `import()`s) lead back
    /// into the bundle, that would be a second instance of a bundled module (its code run
    /// twice, its state split): such a module, and what it imports, join the bundle
    /// instead, evaluated when the `import()` runs. Repeated until no `import()` leads back.
    fn add_dynamic_returns(
        &mut self,
        pending: &mut Vec<Vec<Pending>>,
        modules: &BTreeSet<String>,
        config: &Config,
    ) {
        let mut tried = BTreeSet::new();
        loop {
            let targets: Vec<String> = self
                .units
                .iter()
                .flat_map(|u| dynamic_imports(u, modules))
                .filter(|t| !self.index.contains_key(t) && !tried.contains(t))
                .collect();
            let Some(target) = targets.into_iter().next() else {
                return;
            };
            tried.insert(target.clone());
            let before = self.units.len();
            // Everything the module reaches, by static imports and `import()`s alike: a
            // second instance can come from any of them.
            let mut reached = true;
            let mut frontier = vec![target];
            while let Some(next) = frontier.pop() {
                let start = self.units.len();
                if self.reach(&next, pending, modules, config).is_err() {
                    reached = false;
                    break;
                }
                for u in &self.units[start..] {
                    frontier.extend(
                        dynamic_imports(u, modules)
                            .into_iter()
                            .filter(|t| !self.index.contains_key(t)),
                    );
                }
            }
            let bundled = |t: &String| self.index.get(t).is_some_and(|&i| i < before);
            let leads_back = pending[before..]
                .iter()
                .flatten()
                .any(|r| r.target.as_ref().is_some_and(bundled))
                || self.units[before..]
                    .iter()
                    .flat_map(|u| dynamic_imports(u, modules))
                    .any(|t| bundled(&t));
            if !(reached && leads_back) {
                for u in self.units.drain(before..) {
                    self.index.remove(&u.logical);
                }
                pending.truncate(before);
            }
        }
    }

    fn read_unit(
        &mut self,
        logical: &str,
        modules: &BTreeSet<String>,
        config: &Config,
    ) -> Result<(Unit, Vec<Pending>), Problem> {
        let display = scan::display_path(&config.source, logical);
        let path = self.root.join(logical);
        let bytes = std::fs::read(&path).map_err(|e| {
            Problem::new(
                display.clone(),
                None,
                ProblemKind::BadFile {
                    message: format!("reading it failed: {e}"),
                },
            )
        })?;
        let text = crate::transform::utf8(&display, &bytes)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text).to_owned();
        self.inputs.push(Input::read(
            path.canonicalize().unwrap_or(path.clone()),
            &bytes,
        ));
        if is_json(logical) {
            check_json(&display, &text)?;
            let unit = Unit {
                logical: logical.to_owned(),
                display,
                body: Body::Json(text),
                requests: Vec::new(),
            };
            return Ok((unit, Vec::new()));
        }
        let (module, _marks) = self.compile(&display, logical, path, text, config)?;
        let mut requests = Vec::new();
        for (spec, span, with) in static_imports(&module) {
            let json = is_json_type(with.as_deref());
            let pos = crate::js::position(&self.cm, span);
            let target = match refs::classify_js(&spec) {
                Class::Relative { path, .. } => {
                    Some(self.find(&display, logical, &spec, &path, pos, json, modules)?)
                }
                Class::External => None,
            };
            requests.push(Pending {
                spec,
                span,
                target,
                with,
            });
        }
        let unit = Unit {
            logical: logical.to_owned(),
            display,
            body: Body::Script(module),
            requests: Vec::new(),
        };
        Ok((unit, requests))
    }

    /// Parses one module into the graph's source map, and compiles TypeScript and JSX.
    fn compile(
        &self,
        display: &str,
        logical: &str,
        path: PathBuf,
        text: String,
        config: &Config,
    ) -> Result<(Module, Marks), Problem> {
        let fm = self
            .cm
            .new_source_file(Lrc::new(FileName::Real(path)), text);
        let lang = scan::lang_of(logical);
        let c: Option<&dyn Comments> = Some(&self.comments);
        crate::depth::check(
            display,
            &fm.src,
            crate::depth::Lang::Js,
            crate::js::MAX_DEPTH,
        )?;
        let mut program = crate::js::parse(&self.cm, &fm, display, Some(true), lang, c)?;
        crate::js::refuse_commonjs(display, &program, &self.cm)?;
        let marks = Marks {
            unresolved: Mark::new(),
            top_level: Mark::new(),
        };
        helpers::HELPERS.set(&Helpers::new(true), || {
            program.mutate(resolver(
                marks.unresolved,
                marks.top_level,
                lang != Lang::Plain,
            ));
            crate::js::to_javascript(&mut program, lang, &config.jsx, &self.cm, c, marks);
        });
        match program {
            Program::Module(m) => Ok((m, marks)),
            Program::Script(_) => Err(Problem::new(
                display.to_owned(),
                None,
                ProblemKind::Syntax {
                    message: "not an ES module".into(),
                },
            )),
        }
    }

    /// The logical path a relative static import names (a script, or a JSON module).
    #[allow(clippy::too_many_arguments)]
    fn find(
        &mut self,
        display: &str,
        logical: &str,
        spec: &str,
        path: &str,
        pos: Pos,
        json: bool,
        modules: &BTreeSet<String>,
    ) -> Result<String, Problem> {
        let fail = |message: String| {
            Problem::new(
                display.to_owned(),
                Some(pos),
                ProblemKind::Syntax { message },
            )
        };
        let named = refs::resolve(logical, path);
        if let Some(n) = named.as_deref().filter(|n| is_json(n)) {
            if !json {
                return Err(fail(format!(
                    "import `{spec}` is a JSON module, which browsers import only with `with {{ type: \"json\" }}`: add it"
                )));
            }
            if !self.root.join(n).is_file() {
                return Err(fail(format!(
                    "import `{spec}` names no file in the asset directory"
                )));
            }
            return Ok(n.to_owned());
        }
        if json {
            return Err(fail(format!(
                "import `{spec}` has `type: \"json\"` but names no `.json` file"
            )));
        }
        let target = named
            .as_deref()
            .and_then(|t| find_module(t, modules))
            .ok_or_else(|| {
                fail(format!(
                    "import `{spec}` names no script in the asset directory"
                ))
            })?;
        // A script that would now be found first, or make the name ambiguous, changes the
        // bundle: the names looked for in vain count.
        for other in named.iter().flat_map(|n| looked_for(n)) {
            if other != target && !modules.contains(&other) {
                self.inputs.push(Input::absent(self.root.join(&other)));
            }
        }
        Ok(target)
    }
}

fn is_json(logical: &str) -> bool {
    scan::extension(logical).eq_ignore_ascii_case("json")
}

/// A JSON module that is not JSON fails the bundle, at the line and column of the mistake.
fn check_json(display: &str, text: &str) -> Result<(), Problem> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|_| ())
        .map_err(|e| {
            Problem::new(
                display.to_owned(),
                Some(Pos {
                    line: e.line() as u32,
                    col: e.column() as u32,
                }),
                ProblemKind::Syntax {
                    message: format!("not JSON: {e}"),
                },
            )
        })
}

/// Every name an import of `target` could find: itself, then the ways TypeScript allows.
fn looked_for(target: &str) -> Vec<String> {
    let mut names = vec![target.to_owned()];
    names.extend(refs::import_candidates(target));
    names
}

/// The script `target` names, directly or the ways TypeScript allows.
pub(super) fn find_module(target: &str, modules: &BTreeSet<String>) -> Option<String> {
    if modules.contains(target) {
        return Some(target.to_owned());
    }
    let found: Vec<String> = refs::import_candidates(target)
        .into_iter()
        .filter(|c| modules.contains(c))
        .collect();
    (found.len() == 1).then(|| found[0].clone())
}

/// The specifiers of a compiled module's static imports and re-exports, in source order,
/// each with its span and its import attributes.
fn static_imports(module: &Module) -> Vec<(String, Span, Option<Box<ObjectLit>>)> {
    let mut out = Vec::new();
    for item in &module.body {
        let ModuleItem::ModuleDecl(decl) = item else {
            continue;
        };
        let (src, with) = match decl {
            ModuleDecl::Import(i) if !i.type_only => (&i.src, &i.with),
            ModuleDecl::ExportAll(e) if !e.type_only => (&e.src, &e.with),
            ModuleDecl::ExportNamed(e) if !e.type_only => match &e.src {
                Some(src) => (src, &e.with),
                None => continue,
            },
            _ => continue,
        };
        if let Some(spec) = src.value.as_str() {
            out.push((spec.to_owned(), src.span, with.clone()));
        }
    }
    out
}

/// The modules of the tree that a unit's relative `import()`s of string literals name.
fn dynamic_imports(unit: &Unit, modules: &BTreeSet<String>) -> Vec<String> {
    use swc_core::ecma::ast::{Callee, Expr, ExprOrSpread, Lit};
    use swc_core::ecma::visit::{Visit, VisitWith};
    struct Found<'a> {
        from: &'a str,
        modules: &'a BTreeSet<String>,
        out: Vec<String>,
    }
    impl Visit for Found<'_> {
        fn visit_call_expr(&mut self, c: &swc_core::ecma::ast::CallExpr) {
            c.visit_children_with(self);
            if !matches!(c.callee, Callee::Import(_)) {
                return;
            }
            let Some(ExprOrSpread { spread: None, expr }) = c.args.first() else {
                return;
            };
            let Expr::Lit(Lit::Str(s)) = &**expr else {
                return;
            };
            let Some(Class::Relative { path, suffix }) = s.value.as_str().map(refs::classify_js)
            else {
                return;
            };
            if !suffix.is_empty() {
                return;
            }
            if let Some(found) =
                refs::resolve(self.from, &path).and_then(|n| find_module(&n, self.modules))
            {
                self.out.push(found);
            }
        }
    }
    let Body::Script(module) = &unit.body else {
        return Vec::new();
    };
    let mut found = Found {
        from: &unit.logical,
        modules,
        out: Vec::new(),
    };
    module.visit_with(&mut found);
    found.out
}

/// Whether import attributes say `type: "json"`.
pub(super) fn is_json_type(with: Option<&ObjectLit>) -> bool {
    with.is_some_and(|o| {
        o.props.iter().any(|p| {
            let Some(Prop::KeyValue(kv)) = p.as_prop().map(|p| &**p) else {
                return false;
            };
            let key = match &kv.key {
                PropName::Ident(i) => Some(i.sym.as_str()),
                PropName::Str(s) => s.value.as_str(),
                _ => None,
            };
            let value = kv.value.as_lit().and_then(|l| match l {
                swc_core::ecma::ast::Lit::Str(s) => s.value.as_str(),
                _ => None,
            });
            key == Some("type") && value == Some("json")
        })
    })
}

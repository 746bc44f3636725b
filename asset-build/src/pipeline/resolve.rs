//! Stage 3: the reference graph. Every reference of a transformed file resolves to another
//! asset or stays as written; each joined bundle becomes a node whose references are its
//! parts; the edges give the order files are finished in.

use std::collections::{HashMap, HashSet};

use super::diagnostics::Diagnostics;
use super::scan::{PerSource, Scanned, SourceId};
use super::transform::{FileOutcome, TransformOutcome};
use crate::config::{Config, CssImports, Missing};
use crate::error::Problem;
use crate::error::ProblemKind;
use crate::graph;
use crate::refs::{self, Class};
use crate::scan::{self, Source};
use crate::transform::{Ref, RefKind, Transformed};

/// Where a reference goes.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// Left as written.
    Keep,
    /// Another asset, plus the `?query#fragment` kept after it.
    Asset(SourceId, String),
}

/// A transformed file with the target of each of its references (in the order of `refs`).
pub(super) struct Node {
    pub(super) transformed: Transformed,
    pub(super) targets: Vec<Target>,
}

impl Node {
    /// Each reference with its target.
    pub(super) fn refs(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&Ref, &Target)> + ExactSizeIterator {
        self.transformed.refs.iter().zip(&self.targets)
    }
}

/// The reference graph: each transformed file's node, and which files it depends on.
pub(super) struct Resolved {
    pub(super) nodes: PerSource<Option<Node>>,
    /// Per source, the sources it refers to, sorted, once each (bare indices: the form
    /// `crate::graph` works on).
    edges: Vec<Vec<usize>>,
    /// Per source: it has a problem, so it is not finished.
    pub(super) broken: PerSource<bool>,
    /// Joined bundles' parts by bundle. (A bundle of one ES module is an ordinary node.)
    pub(super) joined: HashMap<SourceId, Vec<SourceId>>,
}

/// Resolves every reference to another asset (or keeps it as written), then adds the
/// joined bundles' nodes. Problems for references that escape the root or point at nothing.
pub(super) fn resolve(
    config: &Config,
    scanned: &Scanned,
    transformed: TransformOutcome,
    diagnostics: &mut Diagnostics,
) -> Resolved {
    let mut g = Resolved {
        nodes: scanned.sources.map(|_| None),
        edges: scanned.sources.iter().map(|_| Vec::new()).collect(),
        broken: scanned.sources.map(|_| false),
        joined: HashMap::new(),
    };
    for (i, outcome) in scanned.sources.ids().zip(transformed.files) {
        let t = match outcome {
            FileOutcome::Untouched => continue,
            FileOutcome::Failed(p) => {
                diagnostics.error(p);
                g.broken[i] = true;
                continue;
            }
            FileOutcome::Transformed(t) => t,
        };
        for w in &t.warnings {
            diagnostics.warn(dropped(&scanned.sources[i], w));
        }
        let targets: Vec<Target> = t
            .refs
            .iter()
            .map(|r| g.resolve_ref(config, scanned, i, r, diagnostics))
            .collect();
        g.edges[i.0].sort_unstable();
        g.edges[i.0].dedup();
        g.nodes[i] = Some(Node {
            transformed: t,
            targets,
        });
    }
    if config.css_imports == CssImports::Inline {
        warn_inlined_in_place(&scanned.sources, &g.nodes, diagnostics);
    }
    g.add_bundle_nodes(scanned);
    g.warn_hoisted_across_parts(scanned, diagnostics);
    g
}

/// A transform's warning as a problem of the source; for Sass, whose positions are in the
/// compiled CSS, with that line named in the message.
fn dropped(src: &Source, w: &crate::transform::Warning) -> Problem {
    match w.pos {
        Some(p) if crate::scan::is_sass(&src.logical) => Problem::new(
            src.display.clone(),
            None,
            ProblemKind::Dropped {
                message: format!("line {} of the compiled CSS: {}", p.line, w.message),
            },
        ),
        pos => Problem::new(
            src.display.clone(),
            pos,
            ProblemKind::Dropped {
                message: w.message.clone(),
            },
        ),
    }
}

impl Resolved {
    /// The sources `i` refers to.
    pub(super) fn edges(&self, i: SourceId) -> impl Iterator<Item = SourceId> + '_ {
        self.edges[i.0].iter().map(|&j| SourceId(j))
    }

    /// The strongly connected components, dependencies first.
    pub(super) fn components(&self) -> Vec<Vec<SourceId>> {
        graph::components(&self.edges)
            .into_iter()
            .map(|comp| comp.into_iter().map(SourceId).collect())
            .collect()
    }

    /// One cycle through the component `comp`, in order.
    pub(super) fn cycle_in(&self, comp: &[SourceId]) -> Vec<SourceId> {
        let comp: Vec<usize> = comp.iter().map(|i| i.0).collect();
        graph::cycle_in(&comp, &self.edges)
            .into_iter()
            .map(SourceId)
            .collect()
    }

    /// The target of reference `r` of source `i`, recording the edge or the problem.
    fn resolve_ref(
        &mut self,
        config: &Config,
        scanned: &Scanned,
        i: SourceId,
        r: &Ref,
        diagnostics: &mut Diagnostics,
    ) -> Target {
        let src = &scanned.sources[i];
        let class = if r.kind == RefKind::JsImport {
            refs::classify_js(&r.spec)
        } else {
            refs::classify(&r.spec)
        };
        let Class::Relative { path, suffix } = class else {
            return Target::Keep;
        };
        let Some(target) = refs::resolve(&src.logical, &path) else {
            diagnostics.error(Problem::new(
                src.display.clone(),
                Some(r.pos),
                ProblemKind::Escapes {
                    kind: r.kind.describe(),
                    reference: r.spec.clone(),
                },
            ));
            self.broken[i] = true;
            return Target::Keep;
        };
        let found = match find_target(&scanned.index, &target, r) {
            Ok(found) => found,
            Err(message) => {
                diagnostics.error(Problem::new(
                    src.display.clone(),
                    Some(r.pos),
                    ProblemKind::Syntax { message },
                ));
                self.broken[i] = true;
                return Target::Keep;
            }
        };
        if let Some(j) = found {
            self.edges[i.0].push(j.0);
            return Target::Asset(j, suffix.to_owned());
        }
        let p = Problem::new(
            src.display.clone(),
            Some(r.pos),
            ProblemKind::MissingTarget {
                kind: r.kind.describe(),
                reference: r.spec.clone(),
                target: scan::display_path(&config.source, &target),
            },
        );
        if r.kind == RefKind::SourceMap || config.missing == Missing::Warn {
            diagnostics.warn(p);
        } else {
            diagnostics.error(p);
            self.broken[i] = true;
        }
        Target::Keep
    }

    /// Each joined bundle's node: one reference per part, in order (so the parts are
    /// finished first). (A bundle of one ES module already has its node from the transform.)
    fn add_bundle_nodes(&mut self, scanned: &Scanned) {
        for b in &scanned.bundles {
            let at = SourceId(b.at);
            let parts: Vec<SourceId> = b.parts.iter().map(|&j| SourceId(j)).collect();
            if self.nodes[at].is_some() || self.broken[at] {
                continue;
            }
            self.joined.insert(at, parts.clone());
            let refs = parts
                .iter()
                .map(|&j| Ref {
                    placeholder: String::new(),
                    spec: scanned.sources[j].logical.clone(),
                    kind: RefKind::Part,
                    pos: crate::error::Pos::START,
                    media: None,
                    supports: None,
                    layer: None,
                })
                .collect();
            let targets = parts
                .iter()
                .map(|&j| Target::Asset(j, String::new()))
                .collect();
            self.nodes[at] = Some(Node {
                transformed: Transformed {
                    refs,
                    ..Default::default()
                },
                targets,
            });
            self.edges[at.0] = b.parts.clone();
            self.edges[at.0].sort_unstable();
            self.edges[at.0].dedup();
        }
    }

    /// Classic scripts joined into one: a part that reads, while it loads, a name a later
    /// part declares with `var` or `function` finds it hoisted (a warning at the part).
    fn warn_hoisted_across_parts(&self, scanned: &Scanned, diagnostics: &mut Diagnostics) {
        let in_order = scanned.bundles.iter().map(|b| SourceId(b.at));
        for parts in in_order.filter_map(|b| self.joined.get(&b)) {
            let named: Vec<(&str, Option<&crate::transform::PageNames>)> = parts
                .iter()
                .map(|&j| {
                    let page = self.nodes[j]
                        .as_ref()
                        .and_then(|n| n.transformed.page.as_ref());
                    (scanned.sources[j].logical.as_str(), page)
                })
                .collect();
            for (reader, name, declarer) in crate::bundle::hoisted_across(&named) {
                let display = parts
                    .iter()
                    .map(|&j| &scanned.sources[j])
                    .find(|s| s.logical == reader)
                    .map_or(reader, |s| s.display.as_str());
                diagnostics.warn(Problem::new(display.to_owned(), None, ProblemKind::Differs { message: format!(
                        "reads `{name}` while it loads, and the later part `{declarer}` declares it: joined into one script, `{name}` is hoisted (undefined, or the function) where separate scripts would not find it yet"
                    ) }));
            }
        }
    }

    /// With parts shipped only inside their bundles, a reference to a part from anything
    /// else would point at nothing: a problem at the reference.
    pub(super) fn refs_to_unshipped_parts(&self, scanned: &Scanned, diagnostics: &mut Diagnostics) {
        let parts: HashSet<SourceId> = scanned
            .bundles
            .iter()
            .flat_map(|b| b.parts.iter().map(|&j| SourceId(j)))
            .collect();
        for (i, node) in self.nodes.enumerate() {
            let Some(node) = node else { continue };
            if parts.contains(&i) || self.joined.contains_key(&i) {
                continue;
            }
            for (r, target) in node.refs() {
                if let Target::Asset(j, _) = target
                    && parts.contains(j)
                {
                    diagnostics.error(Problem::new(scanned.sources[i].display.clone(), Some(r.pos), ProblemKind::BadFile { message: format!(
                            "{} `{}` names `{}`, which ships only inside its bundle (refer to the bundle, or set ship-bundle-parts = true)",
                            r.kind.describe(),
                            r.spec,
                            scanned.sources[*j].logical
                        ) }));
                }
            }
        }
    }
}

/// The asset at `target`, or for an ES import, the one file TypeScript's import forms name
/// (`./x.js` for `x.ts`, extensionless); more than one is an error.
fn find_target(
    index: &HashMap<String, SourceId>,
    target: &str,
    r: &Ref,
) -> Result<Option<SourceId>, String> {
    if let Some(&j) = index.get(target) {
        return Ok(Some(j));
    }
    if r.kind != RefKind::JsImport {
        return Ok(None);
    }
    let candidates: Vec<(&str, SourceId)> = refs::import_candidates(target)
        .into_iter()
        .filter_map(|c| {
            index
                .get_key_value(c.as_str())
                .map(|(k, &j)| (k.as_str(), j))
        })
        .collect();
    match candidates.as_slice() {
        [] => Ok(None),
        [(_, j)] => Ok(Some(*j)),
        many => {
            let names: Vec<String> = many.iter().map(|(k, _)| format!("`{k}`")).collect();
            Err(format!(
                "import `{}` could name {}: write the file's extension",
                r.spec,
                names.join(" or ")
            ))
        }
    }
}

/// With `css-imports = "inline"`, a url() in a custom property of an `@import`ed stylesheet
/// moves into the importing file, where browsers may resolve it from either place: it is
/// rewritten to reach the same file from its new place, with a warning.
fn warn_inlined_in_place(
    sources: &PerSource<Source>,
    nodes: &PerSource<Option<Node>>,
    diagnostics: &mut Diagnostics,
) {
    let mut imported = sources.map(|_| false);
    for node in nodes.iter().flatten() {
        for (r, target) in node.refs() {
            if let (RefKind::Import, Target::Asset(j, _)) = (r.kind, target) {
                imported[*j] = true;
            }
        }
    }
    for (i, node) in nodes.enumerate() {
        let Some(node) = node else { continue };
        if !imported[i] {
            continue;
        }
        for (r, target) in node.refs() {
            if r.kind == RefKind::UrlInPlace && matches!(target, Target::Asset(..)) {
                diagnostics.warn(Problem::new(sources[i].display.clone(), Some(r.pos), ProblemKind::Ambiguous { message: format!(
                        "url() `{}` in a custom property is inlined into another stylesheet: rewritten relative to that stylesheet, so it reaches the same file where the var() resolves against the inlining stylesheet",
                        r.spec
                    ) }));
            }
        }
    }
}

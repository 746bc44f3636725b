//! Stage 4: every file finished after its dependencies, in the graph's order: its
//! placeholders filled with their targets' hashed names (`@import`s inlined on request), its
//! source map made an asset of its own, then its bytes hashed into its name. Unchanged files
//! keep their names, a CSS cycle is a problem, an ES-module cycle shares one hash, and a
//! joined bundle is its finished parts, joined.

use std::collections::HashSet;

use super::diagnostics::Diagnostics;
use super::fill::{self, Replacement, fill, wrap};
use super::resolve::{Node, Resolved, Target};
use super::scan::{PerSource, Scanned, SourceId};
use crate::bundle;
use crate::config::{Config, CssImports};
use crate::error::Problem;
use crate::error::ProblemKind;
use crate::hash;
use crate::refs;
use crate::scan::{Kind, Source};
use crate::sourcemap::Edit;
use crate::transform::{Ref, RefKind};

/// A file's shipped bytes and name.
#[derive(Debug, Clone)]
pub(super) struct Final {
    pub(super) hashed: String,
    pub(super) bytes: Vec<u8>,
    pub(super) sha256: String,
}

impl Final {
    /// Names `bytes` by their own hash, or by `group` (the hash of a cycle).
    fn new(logical: &str, bytes: Vec<u8>, group: Option<&str>) -> Final {
        let sha256 = hash::sha256_hex(&bytes);
        Final::named(logical, bytes, sha256, group)
    }

    /// The same, with the sha256 of `bytes` already known.
    fn named(logical: &str, bytes: Vec<u8>, sha256: String, group: Option<&str>) -> Final {
        let hashed = hash::hashed_path(logical, group.unwrap_or(&sha256));
        Final {
            hashed,
            bytes,
            sha256,
        }
    }

    /// A name standing before the bytes are known (a cycle's members while it is hashed), or
    /// kept from the last run.
    fn name_only(hashed: String, sha256: String) -> Final {
        Final {
            hashed,
            bytes: Vec::new(),
            sha256,
        }
    }
}

/// Each source's final form, by source (`None` where broken), filled in dependency order.
type Finals = PerSource<Option<Final>>;

/// A source map generated for a finished file: an asset of its own, `<logical>.map`.
pub(super) struct GeneratedMap {
    logical: String,
    file: Final,
}

/// Stage 4's output: every unbroken source's final form, and the source maps generated.
pub(super) struct Finished {
    files: Finals,
    maps: Vec<GeneratedMap>,
}

/// A file that ships, under its logical path.
pub(super) struct ShippedFile {
    pub(super) logical: String,
    pub(super) file: Final,
    /// Its last run's output stands: its entry is taken as it was (its bytes were not read).
    pub(super) reused: bool,
}

/// Names every file after its dependencies (transform, then hash): unchanged files keep
/// their names, a CSS cycle is a problem, an ES-module cycle shares one hash.
pub(super) fn hash_in_order(
    config: &Config,
    scanned: &Scanned,
    graph: &Resolved,
    diagnostics: &mut Diagnostics,
) -> Finished {
    let finisher = Finisher {
        config,
        scanned,
        graph,
    };
    let mut finished = Finished {
        files: scanned.sources.map(|_| None),
        maps: Vec::new(),
    };
    // Broken when resolving, and then each component that fails or depends on a broken file.
    let mut broken = graph.broken.clone();
    for comp in graph.components() {
        if let Some(kept) = kept_name(scanned, &comp) {
            finished.files[comp[0]] = Some(kept);
            continue;
        }
        if comp
            .iter()
            .any(|&i| broken[i] || graph.edges(i).any(|j| broken[j]))
        {
            comp.iter().for_each(|&i| broken[i] = true);
            continue;
        }
        if let Err(p) = finisher.finish_component(&comp, &mut finished) {
            diagnostics.error(p);
            comp.iter().for_each(|&i| broken[i] = true);
        }
    }
    finished
}

/// An unchanged file keeps its name from the last run (nothing it refers to changed either).
fn kept_name(scanned: &Scanned, comp: &[SourceId]) -> Option<Final> {
    let (&[i], Some(r)) = (comp, &scanned.incremental.reuse) else {
        return None;
    };
    if !scanned.clean[i] {
        return None;
    }
    let e = &r.manifest.assets[&scanned.sources[i].logical];
    Some(Final::name_only(e.path.clone(), e.sha256.clone()))
}

impl Finished {
    /// What ships: every finished source and generated map, less the parts shipped only
    /// inside their bundles.
    pub(super) fn shipped(self, config: &Config, scanned: &Scanned) -> Vec<ShippedFile> {
        let dropped: HashSet<&str> = scanned
            .bundles
            .iter()
            .filter(|_| !config.ship_bundle_parts)
            .flat_map(|b| b.parts.iter())
            .map(|&j| scanned.sources[SourceId(j)].logical.as_str())
            .collect();
        let sources = scanned
            .sources
            .iter()
            .zip(self.files)
            .zip(scanned.clean.iter())
            .map(|((s, f), &reused)| ShippedFile {
                logical: s.logical.clone(),
                file: f.expect("every unbroken file is finished"),
                reused,
            });
        let maps = self.maps.into_iter().map(|m| ShippedFile {
            logical: m.logical,
            file: m.file,
            reused: false,
        });
        sources
            .chain(maps)
            .filter(|f| {
                let source = f.logical.strip_suffix(".map").unwrap_or(&f.logical);
                !dropped.contains(f.logical.as_str()) && !dropped.contains(source)
            })
            .collect()
    }
}

/// What finishing reads: the settings, the sources and the reference graph.
struct Finisher<'a> {
    config: &'a Config,
    scanned: &'a Scanned,
    graph: &'a Resolved,
}

impl Finisher<'_> {
    /// Source `i` as scanned.
    fn source(&self, i: SourceId) -> &Source {
        &self.scanned.sources[i]
    }

    /// Finishes the files of one component of the graph: one file, or a cycle.
    fn finish_component(&self, comp: &[SourceId], finished: &mut Finished) -> Result<(), Problem> {
        let cyclic = comp.len() > 1 || self.graph.edges(comp[0]).any(|j| j == comp[0]);
        if !cyclic {
            let f = self.finish_one(comp[0], &finished.files, &mut finished.maps)?;
            finished.files[comp[0]] = Some(f);
            Ok(())
        } else if comp
            .iter()
            .any(|&i| !matches!(self.source(i).kind, Kind::Js(_)))
        {
            let cycle = self
                .graph
                .cycle_in(comp)
                .into_iter()
                .map(|i| self.source(i).display.clone())
                .collect();
            Err(Problem::cycle(cycle))
        } else {
            // ES modules may import each other in a cycle: one hash names the whole cycle.
            self.finish_cycle(comp, finished)
        }
    }

    /// The final form of a file outside any cycle: its filled-in text, or its bytes as
    /// written.
    fn finish_one(
        &self,
        i: SourceId,
        finals: &Finals,
        maps: &mut Vec<GeneratedMap>,
    ) -> Result<Final, Problem> {
        let src = self.source(i);
        if let Some(parts) = self.graph.joined.get(&i) {
            return self.finish_bundle(i, parts, finals, maps);
        }
        match &self.graph.nodes[i] {
            Some(_) => {
                let (text, edits) = self.text(i, &src.logical, finals, &mut Vec::new());
                let map = self.adjusted_map(i, &edits)?;
                self.finish(i, text, map, None, maps)
            }
            None => Ok(Final::named(
                &src.logical,
                src.bytes.clone(),
                self.scanned.source_hashes[i]
                    .clone()
                    .expect("a file read was hashed"),
                None,
            )),
        }
    }

    /// Names every module of a cycle with one hash over all their texts, then fills in the
    /// references between them.
    fn finish_cycle(&self, comp: &[SourceId], finished: &mut Finished) -> Result<(), Problem> {
        let finals = &mut finished.files;
        // First pass: references inside the cycle stand as their logical paths.
        for &j in comp {
            finals[j] = Some(Final::name_only(
                self.source(j).logical.clone(),
                String::new(),
            ));
        }
        // The hash covers everything a member's served bytes depend on: its text (with the
        // cycle's own references as logical paths) and its source map, which its
        // `sourceMappingURL` names by hash (a comment-only edit changes only the map).
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for &i in comp {
            let logical = &self.source(i).logical;
            parts.push(logical.as_bytes().to_vec());
            let (text, _) = self.text(i, logical, finals, &mut Vec::new());
            parts.push(text.into_bytes());
            if let Some(map) = self.map_of(i) {
                parts.push(map.as_bytes().to_vec());
            }
        }
        let group = hash::sha256_parts(parts.iter().map(Vec::as_slice));
        for &j in comp {
            let hashed = hash::hashed_path(&self.source(j).logical, &group);
            finals[j] = Some(Final::name_only(hashed, String::new()));
        }
        let mut done = Vec::new();
        for &i in comp {
            let (text, edits) = self.text(i, &self.source(i).logical, finals, &mut Vec::new());
            let map = self.adjusted_map(i, &edits)?;
            done.push((
                i,
                self.finish(i, text, map, Some(&group), &mut finished.maps)?,
            ));
        }
        for (i, f) in done {
            finals[i] = Some(f);
        }
        Ok(())
    }

    /// A bundle's final bytes and name: its parts' texts as if they stood at the bundle's
    /// place, joined (`bundle::join`), with one source map over all of them.
    fn finish_bundle(
        &self,
        b: SourceId,
        parts: &[SourceId],
        finals: &Finals,
        maps: &mut Vec<GeneratedMap>,
    ) -> Result<Final, Problem> {
        let src = self.source(b);
        let css = src.kind == Kind::Css;
        let bad = |message: String| {
            Problem::new(src.display.clone(), None, ProblemKind::BadFile { message })
        };
        let mut imports = Vec::new();
        let mut texts = Vec::with_capacity(parts.len());
        let mut part_maps = Vec::with_capacity(parts.len());
        for (k, &j) in parts.iter().enumerate() {
            let part = self.source(j);
            let node = self.graph.nodes[j]
                .as_ref()
                .ok_or_else(|| bad(format!("part `{}` was not transformed", part.logical)))?;
            let keeps_imports = self.config.css_imports == CssImports::Keep;
            let has_import = node
                .transformed
                .refs
                .iter()
                .any(|r| r.kind == RefKind::Import);
            if css && k > 0 && keeps_imports && has_import {
                return Err(bad(format!(
                    "part `{}` has an @import, which must stand first in a stylesheet: list the imported file in the bundle before it, or set css-imports = \"inline\"",
                    part.logical
                )));
            }
            let kept_before = imports.len();
            let (text, edits) = self.text(j, &src.logical, finals, &mut imports);
            let earlier_rules = texts
                .iter()
                .any(|t: &bundle::Part| !t.text.trim().is_empty());
            if css && imports.len() > kept_before && earlier_rules {
                // An @import kept as a rule (remote, or not a stylesheet of the tree) can
                // only stand first: moved there, it would come before the earlier parts'
                // rules, and lose to them in the cascade where it used to win.
                return Err(bad(format!(
                    "part `{}` keeps `{}`, which must stand first in a stylesheet: moved ahead of the earlier parts' rules it would reverse the cascade; import it from the first part, or list it in a part of its own before the others",
                    part.logical,
                    imports[kept_before].trim()
                )));
            }
            part_maps.push(self.adjusted_map(j, &edits)?);
            texts.push(bundle::Part {
                logical: &part.logical,
                text,
                script: node.transformed.script,
            });
        }
        let (mut body, mut lines) = bundle::join(css, &texts).map_err(bad)?;
        if !imports.is_empty() {
            body = imports.concat() + "\n" + &body;
            lines.iter_mut().for_each(|l| *l += 1);
        }
        let map = if self.config.source_maps {
            let merged = self
                .bundle_map(b, parts, &lines, part_maps)
                .map_err(|e| bad(format!("source map: {e}")))?;
            Some(merged)
        } else {
            None
        };
        self.finish(b, body, map, None, maps)
    }

    /// One source map over a bundle's parts, each starting at its line of the joined text.
    fn bundle_map(
        &self,
        b: SourceId,
        parts: &[SourceId],
        lines: &[u32],
        part_maps: Vec<Option<String>>,
    ) -> Result<String, String> {
        let with_maps: Vec<(u32, &str, String)> = lines
            .iter()
            .zip(parts)
            .zip(part_maps)
            .filter_map(|((&line, &j), m)| Some((line, self.source(j).logical.as_str(), m?)))
            .collect();
        bundle::merge_maps(&self.source(b).logical, &with_maps)
    }

    /// The file's final bytes and name. With a source map (already true for `text`), the map
    /// becomes an asset of its own, `<logical>.map`, named by its own hash, and the file ends
    /// with a `sourceMappingURL` to it.
    fn finish(
        &self,
        i: SourceId,
        mut text: String,
        map: Option<String>,
        group: Option<&str>,
        maps: &mut Vec<GeneratedMap>,
    ) -> Result<Final, Problem> {
        let src = self.source(i);
        if let Some(adjusted) = map {
            let map_logical = format!("{}.map", src.logical);
            if self.scanned.index.contains_key(map_logical.as_str()) {
                return Err(Problem::new(
                    src.display.clone(),
                    None,
                    ProblemKind::BadFile {
                        message: format!(
                            "its generated source map would replace the asset `{map_logical}`: rename that file or turn source maps off"
                        ),
                    },
                ));
            }
            let map_final = Final::new(&map_logical, adjusted.into_bytes(), None);
            let url = refs::relative_url(&src.logical, &map_final.hashed);
            if src.kind == Kind::Css {
                text.push_str(&format!("\n/*# sourceMappingURL={url} */"));
            } else {
                text.push_str(&format!("\n//# sourceMappingURL={url}"));
            }
            maps.push(GeneratedMap {
                logical: map_logical,
                file: map_final,
            });
        }
        Ok(Final::new(&src.logical, text.into_bytes(), group))
    }

    /// File `i`'s transformed source map, if any.
    fn map_of(&self, i: SourceId) -> Option<&str> {
        let node = self.graph.nodes[i].as_ref()?;
        node.transformed.map.as_deref()
    }

    /// File `i`'s node; only transformed files (and joined bundles) have one.
    fn node(&self, i: SourceId) -> &Node {
        self.graph.nodes[i]
            .as_ref()
            .expect("only transformed files have text")
    }

    /// The shipped text of file `i` as if it stood at logical path `at` (its own path, or that
    /// of the stylesheet it is inlined into), and where it differs from the transformed code
    /// (for the source map). `imports` collects `@import`s kept as written, which must stay
    /// at the top of the final file.
    fn text(
        &self,
        i: SourceId,
        at: &str,
        finals: &Finals,
        imports: &mut Vec<String>,
    ) -> (String, Vec<Edit>) {
        let own_file = imports.is_empty() && at == self.source(i).logical;
        let node = self.node(i);
        let inline =
            self.config.css_imports == CssImports::Inline && self.source(i).kind == Kind::Css;
        let mut replacements: Vec<Replacement> = Vec::with_capacity(node.targets.len());
        let mut inlined = String::new();
        let last_kept = self.last_kept_import(node);
        for (k, (r, target)) in node.refs().enumerate() {
            if inline && r.kind == RefKind::Import {
                // The rule was removed from the code; put back its content, or the rule.
                match target {
                    Target::Asset(j, _)
                        if self.is_stylesheet(target) && last_kept.is_none_or(|l| k > l) =>
                    {
                        let (body, _) = self.text(*j, at, finals, imports);
                        let (layer, media) = (r.layer.as_deref(), r.media.as_deref());
                        inlined.push_str(&wrap(&body, layer, media, r.supports.as_deref()));
                    }
                    _ => imports.push(fill::import_rule(r, &self.url(r, target, at, finals))),
                }
                continue;
            }
            replacements.push(self.replacement(i, r, target, at, finals));
        }
        let (code, mut edits) = fill(&node.transformed.code, &replacements);
        if !inline {
            return (code, edits);
        }
        let prefix = if own_file {
            imports.concat() + &inlined
        } else {
            inlined
        };
        if !prefix.is_empty() {
            edits.push(Edit {
                line: 0,
                col: 0,
                delta: fill::utf16_len(&prefix),
                before: true,
            });
        }
        (prefix + &code, edits)
    }

    /// Whether `target` is another stylesheet (which an `@import` of it may inline).
    fn is_stylesheet(&self, target: &Target) -> bool {
        matches!(target, Target::Asset(j, _) if self.source(*j).kind == Kind::Css)
    }

    /// Kept `@import`s must stand first in the file; an import inlined before a kept one would
    /// move after it and change the cascade. So imports are inlined only after the last one
    /// that must stay an `@import` (remote, or not a stylesheet): its index among the refs.
    fn last_kept_import(&self, node: &Node) -> Option<usize> {
        node.refs()
            .enumerate()
            .rfind(|(_, (r, target))| r.kind == RefKind::Import && !self.is_stylesheet(target))
            .map(|(k, _)| k)
    }

    /// What stands for reference `r` of file `i` (shipped as if at `at`).
    fn replacement<'r>(
        &self,
        i: SourceId,
        r: &'r Ref,
        target: &Target,
        at: &str,
        finals: &Finals,
    ) -> Replacement<'r> {
        let url = match target {
            // In its own file, only the name changes: the path resolves as it did, whichever
            // base a browser takes for it. Inlined elsewhere, it is rewritten to reach the
            // same file from there (warned about when resolving).
            Target::Asset(j, suffix)
                if r.kind == RefKind::UrlInPlace && at == self.source(i).logical =>
            {
                fill::url_in_place(&r.spec, hashed(finals, *j), suffix)
            }
            _ => self.url(r, target, at, finals),
        };
        let css = matches!(r.kind, RefKind::Url | RefKind::UrlInPlace | RefKind::Import);
        Replacement {
            placeholder: &r.placeholder,
            bare_in_url: matches!(r.kind, RefKind::Url | RefKind::UrlInPlace)
                .then(|| crate::css::url_argument(&url)),
            text: if css { crate::css::quote(&url) } else { url },
        }
    }

    /// Where reference `r` points from a file at `at`: its hashed target, relative, or the
    /// reference as written.
    fn url(&self, r: &Ref, target: &Target, at: &str, finals: &Finals) -> String {
        match target {
            Target::Asset(j, suffix) => refs::relative_url(at, hashed(finals, *j)) + suffix,
            Target::Keep => r.spec.clone(),
        }
    }

    /// File `i`'s source map, if it has one, with its columns moved by `edits`.
    fn adjusted_map(&self, i: SourceId, edits: &[Edit]) -> Result<Option<String>, Problem> {
        let Some(map) = self.map_of(i) else {
            return Ok(None);
        };
        crate::sourcemap::adjust(map, edits).map(Some).map_err(|e| {
            Problem::new(
                self.source(i).display.clone(),
                None,
                ProblemKind::Syntax {
                    message: format!("source map: {e}"),
                },
            )
        })
    }
}

/// The hashed name of finished file `j`.
fn hashed(finals: &Finals, j: SourceId) -> &str {
    &finals[j]
        .as_ref()
        .expect("dependencies are finished first")
        .hashed
}

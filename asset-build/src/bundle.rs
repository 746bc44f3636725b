//! Named bundles (`[package.metadata.assets.bundles]`): parts joined in order into one asset
//! that is hashed, compressed and listed like any file. `plan` checks the settings against
//! the scanned sources and adds one source per bundle; the pipeline's hash stage fills it in
//! after its parts (a bundle depends on its parts), with `join` and `merge_maps`.
//!
//! Joining keeps each part's meaning: CSS parts are inlined like `@import`ed stylesheets (their
//! url()s rewritten for the bundle's place, kept `@import`s moved first); classic scripts are
//! separated by `;` on a line of its own (a part without its final semicolon cannot run into
//! the next), and when strict and sloppy parts are mixed, each strict part runs in a function
//! of its own so its `"use strict"` covers only itself.

use std::collections::{BTreeMap, HashMap};

use crate::error::Problem;
use crate::error::ProblemKind;
use crate::scan::{self, Kind, Lang, Source};
use crate::transform::{PageNames, Script};

/// One bundle: its source index and its parts' indices, in order.
#[derive(Debug, Clone)]
pub(crate) struct Bundle {
    pub at: usize,
    pub parts: Vec<usize>,
}

/// How a bundle is named in messages.
pub(crate) fn display(name: &str) -> String {
    format!("bundle `{name}`")
}

/// Adds a source for every bundle in `bundles` (name -> parts) to `sources`, checking that
/// the name is free and of a kind that can be joined, and that every part is an asset of the
/// same kind. Problems name the bundle.
pub(crate) fn plan(
    bundles: &BTreeMap<String, Vec<String>>,
    sources: &mut Vec<Source>,
    problems: &mut Vec<Problem>,
) -> Vec<Bundle> {
    let index: HashMap<String, usize> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.logical.clone(), i))
        .collect();
    let mut planned = Vec::new();
    for (name, parts) in bundles {
        match check(name, parts, sources, &index) {
            Ok(parts) => {
                planned.push(Bundle {
                    at: sources.len(),
                    parts,
                });
                sources.push(Source {
                    logical: name.clone(),
                    display: display(name),
                    kind: scan::kind_of(name),
                    lang: Lang::Plain,
                    bytes: Vec::new(),
                });
            }
            Err(message) => problems.push(Problem::new(
                display(name),
                None,
                ProblemKind::BadFile { message },
            )),
        }
    }
    planned
}

fn check(
    name: &str,
    parts: &[String],
    sources: &[Source],
    index: &HashMap<String, usize>,
) -> Result<Vec<usize>, String> {
    let clean = !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && name
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    if !clean {
        return Err(
            "a bundle's name is a relative path with `/` separators, inside the asset directory"
                .into(),
        );
    }
    let kind = scan::kind_of(name);
    let is_js = matches!(kind, Kind::Js(_));
    if kind != Kind::Css && !is_js || scan::lang_of(name) != Lang::Plain {
        return Err("a bundle is named `.css`, `.js` or `.mjs`".into());
    }
    if index.contains_key(name) {
        return Err(format!("the name is taken by the asset `{name}`"));
    }
    if parts.is_empty() {
        return Err("it has no parts".into());
    }
    let mut found = Vec::with_capacity(parts.len());
    for part in parts {
        let Some(&j) = index.get(part.as_str()) else {
            return Err(format!("part `{part}` is not an asset"));
        };
        let same = match sources[j].kind {
            Kind::Css => kind == Kind::Css,
            Kind::Js(_) => is_js,
            _ => false,
        };
        if !same {
            let want = if is_js { "scripts" } else { "stylesheets" };
            return Err(format!(
                "part `{part}` is not like the others: a `{name}` bundle joins {want}"
            ));
        }
        if found.contains(&j) {
            return Err(format!("part `{part}` is listed twice"));
        }
        found.push(j);
    }
    Ok(found)
}

/// A part's finished text, with what joining it needs.
pub(crate) struct Part<'a> {
    pub logical: &'a str,
    pub text: String,
    /// Script facts (JavaScript parts).
    pub script: Option<Script>,
}

/// The joined text of a bundle and the line each part starts on (0-based), or why the parts
/// cannot be joined without changing their meaning.
///
/// # Errors
/// An ES module among several scripts, or a strict script that declares globals joined with
/// sloppy ones (no wrapper keeps both its strictness and its globals).
pub(crate) fn join(css: bool, parts: &[Part]) -> Result<(String, Vec<u32>), String> {
    if !css {
        for p in parts {
            if parts.len() > 1 && p.script.is_some_and(|s| s.module) {
                return Err(format!(
                    "part `{}` is an ES module: a bundle of several parts joins classic scripts (bundle a module alone to get it with its imports)",
                    p.logical
                ));
            }
        }
    }
    let strict = |p: &Part| p.script.is_some_and(|s| s.strict);
    let mixed = !css && parts.iter().any(strict) && !parts.iter().all(strict);
    let mut body = String::new();
    let mut lines = Vec::with_capacity(parts.len());
    for (k, p) in parts.iter().enumerate() {
        if k > 0 {
            body.push_str(if css { "\n" } else { "\n;\n" });
        }
        let wrap = mixed && strict(p);
        if wrap {
            if p.script.is_some_and(|s| s.globals) {
                return Err(format!(
                    "part `{}` is in strict mode and declares globals, and other parts are not strict: joined, one would change the other's meaning (make every part strict, or none, or wrap it yourself)",
                    p.logical
                ));
            }
            body.push_str("(function(){\n");
        }
        lines.push(body.matches('\n').count() as u32);
        body.push_str(&p.text);
        if wrap {
            body.push_str("\n}).call(this);");
        }
    }
    Ok((body, lines))
}

/// Where joining classic scripts changes what a part sees while it loads: part `reader` reads
/// a global that the later part `declarer` declares with a hoisting declaration (`var`,
/// `function`). Separate `<script>`s would throw a ReferenceError there (or see what an
/// earlier script set); one joined script finds the later declaration hoisted. Each finding
/// is (reader, name, declarer).
pub(crate) fn hoisted_across<'a>(
    parts: &[(&'a str, Option<&'a PageNames>)],
) -> Vec<(&'a str, &'a str, &'a str)> {
    let mut found = Vec::new();
    for (k, (reader, names)) in parts.iter().enumerate() {
        let Some(names) = names else { continue };
        // What an earlier part (or this one) declares is there either way.
        let declared_before = |name: &str| {
            parts[..=k]
                .iter()
                .any(|(_, n)| n.is_some_and(|n| n.hoisted.contains(name)))
        };
        for (declarer, later) in &parts[k + 1..] {
            let Some(later) = later else { continue };
            for name in names.reads.intersection(&later.hoisted) {
                if !declared_before(name) {
                    found.push((*reader, name.as_str(), *declarer));
                }
            }
        }
    }
    found
}

/// One source map for a bundle from its parts' maps (each already true for the part's text),
/// each moved to the line its part starts on, its source named by its path from the bundle.
///
/// # Errors
/// A part's map that cannot be read.
pub(crate) fn merge_maps(bundle: &str, parts: &[(u32, &str, String)]) -> Result<String, String> {
    let mut merged = parcel_sourcemap::SourceMap::new("");
    for (line, logical, json) in parts {
        let renamed = rename_sources(json, &crate::refs::relative_url(bundle, logical))?;
        let mut map =
            parcel_sourcemap::SourceMap::from_json("", &renamed).map_err(|e| format!("{e:?}"))?;
        merged
            .add_sourcemap(&mut map, i64::from(*line))
            .map_err(|e| format!("{e:?}"))?;
    }
    merged.to_json(None).map_err(|e| format!("{e:?}"))
}

/// `outer` (generated text -> an intermediate text) followed through `inner` (that
/// intermediate text -> the sources): one map from the generated text to the sources.
///
/// # Errors
/// A map that cannot be read.
pub(crate) fn chain_maps(outer: &str, inner: &str) -> Result<String, String> {
    let mut outer =
        parcel_sourcemap::SourceMap::from_json("", outer).map_err(|e| format!("{e:?}"))?;
    let mut inner =
        parcel_sourcemap::SourceMap::from_json("", inner).map_err(|e| format!("{e:?}"))?;
    outer.extends(&mut inner).map_err(|e| format!("{e:?}"))?;
    outer.to_json(None).map_err(|e| format!("{e:?}"))
}

/// The map with its one source renamed (parts in different folders may share a file name).
fn rename_sources(json: &str, name: &str) -> Result<String, String> {
    let mut v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    if let Some(sources) = v.get_mut("sources").and_then(|s| s.as_array_mut()) {
        for s in sources.iter_mut() {
            *s = serde_json::Value::String(name.to_owned());
        }
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(logical: &str, text: &str, strict: bool, globals: bool) -> Part<'static> {
        Part {
            logical: Box::leak(logical.to_owned().into_boxed_str()),
            text: text.into(),
            script: Some(Script {
                module: false,
                strict,
                globals,
            }),
        }
    }

    #[test]
    fn scripts_are_separated_so_a_missing_semicolon_cannot_join_them() {
        let (body, lines) = join(
            false,
            &[
                part("a.js", "var a=1", false, true),
                part("b.js", "(function(){})()", false, false),
            ],
        )
        .unwrap();
        assert_eq!(body, "var a=1\n;\n(function(){})()");
        assert_eq!(lines, [0, 2]);
    }

    #[test]
    fn a_strict_part_among_sloppy_ones_gets_a_function_of_its_own() {
        let (body, lines) = join(
            false,
            &[
                part("s.js", "\"use strict\";go()", true, false),
                part("t.js", "x=1", false, false),
            ],
        )
        .unwrap();
        assert_eq!(
            body,
            "(function(){\n\"use strict\";go()\n}).call(this);\n;\nx=1"
        );
        assert_eq!(lines, [1, 4]);
        let e = join(
            false,
            &[
                part("s.js", "\"use strict\";var g=1", true, true),
                part("t.js", "x=1", false, false),
            ],
        )
        .unwrap_err();
        assert!(
            e.contains("`s.js` is in strict mode and declares globals"),
            "{e}"
        );
    }

    #[test]
    fn reads_of_a_later_part_s_hoisted_names_are_found() {
        let names = |reads: &[&str], hoisted: &[&str]| PageNames {
            reads: reads.iter().map(|s| s.to_string()).collect(),
            hoisted: hoisted.iter().map(|s| s.to_string()).collect(),
        };
        let a = names(&["later", "jQuery", "shared"], &["shared"]);
        let b = names(&[], &["later", "shared"]);
        let found = hoisted_across(&[("a.js", Some(&a)), ("b.js", Some(&b))]);
        assert_eq!(found, [("a.js", "later", "b.js")]);
        assert!(hoisted_across(&[("b.js", Some(&b)), ("a.js", Some(&a))]).is_empty());
    }

    #[test]
    fn all_strict_parts_are_joined_as_they_are() {
        let (body, _) = join(
            false,
            &[
                part("a.js", "\"use strict\";a()", true, true),
                part("b.js", "\"use strict\";b()", true, false),
            ],
        )
        .unwrap();
        assert_eq!(body, "\"use strict\";a()\n;\n\"use strict\";b()");
    }
}

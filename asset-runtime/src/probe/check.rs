//! Whether a `manifest.json` fetched from the CDN is this build's: [`ManifestCheck`]. Pure
//! (no I/O): the same answer for the runtime's probe and for a deploy script's wait.

use serde_json::Value;

use crate::Assets;
use crate::state::Reason;

/// What a CDN must serve for this build: its manifest `id`, or every asset at the same hashed
/// path with the same bytes (a later build that kept them all serves this one too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestCheck {
    id: String,
    assets: Vec<Expected>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    logical: String,
    path: String,
    sha256: String,
}

impl ManifestCheck {
    /// The check for the assets compiled into this binary.
    pub fn from_assets(assets: &Assets) -> ManifestCheck {
        ManifestCheck {
            id: assets.manifest_id().to_owned(),
            assets: assets
                .iter()
                .map(|a| Expected {
                    logical: a.path().to_owned(),
                    path: a.hashed_path().to_owned(),
                    sha256: a.sha256().to_owned(),
                })
                .collect(),
        }
    }

    /// A check that accepts only the manifest with this `id`.
    pub fn from_id(id: impl Into<String>) -> ManifestCheck {
        ManifestCheck {
            id: id.into(),
            assets: Vec::new(),
        }
    }

    /// The check for a build's `manifest.json` (what publish wrote): its id, or all its assets.
    ///
    /// # Errors
    /// Not a manifest: not JSON, no string `id`, or an asset without `path` or `sha256`.
    pub fn from_manifest_json(bytes: &[u8]) -> Result<ManifestCheck, String> {
        let (id, assets) = parse(bytes)?;
        let mut expected = Vec::new();
        for (logical, e) in assets {
            let field = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| format!("asset {logical:?} has no string {k:?}"))
            };
            expected.push(Expected {
                path: field("path")?,
                sha256: field("sha256")?,
                logical: logical.clone(),
            });
        }
        Ok(ManifestCheck {
            id,
            assets: expected,
        })
    }

    /// The manifest id this check expects.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Judges a fetched `manifest.json`: the id of the build it names when that build serves
    /// this one, else why not ([`Reason::OtherBuild`], or [`Reason::Invalid`]).
    ///
    /// # Errors
    /// The manifest is another build's without every asset of this one, or not a manifest.
    pub fn judge(&self, manifest_json: &[u8]) -> Result<String, Reason> {
        let invalid = |error| Reason::Invalid { error };
        let (id, remote) = parse(manifest_json).map_err(invalid)?;
        if !self.id.is_empty() && id == self.id {
            return Ok(id);
        }
        if self.assets.is_empty() {
            return Err(Reason::OtherBuild {
                build: id,
                differs: format!("its id is not {}", self.id),
            });
        }
        for e in &self.assets {
            let theirs = remote.get(&e.logical);
            let field = |k: &str| theirs.and_then(|t| t.get(k)).and_then(Value::as_str);
            let differs = match theirs {
                None => format!("{} is missing", e.logical),
                Some(_) if field("path") != Some(&e.path) => {
                    format!("{} is not at {}", e.logical, e.path)
                }
                Some(_) if field("sha256") != Some(&e.sha256) => {
                    format!("{} has other bytes", e.logical)
                }
                Some(_) => continue,
            };
            return Err(Reason::OtherBuild { build: id, differs });
        }
        Ok(id)
    }
}

/// A manifest's id and assets table.
fn parse(bytes: &[u8]) -> Result<(String, serde_json::Map<String, Value>), String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if v.get("version").and_then(Value::as_u64) != Some(1) {
        return Err(format!("version {} is not 1", v["version"]));
    }
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or("no string \"id\"")?
        .to_owned();
    match v.get("assets") {
        Some(Value::Object(m)) => Ok((id, m.clone())),
        _ => Err("no \"assets\" object".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(id: &str, assets: &[(&str, &str, &str)]) -> Vec<u8> {
        let assets: serde_json::Map<String, Value> = assets
            .iter()
            .map(|(l, p, h)| {
                let e = serde_json::json!({"path": p, "sha256": h, "size": 1});
                ((*l).to_owned(), e)
            })
            .collect();
        serde_json::json!({"version": 1, "id": id, "assets": assets})
            .to_string()
            .into_bytes()
    }

    fn check(ours: &[u8], theirs: &[u8], expected: Result<&str, &str>) {
        let got = ManifestCheck::from_manifest_json(ours)
            .unwrap()
            .judge(theirs);
        let got = got.as_deref().map_err(ToString::to_string);
        assert_eq!(got, expected.map_err(str::to_owned));
    }

    #[test]
    fn this_build_or_one_that_serves_all_of_it() {
        let ours = manifest(
            "aa",
            &[("a.css", "a.1.css", "11"), ("b.js", "b.2.js", "22")],
        );
        check(&ours, &ours, Ok("aa"));
        let superset = manifest(
            "bb",
            &[
                ("a.css", "a.1.css", "11"),
                ("b.js", "b.2.js", "22"),
                ("c", "c.3", "33"),
            ],
        );
        check(&ours, &superset, Ok("bb"));
        let changed = manifest(
            "cc",
            &[("a.css", "a.1.css", "11"), ("b.js", "b.9.js", "99")],
        );
        check(
            &ours,
            &changed,
            Err("the CDN serves another build (cc): b.js is not at b.2.js"),
        );
        let fewer = manifest("dd", &[("b.js", "b.2.js", "22")]);
        check(
            &ours,
            &fewer,
            Err("the CDN serves another build (dd): a.css is missing"),
        );
        let same_path = manifest(
            "ee",
            &[("a.css", "a.1.css", "xx"), ("b.js", "b.2.js", "22")],
        );
        check(
            &ours,
            &same_path,
            Err("the CDN serves another build (ee): a.css has other bytes"),
        );
        check(
            &ours,
            b"<html>",
            Err("manifest.json is not a manifest: expected value at line 1 column 1"),
        );
    }

    #[test]
    fn an_id_alone_accepts_only_that_id() {
        let theirs = manifest("bb", &[]);
        assert_eq!(ManifestCheck::from_id("bb").judge(&theirs), Ok("bb".into()));
        let e = ManifestCheck::from_id("aa").judge(&theirs).unwrap_err();
        assert_eq!(e.code(), "other_build");
    }
}

//! Finding what the built binary embeds: build the package with
//! `cargo build --message-format=json` and take its build script's `out_dir` from cargo's
//! messages, so what is published is exactly what the binary references.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::Error;
use asset_manifest::{FILE_NAME, Manifest};

/// What publish reads of `cargo metadata --format-version 1 --no-deps` (the cargo_metadata
/// crate would turn on serde_json's `unbounded_depth`, so every crate above serde_json would
/// compile twice on a first publish: once for xtask, once for the app).
#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    /// `[workspace.metadata]`.
    #[serde(default, rename = "metadata")]
    workspace_metadata: serde_json::Value,
    target_directory: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    id: String,
    dependencies: Vec<Dependency>,
    #[serde(default)]
    metadata: serde_json::Value,
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    /// `null` for a normal dependency, else `"dev"` or `"build"`.
    kind: Option<String>,
}

/// The one message of `cargo build --message-format=json` publish needs.
#[derive(Deserialize)]
struct BuildScriptExecuted {
    reason: String,
    package_id: String,
    out_dir: PathBuf,
}

/// `cargo metadata` for the workspace around `dir` (default: the current directory).
fn metadata(dir: Option<&Path>) -> Result<Metadata, Error> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Error::Build(format!("running cargo metadata: {e}")))?;
    if !out.status.success() {
        return Err(Error::Build(format!(
            "cargo metadata failed ({})",
            out.status
        )));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Build(format!("reading cargo metadata's output: {e}")))
}

/// The package whose assets are published, and its settings.
#[derive(Debug, Clone)]
pub struct PackageInfo {
    /// The package's name.
    pub name: String,
    id: String,
    /// `[package.metadata.assets.publish]`, if any.
    pub settings: Option<toml::Table>,
    /// The workspace's target directory.
    pub target_dir: PathBuf,
    workspace: Option<PathBuf>,
}

/// A package's build output.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    /// The output tree: hashed files, variants and `manifest.json`.
    pub tree: PathBuf,
    /// The tree's `manifest.json`.
    pub manifest: Manifest,
}

/// Finds `package`, else `[workspace.metadata.assets] default-package`, else the one
/// workspace package that uses asset-build. `workspace` is a directory inside the workspace
/// (default: the current one).
///
/// # Errors
/// No such package, or no or several candidates.
pub fn package(workspace: Option<&Path>, package: Option<&str>) -> Result<PackageInfo, Error> {
    let meta = metadata(workspace)?;
    let members: Vec<&Package> = meta
        .packages
        .iter()
        .filter(|p| meta.workspace_members.contains(&p.id))
        .collect();
    let uses = |p: &&Package| {
        p.dependencies
            .iter()
            .any(|d| d.name == "asset-build" && d.kind.as_deref() == Some("build"))
    };
    let candidates: Vec<&Package> = members.iter().copied().filter(uses).collect();
    let default = meta
        .workspace_metadata
        .get("assets")
        .and_then(|a| a.get("default-package"))
        .and_then(|p| p.as_str());
    let pkg = match package.or(default) {
        Some(name) => members
            .iter()
            .copied()
            .find(|p| p.name.as_str() == name)
            .ok_or_else(|| {
                Error::Config(format!(
                    "no package `{name}` in the workspace (packages using asset-build: {})",
                    names(&candidates)
                ))
            })?,
        None => match candidates.as_slice() {
            [one] => one,
            [] => {
                return Err(Error::Config(
                    "no workspace package has asset-build in [build-dependencies]".into(),
                ));
            }
            many => {
                return Err(Error::Config(format!(
                    "several packages use asset-build, choose one with --package (or [workspace.metadata.assets] default-package): {}",
                    names(many)
                )));
            }
        },
    };
    let settings = pkg
        .metadata
        .get("assets")
        .and_then(|a| a.get("publish"))
        .map(|v| {
            toml::Table::try_from(v.clone())
                .map_err(|e| Error::Config(format!("[package.metadata.assets.publish]: {e}")))
        })
        .transpose()?;
    Ok(PackageInfo {
        name: pkg.name.to_string(),
        id: pkg.id.clone(),
        settings,
        target_dir: meta.target_directory.clone(),
        workspace: workspace.map(Path::to_path_buf),
    })
}

/// Builds the package with `cargo build --message-format=json` in `profile` and reads the
/// manifest from its build script's `out_dir`.
///
/// # Errors
/// A failed build, or no manifest in the output.
pub fn locate(pkg: &PackageInfo, profile: Option<&str>) -> Result<BuildOutput, Error> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--message-format=json-render-diagnostics",
        "-p",
        pkg.name.as_str(),
    ]);
    if let Some(p) = profile {
        cmd.args(["--profile", p]);
    }
    if let Some(dir) = &pkg.workspace {
        cmd.current_dir(dir);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Error::Build(format!("running cargo: {e}")))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut out_dir = None;
    // One JSON message per line; other messages (artifacts, rendered diagnostics) do not
    // have this shape and are passed over.
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Ok(bs) = serde_json::from_str::<BuildScriptExecuted>(&line)
            && bs.reason == "build-script-executed"
            && bs.package_id == pkg.id
        {
            out_dir = Some(bs.out_dir);
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::Build(format!("waiting for cargo: {e}")))?;
    if !status.success() {
        return Err(Error::Build(format!(
            "cargo build -p {} failed ({status})",
            pkg.name
        )));
    }
    let out_dir = out_dir.ok_or_else(|| {
        Error::Build(format!(
            "cargo reported no build-script output for {}",
            pkg.name
        ))
    })?;
    let tree = out_dir.join(asset_manifest::TREE);
    let path = tree.join(FILE_NAME);
    let bytes = std::fs::read(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let manifest = Manifest::from_json(&bytes)
        .map_err(|e| Error::Build(format!("{}: {e}", path.display())))?;
    Ok(BuildOutput { tree, manifest })
}

fn names(pkgs: &[&Package]) -> String {
    if pkgs.is_empty() {
        return "none".into();
    }
    pkgs.iter()
        .map(|p| p.name.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) fn test_package(name: &str, settings: Option<toml::Table>, target: &str) -> PackageInfo {
    PackageInfo {
        name: name.to_owned(),
        id: name.to_owned(),
        settings,
        target_dir: target.into(),
        workspace: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    /// This workspace, read by a real `cargo metadata`: two packages use asset-build, and
    /// `[workspace.metadata.assets] default-package` chooses between them.
    #[test]
    fn the_workspace_default_package_is_chosen() {
        let pkg = package(Some(workspace()), None).unwrap();
        assert_eq!(pkg.name, "example-app");
        assert!(pkg.id.contains("example-app"), "{}", pkg.id);
        assert!(pkg.target_dir.is_absolute());
    }

    #[test]
    fn a_named_package_wins_and_an_unknown_one_is_named() {
        let pkg = package(Some(workspace()), Some("rerun-probe")).unwrap();
        assert_eq!(pkg.name, "rerun-probe");
        let err = package(Some(workspace()), Some("no-such-app")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("no-such-app"), "{msg}");
        assert!(
            msg.contains("example-app") && msg.contains("rerun-probe"),
            "{msg}"
        );
    }

    #[test]
    fn only_the_build_script_message_of_the_package_counts() {
        let line = r#"{"reason":"build-script-executed","package_id":"path+file:///w/app#0.1.0","linked_libs":[],"linked_paths":[],"cfgs":[],"env":[],"out_dir":"/w/target/debug/build/app-1/out"}"#;
        let bs: BuildScriptExecuted = serde_json::from_str(line).unwrap();
        assert_eq!(bs.reason, "build-script-executed");
        assert_eq!(bs.out_dir, Path::new("/w/target/debug/build/app-1/out"));
        let artifact =
            r#"{"reason":"compiler-artifact","package_id":"x","target":{},"filenames":[]}"#;
        assert!(serde_json::from_str::<BuildScriptExecuted>(artifact).is_err());
    }
}

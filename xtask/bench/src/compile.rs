//! Cold compile time of a small axum app that uses asset-build from its `build.rs`, by
//! profile setting (and with asset-publish too, as an app with its own xtask has it), beside the same app without asset-build. Each case is
//! a fresh package under `target/bench/compile/<case>` with its own target directory.
//! Then a newcomer's first run: a fresh clone of this workspace (its last commit), an empty
//! target directory, `cargo xtask publish` to completion, beside the same for a baseline: an
//! older commit (`--against REV`, so both are measured on the same day) or, by default, this
//! commit with the previous profiles (every dependency at opt-level 2).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};

use super::{Figure, figure, secs};

/// The crates whose speed a build script feels: the minifiers, the hash, the compressors.
const HOT: &[&str] = &[
    "asset-build",
    "swc_ecma_minifier",
    "swc_ecma_parser",
    "swc_ecma_codegen",
    "swc_ecma_transforms_base",
    "swc_ecma_utils",
    "swc_ecma_visit",
    "swc_ecma_ast",
    "swc_common",
    "lightningcss",
    "cssparser",
    "parcel_sourcemap",
    "sha2",
    "zlib-rs",
    "mbrotli",
];

struct Case {
    name: &'static str,
    asset_build: bool,
    /// asset-publish as well (an xtask's dependency in the same workspace).
    publish: bool,
    profile: String,
}

fn cases() -> Vec<Case> {
    let hot: String = HOT
        .iter()
        .map(|p| format!("[profile.dev.package.{p}]\nopt-level = 2\n"))
        .collect();
    vec![
        Case {
            name: "without asset-build",
            asset_build: false,
            publish: false,
            profile: String::new(),
        },
        Case {
            name: "default (cargo's dev profile)",
            asset_build: true,
            publish: false,
            profile: String::new(),
        },
        Case {
            name: "hot crates at opt-level 2 (README's advice)",
            asset_build: true,
            publish: false,
            profile: hot,
        },
        Case {
            name: "build-override opt-level 3",
            asset_build: true,
            publish: false,
            profile: "[profile.dev.build-override]\nopt-level = 3\n".into(),
        },
        Case {
            name: "with asset-publish (for an xtask)",
            asset_build: true,
            publish: true,
            profile: String::new(),
        },
    ]
}

/// Per case: the cold compile, then (asset-build cases) the build script's run over the
/// corpus with that profile, cold cache: what the profile costs and what it buys.
pub fn bench(dir: &Path, corpus: &Path) -> anyhow::Result<Vec<Figure>> {
    let root = crate::workspace_root();
    let lock = std::fs::read(root.join("Cargo.lock"))?;
    let mut times = Vec::new();
    let mut script_times = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        let app = dir.join(format!("compile/{i}"));
        let _ = std::fs::remove_dir_all(&app);
        write_app(&app, case, &root)?;
        // The workspace's lock file: the same versions, which build on this toolchain.
        std::fs::write(app.join("Cargo.lock"), &lock)?;
        // The build script's own run, on the app's two assets, is part of this time.
        times.push((case.name, timed_build(&app, "cold compile", case.name)?));
        if case.asset_build {
            // Point the app at the corpus: cargo reruns the build script (and rebuilds the
            // app, whose asset! must name a corpus file: the names are checked).
            let main = std::fs::read_to_string(app.join("src/main.rs"))?;
            std::fs::write(
                app.join("src/main.rs"),
                main.replace("css/app.css", "normalize.css/normalize.css"),
            )?;
            let toml = std::fs::read_to_string(app.join("Cargo.toml"))?;
            let dir = corpus.display().to_string().replace('\\', "/");
            std::fs::write(
                app.join("Cargo.toml"),
                format!("{toml}\n[package.metadata.assets]\ndir = \"{dir}\"\n"),
            )?;
            let t = timed_build(&app, "build script over the corpus", case.name)?;
            script_times.push((case.name, t));
        }
        let _ = std::fs::remove_dir_all(app.join("target"));
    }
    let base = times[0].1;
    let mut figures: Vec<Figure> = times
        .iter()
        .skip(1)
        .map(|&(name, t)| {
            figure(
                format!("cold compile, app with asset-build, {name}"),
                t,
                "s",
                "the same app without asset-build",
                Some(base),
                if name.starts_with("default") {
                    "report; < 240 s"
                } else {
                    "report"
                },
            )
        })
        .collect();
    let fastest = script_times
        .iter()
        .map(|&(_, t)| t)
        .fold(f64::INFINITY, f64::min);
    figures.extend(script_times.iter().map(|&(name, t)| {
        figure(
            format!("then its build script over the corpus (cold cache), {name}"),
            t,
            "s",
            "the fastest profile here",
            Some(fastest),
            "report",
        )
    }));
    Ok(figures)
}

/// The profile section this workspace had before the first-run work: every dependency
/// optimised. Replaces everything from the `# Profiles:` line of the root Cargo.toml.
const PREVIOUS_PROFILES: &str = "\
[profile.dev]
debug = \"line-tables-only\"
[profile.dev.build-override]
debug = \"line-tables-only\"
[profile.dev.package.\"*\"]
opt-level = 2
debug-assertions = false
overflow-checks = false
[profile.dev.package.asset-build]
opt-level = 2
[profile.dev.package.asset-runtime]
opt-level = 2
";

/// What a first run is measured beside.
pub enum FirstRunBaseline {
    /// This commit with the profile section it had before the first-run work.
    PreviousProfiles,
    /// Another commit of this repository (`--against REV`), measured the same day.
    Revision(String),
}

/// One fresh clone's first `cargo xtask publish`.
struct FirstRun {
    secs: f64,
    /// The `Compiling` lines cargo printed: the crates (and build scripts) compiled.
    units: usize,
}

/// A fresh clone's first `cargo xtask publish` (this commit, this workspace's profiles), then
/// the same for the baseline, one after the other: the time and the crates compiled.
pub fn first_publish(dir: &Path, baseline: &FirstRunBaseline) -> anyhow::Result<Vec<Figure>> {
    let ours = first_run(dir, None, "this commit")?;
    let (theirs, what) = match baseline {
        FirstRunBaseline::PreviousProfiles => (
            first_run(dir, Some(baseline), "the previous profiles")?,
            "the same with the previous profiles (every dependency at opt-level 2)".to_string(),
        ),
        FirstRunBaseline::Revision(rev) => (
            first_run(dir, Some(baseline), rev)?,
            format!("commit {rev}, measured in the same run"),
        ),
    };
    Ok(vec![
        figure(
            "fresh clone, empty target: first `cargo xtask publish` to completion",
            ours.secs,
            "s",
            what.clone(),
            Some(theirs.secs),
            "<= 300 s",
        ),
        figure(
            "fresh clone, empty target: crates compiled by the first `cargo xtask publish`",
            ours.units as f64,
            "units",
            what,
            Some(theirs.units as f64),
            "report",
        ),
    ])
}

/// Clones this repository (its last commit, or as `baseline` says) into an empty folder with
/// its own target directory and runs `cargo xtask publish` to completion.
fn first_run(
    dir: &Path,
    baseline: Option<&FirstRunBaseline>,
    what: &str,
) -> anyhow::Result<FirstRun> {
    let root = crate::workspace_root();
    let clone = dir.join("compile/clone");
    let _ = std::fs::remove_dir_all(&clone);
    let git = |args: &[&str], cwd: &Path| -> anyhow::Result<()> {
        let ok = Command::new("git")
            .args(args)
            .current_dir(cwd)
            .status()
            .context("running git")?
            .success();
        if !ok {
            bail!("git {} failed", args.join(" "));
        }
        Ok(())
    };
    let (root_s, clone_s) = (root.display().to_string(), clone.display().to_string());
    git(&["clone", "--quiet", &root_s, &clone_s], &root)?;
    if let Some(FirstRunBaseline::Revision(rev)) = baseline {
        git(&["checkout", "--quiet", rev], &clone)?;
    }
    if let Some(FirstRunBaseline::PreviousProfiles) = baseline {
        let toml = std::fs::read_to_string(clone.join("Cargo.toml"))?;
        let at = toml
            .find("# Profiles:")
            .context("no `# Profiles:` line in Cargo.toml")?;
        std::fs::write(
            clone.join("Cargo.toml"),
            format!("{}{PREVIOUS_PROFILES}", &toml[..at]),
        )?;
    }
    println!("fresh clone, first cargo xtask publish: {what}");
    let log = dir.join("compile/first-run.log");
    let start = Instant::now();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["xtask", "publish"])
        .current_dir(&clone)
        .env("CARGO_TARGET_DIR", clone.join("target"))
        .env("CARGO_NET_OFFLINE", "true")
        .env_remove("RUSTFLAGS")
        .stdout(std::process::Stdio::null())
        // Both cargos (xtask's and the app's build) print their progress here.
        .stderr(std::fs::File::create(&log)?)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!(
            "cargo xtask publish in {} failed; its output is in {}",
            clone.display(),
            log.display()
        );
    }
    let secs = secs(start.elapsed());
    let units = std::fs::read_to_string(&log)?
        .lines()
        .filter(|l| l.trim_start().starts_with("Compiling "))
        .count();
    println!("  {secs:.1} s, {units} crates compiled");
    let _ = std::fs::remove_dir_all(&clone);
    Ok(FirstRun { secs, units })
}

/// `cargo build` of the app, timed and printed as it goes.
fn timed_build(app: &Path, what: &str, case: &str) -> anyhow::Result<f64> {
    println!("{what}: {case}");
    let start = Instant::now();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--offline", "--quiet"])
        .current_dir(app)
        .env("CARGO_TARGET_DIR", app.join("target"))
        .env_remove("RUSTFLAGS")
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("the compile of {} failed", app.display());
    }
    let t = secs(start.elapsed());
    println!("  {t:.1} s");
    Ok(t)
}

fn write_app(app: &Path, case: &Case, root: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(app.join("src"))?;
    std::fs::create_dir_all(app.join("assets/css"))?;
    std::fs::create_dir_all(app.join("assets/js"))?;
    let path = |p: &str| root.join(p).display().to_string().replace('\\', "/");
    let mut toml = String::from(
        "[package]\nname = \"bench-app\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [workspace]\n\n[dependencies]\n\
         axum = { version = \"0.8\", default-features = false, features = [\"tokio\", \"http1\"] }\n\
         tokio = { version = \"1\", features = [\"rt-multi-thread\", \"macros\", \"net\"] }\n",
    );
    let main = if case.asset_build {
        toml.push_str(&format!(
            "asset-runtime = {{ path = \"{}\" }}\n\n[build-dependencies]\nasset-build = {{ path = \"{}\" }}\n",
            path("asset-runtime"),
            path("asset-build"),
        ));
        if case.publish {
            toml.push_str(&format!(
                "asset-publish = {{ path = \"{}\" }}\n",
                path("asset-publish")
            ));
        }
        std::fs::write(
            app.join("build.rs"),
            "fn main() {\n    asset_build::build_script();\n}\n",
        )?;
        std::fs::write(
            app.join("assets/css/app.css"),
            ".page { color: #336699; margin: 0px; }\n",
        )?;
        std::fs::write(
            app.join("assets/js/app.js"),
            "export function greet(name) { return 'hello ' + name; }\n",
        )?;
        "asset_runtime::include_assets!();\n\n#[tokio::main]\nasync fn main() {\n    let page = format!(\"<link rel=stylesheet href={}>\", asset!(\"css/app.css\"));\n    let app = axum::Router::new()\n        .route(\"/\", axum::routing::get(move || async move { axum::response::Html(page) }))\n        .nest_service(\"/static\", ASSETS.service());\n    let l = tokio::net::TcpListener::bind(\"127.0.0.1:0\").await.unwrap();\n    axum::serve(l, app).await.unwrap();\n}\n"
    } else {
        "#[tokio::main]\nasync fn main() {\n    let page = String::from(\"<link rel=stylesheet href=/static/css/app.css>\");\n    let app = axum::Router::new()\n        .route(\"/\", axum::routing::get(move || async move { axum::response::Html(page) }));\n    let l = tokio::net::TcpListener::bind(\"127.0.0.1:0\").await.unwrap();\n    axum::serve(l, app).await.unwrap();\n}\n"
    };
    toml.push('\n');
    toml.push_str(&case.profile);
    std::fs::write(app.join("Cargo.toml"), toml)?;
    std::fs::write(app.join("src/main.rs"), main)?;
    Ok(())
}

//! A built module bundle behaves as its source modules, in node: each case folder of
//! `fixtures/modules` has an entry `main.mjs`; the bundle `bundle.mjs = [main.mjs]` is built
//! and both run in node, and what they print must be the same (exports and their liveness,
//! evaluation order, what throws, `import.meta`, `this`). A case node cannot run from source
//! (TypeScript, JSX) is compiled by the reference compiler, esbuild from npm (`.ci/run`
//! installs it into `target/tools/esbuild`), and what that prints is the reference; its
//! `expected.txt` says the same, checked by hand; a case the build must refuse has
//! `expect-error.txt`, text the error must contain; a case with `observe.mjs` runs that
//! instead, importing the entry (or the bundle in its place) to see its exports from outside. Bare imports reach the fake packages of
//! `fixtures/modules/node_modules` (linked beside the built bundle).

use std::path::Path;

use asset_build::{Config, Jsx};
use tests::fixture;

/// Cases known to differ, by folder name (none: a case that starts to differ fails the test).
const KNOWN_DIFFERENT: &[&str] = &[];

/// What node printed, or how it failed.
fn run_node(dir: &Path, entry: &str) -> String {
    let out = std::process::Command::new("node")
        .arg(entry)
        .current_dir(dir)
        .output()
        .expect("node runs (the CI script installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        stdout
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr.lines().find(|l| l.contains("Error")).unwrap_or("");
        format!("{stdout}<exit {:?}: {why}>\n", out.status.code())
    }
}

/// How one case went: `None` when source and bundle agree.
fn check(case: &Path) -> Option<String> {
    let out = tempfile::tempdir().unwrap();
    let config = Config::new(case, out.path())
        .jsx(Jsx::Automatic {
            import_source: "preact".into(),
        })
        .bundle("bundle.mjs", ["main.mjs"]);
    let built = asset_build::run(&config);
    if let Ok(expected) = std::fs::read_to_string(case.join("expect-error.txt")) {
        return match built {
            Err(e) if format!("{e:#}").contains(expected.trim_end()) => None,
            Err(e) => Some(format!("refused otherwise: {e:#}")),
            Ok(_) => Some("built, but must be refused".into()),
        };
    }
    let manifest = match built {
        Ok(built) => built.manifest,
        Err(e) => return Some(format!("the build failed: {e:#}")),
    };
    std::os::unix::fs::symlink(
        fixture("modules/node_modules"),
        out.path().join("node_modules"),
    )
    .unwrap();
    let bundle = &manifest.assets["bundle.mjs"].path;
    // `observe.mjs` imports the entry, to see its exports from outside.
    let entry = match std::fs::read_to_string(case.join("observe.mjs")) {
        Ok(observe) => {
            let observe = observe.replace("\"./main.mjs\"", &format!("\"./{bundle}\""));
            std::fs::write(out.path().join("observe.mjs"), observe).unwrap();
            "observe.mjs"
        }
        Err(_) => bundle.as_str(),
    };
    let got = run_node(out.path(), entry);
    let want = match std::fs::read_to_string(case.join("expected.txt")) {
        Ok(text) => {
            let reference = esbuild(case, out.path());
            if reference != text {
                return Some(format!(
                    "esbuild's build printed:\n{reference}but expected.txt says:\n{text}"
                ));
            }
            reference
        }
        Err(_) if entry == "observe.mjs" => run_node(case, "observe.mjs"),
        Err(_) => run_node(case, "main.mjs"),
    };
    (got != want).then(|| {
        let code = std::fs::read_to_string(out.path().join(bundle)).unwrap_or_default();
        format!("source printed:\n{want}bundle printed:\n{got}bundle:\n{code}")
    })
}

/// The case compiled by esbuild (TypeScript, JSX with the same runtime, bare imports kept)
/// into `out`, run in node: what the source means, by a compiler we did not write.
fn esbuild(case: &Path, out: &Path) -> String {
    let bin = std::env::var_os("ESBUILD_BIN").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/tools/esbuild/node_modules/.bin/esbuild")
        },
        std::path::PathBuf::from,
    );
    assert!(
        bin.exists(),
        "esbuild is missing: run `bash .ci/run` (it runs `npm install --prefix target/tools/esbuild esbuild@0.24.2`), or set ESBUILD_BIN"
    );
    let built = std::process::Command::new(&bin)
        .arg(case.join("main.mjs"))
        .args([
            "--bundle",
            "--format=esm",
            "--platform=node",
            "--packages=external",
            "--jsx=automatic",
            "--jsx-import-source=preact",
            "--log-level=error",
        ])
        .arg(format!("--outfile={}", out.join("esbuild.mjs").display()))
        .output()
        .expect("esbuild runs");
    assert!(
        built.status.success(),
        "esbuild: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    run_node(out, "esbuild.mjs")
}

#[test]
fn a_built_module_bundle_behaves_as_its_source_in_node() {
    let root = fixture("modules");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("main.mjs").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 14, "the cases are there: {cases:?}");
    let mut differing = Vec::new();
    let mut report = String::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(why) = check(case) {
            report.push_str(&format!("== {name}\n{why}\n"));
            differing.push(name);
        }
    }
    assert_eq!(differing, KNOWN_DIFFERENT, "\n{report}");
}

//! A built module bundle behaves as its source modules, in node: each case folder of
//! `fixtures/modules` has an entry `main.mjs`; the bundle `bundle.mjs = [main.mjs]` is built
//! and both run in node, and what they print must be the same (exports and their liveness,
//! evaluation order, what throws, `import.meta`, `this`). A case node cannot run from source
//! (TypeScript, JSX) has its hand-checked `expected.txt`; a case the build must refuse has
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
        Ok(text) => text,
        Err(_) if entry == "observe.mjs" => run_node(case, "observe.mjs"),
        Err(_) => run_node(case, "main.mjs"),
    };
    (got != want).then(|| {
        let code = std::fs::read_to_string(out.path().join(bundle)).unwrap_or_default();
        format!("source printed:\n{want}bundle printed:\n{got}bundle:\n{code}")
    })
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

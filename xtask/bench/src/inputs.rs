//! What the bench measures with: the generated tree, the corpora (ours from
//! `shared/corpus/fetch.sh`, popular npm packages), esbuild from npm, and tools on `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::bail;

/// The generated tree (200 files with `quick`, else 2,000), made once.
pub(crate) fn ensure_tree(dir: &Path, quick: bool) -> anyhow::Result<PathBuf> {
    let tree = dir.join(if quick { "tree-200" } else { "tree-2000" });
    if !tree.join(".complete").exists() {
        let (n, bytes) = if quick {
            (200, 5_000_000)
        } else {
            (2000, 50_000_000)
        };
        println!(
            "generating {} ({n} files, about {} MB)",
            tree.display(),
            bytes / 1_000_000
        );
        generate_tree(&tree, n, bytes)?;
    }
    Ok(tree)
}

pub(crate) fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

pub(crate) fn ensure_esbuild(dir: &Path) -> anyhow::Result<PathBuf> {
    let bin = dir.join("node_modules/.bin/esbuild");
    if !bin.exists() {
        println!("installing esbuild into {} (npm)", dir.display());
        let ok = Command::new("npm")
            .args(["install", "--silent", "--no-save", "--prefix"])
            .arg(dir)
            .arg("esbuild@0.28")
            .status();
        if !ok.is_ok_and(|s| s.success()) {
            bail!(
                "could not install esbuild with npm into {}: is npm installed and the registry reachable?",
                dir.display()
            );
        }
    }
    Ok(bin)
}

pub(crate) fn ensure_corpus(dir: &Path) -> anyhow::Result<PathBuf> {
    let corpus = dir.join("peers/corpus");
    if !corpus.join("MANIFEST.tsv").exists() {
        let script = crate::workspace_root().join("../shared/corpus/fetch.sh");
        println!("fetching the corpus with {}", script.display());
        let ok = Command::new("bash")
            .arg(&script)
            .arg(dir.join("peers"))
            .status();
        if !ok.is_ok_and(|s| s.success()) {
            bail!(
                "{} failed: the corpus is needed for the bench",
                script.display()
            );
        }
    }
    // The pipeline's input: the packages' files, without the fetch script's own listings.
    copy_packages(&corpus, &dir.join("corpus-input"), &[])
}

/// Every package folder of `from` but those in `skip`, copied into `to` unless it is there:
/// a pipeline input that no run of ours writes into.
pub(crate) fn copy_packages(from: &Path, to: &Path, skip: &[&str]) -> anyhow::Result<PathBuf> {
    if !to.exists() {
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let name = entry.file_name();
            if entry.file_type()?.is_dir() && !skip.iter().any(|s| name == *s) {
                tests::copy_tree(&entry.path(), &to.join(&name));
            }
        }
    }
    Ok(to.to_path_buf())
}

/// The packages `cargo xtask corpus` builds (target/corpus/in, prepared by running it when
/// missing) without lodash-es, whose 640 one-function modules test the file count, as the
/// 2,000-file tree does: about 180 files and 50 MB, mostly JS, source maps and fonts.
pub(crate) fn ensure_npm_corpus(dir: &Path) -> anyhow::Result<PathBuf> {
    let prepared = crate::target_dir().join("corpus/in");
    if !prepared.is_dir() {
        println!("preparing the npm corpus with `cargo xtask corpus`");
        let ok = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["run", "--quiet", "--package", "xtask-build", "--", "corpus"])
            .current_dir(crate::workspace_root())
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !prepared.is_dir() {
            bail!(
                "`cargo xtask corpus` did not prepare {}: is npm installed and the registry reachable?",
                prepared.display()
            );
        }
    }
    copy_packages(&prepared, &dir.join("npm-corpus-input"), &["lodash-es"])
}

/// A deterministic tree of `n` files of about `bytes` in all: 70% under 8 KB; CSS that
/// references images, ES modules that import earlier ones, images and fonts (incompressible).
pub(crate) fn generate_tree(root: &Path, n: usize, bytes: usize) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(root);
    for d in ["css", "js", "img", "fonts"] {
        std::fs::create_dir_all(root.join(d))?;
    }
    let mut rng = rng(0x9e3779b97f4a7c15);
    let large_total = bytes as f64 * 0.88;
    let n_large = n - n * 7 / 10;
    let images = n / 5;
    for i in 0..n {
        let small = i % 10 < 7;
        let size = if small {
            500 + (rng() % 7_400) as usize
        } else {
            (large_total / n_large as f64 * (0.5 + (rng() % 1000) as f64 / 1000.0)) as usize
        };
        let (dir, ext, body) = match i % 10 {
            0..=3 => ("css", "css", css_body(i, size, images, &mut rng)),
            4..=6 => ("js", "mjs", js_body(i, size, &mut rng)),
            7 | 8 => ("img", "png", noise(size, &mut rng)),
            _ => ("fonts", "woff2", noise(size, &mut rng)),
        };
        std::fs::write(root.join(dir).join(format!("f{i:04}.{ext}")), body)?;
    }
    std::fs::write(root.join(".complete"), "")?;
    Ok(())
}

/// xorshift64: the same stream on every machine.
pub(crate) fn rng(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

pub(crate) fn noise(size: usize, rng: &mut impl FnMut() -> u64) -> Vec<u8> {
    (0..size).map(|_| rng() as u8).collect()
}

pub(crate) fn css_body(i: usize, size: usize, n: usize, rng: &mut impl FnMut() -> u64) -> Vec<u8> {
    let mut s = format!("/* generated stylesheet {i} */\n");
    let mut k = 0;
    while s.len() < size {
        let img = (rng() as usize % (n / 2).max(1)) * 10 + 7;
        s.push_str(&format!(
            ".block-{i}-{k} {{\n  color: #{:06x};\n  margin: {}px {}px;\n  padding: 0px 0px 0px 0px;\n  background: url(\"../img/f{img:04}.png\") no-repeat;\n  transition: opacity 0.3s ease-in-out;\n}}\n.block-{i}-{k}:hover {{ color: #ffffff; }}\n",
            rng() % 0xffffff,
            rng() % 40,
            rng() % 40
        ));
        k += 1;
    }
    s.into_bytes()
}

pub(crate) fn js_body(i: usize, size: usize, rng: &mut impl FnMut() -> u64) -> Vec<u8> {
    let mut s = format!("// generated module {i}\n");
    if i >= 10 {
        let dep = (rng() as usize % (i / 10)) * 10 + 4;
        s.push_str(&format!(
            "import {{ helper{dep} }} from \"./f{dep:04}.mjs\";\n"
        ));
    }
    s.push_str(&format!(
        "export function helper{i}(value) {{ return value * 2 + {i}; }}\n"
    ));
    let mut k = 0;
    while s.len() < size {
        s.push_str(&format!(
            "export function compute_{i}_{k}(first, second) {{\n  const total = first + second * {};\n  if (total > {}) {{\n    return helper{i}(total) - first;\n  }}\n  const items = [first, second, total].map((item) => item * 3);\n  return items.reduce((sum, item) => sum + item, 0);\n}}\n",
            rng() % 100,
            rng() % 1000
        ));
        k += 1;
    }
    s.into_bytes()
}

//! Stage 2 for Sass: grass compiles a `.scss` or `.sass` entry in process into CSS, which
//! then goes through the CSS transform like any stylesheet. `@use`, `@forward` and `@import`
//! resolve relative to the importing file, then through the load paths; every file grass
//! reads is recorded, so the cache (and the next run) know which partials an entry depends on.
//! Partials (`_name.scss`) are inputs only: the scan does not ship them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::ProblemKind;
use crate::error::{Pos, Problem};
use crate::transform::Input;

/// A compiled Sass entry.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub css: String,
    /// Every file read besides the entry (partials, load-path files), as real paths, with
    /// the sha256 of the bytes read; and every file grass looked for and did not find.
    pub inputs: Vec<Input>,
}

/// Compiles the entry at `path` (shown as `display` in messages). `root` is the asset
/// directory, used to name partials in messages as the user wrote the tree.
///
/// # Errors
/// The first Sass error, at `path:line:col` of the file it is in (an imported partial
/// included), or an unreadable input.
pub(crate) fn compile(
    display: &str,
    path: &Path,
    root: &Path,
    load_paths: &[PathBuf],
) -> Result<Compiled, Problem> {
    let fs = RecordingFs::default();
    let indented = crate::scan::extension(display).eq_ignore_ascii_case("sass");
    let options = grass_compiler::Options::default()
        .fs(&fs)
        .quiet(true)
        .style(grass_compiler::OutputStyle::Expanded)
        .input_syntax(if indented {
            grass_compiler::InputSyntax::Sass
        } else {
            grass_compiler::InputSyntax::Scss
        })
        .load_paths(load_paths);
    // grass has a few unfinished paths that panic (`todo!()`): a problem, never a crash.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        grass_compiler::from_path(path, &options)
    }));
    let css = match result {
        Ok(Ok(css)) => css,
        Ok(Err(e)) => return Err(problem(*e, display, path, root)),
        Err(_) => {
            return Err(Problem::new(display.to_owned(), None, ProblemKind::Syntax { message: "the Sass compiler does not support something in this stylesheet (it stopped on an unfinished feature)".into() }));
        }
    };
    let entry = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let mut inputs: Vec<Input> = fs
        .read
        .into_inner()
        .into_iter()
        .filter(|(p, _)| p != path && *p != entry)
        .map(|(path, sha256)| Input {
            path,
            sha256: Some(sha256),
        })
        .collect();
    inputs.extend(fs.absent.into_inner().into_iter().map(Input::absent));
    Ok(Compiled { css, inputs })
}

/// grass's error as a problem at `path:line:col` of the file it names (1-based).
fn problem(e: grass_compiler::Error, display: &str, entry: &Path, root: &Path) -> Problem {
    match e.kind() {
        grass_compiler::ErrorKind::ParseError { message, loc, .. } => {
            let file = Path::new(loc.file.name());
            Problem::new(
                shown(file, display, entry, root),
                Some(Pos {
                    line: loc.begin.line as u32 + 1,
                    col: loc.begin.column as u32 + 1,
                }),
                ProblemKind::Syntax {
                    message: lower_first(&message),
                },
            )
        }
        grass_compiler::ErrorKind::IoError(io) => Problem::new(
            display.to_owned(),
            None,
            ProblemKind::BadFile {
                message: format!("reading a Sass input failed: {io}"),
            },
        ),
        grass_compiler::ErrorKind::FromUtf8Error(m) => Problem::new(
            display.to_owned(),
            None,
            ProblemKind::BadFile {
                message: format!("not valid UTF-8: {m}"),
            },
        ),
        _ => Problem::new(
            display.to_owned(),
            None,
            ProblemKind::Syntax {
                message: "the Sass compiler failed".into(),
            },
        ),
    }
}

/// How a file grass names is shown: the entry as the user names it, a file under the asset
/// directory as that directory joined with its path there, anything else as it is.
fn shown(file: &Path, display: &str, entry: &Path, root: &Path) -> String {
    if file == entry {
        return display.to_owned();
    }
    let canon_root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    let canon_file = file.canonicalize().unwrap_or_else(|_| file.to_owned());
    if canon_file == entry.canonicalize().unwrap_or_else(|_| entry.to_owned()) {
        return display.to_owned();
    }
    match canon_file.strip_prefix(&canon_root) {
        Ok(rel) => root.join(rel).display().to_string(),
        Err(_) => file.display().to_string(),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    let text: String = c
        .next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default();
    text.trim_end_matches('.').to_owned()
}

/// The real file system, recording every file grass reads and the hash of what it read, and
/// every file it looked for in vain (each import tries several names and folders in turn).
#[derive(Debug, Default)]
struct RecordingFs {
    read: RefCell<BTreeMap<PathBuf, String>>,
    absent: RefCell<std::collections::BTreeSet<PathBuf>>,
}

impl grass_compiler::Fs for RecordingFs {
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
    fn is_file(&self, path: &Path) -> bool {
        let found = path.is_file();
        if !found {
            self.absent.borrow_mut().insert(absolute(path));
        }
        found
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        let bytes = std::fs::read(path)?;
        self.read
            .borrow_mut()
            .insert(canonical, crate::hash::sha256_hex(&bytes));
        Ok(bytes)
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
}

/// `path` made absolute, its folder resolved as far as it exists (the file itself may not).
fn absolute(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    match (
        abs.parent().and_then(|p| p.canonicalize().ok()),
        abs.file_name(),
    ) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => abs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn use_with_a_namespace_reads_the_partial_and_records_it() {
        let dir = tree(&[
            (
                "css/_colors.scss",
                "$ink: #123456;\n@function shade($c) { @return darken($c, 10%); }\n",
            ),
            (
                "css/app.scss",
                "@use \"colors\" as c;\nbody { color: c.shade(c.$ink); }\n",
            ),
        ]);
        let entry = dir.path().join("css/app.scss");
        let out = compile("assets/css/app.scss", &entry, dir.path(), &[]).unwrap();
        assert!(out.css.contains("color: #091b2c"), "{}", out.css);
        let partial = dir.path().join("css/_colors.scss");
        let hash = crate::hash::sha256_hex(&std::fs::read(&partial).unwrap());
        let read: Vec<&Input> = out.inputs.iter().filter(|i| i.sha256.is_some()).collect();
        assert_eq!(
            read,
            [&Input {
                path: partial.canonicalize().unwrap(),
                sha256: Some(hash)
            }]
        );
    }

    #[test]
    fn the_names_an_import_looked_for_in_vain_are_inputs_too() {
        let dir = tree(&[
            ("vendor/_variables.scss", "$c: red;\n"),
            (
                "css/app.scss",
                "@use \"variables\" as v;\na { color: v.$c; }\n",
            ),
        ]);
        let entry = dir.path().join("css/app.scss");
        let out = compile(
            "css/app.scss",
            &entry,
            dir.path(),
            &[dir.path().join("vendor")],
        )
        .unwrap();
        assert!(out.css.contains("red"), "{}", out.css);
        let shadow = dir
            .path()
            .canonicalize()
            .unwrap()
            .join("css/_variables.scss");
        let absent: Vec<&Input> = out.inputs.iter().filter(|i| i.sha256.is_none()).collect();
        assert!(absent.iter().any(|i| i.path == shadow), "{absent:?}");
        assert!(out.inputs.iter().all(Input::unchanged));
        // A partial that now takes precedence: the result no longer stands.
        std::fs::write(&shadow, "$c: blue;\n").unwrap();
        assert!(!out.inputs.iter().all(Input::unchanged));
    }

    #[test]
    fn load_paths_are_searched_after_the_importing_folder() {
        let dir = tree(&[
            ("vendor/_grid.scss", ".row { display: flex; }\n"),
            ("assets/app.scss", "@use \"grid\";\n"),
        ]);
        let entry = dir.path().join("assets/app.scss");
        let root = dir.path().join("assets");
        let out = compile(
            "assets/app.scss",
            &entry,
            &root,
            &[dir.path().join("vendor")],
        )
        .unwrap();
        assert!(out.css.contains(".row"), "{}", out.css);
    }

    #[test]
    fn an_error_in_a_partial_names_the_partial_line_and_column() {
        let dir = tree(&[
            ("css/_broken.scss", "a {\n  color: $nowhere;\n}\n"),
            ("css/app.scss", "@use \"broken\";\n"),
        ]);
        let entry = dir.path().join("css/app.scss");
        let e = compile("assets/css/app.scss", &entry, dir.path(), &[]).unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.ends_with("css/_broken.scss:2:10: undefined variable"),
            "{shown}"
        );
    }

    #[test]
    fn indented_syntax_compiles() {
        let dir = tree(&[("a.sass", "$w: 2px\n.box\n  border: $w solid red\n")]);
        let entry = dir.path().join("a.sass");
        let out = compile("a.sass", &entry, dir.path(), &[]).unwrap();
        assert!(out.css.contains("border: 2px solid red"), "{}", out.css);
    }

    #[test]
    fn partials_are_recognised_by_name() {
        use crate::scan::is_partial;
        assert!(is_partial("css/_vars.scss"));
        assert!(is_partial("_x.SASS"));
        assert!(!is_partial("css/app.scss"));
        assert!(!is_partial("css/_plain.css"));
    }
}

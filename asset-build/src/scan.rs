//! Stage 1: find the assets under the source directory, in a stable order, and read them.

use std::path::{Path, PathBuf};

use crate::error::ProblemKind;
use crate::error::{Error, Pos, Problem, Result};

/// What the pipeline does with a file, decided by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Css,
    /// JavaScript (or TypeScript, JSX), of the kind its extension says.
    Js(ScriptKind),
    /// A source map (`.map`): shipped as written.
    SourceMap,
    /// Anything else: shipped as written.
    Other,
}

/// The language a CSS or JS source is written in: what its transform compiles from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Lang {
    /// Plain CSS or JavaScript (and everything that is not transformed).
    Plain,
    /// Sass, `.scss` or the indented `.sass`: compiled to CSS first.
    Sass,
    /// JavaScript with JSX (`.jsx`).
    Jsx,
    /// TypeScript (`.ts`, `.mts`, `.cts`).
    Ts,
    /// TypeScript with JSX (`.tsx`).
    Tsx,
}

/// One file found under the source directory.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// Path relative to the source directory, `/`-separated.
    pub logical: String,
    /// Path for messages: the source directory as configured, joined with `logical`.
    pub display: String,
    pub kind: Kind,
    pub lang: Lang,
    pub bytes: Vec<u8>,
}

/// Logical paths and paths on disk of the files under the source directory.
pub(crate) type Listing = Vec<(String, PathBuf)>;

/// Finds every file under `root` (sorted, dot-files skipped), without reading them: logical
/// path and path on disk. Problems with single files (non-UTF-8 names, links leaving the
/// root) are collected, not fatal.
///
/// # Errors
/// The root itself cannot be read.
pub(crate) fn list(root: &Path) -> Result<(Listing, Vec<Problem>)> {
    let canon_root = root.canonicalize().map_err(Error::io(root))?;
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut ancestors = vec![canon_root.clone()];
    walk(
        root,
        &canon_root,
        "",
        &mut ancestors,
        &mut files,
        &mut problems,
    )?;
    Ok((files, problems))
}

/// Reads the listed files, except those `skip` names (their `bytes` stay empty: the last
/// run's output stands for them). Empty files are problems unless `allow_empty`.
///
/// # Errors
/// A file cannot be read.
pub(crate) fn read(
    root: &Path,
    files: Listing,
    allow_empty: bool,
    skip: &dyn Fn(&str) -> bool,
) -> Result<(Vec<Source>, Vec<Problem>)> {
    let mut out = Vec::with_capacity(files.len());
    let mut problems = Vec::new();
    for (logical, path) in files {
        let display = display_path(root, &logical);
        let kind = kind_of(&logical);
        let lang = lang_of(&logical);
        if skip(&logical) {
            out.push(Source {
                logical,
                display,
                kind,
                lang,
                bytes: Vec::new(),
            });
            continue;
        }
        let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
        if bytes.is_empty() && !allow_empty {
            problems.push(Problem::new(
                display,
                Some(Pos::START),
                ProblemKind::BadFile {
                    message: "empty file (set allow-empty to ship empty files)".into(),
                },
            ));
            continue;
        }
        out.push(Source {
            logical,
            display,
            kind,
            lang,
            bytes,
        });
    }
    Ok((out, problems))
}

pub(crate) fn display_path(root: &Path, logical: &str) -> String {
    root.join(logical).display().to_string()
}

/// `ancestors`: the real paths of the directories being walked, root first, so that a link
/// back to one of them is reported at once instead of walked until the OS gives up.
fn walk(
    dir: &Path,
    canon_root: &Path,
    prefix: &str,
    ancestors: &mut Vec<PathBuf>,
    files: &mut Vec<(String, PathBuf)>,
    problems: &mut Vec<Problem>,
) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(Error::io(dir))?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(Error::io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            problems.push(Problem::new(
                path.display().to_string(),
                None,
                ProblemKind::BadFile {
                    message: "file name is not valid UTF-8".into(),
                },
            ));
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let logical = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let file_type = entry.file_type().map_err(Error::io(&path))?;
        let (is_dir, is_file) = if file_type.is_symlink() {
            match followed(&path, canon_root, ancestors) {
                Ok(kind) => kind,
                Err(message) => {
                    problems.push(Problem::new(
                        path.display().to_string(),
                        None,
                        ProblemKind::BadFile { message },
                    ));
                    continue;
                }
            }
        } else {
            (file_type.is_dir(), file_type.is_file())
        };
        if is_dir {
            let real = path.canonicalize().map_err(Error::io(&path))?;
            ancestors.push(real);
            let walked = walk(&path, canon_root, &logical, ancestors, files, problems);
            ancestors.pop();
            walked?;
        } else if is_file {
            files.push((logical, path));
        }
    }
    Ok(())
}

/// What the symbolic link at `path` leads to, `(is_dir, is_file)`, or why it cannot be
/// followed: a loop back to a directory being walked, a target outside the asset directory,
/// a broken link.
fn followed(
    path: &Path,
    canon_root: &Path,
    ancestors: &[PathBuf],
) -> std::result::Result<(bool, bool), String> {
    match path.canonicalize() {
        Ok(target) if target.is_dir() && ancestors.contains(&target) => Err(format!(
            "symbolic link loop: points at {}, which contains it",
            target.display()
        )),
        Ok(target) if target.starts_with(canon_root) => Ok((target.is_dir(), target.is_file())),
        Ok(target) => Err(format!(
            "symbolic link to {} leaves the asset directory",
            target.display()
        )),
        Err(e) => Err(format!("broken symbolic link: {e}")),
    }
}

/// Whether a script is an ES module, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ScriptKind {
    /// `.mjs`, `.mts`: an ES module.
    Module,
    /// `.cjs`, `.cts`: a classic script.
    Classic,
    /// `.js`, `.jsx`, `.ts`, `.tsx`: a module if it has `import` or `export`.
    Detect,
}

impl ScriptKind {
    /// What the parser is told: a module, a script, or to decide.
    pub(crate) fn module(self) -> Option<bool> {
        match self {
            ScriptKind::Module => Some(true),
            ScriptKind::Classic => Some(false),
            ScriptKind::Detect => None,
        }
    }
}

impl Kind {
    /// Whether the pipeline rewrites files of this kind (CSS and JS); others ship as written.
    pub(crate) fn is_transformed(self) -> bool {
        matches!(self, Kind::Css | Kind::Js(_))
    }
}

/// The pipeline kind of a logical path: what the file is once compiled (Sass is CSS,
/// TypeScript and JSX are JavaScript).
pub(crate) fn kind_of(logical: &str) -> Kind {
    match extension(logical).to_ascii_lowercase().as_str() {
        "css" | "scss" | "sass" => Kind::Css,
        "mjs" | "mts" => Kind::Js(ScriptKind::Module),
        "cjs" | "cts" => Kind::Js(ScriptKind::Classic),
        "js" | "jsx" | "ts" | "tsx" => Kind::Js(ScriptKind::Detect),
        "map" => Kind::SourceMap,
        _ => Kind::Other,
    }
}

/// Whether `logical` names a Sass partial (`_x.scss`, `_x.sass`): imported, never shipped.
pub(crate) fn is_partial(logical: &str) -> bool {
    let name = logical.rsplit('/').next().unwrap_or(logical);
    name.starts_with('_') && is_sass(name)
}

/// Whether `logical` is a Sass source (`.scss` or the indented `.sass`).
pub(crate) fn is_sass(logical: &str) -> bool {
    let ext = extension(logical).to_ascii_lowercase();
    ext == "scss" || ext == "sass"
}

/// Whether the file is read by others but never shipped: a Sass partial (`_x.scss`) or a
/// TypeScript declaration file (`x.d.ts`, which holds only types).
pub(crate) fn is_input_only(logical: &str) -> bool {
    let name = logical
        .rsplit('/')
        .next()
        .unwrap_or(logical)
        .to_ascii_lowercase();
    is_partial(logical)
        || [".d.ts", ".d.mts", ".d.cts"]
            .iter()
            .any(|e| name.ends_with(e))
}

/// The source language of a logical path.
pub(crate) fn lang_of(logical: &str) -> Lang {
    match extension(logical).to_ascii_lowercase().as_str() {
        "scss" | "sass" => Lang::Sass,
        "jsx" => Lang::Jsx,
        "ts" | "mts" | "cts" => Lang::Ts,
        "tsx" => Lang::Tsx,
        _ => Lang::Plain,
    }
}

/// The extension of the file name (after its last dot), or "".
pub(crate) fn extension(logical: &str) -> &str {
    let name = logical.rsplit('/').next().unwrap_or(logical);
    match name.rfind('.') {
        Some(0) | None => "",
        Some(i) => &name[i + 1..],
    }
}

/// Content type for a logical path, and whether compressing it is worth trying.
pub(crate) fn content_type(logical: &str) -> (&'static str, bool) {
    match crate::refs::shipped_extension(extension(logical))
        .to_ascii_lowercase()
        .as_str()
    {
        "css" => ("text/css; charset=utf-8", true),
        "js" | "mjs" | "cjs" => ("text/javascript; charset=utf-8", true),
        "map" | "json" => ("application/json", true),
        "webmanifest" => ("application/manifest+json", true),
        "html" | "htm" => ("text/html; charset=utf-8", true),
        "txt" => ("text/plain; charset=utf-8", true),
        "xml" => ("application/xml", true),
        "svg" => ("image/svg+xml", true),
        "wasm" => ("application/wasm", true),
        "ico" => ("image/x-icon", true),
        "ttf" => ("font/ttf", true),
        "otf" => ("font/otf", true),
        "eot" => ("application/vnd.ms-fontobject", true),
        "woff" => ("font/woff", false),
        "woff2" => ("font/woff2", false),
        "png" => ("image/png", false),
        "jpg" | "jpeg" => ("image/jpeg", false),
        "gif" => ("image/gif", false),
        "webp" => ("image/webp", false),
        "avif" => ("image/avif", false),
        "mp4" => ("video/mp4", false),
        "webm" => ("video/webm", false),
        "mp3" => ("audio/mpeg", false),
        "pdf" => ("application/pdf", false),
        "zip" => ("application/zip", false),
        "gz" => ("application/gzip", false),
        _ => ("application/octet-stream", false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_types_follow_the_extension() {
        assert_eq!(kind_of("a/b.CSS"), Kind::Css);
        assert_eq!(kind_of("m.mjs"), Kind::Js(ScriptKind::Module));
        assert_eq!(kind_of("app.js.map"), Kind::SourceMap);
        assert_eq!(kind_of(".hidden"), Kind::Other);
        assert_eq!(kind_of("css/app.scss"), Kind::Css);
        assert_eq!(kind_of("js/x.mts"), Kind::Js(ScriptKind::Module));
        assert_eq!(lang_of("js/x.tsx"), Lang::Tsx);
        assert_eq!(content_type("js/x.ts").0, "text/javascript; charset=utf-8");
        assert_eq!(content_type("css/a.sass").0, "text/css; charset=utf-8");
        assert!(is_input_only("js/globals.d.ts") && is_input_only("css/_vars.scss"));
        assert!(!is_input_only("js/app.ts") && !is_input_only("css/_plain.css"));
        assert_eq!(content_type("f/x.woff2"), ("font/woff2", false));
        assert_eq!(content_type("LICENSE"), ("application/octet-stream", false));
    }
}

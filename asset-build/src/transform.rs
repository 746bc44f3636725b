//! Stage 2's shared interface: what the CSS and JS transforms return (shipped code with a
//! placeholder where each reference goes), which depends only on the file's bytes, name and
//! the settings, so it is cached. The transforms depend on this module, never on each other
//! or on their caller.

use serde::{Deserialize, Serialize};

use crate::error::ProblemKind;
use crate::error::{Pos, Problem};

/// How a reference is written, which decides how it resolves and what a missing target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RefKind {
    /// CSS `url()`.
    Url,
    /// CSS `url()` in a custom property: browsers resolve it where the `var()` is used, so
    /// only its file name is replaced (the hashed file sits beside the original).
    UrlInPlace,
    /// CSS `@import`.
    Import,
    /// ES module `import`/`export ... from`/`import()`.
    JsImport,
    /// `sourceMappingURL`.
    SourceMap,
    /// A part of a bundle (no text stands for it: the bundle is its parts, joined).
    Part,
}

impl RefKind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            RefKind::Url | RefKind::UrlInPlace => "url()",
            RefKind::Import => "@import",
            RefKind::JsImport => "import",
            RefKind::SourceMap => "sourceMappingURL",
            RefKind::Part => "bundle part",
        }
    }
}

/// One reference in transformed code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ref {
    /// The exact text standing in the code for the reference, quotes included.
    pub placeholder: String,
    /// The reference as written in the source.
    pub spec: String,
    pub kind: RefKind,
    pub pos: Pos,
    /// For an `@import` that is inlined: its media query and supports condition.
    pub media: Option<String>,
    pub supports: Option<String>,
    /// For an `@import`: its cascade layer (`Some("")` for an anonymous `layer`).
    #[serde(default)]
    pub layer: Option<String>,
}

/// The output of stage 2 for a CSS or JS file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Transformed {
    pub code: String,
    pub refs: Vec<Ref>,
    /// The source map of `code` (placeholders still in), when source maps are on.
    #[serde(default)]
    pub map: Option<String>,
    /// For JavaScript: what joining it with other scripts in a bundle must know.
    #[serde(default)]
    pub script: Option<Script>,
    /// Files read besides the source itself (Sass partials), with the sha256 each had: a
    /// cached result stands only while every one still has it.
    #[serde(default)]
    pub inputs: Vec<Input>,
    /// For a classic script: the names it shares with the page while it loads (what joining
    /// it with other scripts must check).
    #[serde(default)]
    pub page: Option<PageNames>,
    /// What the transform dropped or changed that the user should hear about (invalid CSS
    /// dropped as browsers drop it); kept with a cached result, so every build says it.
    #[serde(default)]
    pub warnings: Vec<Warning>,
}

/// A warning about a transformed file, at a position in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Warning {
    pub pos: Option<Pos>,
    pub message: String,
}

/// Facts about a transformed JavaScript file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Script {
    /// An ES module (else a classic script).
    pub module: bool,
    /// A classic script with a `"use strict"` prologue.
    pub strict: bool,
    /// A classic script that declares names at its top level (globals of the page).
    pub globals: bool,
}

/// The names a classic script shares with the page while it loads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PageNames {
    /// Globals it reads before any of its functions run (free names outside function bodies).
    pub reads: std::collections::BTreeSet<String>,
    /// Names it declares that hoist: `var`s outside functions, function declarations.
    pub hoisted: std::collections::BTreeSet<String>,
}

/// A file a transform read besides its source, or looked for and did not find (a file that
/// appears there later would change the result: a partial that now shadows a load path's, a
/// `x.js` beside the `x.ts` an import found).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Input {
    pub path: std::path::PathBuf,
    /// The sha256 of the bytes read; `None`: the file was not there.
    pub sha256: Option<String>,
}

impl Input {
    /// A file read, with its bytes.
    pub(crate) fn read(path: std::path::PathBuf, bytes: &[u8]) -> Input {
        Input {
            path,
            sha256: Some(crate::hash::sha256_hex(bytes)),
        }
    }

    /// A file looked for and not found.
    pub(crate) fn absent(path: std::path::PathBuf) -> Input {
        Input { path, sha256: None }
    }

    /// Whether the file still has the bytes it had (or is still not there).
    pub(crate) fn unchanged(&self) -> bool {
        match &self.sha256 {
            Some(hash) => {
                std::fs::read(&self.path).is_ok_and(|b| crate::hash::sha256_hex(&b) == *hash)
            }
            None => !self.path.is_file(),
        }
    }
}

impl Transformed {
    /// Whether every file it read besides its source still has the bytes it had, and every
    /// file it looked for in vain is still not there.
    pub(crate) fn inputs_unchanged(&self) -> bool {
        self.inputs.iter().all(Input::unchanged)
    }
}

/// The text of a file that must be UTF-8, or a problem at the first bad byte.
pub(crate) fn utf8<'a>(display: &str, bytes: &'a [u8]) -> Result<&'a str, Problem> {
    std::str::from_utf8(bytes).map_err(|e| {
        Problem::new(
            display.to_owned(),
            Some(crate::error::pos_of(bytes, e.valid_up_to())),
            ProblemKind::BadFile {
                message: "not valid UTF-8 (save the file as UTF-8)".into(),
            },
        )
    })
}

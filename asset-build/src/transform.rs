//! Stage 2: turn a source file into shipped code with placeholders where its references go.
//! The result depends only on the file's bytes, name and the settings, so it is cached.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Pos, Problem};
use crate::scan::{Kind, Source};

/// How a reference is written, which decides how it resolves and what a missing target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefKind {
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
}

impl RefKind {
    pub fn describe(self) -> &'static str {
        match self {
            RefKind::Url | RefKind::UrlInPlace => "url()",
            RefKind::Import => "@import",
            RefKind::JsImport => "import",
            RefKind::SourceMap => "sourceMappingURL",
        }
    }
}

/// One reference in transformed code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transformed {
    pub code: String,
    pub refs: Vec<Ref>,
    /// The source map of `code` (placeholders still in), when source maps are on.
    #[serde(default)]
    pub map: Option<String>,
}

/// Runs the transform for the file's kind (other kinds have none). `name` is the name the
/// tools and messages use for the file.
pub fn transform(
    name: &str,
    source: &Source,
    config: &Config,
) -> Option<Result<Transformed, Problem>> {
    match source.kind {
        Kind::Css => Some(crate::css::transform(name, &source.bytes, config)),
        Kind::Js(module) => Some(crate::js::transform(name, &source.bytes, module, config)),
        Kind::SourceMap | Kind::Other => None,
    }
}

/// The text of a file that must be UTF-8, or a problem at the first bad byte.
pub fn utf8<'a>(display: &str, bytes: &'a [u8]) -> Result<&'a str, Problem> {
    std::str::from_utf8(bytes).map_err(|e| Problem::BadFile {
        path: display.to_owned(),
        pos: Some(crate::error::pos_of(bytes, e.valid_up_to())),
        message: "not valid UTF-8 (save the file as UTF-8)".into(),
    })
}

//! The one error type of the pipeline: every variant names the file, and the line and column
//! where the input has them.

use std::fmt;
use std::path::PathBuf;

/// A position in an input file, 1-based.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Pos {
    /// The line, from 1.
    pub line: u32,
    /// The column in characters, from 1.
    pub col: u32,
}

impl Pos {
    /// The start of a file.
    pub const START: Pos = Pos { line: 1, col: 1 };
}

/// One problem with one asset (or with the settings): where it is (`path`, `pos`) apart from
/// what it is (`kind`), as lightningcss keeps `{ kind, loc }`. `Display` gives
/// `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The asset, as the user names it (for a cycle, its first file).
    pub path: String,
    /// Where in the file (1-based), when known.
    pub pos: Option<Pos>,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What a [`Problem`] is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    /// The file could not be parsed or minified.
    #[error("{message}")]
    Syntax {
        /// What is wrong.
        message: String,
    },
    /// A relative reference whose target is not an asset.
    #[error("{kind} `{reference}` points at `{target}`, which is not an asset")]
    MissingTarget {
        /// How the reference is written (`url()`, `@import`, `import`).
        kind: &'static str,
        /// The reference as written.
        reference: String,
        /// The path it resolves to.
        target: String,
    },
    /// A relative reference that climbs out of the asset directory.
    #[error("{kind} `{reference}` leaves the asset directory")]
    Escapes {
        /// How the reference is written (`url()`, `@import`, `import`).
        kind: &'static str,
        /// The reference as written.
        reference: String,
    },
    /// A cycle of references that cannot be hashed (CSS).
    #[error("@import cycle: {}", cycle.join(" -> "))]
    Cycle {
        /// The files of the cycle, in order.
        cycle: Vec<String>,
    },
    /// A rewrite that browsers may read differently (a warning).
    #[error("{message}")]
    Ambiguous {
        /// What is wrong.
        message: String,
    },
    /// Something browsers drop as invalid, dropped (a warning).
    #[error("{message}")]
    Dropped {
        /// What is wrong.
        message: String,
    },
    /// Shipped code that can behave differently from its source in a way no output avoids
    /// (a warning; the README says when).
    #[error("{message}")]
    Differs {
        /// What is wrong.
        message: String,
    },
    /// The file cannot be an asset at all (name, encoding, link, emptiness).
    #[error("{message}")]
    BadFile {
        /// What is wrong.
        message: String,
    },
}

impl Problem {
    /// A problem of `kind` at `pos` in `path`.
    pub fn new(path: impl Into<String>, pos: Option<Pos>, kind: ProblemKind) -> Problem {
        Problem {
            path: path.into(),
            pos,
            kind,
        }
    }

    /// An `@import` cycle, reported at its first file.
    pub fn cycle(cycle: Vec<String>) -> Problem {
        Problem {
            path: cycle.first().cloned().unwrap_or_default(),
            pos: None,
            kind: ProblemKind::Cycle { cycle },
        }
    }

    /// The logical path of the asset the problem is about.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", at(&self.path, self.pos), self.kind)
    }
}

impl std::error::Error for Problem {}

fn at(path: &str, pos: Option<Pos>) -> impl fmt::Display + '_ {
    struct At<'a>(&'a str, Option<Pos>);
    impl fmt::Display for At<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.1 {
                Some(p) => write!(f, "{}:{}:{}", self.0, p.line, p.col),
                None => f.write_str(self.0),
            }
        }
    }
    At(path, pos)
}

/// Why a pipeline run failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more assets are broken; every one found in the run is listed.
    #[error("{}", Problems(.0))]
    Assets(Vec<Problem>),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The settings are not usable.
    #[error("{0}")]
    Config(String),
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        if n > 1 {
            write!(f, "\n{n} broken assets")?;
        }
        Ok(())
    }
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// The per-asset problems, if that is what failed.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Assets(p) => p,
            _ => &[],
        }
    }
}

/// The pipeline's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// 1-based line and column of byte `offset` in `text` (column counted in characters).
pub(crate) fn pos_of(text: &[u8], offset: usize) -> Pos {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count() as u32
        + 1;
    Pos { line, col }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        assert_eq!(pos_of(b"ab\ncd", 0), Pos { line: 1, col: 1 });
        assert_eq!(pos_of(b"ab\ncd", 4), Pos { line: 2, col: 2 });
        assert_eq!(pos_of("é\nx".as_bytes(), 2), Pos { line: 1, col: 2 });
    }

    #[test]
    fn problems_render_path_line_col() {
        let p = Problem::new(
            "js/a.js",
            Some(Pos { line: 3, col: 7 }),
            ProblemKind::Syntax {
                message: "unexpected token".into(),
            },
        );
        assert_eq!(p.to_string(), "js/a.js:3:7: unexpected token");
        let cycle = Problem::cycle(vec!["a.css".into(), "b.css".into(), "a.css".into()]);
        assert_eq!(
            cycle.to_string(),
            "a.css: @import cycle: a.css -> b.css -> a.css"
        );
        let e = Error::Assets(vec![p.clone(), p]);
        assert!(e.to_string().ends_with("\n2 broken assets"));
    }
}

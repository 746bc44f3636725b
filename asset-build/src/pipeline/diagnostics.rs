//! The one sink every stage reports into: problems, which fail the build once the run has
//! found them all, and warnings, which ship with the output.

use crate::error::{Error, Problem};

/// What a run found wrong so far.
#[derive(Debug, Default)]
pub(super) struct Diagnostics {
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Diagnostics {
    /// A broken asset: the build fails, after the stages have found every other one.
    pub(super) fn error(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// Several broken assets, in order.
    pub(super) fn errors(&mut self, problems: impl IntoIterator<Item = Problem>) {
        self.problems.extend(problems);
    }

    /// A problem that does not fail the build (reported with the output).
    pub(super) fn warn(&mut self, warning: Problem) {
        self.warnings.push(warning);
    }

    /// The warnings, or, when anything is broken, every problem of the run in a stable
    /// order, once each.
    ///
    /// # Errors
    /// [`Error::Assets`] with the problems.
    pub(super) fn into_warnings(self) -> Result<Vec<Problem>, Error> {
        let mut problems = self.problems;
        if problems.is_empty() {
            return Ok(self.warnings);
        }
        problems.sort_by(|a, b| {
            a.path()
                .cmp(b.path())
                .then_with(|| a.to_string().cmp(&b.to_string()))
        });
        problems.dedup();
        Err(Error::Assets(problems))
    }
}

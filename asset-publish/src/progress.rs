//! [`Progress`]: what a publish tells its caller while it uploads, instead of printing. The
//! CLI draws a progress bar (or prints a line every tenth of the files); a library caller
//! passes [`Quiet`] or its own.

use crate::Upload;

/// Receives a publish's events as they happen. Every method does nothing by default; the
/// uploads run concurrently, so the methods take `&self` and may be called from several
/// uploads at once (in turn, on one task).
pub trait Progress: Sync {
    /// A batch of uploads starts: `files` objects, `bytes` in all. A publish has one batch,
    /// and a second if objects seen in its listing vanished before the commit.
    fn uploads_started(&self, files: usize, bytes: u64) {
        let _ = (files, bytes);
    }

    /// One object of the batch is uploaded.
    fn uploaded(&self, upload: &Upload) {
        let _ = upload;
    }

    /// The batch is over: every upload done (`ok`), or stopped by a failure or an interrupt.
    fn uploads_finished(&self, ok: bool) {
        let _ = ok;
    }

    /// `count` objects seen in the listing were gone before the commit: they go up again.
    fn vanished(&self, count: usize) {
        let _ = count;
    }
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {}

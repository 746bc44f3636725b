//! The command line's [`Progress`]: a progress bar on a terminal, otherwise a line every
//! tenth of the files (a CI log stays short).

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use crate::{Progress, Upload};

/// Prints a publish's progress to the terminal.
#[derive(Debug, Default)]
pub(super) struct Printed {
    bar: Mutex<Option<ProgressBar>>,
    files: AtomicUsize,
    done: AtomicUsize,
    done_bytes: AtomicU64,
}

impl Progress for Printed {
    fn uploads_started(&self, files: usize, bytes: u64) {
        self.files.store(files, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.done_bytes.store(0, Ordering::Relaxed);
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(bytes);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            *self.bar.lock().expect("not poisoned") = Some(bar);
        }
    }

    fn uploaded(&self, upload: &Upload) {
        let n = self.files.load(Ordering::Relaxed);
        let i = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let b = self.done_bytes.fetch_add(upload.size, Ordering::Relaxed) + upload.size;
        let bar = self.bar.lock().expect("not poisoned").clone();
        match bar {
            Some(bar) => {
                bar.inc(upload.size);
                bar.set_message(format!("{i}/{n} files"));
            }
            None if i.is_multiple_of((n / 10).max(1)) || i == n => {
                println!("uploaded {i}/{n} files, {b} bytes");
            }
            None => {}
        }
    }

    fn uploads_finished(&self, ok: bool) {
        if let Some(bar) = self.bar.lock().expect("not poisoned").take() {
            if ok {
                bar.finish_and_clear();
            } else {
                bar.abandon();
            }
        }
    }

    fn vanished(&self, count: usize) {
        println!("{count} objects vanished during the publish; uploading them again");
    }
}

//! [`Interrupt`]: stops a publish from outside (Ctrl-C, SIGTERM, a caller's own reason), so
//! that multipart uploads in flight are aborted rather than left to be billed.

use std::sync::Arc;

/// A flag that stops a publish, shared by clones; see [`crate::PublishOptions::interrupt`].
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<(std::sync::atomic::AtomicBool, tokio::sync::Notify)>);

impl Interrupt {
    /// One that is triggered by Ctrl-C or SIGTERM (needs a Tokio runtime).
    pub fn on_signals() -> Interrupt {
        let interrupt = Interrupt::default();
        let flag = interrupt.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let Ok(mut term) = signal(SignalKind::terminate()) else {
                    return;
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            eprintln!("interrupted: aborting the uploads in flight (the manifest is not written)");
            flag.trigger();
        });
        interrupt
    }

    /// Stops the publish (every clone sees it).
    pub fn trigger(&self) {
        self.0.0.store(true, std::sync::atomic::Ordering::SeqCst);
        self.0.1.notify_waiters();
    }

    /// Whether it was triggered.
    pub fn is_triggered(&self) -> bool {
        self.0.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once triggered.
    pub async fn triggered(&self) {
        loop {
            let notified = self.0.1.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_triggered() {
                return;
            }
            notified.await;
        }
    }
}

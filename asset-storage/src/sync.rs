//! Copying every object from one storage to another (local folder to S3, one provider to
//! another, a backup back): keys, content types, original names and cache control are
//! kept, and since the visibility is part of the key, a private object stays private.
//! Objects already at the destination are skipped; nothing there is overwritten.

use std::collections::BTreeSet;
use std::time::Instant;

use futures::{StreamExt as _, TryStreamExt as _};

use crate::name::{self, Visibility};
use crate::storage::{ListEntry, NewObject};
use crate::{Error, Storage};

/// What a sync did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// Objects copied (or that would be).
    pub copied: usize,
    /// Objects the destination has already.
    pub skipped: usize,
    /// Bytes copied.
    pub bytes: u64,
    /// Keys that are not ours (outside `public/` and `private/`, or malformed): left alone.
    pub ignored: Vec<String>,
    /// Whether this only says what a run would copy.
    pub dry_run: bool,
    /// How long it took.
    pub millis: u128,
}

impl std::fmt::Display for SyncSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} objects ({} bytes), skipped {} already there, ignored {}, in {:.2} s",
            if self.dry_run { "would copy" } else { "copied" },
            self.copied,
            self.bytes,
            self.skipped,
            self.ignored.len(),
            self.millis as f64 / 1000.0
        )
    }
}

/// Copies every object of `from` missing at `to`. `say` gets one line per object copied
/// (or to copy, with `dry_run`).
///
/// # Errors
/// A listing failed, or a copy failed after its retries (objects copied before stay; running
/// it again finishes the job).
pub async fn sync(
    from: &Storage,
    to: &Storage,
    dry_run: bool,
    say: &(dyn Fn(&str) + Sync),
) -> Result<SyncSummary, Error> {
    let started = Instant::now();
    let (source, unreadable) = from.list_all().await?;
    let present: BTreeSet<String> = to.list_all().await?.0.into_iter().map(|e| e.key).collect();
    let mut summary = SyncSummary {
        dry_run,
        ignored: unreadable,
        ..SyncSummary::default()
    };
    let mut todo: Vec<ListEntry> = Vec::new();
    for e in source {
        // Only keys of ours, and only those object_store addresses as they are (it would
        // read `a~b` or `c#1` as other keys).
        let addressable = object_store::path::Path::from(e.key.as_str()).as_ref() == e.key;
        if name::check_key(&e.key).is_err() || Visibility::of(&e.key).is_none() || !addressable {
            summary.ignored.push(e.key);
        } else if present.contains(&e.key) {
            summary.skipped += 1;
        } else {
            summary.bytes += e.size;
            todo.push(e);
        }
    }
    summary.copied = todo.len();
    if dry_run {
        for e in &todo {
            say(&format!("would copy {} ({} bytes)", e.key, e.size));
        }
    } else {
        let done = std::sync::atomic::AtomicUsize::new(0);
        let total = todo.len();
        // A listed name the store cannot open as that key (a foreign file name such as
        // `100%`) is set aside like other foreign keys, not a reason to stop.
        let vanished = std::sync::Mutex::new(Vec::new());
        futures::stream::iter(todo.into_iter().map(Ok::<_, Error>))
            .try_for_each_concurrent(8, |e| {
                let (done, vanished) = (&done, &vanished);
                async move {
                    match copy_one(from, to, &e.key).await {
                        Ok(()) => {}
                        Err(Error::NotFound { key }) => {
                            vanished.lock().expect("not poisoned").push(key);
                            return Ok(());
                        }
                        Err(e) => return Err(e),
                    }
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    say(&format!("[{n}/{total}] {} ({} bytes)", e.key, e.size));
                    Ok(())
                }
            })
            .await?;
        let vanished = vanished.into_inner().expect("not poisoned");
        summary.copied -= vanished.len();
        summary.ignored.extend(vanished);
    }
    summary.millis = started.elapsed().as_millis();
    Ok(summary)
}

async fn copy_one(from: &Storage, to: &Storage, key: &str) -> Result<(), Error> {
    let d = from.open(key, None).await?;
    let meta = NewObject {
        content_type: d.object.content_type.clone(),
        original_name: d.object.original_name.clone(),
        cache_control: d.cache_control.clone(),
    };
    match to.put_exact(key, &meta, d.body.map(|c| c), u64::MAX).await {
        // Another sync got there first: what is there is the same object.
        Ok(_) | Err(Error::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

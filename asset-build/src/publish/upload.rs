//! Carrying out a plan: concurrent uploads (object_store retries 5xx, timeouts and dropped
//! connections with backoff; large files go in parts), a check that every object the manifest
//! names is there, then the generation record and `manifest.json`, last.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::path::Path as Key;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt as _, PutMode, PutMultipartOptions,
    PutOptions, PutPayload,
};

use super::plan::{PART_SIZE, Plan, Remote, Upload, objects};
use super::{Error, GENERATIONS, Generation, Interrupt, SHORT, StoreSettings};
use crate::manifest::{FILE_NAME, Manifest};

/// What a publish did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: String,
    pub destination: String,
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    pub skipped: usize,
    /// Whether `manifest.json` was written (false when it was already this build's).
    pub committed: bool,
    pub dry_run: bool,
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let mb = self.uploaded_bytes as f64 / 1e6;
        let verb = if self.dry_run {
            "would upload"
        } else {
            "uploaded"
        };
        write!(
            f,
            "{} {} to {}: {verb} {} files ({}), skipped {} already there, in {secs:.2} s ({:.1} MB/s); manifest {}",
            if self.dry_run {
                "dry run: build"
            } else {
                "published build"
            },
            self.id,
            self.destination,
            self.uploaded,
            human(self.uploaded_bytes),
            self.skipped,
            if secs > 0.0 { mb / secs } else { 0.0 },
            match (self.dry_run, self.committed) {
                (true, true) => "would be written",
                (true, false) | (false, false) => "already current",
                (false, true) => "written last",
            }
        )
    }
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.2} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} bytes"),
    }
}

/// The destination's `manifest.json` as stored, or `None` when nothing is published yet.
pub(crate) async fn current_manifest(
    store: &dyn ObjectStore,
    settings: &StoreSettings,
) -> Result<Option<bytes::Bytes>, Error> {
    let what = || format!("{}/{FILE_NAME}", settings.location());
    match store.get(&key(FILE_NAME)?).await {
        Ok(r) => {
            Ok(Some(r.bytes().await.map_err(|e| {
                Error::store("reading", what(), e, settings)
            })?))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(Error::store("reading", what(), e, settings)),
    }
}

pub(crate) fn key(s: &str) -> Result<Key, Error> {
    Key::parse(s).map_err(|e| Error::Config(format!("`{s}` is not a valid object key: {e}")))
}

/// Every key below the prefix with its size (one paginated listing).
/// Every object below the prefix, as one listing shows it.
async fn list_all(
    store: &dyn ObjectStore,
    settings: &StoreSettings,
) -> Result<Vec<object_store::ObjectMeta>, Error> {
    store
        .list(None)
        .try_collect()
        .await
        .map_err(|e| Error::store("listing", settings.location().to_string(), e, settings))
}

/// Key -> (size, last modified, seconds since the epoch).
pub(crate) async fn listing(
    store: &dyn ObjectStore,
    settings: &StoreSettings,
) -> Result<HashMap<String, (u64, i64)>, Error> {
    Ok(list_all(store, settings)
        .await?
        .into_iter()
        .map(|m| {
            (
                m.location.as_ref().to_owned(),
                (m.size, m.last_modified.timestamp()),
            )
        })
        .collect())
}

/// Key -> size and ETag, what the plan compares.
async fn remotes(
    store: &dyn ObjectStore,
    settings: &StoreSettings,
) -> Result<HashMap<String, Remote>, Error> {
    Ok(list_all(store, settings)
        .await?
        .into_iter()
        .map(|m| {
            let remote = Remote {
                size: m.size,
                e_tag: m.e_tag,
            };
            (m.location.as_ref().to_owned(), remote)
        })
        .collect())
}

/// Publishes the build in `tree` (its `manifest`) to the destination of `settings`.
/// With `dry_run`, lists and plans only.
///
/// # Errors
/// Listing, an upload after its retries, or the commit failed; the destination's previous
/// `manifest.json` is then untouched, and running again finishes the job.
pub async fn publish(
    settings: &StoreSettings,
    manifest: &Manifest,
    tree: &Path,
    dry_run: bool,
    out: &dyn Fn(&str),
) -> Result<(Summary, Plan), Error> {
    let start = Instant::now();
    let store = settings.store()?;
    let manifest_bytes = manifest.to_json();
    let current = current_manifest(store.as_ref(), settings).await?;
    let commit = current.as_deref() != Some(&manifest_bytes[..]);
    if !commit && !settings.relist {
        // This very build is the one published, and its manifest was written only after a
        // listing showed all of its objects: nothing to list or upload.
        let plan = Plan {
            present: objects(manifest, tree, settings.variants)
                .into_iter()
                .map(|u| u.key)
                .collect(),
            ..Plan::default()
        };
        return Ok((
            summary(settings, manifest, &plan, false, dry_run, start),
            plan,
        ));
    }
    let list = remotes(store.as_ref(), settings).await?;
    let mut plan = super::plan(manifest, tree, settings.variants, &list)?;
    let equivalent = same_content(store.as_ref(), settings, manifest, &plan.recheck).await?;
    plan.present.extend(equivalent.iter().cloned());
    if dry_run {
        for u in &plan.uploads {
            out(&format!(
                "would upload {} ({} bytes, {}{})",
                u.key,
                u.size,
                u.content_type,
                u.content_encoding
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default()
            ));
        }
        return Ok((
            summary(settings, manifest, &plan, commit, true, start),
            plan,
        ));
    }
    upload_all(&store, settings, &plan.uploads, out).await?;
    if settings.interrupt.is_triggered() {
        return Err(Error::Interrupted);
    }
    if commit {
        if !plan.present.is_empty() {
            reupload_vanished(&store, settings, manifest, tree, &equivalent, out).await?;
        }
        write_manifest(&store, settings, manifest, manifest_bytes).await?;
    }
    Ok((
        summary(settings, manifest, &plan, commit, false, start),
        plan,
    ))
}

fn summary(
    settings: &StoreSettings,
    manifest: &Manifest,
    plan: &Plan,
    committed: bool,
    dry_run: bool,
    start: Instant,
) -> Summary {
    Summary {
        id: manifest.id.clone(),
        destination: settings.location().to_string(),
        uploaded: plan.uploads.len(),
        uploaded_bytes: plan.upload_bytes(),
        skipped: plan.present.len(),
        committed,
        dry_run,
        elapsed: start.elapsed(),
    }
}

/// Every object the manifest names must be there before the manifest is: an object seen in
/// the first listing may have been pruned since. (Objects uploaded just now are there: their
/// PUT succeeded, and prune leaves objects younger than its grace period alone.)
async fn reupload_vanished(
    store: &Arc<dyn ObjectStore>,
    settings: &StoreSettings,
    manifest: &Manifest,
    tree: &Path,
    equivalent: &HashSet<String>,
    out: &dyn Fn(&str),
) -> Result<(), Error> {
    let now = listing(store.as_ref(), settings).await?;
    let missing: Vec<Upload> = objects(manifest, tree, settings.variants)
        .into_iter()
        .filter(|u| match now.get(&u.key) {
            None => true,
            Some((size, _)) => *size != u.size && !equivalent.contains(&u.key),
        })
        .collect();
    if !missing.is_empty() {
        out(&format!(
            "{} objects vanished during the publish; uploading them again",
            missing.len()
        ));
        upload_all(store, settings, &missing, out).await?;
    }
    Ok(())
}

/// The generation record, then `manifest.json`: the commit.
async fn write_manifest(
    store: &Arc<dyn ObjectStore>,
    settings: &StoreSettings,
    manifest: &Manifest,
    manifest_bytes: Vec<u8>,
) -> Result<(), Error> {
    let generation = Generation {
        id: manifest.id.clone(),
        published_at_ms: super::now_ms(),
        manifest: manifest.clone(),
    };
    let record = serde_json::to_vec_pretty(&generation).expect("generation serializes");
    let record_key = format!("{GENERATIONS}{}.json", manifest.id);
    for (key, body) in [(record_key.as_str(), record), (FILE_NAME, manifest_bytes)] {
        put(
            store,
            settings,
            key,
            body.into(),
            "application/json",
            None,
            SHORT,
        )
        .await?;
    }
    Ok(())
}

/// Of the objects the listing could not prove (`Plan::recheck`), those that hold this build's
/// bytes, or for a variant decode to them (another compression level or encoder): kept as
/// they are.
///
/// # Errors
/// One holds or decodes to other bytes (a conflict: never overwritten), or reading failed.
async fn same_content(
    store: &dyn ObjectStore,
    settings: &StoreSettings,
    manifest: &Manifest,
    recheck: &[Upload],
) -> Result<HashSet<String>, Error> {
    let sha_of = super::plan::sha256_of_keys(manifest);
    let mut same = HashSet::new();
    let mut conflicts = Vec::new();
    for u in recheck {
        let body = store
            .get(&key(&u.key)?)
            .await
            .map_err(|e| Error::store("reading", &u.key, e, settings))?
            .bytes()
            .await
            .map_err(|e| Error::store("reading", &u.key, e, settings))?;
        let want = sha_of.get(u.key.as_str()).copied().unwrap_or_default();
        match super::verify::decode(&body, u.content_encoding) {
            Ok(plain) if crate::hash::sha256_hex(&plain) == want => {
                same.insert(u.key.clone());
            }
            _ => conflicts.push(format!(
                "{} ({} bytes) at the destination does not hold or decode to this build's file",
                u.key,
                body.len()
            )),
        }
    }
    if conflicts.is_empty() {
        Ok(same)
    } else {
        Err(Error::Conflict(format!(
            "objects exist with other contents (they are never overwritten; delete them by hand if they are junk):\n  {}",
            conflicts.join("\n  ")
        )))
    }
}

async fn upload_all(
    store: &Arc<dyn ObjectStore>,
    settings: &StoreSettings,
    uploads: &[Upload],
    out: &dyn Fn(&str),
) -> Result<(), Error> {
    if uploads.is_empty() {
        return Ok(());
    }
    let total_bytes: u64 = uploads.iter().map(|u| u.size).sum();
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total_bytes);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Some(bar)
    } else {
        None
    };
    let done = AtomicUsize::new(0);
    let done_bytes = AtomicU64::new(0);
    let n = uploads.len();
    let step = (n / 10).max(1);
    // The first failure stops the rest, and every upload is awaited (not dropped), so each
    // multipart upload in flight gets to abort itself.
    let stop = Interrupt::default();
    let first_error = std::sync::Mutex::new(None);
    futures::stream::iter(uploads)
        .for_each_concurrent(settings.concurrency.max(1), |u| {
            let (bar, done, done_bytes, stop, first_error) =
                (&bar, &done, &done_bytes, &stop, &first_error);
            async move {
                let result = if settings.interrupt.is_triggered() || stop.is_triggered() {
                    Err(Error::Interrupted)
                } else {
                    upload_one(store, settings, u, stop).await
                };
                if let Err(e) = result {
                    stop.trigger();
                    let mut first = first_error.lock().expect("not poisoned");
                    // A real failure explains the stop better than the others' `Interrupted`.
                    if first.is_none() || matches!(*first, Some(Error::Interrupted)) {
                        *first = Some(e);
                    }
                    return;
                }
                let i = done.fetch_add(1, Ordering::Relaxed) + 1;
                let b = done_bytes.fetch_add(u.size, Ordering::Relaxed) + u.size;
                match bar {
                    Some(bar) => {
                        bar.inc(u.size);
                        bar.set_message(format!("{i}/{n} files"));
                    }
                    None if i % step == 0 || i == n => {
                        out(&format!("uploaded {i}/{n} files, {b} bytes"))
                    }
                    None => {}
                }
            }
        })
        .await;
    if let Some(e) = first_error.into_inner().expect("not poisoned") {
        if let Some(bar) = &bar {
            bar.abandon();
        }
        return Err(e);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(())
}

async fn upload_one(
    store: &Arc<dyn ObjectStore>,
    settings: &StoreSettings,
    u: &Upload,
    stop: &Interrupt,
) -> Result<(), Error> {
    let bytes = tokio::fs::read(&u.file).await.map_err(|source| Error::Io {
        path: u.file.clone(),
        source,
    })?;
    if bytes.len() as u64 != u.size {
        return Err(Error::Build(format!(
            "{}: {} bytes on disk, the manifest says {}",
            u.file.display(),
            bytes.len(),
            u.size
        )));
    }
    if u.size > settings.multipart_threshold {
        return put_multipart(store, settings, u, bytes.into(), stop).await;
    }
    put(
        store,
        settings,
        &u.key,
        bytes.into(),
        &u.content_type,
        u.content_encoding,
        &settings.cache_control,
    )
    .await
}

/// A multipart upload in 8 MiB parts (four in flight), aborted (its parts deleted) when a
/// part or the completion fails, when the publish is interrupted, or when another upload
/// failed (`stop`).
async fn put_multipart(
    store: &Arc<dyn ObjectStore>,
    settings: &StoreSettings,
    u: &Upload,
    bytes: Bytes,
    stop: &Interrupt,
) -> Result<(), Error> {
    let attributes = attributes(
        settings,
        &u.content_type,
        u.content_encoding,
        &settings.cache_control,
    );
    let k = key(&u.key)?;
    let mut upload = store
        .put_multipart_opts(
            &k,
            PutMultipartOptions {
                attributes,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| Error::store("starting multipart upload of", &u.key, e, settings))?;
    let parts: Vec<_> = (0..bytes.len())
        .step_by(PART_SIZE)
        .map(|at| upload.put_part(bytes.slice(at..(at + PART_SIZE).min(bytes.len())).into()))
        .collect();
    let outcome = {
        let upload = &mut upload;
        let finish = async move {
            futures::stream::iter(parts)
                .buffer_unordered(4)
                .try_collect::<Vec<_>>()
                .await?;
            upload.complete().await
        };
        tokio::select! {
            r = finish => Some(r),
            () = settings.interrupt.triggered() => None,
            () = stop.triggered() => None,
        }
    };
    match outcome {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => {
            let _ = upload.abort().await;
            Err(Error::store("uploading", &u.key, e, settings))
        }
        None => {
            upload
                .abort()
                .await
                .map_err(|e| Error::store("aborting the upload of", &u.key, e, settings))?;
            Err(Error::Interrupted)
        }
    }
}

async fn put(
    store: &Arc<dyn ObjectStore>,
    settings: &StoreSettings,
    k: &str,
    payload: PutPayload,
    content_type: &str,
    content_encoding: Option<&'static str>,
    cache_control: &str,
) -> Result<(), Error> {
    // Overwrite, not create: a plain PUT is idempotent, so object_store may retry it after a
    // timeout or a dropped connection. Existing hashed keys were left out of the plan.
    let opts = PutOptions {
        mode: PutMode::Overwrite,
        attributes: attributes(settings, content_type, content_encoding, cache_control),
        ..Default::default()
    };
    store
        .put_opts(&key(k)?, payload, opts)
        .await
        .map_err(|e| Error::store("uploading", k, e, settings))?;
    Ok(())
}

fn attributes(
    settings: &StoreSettings,
    content_type: &str,
    content_encoding: Option<&'static str>,
    cache_control: &str,
) -> Attributes {
    let mut a = Attributes::new();
    if !settings.keeps_headers() {
        return a;
    }
    a.insert(Attribute::ContentType, content_type.to_owned().into());
    a.insert(Attribute::CacheControl, cache_control.to_owned().into());
    if let Some(e) = content_encoding {
        a.insert(Attribute::ContentEncoding, e.into());
    }
    a
}

//! Carrying out a plan: concurrent uploads (object_store retries 5xx, timeouts and dropped
//! connections with backoff; large files go in parts), a check that every object the manifest
//! names is there, then the generation record and `manifest.json`, last.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt as _, PutMode, PutMultipartOptions,
    PutOptions, PutPayload,
};

use asset_manifest::{Encoding, FILE_NAME, Manifest};

use crate::plan::{PART_SIZE, Plan, Upload, objects};
use crate::remote::{current_manifest, key, listing, remotes};
use crate::{Error, GENERATIONS, Generation, Interrupt, Progress, SHORT, StoreSettings};

/// How one publish runs (where to and how to store: [`StoreSettings`]).
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// List and plan only: nothing is uploaded or written (`--dry-run`).
    pub dry_run: bool,
    /// List the destination even when its `manifest.json` is already this build's, to put
    /// back objects deleted behind publish's back (`--relist`). Otherwise that publish is one
    /// GET: the manifest is only ever written after a listing showed every object it names.
    pub relist: bool,
    /// Stops the publish: no new upload starts, multipart uploads in flight are aborted (their
    /// parts deleted, not left to be billed), and `manifest.json` is not written. The CLI
    /// triggers it on Ctrl-C and SIGTERM.
    pub interrupt: Interrupt,
}

/// What a publish did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The build's manifest id.
    pub id: String,
    /// Where it went (secrets never included).
    pub destination: String,
    /// Objects uploaded (or, in a dry run, that would be).
    pub uploaded: usize,
    /// Their bytes.
    pub uploaded_bytes: u64,
    /// Objects already there.
    pub skipped: usize,
    /// Whether `manifest.json` was written (false when it was already this build's).
    pub committed: bool,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// How long it took.
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

/// Publishes the build in `tree` (its `manifest`) to the destination of `settings`, telling
/// `progress` how the uploads go. With [`PublishOptions::dry_run`], lists and plans only:
/// the returned [`Plan`] says what would be uploaded.
///
/// # Errors
/// Listing, an upload after its retries, or the commit failed, or the publish was
/// interrupted; the destination's previous `manifest.json` is then untouched, and running
/// again finishes the job.
pub async fn publish(
    settings: &StoreSettings,
    manifest: &Manifest,
    tree: &Path,
    options: &PublishOptions,
    progress: &dyn Progress,
) -> Result<(Summary, Plan), Error> {
    let dry_run = options.dry_run;
    let start = Instant::now();
    let store = settings.store()?;
    let manifest_bytes = manifest.to_json();
    let current = current_manifest(store.as_ref(), settings).await?;
    let commit = current.as_deref() != Some(&manifest_bytes[..]);
    if !commit && !options.relist {
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
    let mut plan = crate::plan(manifest, tree, settings.variants, &list)?;
    let equivalent = same_content(store.as_ref(), settings, manifest, &plan.recheck).await?;
    plan.present.extend(equivalent.iter().cloned());
    if dry_run {
        return Ok((
            summary(settings, manifest, &plan, commit, true, start),
            plan,
        ));
    }
    let interrupt = &options.interrupt;
    upload_all(&store, settings, &plan.uploads, interrupt, progress).await?;
    if interrupt.is_triggered() {
        return Err(Error::Interrupted);
    }
    if commit {
        if !plan.present.is_empty() {
            let vanished = vanished(&store, settings, manifest, tree, &equivalent).await?;
            if !vanished.is_empty() {
                progress.vanished(vanished.len());
                upload_all(&store, settings, &vanished, interrupt, progress).await?;
            }
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

/// What must go up again before the commit. Every object the manifest names must be there
/// before the manifest is: an object seen in
/// the first listing may have been pruned since. (Objects uploaded just now are there: their
/// PUT succeeded, and prune leaves objects younger than its grace period alone.)
async fn vanished(
    store: &Arc<dyn ObjectStore>,
    settings: &StoreSettings,
    manifest: &Manifest,
    tree: &Path,
    equivalent: &HashSet<String>,
) -> Result<Vec<Upload>, Error> {
    let now = listing(store.as_ref(), settings).await?;
    Ok(objects(manifest, tree, settings.variants)
        .into_iter()
        .filter(|u| match now.get(&u.key) {
            None => true,
            Some((size, _)) => *size != u.size && !equivalent.contains(&u.key),
        })
        .collect())
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
        published_at_ms: crate::now_ms(),
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
    let sha_of = crate::plan::sha256_of_keys(manifest);
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
        match crate::remote::decode(&body, u.content_encoding) {
            Ok(plain) if asset_manifest::hash::sha256_hex(&plain) == want => {
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

/// Uploads `uploads`, `concurrency` at a time, telling `progress`; the first failure (or
/// `interrupt`) stops the rest.
async fn upload_all(
    store: &Arc<dyn ObjectStore>,
    settings: &StoreSettings,
    uploads: &[Upload],
    interrupt: &Interrupt,
    progress: &dyn Progress,
) -> Result<(), Error> {
    if uploads.is_empty() {
        return Ok(());
    }
    progress.uploads_started(uploads.len(), uploads.iter().map(|u| u.size).sum());
    // The first failure stops the rest, and every upload is awaited (not dropped), so each
    // multipart upload in flight gets to abort itself.
    let stop = Interrupt::default();
    let first_error = std::sync::Mutex::new(None);
    futures::stream::iter(uploads)
        .for_each_concurrent(settings.concurrency.max(1), |u| {
            let (stop, first_error) = (&stop, &first_error);
            async move {
                let result = if interrupt.is_triggered() || stop.is_triggered() {
                    Err(Error::Interrupted)
                } else {
                    upload_one(store, settings, u, interrupt, stop).await
                };
                match result {
                    Ok(()) => progress.uploaded(u),
                    Err(e) => {
                        stop.trigger();
                        let mut first = first_error.lock().expect("not poisoned");
                        // A real failure explains the stop better than the others'
                        // `Interrupted`.
                        if first.is_none() || matches!(*first, Some(Error::Interrupted)) {
                            *first = Some(e);
                        }
                    }
                }
            }
        })
        .await;
    let first_error = first_error.into_inner().expect("not poisoned");
    progress.uploads_finished(first_error.is_none());
    first_error.map_or(Ok(()), Err)
}

/// One upload: a PUT, or in parts above the multipart threshold.
async fn upload_one(
    store: &Arc<dyn ObjectStore>,
    settings: &StoreSettings,
    u: &Upload,
    interrupt: &Interrupt,
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
        return put_multipart(store, settings, u, bytes.into(), [interrupt, stop]).await;
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
/// part or the completion fails, or when either of `stops` is triggered: the publish is
/// interrupted, or another upload failed.
async fn put_multipart(
    store: &Arc<dyn ObjectStore>,
    settings: &StoreSettings,
    u: &Upload,
    bytes: Bytes,
    stops: [&Interrupt; 2],
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
            () = stops[0].triggered() => None,
            () = stops[1].triggered() => None,
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
    content_encoding: Option<Encoding>,
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
    content_encoding: Option<Encoding>,
    cache_control: &str,
) -> Attributes {
    let mut a = Attributes::new();
    if !settings.keeps_headers() {
        return a;
    }
    a.insert(Attribute::ContentType, content_type.to_owned().into());
    a.insert(Attribute::CacheControl, cache_control.to_owned().into());
    if let Some(e) = content_encoding {
        a.insert(Attribute::ContentEncoding, e.as_str().into());
    }
    a
}

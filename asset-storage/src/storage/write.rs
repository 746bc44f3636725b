//! Saving: the upload streams in, its first bytes are sniffed and checked, then one
//! conditional PUT or a multipart upload writes it, and nothing is left by a failure.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use object_store::path::Path;
use object_store::{
    ObjectStore, ObjectStoreExt as _, PutMode, PutMultipartOptions, PutOptions, WriteMultipart,
};

use crate::Error;
use crate::idle::Idle;
use crate::name::{self, Visibility};
use crate::sniff::{self, SNIFF_LEN};

use super::records::Records;
use super::{NewObject, Object, Policy, Storage};

impl Storage {
    /// Saves an upload under a new server-made key and returns it with its metadata. The
    /// body streams to the store: its first bytes are sniffed and checked against `policy`
    /// before anything is written; bodies up to the part size are one conditional PUT, larger
    /// ones a multipart upload, aborted if the body passes the cap or fails. Nothing is left
    /// behind by a failed save.
    ///
    /// # Errors
    /// [`Error::TooLarge`] past the cap, [`Error::TypeNotAllowed`]/[`Error::TypeMismatch`],
    /// [`Error::Body`] when the stream fails, [`Error::Store`] when the store does.
    pub async fn save<S, E>(
        &self,
        policy: &Policy,
        file_name: &str,
        declared_type: Option<&str>,
        body: S,
    ) -> Result<Object, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let _permit = self.upload_permit().await?;
        let body = body.map(|c| c.map_err(|e| Error::Body(e.to_string())));
        let idle = self.inner.settings.budgets.upload_idle;
        let mut body = std::pin::pin!(Idle::new(body, idle, "the upload"));
        let mut head = Vec::new();
        let mut total = 0u64;
        fill(
            &mut body,
            &mut head,
            &mut total,
            SNIFF_LEN as u64,
            policy.max_size,
        )
        .await?;
        let first: Vec<u8> = head
            .iter()
            .flat_map(|b| b.iter().copied())
            .take(SNIFF_LEN)
            .collect();
        let original = if file_name.trim().is_empty() {
            "file"
        } else {
            file_name
        };
        // The name checked is the one the key keeps: `x.html.` is checked as `x.html`.
        let clean = name::clean_file_name(original);
        let content_type =
            sniff::check(sniff::sniff(&first), &policy.types, declared_type, &clean)?;
        let key = name::new_key(policy.visibility, &policy.prefix, &clean)?;
        let meta = NewObject {
            content_type,
            original_name: original.chars().take(1000).collect(),
            cache_control: policy.cache_control.clone(),
        };
        let size = self
            .write(&key, &meta, head, total, body, policy.max_size)
            .await?;
        Ok(self.object(key, size, &meta))
    }

    /// Saves the file at `path` (streamed from disk) like [`Storage::save`], under its own
    /// file name unless `file_name` is given.
    ///
    /// # Errors
    /// As [`Storage::save`], or the file cannot be opened.
    pub async fn save_file(
        &self,
        policy: &Policy,
        path: &std::path::Path,
        file_name: Option<&str>,
    ) -> Result<Object, Error> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let name = file_name.map(str::to_owned).unwrap_or_else(|| {
            path.file_name()
                .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned())
        });
        let body = tokio_util::io::ReaderStream::with_capacity(file, 256 << 10);
        self.save(policy, &name, None, body).await
    }

    fn object(&self, key: String, size: u64, meta: &NewObject) -> Object {
        Object {
            visibility: Visibility::of(&key).unwrap_or(Visibility::Private),
            key,
            size,
            content_type: meta.content_type.clone(),
            original_name: meta.original_name.clone(),
            modified_ms: Some(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
            ),
        }
    }

    /// Writes `head` then `rest` under `key` (which must not exist) with `meta`, at most
    /// `max` bytes; returns the size. On any failure nothing is left at `key`, and neither
    /// when this future is dropped half-way (a client gone, a timeout): a [`Cleanup`] then
    /// finishes the job on its own task.
    pub(crate) async fn write<S>(
        &self,
        key: &str,
        meta: &NewObject,
        mut head: Vec<Bytes>,
        mut total: u64,
        rest: S,
        max: u64,
    ) -> Result<u64, Error>
    where
        S: Stream<Item = Result<Bytes, Error>> + Send,
    {
        let part = self.inner.settings.part_size;
        let mut rest = std::pin::pin!(rest);
        // Fill the first part: most uploads end here and take one request.
        let ended = fill(&mut rest, &mut head, &mut total, part as u64, max).await?;
        let mut cleanup = Cleanup::new(self, key);
        let written = if ended {
            self.put_once(key, meta, head, &mut cleanup).await
        } else {
            self.write_parts(key, meta, head, total, &mut rest, max, &mut cleanup)
                .await
                .map(|t| total = t)
        };
        let written = match written {
            Ok(()) => self.keep_record(key, meta).await,
            other => other,
        };
        match written {
            Ok(()) => {
                cleanup.disarm();
                Ok(total)
            }
            Err(e) => {
                cleanup.run().await;
                Err(e)
            }
        }
    }

    /// One conditional PUT. It runs on a task of its own, which the cleanup waits for
    /// before deleting, so a PUT that lands after its caller is gone is removed too.
    async fn put_once(
        &self,
        key: &str,
        meta: &NewObject,
        head: Vec<Bytes>,
        cleanup: &mut Cleanup,
    ) -> Result<(), Error> {
        let opts = PutOptions {
            mode: PutMode::Create,
            attributes: self.attributes(key, meta),
            ..Default::default()
        };
        let store = self.inner.store.clone();
        let path = Path::from(key);
        let put = tokio::spawn(async move {
            store
                .put_opts(&path, head.into_iter().collect(), opts)
                .await
                .map(|_| ())
        });
        let done = cleanup.watch(put);
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                // Nothing of ours is there: the key existed, or the PUT failed.
                if matches!(e, object_store::Error::AlreadyExists { .. }) {
                    cleanup.disarm();
                }
                Err(self.err("saving", key, e))
            }
            Err(e) => Err(Error::Store {
                op: "saving",
                key: key.to_owned(),
                message: format!("the upload task stopped: {e}"),
            }),
        }
    }

    /// A multipart upload of `head` and then `rest`, at most two parts in flight; aborted if
    /// the body passes `max` or fails. Returns the size. A folder has no create-only
    /// multipart upload, so there the parts go to a staging name under `.meta/` and are
    /// linked into place only if `key` is still free.
    #[allow(clippy::too_many_arguments)]
    async fn write_parts<S>(
        &self,
        key: &str,
        meta: &NewObject,
        head: Vec<Bytes>,
        mut total: u64,
        rest: &mut std::pin::Pin<&mut S>,
        max: u64,
        cleanup: &mut Cleanup,
    ) -> Result<u64, Error>
    where
        S: Stream<Item = Result<Bytes, Error>> + Send,
    {
        let opts = PutMultipartOptions {
            attributes: self.attributes(key, meta),
            ..Default::default()
        };
        // S3 completes a multipart upload atomically, create-only with `If-None-Match`; a
        // folder's parts are put together aside, then linked into place create-only.
        let staging = match self.records() {
            Records::Attributes => None,
            Records::Sidecar => Some(format!("{STAGING_DIR}/{}", name::random_hex()?)),
        };
        let target = Path::from(staging.as_deref().unwrap_or(key));
        let upload = self
            .inner
            .store
            .put_multipart_opts(&target, opts)
            .await
            .map_err(|e| self.err("starting the upload of", key, e))?;
        cleanup.staging = staging.clone();
        let w = cleanup.upload.insert(WriteMultipart::new_with_chunk_size(
            upload,
            self.inner.settings.part_size,
        ));
        for b in head {
            w.put(b);
        }
        while let Some(chunk) = rest.next().await {
            let chunk = chunk?;
            total += chunk.len() as u64;
            if total > max {
                return Err(Error::TooLarge { limit: max });
            }
            let w = cleanup.upload.as_mut().expect("the upload is open");
            w.wait_for_capacity(2)
                .await
                .map_err(|e| self.err("uploading", key, e))?;
            w.put(chunk);
        }
        let w = cleanup.upload.take().expect("the upload is open");
        w.finish()
            .await
            .map_err(|e| self.err("finishing the upload of", key, e))?;
        if let Some(staging) = &staging {
            // Create-only: a hard link that fails if `key` exists, then the staging name goes.
            self.inner
                .store
                .rename_if_not_exists(&Path::from(staging.as_str()), &Path::from(key))
                .await
                .map_err(|e| {
                    if matches!(e, object_store::Error::AlreadyExists { .. }) {
                        cleanup.key = None;
                    }
                    self.err("saving", key, e)
                })?;
            cleanup.staging = None;
        }
        Ok(total)
    }

    /// Stores bytes under an exact key (no overwrite) with the given record: for copying
    /// between stores and for the local service's signed PUTs.
    pub(crate) async fn put_exact<S>(
        &self,
        key: &str,
        meta: &NewObject,
        body: S,
        max: u64,
    ) -> Result<u64, Error>
    where
        S: Stream<Item = Result<Bytes, Error>> + Send,
    {
        name::check_key(key)?;
        let _permit = self.upload_permit().await?;
        let idle = self.inner.settings.budgets.upload_idle;
        let body = Idle::new(body, idle, "the upload");
        self.write(key, meta, Vec::new(), 0, body, max).await
    }
}

/// Reads `body` into `head` until `total` reaches `upto` or the body ends (`true`), failing
/// with [`Error::TooLarge`] as soon as it passes `max`.
async fn fill<S>(
    body: &mut std::pin::Pin<&mut S>,
    head: &mut Vec<Bytes>,
    total: &mut u64,
    upto: u64,
    max: u64,
) -> Result<bool, Error>
where
    S: Stream<Item = Result<Bytes, Error>>,
{
    while *total < upto {
        let Some(chunk) = body.next().await else {
            return Ok(true);
        };
        let chunk = chunk?;
        *total += chunk.len() as u64;
        if *total > max {
            return Err(Error::TooLarge { limit: max });
        }
        head.push(chunk);
    }
    Ok(false)
}

/// Where a folder's multipart uploads are put together before they are linked into place.
pub(crate) const STAGING_DIR: &str = ".meta/staging";

/// What a write has put in the store so far, removed unless the write [`Cleanup::disarm`]s
/// it: on an error through [`Cleanup::run`], and when the writing future is dropped
/// half-way, on a task of its own (tracked by the storage, see [`Storage::settle`]) that
/// does not depend on anything polling the dropped future.
pub(crate) struct Cleanup {
    storage: Storage,
    /// The key being written, deleted (with its record) unless disarmed.
    key: Option<String>,
    /// A folder's staging name of a multipart upload.
    staging: Option<String>,
    /// A multipart upload in progress: aborted.
    upload: Option<WriteMultipart>,
    /// A single PUT in flight: waited for before deleting, so it cannot land afterwards.
    put: Option<tokio::task::JoinHandle<()>>,
}

impl Cleanup {
    pub(crate) fn new(storage: &Storage, key: &str) -> Cleanup {
        Cleanup {
            storage: storage.clone(),
            key: Some(key.to_owned()),
            staging: None,
            upload: None,
            put: None,
        }
    }

    /// Keeps the handle of a spawned PUT for the cleanup, and gives back a future of its
    /// result.
    fn watch<T: Send + 'static>(
        &mut self,
        task: tokio::task::JoinHandle<T>,
    ) -> impl std::future::Future<Output = Result<T, tokio::task::JoinError>> + use<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.put = Some(tokio::spawn(async move {
            let _ = tx.send(task.await);
        }));
        async move {
            match rx.await {
                Ok(r) => r,
                Err(_) => unreachable!("the watcher always sends"),
            }
        }
    }

    /// The write succeeded: keep everything.
    pub(crate) fn disarm(&mut self) {
        self.key = None;
        self.staging = None;
        self.upload = None;
        self.put = None;
    }

    /// Removes what the write left, now.
    pub(crate) async fn run(mut self) {
        let job = self.take_job();
        job.await;
    }

    fn take_job(&mut self) -> impl std::future::Future<Output = ()> + Send + 'static + use<> {
        let storage = self.storage.clone();
        let (key, staging, upload, put) = (
            self.key.take(),
            self.staging.take(),
            self.upload.take(),
            self.put.take(),
        );
        async move {
            if let Some(upload) = upload {
                let _ = upload.abort().await;
            }
            if let Some(put) = put {
                let _ = put.await;
            }
            if let Some(staging) = staging {
                let _ = storage
                    .inner
                    .store
                    .delete(&Path::from(staging.as_str()))
                    .await;
            }
            if let Some(key) = key {
                storage.remove_quietly(&key).await;
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.key.is_none() && self.staging.is_none() && self.upload.is_none() {
            return;
        }
        let job = self.take_job();
        self.storage.spawn_cleanup(job);
    }
}

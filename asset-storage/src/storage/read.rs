//! Reading: metadata, existence, downloads, deletion, listings and copies.

use std::ops::Range;

use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt as _};

use crate::Error;
use crate::name::{self, META_DIR};

use super::{Download, ListEntry, NewObject, Object, Page, Storage, entry};
use super::{PENDING_DIR, folder_list};
use crate::store::Location;

impl Storage {
    /// Metadata of `key`: size, content type, original name, modified (one request on S3,
    /// two file reads locally).
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::NotFound`], or the store failed.
    pub async fn metadata(&self, key: &str) -> Result<Object, Error> {
        name::check_key(key)?;
        let head = GetOptions {
            head: true,
            ..Default::default()
        };
        let (r, sidecar) = self.get_with_record(key, head).await?;
        let modified = Some(&r.meta.last_modified);
        Ok(self
            .describe_with(key, r.meta.size, modified, &r.attributes, sidecar)
            .0)
    }
    /// Whether `key` exists (one request).
    ///
    /// # Errors
    /// [`Error::InvalidName`], or the store failed.
    pub async fn exists(&self, key: &str) -> Result<bool, Error> {
        name::check_key(key)?;
        match self.inner.store.head(&Path::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err("checking", key, e)),
        }
    }

    /// Reads `key`, all of it or `range` (end exclusive, clamped to the size).
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::NotFound`], an unsatisfiable range, or the store
    /// failed.
    pub async fn open(&self, key: &str, range: Option<Range<u64>>) -> Result<Download, Error> {
        name::check_key(key)?;
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let (r, sidecar) = self.get_with_record(key, opts).await?;
        let (object, cache_control) = self.describe_with(
            key,
            r.meta.size,
            Some(&r.meta.last_modified),
            &r.attributes,
            sidecar,
        );
        let range = r.range.clone();
        let config = self.inner.settings.store.clone();
        let owned_key = key.to_owned();
        let store_error = move |e| Error::store("reading", owned_key.clone(), e, &config);
        let body = match r.payload {
            // object_store reads a file 8 KiB per blocking task; 256 KiB reads are several
            // times faster for anything but tiny files.
            GetResultPayload::File(file, _) => {
                let start = range.start;
                let len = range.end - range.start;
                let read = async move {
                    let mut file = tokio::fs::File::from_std(file);
                    tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(start))
                        .await?;
                    Ok::<_, std::io::Error>(tokio::io::AsyncReadExt::take(file, len))
                };
                let key = key.to_owned();
                futures::stream::once(read)
                    .map_ok(|f| tokio_util::io::ReaderStream::with_capacity(f, 256 << 10))
                    .try_flatten()
                    .map_err(move |e| Error::Io {
                        path: key.clone().into(),
                        source: e,
                    })
                    .boxed()
            }
            GetResultPayload::Stream(s) => s.map_err(store_error).boxed(),
        };
        Ok(Download {
            object,
            range,
            cache_control,
            body,
        })
    }

    /// Reads all of `key` into memory, at most `max` bytes.
    ///
    /// # Errors
    /// As [`Storage::open`], or [`Error::TooLarge`].
    pub async fn read(&self, key: &str, max: u64) -> Result<(Object, Bytes), Error> {
        let d = self.open(key, None).await?;
        if d.object.size > max {
            return Err(Error::TooLarge { limit: max });
        }
        let mut out = bytes::BytesMut::with_capacity(d.object.size as usize);
        let mut body = d.body;
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk?);
            if out.len() as u64 > max {
                return Err(Error::TooLarge { limit: max });
            }
        }
        Ok((d.object, out.freeze()))
    }

    /// Deletes `key`, its metadata and its thumbnails. Deleting what is not there is not an
    /// error.
    ///
    /// # Errors
    /// [`Error::InvalidName`], or the store failed.
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        name::check_key(key)?;
        let path = Path::from(key);
        match self.inner.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.err("deleting", key, e)),
        }
        self.forget_record(key).await;
        // Derived objects live in `_thumb/` beside an object made by `save`.
        if let Some((dir, _)) = key.rsplit_once('/')
            && !dir.ends_with("/_thumb")
        {
            let thumbs = Path::from(format!("{dir}/_thumb"));
            let derived: Vec<_> = self
                .inner
                .store
                .list(Some(&thumbs))
                .try_collect()
                .await
                .unwrap_or_default();
            for m in derived {
                let k = m.location.to_string();
                let _ = self.inner.store.delete(&m.location).await;
                self.forget_record(&k).await;
            }
        }
        Ok(())
    }

    /// One page of the objects whose keys start with `prefix` (a key prefix such as
    /// `public/avatars`), in key order, after the key `after`, at most `limit` of them.
    /// Thumbnails and metadata records are not listed.
    ///
    /// # Errors
    /// An invalid prefix, or the store failed.
    pub async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, Error> {
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            name::check_key(prefix)?;
        }
        if let Some(a) = after {
            name::check_key(a)?;
        }
        let limit = limit.max(1);
        let mut entries: Vec<ListEntry> = match &self.inner.settings.store.location {
            Location::File { path } => {
                let (root, under, after) =
                    (path.clone(), prefix.to_owned(), after.map(str::to_owned));
                tokio::task::spawn_blocking(move || {
                    folder_list::list(&root, &under, after.as_deref(), limit + 1)
                })
                .await
                .map_err(|e| Error::Config(format!("listing: {e}")))?
                .map_err(|source| Error::Io {
                    path: path.join(prefix),
                    source,
                })?
                .entries
            }
            Location::S3 { .. } => {
                let p = (!prefix.is_empty()).then(|| Path::from(prefix));
                let stream = match after {
                    Some(a) => self
                        .inner
                        .store
                        .list_with_offset(p.as_ref(), &Path::from(a)),
                    None => self.inner.store.list(p.as_ref()),
                };
                let keep = |m: &object_store::ObjectMeta| {
                    let k = m.location.as_ref();
                    !k.starts_with(META_DIR)
                        && k.split('/').next() != Some(PENDING_DIR)
                        && !k.contains("/_thumb/")
                };
                // S3 lists in key order: stop after one more than a page.
                stream
                    .try_filter(|m| futures::future::ready(keep(m)))
                    .take(limit + 1)
                    .map_ok(entry)
                    .try_collect()
                    .await
                    .map_err(|e| self.err("listing", prefix, e))?
            }
        };
        let next = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| e.key.clone())
        } else {
            None
        };
        Ok(Page {
            objects: entries,
            next,
        })
    }

    /// Every key below the storage's root (thumbnails included, metadata records not), for
    /// [`crate::sync`].
    pub(crate) async fn list_all(&self) -> Result<(Vec<ListEntry>, Vec<String>), Error> {
        let mut all = Vec::new();
        // Names object_store cannot read as keys (a foreign file such as `100%`) are set
        // aside, not a reason to stop.
        let mut unreadable = Vec::new();
        let mut stream = self.inner.store.list(None);
        while let Some(m) = stream.next().await {
            match m {
                Ok(m) => {
                    let k = m.location.as_ref();
                    if !k.starts_with(META_DIR) && k.split('/').next() != Some(PENDING_DIR) {
                        all.push(entry(m));
                    }
                }
                Err(object_store::Error::InvalidPath { source }) => {
                    unreadable.push(crate::one_line(&source.to_string()));
                }
                Err(e) => return Err(self.err("listing", "", e)),
            }
        }
        all.sort_by(|a, b| a.key.cmp(&b.key));
        Ok((all, unreadable))
    }

    /// Copies `key` to a new server-made key under `prefix` (a use prefix such as
    /// `archive`), with the same visibility, content type and original name.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::NotFound`], or the store failed.
    pub async fn copy(&self, key: &str, prefix: &str) -> Result<Object, Error> {
        name::check_use_prefix(prefix)?;
        let source = self.metadata(key).await?;
        let new = name::new_key(source.visibility, prefix, &source.original_name)?;
        self.copy_bytes(key, &new)
            .await
            .map_err(|e| self.err("copying", key, e))?;
        let meta = NewObject {
            content_type: source.content_type.clone(),
            original_name: source.original_name.clone(),
            cache_control: None,
        };
        if let Err(e) = self.keep_record(&new, &meta).await {
            self.remove_quietly(&new).await;
            return Err(e);
        }
        Ok(Object {
            key: new,
            modified_ms: None,
            ..source
        })
    }
}

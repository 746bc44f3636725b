//! An object's record (type, original name, cache control): object attributes on S3, a
//! `.meta/<key>.json` sidecar in a local folder, which keeps no attributes. [`Records`] is
//! the one place that difference is decided: writing, reading, copying and deleting a
//! record go through it.

use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, GetResult, ObjectStore, ObjectStoreExt as _,
};

use crate::Error;
use crate::name::{META_DIR, Visibility};
use crate::sniff::{self};

use super::{NewObject, Object, Sidecar, Storage};

/// Where a store keeps objects' records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Records {
    /// With the object, as attributes and `x-amz-meta-*` (S3): written by the same request
    /// as the bytes, copied with them.
    Attributes,
    /// In a file of its own under `.meta/` (a folder, which keeps no attributes).
    Sidecar,
}

impl Storage {
    pub(crate) fn records(&self) -> Records {
        if self.inner.settings.store.keeps_attributes() {
            Records::Attributes
        } else {
            Records::Sidecar
        }
    }

    /// The attributes a write of `key` sends (none where records are sidecars).
    pub(crate) fn attributes(&self, key: &str, meta: &NewObject) -> Attributes {
        let mut a = Attributes::new();
        if self.records() == Records::Sidecar {
            return a;
        }
        a.insert(Attribute::ContentType, meta.content_type.clone().into());
        a.insert(
            Attribute::ContentDisposition,
            sniff::content_disposition(&meta.content_type, &meta.original_name).into(),
        );
        let cache = meta
            .cache_control
            .clone()
            .unwrap_or_else(|| self.default_cache(Visibility::of(key)));
        a.insert(Attribute::CacheControl, cache.into());
        if let Some(class) = &self.inner.settings.storage_class {
            a.insert(Attribute::StorageClass, class.clone().into());
        }
        a.insert(
            Attribute::Metadata("original-name".into()),
            percent_encoding::utf8_percent_encode(
                &meta.original_name,
                percent_encoding::NON_ALPHANUMERIC,
            )
            .to_string()
            .into(),
        );
        a
    }

    /// After `key`'s bytes are stored: its record, where that is a file of its own.
    pub(crate) async fn keep_record(&self, key: &str, meta: &NewObject) -> Result<(), Error> {
        match self.records() {
            Records::Attributes => Ok(()),
            Records::Sidecar => self.write_sidecar(key, meta).await,
        }
    }

    /// Reads `key` (or its head, per `opts`) with its record: one request where the record
    /// is attributes, both files at once where it is a sidecar.
    pub(crate) async fn get_with_record(
        &self,
        key: &str,
        opts: GetOptions,
    ) -> Result<(GetResult, Option<Sidecar>), Error> {
        let path = Path::from(key);
        let (r, sidecar) = match self.records() {
            Records::Attributes => (self.inner.store.get_opts(&path, opts).await, None),
            Records::Sidecar => {
                let (r, s) = tokio::join!(
                    self.inner.store.get_opts(&path, opts),
                    self.read_sidecar(key)
                );
                (r, s?)
            }
        };
        Ok((r.map_err(|e| self.err("reading", key, e))?, sidecar))
    }

    /// Copies `from`'s bytes to the new key `to`, which nothing else may write (128 random
    /// bits): CopyObject keeps S3's attributes (copy-if-not-exists would need a lock
    /// configured on S3); a folder's copy is create-only and its record comes after
    /// ([`Storage::keep_record`]).
    pub(crate) async fn copy_bytes(&self, from: &str, to: &str) -> object_store::Result<()> {
        let (from, to) = (Path::from(from), Path::from(to));
        match self.records() {
            Records::Attributes => self.inner.store.copy(&from, &to).await,
            Records::Sidecar => self.inner.store.copy_if_not_exists(&from, &to).await,
        }
    }

    /// Deletes `key`'s record where it is a file of its own, ignoring failures.
    pub(crate) async fn forget_record(&self, key: &str) {
        if self.records() == Records::Sidecar {
            let _ = self.inner.store.delete(&Self::sidecar_path(key)).await;
        }
    }

    pub(crate) fn sidecar_path(key: &str) -> Path {
        Path::from(format!("{META_DIR}/{key}.json"))
    }

    pub(crate) async fn write_sidecar(&self, key: &str, meta: &NewObject) -> Result<(), Error> {
        let record = Sidecar {
            content_type: meta.content_type.clone(),
            original_name: meta.original_name.clone(),
            cache_control: meta.cache_control.clone(),
        };
        let json = serde_json::to_vec(&record).expect("a sidecar serialises");
        self.inner
            .store
            .put(&Self::sidecar_path(key), json.into())
            .await
            .map_err(|e| self.err("saving metadata of", key, e))?;
        Ok(())
    }

    pub(crate) async fn read_sidecar(&self, key: &str) -> Result<Option<Sidecar>, Error> {
        match self.inner.store.get(&Self::sidecar_path(key)).await {
            Ok(r) => {
                let bytes = r
                    .bytes()
                    .await
                    .map_err(|e| self.err("reading metadata of", key, e))?;
                Ok(serde_json::from_slice(&bytes).ok())
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("reading metadata of", key, e)),
        }
    }

    /// The object `key` describes with its record (attributes or sidecar), and its stored
    /// Cache-Control.
    pub(crate) fn describe_with(
        &self,
        key: &str,
        size: u64,
        modified: Option<&chrono::DateTime<chrono::Utc>>,
        attributes: &Attributes,
        sidecar: Option<Sidecar>,
    ) -> (Object, Option<String>) {
        let (content_type, original_name, cache) = if self.records() == Records::Attributes {
            let get = |a: &Attribute| attributes.get(a).map(|v| v.to_string());
            let name = get(&Attribute::Metadata("original-name".into()))
                .and_then(|n| {
                    percent_encoding::percent_decode_str(&n)
                        .decode_utf8()
                        .ok()
                        .map(|s| s.into_owned())
                })
                .or_else(|| {
                    get(&Attribute::ContentDisposition)
                        .and_then(|d| sniff::name_from_disposition(&d))
                });
            (
                get(&Attribute::ContentType),
                name,
                get(&Attribute::CacheControl),
            )
        } else {
            match sidecar {
                Some(s) => (Some(s.content_type), Some(s.original_name), s.cache_control),
                None => (None, None, None),
            }
        };
        let fallback_name = key.rsplit('/').next().unwrap_or("file").to_owned();
        (
            Object {
                key: key.to_owned(),
                size,
                // An object without a record is served as what it cannot harm as.
                content_type: content_type.unwrap_or_else(|| "application/octet-stream".into()),
                original_name: original_name.unwrap_or(fallback_name),
                visibility: Visibility::of(key).unwrap_or(Visibility::Private),
                modified_ms: modified.map(|m| m.timestamp_millis().max(0) as u64),
            },
            cache,
        )
    }
}

impl Storage {
    /// Deletes `key` and its record, ignoring failures: for cleanups, which have nobody to
    /// tell (what they miss, `media gc` finds).
    pub(crate) async fn remove_quietly(&self, key: &str) {
        let _ = self.inner.store.delete(&Path::from(key)).await;
        self.forget_record(key).await;
    }
}

//! An object's record (type, original name, cache control): object attributes on S3, a
//! `.meta/<key>.json` sidecar in a local folder, which keeps no attributes.

use object_store::path::Path;
use object_store::{Attribute, Attributes, ObjectStoreExt as _};

use crate::Error;
use crate::name::{META_DIR, Visibility};
use crate::sniff::{self};

use super::{NewObject, Object, Sidecar, Storage};

impl Storage {
    pub(crate) fn attributes(&self, key: &str, meta: &NewObject) -> Attributes {
        let mut a = Attributes::new();
        if !self.keeps_attributes() {
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

    /// The object's record from its attributes (S3) or sidecar (local), and its stored
    /// Cache-Control.
    pub(crate) async fn describe(
        &self,
        key: &str,
        size: u64,
        modified: Option<&chrono::DateTime<chrono::Utc>>,
        attributes: &Attributes,
    ) -> Result<(Object, Option<String>), Error> {
        let sidecar = if self.keeps_attributes() {
            None
        } else {
            self.read_sidecar(key).await?
        };
        Ok(self.describe_with(key, size, modified, attributes, sidecar))
    }

    pub(crate) fn describe_with(
        &self,
        key: &str,
        size: u64,
        modified: Option<&chrono::DateTime<chrono::Utc>>,
        attributes: &Attributes,
        sidecar: Option<Sidecar>,
    ) -> (Object, Option<String>) {
        let (content_type, original_name, cache) = if self.keeps_attributes() {
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
        if !self.keeps_attributes() {
            let _ = self.inner.store.delete(&Self::sidecar_path(key)).await;
        }
    }
}

//! Reading the destination: its current manifest, its listing, object keys, and a stored
//! variant's bytes decoded. Publish, verify and prune all read it this way (none of them
//! imports another).

use std::collections::HashMap;
use std::io::Read as _;

use futures::TryStreamExt as _;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt as _};

use asset_manifest::{Encoding, FILE_NAME};

use crate::plan::Remote;
use crate::{Error, StoreSettings};

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
pub(crate) async fn remotes(
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

/// `body` decoded from `encoding` (as is without one).
pub(crate) fn decode(body: &[u8], encoding: Option<Encoding>) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    match encoding {
        Some(Encoding::Gzip) => {
            flate2::read::GzDecoder::new(body).read_to_end(&mut out)?;
        }
        Some(Encoding::Br) => {
            out = unbrotli(body)?;
        }
        None => out.extend_from_slice(body),
    }
    Ok(out)
}

/// A brotli stream decoded.
fn unbrotli(br: &[u8]) -> std::io::Result<Vec<u8>> {
    let bad = |e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
    };
    mbrotli::Decompressor::new(mbrotli::DecoderConfig::default())
        .map_err(|e| bad(&e))?
        .decompress(br)
        .map_err(|e| bad(&e))
}

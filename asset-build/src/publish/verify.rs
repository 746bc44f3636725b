//! `verify`: every object the destination's `manifest.json` names exists with the right
//! size and headers; `--deep` also fetches each one and compares its sha256 (variants are
//! decompressed first).

use std::io::Read as _;

use futures::StreamExt as _;
use object_store::{Attribute, GetOptions, ObjectStore};

use super::plan::objects;
use super::upload::{current_manifest, key, listing};
use super::{Error, StoreSettings};
use crate::manifest::{FILE_NAME, Manifest};

/// What is wrong at the destination, one line each (empty: all is well), and the manifest.
///
/// # Errors
/// The destination cannot be listed, or has no readable `manifest.json`.
pub async fn verify(
    settings: &StoreSettings,
    deep: bool,
) -> Result<(Manifest, Vec<String>), Error> {
    let store = settings.store()?;
    let Some(bytes) = current_manifest(store.as_ref(), settings).await? else {
        return Err(Error::Config(format!(
            "{}: no {FILE_NAME} (nothing published yet?)",
            settings.location()
        )));
    };
    let manifest = Manifest::from_json(&bytes)
        .map_err(|e| Error::Config(format!("{}/{FILE_NAME}: {e}", settings.location())))?;
    let list = listing(store.as_ref(), settings).await?;
    let needed = objects(&manifest, std::path::Path::new(""), settings.variants);
    let sha_of: std::collections::HashMap<&str, &str> = manifest
        .assets
        .values()
        .flat_map(|e| {
            std::iter::once((e.path.as_str(), e.sha256.as_str())).chain(
                e.encodings
                    .values()
                    .map(|v| (v.path.as_str(), e.sha256.as_str())),
            )
        })
        .collect();
    let checks = needed.iter().map(|u| {
        let store = &store;
        let list = &list;
        let sha = sha_of.get(u.key.as_str()).copied().unwrap_or_default();
        async move {
            let mut wrong = Vec::new();
            match list.get(&u.key) {
                None => {
                    wrong.push(format!("{}: missing", u.key));
                    return wrong;
                }
                // Another compression of the same bytes is as good: `--deep` decodes it.
                Some((size, _)) if *size != u.size && !super::plan::is_variant(u) => {
                    wrong.push(format!("{}: {size} bytes, expected {}", u.key, u.size))
                }
                Some(_) => {}
            }
            let k = match key(&u.key) {
                Ok(k) => k,
                Err(e) => return vec![e.to_string()],
            };
            let result = store.get_opts(&k, GetOptions::new().with_head(!deep)).await;
            let result = match result {
                Ok(r) => r,
                Err(e) => return vec![format!("{}: {}", u.key, settings.redact(&e.to_string()))],
            };
            if settings.keeps_headers() {
                let attr = |a: &Attribute| result.attributes.get(a).map(|v| v.to_string());
                if attr(&Attribute::ContentType).as_deref() != Some(u.content_type.as_str()) {
                    wrong.push(format!(
                        "{}: Content-Type {:?}, expected {:?}",
                        u.key,
                        attr(&Attribute::ContentType),
                        u.content_type
                    ));
                }
                if attr(&Attribute::CacheControl).as_deref()
                    != Some(settings.cache_control.as_str())
                {
                    wrong.push(format!(
                        "{}: Cache-Control {:?}, expected {:?}",
                        u.key,
                        attr(&Attribute::CacheControl),
                        settings.cache_control
                    ));
                }
                if attr(&Attribute::ContentEncoding).as_deref() != u.content_encoding {
                    wrong.push(format!(
                        "{}: Content-Encoding {:?}, expected {:?}",
                        u.key,
                        attr(&Attribute::ContentEncoding),
                        u.content_encoding
                    ));
                }
            }
            if deep {
                match result.bytes().await {
                    Ok(body) => match decode(&body, u.content_encoding) {
                        Ok(plain) if crate::hash::sha256_hex(&plain) == sha => {}
                        Ok(_) => wrong.push(format!(
                            "{}: content differs from the build (sha256)",
                            u.key
                        )),
                        Err(e) => wrong.push(format!(
                            "{}: cannot decode {:?}: {e}",
                            u.key, u.content_encoding
                        )),
                    },
                    Err(e) => wrong.push(format!("{}: {}", u.key, settings.redact(&e.to_string()))),
                }
            }
            wrong
        }
    });
    let mut wrong: Vec<String> = futures::stream::iter(checks)
        .buffer_unordered(settings.concurrency.max(1))
        .concat()
        .await;
    wrong.sort();
    Ok((manifest, wrong))
}

pub(crate) fn decode(body: &[u8], encoding: Option<&str>) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    match encoding {
        Some("gzip") => {
            flate2::read::GzDecoder::new(body).read_to_end(&mut out)?;
        }
        Some("br") => {
            brotlic::DecompressorReader::new(body).read_to_end(&mut out)?;
        }
        _ => out.extend_from_slice(body),
    }
    Ok(out)
}

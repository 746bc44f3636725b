//! `verify`: every object the destination's `manifest.json` names exists with the right
//! size and headers; `--deep` also fetches each one and compares its sha256 (variants are
//! decompressed first); `--base-url` also reads the assets through the public URL
//! ([`crate::check_public`]).

use futures::StreamExt as _;
use std::collections::HashMap;

use object_store::{Attribute, Attributes, GetOptions, ObjectStore};

use asset_manifest::{Encoding, FILE_NAME, Manifest};

use crate::plan::{Upload, objects};
use crate::remote::{current_manifest, decode, key, listing};
use crate::{Error, PublicCheck, StoreSettings};

/// What `verify` checks beyond presence, size and headers.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Fetch every object and compare its sha256 with the build's, variants decoded first
    /// (`--deep`).
    pub deep: bool,
    /// Also read the stylesheets, scripts and fonts through the public URL, as a page on
    /// another origin does (`--base-url`, `--origin`).
    pub public: Option<PublicCheck>,
}

/// What `verify` found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The destination's `manifest.json`.
    pub manifest: Manifest,
    /// What is wrong, one line each, sorted (empty: all is well).
    pub wrong: Vec<String>,
}

/// Checks the destination of `settings` against its own `manifest.json`.
///
/// # Errors
/// The destination cannot be listed, or has no readable `manifest.json`, or the public
/// check's base URL is not http(s).
pub async fn verify(
    settings: &StoreSettings,
    options: &VerifyOptions,
) -> Result<VerifyReport, Error> {
    let (manifest, mut wrong) = verify_store(settings, options.deep).await?;
    if let Some(public) = &options.public {
        let origin = &public.origin;
        let base = &public.base_url;
        wrong.extend(crate::check_public(&manifest, base, origin, settings.concurrency).await?);
    }
    Ok(VerifyReport { manifest, wrong })
}

/// The manifest and what is wrong with the objects it names.
async fn verify_store(
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
    let sha_of = crate::plan::sha256_of_keys(&manifest);
    let checks = needed.iter().map(|u| {
        let sha = sha_of.get(u.key.as_str()).copied().unwrap_or_default();
        check_object(store.as_ref(), settings, &list, u, sha, deep)
    });
    let mut wrong: Vec<String> = futures::stream::iter(checks)
        .buffer_unordered(settings.concurrency.max(1))
        .concat()
        .await;
    wrong.sort();
    Ok((manifest, wrong))
}

/// What is wrong with one object: presence and size from the listing, headers from a HEAD
/// (or, with `deep`, a GET whose body must decode to the build's bytes, `sha`).
async fn check_object(
    store: &dyn ObjectStore,
    settings: &StoreSettings,
    list: &HashMap<String, (u64, i64)>,
    u: &Upload,
    sha: &str,
    deep: bool,
) -> Vec<String> {
    let mut wrong = Vec::new();
    match list.get(&u.key) {
        None => return vec![format!("{}: missing", u.key)],
        // Another compression of the same bytes is as good: `--deep` decodes it.
        Some((size, _)) if *size != u.size && !crate::plan::is_variant(u) => {
            wrong.push(format!("{}: {size} bytes, expected {}", u.key, u.size))
        }
        Some(_) => {}
    }
    let k = match key(&u.key) {
        Ok(k) => k,
        Err(e) => return vec![e.to_string()],
    };
    let result = match store.get_opts(&k, GetOptions::new().with_head(!deep)).await {
        Ok(r) => r,
        Err(e) => return vec![format!("{}: {}", u.key, settings.redact(&e.to_string()))],
    };
    if settings.keeps_headers() {
        wrong.extend(wrong_headers(settings, u, &result.attributes));
    }
    if deep {
        match result.bytes().await {
            Ok(body) => match decode(&body, u.content_encoding) {
                Ok(plain) if asset_manifest::hash::sha256_hex(&plain) == sha => {}
                Ok(_) => wrong.push(format!(
                    "{}: content differs from the build (sha256)",
                    u.key
                )),
                Err(e) => wrong.push(format!(
                    "{}: cannot decode {:?}: {e}",
                    u.key,
                    u.content_encoding.map(Encoding::as_str)
                )),
            },
            Err(e) => wrong.push(format!("{}: {}", u.key, settings.redact(&e.to_string()))),
        }
    }
    wrong
}

/// Content-Type, Cache-Control and Content-Encoding that differ from what publish writes.
fn wrong_headers(settings: &StoreSettings, u: &Upload, attributes: &Attributes) -> Vec<String> {
    let attr = |a: &Attribute| attributes.get(a).map(|v| v.to_string());
    let expected = [
        (
            Attribute::ContentType,
            "Content-Type",
            Some(u.content_type.as_str()),
        ),
        (
            Attribute::CacheControl,
            "Cache-Control",
            Some(settings.cache_control.as_str()),
        ),
        (
            Attribute::ContentEncoding,
            "Content-Encoding",
            u.content_encoding.map(Encoding::as_str),
        ),
    ];
    expected
        .into_iter()
        .filter(|(a, _, want)| attr(a).as_deref() != *want)
        .map(|(a, name, want)| {
            format!(
                "{}: {name} {:?}, expected {:?}",
                u.key,
                attr(&a),
                want.unwrap_or_default()
            )
        })
        .collect()
}

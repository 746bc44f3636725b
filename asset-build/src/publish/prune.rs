//! `prune`: delete what no kept generation references. Kept: the newest N generations, those
//! younger than an age, and the current `manifest.json`. Only objects that are ours are
//! candidates (named by a generation, or hashed names), and an unreferenced object younger
//! than an hour is spared: it may belong to a publish still under way.

use std::collections::HashSet;
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use object_store::{ObjectStore, ObjectStoreExt as _};

use super::plan::objects;
use super::upload::{current_manifest, key, listing};
use super::{Error, GENERATIONS, Generation, StoreSettings, Variants};
use crate::manifest::{FILE_NAME, Manifest};

/// What to keep.
#[derive(Debug, Clone)]
pub struct PruneOptions {
    pub keep: usize,
    pub older_than: Option<Duration>,
    /// Delete; without it, only report.
    pub apply: bool,
}

/// What a prune kept and removed (or would remove).
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub kept_generations: Vec<String>,
    pub removed_generations: Vec<String>,
    pub delete: Vec<String>,
    pub deleted: usize,
}

const IN_FLIGHT: i64 = 3600;

/// Plans the prune and, with `apply`, deletes in batches.
///
/// # Errors
/// Listing, reading a generation record, or a delete failed.
pub async fn prune(settings: &StoreSettings, opts: &PruneOptions) -> Result<PruneReport, Error> {
    let store = settings.store()?;
    let list = listing(store.as_ref(), settings).await?;
    let mut generations = Vec::new();
    for k in list
        .keys()
        .filter(|k| k.starts_with(GENERATIONS) && k.ends_with(".json"))
    {
        let body = store
            .get(&key(k)?)
            .await
            .map_err(|e| Error::store("reading", k, e, settings))?;
        let bytes = body
            .bytes()
            .await
            .map_err(|e| Error::store("reading", k, e, settings))?;
        let g: Generation = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Config(format!("{k}: not a generation record: {e}")))?;
        generations.push((k.clone(), g));
    }
    generations.sort_by(|a, b| {
        b.1.published_at_ms
            .cmp(&a.1.published_at_ms)
            .then_with(|| a.0.cmp(&b.0))
    });
    let current = match current_manifest(store.as_ref(), settings).await? {
        Some(b) => {
            Some(Manifest::from_json(&b).map_err(|e| Error::Config(format!("{FILE_NAME}: {e}")))?)
        }
        None => None,
    };
    let now = super::now_ms();
    let mut report = PruneReport::default();
    let mut keep_keys: HashSet<String> = HashSet::from([FILE_NAME.to_owned()]);
    let mut known: HashSet<String> = HashSet::new();
    let every = [Variants::Separate, Variants::Gzipped];
    let refs = |m: &Manifest| {
        every
            .iter()
            .flat_map(|v| objects(m, std::path::Path::new(""), *v))
            .map(|u| u.key)
            .collect::<Vec<_>>()
    };
    if let Some(m) = &current {
        keep_keys.extend(refs(m));
    }
    for (i, (k, g)) in generations.iter().enumerate() {
        let young = opts
            .older_than
            .is_some_and(|age| now.saturating_sub(g.published_at_ms) < age.as_millis() as u64);
        let is_current = current.as_ref().is_some_and(|m| m.id == g.id);
        let r = refs(&g.manifest);
        known.extend(r.iter().cloned());
        if i < opts.keep || young || is_current {
            keep_keys.insert(k.clone());
            keep_keys.extend(r);
            report.kept_generations.push(g.id.clone());
        } else {
            report.removed_generations.push(g.id.clone());
        }
    }
    let now_ts = (now / 1000) as i64;
    for (k, (_, modified)) in &list {
        if keep_keys.contains(k) {
            continue;
        }
        let record = k.starts_with(GENERATIONS) && k.ends_with(".json");
        let ours = known.contains(k) || record;
        let orphan = !ours && looks_hashed(k) && now_ts - modified > IN_FLIGHT;
        if ours || orphan {
            report.delete.push(k.clone());
        }
    }
    report.delete.sort();
    if opts.apply && !report.delete.is_empty() {
        let keys: Vec<_> = report
            .delete
            .iter()
            .map(|k| key(k))
            .collect::<Result<_, _>>()?;
        let stream = futures::stream::iter(keys.into_iter().map(Ok)).boxed();
        let deleted: Vec<_> = store
            .delete_stream(stream)
            .try_collect()
            .await
            .map_err(|e| Error::store("deleting", "objects", e, settings))?;
        report.deleted = deleted.len();
    }
    Ok(report)
}

/// `name.<16 hex>.ext`, with an optional `.br`/`.gz`: a file this pipeline named.
fn looks_hashed(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    let name = name
        .strip_suffix(".br")
        .or_else(|| name.strip_suffix(".gz"))
        .unwrap_or(name);
    name.split('.').any(|part| {
        part.len() == crate::hash::NAME_HASH_LEN
            && part
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashed_names_are_recognised() {
        assert!(super::looks_hashed("css/app.0123456789abcdef.css"));
        assert!(super::looks_hashed("css/app.0123456789abcdef.css.br"));
        assert!(!super::looks_hashed("css/app.css"));
        assert!(!super::looks_hashed("index.html"));
    }
}

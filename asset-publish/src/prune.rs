//! `prune`: delete what only dropped generations reference. Kept: the newest N generations,
//! those younger than `--older-than`, those younger than the grace period (a publish may be
//! under way), and the current `manifest.json`'s. Only keys that some generation record names
//! are ever candidates: a prefix shared with other files loses nothing that is not ours, and
//! an object of a dropped generation changed within the grace period is spared too.
//!
//! Deleting is a second step ([`apply`]) that reads `manifest.json` and the generation records
//! again first, so a publish that finished (or wrote its record) since the plan keeps every
//! object it names.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use object_store::{ObjectStore, ObjectStoreExt as _};

use crate::plan::objects;
use crate::remote::{current_manifest, key, listing};
use crate::{Error, GENERATIONS, Generation, StoreSettings, Variants};
use asset_manifest::{FILE_NAME, Manifest};

/// What to keep.
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// The newest generations kept whatever their age (`--keep`).
    pub keep: usize,
    /// Generations younger than this are kept too (`--older-than`).
    pub older_than: Option<Duration>,
    /// Delete; without it, only report.
    pub apply: bool,
    /// Generations published, and objects changed, within this time are never deleted.
    pub grace: Duration,
}

impl PruneOptions {
    /// Keep the newest `keep` generations; the default grace of an hour.
    pub fn keep(keep: usize) -> PruneOptions {
        PruneOptions {
            keep,
            older_than: None,
            apply: false,
            grace: DEFAULT_GRACE,
        }
    }
}

/// The default grace period: longer than any publish takes.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// What a prune kept and removed (or would remove).
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    /// Ids of the generations kept.
    pub kept_generations: Vec<String>,
    /// Ids of the generations dropped.
    pub removed_generations: Vec<String>,
    /// Keys deleted (with `apply`) or that would be, sorted.
    pub delete: Vec<String>,
    /// Planned deletions spared because a publish started using them since the plan.
    pub spared: Vec<String>,
    /// How many objects the store deleted.
    pub deleted: usize,
    /// When the plan was made (ms since the epoch): a record rewritten after it is live.
    pub planned_at_ms: u64,
}

/// What the destination holds that prune decides on.
struct State {
    list: HashMap<String, (u64, i64)>,
    /// Record key and generation, newest first.
    generations: Vec<(String, Generation)>,
    current: Option<Manifest>,
}

/// Every key a manifest references, however its variants are stored.
fn references(m: &Manifest) -> impl Iterator<Item = String> + '_ {
    [Variants::Separate, Variants::Gzipped]
        .into_iter()
        .flat_map(move |v| objects(m, std::path::Path::new(""), v))
        .map(|u| u.key)
}

async fn read_state(store: &dyn ObjectStore, settings: &StoreSettings) -> Result<State, Error> {
    let list = listing(store, settings).await?;
    let mut generations = Vec::new();
    for k in list
        .keys()
        .filter(|k| k.starts_with(GENERATIONS) && k.ends_with(".json"))
    {
        let bytes = match store.get(&key(k)?).await {
            Ok(r) => r
                .bytes()
                .await
                .map_err(|e| Error::store("reading", k, e, settings))?,
            // Deleted by another prune since the listing.
            Err(object_store::Error::NotFound { .. }) => continue,
            Err(e) => return Err(Error::store("reading", k, e, settings)),
        };
        let g: Generation = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Config(format!("{k}: not a generation record: {e}")))?;
        generations.push((k.clone(), g));
    }
    generations.sort_by(|a, b| {
        b.1.published_at_ms
            .cmp(&a.1.published_at_ms)
            .then_with(|| a.0.cmp(&b.0))
    });
    let current = match current_manifest(store, settings).await? {
        Some(b) => {
            Some(Manifest::from_json(&b).map_err(|e| Error::Config(format!("{FILE_NAME}: {e}")))?)
        }
        None => None,
    };
    Ok(State {
        list,
        generations,
        current,
    })
}

/// The pure decision: which generations stay, which keys go.
fn decide(state: &State, opts: &PruneOptions, now_ms: u64) -> PruneReport {
    let mut report = PruneReport {
        planned_at_ms: now_ms,
        ..PruneReport::default()
    };
    let mut keep_keys: HashSet<String> = HashSet::from([FILE_NAME.to_owned()]);
    let mut dropped: HashSet<String> = HashSet::new();
    if let Some(m) = &state.current {
        keep_keys.extend(references(m));
    }
    let within = |age: Duration, ms: u64| now_ms.saturating_sub(ms) < age.as_millis() as u64;
    for (i, (k, g)) in state.generations.iter().enumerate() {
        let young = opts
            .older_than
            .is_some_and(|a| within(a, g.published_at_ms));
        let is_current = state.current.as_ref().is_some_and(|m| m.id == g.id);
        if i < opts.keep || young || is_current || within(opts.grace, g.published_at_ms) {
            keep_keys.insert(k.clone());
            keep_keys.extend(references(&g.manifest));
            report.kept_generations.push(g.id.clone());
        } else {
            dropped.insert(k.clone());
            dropped.extend(references(&g.manifest));
            report.removed_generations.push(g.id.clone());
        }
    }
    let now_s = (now_ms / 1000) as i64;
    for k in dropped {
        let Some((_, modified)) = state.list.get(&k) else {
            continue;
        };
        let settled = now_s - modified >= opts.grace.as_secs() as i64;
        if !keep_keys.contains(&k) && settled {
            report.delete.push(k);
        }
    }
    report.delete.sort();
    report
}

/// Plans the prune (one listing, the records, the manifest) and, with `apply`, deletes.
///
/// # Errors
/// Listing, reading a generation record, or a delete failed.
pub async fn prune(settings: &StoreSettings, opts: &PruneOptions) -> Result<PruneReport, Error> {
    let store = settings.store()?;
    let state = read_state(store.as_ref(), settings).await?;
    let report = decide(&state, opts, crate::now_ms());
    if opts.apply {
        apply(settings, report).await
    } else {
        Ok(report)
    }
}

/// Deletes what `report` plans to, less whatever the destination's `manifest.json` and
/// generation records reference now (read again just before deleting).
///
/// # Errors
/// Listing, reading a record or the manifest, or a delete failed.
pub async fn apply(
    settings: &StoreSettings,
    mut report: PruneReport,
) -> Result<PruneReport, Error> {
    if report.delete.is_empty() {
        return Ok(report);
    }
    let store = settings.store()?;
    let now = read_state(store.as_ref(), settings).await?;
    let removed: HashSet<&String> = report.removed_generations.iter().collect();
    let mut live: HashSet<String> = HashSet::new();
    if let Some(m) = &now.current {
        live.extend(references(m));
    }
    for (k, g) in &now.generations {
        // A generation published again since the plan (a rollback) is live again.
        if !removed.contains(&g.id) || g.published_at_ms > report.planned_at_ms {
            live.insert(k.clone());
            live.extend(references(&g.manifest));
        }
    }
    let (spared, delete): (Vec<String>, Vec<String>) =
        report.delete.drain(..).partition(|k| live.contains(k));
    report.spared = spared;
    report.delete = delete;
    // Records first: a generation whose record is gone is never half-deleted yet counted.
    let mut order = report.delete.clone();
    order.sort_by_key(|k| !(k.starts_with(GENERATIONS) && k.ends_with(".json")));
    let keys: Vec<_> = order.iter().map(|k| key(k)).collect::<Result<_, _>>()?;
    let stream = futures::stream::iter(keys.into_iter().map(Ok)).boxed();
    let deleted: Vec<_> = store
        .delete_stream(stream)
        .try_collect()
        .await
        .map_err(|e| Error::store("deleting", "objects", e, settings))?;
    report.deleted = deleted.len();
    Ok(report)
}

/// The plan alone (what `prune` without `apply` reports), for callers that apply it later
/// with [`apply`].
///
/// # Errors
/// As [`prune`].
pub async fn plan_prune(
    settings: &StoreSettings,
    opts: &PruneOptions,
) -> Result<PruneReport, Error> {
    prune(
        settings,
        &PruneOptions {
            apply: false,
            ..opts.clone()
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(id: &str, files: &[&str]) -> Manifest {
        let mut assets = serde_json::Map::new();
        for f in files {
            assets.insert(
                format!("{f}.src"),
                serde_json::json!({"path": f, "size": 1, "content_type": "text/plain",
                    "integrity": "sha384-x", "sha256": "00", "encodings": {}}),
            );
        }
        let v = serde_json::json!({"version": 1, "id": id, "assets": assets});
        Manifest::from_json(v.to_string().as_bytes()).unwrap()
    }

    fn state(gens: &[(&str, u64, &[&str])], current: &str, list: &[(&str, i64)]) -> State {
        let generations: Vec<(String, Generation)> = gens
            .iter()
            .map(|(id, at, files)| {
                (
                    format!("{GENERATIONS}{id}.json"),
                    Generation {
                        id: (*id).into(),
                        published_at_ms: *at,
                        manifest: manifest(id, files),
                    },
                )
            })
            .collect();
        let current = generations
            .iter()
            .find(|(_, g)| g.id == current)
            .map(|(_, g)| g.manifest.clone());
        let mut map: HashMap<String, (u64, i64)> = list
            .iter()
            .map(|(k, t)| ((*k).to_owned(), (1, *t)))
            .collect();
        for (k, _) in &generations {
            map.insert(k.clone(), (1, 0));
        }
        State {
            list: map,
            generations,
            current,
        }
    }

    #[test]
    fn only_keys_of_dropped_generations_go_never_other_files() {
        let day = 86_400_000;
        let s = state(
            &[
                (
                    "new",
                    10 * day,
                    &["a.1111111111111111.css", "shared.2222222222222222.png"],
                ),
                (
                    "old",
                    day,
                    &["a.0000000000000000.css", "shared.2222222222222222.png"],
                ),
            ],
            "new",
            &[
                ("a.1111111111111111.css", 0),
                ("a.0000000000000000.css", 0),
                ("shared.2222222222222222.png", 0),
                // Other people's files under the same prefix, hashed-looking and old.
                ("db.2024010112300000.sql", 0),
                ("reports/q3.0123456789abcdef.pdf", 0),
            ],
        );
        let r = decide(&s, &PruneOptions::keep(1), 11 * day);
        assert_eq!(r.removed_generations, ["old"]);
        assert_eq!(r.delete, ["a.0000000000000000.css", "manifests/old.json"]);
    }

    #[test]
    fn the_grace_period_spares_young_generations_and_objects() {
        let hour = 3_600_000;
        let s = state(
            &[
                ("new", 10 * hour, &["a.1111111111111111.css"]),
                ("recent", 9 * hour + hour / 2, &["b.1111111111111111.css"]),
                (
                    "old",
                    hour,
                    &["c.1111111111111111.css", "d.1111111111111111.css"],
                ),
            ],
            "new",
            &[
                ("a.1111111111111111.css", 0),
                ("b.1111111111111111.css", 0),
                ("c.1111111111111111.css", 0),
                // Put back by a publish a minute ago.
                ("d.1111111111111111.css", (10 * hour / 1000) as i64 - 60),
            ],
        );
        let r = decide(&s, &PruneOptions::keep(1), 10 * hour);
        assert_eq!(r.kept_generations, ["new", "recent"]);
        assert_eq!(r.delete, ["c.1111111111111111.css", "manifests/old.json"]);
    }
}

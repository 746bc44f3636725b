//! Stage 6: the manifest (reused entries as they were, new ones from their final bytes),
//! written with the hashed files and variants into the output tree; then the run state the
//! next run compares its sources with.

use std::collections::BTreeMap;

use super::compress::{Compressed, CompressedFile};
use super::resolve::Resolved;
use super::scan::Scanned;
use crate::config::Config;
use crate::error::Result;
use crate::hash;
use crate::scan;
use crate::state::{self, State};
use asset_manifest::{Entry, Manifest, Variant};

/// Writes the output tree: every new file and variant, the reused ones kept, the manifest.
///
/// # Errors
/// I/O errors on the output tree.
pub(super) fn write_output(
    config: &Config,
    scanned: &Scanned,
    compressed: &Compressed,
) -> Result<Manifest> {
    let mut assets = BTreeMap::new();
    let mut files: Vec<(&str, &[u8])> = Vec::new();
    let mut kept: Vec<&str> = Vec::new();
    for f in &compressed.files {
        let logical = &f.shipped.logical;
        if let Some(r) = scanned
            .incremental
            .reuse
            .as_ref()
            .filter(|_| f.shipped.reused)
        {
            // Its entry as it was, with the source map generated for it, if any.
            let map = format!("{logical}.map");
            let extra = r
                .manifest
                .assets
                .get_key_value(&map)
                .filter(|_| !scanned.index.contains_key(map.as_str()));
            for (k, e) in std::iter::once((logical, &r.manifest.assets[logical])).chain(extra) {
                kept.push(&e.path);
                kept.extend(e.encodings.values().map(|v| v.path.as_str()));
                assets.insert(k.clone(), e.clone());
            }
            continue;
        }
        assets.insert(logical.clone(), new_entry(f));
        files.push((&f.shipped.file.hashed, &f.shipped.file.bytes));
        files.extend(
            f.variants
                .iter()
                .map(|v| (v.path.as_str(), v.bytes.as_slice())),
        );
    }
    let manifest = Manifest::new(assets);
    crate::write::tree(&config.out, &files, &kept, &manifest.to_json())?;
    Ok(manifest)
}

/// The manifest entry of a file finished in this run.
fn new_entry(f: &CompressedFile) -> Entry {
    let (logical, file) = (&f.shipped.logical, &f.shipped.file);
    let encodings = f
        .variants
        .iter()
        .map(|v| {
            let variant = Variant {
                path: v.path.clone(),
                size: v.bytes.len() as u64,
            };
            (v.encoding, variant)
        })
        .collect();
    Entry {
        path: file.hashed.clone(),
        size: file.bytes.len() as u64,
        content_type: scan::content_type(logical).0.to_owned(),
        integrity: hash::integrity(&file.bytes),
        sha256: file.sha256.clone(),
        encodings,
    }
}

/// The run state for the next run: stamps, hashes and references of every source.
pub(super) fn save_state(scanned: &Scanned, graph: &Resolved, manifest: &Manifest) {
    let incremental = &scanned.incremental;
    let (Some(stamps), Some(path)) = (&incremental.stamps, &incremental.state_path) else {
        return;
    };
    let sources = &scanned.sources;
    let deps = sources
        .enumerate()
        .filter(|&(i, _)| !scanned.clean[i])
        .map(|(i, s)| {
            let to = graph.edges(i).map(|j| sources[j].logical.clone()).collect();
            (s.logical.clone(), to)
        });
    let (mut all_deps, mut hashes) = incremental
        .reuse
        .as_ref()
        .map(|r| (r.deps.clone(), r.hashes.clone()))
        .unwrap_or_default();
    all_deps.extend(deps);
    hashes.extend(
        sources
            .iter()
            .zip(scanned.source_hashes.iter())
            .filter_map(|(s, h)| Some((s.logical.clone(), h.clone()?))),
    );
    let state = State {
        version: state::VERSION,
        settings: incremental.settings.clone(),
        started_ns: incremental.started,
        manifest_id: manifest.id.clone(),
        stamps: stamps.clone(),
        hashes,
        deps: all_deps,
    };
    state.save(path);
}

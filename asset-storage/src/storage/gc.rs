//! `media gc`: what no request will ever need again. Direct uploads nobody confirmed and
//! tombstones of used tickets (under [`PENDING_DIR`]), a folder's multipart staging files and
//! the half-written files of a process that died mid-write (object_store's `<file>#<n>`,
//! which listings skip), and S3's incomplete multipart uploads (which no listing of objects
//! shows: they are found with ListMultipartUploads and aborted).

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use object_store::ObjectStoreExt as _;
use object_store::path::Path;

use crate::Error;
use crate::name::META_DIR;
use crate::store::Location;

use super::direct::{CONFIRM_GRACE, PENDING_DIR};
use super::write::STAGING_DIR;
use super::{Storage, UrlSigner};

/// What [`Storage::collect_garbage`] removed (or, with `dry_run`, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcSummary {
    /// Pending uploads and tombstones, staging files of a folder's multipart uploads, and
    /// half-written files (as `<key>#<n>`).
    pub removed: Vec<String>,
    /// Incomplete S3 multipart uploads aborted, as `<key> (upload <id>)`.
    pub aborted: Vec<String>,
    /// Bytes of the removed files (an aborted upload's parts are not counted).
    pub bytes: u64,
    /// Whether this only says what a run would remove.
    pub dry_run: bool,
}

impl std::fmt::Display for GcSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} unconfirmed uploads and staging files ({} bytes) and {} {} incomplete multipart uploads",
            if self.dry_run {
                "would remove"
            } else {
                "removed"
            },
            self.removed.len(),
            self.bytes,
            if self.dry_run { "abort" } else { "aborted" },
            self.aborted.len(),
        )
    }
}

impl Storage {
    /// Removes direct uploads nobody confirmed, tombstones of used tickets, staging and
    /// half-written files, and aborts incomplete S3 multipart uploads, when they are older than
    /// `older_than` (which must be longer than a ticket lives and may be confirmed:
    /// [`crate::Settings::url_expiry`] plus [`CONFIRM_GRACE`]). With `dry_run`, only says what
    /// it would remove.
    ///
    /// # Errors
    /// An age a live ticket could still need, or the store failed.
    pub async fn collect_garbage(
        &self,
        older_than: Duration,
        dry_run: bool,
    ) -> Result<GcSummary, Error> {
        let floor = self.inner.settings.url_expiry + CONFIRM_GRACE;
        if older_than < floor {
            return Err(Error::Config(format!(
                "media gc: --older-than must be at least {} s (tickets live {} s and may be confirmed {} s after that)",
                floor.as_secs(),
                self.inner.settings.url_expiry.as_secs(),
                CONFIRM_GRACE.as_secs()
            )));
        }
        let now = i64::try_from(self.now_secs()).unwrap_or(i64::MAX);
        let age = i64::try_from(older_than.as_secs()).unwrap_or(i64::MAX);
        let cutoff = DateTime::from_timestamp(now.saturating_sub(age), 0)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut summary = GcSummary {
            dry_run,
            ..GcSummary::default()
        };
        for dir in [PENDING_DIR, STAGING_DIR] {
            self.remove_listed(dir, cutoff, &mut summary).await?;
        }
        match (&self.inner.settings.store.location, &self.inner.signer) {
            (Location::File { path }, _) => remove_half_written(path, cutoff, &mut summary)?,
            (_, UrlSigner::Presign(signer)) => {
                for upload in signer.incomplete_uploads().await.map_err(|e| {
                    Error::Config(format!("media gc: listing incomplete uploads: {e}"))
                })? {
                    if upload.initiated >= cutoff {
                        continue;
                    }
                    if !dry_run {
                        signer
                            .abort(&upload)
                            .await
                            .map_err(|e| self.err("aborting the upload of", &upload.key, e))?;
                    }
                    summary
                        .aborted
                        .push(format!("{} (upload {})", upload.key, upload.id));
                }
            }
            _ => {}
        }
        summary.removed.sort();
        summary.aborted.sort();
        Ok(summary)
    }

    async fn remove_listed(
        &self,
        dir: &str,
        cutoff: DateTime<Utc>,
        summary: &mut GcSummary,
    ) -> Result<(), Error> {
        let old: Vec<object_store::ObjectMeta> = self
            .inner
            .store
            .list(Some(&Path::from(dir)))
            .try_filter(|m| futures::future::ready(m.last_modified < cutoff))
            .try_collect()
            .await
            .map_err(|e| self.err("listing", dir, e))?;
        for m in old {
            let key = m.location.to_string();
            if !summary.dry_run {
                if key.starts_with(META_DIR) {
                    let _ = self.inner.store.delete(&m.location).await;
                } else {
                    self.remove_quietly(&key).await;
                }
            }
            summary.bytes += m.size;
            summary.removed.push(key);
        }
        Ok(())
    }
}

/// Removes `<file>#<digits>` files under `root` last modified before `cutoff`: what
/// object_store's local writes leave when the process dies before the rename.
fn remove_half_written(
    root: &std::path::Path,
    cutoff: DateTime<Utc>,
    summary: &mut GcSummary,
) -> Result<(), Error> {
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::Config(format!(
                    "media gc: reading {}: {e}",
                    dir.display()
                )));
            }
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = entry.file_name();
            let half_written = name
                .to_str()
                .and_then(|n| n.rsplit_once('#'))
                .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            let modified = meta.modified().map(DateTime::<Utc>::from).ok();
            if !kind.is_file() || !half_written || modified.is_none_or(|m| m >= cutoff) {
                continue;
            }
            if !summary.dry_run {
                let _ = std::fs::remove_file(&path);
            }
            let rel = path.strip_prefix(root).unwrap_or(&path);
            summary.bytes += meta.len();
            summary
                .removed
                .push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

//! [`Storage`]: save, open, delete, exists, metadata, list, copy, URLs and direct uploads
//! over one object store. Object metadata (content type, original name, size, cache
//! control) lives with the object on S3 (object attributes and `x-amz-meta-*`) and in a
//! `.meta/<key>.json` sidecar in a local folder, which keeps no attributes.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use object_store::ObjectStore;

use crate::name::Visibility;
use crate::store::Location;
use crate::{Error, SigningKey};

mod direct;
mod folder_list;
mod gc;
mod presign;
mod read;
mod records;
mod settings;
mod types;
mod urls;
mod write;

pub use direct::{CONFIRM_GRACE, PENDING_DIR};
pub use gc::GcSummary;
pub use settings::{Budgets, PRIVATE_CACHE, PUBLIC_CACHE, Policy, Settings};
pub use types::{Download, ListEntry, Object, Page, UploadTicket};
pub(crate) use types::{NewObject, Sidecar, entry};
pub(crate) use urls::encode_key;

/// Who signs a storage's URLs (private reads, direct uploads).
#[derive(Debug, Clone)]
pub(crate) enum UrlSigner {
    /// S3's own presigned URLs, which the bucket checks.
    Presign(presign::Presigner),
    /// An HMAC with the storage's key ([`crate::SigningKey`]), which the local service
    /// ([`Storage::service`]) checks.
    Hmac,
}

/// The clock used for local signatures: injectable so expiry can be tested.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

pub(crate) struct Inner {
    pub store: Arc<dyn ObjectStore>,
    /// Who signs URLs: S3's presigning, or the storage's key for the local service.
    pub signer: UrlSigner,
    pub settings: Settings,
    pub key: SigningKey,
    pub clock: Clock,
    /// Cleanups running on their own tasks after a write's future was dropped.
    pub cleanups: tokio_util::task::TaskTracker,
    /// Thumbnails being made at once (each within its pixel budget).
    pub thumbnails: Arc<tokio::sync::Semaphore>,
    /// Uploads streaming at once (each holding at most one part in memory).
    pub uploads: Arc<tokio::sync::Semaphore>,
}

/// Media storage over S3 or a local folder. Cheap to clone; share one per app.
#[derive(Clone)]
pub struct Storage {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("location", &self.inner.settings.store.location)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// The storage [`Settings::from_env`] describes.
    ///
    /// # Errors
    /// Bad settings, missing S3 credentials, or a folder that cannot be created.
    pub fn from_env() -> Result<Storage, Error> {
        Storage::new(Settings::from_env()?)
    }

    /// Opens the store `settings` describe.
    ///
    /// # Errors
    /// Missing S3 credentials, a bad endpoint, or a folder that cannot be created.
    pub fn new(settings: Settings) -> Result<Storage, Error> {
        let (store, signer): (Arc<dyn ObjectStore>, _) = match &settings.store.location {
            Location::File { path } => {
                (Arc::new(crate::store::open_folder(path)?), UrlSigner::Hmac)
            }
            Location::S3 { .. } => {
                let (s3, prefix) = settings.store.open_s3_parts()?;
                let scoped = object_store::prefix::PrefixStore::new(s3.clone(), prefix.clone());
                (
                    Arc::new(scoped),
                    UrlSigner::Presign(presign::Presigner::new(s3, prefix)),
                )
            }
        };
        let key = match &settings.signing_key {
            Some(k) => k.clone(),
            None => {
                eprintln!(
                    "warning: MEDIA_SIGNING_KEY is not set: upload tickets{} are signed with a random key and stop working when the app restarts or on another instance (set it to 32+ random bytes in production)",
                    if matches!(signer, UrlSigner::Hmac) {
                        " and private media links"
                    } else {
                        ""
                    }
                );
                SigningKey::random()?
            }
        };
        Ok(Storage {
            inner: Arc::new(Inner {
                store,
                signer,
                key,
                clock: Arc::new(SystemTime::now),
                cleanups: tokio_util::task::TaskTracker::new(),
                thumbnails: Arc::new(tokio::sync::Semaphore::new(
                    settings.budgets.thumbnails_at_once.max(1),
                )),
                uploads: Arc::new(tokio::sync::Semaphore::new(
                    settings.budgets.uploads_at_once.max(1),
                )),
                settings,
            }),
        })
    }

    /// This storage with another clock for local signatures (tests of expiry).
    pub fn with_clock(&self, clock: Clock) -> Storage {
        Storage {
            inner: Arc::new(Inner {
                store: self.inner.store.clone(),
                signer: self.inner.signer.clone(),
                settings: self.inner.settings.clone(),
                key: self.inner.key.clone(),
                clock,
                cleanups: self.inner.cleanups.clone(),
                thumbnails: self.inner.thumbnails.clone(),
                uploads: self.inner.uploads.clone(),
            }),
        }
    }

    /// The settings it was opened with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The object store underneath (scoped to the storage's prefix).
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.inner.store.clone()
    }

    pub(crate) fn now_secs(&self) -> u64 {
        (self.inner.clock)()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    pub(crate) fn err(&self, op: &'static str, key: &str, e: object_store::Error) -> Error {
        Error::store(op, key, e, &self.inner.settings.store)
    }

    /// The Cache-Control for objects of `visibility` (`None`: public).
    pub(crate) fn default_cache(&self, visibility: Option<Visibility>) -> String {
        match visibility {
            Some(Visibility::Private) => self.inner.settings.private_cache_control.clone(),
            _ => self.inner.settings.public_cache_control.clone(),
        }
    }

    /// Room for one more upload ([`Budgets::uploads_at_once`]), waited for at most
    /// [`Budgets::upload_idle`].
    pub(crate) async fn upload_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Error> {
        let budgets = &self.inner.settings.budgets;
        let wait = self.inner.uploads.clone().acquire_owned();
        match tokio::time::timeout(budgets.upload_idle, wait).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Error::Busy(format!(
                "{} uploads are already streaming (the budget of uploads at once); try again shortly",
                budgets.uploads_at_once
            ))),
        }
    }

    #[cfg(feature = "axum")]
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.inner.key
    }

    /// Runs `job` on a task of its own, tracked so that [`Storage::settle`] can wait for it.
    pub(crate) fn spawn_cleanup(&self, job: impl Future<Output = ()> + Send + 'static) {
        // No runtime (the future was dropped at shutdown): `media gc` removes it later.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            self.inner.cleanups.spawn_on(job, &rt);
        }
    }

    /// Waits until every cleanup started by a dropped save, upload or form (a client gone
    /// half-way, a timeout) has finished: for a graceful shutdown, and for tests.
    pub async fn settle(&self) {
        self.inner.cleanups.close();
        self.inner.cleanups.wait().await;
        self.inner.cleanups.reopen();
    }
}

//! [`Storage`]: save, open, delete, exists, metadata, list, copy, URLs and direct uploads
//! over one object store. Object metadata (content type, original name, size, cache
//! control) lives with the object on S3 (object attributes and `x-amz-meta-*`) and in a
//! `.meta/<key>.json` sidecar in a local folder, which keeps no attributes.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use object_store::path::Path;
use object_store::signer::{SignedUrlOptions, Signer};
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, GetResultPayload, ObjectStore,
    ObjectStoreExt as _, PutMode, PutMultipartOptions, PutOptions, WriteMultipart,
};

use crate::name::{self, META_DIR, Visibility};
use crate::sniff::{self, SNIFF_LEN, TypeSet};
use crate::store::{Location, StoreConfig};
use crate::{Error, SigningKey};

/// `Cache-Control` of public objects: a key is never reused, so they never change.
pub const PUBLIC_CACHE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of private objects.
pub const PRIVATE_CACHE: &str = "private, max-age=3600";

/// Settings of a [`Storage`], from code or from the environment ([`Settings::from_env`]).
#[derive(Debug, Clone)]
pub struct Settings {
    pub store: StoreConfig,
    /// Where public objects are read: a CDN or custom domain in front of the bucket, or
    /// where the app mounts [`Storage::service`] for a local folder. Default: the bucket's
    /// own URL for S3, `/media/` for a local folder.
    pub base_url: Option<String>,
    /// The local backend's URL signing key; `None`: a random one (with a warning).
    pub signing_key: Option<SigningKey>,
    /// How long signed URLs and upload tickets stay valid.
    pub url_expiry: Duration,
    pub public_cache_control: String,
    pub private_cache_control: String,
    /// Origins that may read and PUT through the local service (CORS).
    pub cors_origins: Vec<String>,
    /// Uploads larger than this go to the store in parts of this size.
    pub part_size: usize,
    /// S3 storage class of new objects (`STANDARD_IA`, `INTELLIGENT_TIERING`, ...).
    pub storage_class: Option<String>,
}

impl Settings {
    /// Defaults for `location`, connection settings from the standard `AWS_*` variables.
    pub fn new(location: Location) -> Settings {
        Settings {
            store: StoreConfig::from_env(location),
            base_url: None,
            signing_key: None,
            url_expiry: Duration::from_secs(3600),
            public_cache_control: PUBLIC_CACHE.into(),
            private_cache_control: PRIVATE_CACHE.into(),
            cors_origins: Vec::new(),
            part_size: 8 << 20,
            storage_class: None,
        }
    }

    /// Settings from the environment:
    /// `MEDIA_STORAGE` (`s3://bucket/prefix`, `file:///path` or a folder; default `media`),
    /// `MEDIA_BASE_URL`, `MEDIA_SIGNING_KEY` (32+ bytes), `MEDIA_URL_EXPIRY` (`1h`),
    /// `MEDIA_CACHE_CONTROL`, `MEDIA_STORAGE_CLASS`, `MEDIA_CORS_ORIGINS` (comma-separated),
    /// and for S3 the
    /// `AWS_*` variables and profiles.
    ///
    /// # Errors
    /// A variable that does not parse.
    pub fn from_env() -> Result<Settings, Error> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let location = Location::parse(&var("MEDIA_STORAGE").unwrap_or_else(|| "media".into()))?;
        let mut s = Settings::new(location);
        s.base_url = var("MEDIA_BASE_URL");
        if let Some(k) = var("MEDIA_SIGNING_KEY") {
            s.signing_key = Some(SigningKey::new(k)?);
        }
        if let Some(e) = var("MEDIA_URL_EXPIRY") {
            s.url_expiry = crate::parse_age(&e)?;
        }
        if let Some(c) = var("MEDIA_CACHE_CONTROL") {
            s.public_cache_control = c;
        }
        s.storage_class = var("MEDIA_STORAGE_CLASS");
        if let Some(o) = var("MEDIA_CORS_ORIGINS") {
            s.cors_origins = o
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
        }
        Ok(s)
    }
}

/// What one use of uploads accepts (avatars, invoices, ...): its key prefix, types, size
/// cap and visibility.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) prefix: String,
    pub(crate) types: TypeSet,
    pub(crate) max_size: u64,
    pub(crate) visibility: Visibility,
    pub(crate) cache_control: Option<String>,
}

impl Policy {
    /// A private use under `prefix` (e.g. `avatars`) accepting [`TypeSet::documents`] up to
    /// 10 MiB.
    ///
    /// # Errors
    /// A prefix with anything but lowercase letters, digits, `-`, `_` and `/`.
    pub fn new(prefix: &str) -> Result<Policy, Error> {
        name::check_use_prefix(prefix)?;
        Ok(Policy {
            prefix: prefix.to_owned(),
            types: TypeSet::documents(),
            max_size: 10 << 20,
            visibility: Visibility::Private,
            cache_control: None,
        })
    }
    pub fn types(mut self, types: TypeSet) -> Policy {
        self.types = types;
        self
    }
    pub fn max_size(mut self, bytes: u64) -> Policy {
        self.max_size = bytes;
        self
    }
    pub fn public(mut self) -> Policy {
        self.visibility = Visibility::Public;
        self
    }
    pub fn private(mut self) -> Policy {
        self.visibility = Visibility::Private;
        self
    }
    pub fn visibility(mut self, v: Visibility) -> Policy {
        self.visibility = v;
        self
    }
    /// `Cache-Control` for this use's objects instead of the storage's.
    pub fn cache_control(mut self, value: &str) -> Policy {
        self.cache_control = Some(value.to_owned());
        self
    }
    pub fn max(&self) -> u64 {
        self.max_size
    }
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    /// The start of every key this use makes.
    fn key_start(&self) -> String {
        format!("{}/{}/", self.visibility.as_str(), self.prefix)
    }
}

/// A stored object, as the app keeps it in its own records: enough to make its URL with no
/// request to the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Object {
    pub key: String,
    pub size: u64,
    pub content_type: String,
    /// The client's file name as given (for display and downloads only, never a path).
    pub original_name: String,
    pub visibility: Visibility,
    /// Milliseconds since the Unix epoch, where the store says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_ms: Option<u64>,
}

/// One page of a listing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page {
    pub objects: Vec<ListEntry>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// A listed object (no metadata: that costs a request each).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListEntry {
    pub key: String,
    pub size: u64,
    pub visibility: Option<Visibility>,
    pub modified_ms: u64,
}

/// An object being read: its metadata, the byte range being sent and the bytes.
pub struct Download {
    pub object: Object,
    pub range: Range<u64>,
    pub cache_control: Option<String>,
    pub body: BoxStream<'static, Result<Bytes, Error>>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("object", &self.object)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// What the browser needs for a direct upload: PUT the file to `url` with exactly
/// `headers`, before `expires_at`, no larger than `max_size`; then the app calls
/// [`Storage::confirm_upload`] with `key`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UploadTicket {
    pub key: String,
    pub url: String,
    pub method: &'static str,
    pub headers: Vec<(String, String)>,
    pub max_size: u64,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
}

/// The local backend's record of an object.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Sidecar {
    pub content_type: String,
    pub original_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
}

/// The clock used for local signatures: injectable so expiry can be tested.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

pub(crate) struct Inner {
    pub store: Arc<dyn ObjectStore>,
    pub signer: Option<Arc<dyn Signer>>,
    pub settings: Settings,
    pub key: SigningKey,
    pub clock: Clock,
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
        let (store, signer): (Arc<dyn ObjectStore>, Option<Arc<dyn Signer>>) =
            match &settings.store.location {
                Location::File { path } => (Arc::new(crate::store::open_folder(path)?), None),
                Location::S3 { .. } => {
                    let s3 = Arc::new(settings.store.open_s3()?);
                    (s3.clone(), Some(s3))
                }
            };
        let key = match &settings.signing_key {
            Some(k) => k.clone(),
            None => {
                if signer.is_none() {
                    eprintln!(
                        "warning: MEDIA_SIGNING_KEY is not set: private media links are signed with a random key and stop working when the app restarts (set it to 32+ random bytes in production)"
                    );
                }
                SigningKey::random()?
            }
        };
        Ok(Storage {
            inner: Arc::new(Inner {
                store,
                signer,
                settings,
                key,
                clock: Arc::new(SystemTime::now),
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
            }),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The object store underneath (scoped to the storage's prefix).
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.inner.store.clone()
    }

    pub(crate) fn keeps_attributes(&self) -> bool {
        self.inner.settings.store.keeps_attributes()
    }

    pub(crate) fn now_secs(&self) -> u64 {
        (self.inner.clock)()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    pub(crate) fn err(&self, op: &'static str, key: &str, e: object_store::Error) -> Error {
        Error::store(op, key, e, &self.inner.settings.store)
    }

    /// Saves an upload under a new server-made key and returns it with its metadata. The
    /// body streams to the store: its first bytes are sniffed and checked against `policy`
    /// before anything is written; bodies up to the part size are one conditional PUT, larger
    /// ones a multipart upload, aborted if the body passes the cap or fails. Nothing is left
    /// behind by a failed save.
    ///
    /// # Errors
    /// [`Error::TooLarge`] past the cap, [`Error::TypeNotAllowed`]/[`Error::TypeMismatch`],
    /// [`Error::Body`] when the stream fails, [`Error::Store`] when the store does.
    pub async fn save<S, E>(
        &self,
        policy: &Policy,
        file_name: &str,
        declared_type: Option<&str>,
        body: S,
    ) -> Result<Object, Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let body = body.map(|c| c.map_err(|e| Error::Body(e.to_string())));
        let mut body = std::pin::pin!(body);
        let mut head = Vec::new();
        let mut total = 0u64;
        fill(
            &mut body,
            &mut head,
            &mut total,
            SNIFF_LEN as u64,
            policy.max_size,
        )
        .await?;
        let first: Vec<u8> = head
            .iter()
            .flat_map(|b| b.iter().copied())
            .take(SNIFF_LEN)
            .collect();
        let original = if file_name.trim().is_empty() {
            "file"
        } else {
            file_name
        };
        let content_type =
            sniff::check(sniff::sniff(&first), &policy.types, declared_type, original)?;
        let key = name::new_key(policy.visibility, &policy.prefix, original)?;
        let meta = NewObject {
            content_type,
            original_name: original.chars().take(1000).collect(),
            cache_control: policy.cache_control.clone(),
        };
        let size = self
            .write(&key, &meta, head, total, body, policy.max_size)
            .await?;
        Ok(self.object(key, size, &meta))
    }

    /// Saves the file at `path` (streamed from disk) like [`Storage::save`], under its own
    /// file name unless `file_name` is given.
    ///
    /// # Errors
    /// As [`Storage::save`], or the file cannot be opened.
    pub async fn save_file(
        &self,
        policy: &Policy,
        path: &std::path::Path,
        file_name: Option<&str>,
    ) -> Result<Object, Error> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let name = file_name.map(str::to_owned).unwrap_or_else(|| {
            path.file_name()
                .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned())
        });
        let body = tokio_util::io::ReaderStream::with_capacity(file, 256 << 10);
        self.save(policy, &name, None, body).await
    }

    fn object(&self, key: String, size: u64, meta: &NewObject) -> Object {
        Object {
            visibility: Visibility::of(&key).unwrap_or(Visibility::Private),
            key,
            size,
            content_type: meta.content_type.clone(),
            original_name: meta.original_name.clone(),
            modified_ms: Some(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
            ),
        }
    }

    /// Writes `head` then `rest` under `key` (which must not exist) with `meta`, at most
    /// `max` bytes; returns the size. On any failure nothing is left at `key`.
    pub(crate) async fn write<S>(
        &self,
        key: &str,
        meta: &NewObject,
        mut head: Vec<Bytes>,
        mut total: u64,
        rest: S,
        max: u64,
    ) -> Result<u64, Error>
    where
        S: Stream<Item = Result<Bytes, Error>> + Send,
    {
        let part = self.inner.settings.part_size;
        let mut rest = std::pin::pin!(rest);
        // Fill the first part: most uploads end here and take one request.
        let ended = fill(&mut rest, &mut head, &mut total, part as u64, max).await?;
        let path = Path::from(key);
        let attributes = self.attributes(key, meta);
        if ended {
            let opts = PutOptions {
                mode: PutMode::Create,
                attributes,
                ..Default::default()
            };
            self.inner
                .store
                .put_opts(&path, head.into_iter().collect(), opts)
                .await
                .map_err(|e| self.err("saving", key, e))?;
        } else {
            total = self
                .write_parts(key, attributes, head, total, &mut rest, max)
                .await?;
        }
        if !self.keeps_attributes()
            && let Err(e) = self.write_sidecar(key, meta).await
        {
            let _ = self.inner.store.delete(&path).await;
            return Err(e);
        }
        Ok(total)
    }

    /// A multipart upload of `head` and then `rest`, at most two parts in flight; aborted if
    /// the body passes `max` or fails. Returns the size.
    async fn write_parts<S>(
        &self,
        key: &str,
        attributes: Attributes,
        head: Vec<Bytes>,
        mut total: u64,
        rest: &mut std::pin::Pin<&mut S>,
        max: u64,
    ) -> Result<u64, Error>
    where
        S: Stream<Item = Result<Bytes, Error>> + Send,
    {
        let opts = PutMultipartOptions {
            attributes,
            ..Default::default()
        };
        let upload = self
            .inner
            .store
            .put_multipart_opts(&Path::from(key), opts)
            .await
            .map_err(|e| self.err("starting the upload of", key, e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, self.inner.settings.part_size);
        for b in head {
            w.put(b);
        }
        let streamed: Result<(), Error> = async {
            while let Some(chunk) = rest.next().await {
                let chunk = chunk?;
                total += chunk.len() as u64;
                if total > max {
                    return Err(Error::TooLarge { limit: max });
                }
                w.wait_for_capacity(2)
                    .await
                    .map_err(|e| self.err("uploading", key, e))?;
                w.put(chunk);
            }
            Ok(())
        }
        .await;
        if let Err(e) = streamed {
            let _ = w.abort().await;
            return Err(e);
        }
        w.finish()
            .await
            .map_err(|e| self.err("finishing the upload of", key, e))?;
        Ok(total)
    }

    fn attributes(&self, key: &str, meta: &NewObject) -> Attributes {
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

    /// The Cache-Control for objects of `visibility` (`None`: public).
    pub(crate) fn default_cache(&self, visibility: Option<Visibility>) -> String {
        match visibility {
            Some(Visibility::Private) => self.inner.settings.private_cache_control.clone(),
            _ => self.inner.settings.public_cache_control.clone(),
        }
    }

    fn sidecar_path(key: &str) -> Path {
        Path::from(format!("{META_DIR}/{key}.json"))
    }

    async fn write_sidecar(&self, key: &str, meta: &NewObject) -> Result<(), Error> {
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

    async fn read_sidecar(&self, key: &str) -> Result<Option<Sidecar>, Error> {
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

    /// Metadata of `key`: size, content type, original name, modified (one request on S3,
    /// two file reads locally).
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::NotFound`], or the store failed.
    pub async fn metadata(&self, key: &str) -> Result<Object, Error> {
        name::check_key(key)?;
        let head = GetOptions {
            head: true,
            ..Default::default()
        };
        let path = Path::from(key);
        // A folder's record is another file: read both at once.
        let (r, sidecar) = if self.keeps_attributes() {
            (self.inner.store.get_opts(&path, head).await, None)
        } else {
            let (r, s) = tokio::join!(
                self.inner.store.get_opts(&path, head),
                self.read_sidecar(key)
            );
            (r, s?)
        };
        let r = r.map_err(|e| self.err("reading", key, e))?;
        let modified = Some(&r.meta.last_modified);
        Ok(self
            .describe_with(key, r.meta.size, modified, &r.attributes, sidecar)
            .0)
    }

    /// The object's record from its attributes (S3) or sidecar (local), and its stored
    /// Cache-Control.
    async fn describe(
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

    fn describe_with(
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

    /// Whether `key` exists (one request).
    ///
    /// # Errors
    /// [`Error::InvalidName`], or the store failed.
    pub async fn exists(&self, key: &str) -> Result<bool, Error> {
        name::check_key(key)?;
        match self.inner.store.head(&Path::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err("checking", key, e)),
        }
    }

    /// Reads `key`, all of it or `range` (end exclusive, clamped to the size).
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::NotFound`], an unsatisfiable range, or the store
    /// failed.
    pub async fn open(&self, key: &str, range: Option<Range<u64>>) -> Result<Download, Error> {
        name::check_key(key)?;
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let path = Path::from(key);
        // A folder's record is another file: read both at once.
        let (r, sidecar) = if self.keeps_attributes() {
            (self.inner.store.get_opts(&path, opts).await, None)
        } else {
            let (r, s) = tokio::join!(
                self.inner.store.get_opts(&path, opts),
                self.read_sidecar(key)
            );
            (r, Some(s?))
        };
        let r = r.map_err(|e| self.err("reading", key, e))?;
        let (object, cache_control) = match sidecar {
            Some(s) => self.describe_with(
                key,
                r.meta.size,
                Some(&r.meta.last_modified),
                &r.attributes,
                s,
            ),
            None => {
                self.describe(key, r.meta.size, Some(&r.meta.last_modified), &r.attributes)
                    .await?
            }
        };
        let range = r.range.clone();
        let config = self.inner.settings.store.clone();
        let owned_key = key.to_owned();
        let store_error = move |e| Error::store("reading", owned_key.clone(), e, &config);
        let body = match r.payload {
            // object_store reads a file 8 KiB per blocking task; 256 KiB reads are several
            // times faster for anything but tiny files.
            GetResultPayload::File(file, _) => {
                let start = range.start;
                let len = range.end - range.start;
                let read = async move {
                    let mut file = tokio::fs::File::from_std(file);
                    tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(start))
                        .await?;
                    Ok::<_, std::io::Error>(tokio::io::AsyncReadExt::take(file, len))
                };
                let key = key.to_owned();
                futures::stream::once(read)
                    .map_ok(|f| tokio_util::io::ReaderStream::with_capacity(f, 256 << 10))
                    .try_flatten()
                    .map_err(move |e| Error::Io {
                        path: key.clone().into(),
                        source: e,
                    })
                    .boxed()
            }
            GetResultPayload::Stream(s) => s.map_err(store_error).boxed(),
        };
        Ok(Download {
            object,
            range,
            cache_control,
            body,
        })
    }

    /// Reads all of `key` into memory, at most `max` bytes.
    ///
    /// # Errors
    /// As [`Storage::open`], or [`Error::TooLarge`].
    pub async fn read(&self, key: &str, max: u64) -> Result<(Object, Bytes), Error> {
        let d = self.open(key, None).await?;
        if d.object.size > max {
            return Err(Error::TooLarge { limit: max });
        }
        let mut out = bytes::BytesMut::with_capacity(d.object.size as usize);
        let mut body = d.body;
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk?);
            if out.len() as u64 > max {
                return Err(Error::TooLarge { limit: max });
            }
        }
        Ok((d.object, out.freeze()))
    }

    /// Deletes `key`, its metadata and its thumbnails. Deleting what is not there is not an
    /// error.
    ///
    /// # Errors
    /// [`Error::InvalidName`], or the store failed.
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        name::check_key(key)?;
        let path = Path::from(key);
        match self.inner.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.err("deleting", key, e)),
        }
        if !self.keeps_attributes() {
            let _ = self.inner.store.delete(&Self::sidecar_path(key)).await;
        }
        // Derived objects live in `_thumb/` beside an object made by `save`.
        if let Some((dir, _)) = key.rsplit_once('/')
            && !dir.ends_with("/_thumb")
        {
            let thumbs = Path::from(format!("{dir}/_thumb"));
            let derived: Vec<_> = self
                .inner
                .store
                .list(Some(&thumbs))
                .try_collect()
                .await
                .unwrap_or_default();
            for m in derived {
                let k = m.location.to_string();
                let _ = self.inner.store.delete(&m.location).await;
                if !self.keeps_attributes() {
                    let _ = self.inner.store.delete(&Self::sidecar_path(&k)).await;
                }
            }
        }
        Ok(())
    }

    /// One page of the objects whose keys start with `prefix` (a key prefix such as
    /// `public/avatars`), in key order, after the key `after`, at most `limit` of them.
    /// Thumbnails and metadata records are not listed.
    ///
    /// # Errors
    /// An invalid prefix, or the store failed.
    pub async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, Error> {
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            name::check_key(prefix)?;
        }
        if let Some(a) = after {
            name::check_key(a)?;
        }
        let limit = limit.max(1);
        let p = (!prefix.is_empty()).then(|| Path::from(prefix));
        let stream = match after {
            Some(a) => self
                .inner
                .store
                .list_with_offset(p.as_ref(), &Path::from(a)),
            None => self.inner.store.list(p.as_ref()),
        };
        let keep = |m: &object_store::ObjectMeta| {
            let k = m.location.as_ref();
            !k.starts_with(META_DIR) && !k.contains("/_thumb/")
        };
        let mut entries: Vec<ListEntry> = if self.keeps_attributes() {
            // S3 lists in key order: stop after one more than a page.
            stream
                .try_filter(|m| futures::future::ready(keep(m)))
                .take(limit + 1)
                .map_ok(entry)
                .try_collect()
                .await
        } else {
            // A folder lists in no order: read it all, then sort.
            let mut all: Vec<ListEntry> = stream
                .try_filter(|m| futures::future::ready(keep(m)))
                .map_ok(entry)
                .try_collect()
                .await
                .map_err(|e| self.err("listing", prefix, e))?;
            all.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(all)
        }
        .map_err(|e| self.err("listing", prefix, e))?;
        let next = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| e.key.clone())
        } else {
            None
        };
        Ok(Page {
            objects: entries,
            next,
        })
    }

    /// Every key below the storage's root (thumbnails included, metadata records not), for
    /// [`crate::sync`].
    pub(crate) async fn list_all(&self) -> Result<Vec<ListEntry>, Error> {
        let mut all: Vec<ListEntry> = self
            .inner
            .store
            .list(None)
            .try_filter(|m| futures::future::ready(!m.location.as_ref().starts_with(META_DIR)))
            .map_ok(entry)
            .try_collect()
            .await
            .map_err(|e| self.err("listing", "", e))?;
        all.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(all)
    }

    /// Copies `key` to a new server-made key under `prefix` (a use prefix such as
    /// `archive`), with the same visibility, content type and original name.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::NotFound`], or the store failed.
    pub async fn copy(&self, key: &str, prefix: &str) -> Result<Object, Error> {
        name::check_use_prefix(prefix)?;
        let source = self.metadata(key).await?;
        let new = name::new_key(source.visibility, prefix, &source.original_name)?;
        let (from, to) = (Path::from(key), Path::from(new.as_str()));
        if self.keeps_attributes() {
            // S3's CopyObject keeps the attributes. Plain copy: copy-if-not-exists needs a
            // lock configured on S3, and the new key has 128 random bits.
            self.inner.store.copy(&from, &to).await
        } else {
            self.inner.store.copy_if_not_exists(&from, &to).await
        }
        .map_err(|e| self.err("copying", key, e))?;
        if !self.keeps_attributes() {
            let meta = NewObject {
                content_type: source.content_type.clone(),
                original_name: source.original_name.clone(),
                cache_control: None,
            };
            if let Err(e) = self.write_sidecar(&new, &meta).await {
                let _ = self.inner.store.delete(&to).await;
                return Err(e);
            }
        }
        Ok(Object {
            key: new,
            modified_ms: None,
            ..source
        })
    }

    /// The public URL of `key`, from the base URL: no request to the store.
    ///
    /// # Errors
    /// A private key (use [`Storage::signed_url`]) or an invalid one.
    pub fn public_url(&self, key: &str) -> Result<String, Error> {
        name::check_key(key)?;
        if Visibility::of(key) != Some(Visibility::Public) {
            return Err(Error::Forbidden(format!(
                "`{}` is private: it has only signed URLs",
                name::printable(key)
            )));
        }
        Ok(format!("{}{}", self.base_url(), encode_key(key)))
    }

    /// Where public objects are read (always ends with `/`).
    pub fn base_url(&self) -> String {
        let s = &self.inner.settings;
        let base = s
            .base_url
            .clone()
            .or_else(|| s.store.bucket_url())
            .unwrap_or_else(|| "/media/".into());
        if base.ends_with('/') {
            base
        } else {
            format!("{base}/")
        }
    }

    /// A URL for `object` that works for `expires_in` (default: the settings'), with the
    /// download name and type forced in the response: S3's presigned GET (with
    /// `response-content-disposition`), or the local service's HMAC. No request to the store.
    ///
    /// # Errors
    /// The signer failed (S3 credentials could not be loaded).
    pub async fn signed_url(
        &self,
        object: &Object,
        expires_in: Option<Duration>,
    ) -> Result<String, Error> {
        name::check_key(&object.key)?;
        let expiry = expires_in.unwrap_or(self.inner.settings.url_expiry);
        let disposition = sniff::content_disposition(&object.content_type, &object.original_name);
        match &self.inner.signer {
            Some(signer) => {
                let opts = SignedUrlOptions::default().with_query([
                    ("response-content-disposition", disposition),
                    ("response-content-type", object.content_type.clone()),
                ]);
                let url = signer
                    .signed_url_opts(
                        http::Method::GET,
                        &Path::from(object.key.as_str()),
                        expiry,
                        &opts,
                    )
                    .await
                    .map_err(|e| self.err("signing", &object.key, e))?;
                Ok(url.to_string())
            }
            None => {
                let expires = (self.now_secs() + expiry.as_secs()).to_string();
                let sig = self.inner.key.sign(&["GET", &object.key, &expires]);
                Ok(format!(
                    "{}{}?expires={expires}&sig={sig}",
                    self.base_url(),
                    encode_key(&object.key)
                ))
            }
        }
    }

    /// The URL to show for `object`: public URL or signed URL. No request to the store.
    ///
    /// # Errors
    /// As [`Storage::signed_url`].
    pub async fn url(&self, object: &Object) -> Result<String, Error> {
        match Visibility::of(&object.key) {
            Some(Visibility::Public) => self.public_url(&object.key),
            _ => self.signed_url(object, None).await,
        }
    }

    /// A direct-upload ticket: a new key under `policy` and a URL the browser PUTs the file
    /// to (S3's presigned PUT, or the local service) with the headers it must send. The
    /// declared type and extension are checked now; the bytes, size and type again at
    /// [`Storage::confirm_upload`]. No request to the store.
    ///
    /// # Errors
    /// A declared type or extension the policy does not accept, or signing failed.
    pub async fn upload_ticket(
        &self,
        policy: &Policy,
        file_name: &str,
        declared_type: &str,
        size: Option<u64>,
    ) -> Result<UploadTicket, Error> {
        if let Some(size) = size
            && size > policy.max_size
        {
            return Err(Error::TooLarge {
                limit: policy.max_size,
            });
        }
        let content_type = declared_kind(policy, file_name, declared_type)?;
        let key = name::new_key(policy.visibility, &policy.prefix, file_name)?;
        let expiry = self.inner.settings.url_expiry;
        let expires_at = self.now_secs() + expiry.as_secs();
        let original: String = file_name.chars().take(1000).collect();
        let disposition = sniff::content_disposition(&content_type, &original);
        let cache = policy
            .cache_control
            .clone()
            .unwrap_or_else(|| self.default_cache(Some(policy.visibility)));
        let (url, headers) = match &self.inner.signer {
            Some(signer) => {
                let headers = vec![
                    ("content-type".to_owned(), content_type.clone()),
                    ("content-disposition".to_owned(), disposition),
                    ("cache-control".to_owned(), cache),
                    ("if-none-match".to_owned(), "*".to_owned()),
                ];
                let mut opts = SignedUrlOptions::default();
                for (k, v) in &headers {
                    let name = http::HeaderName::from_bytes(k.as_bytes()).expect("a header name");
                    let value = http::HeaderValue::from_str(v).map_err(|_| Error::InvalidName {
                        name: name::printable(&original),
                        reason: "cannot be sent in a header".into(),
                    })?;
                    opts = opts.with_signed_header(name, value);
                }
                let url = signer
                    .signed_url_opts(http::Method::PUT, &Path::from(key.as_str()), expiry, &opts)
                    .await
                    .map_err(|e| self.err("signing", &key, e))?;
                (url.to_string(), headers)
            }
            None => {
                let expires = expires_at.to_string();
                let max = policy.max_size.to_string();
                let sig =
                    self.inner
                        .key
                        .sign(&["PUT", &key, &expires, &max, &content_type, &original]);
                let q = |s: &str| {
                    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                        .to_string()
                };
                let url = format!(
                    "{}{}?expires={expires}&max={max}&type={}&name={}&sig={sig}",
                    self.base_url(),
                    encode_key(&key),
                    q(&content_type),
                    q(&original)
                );
                (url, vec![("content-type".to_owned(), content_type.clone())])
            }
        };
        Ok(UploadTicket {
            key,
            url,
            method: "PUT",
            headers,
            max_size: policy.max_size,
            expires_at,
        })
    }

    /// Checks a direct upload after the browser's PUT: the key is one of `policy`'s, the
    /// object is within the size cap, and its bytes are of an allowed type that matches its
    /// stored type and name. A failing object is deleted. Two requests (HEAD and a ranged GET).
    ///
    /// # Errors
    /// [`Error::NotFound`] if nothing was uploaded, [`Error::TooLarge`], the type errors, or an
    /// [`Error::InvalidName`] for a key that is not `policy`'s.
    pub async fn confirm_upload(&self, policy: &Policy, key: &str) -> Result<Object, Error> {
        name::check_key(key)?;
        let start = policy.key_start();
        let rest = key.strip_prefix(&start).unwrap_or("");
        let parts: Vec<&str> = rest.split('/').collect();
        let ours = parts.len() == 2
            && parts[0].len() == 32
            && parts[0].bytes().all(|b| b.is_ascii_hexdigit());
        if !ours {
            return Err(Error::InvalidName {
                name: name::printable(key),
                reason: format!("not an upload key of `{start}`"),
            });
        }
        let object = self.metadata(key).await?;
        let checked = async {
            if object.size > policy.max_size {
                return Err(Error::TooLarge {
                    limit: policy.max_size,
                });
            }
            let head = if object.size == 0 {
                Bytes::new()
            } else {
                let end = object.size.min(SNIFF_LEN as u64);
                self.inner
                    .store
                    .get_range(&Path::from(key), 0..end)
                    .await
                    .map_err(|e| self.err("reading", key, e))?
            };
            let ct = sniff::check(
                sniff::sniff(&head),
                &policy.types,
                Some(&object.content_type),
                &object.original_name,
            )?;
            if sniff::essence(&ct) != sniff::essence(&object.content_type) {
                return Err(Error::TypeMismatch {
                    detected: ct,
                    claimed: format!("the declared type {}", object.content_type),
                });
            }
            Ok(())
        }
        .await;
        match checked {
            Ok(()) => Ok(object),
            Err(e) => {
                self.delete(key).await?;
                Err(e)
            }
        }
    }

    /// Stores bytes under an exact key (no overwrite) with the given record: for copying
    /// between stores and for the local service's signed PUTs.
    pub(crate) async fn put_exact<S>(
        &self,
        key: &str,
        meta: &NewObject,
        body: S,
        max: u64,
    ) -> Result<u64, Error>
    where
        S: Stream<Item = Result<Bytes, Error>> + Send,
    {
        name::check_key(key)?;
        self.write(key, meta, Vec::new(), 0, body, max).await
    }

    #[cfg(feature = "axum")]
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.inner.key
    }
}

/// Reads `body` into `head` until `total` reaches `upto` or the body ends (`true`), failing
/// with [`Error::TooLarge`] as soon as it passes `max`.
async fn fill<S>(
    body: &mut std::pin::Pin<&mut S>,
    head: &mut Vec<Bytes>,
    total: &mut u64,
    upto: u64,
    max: u64,
) -> Result<bool, Error>
where
    S: Stream<Item = Result<Bytes, Error>>,
{
    while *total < upto {
        let Some(chunk) = body.next().await else {
            return Ok(true);
        };
        let chunk = chunk?;
        *total += chunk.len() as u64;
        if *total > max {
            return Err(Error::TooLarge { limit: max });
        }
        head.push(chunk);
    }
    Ok(false)
}

/// What a new object is stored with.
#[derive(Debug, Clone)]
pub(crate) struct NewObject {
    pub content_type: String,
    pub original_name: String,
    pub cache_control: Option<String>,
}

/// The content type a direct upload declares, checked against the policy and the name.
fn declared_kind(policy: &Policy, file_name: &str, declared: &str) -> Result<String, Error> {
    let d = sniff::essence(declared).to_ascii_lowercase();
    let kind = sniff::ALL.iter().copied().find(|k| {
        sniff::essence(k.mime) == d
            || (k.family == sniff::Family::Text
                && matches!(
                    d.as_str(),
                    "text/csv" | "text/markdown" | "application/json"
                ))
    });
    match kind {
        Some(k) => sniff::check(Some(k), &policy.types, Some(&d), file_name),
        None if policy.types.unknown => Ok("application/octet-stream".into()),
        None => Err(Error::TypeNotAllowed {
            detected: d,
            allowed: policy.types.describe(),
        }),
    }
}

fn entry(m: object_store::ObjectMeta) -> ListEntry {
    let key = m.location.to_string();
    ListEntry {
        visibility: Visibility::of(&key),
        size: m.size,
        modified_ms: m.last_modified.timestamp_millis().max(0) as u64,
        key,
    }
}

/// `key` with each segment percent-encoded for a URL path (`+` included: S3 reads it as a
/// space).
pub(crate) fn encode_key(key: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    key.split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

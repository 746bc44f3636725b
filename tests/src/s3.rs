//! An S3 emulator in the test process: s3s + s3s-fs on 127.0.0.1:0 with SigV4 auth, a fresh
//! root per test, anonymous reads allowed (a public-read bucket, as behind a CDN), request
//! counts by method, and injected faults (status codes, dropped connections, delays).
//! Listings carry ETags, as S3's do (s3s-fs leaves them out).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{Body, HttpError, S3Result};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const ACCESS_KEY: &str = "AKIATESTPUBLISHER01";
pub const SECRET_KEY: &str = "test/Secret+Key/for-the-emulator-0001";
pub const BUCKET: &str = "assets-bucket";

/// A fault to inject.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    Status(u16),
    Drop,
    Delay(Duration),
}

struct Rule {
    method: Option<Method>,
    remaining: usize,
    fault: Fault,
}

/// Faults to inject and requests seen.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
    counts: Mutex<HashMap<Method, usize>>,
}

impl Faults {
    /// `fault` for the next `n` requests with `method` (`None`: any).
    pub fn inject(&self, method: Option<Method>, n: usize, fault: Fault) {
        self.rules.lock().unwrap().push(Rule {
            method,
            remaining: n,
            fault,
        });
    }
    pub fn clear(&self) {
        self.rules.lock().unwrap().clear();
    }
    /// Requests with `method` so far.
    pub fn count(&self, method: &Method) -> usize {
        self.counts
            .lock()
            .unwrap()
            .get(method)
            .copied()
            .unwrap_or(0)
    }
    /// Requests of any method so far.
    pub fn total(&self) -> usize {
        self.counts.lock().unwrap().values().sum()
    }
    pub fn reset_counts(&self) {
        self.counts.lock().unwrap().clear();
    }
    fn on_request(&self, m: &Method) -> Option<Fault> {
        *self.counts.lock().unwrap().entry(m.clone()).or_default() += 1;
        let mut rules = self.rules.lock().unwrap();
        let rule = rules
            .iter_mut()
            .find(|r| r.remaining > 0 && r.method.as_ref().is_none_or(|x| x == m))?;
        rule.remaining -= 1;
        Some(rule.fault)
    }
}

/// Signed requests (presigned URLs included) may do anything; anonymous ones may only read,
/// and not below a `private/` or `pending/` segment: the bucket policy the README shows for
/// media (`<prefix>/public/*` readable by anyone, nothing else).
struct PublicRead;

#[async_trait::async_trait]
impl S3Access for PublicRead {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() {
            return Ok(());
        }
        let private = match cx.s3_path() {
            s3s::path::S3Path::Object { key, .. } => ["private/", "pending/"]
                .iter()
                .any(|d| key.starts_with(d) || key.contains(&format!("/{d}"))),
            _ => false,
        };
        if (cx.method() == Method::GET || cx.method() == Method::HEAD) && !private {
            Ok(())
        } else {
            Err(s3s::s3_error!(
                AccessDenied,
                "anonymous access is read-only and not to private objects"
            ))
        }
    }
}

/// A running emulator; stopped when dropped.
pub struct TestS3 {
    pub addr: SocketAddr,
    pub faults: Arc<Faults>,
    pub root: tempfile::TempDir,
    task: JoinHandle<()>,
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestS3 {
    /// Starts an emulator with an empty bucket [`BUCKET`].
    pub async fn start() -> TestS3 {
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(root.path().join(BUCKET)).expect("bucket dir");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("s3s-fs root");
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        builder.set_access(PublicRead);
        let s3 = builder.build();
        let faults = Arc::new(Faults::default());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let f = faults.clone();
        let dir = root.path().to_path_buf();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (s3, f, dir) = (s3.clone(), f.clone(), dir.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        handle(s3.clone(), f.clone(), dir.clone(), req)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        TestS3 {
            addr,
            faults,
            root,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Multipart uploads the emulator holds open (s3s-fs keeps `.upload-<id>.json` for each).
    pub fn open_uploads(&self) -> Vec<String> {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() {
                    walk(&e.path(), found);
                } else if name.starts_with(".upload-") && name.ends_with(".json") {
                    found.push(name);
                }
            }
        }
        let mut found = Vec::new();
        walk(self.root.path(), &mut found);
        found
    }

    /// The public URL of a key.
    pub fn url(&self, key: &str) -> String {
        let encoded: String = key
            .split('/')
            .map(asset_build_encode)
            .collect::<Vec<_>>()
            .join("/");
        format!("{}/{BUCKET}/{encoded}", self.endpoint())
    }

    /// How to reach this emulator's bucket with `prefix` (static test credentials).
    pub fn connection(&self, prefix: &str) -> asset_storage::StoreConfig {
        crate::s3_connection(
            self.endpoint(),
            BUCKET,
            prefix,
            (ACCESS_KEY, SECRET_KEY),
            Duration::from_secs(5),
        )
    }

    /// Publish settings for this emulator with `prefix`.
    pub fn settings(&self, prefix: &str) -> asset_publish::StoreSettings {
        let mut s = asset_publish::StoreSettings::from_env(
            asset_storage::Location::parse("s3://unused").expect("location"),
        );
        s.connection = self.connection(prefix);
        s
    }

    /// Media storage settings for this emulator with `prefix`.
    pub fn media(&self, prefix: &str) -> asset_storage::Settings {
        crate::media_settings(self.connection(prefix))
    }
}

fn asset_build_encode(seg: &str) -> String {
    let mut out = String::new();
    for &b in seg.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn handle(
    s3: S3Service,
    faults: Arc<Faults>,
    root: PathBuf,
    req: Request<Incoming>,
) -> Result<Response<Body>, HttpError> {
    match faults.on_request(req.method()) {
        None => {}
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::Drop) => return Err(HttpError::new("injected connection drop".into())),
        Some(Fault::Status(code)) => {
            let _ = req.into_body().collect().await;
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>injected {code}</Message></Error>"
            );
            return Ok(Response::builder()
                .status(StatusCode::from_u16(code).expect("status"))
                .header("content-type", "application/xml")
                .body(Body::from(xml))
                .expect("response"));
        }
    }
    if req.method() == Method::GET
        && req.uri().path().trim_end_matches('/') == format!("/{BUCKET}")
        && req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "uploads" || p == "uploads="))
    {
        return Ok(list_uploads(&root, req.uri().query().unwrap_or_default()));
    }
    let list_v2 =
        req.method() == Method::GET && req.uri().query().is_some_and(|q| q.contains("list-type=2"));
    let bucket_root = list_v2.then(|| root.join(BUCKET));
    let response = s3.call(req.map(Body::from)).await?;
    match bucket_root {
        Some(dir) if response.status() == StatusCode::OK => {
            with_e_tags(&root, &dir, response).await
        }
        _ => Ok(response),
    }
}

/// A ListObjectsV2 response with each object's ETag, as S3 gives it: the MD5 of the bytes,
/// or for a multipart upload the one s3s-fs recorded (`<md5 of part MD5s>-<parts>`).
async fn with_e_tags(
    root: &Path,
    bucket: &Path,
    response: Response<Body>,
) -> Result<Response<Body>, HttpError> {
    use base64::Engine as _;
    use md5::Digest as _;
    let (mut parts, body) = response.into_parts();
    let xml = body
        .collect()
        .await
        .map_err(|e| HttpError::new(e.to_string().into()))?
        .to_bytes();
    let xml = String::from_utf8_lossy(&xml);
    let mut out = String::with_capacity(xml.len() * 2);
    let mut rest = &xml[..];
    while let Some(at) = rest.find("<Key>") {
        let end = rest[at..]
            .find("</Key>")
            .map_or(rest.len(), |e| at + e + "</Key>".len());
        out.push_str(&rest[..end]);
        let key = rest[at + "<Key>".len()..end - "</Key>".len()]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&");
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let info = root.join(format!(
            ".bucket-{}.object-{}.internal.json",
            b64(BUCKET),
            b64(&key)
        ));
        let recorded = std::fs::read(info)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("e_tag")?.as_str().map(str::to_owned))
            .filter(|t| t.contains('-'));
        let tag = match recorded {
            Some(t) => Some(t),
            None => std::fs::read(bucket.join(&key)).ok().map(|b| {
                md5::Md5::digest(&b)
                    .iter()
                    .map(|x| format!("{x:02x}"))
                    .collect()
            }),
        };
        if let Some(tag) = tag {
            out.push_str(&format!(
                "<ETag>&quot;{}&quot;</ETag>",
                tag.trim_matches('"')
            ));
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, Body::from(out)))
}

/// ListMultipartUploads, which s3s-fs does not implement, answered from the records it keeps:
/// `.bucket-<b64>.object-<b64>.upload-<id>.metadata.json` per open upload (bucket, key, id),
/// initiated when `.upload-<id>.json` was written. One page; the `prefix` parameter honoured.
/// (The request's signature is not checked here; the SeaweedFS tests check it.)
fn list_uploads(root: &Path, query: &str) -> Response<Body> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let prefix = query
        .split('&')
        .find_map(|p| p.strip_prefix("prefix="))
        .map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    let bucket = b64.encode(BUCKET);
    let mut uploads = String::new();
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix(&format!(".bucket-{bucket}.object-"))
            .and_then(|r| r.strip_suffix(".metadata.json"))
        else {
            continue;
        };
        let Some((key, id)) = rest.split_once(".upload-") else {
            continue;
        };
        let Some(key) = b64.decode(key).ok().and_then(|k| String::from_utf8(k).ok()) else {
            continue;
        };
        let Ok(modified) =
            std::fs::metadata(root.join(format!(".upload-{id}.json"))).and_then(|m| m.modified())
        else {
            continue;
        };
        if !key.starts_with(&prefix) {
            continue;
        }
        let initiated = chrono::DateTime::<chrono::Utc>::from(modified).to_rfc3339();
        let key = key
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        uploads.push_str(&format!(
            "<Upload><Key>{key}</Key><UploadId>{id}</UploadId><Initiated>{initiated}</Initiated></Upload>"
        ));
    }
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListMultipartUploadsResult><Bucket>{BUCKET}</Bucket><IsTruncated>false</IsTruncated>{uploads}</ListMultipartUploadsResult>"
    );
    Response::builder()
        .header("content-type", "application/xml")
        .body(Body::from(xml))
        .expect("response")
}

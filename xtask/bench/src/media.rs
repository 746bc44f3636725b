//! Media storage: upload throughput through the axum handler into the S3 emulator beside a
//! plain object_store multipart put of the same bytes, peak memory during a large upload,
//! signed URLs per second, requests to the store per operation, and local media serving
//! beside tower-http's `ServeDir` (wrk).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use asset_storage::{Location, Object, Policy, Settings, Storage, TypeSet};
use bytes::Bytes;
use http::Method;
use object_store::ObjectStoreExt as _;
use tests::s3::TestS3;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{Figure, figure, median};

const MIB: u64 = 1 << 20;
const CHUNK: usize = 256 << 10;

/// One chunk of the upload body: deterministic, not compressible, a ZIP signature first.
fn chunk(i: u64) -> Bytes {
    let mut rng = super::rng(i + 1);
    let mut c = vec![0u8; CHUNK];
    for w in c.chunks_mut(8) {
        let v = rng().to_le_bytes();
        w.copy_from_slice(&v[..w.len()]);
    }
    if i == 0 {
        c[..4].copy_from_slice(b"PK\x03\x04");
    }
    Bytes::from(c)
}

/// The upload handler of the README on a loopback port.
async fn handler(storage: Storage) -> anyhow::Result<SocketAddr> {
    use axum::extract::State;
    async fn upload(
        State(storage): State<Storage>,
        form: asset_storage::axum::UploadForm,
    ) -> Result<String, asset_storage::axum::UploadError> {
        let policy = Policy::new("bench")?
            .types(TypeSet::any())
            .max_size(u64::MAX);
        let up = asset_storage::axum::save_multipart(&storage, &policy, form).await?;
        Ok(up.files.first().map(|f| f.key.clone()).unwrap_or_default())
    }
    let app = axum::Router::new()
        .route("/upload", axum::routing::post(upload))
        .with_state(storage);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// POSTs a `bytes`-long multipart upload made as it is sent; the response status and body.
async fn post(addr: SocketAddr, bytes: u64) -> anyhow::Result<(u16, String)> {
    let head = "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"bench.zip\"\r\nContent-Type: application/zip\r\n\r\n";
    let tail = "\r\n--b--\r\n";
    let len = head.len() as u64 + bytes + tail.len() as u64;
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    s.write_all(
        format!(
            "POST /upload HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: {len}\r\n\r\n{head}"
        )
        .as_bytes(),
    )
    .await?;
    for i in 0..bytes / CHUNK as u64 {
        s.write_all(&chunk(i)).await?;
    }
    s.write_all(tail.as_bytes()).await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    Ok((status, body))
}

/// The same bytes with object_store's streaming multipart put (parts of the same size).
async fn plain_put(storage: &Storage, key: &str, bytes: u64) -> anyhow::Result<()> {
    let store = storage.object_store();
    let upload = store
        .put_multipart(&object_store::path::Path::from(key))
        .await?;
    let mut w =
        object_store::WriteMultipart::new_with_chunk_size(upload, storage.settings().part_size);
    for i in 0..bytes / CHUNK as u64 {
        w.wait_for_capacity(2).await?;
        w.put(chunk(i));
    }
    w.finish().await?;
    Ok(())
}

pub fn bench(quick: bool, runs: usize) -> anyhow::Result<Vec<Figure>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut figures = Vec::new();
    rt.block_on(async {
        figures.extend(throughput(quick, runs).await?);
        figures.extend(memory(quick).await?);
        figures.extend(signing().await?);
        figures.extend(requests().await?);
        anyhow::Ok(())
    })?;
    figures.extend(serving(&rt, quick, runs)?);
    Ok(figures)
}

async fn throughput(quick: bool, runs: usize) -> anyhow::Result<Vec<Figure>> {
    let bytes = if quick { 64 * MIB } else { 256 * MIB };
    let (mut ours, mut plain) = (Vec::new(), Vec::new());
    for run in 0..runs {
        // A fresh emulator for each measurement (each keeps what it stored on disk), and the
        // two take turns going first.
        for ours_first in [run % 2 == 0, run % 2 == 1] {
            let s3 = TestS3::start().await;
            let storage = Storage::new(s3.media("m"))?;
            if ours_first {
                let addr = handler(storage.clone()).await?;
                let t = Instant::now();
                let (status, body) = post(addr, bytes).await?;
                if status != 200 {
                    bail!("upload through the handler: {status} {body}");
                }
                ours.push(bytes as f64 / t.elapsed().as_secs_f64() / 1e6);
            } else {
                let t = Instant::now();
                plain_put(&storage, &format!("plain/{run}.bin"), bytes).await?;
                plain.push(bytes as f64 / t.elapsed().as_secs_f64() / 1e6);
            }
        }
    }
    Ok(vec![figure(
        format!(
            "upload through the axum handler to the S3 emulator, {} MiB, MB/s",
            bytes / MIB
        ),
        median(ours),
        "MB/s",
        "object_store streaming multipart put of the same bytes, same part size",
        Some(median(plain)),
        ">= 0.9",
    )])
}

/// Peak RSS growth while a large upload goes through the handler into a local folder (the
/// emulator, in this process too, would count its own buffers).
async fn memory(quick: bool) -> anyhow::Result<Vec<Figure>> {
    let bytes = if quick { 256 * MIB } else { 1024 * MIB };
    let dir = tempfile::tempdir()?;
    let mut settings = Settings::new(Location::File {
        path: dir.path().join("media"),
    });
    settings.signing_key = Some(asset_storage::SigningKey::new([3u8; 32])?);
    let storage = Storage::new(settings)?;
    let addr = handler(storage).await?;
    super::peak_reset();
    let base = super::current_rss();
    let (status, body) = post(addr, bytes).await?;
    if status != 200 {
        bail!("upload through the handler: {status} {body}");
    }
    let grew = (super::peak_bytes() - base).max(0.0);
    Ok(vec![figure(
        format!(
            "peak RSS growth during a {} MiB upload through the handler (local folder)",
            bytes / MIB
        ),
        grew / MIB as f64,
        "MiB",
        "-",
        None,
        "<= 64 MiB",
    )])
}

/// Signed URLs per second: S3 presigning (with the forced download headers) and the local
/// HMAC; the baseline is object_store's own presigning without our headers.
async fn signing() -> anyhow::Result<Vec<Figure>> {
    let s3 = TestS3::start().await;
    let storage = Storage::new(s3.media("m"))?;
    let object = Object {
        key: "private/docs/0123456789abcdef0123456789abcdef/report.pdf".into(),
        size: 1,
        content_type: "application/pdf".into(),
        original_name: "Quarterly report.pdf".into(),
        visibility: asset_storage::Visibility::Private,
        modified_ms: None,
    };
    let per_second = |n: usize, t: Instant| n as f64 / t.elapsed().as_secs_f64();
    let window = Duration::from_millis(700);
    let (t, mut n) = (Instant::now(), 0);
    while t.elapsed() < window {
        storage.signed_url(&object, None).await?;
        n += 1;
    }
    let ours = per_second(n, t);
    let signer = s3.connection("m").open_s3()?;
    let path = object_store::path::Path::from(object.key.as_str());
    let (t, mut n) = (Instant::now(), 0);
    while t.elapsed() < window {
        object_store::signer::Signer::signed_url(
            &signer,
            Method::GET,
            &path,
            Duration::from_secs(3600),
        )
        .await?;
        n += 1;
    }
    let plain = per_second(n, t);
    let dir = tempfile::tempdir()?;
    let mut settings = Settings::new(Location::File {
        path: dir.path().to_path_buf(),
    });
    settings.signing_key = Some(asset_storage::SigningKey::new([3u8; 32])?);
    let local = Storage::new(settings)?;
    let (t, mut n) = (Instant::now(), 0);
    while t.elapsed() < window {
        local.signed_url(&object, None).await?;
        n += 1;
    }
    let hmac = per_second(n, t);
    Ok(vec![
        figure(
            "signed URLs per second, S3 (with response-content-disposition)",
            ours,
            "URL/s",
            "object_store signed_url, no extra query",
            Some(plain),
            "no request to the store",
        ),
        figure(
            "signed URLs per second, local folder (HMAC)",
            hmac,
            "URL/s",
            "-",
            None,
            "no request to the store",
        ),
    ])
}

/// Requests the emulator sees per operation.
async fn requests() -> anyhow::Result<Vec<Figure>> {
    let s3 = TestS3::start().await;
    let storage = Storage::new(s3.media("m"))?;
    let total = |s3: &TestS3| s3.faults.total() as f64;
    let policy = Policy::new("r")?.types(TypeSet::any()).public();
    let body = futures::stream::iter([Ok::<_, std::io::Error>(chunk(0))]);
    s3.faults.reset_counts();
    let o = storage.save(&policy, "a.zip", None, body).await?;
    let save = total(&s3);
    s3.faults.reset_counts();
    storage.public_url(&o.key)?;
    let public = total(&s3);
    storage.signed_url(&o, None).await?;
    let signed = total(&s3);
    Ok(vec![
        figure(
            "requests to the store: save (one part)",
            save,
            "requests",
            "-",
            None,
            "1",
        ),
        figure(
            "requests to the store: public URL",
            public,
            "requests",
            "-",
            None,
            "0",
        ),
        figure(
            "requests to the store: signed URL",
            signed,
            "requests",
            "-",
            None,
            "0",
        ),
    ])
}

/// A public 100 KB image from the local media service and from ServeDir over the same folder.
fn serving(rt: &tokio::runtime::Runtime, quick: bool, runs: usize) -> anyhow::Result<Vec<Figure>> {
    if super::which("wrk").is_none() {
        println!("wrk is not installed (apt-get install wrk): the media serving figure is skipped");
        return Ok(Vec::new());
    }
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("media");
    let (ours, theirs, path) = rt.block_on(async {
        let mut settings = Settings::new(Location::File { path: root.clone() });
        settings.signing_key = Some(asset_storage::SigningKey::new([3u8; 32])?);
        let storage = Storage::new(settings)?;
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&chunk(5)[..100_000]);
        let policy = Policy::new("img")?.types(TypeSet::any()).public();
        let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(png))]);
        let o = storage.save(&policy, "photo.png", None, body).await?;
        let ours =
            super::serve::listen(axum::Router::new().nest_service("/media", storage.service()))
                .await?;
        let theirs = super::serve::listen(
            axum::Router::new().nest_service("/media", tower_http::services::ServeDir::new(&root)),
        )
        .await?;
        anyhow::Ok((ours, theirs, format!("/media/{}", o.key)))
    })?;
    let duration = if quick { "2s" } else { "5s" };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        a.push(super::serve::wrk(ours, &path, None, duration).context("ours")?);
        b.push(super::serve::wrk(theirs, &path, None, duration).context("ServeDir")?);
    }
    Ok(vec![figure(
        "serving a public 100 KB image from a local folder, requests/s",
        median(a),
        "req/s",
        "tower-http ServeDir over the same folder (no metadata, no signatures)",
        Some(median(b)),
        "report",
    )])
}

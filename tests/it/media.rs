//! Media storage: one conformance suite run on a local folder and on the S3 emulator, then
//! the HTTP side (the local service, the emulator, the axum upload handler), signed URLs,
//! direct uploads, thumbnails, hostile input and `sync` between stores.

use std::time::{Duration, SystemTime};

use asset_storage::{Error, Object, Policy, Settings, Storage, ThumbSize, TypeSet, Visibility};
use bytes::Bytes;
use futures::StreamExt as _;
use hyper::Method;
use sha2::Digest as _;
use tests::s3::{BUCKET, TestS3};
use tests::weed::Weed;

/// A storage under test and what keeps it alive: a local folder served by the media service
/// on a loopback port, or a prefix of the S3 emulator.
struct Backend {
    storage: Storage,
    name: &'static str,
    s3: Option<TestS3>,
    weed: Option<Weed>,
    root: Option<tempfile::TempDir>,
}

impl Backend {
    async fn local() -> Backend {
        Backend::local_with(|_| {}).await
    }

    async fn local_with(edit: impl FnOnce(&mut Settings)) -> Backend {
        let root = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut settings = Settings::new(
            asset_storage::Location::parse(root.path().join("media").to_str().unwrap()).unwrap(),
        );
        settings.base_url = Some(format!("http://{addr}/media/"));
        settings.signing_key = Some(asset_storage::SigningKey::new([42u8; 32]).unwrap());
        settings.part_size = 5 << 20;
        edit(&mut settings);
        let storage = Storage::new(settings).unwrap();
        let app = axum::Router::new().nest_service("/media", storage.service());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Backend {
            storage,
            name: "local",
            s3: None,
            weed: None,
            root: Some(root),
        }
    }

    async fn s3() -> Backend {
        let s3 = TestS3::start().await;
        let mut settings = s3.media("media");
        settings.part_size = 5 << 20;
        let storage = Storage::new(settings).unwrap();
        Backend {
            storage,
            name: "s3",
            s3: Some(s3),
            weed: None,
            root: None,
        }
    }

    /// A prefix of SeaweedFS, with authentication on and anonymous reads only under
    /// `public/`.
    async fn weed() -> Backend {
        let weed = Weed::start().await;
        let mut settings = weed.media("media");
        settings.part_size = 5 << 20;
        let storage = Storage::new(settings).unwrap();
        Backend {
            storage,
            name: "seaweedfs",
            s3: None,
            weed: Some(weed),
            root: None,
        }
    }

    /// Multipart uploads the backend holds open (a folder's staging files, S3's uploads).
    async fn open_uploads(&self) -> Vec<String> {
        if let Some(w) = &self.weed {
            return w.open_uploads().await;
        }
        match (&self.root, &self.s3) {
            (Some(r), _) => tests::read_tree(&r.path().join("media"))
                .into_keys()
                .filter(|k| {
                    k.rsplit_once('#')
                        .is_some_and(|(_, n)| n.parse::<u32>().is_ok())
                })
                .collect(),
            (_, Some(s3)) => s3.open_uploads(),
            _ => unreachable!(),
        }
    }

    /// Every key stored (metadata records and thumbnails included), read from the backend
    /// itself rather than through the API under test.
    async fn files(&self) -> Vec<String> {
        if let Some(w) = &self.weed {
            return w.files("media").await;
        }
        let dir = match (&self.root, &self.s3) {
            (Some(r), _) => r.path().join("media"),
            (_, Some(s3)) => s3.root.path().join(BUCKET).join("media"),
            _ => unreachable!(),
        };
        if !dir.exists() {
            return Vec::new();
        }
        let mut keys: Vec<String> = tests::read_tree(&dir)
            .into_keys()
            .filter(|k| !k.contains(".s3s") && !k.starts_with(".meta/"))
            .collect();
        keys.sort();
        keys
    }
}

fn body(
    bytes: &[u8],
    chunk: usize,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + use<> {
    let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(chunks)
}

pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([(x * 5 % 256) as u8, (y * 9 % 256) as u8, 200, 255])
    });
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png).unwrap();
    buf.into_inner()
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

fn images(prefix: &str) -> Policy {
    Policy::new(prefix)
        .unwrap()
        .types(TypeSet::images())
        .max_size(1 << 20)
}

fn key_shape(key: &str, visibility: &str, prefix: &str, name: &str) {
    let parts: Vec<&str> = key.split('/').collect();
    assert_eq!(parts.len(), 4, "{key}");
    assert_eq!(parts[0], visibility, "{key}");
    assert_eq!(parts[1], prefix, "{key}");
    assert!(
        parts[2].len() == 32 && parts[2].bytes().all(|b| b.is_ascii_hexdigit()),
        "{key}"
    );
    assert_eq!(parts[3], name, "{key}");
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.unwrap()
}

/// The whole Storage API, the same on every backend.
async fn conformance(b: Backend) {
    let s = &b.storage;
    let name = b.name;
    let image = png(40, 20);

    // save -> key, record; metadata, exists, open, ranged open, read
    let saved = s
        .save(
            &images("avatars").public(),
            "Me & you.png",
            Some("image/png"),
            body(&image, 1000),
        )
        .await
        .unwrap();
    key_shape(&saved.key, "public", "avatars", "Me_you.png");
    assert_eq!(
        (
            saved.size,
            saved.content_type.as_str(),
            saved.original_name.as_str(),
            saved.visibility
        ),
        (
            image.len() as u64,
            "image/png",
            "Me & you.png",
            Visibility::Public
        ),
        "{name}"
    );
    let meta = s.metadata(&saved.key).await.unwrap();
    assert_eq!(
        (
            meta.size,
            meta.content_type.as_str(),
            meta.original_name.as_str()
        ),
        (image.len() as u64, "image/png", "Me & you.png"),
        "{name}"
    );
    assert!(meta.modified_ms.is_some());
    assert!(s.exists(&saved.key).await.unwrap());
    assert!(!s.exists("public/avatars/0000/none.png").await.unwrap());
    let (_, all) = s.read(&saved.key, u64::MAX).await.unwrap();
    assert_eq!(all, image, "{name}");
    let part = s.open(&saved.key, Some(10..30)).await.unwrap();
    assert_eq!(part.range, 10..30);
    let bytes: Vec<u8> = part.body.map(|c| c.unwrap().to_vec()).concat().await;
    assert_eq!(bytes, image[10..30], "{name}");
    assert!(matches!(
        s.metadata("public/avatars/0000/none.png").await,
        Err(Error::NotFound { .. })
    ));

    // The public URL needs no request and serves the bytes with their type.
    let r = get(&s.public_url(&saved.key).unwrap()).await;
    assert_eq!(r.status(), 200, "{name}");
    assert_eq!(r.headers()["content-type"], "image/png", "{name}");
    assert_eq!(r.bytes().await.unwrap(), image, "{name}");

    // A private document: no URL without a signature, a signed URL that works.
    let doc = s
        .save(
            &Policy::new("docs").unwrap(),
            "résumé été.pdf",
            Some("application/pdf"),
            body(&pdf(), 7),
        )
        .await
        .unwrap();
    key_shape(&doc.key, "private", "docs", "resume_ete.pdf");
    assert_eq!(
        s.metadata(&doc.key).await.unwrap().original_name,
        "résumé été.pdf"
    );
    assert!(s.public_url(&doc.key).is_err());
    let signed = s.signed_url(&doc, None).await.unwrap();
    let unsigned = signed.split('?').next().unwrap();
    assert_eq!(
        get(unsigned).await.status(),
        403,
        "{name}: a private object without a signature"
    );
    let r = get(&signed).await;
    assert_eq!(r.status(), 200, "{name}: {signed}");
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("inline;")
            && disposition.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%C3%A9t%C3%A9.pdf"),
        "{name}: {disposition}"
    );
    assert_eq!(r.bytes().await.unwrap(), pdf());

    // Pagination in key order, thumbnails and records not listed.
    let mut made = Vec::new();
    for i in 0..5 {
        let o = s
            .save(
                &images("gallery"),
                &format!("g{i}.png"),
                None,
                body(&png(2, 2), 64),
            )
            .await
            .unwrap();
        made.push(o.key);
    }
    made.sort();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = s
            .list("private/gallery", after.as_deref(), 2)
            .await
            .unwrap();
        pages += 1;
        seen.extend(page.objects.iter().map(|e| e.key.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, made, "{name}");
    assert_eq!(pages, 3, "{name}");

    // copy: a new key with the same bytes, type, name and visibility.
    let copy = s.copy(&saved.key, "archive").await.unwrap();
    key_shape(&copy.key, "public", "archive", "Me_you.png");
    let m = s.metadata(&copy.key).await.unwrap();
    assert_eq!(
        (m.content_type.as_str(), m.original_name.as_str()),
        ("image/png", "Me & you.png")
    );
    assert_eq!(s.read(&copy.key, u64::MAX).await.unwrap().1, image);

    // Thumbnails: made once, beside the original, deleted with it.
    let small = ThumbSize::cropped("small", 10, 10);
    let t = s.thumbnail(&saved.key, &small).await.unwrap();
    assert_eq!(t.key, s.thumbnail_key(&saved.key, &small).unwrap());
    assert!(t.key.ends_with("/_thumb/small.png"), "{}", t.key);
    let decoded = image::load_from_memory(&s.read(&t.key, u64::MAX).await.unwrap().1).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (10, 10));
    let again = s.thumbnail(&saved.key, &small).await.unwrap();
    assert_eq!((again.key.as_str(), again.size), (t.key.as_str(), t.size));
    assert!(matches!(
        s.thumbnail(&doc.key, &small).await,
        Err(Error::Image { .. })
    ));

    // The store refuses to create over an existing key (what save relies on).
    let store = s.object_store();
    let existing = object_store::path::Path::from(saved.key.as_str());
    let e = store
        .put_opts(
            &existing,
            b"other".to_vec().into(),
            object_store::PutMode::Create.into(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, object_store::Error::AlreadyExists { .. }),
        "{name}: {e}"
    );
    assert_eq!(s.read(&saved.key, u64::MAX).await.unwrap().1, image);

    // Large bodies stream in parts; over the cap, nothing is left.
    let big: Vec<u8> = (0..12u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(&big);
    let docs = Policy::new("big").unwrap().max_size(64 << 20);
    let o = s
        .save(&docs, "data.zip", None, body(&zip, 64 << 10))
        .await
        .unwrap();
    assert_eq!(o.size, zip.len() as u64);
    let back = s.read(&o.key, u64::MAX).await.unwrap().1;
    assert_eq!(
        sha2::Sha256::digest(&back),
        sha2::Sha256::digest(&zip),
        "{name}"
    );
    let before = b.files().await;
    let capped = Policy::new("big").unwrap().max_size(7 << 20);
    let e = s
        .save(&capped, "data.zip", None, body(&zip, 64 << 10))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{name}: {e}");
    let e = s
        .save(
            &images("avatars"),
            "a.png",
            None,
            body(b"<script>alert(1)</script>", 5),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::TypeNotAllowed { .. }), "{name}: {e}");
    assert_eq!(
        b.files().await,
        before,
        "{name}: failed saves leave nothing"
    );

    // Names given to the API stay inside the storage.
    for bad in [
        "../x",
        "/etc/passwd",
        "public/a/../../x",
        "a\\b",
        "a\0b",
        &"a".repeat(1000),
        ".meta/x",
    ] {
        for e in [
            s.metadata(bad).await.err(),
            s.exists(bad).await.err(),
            s.open(bad, None).await.err(),
            s.delete(bad).await.err(),
        ] {
            assert!(
                matches!(e, Some(Error::InvalidName { .. })),
                "{name} {bad:?}: {e:?}"
            );
        }
    }

    // delete takes the object, its record and its thumbnails.
    s.delete(&saved.key).await.unwrap();
    assert!(!s.exists(&saved.key).await.unwrap());
    assert!(!s.exists(&t.key).await.unwrap());
    s.delete(&saved.key).await.unwrap();
    assert!(
        !b.files()
            .await
            .iter()
            .any(|k| k.contains(saved.key.split('/').nth(2).unwrap()))
    );
}

#[tokio::test]
async fn the_storage_api_on_a_local_folder() {
    conformance(Backend::local().await).await;
}

#[tokio::test]
async fn the_storage_api_on_s3() {
    conformance(Backend::s3().await).await;
}

#[tokio::test]
async fn the_storage_api_on_seaweedfs() {
    conformance(Backend::weed().await).await;
}

#[tokio::test]
async fn object_parameters_come_from_settings() {
    let s3 = TestS3::start().await;
    let mut settings = s3.media("media");
    settings.storage_class = Some("REDUCED_REDUNDANCY".into());
    settings.public_cache_control = "public, max-age=600".into();
    let storage = Storage::new(settings).unwrap();
    let o = storage
        .save(&images("a").public(), "x.png", None, body(&png(3, 3), 100))
        .await
        .unwrap();
    let r = get(&storage.public_url(&o.key).unwrap()).await;
    assert_eq!(r.headers()["cache-control"], "public, max-age=600");
    // A class the store does not know is the store's clear refusal, and nothing is kept.
    let mut bad = s3.media("media");
    bad.storage_class = Some("NO_SUCH_CLASS".into());
    let e = Storage::new(bad)
        .unwrap()
        .save(&images("a").public(), "y.png", None, body(&png(3, 3), 100))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("InvalidStorageClass"), "{e}");
    let page = storage.list("public/a", None, 10).await.unwrap();
    assert_eq!(page.objects.len(), 1);
}

#[tokio::test]
async fn on_s3_a_save_is_one_put_and_urls_are_no_request() {
    let b = Backend::s3().await;
    let s3 = b.s3.as_ref().unwrap();
    s3.faults.reset_counts();
    let o = b
        .storage
        .save(&images("a").public(), "x.png", None, body(&png(3, 3), 100))
        .await
        .unwrap();
    let total = |s3: &TestS3| s3.faults.total();
    assert_eq!((s3.faults.count(&Method::PUT), total(s3)), (1, 1));
    s3.faults.reset_counts();
    b.storage.public_url(&o.key).unwrap();
    b.storage.signed_url(&o, None).await.unwrap();
    b.storage.url(&o).await.unwrap();
    let size = ThumbSize::fit("t", 2, 2);
    b.storage.thumbnail_key(&o.key, &size).unwrap();
    assert_eq!(total(s3), 0);
    b.storage.thumbnail(&o.key, &size).await.unwrap();
    s3.faults.reset_counts();
    b.storage.thumbnail(&o.key, &size).await.unwrap();
    assert_eq!(total(s3), 1, "an existing thumbnail costs one request");
}

/// Each character of a signed URL's path and signature matters, and it stops working when
/// it expires.
async fn check_signed(url: &str, name: &str) {
    assert_eq!(get(url).await.status(), 200, "{name}: {url}");
    let (path_end, sig_start) = {
        let q = url.find('?').unwrap();
        let sig = url
            .find("sig=")
            .or_else(|| url.find("X-Amz-Signature="))
            .map(|i| url[i..].find('=').unwrap() + i + 1)
            .unwrap();
        (q, sig)
    };
    let path_start = url
        .find("/public/")
        .or_else(|| url.find("/private/"))
        .unwrap()
        + 1;
    let positions: Vec<usize> = (path_start..path_end)
        .step_by(7)
        .chain(sig_start..url.len())
        .collect();
    for i in positions {
        let c = url.as_bytes()[i];
        if c == b'/' || c == b'%' {
            continue;
        }
        let swapped = if c == b'a' { 'b' } else { 'a' };
        let mut bad = url.to_owned();
        bad.replace_range(i..=i, &swapped.to_string());
        let status = get(&bad).await.status();
        assert!(
            status.is_client_error(),
            "{name}: changing byte {i} of {url} gave {status}"
        );
    }
}

#[tokio::test]
async fn signed_urls_fail_when_altered_or_expired_local() {
    let b = Backend::local().await;
    let doc = b
        .storage
        .save(&Policy::new("d").unwrap(), "a.pdf", None, body(&pdf(), 100))
        .await
        .unwrap();
    let url = b
        .storage
        .signed_url(&doc, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    check_signed(&url, "local").await;
    // Another clock, later than the expiry, in the service that checks.
    let later = b.storage.with_clock(std::sync::Arc::new(|| {
        SystemTime::now() + Duration::from_secs(61)
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().nest_service("/media", later.service());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let base = b.storage.base_url();
    let moved = url.replace(&base, &format!("http://{addr}/media/"));
    let r = get(&moved).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.text().await.unwrap(), "this link has expired");
    let earlier = moved.replace(&format!("http://{addr}/media/"), &base);
    assert_eq!(get(&earlier).await.status(), 200);
}

async fn presigned_urls_fail_when_altered_or_expired(b: Backend) {
    let doc = b
        .storage
        .save(&Policy::new("d").unwrap(), "a.pdf", None, body(&pdf(), 100))
        .await
        .unwrap();
    let url = b
        .storage
        .signed_url(&doc, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(url.contains("response-content-disposition=inline"), "{url}");
    check_signed(&url, b.name).await;
    // The server checks the expiry against its own clock, from the signing time in whole
    // seconds (rounded down): a 2-second link lives between 1 and 2 seconds, so it still
    // works when the first GET is slow on a busy machine, and is dead 3.1 seconds on.
    let short = b
        .storage
        .signed_url(&doc, Some(Duration::from_secs(2)))
        .await
        .unwrap();
    assert_eq!(get(&short).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(get(&short).await.status(), 403);
}

#[tokio::test]
async fn signed_urls_fail_when_altered_or_expired_s3() {
    presigned_urls_fail_when_altered_or_expired(Backend::s3().await).await;
}

#[tokio::test]
async fn signed_urls_fail_when_altered_or_expired_seaweedfs() {
    presigned_urls_fail_when_altered_or_expired(Backend::weed().await).await;
}

/// The browser's side of a direct upload: PUT with the ticket's headers.
async fn put_ticket(t: &asset_storage::UploadTicket, bytes: Vec<u8>) -> reqwest::StatusCode {
    let mut req = reqwest::Client::new().put(&t.url).body(bytes);
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    req.send().await.unwrap().status()
}

async fn direct_uploads(b: Backend) {
    let s = &b.storage;
    let name = b.name;
    let policy = images("direct").max_size(2000).public();
    let image = png(4, 4);
    let t = s
        .upload_ticket(&policy, "pic.png", "Image/PNG", image.len() as u64)
        .await
        .unwrap();
    key_shape(&t.key, "public", "direct", "pic.png");
    assert!(put_ticket(&t, image.clone()).await.is_success(), "{name}");
    // Unconfirmed bytes are not public: not at the object's URL, not at the pending key.
    let url = s.public_url(&t.key).unwrap();
    assert_eq!(get(&url).await.status(), 404, "{name}");
    let pending = url.replace("/public/", "/pending/public/");
    assert!(get(&pending).await.status().is_client_error(), "{name}");
    // Nor listed.
    let listed = s.list("", None, 1000).await.unwrap();
    assert!(
        listed
            .objects
            .iter()
            .all(|e| !e.key.starts_with("pending/")),
        "{name}: {:?}",
        listed.objects
    );
    // A bare key is not a token.
    assert!(matches!(
        s.confirm_upload(&policy, &t.key).await,
        Err(Error::Forbidden(_))
    ));
    let o = s.confirm_upload(&policy, &t.token).await.unwrap();
    assert_eq!(
        (o.size, o.content_type.as_str(), o.original_name.as_str()),
        (image.len() as u64, "image/png", "pic.png")
    );
    assert_eq!(get(&url).await.bytes().await.unwrap(), image);
    // Confirming again gives the same object.
    assert_eq!(
        s.confirm_upload(&policy, &t.token).await.unwrap().key,
        o.key
    );
    // A ticket is good for one object: replaying it never overwrites, with the same size
    // (the key is taken: 412) or another (refused by its length; 9 MB would go in parts).
    let mut same_size = image.clone();
    same_size[image.len() - 1] ^= 1;
    assert_eq!(put_ticket(&t, same_size).await, 412, "{name}");
    for bytes in [png(5, 5), vec![7u8; 9 << 20]] {
        let replay = put_ticket(&t, bytes).await;
        assert!(
            [403, 412, 413].contains(&replay.as_u16()),
            "{name}: {replay}"
        );
        assert_eq!(s.read(&t.key, u64::MAX).await.unwrap().1, image, "{name}");
    }

    // Wrong bytes for the declared type: refused at confirm; the ticket is used up.
    let t = s
        .upload_ticket(&policy, "evil.png", "image/png", 31)
        .await
        .unwrap();
    let html = b"<html><script>alert(1)</script>".to_vec();
    assert!(put_ticket(&t, html.clone()).await.is_success());
    let e = s.confirm_upload(&policy, &t.token).await.unwrap_err();
    assert_eq!(e.status(), 415, "{name}: {e}");
    assert!(!s.exists(&t.key).await.unwrap());
    assert_eq!(put_ticket(&t, html.clone()).await, 412, "{name}");
    let e = s.confirm_upload(&policy, &t.token).await.unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{name}: {e}");
    assert!(!s.exists(&t.key).await.unwrap());

    // Another size than the ticket's, more or less: refused before anything is stored (the
    // local service counts, S3 checks the signed Content-Length); nothing stays.
    let t = s
        .upload_ticket(&policy, "big.png", "image/png", 100)
        .await
        .unwrap();
    for size in [1500, 99] {
        let mut other = png(4, 4);
        other.resize(size, 0);
        let status = put_ticket(&t, other).await;
        assert!(status.is_client_error(), "{name}: {size} bytes: {status}");
        let e = s.confirm_upload(&policy, &t.token).await.unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{name}: {e}");
    }
    assert!(!s.exists(&t.key).await.unwrap());
    assert!(
        !b.files()
            .await
            .iter()
            .any(|k| k.contains(t.key.split('/').nth(2).unwrap())),
        "{name}: {:?}",
        b.files().await
    );

    // Tickets are checked when asked for, and confirm takes only this policy's tokens.
    assert!(
        s.upload_ticket(&policy, "x.html", "text/html", 10)
            .await
            .is_err()
    );
    assert!(
        s.upload_ticket(&policy, "x.png", "image/png", 5000)
            .await
            .is_err()
    );
    assert!(
        s.upload_ticket(&policy, "x.jpg", "image/png", 10)
            .await
            .is_err()
    );
    assert!(
        s.upload_ticket(&policy, "x.png.", "image/png", 10)
            .await
            .is_ok()
    );
    let other = images("other").public();
    let t = s
        .upload_ticket(&other, "o.png", "image/png", image.len() as u64)
        .await
        .unwrap();
    assert!(put_ticket(&t, image.clone()).await.is_success());
    assert!(matches!(
        s.confirm_upload(&policy, &t.token).await,
        Err(Error::InvalidName { .. })
    ));
    let mut forged = t.token.clone();
    forged.insert(3, 'x');
    assert!(matches!(
        s.confirm_upload(&other, &forged).await,
        Err(Error::Forbidden(_))
    ));

    // Unconfirmed uploads and tombstones go with `media gc`, once no ticket can need them,
    // with what a crashed writer left: an open multipart upload (S3) or a half-written file.
    let abandoned = leave_a_half_write(&b).await;
    assert!(
        s.collect_garbage(Duration::from_secs(60), false)
            .await
            .is_err()
    );
    assert!(
        b.files().await.iter().any(|k| k.starts_with("pending/")),
        "{name}: {:?}",
        b.files().await
    );
    let later = s.with_clock(std::sync::Arc::new(|| {
        SystemTime::now() + Duration::from_secs(3 * 86_400)
    }));
    let dry = later
        .collect_garbage(Duration::from_secs(86_400), true)
        .await
        .unwrap();
    assert!(!dry.removed.is_empty(), "{name}");
    assert!(
        dry.removed.contains(&abandoned) || dry.aborted.iter().any(|a| a.starts_with(&abandoned)),
        "{name}: {dry:?}"
    );
    let gone = later
        .collect_garbage(Duration::from_secs(86_400), false)
        .await
        .unwrap();
    assert_eq!((&gone.removed, &gone.aborted), (&dry.removed, &dry.aborted));
    assert_eq!(b.open_uploads().await, Vec::<String>::new(), "{name}");
    assert!(
        !b.files().await.iter().any(|k| k.starts_with("pending/")),
        "{name}: {:?}",
        b.files().await
    );
    // What was confirmed stays.
    assert_eq!(s.read(&o.key, u64::MAX).await.unwrap().1, image);
}

/// What a writer that died mid-way leaves: an S3 multipart upload with one part and no
/// completion, or object_store's `<file>#<n>` in a folder. Its key.
async fn leave_a_half_write(b: &Backend) -> String {
    let key = "public/direct/0123456789abcdef0123456789abcdef/crashed.png";
    if let Some(root) = &b.root {
        let file = root.path().join("media").join(format!("{key}#7"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, vec![1u8; 1000]).unwrap();
        return format!("{key}#7");
    }
    use object_store::ObjectStoreExt as _;
    let store = b.storage.object_store();
    let mut upload = store
        .put_multipart(&object_store::path::Path::from(key))
        .await
        .unwrap();
    upload.put_part(vec![1u8; 5 << 20].into()).await.unwrap();
    drop(upload);
    assert_eq!(b.open_uploads().await.len(), 1, "{}", b.name);
    key.to_owned()
}

#[tokio::test]
async fn direct_uploads_local() {
    direct_uploads(Backend::local().await).await;
}

#[tokio::test]
async fn direct_uploads_s3() {
    direct_uploads(Backend::s3().await).await;
}

#[tokio::test]
async fn direct_uploads_seaweedfs() {
    direct_uploads(Backend::weed().await).await;
}

#[tokio::test]
async fn a_local_ticket_is_bound_to_its_key_type_and_size() {
    let b = Backend::local().await;
    let policy = images("direct").max_size(2000);
    let image = png(2, 2);
    let t = b
        .storage
        .upload_ticket(&policy, "pic.png", "image/png", image.len() as u64)
        .await
        .unwrap();
    let size = format!("size={}", image.len());
    for (from, to) in [
        (size.as_str(), "size=9000"),
        ("type=image%2Fpng", "type=text%2Fhtml"),
        ("/pic.png", "/pic.html"),
        ("/pending/", "/public/"),
    ] {
        let mut forged = t.clone();
        forged.url = t.url.replace(from, to);
        assert_ne!(forged.url, t.url);
        let status = put_ticket(&forged, image.clone()).await;
        assert_eq!(status, 403, "{from} -> {to}");
    }
    let mut wrong_type = t.clone();
    wrong_type.headers = vec![("content-type".into(), "text/html".into())];
    assert_eq!(put_ticket(&wrong_type, image.clone()).await, 415);
    let mut longer = image.clone();
    longer.push(0);
    assert_eq!(put_ticket(&t, longer).await, 413);
    assert_eq!(put_ticket(&t, image[1..].to_vec()).await, 400);
    assert_eq!(b.files().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_local_service_answers_cors_for_configured_origins_only() {
    let b = Backend::local_with(|s| s.cors_origins = vec!["https://app.example".into()]).await;
    let o = b
        .storage
        .save(&images("c").public(), "c.png", None, body(&png(2, 2), 99))
        .await
        .unwrap();
    let url = b.storage.public_url(&o.key).unwrap();
    let c = reqwest::Client::new();
    let r = c
        .get(&url)
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let r = c
        .get(&url)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // A cache must key every answer by the Origin, the one that matched nothing too.
    assert_eq!(r.headers()["vary"], "Origin");
    assert_eq!(get(&url).await.headers()["vary"], "Origin");
    let r = c
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://app.example")
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        r.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("PUT")
    );
}

#[tokio::test]
async fn markup_is_served_as_an_attachment_with_nosniff() {
    for b in [
        Backend::local().await,
        Backend::s3().await,
        Backend::weed().await,
    ] {
        let any = Policy::new("files").unwrap().types(TypeSet::any()).public();
        for (file, bytes, ctype) in [
            (
                "page.html",
                &b"<!doctype html><script>alert(1)</script>"[..],
                "text/html",
            ),
            (
                "pic.svg",
                &b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"[..],
                "image/svg+xml",
            ),
        ] {
            let o = b
                .storage
                .save(&any, file, None, body(bytes, 9))
                .await
                .unwrap();
            assert_eq!(o.content_type, ctype);
            let r = get(&b.storage.public_url(&o.key).unwrap()).await;
            assert_eq!(r.status(), 200);
            let d = r.headers()["content-disposition"].to_str().unwrap();
            assert!(
                d.starts_with("attachment;") && d.contains(file),
                "{}: {d}",
                b.name
            );
            if b.name == "local" {
                assert_eq!(r.headers()["x-content-type-options"], "nosniff");
                assert!(
                    r.headers()["content-security-policy"]
                        .to_str()
                        .unwrap()
                        .contains("sandbox")
                );
            }
        }
    }
}

/// A router with the upload handler the README shows.
async fn upload_app(b: &Backend, policy: Policy) -> String {
    use axum::extract::State;
    async fn upload(
        State((storage, policy)): State<(Storage, Policy)>,
        form: asset_storage::axum::UploadForm,
    ) -> Result<axum::Json<Vec<Object>>, asset_storage::axum::UploadError> {
        let up = asset_storage::axum::save_multipart(&storage, &policy, form).await?;
        Ok(axum::Json(up.files))
    }
    let app = axum::Router::new()
        .route("/upload", axum::routing::post(upload))
        .with_state((b.storage.clone(), policy));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/upload")
}

/// A multipart body written by hand, so that any file name can be sent.
fn multipart(file_name: &[u8], content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----media-test-boundary-7MA4YWxkTrZu0gW";
    let mut out = Vec::new();
    out.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n")
            .as_bytes(),
    );
    out.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"")
            .as_bytes(),
    );
    out.extend_from_slice(file_name);
    out.extend_from_slice(format!("\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
    out.extend_from_slice(bytes);
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), out)
}

async fn post(url: &str, (ctype, bytes): (String, Vec<u8>)) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", ctype)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or(serde_json::Value::Null);
    (status, v)
}

#[tokio::test]
async fn uploads_through_the_handler_check_size_and_type_and_leave_nothing_on_failure() {
    for b in [
        Backend::local().await,
        Backend::s3().await,
        Backend::weed().await,
    ] {
        let url = upload_app(&b, images("uploads").public().max_size(4096)).await;
        let image = png(8, 8);
        let (status, v) = post(&url, multipart(b"cat.png", "image/png", &image)).await;
        assert_eq!(status, 200, "{v}");
        key_shape(
            v[0]["key"].as_str().unwrap(),
            "public",
            "uploads",
            "cat.png",
        );

        let mut big = png(8, 8);
        big.resize(100_000, 7);
        let before = b.files().await;
        let (status, v) = post(&url, multipart(b"big.png", "image/png", &big)).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (413, Some("too_large")),
            "{}: {v}",
            b.name
        );
        let (status, v) = post(
            &url,
            multipart(b"cat.png", "image/png", b"<?php system($_GET['c']); ?>"),
        )
        .await;
        assert_eq!(
            (status, v["error"].as_str()),
            (415, Some("type_not_allowed")),
            "{}: {v}",
            b.name
        );
        let (status, v) = post(&url, multipart(b"cat.jpg", "image/jpeg", &image)).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (415, Some("type_mismatch")),
            "{}: {v}",
            b.name
        );
        assert_eq!(
            b.files().await,
            before,
            "{}: nothing left by failed uploads",
            b.name
        );
    }
}

#[tokio::test]
async fn hostile_file_names_are_stored_under_generated_keys() {
    let b = Backend::local().await;
    let url = upload_app(&b, images("uploads").public()).await;
    let image = png(2, 2);
    let long = "x".repeat(10_000) + ".png";
    // (raw name, the name kept; "" where only the rules are checked)
    let cases: Vec<(&[u8], &str)> = vec![
        (b"../../etc/passwd.png", "passwd.png"),
        (b"%2e%2e%2fx.png", "2e_2e_2fx.png"),
        (b"..", "file"),
        (b"\xc3\xa9t\xc3\xa9 \xe5\x86\x99\xe7\x9c\x9f.png", "ete.png"),
        (b"C:\\Windows\\evil.png", ""),
        (b"a\\b.png", ""),
        (long.as_bytes(), ""),
    ];
    for (raw, clean) in cases {
        let (status, v) = post(&url, multipart(raw, "image/png", &image)).await;
        assert_eq!(status, 200, "{}: {v}", String::from_utf8_lossy(raw));
        let key = v[0]["key"].as_str().unwrap();
        let last = key.rsplit('/').next().unwrap();
        if clean.is_empty() {
            let parts: Vec<&str> = key.split('/').collect();
            assert_eq!(
                (parts.len(), parts[0], parts[1]),
                (4, "public", "uploads"),
                "{key}"
            );
            assert_eq!(asset_storage::clean_file_name(last), last, "{key}");
            assert!(
                last.len() <= asset_storage::MAX_FILE_NAME && last.ends_with(".png"),
                "{key}"
            );
        } else {
            key_shape(key, "public", "uploads", clean);
        }
        asset_storage::check_key(key).unwrap();
        assert_eq!(b.storage.read(key, u64::MAX).await.unwrap().1, image);
    }
    // NUL and other control characters cannot be in a header: such a form is stored under a
    // clean name or refused as malformed, and then nothing is stored.
    for raw in [&b"a\0b.png"[..], b"a\x01b.png", b"a\r\nX-Evil: 1.png"] {
        let before = b.files().await;
        let (status, v) = post(&url, multipart(raw, "image/png", &image)).await;
        match status {
            // A header cut short leaves a text field, not a file: nothing stored.
            200 if v == serde_json::json!([]) => assert_eq!(b.files().await, before),
            200 => {
                let key = v[0]["key"].as_str().unwrap_or_else(|| panic!("{v}"));
                asset_storage::check_key(key).unwrap();
                let last = key.rsplit('/').next().unwrap();
                assert_eq!(asset_storage::clean_file_name(last), last, "{key}");
                assert!(key.starts_with("public/uploads/"), "{key}");
            }
            400 => assert_eq!(b.files().await, before),
            s => panic!("{}: {s} {v}", String::from_utf8_lossy(raw)),
        }
    }
    // Every file stayed inside the storage's folder.
    let root = b.root.as_ref().unwrap().path();
    let outside: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("media")]);
}

#[tokio::test]
async fn an_endless_body_stops_at_the_cap_with_413() {
    for b in [
        Backend::local().await,
        Backend::s3().await,
        Backend::weed().await,
    ] {
        let url = upload_app(&b, images("uploads").max_size(1 << 20)).await;
        // 64 MiB of a PNG that never ends, sent as it is made.
        let boundary = "endless";
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"e.png\"\r\nContent-Type: image/png\r\n\r\n"
        );
        let mut first = head.into_bytes();
        first.extend_from_slice(&png(2, 2));
        let chunks =
            futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) })
                .chain(
                    futures::stream::repeat_with(|| Ok(Bytes::from(vec![0u8; 64 << 10])))
                        .take(1024),
                );
        let r = reqwest::Client::new()
            .post(&url)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(reqwest::Body::wrap_stream(chunks))
            .send()
            .await;
        // The server answers 413 as soon as the cap passes; the client may see the connection
        // close before it finished sending.
        if let Ok(r) = r {
            assert_eq!(r.status(), 413);
        }
        assert_eq!(b.files().await, Vec::<String>::new());
    }
}

/// The listing of a storage for snapshots: key (random part redacted), size, type and
/// visibility.
async fn listing(s: &Storage) -> String {
    let mut lines = Vec::new();
    for prefix in ["public", "private"] {
        let page = s.list(prefix, None, 1000).await.unwrap();
        for e in page.objects {
            let m = s.metadata(&e.key).await.unwrap();
            let mut parts: Vec<&str> = e.key.split('/').collect();
            parts[2] = "<id>";
            lines.push(format!(
                "{} {} {} {:?} {:?}",
                parts.join("/"),
                m.size,
                m.content_type,
                m.visibility,
                m.original_name
            ));
        }
    }
    lines.sort();
    lines.join("\n")
}

async fn fill(s: &Storage) {
    s.save(
        &images("avatars").public(),
        "ann.png",
        None,
        body(&png(6, 6), 50),
    )
    .await
    .unwrap();
    let o = s
        .save(
            &images("avatars").public(),
            "bob.png",
            None,
            body(&png(8, 4), 50),
        )
        .await
        .unwrap();
    s.thumbnail(&o.key, &ThumbSize::cropped("small", 2, 2))
        .await
        .unwrap();
    s.save(
        &Policy::new("invoices").unwrap(),
        "März 2024.pdf",
        None,
        body(&pdf(), 50),
    )
    .await
    .unwrap();
    s.save(
        &Policy::new("notes").unwrap(),
        "todo.txt",
        Some("text/plain"),
        body(b"buy milk\n", 50),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn sync_copies_between_a_folder_and_s3_both_ways_keeping_type_name_and_privacy() {
    let local = Backend::local().await;
    let s3 = Backend::s3().await;
    fill(&local.storage).await;
    let want = listing(&local.storage).await;
    insta::assert_snapshot!("media_sync_listing", want);

    let dry = asset_storage::sync(&local.storage, &s3.storage, true, &|_| {})
        .await
        .unwrap();
    assert_eq!((dry.copied, dry.skipped), (5, 0));
    assert_eq!(listing(&s3.storage).await, "");

    let lines = std::sync::Mutex::new(Vec::new());
    let done = asset_storage::sync(&local.storage, &s3.storage, false, &|l| {
        lines.lock().unwrap().push(l.to_owned())
    })
    .await
    .unwrap();
    assert_eq!(
        (done.copied, done.skipped, lines.lock().unwrap().len()),
        (5, 0, 5)
    );
    assert_eq!(listing(&s3.storage).await, want);
    // Private objects stay private on the bucket: no anonymous read.
    let page = s3.storage.list("private", None, 100).await.unwrap();
    for e in &page.objects {
        let r = get(&tests::s3::TestS3::url(
            s3.s3.as_ref().unwrap(),
            &format!("media/{}", e.key),
        ))
        .await;
        assert_eq!(r.status(), 403, "{}", e.key);
    }
    let again = asset_storage::sync(&local.storage, &s3.storage, false, &|_| {})
        .await
        .unwrap();
    assert_eq!((again.copied, again.skipped), (0, 5));

    // And back into an empty folder.
    let restored = Backend::local().await;
    let back = asset_storage::sync(&s3.storage, &restored.storage, false, &|_| {})
        .await
        .unwrap();
    assert_eq!(back.copied, 5);
    assert_eq!(listing(&restored.storage).await, want);
    let doc = restored
        .storage
        .list("private/invoices", None, 10)
        .await
        .unwrap()
        .objects[0]
        .key
        .clone();
    let doc = restored.storage.metadata(&doc).await.unwrap();
    let signed = restored.storage.signed_url(&doc, None).await.unwrap();
    assert_eq!(get(&signed).await.status(), 200);
    assert_eq!(get(signed.split('?').next().unwrap()).await.status(), 403);
}

/// A stream of a request body made as it is sent.
fn streamed(
    first: Vec<u8>,
    then: impl futures::Stream<Item = Vec<u8>> + Send + 'static,
) -> reqwest::Body {
    let chunks = futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) })
        .chain(then.map(|c| Ok(Bytes::from(c))));
    reqwest::Body::wrap_stream(chunks)
}

#[tokio::test]
async fn an_endless_part_header_stops_at_its_budget_with_400() {
    let b = Backend::local().await;
    let url = upload_app(&b, images("uploads")).await;
    let boundary = "endless";
    let first =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"e.png\"\r\nX-Pad: ")
            .into_bytes();
    // 64 MiB of one header line; the budget is 16 KiB.
    let rest = futures::stream::repeat_with(|| vec![b'a'; 64 << 10]).take(1024);
    let r = reqwest::Client::new()
        .post(&url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(streamed(first, rest))
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 400);
        let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        let m = v["message"].as_str().unwrap();
        assert!(m.contains("longer than 16384 bytes"), "{m}");
    }
    assert_eq!(b.files().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_form_over_its_file_count_or_body_budget_leaves_nothing() {
    for b in [
        Backend::local().await,
        Backend::s3().await,
        Backend::weed().await,
    ] {
        let url = upload_app(&b, images("uploads").max_size(1000)).await;
        let image = png(2, 2);
        let boundary = "many";
        let mut body = Vec::new();
        for i in 0..11 {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"f{i}\"; filename=\"p{i}.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(&image);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let ctype = format!("multipart/form-data; boundary={boundary}");
        let (status, v) = post(&url, (ctype.clone(), body)).await;
        assert_eq!(status, 400, "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("more than 10 files")
        );
        assert_eq!(b.files().await, Vec::<String>::new());
        // The body budget, here 5000 bytes: three fields of 2000 bytes pass every other limit.
        use axum::extract::State;
        async fn small(
            State(storage): State<Storage>,
            form: asset_storage::axum::UploadForm,
        ) -> Result<axum::Json<Vec<Object>>, asset_storage::axum::UploadError> {
            let limits = asset_storage::axum::FormLimits {
                max_body: Some(5000),
                ..Default::default()
            };
            let up =
                asset_storage::axum::save_multipart(&storage, &images("s"), form.limits(limits))
                    .await?;
            Ok(axum::Json(up.files))
        }
        let app = axum::Router::new()
            .route("/small", axum::routing::post(small))
            .with_state(b.storage.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let mut body = Vec::new();
        for i in 0..3 {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"n{i}\"\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(&[b'n'; 2000]);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let (status, v) = post(&format!("http://{addr}/small"), (ctype, body)).await;
        assert_eq!(status, 413, "{v}");
        assert_eq!(b.files().await, Vec::<String>::new());
    }
}

#[tokio::test]
async fn the_extension_checked_is_the_one_the_key_keeps() {
    let b = Backend::local().await;
    let url = upload_app(&b, Policy::new("files").unwrap().public()).await;
    for (raw, bytes) in [
        (&b"x.html."[..], &b"hello <b>there</b>"[..]),
        (b"shell.php.", b"<?php system($_GET['c']); ?>"),
        (b"shell.php", b"<?php system($_GET['c']); ?>"),
        (b"x.svg ", b"plain words"),
    ] {
        let (status, v) = post(&url, multipart(raw, "text/plain", bytes)).await;
        assert_eq!(status, 415, "{}: {v}", String::from_utf8_lossy(raw));
    }
    // Unknown bytes never get a name a server would run or type.
    let any = Policy::new("any").unwrap().types(TypeSet::any()).public();
    for name in ["x.php.", "x.html", "x.js", "x.exe"] {
        let e = b
            .storage
            .save(&any, name, None, body(&[0u8, 1, 2, 3, 200, 201], 9))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 415, "{name}: {e}");
    }
    let o = b
        .storage
        .save(&any, "data.dat.", None, body(&[0u8, 1, 2, 3, 200, 201], 9))
        .await
        .unwrap();
    assert!(o.key.ends_with("/data.dat"), "{}", o.key);
    assert_eq!(b.files().await.len(), 1);
}

/// A body that sends `n` bytes of `first` and then never ends.
fn stalled(first: Vec<u8>) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures::stream::iter([Ok(Bytes::from(first))]).chain(futures::stream::pending())
}

async fn dropped_saves_leave_nothing(b: Backend) {
    let s = &b.storage;
    let policy = images("gone").max_size(64 << 20);
    // Over the part size (5 MiB here): a multipart upload is under way when the save is
    // dropped; and a small one, still waiting for its end.
    for n in [12 << 20, 10 << 10] {
        let mut bytes = png(4, 4);
        bytes.resize(n, 0);
        let save = s.save(&policy, "g.png", None, stalled(bytes));
        assert!(
            tokio::time::timeout(Duration::from_millis(1500), save)
                .await
                .is_err()
        );
        s.settle().await;
        assert_eq!(
            b.files().await,
            Vec::<String>::new(),
            "{} after {n}",
            b.name
        );
        assert_eq!(b.open_uploads().await, Vec::<String>::new(), "{}", b.name);
    }
}

#[tokio::test]
async fn a_dropped_save_leaves_nothing_local() {
    dropped_saves_leave_nothing(Backend::local().await).await;
}

#[tokio::test]
async fn a_dropped_save_leaves_nothing_s3() {
    dropped_saves_leave_nothing(Backend::s3().await).await;
}

#[tokio::test]
async fn a_dropped_save_leaves_nothing_seaweedfs() {
    dropped_saves_leave_nothing(Backend::weed().await).await;
}

#[tokio::test]
async fn a_dropped_form_deletes_the_files_it_had_saved() {
    for b in [
        Backend::local().await,
        Backend::s3().await,
        Backend::weed().await,
    ] {
        let boundary = "dropped";
        let image = png(3, 3);
        let mut first = Vec::new();
        first.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
        );
        first.extend_from_slice(&image);
        first.extend_from_slice(
            format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"b\"; filename=\"b.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
        );
        first.extend_from_slice(&image);
        let request = axum::http::Request::builder()
            .method("POST")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(axum::body::Body::from_stream(stalled(first)))
            .unwrap();
        let form = asset_storage::axum::UploadForm::from_request(request).unwrap();
        let policy = images("forms");
        let save = asset_storage::axum::save_multipart(&b.storage, &policy, form);
        assert!(
            tokio::time::timeout(Duration::from_millis(1500), save)
                .await
                .is_err()
        );
        b.storage.settle().await;
        assert_eq!(b.files().await, Vec::<String>::new(), "{}", b.name);
    }
}

#[tokio::test]
async fn a_long_thin_image_is_cropped_before_it_is_scaled() {
    // 12000 x 1 pixels, 16 bits a channel: a few hundred bytes of PNG. Scaling all of it to fill a
    // 96 x 96 box would make a 1,152,000 x 96 intermediate; the crop takes 1 x 1 first.
    let img = image::ImageBuffer::<image::Rgba<u16>, _>::from_pixel(
        12_000,
        1,
        image::Rgba([1000, 2000, 3000, 65535]),
    );
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png).unwrap();
    let strip = buf.into_inner();
    assert!(strip.len() < 1000, "{}", strip.len());
    for b in [
        Backend::local().await,
        Backend::s3().await,
        Backend::weed().await,
    ] {
        let o = b
            .storage
            .save(
                &images("thin").public(),
                "strip.png",
                None,
                body(&strip, 99),
            )
            .await
            .unwrap();
        let t = b
            .storage
            .thumbnail(&o.key, &ThumbSize::cropped("sq", 96, 96))
            .await
            .unwrap();
        let made =
            image::load_from_memory(&b.storage.read(&t.key, u64::MAX).await.unwrap().1).unwrap();
        // Never scaled up past what it shows.
        assert_eq!((made.width(), made.height()), (1, 1), "{}", b.name);
        // Over the pixel budget: refused before decoding.
        let mut settings = b.storage.settings().clone();
        settings.budgets.thumbnail_pixels = 11_999;
        let tight = Storage::new(settings).unwrap();
        let o = tight
            .save(
                &images("thin").public(),
                "strip.png",
                None,
                body(&strip, 99),
            )
            .await
            .unwrap();
        let e = tight
            .thumbnail(&o.key, &ThumbSize::cropped("sq", 96, 96))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 422, "{}: {e}", b.name);
        assert!(e.to_string().contains("over the budget of 11999"), "{e}");
    }
}

#[tokio::test]
async fn sync_sets_foreign_names_aside_and_copies_the_rest() {
    let from = Backend::local().await;
    let to = Backend::local().await;
    let o = from
        .storage
        .save(&images("x").public(), "ok.png", None, body(&png(2, 2), 99))
        .await
        .unwrap();
    // Files the storage did not write, with names object_store reads as other keys.
    let dir = from.root.as_ref().unwrap().path().join("media/public/x");
    for name in ["a~b", "100%", "c#1", "d%zz"] {
        std::fs::write(dir.join(name), b"foreign").unwrap();
    }
    let done = asset_storage::sync(&from.storage, &to.storage, false, &|_| {})
        .await
        .unwrap();
    assert_eq!(done.copied, 1, "{done:?}");
    assert!(done.ignored.len() >= 2, "{done:?}");
    assert_eq!(to.files().await, vec![o.key.clone()]);
}

/// A body that sends `first`, then a byte every `every`, without end.
fn trickle(
    first: Vec<u8>,
    every: Duration,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let ticks = futures::stream::unfold((), move |()| async move {
        tokio::time::sleep(every).await;
        Some((Ok(Bytes::from_static(b"x")), ()))
    });
    futures::stream::iter([Ok(Bytes::from(first))]).chain(ticks)
}

#[tokio::test]
async fn stalled_uploads_time_out_with_408_and_leave_nothing() {
    let b = Backend::local_with(|s| s.budgets.upload_idle = Duration::from_secs(1)).await;
    let s = &b.storage;
    // A form whose file stops half-way.
    let url = upload_app(&b, images("uploads")).await;
    let (ctype, bytes) = multipart(b"a.png", "image/png", &png(64, 64));
    let half = bytes[..bytes.len() / 2].to_vec();
    let r = reqwest::Client::new()
        .post(&url)
        .header("content-type", ctype)
        .body(reqwest::Body::wrap_stream(stalled(half)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 408);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "timeout", "{v}");
    // A form that stalls before its file, in a header block.
    let boundary = "stall";
    let head =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"").into_bytes();
    let r = reqwest::Client::new()
        .post(&url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(reqwest::Body::wrap_stream(stalled(head)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 408);
    // A direct upload to the local service that stops half-way.
    let image = png(32, 32);
    let t = s
        .upload_ticket(&images("direct"), "d.png", "image/png", image.len() as u64)
        .await
        .unwrap();
    let mut req = reqwest::Client::new()
        .put(&t.url)
        .header("content-length", image.len())
        .body(reqwest::Body::wrap_stream(stalled(image[..100].to_vec())));
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status(), 408);
    // A save from code.
    let e = s
        .save(&images("code"), "c.png", None, stalled(png(8, 8)))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 408, "{e}");
    s.settle().await;
    assert_eq!(b.files().await, Vec::<String>::new());
}

#[tokio::test]
async fn uploads_past_the_budget_of_uploads_at_once_get_503_and_the_rest_go_on() {
    let b = Backend::local_with(|s| {
        s.budgets.uploads_at_once = 1;
        s.budgets.upload_idle = Duration::from_secs(2);
    })
    .await;
    let s = b.storage.clone();
    // One upload streams slowly (a byte every 300 ms: never idle) and holds the only room.
    let slow = tokio::spawn({
        let s = s.clone();
        async move {
            s.save(
                &Policy::new("slow").unwrap().types(TypeSet::any()),
                "slow.bin",
                None,
                trickle(b"PK\x03\x04".to_vec(), Duration::from_millis(300)),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let url = upload_app(&b, images("uploads")).await;
    let r = post(&url, multipart(b"a.png", "image/png", &png(4, 4))).await;
    assert_eq!(
        (r.0, r.1["error"].as_str()),
        (503, Some("busy")),
        "{:?}",
        r.1
    );
    let e = s
        .save(&images("code"), "c.png", None, body(&png(4, 4), 100))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 503, "{e}");
    // Once the slow one is gone, uploads go through again.
    slow.abort();
    let _ = slow.await;
    s.settle().await;
    let r = post(&url, multipart(b"a.png", "image/png", &png(4, 4))).await;
    assert_eq!(r.0, 200, "{:?}", r.1);
}

#[tokio::test]
async fn upload_budgets_hold_on_s3_and_seaweedfs_too() {
    for b in [Backend::s3().await, Backend::weed().await] {
        let mut settings = b.storage.settings().clone();
        settings.budgets.upload_idle = Duration::from_secs(1);
        settings.budgets.uploads_at_once = 1;
        let s = Storage::new(settings).unwrap();
        let any = Policy::new("held")
            .unwrap()
            .types(TypeSet::any())
            .max_size(64 << 20);
        // One upload trickles (a byte every 300 ms: never idle) and holds the only room:
        // the next waits its idle budget, then 503.
        let held = tokio::spawn({
            let (s, any) = (s.clone(), any.clone());
            async move {
                s.save(
                    &any,
                    "slow.bin",
                    None,
                    trickle(b"PK\x03\x04".to_vec(), Duration::from_millis(300)),
                )
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let e = s
            .save(&images("code"), "c.png", None, body(&png(4, 4), 100))
            .await
            .unwrap_err();
        assert_eq!(e.status(), 503, "{}: {e}", b.name);
        held.abort();
        let _ = held.await;
        // A client that stops after more than a part (a multipart upload open): 408.
        let mut big = png(4, 4);
        big.resize(6 << 20, 0);
        let e = s.save(&any, "s.png", None, stalled(big)).await.unwrap_err();
        assert_eq!(e.status(), 408, "{}: {e}", b.name);
        s.settle().await;
        assert_eq!(b.files().await, Vec::<String>::new(), "{}", b.name);
        assert_eq!(b.open_uploads().await, Vec::<String>::new(), "{}", b.name);
    }
}

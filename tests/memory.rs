//! Memory budgets, measured on the heap of this process (client, server and storage
//! together): a 100 MiB upload through the axum handler into a local folder streams (never
//! more than 64 MiB), and thumbnails stay within their pixel budget, one at a time. Its own
//! binary, so that no other test allocates while a peak is measured; its tests take turns.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use asset_storage::{Policy, Settings, Storage, TypeSet};
use bytes::Bytes;
use futures::StreamExt as _;
use sha2::Digest as _;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MIB: usize = 1 << 20;

/// One measurement at a time.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_upload_streams_with_bounded_memory() {
    let _turn = TURN.lock().await;
    use axum::extract::State;
    let root = tempfile::tempdir().unwrap();
    let mut settings =
        Settings::new(asset_storage::Location::parse(root.path().to_str().unwrap()).unwrap());
    settings.signing_key = Some(asset_storage::SigningKey::new([1u8; 32]).unwrap());
    let storage = Storage::new(settings).unwrap();
    async fn upload(
        State(storage): State<Storage>,
        form: asset_storage::axum::UploadForm,
    ) -> Result<String, asset_storage::axum::UploadError> {
        let policy = Policy::new("big")
            .unwrap()
            .types(TypeSet::any())
            .max_size(200 << 20);
        let up = asset_storage::axum::save_multipart(&storage, &policy, form).await?;
        Ok(up.files[0].key.clone())
    }
    let app = axum::Router::new()
        .route("/upload", axum::routing::post(upload))
        .with_state(storage.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // The body is made as it is sent: 1,600 chunks of 64 KiB after a ZIP signature.
    let chunk = |i: usize| -> Bytes {
        let mut c: Vec<u8> = (0..64 * 1024).map(|j| ((i * 31 + j) % 251) as u8).collect();
        if i == 0 {
            c[..4].copy_from_slice(b"PK\x03\x04");
        }
        Bytes::from(c)
    };
    let mut expected = sha2::Sha256::new();
    for i in 0..1600 {
        expected.update(chunk(i));
    }
    let head = "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big.zip\"\r\nContent-Type: application/zip\r\n\r\n";
    let parts = futures::stream::once(async move { Bytes::from(head) })
        .chain(futures::stream::iter(0..1600).map(chunk))
        .chain(futures::stream::once(async {
            Bytes::from("\r\n--b--\r\n")
        }))
        .map(Ok::<_, std::io::Error>);

    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/upload"))
        .header("content-type", "multipart/form-data; boundary=b")
        .body(reqwest::Body::wrap_stream(parts))
        .send()
        .await
        .unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    assert_eq!(r.status(), 200);
    let key = r.text().await.unwrap();
    println!(
        "peak heap growth during a 100 MiB upload: {:.1} MiB",
        peak as f64 / MIB as f64
    );
    assert!(peak < 64 * MIB, "peak heap growth {} MiB", peak / MIB);

    let stored = std::fs::read(root.path().join(&key)).unwrap();
    assert_eq!(stored.len(), 100 * MIB);
    assert_eq!(sha2::Sha256::digest(&stored), expected.finalize());
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png).unwrap();
    buf.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbnails_stay_within_their_pixel_budget_one_at_a_time() {
    let _turn = TURN.lock().await;
    let root = tempfile::tempdir().unwrap();
    let mut settings =
        Settings::new(asset_storage::Location::parse(root.path().to_str().unwrap()).unwrap());
    settings.signing_key = Some(asset_storage::SigningKey::new([1u8; 32]).unwrap());
    // At the budget: 2000 x 2000 RGB pixels, 12 MB decoded; one thumbnail at a time.
    settings.budgets.thumbnail_pixels = 2000 * 2000;
    settings.budgets.thumbnails_at_once = 1;
    let storage = Storage::new(settings).unwrap();
    let policy = Policy::new("pics").unwrap().types(TypeSet::images());
    let image = png(2000, 2000);
    let mut keys = Vec::new();
    for i in 0..4 {
        let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(image.clone()))]);
        let o = storage
            .save(&policy, &format!("p{i}.png"), None, body)
            .await
            .unwrap();
        keys.push(o.key);
    }
    let size = asset_storage::ThumbSize::cropped("sq", 200, 200);
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let made = futures::future::join_all(keys.iter().map(|k| storage.thumbnail(k, &size))).await;
    let peak = PEAK.load(Ordering::Relaxed) - base;
    for m in made {
        m.unwrap();
    }
    println!(
        "peak heap growth making 4 thumbnails of 4-megapixel images, 1 at a time: {:.1} MiB",
        peak as f64 / MIB as f64
    );
    // One decoded original (12 MB) and its PNG bytes at a time; four at once would be 48 MB.
    assert!(peak < 24 * MIB, "peak heap growth {} MiB", peak / MIB);
    // One pixel over: refused before decoding, at no cost.
    let over = png(2001, 2000);
    let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(over))]);
    let o = storage.save(&policy, "over.png", None, body).await.unwrap();
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let e = storage.thumbnail(&o.key, &size).await.unwrap_err();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    assert_eq!(e.status(), 422, "{e}");
    assert!(peak < 2 * MIB, "peak heap growth {} MiB", peak / MIB);
}

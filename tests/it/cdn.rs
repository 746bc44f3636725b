//! The CDN readiness probe end to end: the example app (a process of its own, started before
//! anything is published) with `ASSET_BASE_URL` at a local HTTP proxy that plays the CDN in
//! front of the S3 emulator's bucket, with or without CORS. The app links its own `/static/`
//! until the CDN serves this build, then the CDN; Chromium loads every asset in each state,
//! `/health/assets` reports each state, and no page mixes two bases.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use asset_build::Manifest;
use asset_runtime::probe::{ManifestCheck, wait_until_serving};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::Value;
use tests::s3::{BUCKET, TestS3};
use tests::{copy_tree, fixture};
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::browser::visit;

const DEADLINE: Duration = Duration::from_secs(60);
const PREFIX: &str = "site/static";

/// The example app's assets built as its build script builds them, into a temp dir.
struct Build {
    _dir: tempfile::TempDir,
    tree: PathBuf,
    manifest: Manifest,
}

fn build_from(source: &Path, dir: tempfile::TempDir) -> Build {
    let tree = dir.path().join("tree");
    let config = asset_build::Config::from_package(&fixture("example-app"), &tree)
        .unwrap()
        .with_source(source)
        .cache_dir(dir.path().join("cache"));
    let manifest = asset_build::run(&config)
        .unwrap_or_else(|e| panic!("{e}"))
        .manifest;
    Build {
        _dir: dir,
        tree,
        manifest,
    }
}

/// This build: the one the example app embeds.
fn this_build() -> Build {
    let b = build_from(&fixture("example-app/assets"), tempfile::tempdir().unwrap());
    assert_eq!(b.manifest.id, example_app::ASSETS.manifest_id());
    b
}

/// Another build: the example app's assets with the theme changed.
fn other_build() -> Build {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("assets");
    copy_tree(&fixture("example-app/assets"), &src);
    let theme = src.join("css/theme.css");
    let text = std::fs::read_to_string(&theme).unwrap();
    std::fs::write(&theme, format!("{text}\n.other-build {{ color: red }}\n")).unwrap();
    let b = build_from(&src, dir);
    assert_ne!(b.manifest.id, example_app::ASSETS.manifest_id());
    b
}

async fn publish(s3: &TestS3, b: &Build) {
    let options = asset_publish::PublishOptions::default();
    asset_publish::publish(
        &s3.settings(PREFIX),
        &b.manifest,
        &b.tree,
        &options,
        &asset_publish::Quiet,
    )
    .await
    .unwrap();
}

/// The CDN: forwards GET and HEAD to the bucket under [`PREFIX`], with
/// `Access-Control-Allow-Origin: *` while `cors` is on.
struct Cdn {
    base: String,
    cors: Arc<AtomicBool>,
}

#[derive(Clone)]
struct Upstream {
    client: reqwest::Client,
    origin: String,
    cors: Arc<AtomicBool>,
}

async fn forward(State(up): State<Upstream>, req: Request) -> Response {
    let url = format!("{}{}", up.origin, req.uri().path().trim_start_matches('/'));
    let r = up
        .client
        .request(req.method().clone(), url)
        .send()
        .await
        .unwrap();
    let mut out = Response::builder().status(r.status().as_u16());
    for name in ["content-type", "content-encoding", "cache-control", "etag"] {
        if let Some(v) = r.headers().get(name) {
            out = out.header(name, v.as_bytes());
        }
    }
    if up.cors.load(Ordering::SeqCst) {
        out = out.header("access-control-allow-origin", "*");
    }
    out.body(Body::from(r.bytes().await.unwrap())).unwrap()
}

async fn start_cdn(s3: &TestS3, cors: bool) -> Cdn {
    let cors = Arc::new(AtomicBool::new(cors));
    let up = Upstream {
        client: reqwest::Client::new(),
        origin: format!("{}/{BUCKET}/{PREFIX}/", s3.endpoint()),
        cors: cors.clone(),
    };
    let router = axum::Router::new().fallback(forward).with_state(up);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Cdn {
        base: format!("http://{addr}/"),
        cors,
    }
}

/// The example app as a process, probing `cdn` every 50 ms; killed when dropped.
struct App {
    url: String,
    _child: tokio::process::Child,
    _media: tempfile::TempDir,
}

async fn start_app(cdn: &Cdn) -> App {
    let media = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_example-server"))
        .env("ASSET_BASE_URL", &cdn.base)
        .env("ASSET_PROBE_INTERVAL", "50ms")
        .env("ASSET_PROBE_TIMEOUT", "5s")
        .env_remove("ASSET_PROBE")
        .env_remove("ASSET_PROBE_ORIGIN")
        .env("PORT", "0")
        .env("MEDIA_STORAGE", media.path().join("media"))
        .env("MEDIA_SIGNING_KEY", "k".repeat(32))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the example-server binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(DEADLINE, lines.next_line())
        .await
        .expect("the app starts in time")
        .unwrap()
        .expect("the app prints where it listens");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("an address in {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    App {
        url,
        _child: child,
        _media: media,
    }
}

impl App {
    async fn health(&self) -> (u16, Value) {
        let r = reqwest::get(format!("{}/health/assets", self.url))
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// Polls the health report until `reason` (or the state, for `cdn`) is reached; the report.
    async fn wait_for(&self, want: &str) -> Value {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let (status, h) = self.health().await;
            assert_eq!(status, 200, "{h}");
            if h["reason"] == want || h["state"] == want {
                return h;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {want} within {DEADLINE:?}: {h:#}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn page(&self) -> String {
        reqwest::get(format!("{}/", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// The base of every asset URL in `html` (each hashed path with what precedes it up to the
/// quote that opens the URL).
fn bases(html: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for a in example_app::ASSETS.iter() {
        for (at, _) in html.match_indices(a.hashed_path()) {
            let start = html[..at].rfind('"').map_or(0, |q| q + 1);
            out.insert(html[start..at].to_owned());
        }
    }
    out
}

/// Chromium loads the page: every response 200, no error, the scripts ran and the font is
/// used; every asset came from `base`.
async fn loads_everything_from(app: &App, base: &str) {
    let v = visit(&format!("{}/", app.url)).await;
    assert_eq!(v.errors, Vec::<String>::new(), "{:#?}", v.statuses);
    assert!(v.statuses.values().all(|&s| s == 200), "{:#?}", v.statuses);
    for a in [
        "css/app.scss",
        "fonts/site.woff2",
        "js/app.ts",
        "js/util.ts",
        "js/site.js",
    ] {
        let url = format!(
            "{base}{}",
            example_app::ASSETS.get(a).unwrap().hashed_path()
        );
        assert_eq!(v.statuses.get(&url), Some(&200), "{url}: {:#?}", v.statuses);
    }
    let r = &v.report;
    assert_eq!(r["module"], "ran", "{r}");
    assert_eq!(r["classic"], "ran", "{r}");
    assert_eq!(r["fontLoaded"], true, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_links_its_own_static_until_the_cdn_serves_this_build_then_the_cdn() {
    let s3 = TestS3::start().await;
    let cdn = start_cdn(&s3, true).await;
    let app = start_app(&cdn).await;
    let build = example_app::ASSETS.manifest_id();

    let h = app.wait_for("not_published").await;
    assert_eq!(h["state"], "local", "{h}");
    assert_eq!(h["build"], build, "{h}");
    assert_eq!(h["base_url"], "/static/", "{h}");
    assert_eq!(
        bases(&app.page().await),
        BTreeSet::from(["/static/".to_owned()])
    );
    let local = format!("{}/static/", app.url);
    loads_everything_from(&app, &local).await;

    // Pages fetched while the switch happens: each one links a single base.
    let stop = Arc::new(AtomicBool::new(false));
    let (locals, cdns) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let pages = tokio::spawn({
        let (url, stop, locals, cdns) =
            (app.url.clone(), stop.clone(), locals.clone(), cdns.clone());
        let cdn_base = cdn.base.clone();
        async move {
            while !stop.load(Ordering::SeqCst) {
                let html = reqwest::get(format!("{url}/"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let b = bases(&html);
                assert_eq!(b.len(), 1, "one base per page: {b:?}");
                let counter = if b.contains(&cdn_base) {
                    &cdns
                } else {
                    &locals
                };
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    });

    let b = this_build();
    publish(&s3, &b).await;
    let check = ManifestCheck::from_manifest_json(&b.manifest.to_json()).unwrap();
    let served = wait_until_serving(&cdn.base, &check, DEADLINE, Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(served, build);

    let h = app.wait_for("cdn").await;
    assert_eq!(h["cdn_build"], build, "{h}");
    assert_eq!(h["base_url"], cdn.base.as_str(), "{h}");
    assert_eq!(h["last_probe"]["ok"], true, "{h}");
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while cdns.load(Ordering::SeqCst) < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "pages after the switch"
        );
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::SeqCst);
    pages.await.unwrap();
    assert!(locals.load(Ordering::SeqCst) > 0, "pages before the switch");

    assert_eq!(bases(&app.page().await), BTreeSet::from([cdn.base.clone()]));
    loads_everything_from(&app, &cdn.base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_build_at_the_cdn_keeps_the_app_on_its_own_static() {
    let s3 = TestS3::start().await;
    let other = other_build();
    publish(&s3, &other).await;
    let cdn = start_cdn(&s3, true).await;
    let app = start_app(&cdn).await;

    let h = app.wait_for("other_build").await;
    assert_eq!(h["state"], "local", "{h}");
    assert_eq!(h["last_probe"]["reason"], "other_build", "{h}");
    let detail = h["detail"].as_str().unwrap();
    assert!(detail.contains(&other.manifest.id), "{h}");
    assert!(
        detail.contains("css/theme.css") || detail.contains("css/app.scss"),
        "{h}"
    );
    assert_eq!(
        bases(&app.page().await),
        BTreeSet::from(["/static/".to_owned()])
    );
    loads_everything_from(&app, &format!("{}/static/", app.url)).await;

    // A deploy script waiting for this build gives up with the reason.
    let check = ManifestCheck::from_id(example_app::ASSETS.manifest_id());
    let e = wait_until_serving(
        &cdn.base,
        &check,
        Duration::from_secs(3),
        Duration::from_millis(50),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("another build"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cdn_without_cors_keeps_the_app_on_its_own_static_until_it_has_cors() {
    let s3 = TestS3::start().await;
    publish(&s3, &this_build()).await;
    let cdn = start_cdn(&s3, false).await;
    let app = start_app(&cdn).await;

    let h = app.wait_for("no_cors").await;
    assert_eq!(h["state"], "local", "{h}");
    assert_eq!(
        bases(&app.page().await),
        BTreeSet::from(["/static/".to_owned()])
    );
    loads_everything_from(&app, &format!("{}/static/", app.url)).await;

    cdn.cors.store(true, Ordering::SeqCst);
    let h = app.wait_for("cdn").await;
    assert_eq!(h["cdn_build"], example_app::ASSETS.manifest_id(), "{h}");
    assert_eq!(bases(&app.page().await), BTreeSet::from([cdn.base.clone()]));
    loads_everything_from(&app, &cdn.base).await;
}

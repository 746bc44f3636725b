//! Publishing to the in-process S3 emulator (and a local folder): what lands, what is skipped,
//! what faults do, pruning, and the errors users see.

use std::path::{Path, PathBuf};
use std::time::Duration;

use asset_manifest::{Encoding, Manifest};
use asset_publish::{
    self as publish, Location, PruneOptions, PublishOptions, Quiet, StoreSettings, Variants,
    VerifyOptions,
};
use hyper::Method;
use tests::s3::{ACCESS_KEY, BUCKET, Fault, SECRET_KEY, TestS3};
use tests::{copy_tree, fixture};

/// The example app's assets built as its build script builds them, into a temp dir.
struct Build {
    _dir: tempfile::TempDir,
    tree: PathBuf,
    manifest: Manifest,
    source: PathBuf,
}

fn build_from(source: &Path, keep: tempfile::TempDir) -> Build {
    let tree = keep.path().join("tree");
    // The package's own settings, over `source` (a copy when a test edits assets).
    let config = asset_build::Config::from_package(&fixture("example-app"), &tree)
        .unwrap()
        .with_source(source)
        .cache_dir(keep.path().join("cache"));
    let output = asset_build::run(&config).unwrap_or_else(|e| panic!("{e}"));
    Build {
        _dir: keep,
        tree,
        manifest: output.manifest,
        source: source.to_path_buf(),
    }
}

fn example_build() -> Build {
    build_from(&fixture("example-app/assets"), tempfile::tempdir().unwrap())
}

/// A copy of the example app's assets with `file` changed, built.
fn changed_build(base: &Build, file: &str, text: &str) -> Build {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("assets");
    copy_tree(&base.source, &src);
    std::fs::write(src.join(file), text).unwrap();
    build_from(&src, dir)
}

/// Every key in the bucket below `prefix` (one listing), with its size and the headers an
/// anonymous client gets.
async fn bucket_listing(s3: &TestS3, settings: &StoreSettings, prefix: &str) -> String {
    use futures::TryStreamExt as _;
    let store = settings.store().unwrap();
    let mut metas: Vec<_> = store.list(None).try_collect().await.unwrap();
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    let mut lines = Vec::new();
    for m in metas {
        let key = m.location.as_ref().to_owned();
        let r = reqwest::Client::new()
            .head(s3.url(&format!("{prefix}/{key}")))
            .send()
            .await
            .unwrap();
        let h = |n: &str| {
            r.headers()
                .get(n)
                .map_or("-".to_owned(), |v| v.to_str().unwrap().to_owned())
        };
        lines.push(format!(
            "{key} {} | {} | {} | {}",
            m.size,
            h("content-type"),
            h("cache-control"),
            h("content-encoding")
        ));
    }
    lines.join("\n")
}

async fn publish(settings: &StoreSettings, b: &Build) -> Result<publish::Summary, publish::Error> {
    publish_with(settings, b, &PublishOptions::default()).await
}

async fn publish_with(
    settings: &StoreSettings,
    b: &Build,
    options: &PublishOptions,
) -> Result<publish::Summary, publish::Error> {
    publish::publish(settings, &b.manifest, &b.tree, options, &Quiet)
        .await
        .map(|(s, _)| s)
}

/// What `verify` finds wrong at the destination.
async fn verify(settings: &StoreSettings, deep: bool) -> Vec<String> {
    let options = VerifyOptions {
        deep,
        ..VerifyOptions::default()
    };
    publish::verify(settings, &options).await.unwrap().wrong
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.unwrap()
}

async fn remote_manifest(s3: &TestS3, prefix: &str) -> Manifest {
    let r = get(&s3.url(&format!("{prefix}/manifest.json"))).await;
    assert_eq!(r.status(), 200);
    Manifest::from_json(&r.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn publish_uploads_every_object_with_its_headers_then_the_manifest() {
    let s3 = TestS3::start().await;
    let b = example_build();
    let settings = s3.settings("site/static");
    let summary = publish(&settings, &b).await.unwrap();
    assert!(summary.committed && summary.skipped == 0);
    assert_eq!(summary.uploaded, b.manifest.files().count());

    for (logical, e) in &b.manifest.assets {
        let r = get(&s3.url(&format!("site/static/{}", e.path))).await;
        assert_eq!(r.status(), 200, "{logical}");
        let headers = r.headers().clone();
        assert_eq!(headers["content-type"], e.content_type.as_str());
        assert_eq!(
            headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(headers.get("content-encoding").is_none());
        let body = r.bytes().await.unwrap();
        assert_eq!(
            body,
            std::fs::read(b.tree.join(&e.path)).unwrap(),
            "{logical}"
        );
        for (&encoding, v) in &e.encodings {
            let r = get(&s3.url(&format!("site/static/{}", v.path))).await;
            assert_eq!(r.headers()["content-encoding"], encoding.as_str());
            assert_eq!(r.headers()["content-type"], e.content_type.as_str());
            let body = r.bytes().await.unwrap();
            let plain = if encoding == Encoding::Br {
                tests::decompress_br(&body)
            } else {
                tests::decompress_gzip(&body)
            };
            assert_eq!(
                plain,
                std::fs::read(b.tree.join(&e.path)).unwrap(),
                "{}",
                v.path
            );
        }
    }
    let m = get(&s3.url("site/static/manifest.json")).await;
    assert_eq!(
        m.headers()["cache-control"],
        "public, max-age=60, must-revalidate"
    );
    assert_eq!(m.bytes().await.unwrap(), b.manifest.to_json());
    let record = get(&s3.url(&format!("site/static/manifests/{}.json", b.manifest.id))).await;
    assert_eq!(record.status(), 200);
    insta::assert_snapshot!(
        "bucket_listing",
        bucket_listing(&s3, &settings, "site/static").await
    );

    let wrong = verify(&settings, true).await;
    assert_eq!(wrong, Vec::<String>::new());
}

/// `verify --deep` finds nothing wrong at the destination.
async fn assert_verified(settings: &StoreSettings) {
    assert_eq!(verify(settings, true).await, Vec::<String>::new());
}

#[tokio::test]
async fn an_object_deleted_by_hand_is_found_by_verify_and_put_back_by_relist() {
    let s3 = TestS3::start().await;
    let b = example_build();
    let settings = s3.settings("r");
    publish(&settings, &b).await.unwrap();
    let logo = &b.manifest.assets["img/logo.png"].path;
    std::fs::remove_file(s3.root.path().join(BUCKET).join("r").join(logo)).unwrap();
    let wrong = verify(&settings, false).await;
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert!(wrong[0].contains(logo.as_str()), "{wrong:?}");

    // The published manifest is this build's: a plain publish trusts it ...
    s3.faults.reset_counts();
    let s = publish(&settings, &b).await.unwrap();
    assert_eq!((s.uploaded, s3.faults.count(&Method::PUT)), (0, 0));
    // ... and --relist lists, finds the hole and fills it, without rewriting the manifest.
    let relist = PublishOptions {
        relist: true,
        ..PublishOptions::default()
    };
    let s = publish_with(&settings, &b, &relist).await.unwrap();
    assert_eq!((s.uploaded, s.committed), (1, false));
    assert_eq!(s3.faults.count(&Method::PUT), 1);
    assert_verified(&settings).await;
}

#[tokio::test]
async fn a_second_publish_puts_nothing_and_a_change_uploads_only_its_objects() {
    let s3 = TestS3::start().await;
    let b = example_build();
    let settings = s3.settings("p");
    let first = publish(&settings, &b).await.unwrap();
    let counts = |s3: &TestS3| {
        [
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::POST,
            Method::DELETE,
        ]
        .map(|m| format!("{m} {}", s3.faults.count(&m)))
        .join(", ")
    };
    println!("{first}\n  requests at the emulator: {}", counts(&s3));
    s3.faults.reset_counts();
    let again = publish(&settings, &b).await.unwrap();
    println!("{again}\n  requests at the emulator: {}", counts(&s3));
    assert_eq!(
        s3.faults.count(&Method::PUT),
        0,
        "no PUT on an unchanged publish"
    );
    assert_eq!((again.uploaded, again.committed), (0, false));
    assert_eq!(again.skipped, b.manifest.files().count());
    assert_eq!(
        counts(&s3),
        "GET 1, HEAD 0, PUT 0, POST 0, DELETE 0",
        "this build is the published one: one GET of the manifest, no listing"
    );

    // Change a classic script that nothing else imports: the bundle holding it changes, its
    // objects, the record and the manifest.
    let changed = changed_build(
        &b,
        "js/classic.js",
        "document.body.dataset.classic = 'v2';\n",
    );
    s3.faults.reset_counts();
    let s = publish(&settings, &changed).await.unwrap();
    // (classic.js ships inside the `js/site.js` bundle only.)
    let e = &changed.manifest.assets["js/site.js"];
    assert_eq!(s.uploaded, 1 + e.encodings.len());
    assert_eq!(
        s3.faults.count(&Method::PUT),
        s.uploaded + 2,
        "objects, generation record, manifest"
    );
    assert_eq!(remote_manifest(&s3, "p").await.id, changed.manifest.id);
    // The old build's objects stay, so pages still being served keep working.
    let old = &b.manifest.assets["js/site.js"].path;
    assert_eq!(get(&s3.url(&format!("p/{old}"))).await.status(), 200);
}

/// Counts what a publish reports.
#[derive(Default)]
struct Counted {
    started: std::sync::Mutex<Vec<(usize, u64)>>,
    uploaded: std::sync::atomic::AtomicU64,
    finished: std::sync::Mutex<Vec<bool>>,
}

impl publish::Progress for Counted {
    fn uploads_started(&self, files: usize, bytes: u64) {
        self.started.lock().unwrap().push((files, bytes));
    }
    fn uploaded(&self, upload: &publish::Upload) {
        self.uploaded
            .fetch_add(upload.size, std::sync::atomic::Ordering::Relaxed);
    }
    fn uploads_finished(&self, ok: bool) {
        self.finished.lock().unwrap().push(ok);
    }
}

#[tokio::test]
async fn progress_hears_of_every_upload_and_nothing_when_all_is_there() {
    let s3 = TestS3::start().await;
    let b = example_build();
    let settings = s3.settings("prog");
    let options = PublishOptions::default();
    let progress = Counted::default();
    let (summary, _) = publish::publish(&settings, &b.manifest, &b.tree, &options, &progress)
        .await
        .unwrap();
    let bytes: u64 = b.manifest.files().map(|(_, size)| size).sum();
    assert_eq!(
        *progress.started.lock().unwrap(),
        [(summary.uploaded, bytes)]
    );
    assert_eq!(progress.uploaded.into_inner(), bytes);
    assert_eq!(*progress.finished.lock().unwrap(), [true]);

    let again = Counted::default();
    publish::publish(&settings, &b.manifest, &b.tree, &options, &again)
        .await
        .unwrap();
    assert!(again.started.lock().unwrap().is_empty());
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let s3 = TestS3::start().await;
    let b = example_build();
    let dry_run = PublishOptions {
        dry_run: true,
        ..PublishOptions::default()
    };
    let (summary, plan) =
        publish::publish(&s3.settings("d"), &b.manifest, &b.tree, &dry_run, &Quiet)
            .await
            .unwrap();
    assert!(summary.dry_run && summary.committed);
    assert_eq!(plan.uploads.len(), b.manifest.files().count());
    assert_eq!(s3.faults.count(&Method::PUT), 0);
    assert_eq!(get(&s3.url("d/manifest.json")).await.status(), 404);
}

#[tokio::test]
async fn prune_keeps_the_kept_generations_whole_and_removes_the_rest() {
    let s3 = TestS3::start().await;
    let settings = s3.settings("g");
    let first = example_build();
    publish(&settings, &first).await.unwrap();
    let second = changed_build(
        &first,
        "css/theme.css",
        "#logo { border: 2px solid red; }\n",
    );
    publish(&settings, &second).await.unwrap();
    let third = changed_build(
        &first,
        "css/theme.css",
        "#logo { border: 3px solid blue; }\n",
    );
    publish(&settings, &third).await.unwrap();

    let dry = publish::prune(
        &settings,
        &PruneOptions {
            keep: 2,
            older_than: None,
            apply: false,
            grace: Duration::ZERO,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        dry.removed_generations,
        std::slice::from_ref(&first.manifest.id)
    );
    assert!(!dry.delete.is_empty());
    let first_css = first.manifest.assets["css/app.scss"].path.clone();
    assert_eq!(
        get(&s3.url(&format!("g/{first_css}"))).await.status(),
        200,
        "without --apply nothing goes"
    );

    let r = publish::prune(
        &settings,
        &PruneOptions {
            keep: 2,
            older_than: None,
            apply: true,
            grace: Duration::ZERO,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.deleted, r.delete.len());
    assert_eq!(get(&s3.url(&format!("g/{first_css}"))).await.status(), 404);
    assert_eq!(
        get(&s3.url(&format!("g/manifests/{}.json", first.manifest.id)))
            .await
            .status(),
        404
    );
    // Shared objects (the font, images) stay because kept generations use them.
    for kept in [&second, &third] {
        for (file, _) in kept.manifest.files() {
            assert_eq!(
                get(&s3.url(&format!("g/{file}"))).await.status(),
                200,
                "{file}"
            );
        }
    }
    // The age keeps everything published within it.
    let young = publish::prune(
        &settings,
        &PruneOptions {
            keep: 0,
            older_than: Some(Duration::from_secs(3600)),
            apply: true,
            grace: Duration::ZERO,
        },
    )
    .await
    .unwrap();
    assert_eq!(young.deleted, 0);
    // keep 0 still keeps the current manifest's generation.
    let r = publish::prune(
        &settings,
        &PruneOptions {
            keep: 0,
            older_than: None,
            apply: true,
            grace: Duration::ZERO,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.kept_generations, std::slice::from_ref(&third.manifest.id));
    let wrong = verify(&settings, true).await;
    assert_eq!(wrong, Vec::<String>::new());
}

#[tokio::test]
async fn transient_faults_are_retried() {
    let s3 = TestS3::start().await;
    let b = example_build();
    s3.faults.inject(Some(Method::PUT), 3, Fault::Status(500));
    s3.faults.inject(Some(Method::PUT), 2, Fault::Status(503));
    s3.faults.inject(Some(Method::PUT), 2, Fault::Drop);
    s3.faults.inject(Some(Method::GET), 1, Fault::Status(500));
    s3.faults
        .inject(None, 3, Fault::Delay(Duration::from_millis(300)));
    let settings = s3.settings("f");
    let s = publish(&settings, &b).await.unwrap();
    assert!(s.committed);
    assert!(
        s3.faults.count(&Method::PUT) > b.manifest.files().count() + 2,
        "retries happened"
    );
    let wrong = verify(&settings, true).await;
    assert_eq!(wrong, Vec::<String>::new());
}

#[tokio::test]
async fn a_permanent_fault_fails_and_leaves_the_previous_manifest_then_a_rerun_finishes() {
    let s3 = TestS3::start().await;
    let mut settings = s3.settings("x");
    settings.connection.max_retries = 2;
    let first = example_build();
    publish(&settings, &first).await.unwrap();

    let second = changed_build(
        &first,
        "js/util.ts",
        "export enum Loaded { Module = 'module' }\nexport function describe(k: string): string { return 'v2 ' + k; }\n",
    );
    s3.faults
        .inject(Some(Method::PUT), usize::MAX, Fault::Status(500));
    let e = publish(&settings, &second).await.unwrap_err().to_string();
    assert!(e.starts_with("uploading "), "{e}");
    assert!(!e.contains(SECRET_KEY) && !e.contains('\n'), "{e}");
    assert_eq!(
        remote_manifest(&s3, "x").await.id,
        first.manifest.id,
        "the previous release is still served"
    );

    s3.faults.clear();
    let s = publish(&settings, &second).await.unwrap();
    assert!(s.committed);
    assert_eq!(remote_manifest(&s3, "x").await.id, second.manifest.id);
    assert_verified(&settings).await;
}

#[tokio::test]
async fn two_publishers_at_once_leave_a_consistent_bucket() {
    let s3 = TestS3::start().await;
    let b = example_build();
    let settings = s3.settings("twice");
    let (one, two) = tokio::join!(publish(&settings, &b), publish(&settings, &b));
    one.unwrap();
    two.unwrap();
    assert_eq!(remote_manifest(&s3, "twice").await.id, b.manifest.id);
    assert_verified(&settings).await;
}

#[tokio::test]
async fn compressed_variants_can_be_stored_gzipped_under_the_main_key() {
    let s3 = TestS3::start().await;
    let b = example_build();
    let mut settings = s3.settings("gz");
    settings.variants = Variants::Gzipped;
    publish(&settings, &b).await.unwrap();
    let e = &b.manifest.assets["css/app.scss"];
    let r = get(&s3.url(&format!("gz/{}", e.path))).await;
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(
        tests::decompress_gzip(&r.bytes().await.unwrap()),
        std::fs::read(b.tree.join(&e.path)).unwrap()
    );
    assert_eq!(
        get(&s3.url(&format!("gz/{}.br", e.path))).await.status(),
        404
    );
    assert_verified(&settings).await;
}

async fn one_line_error(settings: StoreSettings) -> String {
    let b = example_build();
    let e = publish(&settings, &b).await.unwrap_err().to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    assert!(!e.contains(SECRET_KEY), "no secret: {e}");
    e
}

#[tokio::test]
async fn bad_settings_give_clear_one_line_errors_without_secrets() {
    let s3 = TestS3::start().await;
    let mut wrong_key = s3.settings("e");
    wrong_key.connection.secret_access_key = Some("not-the-secret-at-all".into());
    let e = one_line_error(wrong_key).await;
    assert!(
        e.contains("reading s3://assets-bucket/e/manifest.json")
            && e.contains("SignatureDoesNotMatch"),
        "{e}"
    );
    assert!(!e.contains("not-the-secret-at-all"), "{e}");

    let mut no_bucket = s3.settings("e");
    no_bucket.connection.location = Location::parse("s3://no-such-bucket/e").unwrap();
    let e = one_line_error(no_bucket).await;
    assert!(e.contains("NoSuchBucket"), "{e}");

    let mut unreachable = s3.settings("e");
    unreachable.connection.endpoint = Some("http://127.0.0.1:9".into());
    unreachable.connection.max_retries = 1;
    let e = one_line_error(unreachable).await;
    assert!(
        e.contains("reading s3://")
            && (e.contains("onnect") || e.contains("error sending request")),
        "{e}"
    );

    let e = Location::parse("gs2://bucket/x").unwrap_err().to_string();
    assert_eq!(
        e,
        "unknown storage scheme `gs2` in `gs2://bucket/x`: use s3://bucket/prefix, file:///path or a folder path"
    );

    let mut no_creds = s3.settings("e");
    no_creds.connection.access_key_id = None;
    assert!(
        one_line_error(no_creds)
            .await
            .starts_with("no S3 credentials")
    );
    let _ = ACCESS_KEY;
    let _ = BUCKET;
}

#[tokio::test]
async fn a_local_folder_works_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let b = example_build();
    let settings = StoreSettings::from_env(
        Location::parse(&format!("file://{}/out", dir.path().display())).unwrap(),
    );
    let s = publish(&settings, &b).await.unwrap();
    assert!(s.committed);
    for (file, size) in b.manifest.files() {
        assert_eq!(
            std::fs::metadata(dir.path().join("out").join(file))
                .unwrap()
                .len(),
            size,
            "{file}"
        );
    }
    assert_eq!(
        std::fs::read(dir.path().join("out/manifest.json")).unwrap(),
        b.manifest.to_json()
    );
    let again = publish(&settings, &b).await.unwrap();
    assert_eq!((again.uploaded, again.committed), (0, false));
    assert_verified(&settings).await;
}

#[tokio::test]
async fn large_files_go_up_in_parts_with_their_headers() {
    let s3 = TestS3::start().await;
    let b = example_build();
    let mut settings = s3.settings("mp");
    settings.multipart_threshold = 200;
    publish(&settings, &b).await.unwrap();
    // CreateMultipartUpload and CompleteMultipartUpload are POSTs.
    let large = b.manifest.files().filter(|(_, size)| *size > 200).count();
    assert!(large > 0);
    assert_eq!(
        s3.faults.count(&Method::POST),
        2 * large,
        "two POSTs per multipart upload"
    );
    let e = &b.manifest.assets["css/app.scss"];
    let r = get(&s3.url(&format!("mp/{}", e.path))).await;
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        r.bytes().await.unwrap(),
        std::fs::read(b.tree.join(&e.path)).unwrap()
    );
    assert_verified(&settings).await;
}

#[tokio::test]
async fn an_object_of_the_right_size_with_other_bytes_is_a_conflict_not_skipped() {
    use object_store::ObjectStoreExt as _;
    let s3 = TestS3::start().await;
    let settings = s3.settings("same");
    let first = example_build();
    publish(&settings, &first).await.unwrap();
    // Someone overwrote a hashed file with other bytes of the same length.
    let e = &first.manifest.assets["css/app.scss"];
    let mut bytes = std::fs::read(first.tree.join(&e.path)).unwrap();
    bytes[0] ^= 1;
    settings
        .store()
        .unwrap()
        .put(
            &object_store::path::Path::from(e.path.as_str()),
            bytes.into(),
        )
        .await
        .unwrap();
    s3.faults.reset_counts();
    let second = changed_build(
        &first,
        "js/util.ts",
        "export enum Loaded { Module = 'module' }\nexport function describe(k: string): string { return 'v2 ' + k; }\n",
    );
    let err = publish(&settings, &second).await.unwrap_err().to_string();
    assert!(
        err.contains(&e.path) && err.contains("does not hold or decode to this build's file"),
        "{err}"
    );
    // The listing's ETags (our MD5s) prove every other object: reads are the manifest, the
    // listing and the one object it could not prove.
    assert_eq!(s3.faults.count(&Method::GET), 3);
    assert_eq!(s3.faults.count(&Method::PUT), 0, "nothing uploaded");
    assert_eq!(remote_manifest(&s3, "same").await.id, first.manifest.id);
}

#[tokio::test]
async fn an_interrupted_publish_aborts_its_multipart_uploads_and_writes_no_manifest() {
    let s3 = TestS3::start().await;
    let b = example_build();
    let mut settings = s3.settings("int");
    let options = PublishOptions::default();
    settings.multipart_threshold = 200;
    settings.concurrency = 2;
    // Parts (PUTs) take long, so the interrupt lands while uploads are open.
    s3.faults.inject(
        Some(Method::PUT),
        usize::MAX,
        Fault::Delay(Duration::from_secs(2)),
    );
    let interrupter = async {
        // Wait until a multipart upload was created (a POST, and the emulator's record of
        // it, written after the request arrived), then interrupt.
        for _ in 0..200 {
            if s3.faults.count(&Method::POST) > 0 && !s3.open_uploads().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            s3.faults.count(&Method::POST) > 0,
            "no multipart upload started"
        );
        assert!(!s3.open_uploads().is_empty(), "an upload is open");
        options.interrupt.trigger();
    };
    let (result, ()) = tokio::join!(publish_with(&settings, &b, &options), interrupter);
    let e = result.unwrap_err();
    assert!(matches!(e, publish::Error::Interrupted), "{e}");
    assert_eq!(s3.open_uploads(), Vec::<String>::new(), "aborted");
    let r = get(&s3.url("int/manifest.json")).await;
    assert_eq!(r.status(), 404, "no manifest after an interrupt");

    // Running again finishes the job.
    s3.faults.clear();
    let mut again = s3.settings("int");
    again.multipart_threshold = 200;
    assert!(publish(&again, &b).await.unwrap().committed);
    assert_verified(&again).await;
}

#[tokio::test]
async fn a_failed_part_aborts_its_multipart_upload() {
    let s3 = TestS3::start().await;
    let b = example_build();
    let mut settings = s3.settings("part");
    settings.multipart_threshold = 200;
    // Not retried: the part fails for good.
    s3.faults
        .inject(Some(Method::PUT), usize::MAX, Fault::Status(403));
    let e = publish(&settings, &b).await.unwrap_err().to_string();
    assert!(e.starts_with("uploading "), "{e}");
    assert!(
        s3.faults.count(&Method::POST) > 0,
        "multipart uploads were started"
    );
    assert_eq!(s3.open_uploads(), Vec::<String>::new(), "aborted");
}

#[tokio::test]
async fn prune_never_deletes_other_files_under_a_shared_prefix() {
    use object_store::ObjectStoreExt as _;
    let s3 = TestS3::start().await;
    let settings = s3.settings("shared");
    let first = example_build();
    publish(&settings, &first).await.unwrap();
    let second = changed_build(&first, "css/theme.css", "#logo { border: 0; }\n");
    publish(&settings, &second).await.unwrap();
    // Someone else's files beside ours, named like hashed files.
    let store = settings.store().unwrap();
    let theirs = [
        "db.2024010112300000.sql",
        "reports/q3.0123456789abcdef.pdf",
        "notes.txt",
    ];
    for k in theirs {
        store
            .put(
                &object_store::path::Path::from(k),
                b"theirs".to_vec().into(),
            )
            .await
            .unwrap();
    }
    let opts = PruneOptions {
        keep: 1,
        older_than: None,
        apply: true,
        grace: Duration::ZERO,
    };
    let r = publish::prune(&settings, &opts).await.unwrap();
    assert!(r.deleted > 0, "the first build's own files go: {r:?}");
    for k in theirs {
        assert!(!r.delete.contains(&k.to_owned()), "{k}");
        assert_eq!(
            get(&s3.url(&format!("shared/{k}"))).await.status(),
            200,
            "{k}"
        );
    }
    assert_verified(&settings).await;
    // With the default grace period, nothing published within the hour goes.
    let third = changed_build(&first, "css/theme.css", "#logo { border: 1px; }\n");
    publish(&settings, &third).await.unwrap();
    let r = publish::prune(
        &settings,
        &PruneOptions {
            apply: true,
            ..PruneOptions::keep(0)
        },
    )
    .await
    .unwrap();
    assert_eq!((r.deleted, r.removed_generations.len()), (0, 0), "{r:?}");
}

#[tokio::test]
async fn prune_racing_a_publish_keeps_what_the_new_release_needs() {
    let s3 = TestS3::start().await;
    let settings = s3.settings("race");
    let first = example_build();
    publish(&settings, &first).await.unwrap();
    let second = changed_build(&first, "css/theme.css", "#logo { border: 0; }\n");
    publish(&settings, &second).await.unwrap();
    let opts = PruneOptions {
        keep: 1,
        older_than: None,
        apply: false,
        grace: Duration::ZERO,
    };
    let plan = publish::plan_prune(&settings, &opts).await.unwrap();
    let first_css = first.manifest.assets["css/app.scss"].path.clone();
    assert!(plan.delete.contains(&first_css), "{plan:?}");
    // Meanwhile a rollback publishes the first build again: its objects are all there, so
    // it uploads nothing and commits.
    let rollback = publish(&settings, &first).await.unwrap();
    assert!(rollback.committed && rollback.uploaded == 0);
    let r = publish::apply_prune(&settings, plan).await.unwrap();
    assert!(r.spared.contains(&first_css), "{r:?}");
    assert_verified(&settings).await;
    assert_eq!(remote_manifest(&s3, "race").await.id, first.manifest.id);
}

#[tokio::test]
async fn other_compression_levels_publish_without_conflicts_and_stay_verified() {
    let s3 = TestS3::start().await;
    let settings = s3.settings("levels");
    let best = example_build();
    publish(&settings, &best).await.unwrap();
    // The same sources with the fastest levels: the same names, other variant bytes.
    let keep = tempfile::tempdir().unwrap();
    let tree = keep.path().join("tree");
    let config = asset_build::Config::from_package(&fixture("example-app"), &tree)
        .unwrap()
        .with_source(&best.source)
        .gzip(Some(1))
        .brotli(Some(1))
        .brotli_large(1)
        .cache_dir(keep.path().join("cache"));
    let fast = asset_build::run(&config).unwrap_or_else(|e| panic!("{e}"));
    let differs = fast.manifest.assets.iter().any(|(k, e)| {
        e.encodings.get(&Encoding::Br).map(|v| v.size)
            != best.manifest.assets[k]
                .encodings
                .get(&Encoding::Br)
                .map(|v| v.size)
    });
    assert!(differs, "the levels change some variant's size");
    let fast = Build {
        _dir: keep,
        tree,
        manifest: fast.manifest,
        source: best.source.clone(),
    };
    s3.faults.reset_counts();
    let s = publish(&settings, &fast).await.unwrap();
    assert!(s.committed, "{s:?}");
    // The variants there decode to the same bytes: kept, not overwritten.
    assert_eq!(
        s3.faults.count(&Method::PUT),
        2,
        "only the record and the manifest"
    );
    assert_verified(&settings).await;

    // A variant that decodes to something else is a conflict, never overwritten.
    let css = &best.manifest.assets["css/app.scss"];
    let br = &css.encodings[&Encoding::Br].path;
    let path = s3.root.path().join(BUCKET).join("other").join(br);
    publish(&s3.settings("other"), &best).await.unwrap();
    let bogus = mbrotli::Compressor::new(mbrotli::EncoderConfig::default())
        .unwrap()
        .compress(b"body { color: red }")
        .unwrap();
    std::fs::write(&path, &bogus).unwrap();
    let e = publish(&s3.settings("other"), &fast)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(br.as_str()) && e.contains("does not hold or decode"),
        "{e}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bogus);
}

#[tokio::test]
async fn a_prefix_with_tilde_percent_and_spaces_lands_where_it_was_written() {
    let s3 = TestS3::start().await;
    let settings = s3.settings("~team/100% static/v 1");
    let b = example_build();
    publish(&settings, &b).await.unwrap();
    let on_disk = s3
        .root
        .path()
        .join(BUCKET)
        .join("~team/100% static/v 1/manifest.json");
    assert!(on_disk.is_file(), "{}", on_disk.display());
    assert_verified(&settings).await;
}

#[tokio::test]
async fn verify_base_url_reports_assets_a_cross_origin_page_cannot_use() {
    let s3 = TestS3::start().await;
    let settings = s3.settings("cdn");
    let b = example_build();
    publish(&settings, &b).await.unwrap();
    let bucket = format!("{}/{BUCKET}/cdn/", s3.endpoint());
    // A bucket with no CORS rule: every stylesheet, script and font is reported.
    let wrong = publish::check_public(&b.manifest, &bucket, "https://app.example", 4)
        .await
        .unwrap();
    let cors = |m: &Manifest| {
        m.assets
            .values()
            .filter(|e| {
                e.content_type.starts_with("text/css")
                    || e.content_type.starts_with("text/javascript")
                    || e.content_type.starts_with("font/")
            })
            .count()
    };
    assert_eq!(wrong.len(), cors(&b.manifest), "{wrong:#?}");
    assert!(
        wrong
            .iter()
            .all(|w| w.contains("no Access-Control-Allow-Origin")),
        "{wrong:#?}"
    );
    // The same bucket behind a CDN that adds the CORS header: nothing to report.
    let upstream = bucket.clone();
    let cdn = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let upstream = upstream.clone();
        async move {
            let r = reqwest::get(format!("{upstream}{}", uri.path().trim_start_matches('/')))
                .await
                .unwrap();
            let status = r.status().as_u16();
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            let body = r.bytes().await.unwrap();
            axum::http::Response::builder()
                .status(status)
                .header("content-type", ct)
                .header("access-control-allow-origin", "*")
                .body(axum::body::Body::from(body))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, cdn).await.unwrap() });
    let wrong = publish::check_public(
        &b.manifest,
        &format!("http://{addr}/"),
        "https://app.example",
        4,
    )
    .await
    .unwrap();
    assert_eq!(wrong, Vec::<String>::new());
    assert!(
        publish::check_public(&b.manifest, "ftp://x", "https://a", 1)
            .await
            .is_err()
    );
}

//! The example app in headless Chromium (Debian's `chromium`), driven over the DevTools
//! protocol: every asset answers 200, no SRI, console or script error occurs, the web font is
//! in use, and both scripts ran. A tampered `integrity` is caught, so the check can fail.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const STEP: Duration = Duration::from_secs(30);

/// A headless Chromium with a fresh profile, killed when dropped.
struct Browser {
    child: tokio::process::Child,
    _profile: tempfile::TempDir,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: Vec<Value>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

impl Browser {
    async fn launch() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = tokio::process::Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--no-first-run",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} failed ({e}): install Debian's chromium (.ci/run does)",
                    chromium()
                )
            });
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let ws_url = timeout(STEP, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    return url.trim().to_owned();
                }
            }
            panic!("chromium exited before listening for DevTools");
        })
        .await
        .expect("chromium starts within 30 s");
        // Keep draining stderr so chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .expect("DevTools websocket");
        Browser {
            child,
            _profile: profile,
            ws,
            next_id: 0,
            events: Vec::new(),
        }
    }

    /// Sends a command and waits for its result, keeping the events that arrive meanwhile.
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .await
            .expect("send to chromium");
        loop {
            let v = self.recv().await;
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method} failed: {v}");
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    async fn recv(&mut self) -> Value {
        loop {
            let msg = timeout(STEP, self.ws.next())
                .await
                .expect("chromium answers within 30 s")
                .expect("websocket open")
                .expect("websocket message");
            if let Message::Text(t) = msg {
                return serde_json::from_str(&t).expect("DevTools JSON");
            }
        }
    }

    async fn wait_event(&mut self, method: &str) {
        if self.events.iter().any(|e| e["method"] == json!(method)) {
            return;
        }
        loop {
            let v = self.recv().await;
            let hit = v["method"] == json!(method);
            self.events.push(v);
            if hit {
                return;
            }
        }
    }
}

/// What one page load showed.
pub(crate) struct Visit {
    /// Every response's status, by URL.
    pub(crate) statuses: BTreeMap<String, i64>,
    /// SRI, console, network and script errors.
    pub(crate) errors: Vec<String>,
    /// What the page's scripts, font and images did (see `visit`).
    pub(crate) report: Value,
}

/// A new tab with the Network, Runtime, Log and Page domains on and the cache off; its
/// session id.
async fn new_tab(b: &mut Browser) -> String {
    let target = b
        .call(None, "Target.createTarget", json!({ "url": "about:blank" }))
        .await;
    let attached = b
        .call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        )
        .await;
    let session = attached["sessionId"].as_str().unwrap().to_owned();
    let s = Some(session.as_str());
    for domain in [
        "Network.enable",
        "Runtime.enable",
        "Log.enable",
        "Page.enable",
    ] {
        b.call(s, domain, json!({})).await;
    }
    b.call(
        s,
        "Network.setCacheDisabled",
        json!({ "cacheDisabled": true }),
    )
    .await;
    session
}

/// Loads `url` in a fresh headless Chromium and reports what happened.
pub(crate) async fn visit(url: &str) -> Visit {
    let mut b = Browser::launch().await;
    let session = new_tab(&mut b).await;
    let s = Some(session.as_str());
    b.call(s, "Page.navigate", json!({ "url": url })).await;
    b.wait_event("Page.loadEventFired").await;
    let script = r#"(async () => {
        await document.fonts.ready;
        await new Promise(r => setTimeout(r, 200));
        const ctx = document.createElement("canvas").getContext("2d");
        ctx.font = '16px "Site Sans"';
        const withFont = ctx.measureText("Hello assets").width;
        ctx.font = "16px monospace";
        const fallback = ctx.measureText("Hello assets").width;
        const span = document.getElementById("title-text");
        return {
            module: document.body.dataset.module || null,
            classic: document.body.dataset.classic || null,
            footer: document.body.dataset.footer || null,
            footerYear: (document.getElementById("footer-year") || {}).textContent || null,
            moduleText: document.getElementById("module-output").textContent,
            fontLoaded: [...document.fonts].some(f => f.family.replace(/"/g, "") === "Site Sans" && f.status === "loaded"),
            fontCheck: document.fonts.check('16px "Site Sans"'),
            canvasWidth: withFont,
            fallbackWidth: fallback,
            titleWidth: span.getBoundingClientRect().width,
            logo: document.getElementById("logo").naturalWidth,
            background: getComputedStyle(document.body).backgroundImage,
        };
    })()"#;
    let result = b
        .call(
            s,
            "Runtime.evaluate",
            json!({ "expression": script, "awaitPromise": true, "returnByValue": true }),
        )
        .await;
    let report = result["result"]["value"].clone();
    // Late events (a failed lazy load) arrive before this round trip returns.
    b.call(s, "Runtime.evaluate", json!({ "expression": "1" }))
        .await;

    let mut statuses = BTreeMap::new();
    let mut errors = Vec::new();
    for e in &b.events {
        let p = &e["params"];
        match e["method"].as_str().unwrap_or("") {
            "Network.responseReceived" => {
                statuses.insert(
                    p["response"]["url"].as_str().unwrap_or("").to_owned(),
                    p["response"]["status"].as_i64().unwrap_or(0),
                );
            }
            "Network.loadingFailed" => errors.push(format!(
                "loading failed: {} {}",
                p["errorText"], p["blockedReason"]
            )),
            "Runtime.exceptionThrown" => {
                errors.push(format!("exception: {}", p["exceptionDetails"]))
            }
            "Runtime.consoleAPICalled"
                if p["type"] == json!("error") || p["type"] == json!("warning") =>
            {
                errors.push(format!("console {}: {}", p["type"], p["args"]))
            }
            "Log.entryAdded"
                if p["entry"]["level"] == json!("error")
                    || p["entry"]["level"] == json!("warning") =>
            {
                errors.push(format!(
                    "log {}: {}",
                    p["entry"]["level"], p["entry"]["text"]
                ))
            }
            _ => {}
        }
    }
    let _ = b.call(None, "Browser.close", json!({})).await;
    Visit {
        statuses,
        errors,
        report,
    }
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_page_loads_every_asset_with_sri_the_font_and_both_scripts() {
    let (media, _dir) = tests::temp_media();
    let base = serve(example_app::router(media)).await;
    let v = visit(&format!("{base}/")).await;
    println!("responses: {:#?}", v.statuses);
    println!("page report: {:#}", v.report);
    assert_eq!(
        v.errors,
        Vec::<String>::new(),
        "no SRI, console, network or script error"
    );
    let a = |p: &str| {
        format!(
            "{base}/static/{}",
            example_app::ASSETS.get(p).unwrap().hashed_path()
        )
    };
    for expected in [
        "css/app.scss",
        "css/theme.css",
        "fonts/site.woff2",
        "img/logo.png",
        "img/bg.svg",
        "js/app.ts",
        "js/util.ts",
        "js/site.js",
    ] {
        assert_eq!(
            v.statuses.get(&a(expected)),
            Some(&200),
            "{expected} was fetched with 200: {:#?}",
            v.statuses
        );
    }
    assert!(v.statuses.values().all(|&s| s == 200), "{:#?}", v.statuses);
    let r = &v.report;
    assert_eq!(r["module"], json!("ran"), "{r}");
    assert_eq!(r["classic"], json!("ran"), "{r}");
    assert_eq!(
        r["footer"],
        json!("ran"),
        "both parts of the bundle ran: {r}"
    );
    assert!(
        r["footerYear"].as_str().is_some_and(|y| y.contains('©')),
        "{r}"
    );
    assert_eq!(
        r["moduleText"],
        json!("the module script ran"),
        "app.ts imported util.ts by its hashed name, its enum compiled: {r}"
    );
    assert_eq!(r["fontLoaded"], json!(true), "{r}");
    // Every glyph of the fixture font is 1 em wide: 12 characters at 16px.
    let width = |k: &str| r[k].as_f64().unwrap_or(0.0);
    assert!((width("canvasWidth") - 192.0).abs() < 0.5, "{r}");
    assert!(
        (width("titleWidth") - 192.0).abs() < 0.5,
        "the heading is drawn in the web font: {r}"
    );
    assert!((width("fallbackWidth") - 192.0).abs() > 10.0, "{r}");
    assert_eq!(r["logo"], json!(4), "{r}");
    assert!(
        r["background"]
            .as_str()
            .unwrap()
            .contains("/static/img/bg."),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_integrity_is_reported() {
    let tampered = || async {
        let css = example_app::asset!("css/app.scss");
        let page = example_app::page().replace(
            css.integrity(),
            "sha384-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        );
        axum::response::Html(page)
    };
    let router = axum::Router::new()
        .route("/", axum::routing::get(tampered))
        .nest_service("/static", example_app::ASSETS.service());
    let base = serve(router).await;
    let v = visit(&format!("{base}/")).await;
    assert!(
        v.errors.iter().any(|e| e.contains("integrity")),
        "the SRI failure is seen: {:#?}",
        v.errors
    );
    assert_eq!(
        v.report["fontLoaded"],
        json!(false),
        "the blocked stylesheet's font never loads: {}",
        v.report
    );
}

impl Browser {
    /// Evaluates `expression` (awaiting a promise) in the page and returns its value.
    async fn eval(&mut self, session: &str, expression: &str) -> Value {
        let r = self
            .call(
                Some(session),
                "Runtime.evaluate",
                json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
            )
            .await;
        assert!(
            r.get("exceptionDetails").is_none(),
            "{expression} threw: {r}"
        );
        r["result"]["value"].clone()
    }

    /// Runs `action` and waits for the page load it causes.
    async fn until_loaded(&mut self, session: &str, action: &str) {
        self.events.clear();
        self.eval(session, action).await;
        self.wait_event("Page.loadEventFired").await;
    }

    /// Puts `file` into the file input `selector`.
    async fn set_file(&mut self, session: &str, selector: &str, file: &std::path::Path) {
        let doc = self.call(Some(session), "DOM.getDocument", json!({})).await;
        let node = self
            .call(
                Some(session),
                "DOM.querySelector",
                json!({ "nodeId": doc["root"]["nodeId"], "selector": selector }),
            )
            .await;
        self.call(
            Some(session),
            "DOM.setFileInputFiles",
            json!({ "nodeId": node["nodeId"], "files": [file.to_str().unwrap()] }),
        )
        .await;
    }
}

/// The rows of the file list: name, visibility, link, thumbnail width once loaded.
const ROWS: &str = r##"(async () => {
    const imgs = [...document.querySelectorAll("img.thumbnail")];
    await Promise.all(imgs.map(i => i.decode().catch(() => null)));
    return [...document.querySelectorAll("#files tbody tr")].map(tr => ({
        name: tr.querySelector(".file-link").textContent,
        visibility: tr.dataset.visibility,
        href: tr.querySelector(".file-link").href,
        thumb: tr.querySelector("img.thumbnail")?.naturalWidth ?? null,
    }));
})()"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_files_page_uploads_through_the_form_and_directly_with_thumbnails_and_signed_links() {
    let (media, dir) = tests::temp_media();
    let base = serve(example_app::router(media)).await;
    let photo = dir.path().join("holiday photo.png");
    std::fs::write(&photo, crate::media::png(300, 200)).unwrap();
    let report = dir.path().join("report.pdf");
    std::fs::write(&report, b"%PDF-1.4\n%%EOF\n").unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, b"remember the milk\n").unwrap();

    let mut b = Browser::launch().await;
    let session = new_tab(&mut b).await;
    let s = session.as_str();
    b.call(Some(s), "DOM.enable", json!({})).await;
    b.call(
        Some(s),
        "Page.navigate",
        json!({ "url": format!("{base}/files") }),
    )
    .await;
    b.wait_event("Page.loadEventFired").await;

    // The form: a public image, then a private PDF.
    b.set_file(s, "#file-input", &photo).await;
    b.eval(
        s,
        r#"document.getElementById("visibility").value = "public""#,
    )
    .await;
    b.until_loaded(s, r#"document.getElementById("upload-form").submit()"#)
        .await;
    b.set_file(s, "#file-input", &report).await;
    b.until_loaded(s, r#"document.getElementById("upload-form").submit()"#)
        .await;
    // Straight to storage: a private text file through a ticket, a PUT and a confirm.
    b.set_file(s, "#direct-file", &notes).await;
    b.until_loaded(
        s,
        r#"document.getElementById("direct-file").dispatchEvent(new Event("change"))"#,
    )
    .await;

    let rows = b.eval(s, ROWS).await;
    println!("rows: {rows:#}");
    let row = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == json!(name))
            .unwrap_or_else(|| panic!("{name} is listed: {rows:#}"))
            .clone()
    };
    let photo_row = row("holiday photo.png");
    assert_eq!(photo_row["visibility"], json!("public"));
    assert_eq!(photo_row["thumb"], json!(96), "the thumbnail loaded");
    assert_eq!(row("notes.txt")["visibility"], json!("private"));
    let pdf = row("report.pdf");
    assert_eq!(pdf["visibility"], json!("private"));

    // The private file's signed link opens; altered, it is refused.
    let href = pdf["href"].as_str().unwrap().to_owned();
    let status = |url: &str| format!("fetch({url:?}).then(r => r.status)");
    assert_eq!(b.eval(s, &status(&href)).await, json!(200), "{href}");
    let sig = href.find("sig=").unwrap() + 4;
    let mut altered = href.clone();
    let c = if &href[sig..sig + 1] == "A" { "B" } else { "A" };
    altered.replace_range(sig..sig + 1, c);
    assert_eq!(b.eval(s, &status(&altered)).await, json!(403), "{altered}");
    let unsigned = href.split('?').next().unwrap();
    assert_eq!(b.eval(s, &status(unsigned)).await, json!(403));
    let _ = b.call(None, "Browser.close", json!({})).await;
}

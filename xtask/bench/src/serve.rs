//! Requests per second over loopback, measured with wrk: our service over the files in
//! memory (as `include_assets!` embeds them) against tower-http's `ServeDir` over the same
//! output tree on disk, with its precompressed `.br`/`.gz` lookup on.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use asset_build::{Encoding, Manifest};
use asset_runtime::{Asset, Assets};
use axum::Router;
use tower_http::services::ServeDir;

use super::{Figure, figure, median};

/// A 20 KB stylesheet and a 1 MB script, built by the pipeline into `dir/serve-out`.
pub fn inputs(dir: &Path) -> anyhow::Result<PathBuf> {
    let src = dir.join("serve-src");
    let out = dir.join("serve-out");
    if !out.join("manifest.json").exists() {
        let _ = std::fs::remove_dir_all(&src);
        std::fs::create_dir_all(src.join("css"))?;
        std::fs::create_dir_all(src.join("js"))?;
        std::fs::create_dir_all(src.join("img"))?;
        let mut rng = super::rng(7);
        std::fs::write(
            src.join("css/site.css"),
            super::css_body(0, 27_000, 2, &mut rng),
        )?;
        std::fs::write(src.join("img/f0007.png"), super::noise(2_000, &mut rng))?;
        std::fs::write(
            src.join("js/app.mjs"),
            super::js_body(1, 2_300_000, &mut rng),
        )?;
        asset_build::run(&asset_build::Config::new(&src, &out))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(out)
}

/// The output tree's files in memory, as the generated `ASSETS` static holds them.
fn embedded(out: &Path, manifest: &Manifest) -> anyhow::Result<&'static Assets> {
    fn text(s: &str) -> &'static str {
        Box::leak(s.to_owned().into_boxed_str())
    }
    let read = |p: &str| -> anyhow::Result<&'static [u8]> {
        let bytes = std::fs::read(out.join(p)).with_context(|| p.to_owned())?;
        Ok(Box::leak(bytes.into_boxed_slice()))
    };
    let mut list = Vec::new();
    for (logical, e) in &manifest.assets {
        let variant = |encoding| {
            e.encodings
                .get(&encoding)
                .map(|v| read(&v.path))
                .transpose()
        };
        list.push(Asset::__new(
            text(logical),
            text(&e.path),
            text(&e.path),
            e.size,
            text(&e.content_type),
            text(&e.integrity),
            text(&e.sha256),
            Some(read(&e.path)?),
            variant(Encoding::Br)?,
            variant(Encoding::Gzip)?,
        ));
    }
    let list: &'static [Asset] = Box::leak(list.into_boxed_slice());
    Ok(Box::leak(Box::new(Assets::__new(list, true))))
}

/// Requests/s for the 20 KB CSS with `Accept-Encoding: br` and the 1 MB JS, ours and ServeDir's.
pub fn bench(out: &Path, quick: bool, runs: usize) -> anyhow::Result<Vec<Figure>> {
    if super::which("wrk").is_none() {
        println!("wrk is not installed (apt-get install wrk): the serving figures are skipped");
        return Ok(Vec::new());
    }
    let manifest = Manifest::from_json(&std::fs::read(out.join("manifest.json"))?)
        .map_err(anyhow::Error::msg)?;
    let assets = embedded(out, &manifest)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let ours = rt.block_on(listen(
        Router::new().nest_service("/static", assets.service()),
    ))?;
    let theirs = rt.block_on(listen(Router::new().nest_service(
        "/static",
        ServeDir::new(out).precompressed_br().precompressed_gzip(),
    )))?;
    let duration = if quick { "2s" } else { "5s" };
    let mut figures = Vec::new();
    for (logical, encoding, label) in [
        ("css/site.css", Some("br"), "20 KB CSS, br"),
        ("js/app.mjs", None, "1 MB JS, identity"),
    ] {
        let e = &manifest.assets[logical];
        let body = encoding
            .and_then(|t| e.encodings.get(&t.parse::<Encoding>().ok()?))
            .map_or(e.size, |v| v.size);
        let path = format!("/static/{}", e.path);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            a.push(wrk(ours, &path, encoding, duration)?);
            b.push(wrk(theirs, &path, encoding, duration)?);
        }
        figures.push(figure(
            format!(
                "serving, {label} ({} KB, {} KB sent), requests/s",
                e.size.div_ceil(1000),
                body.div_ceil(1000)
            ),
            median(a),
            "req/s",
            "tower-http ServeDir, precompressed br/gzip, same files on disk",
            Some(median(b)),
            ">= 1.5",
        ));
    }
    drop(rt);
    Ok(figures)
}

/// Serves `app` on a loopback port with TCP_NODELAY, as a production server would (without
/// it a body written after its headers waits for a delayed ACK: 40 ms per request).
pub(super) async fn listen(app: Router) -> anyhow::Result<SocketAddr> {
    use axum::serve::ListenerExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// wrk's requests/s; fails unless every response was a 2xx with the expected encoding.
pub(super) fn wrk(
    addr: SocketAddr,
    path: &str,
    encoding: Option<&str>,
    duration: &str,
) -> anyhow::Result<f64> {
    let url = format!("http://{addr}{path}");
    check(addr, path, encoding)?;
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", "-c16", "-d", duration]);
    if let Some(e) = encoding {
        cmd.args(["-H", &format!("Accept-Encoding: {e}")]);
    }
    let out = cmd.arg(&url).output().context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("Non-2xx") || text.contains("Socket errors") {
        bail!("wrk against {url}: {text}");
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output: {text}"))
}

/// One request by hand: status 200 and the `Content-Encoding` asked for.
fn check(addr: SocketAddr, path: &str, encoding: Option<&str>) -> anyhow::Result<()> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n{}\r\n",
        encoding.map_or(String::new(), |e| format!("Accept-Encoding: {e}\r\n"))
    )?;
    let mut head = Vec::new();
    s.read_to_end(&mut head)?;
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(head.len());
    let head = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let want = encoding.map(|e| format!("content-encoding: {e}"));
    if !head.starts_with("http/1.1 200") || want.is_some_and(|w| !head.contains(&w)) {
        bail!("GET {path} from {addr}: {head}");
    }
    Ok(())
}

//! `verify --base-url`: what a browser on another origin gets. Every tag this project prints
//! carries `crossorigin` and `integrity`, so a stylesheet, script or font served from a CDN
//! without CORS headers is blocked: fetch each of them through the public URL with an
//! `Origin` header and report a missing or wrong `Access-Control-Allow-Origin`, a wrong
//! `Content-Type` or a failed request.

use futures::StreamExt as _;

use asset_manifest::Manifest;

use crate::Error;

/// Where `verify` reads the assets as a browser would (see [`crate::VerifyOptions::public`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicCheck {
    /// The public URL of the destination's prefix (a CDN), `http(s)://…`.
    pub base_url: String,
    /// The page's origin sent in `Origin`.
    pub origin: String,
}

impl PublicCheck {
    /// The origin `--origin` defaults to.
    pub const DEFAULT_ORIGIN: &str = "https://example.com";
}

/// The assets a page loads with CORS: stylesheets, scripts, fonts.
fn needs_cors(content_type: &str) -> bool {
    let t = content_type.split(';').next().unwrap_or("").trim();
    t == "text/css"
        || t == "text/javascript"
        || t == "application/javascript"
        || t.starts_with("font/")
}

/// One line per problem with the assets of `manifest` read through `base_url` by a page on
/// `origin` (empty: all is well). Checks every stylesheet, script and font.
///
/// # Errors
/// A base URL that is not http(s).
pub async fn check_public(
    manifest: &Manifest,
    base_url: &str,
    origin: &str,
    concurrency: usize,
) -> Result<Vec<String>, Error> {
    if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
        return Err(Error::Config(format!(
            "--base-url `{base_url}`: expected an http(s) URL such as https://cdn.example.com/static/"
        )));
    }
    let base = if base_url.ends_with('/') {
        base_url.to_owned()
    } else {
        format!("{base_url}/")
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| Error::Config(format!("an HTTP client: {e}")))?;
    let checks = manifest
        .assets
        .values()
        .filter(|e| needs_cors(&e.content_type))
        .map(|e| {
            let url = format!("{base}{}", e.url_path());
            let client = &client;
            async move {
                let r = match client
                    .get(&url)
                    .header("origin", origin)
                    .header("accept-encoding", "identity")
                    .send()
                    .await
                {
                    Ok(r) => r,
                    Err(e) => return vec![format!("{url}: {e}")],
                };
                let mut wrong = Vec::new();
                if !r.status().is_success() {
                    wrong.push(format!("{url}: HTTP {}", r.status()));
                    return wrong;
                }
                let header = |n: &str| {
                    r.headers()
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                match header("access-control-allow-origin") {
                    Some(a) if a == "*" || a == origin => {}
                    Some(a) => wrong.push(format!(
                        "{url}: Access-Control-Allow-Origin is `{a}`, not `*` or `{origin}`: browsers on {origin} refuse it"
                    )),
                    None => wrong.push(format!(
                        "{url}: no Access-Control-Allow-Origin for {origin}: with integrity and crossorigin, browsers block it (add the bucket's CORS rule, see README)"
                    )),
                }
                let essence = |t: &str| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                let ct = header("content-type").unwrap_or_default();
                if essence(&ct) != essence(&e.content_type) {
                    wrong.push(format!(
                        "{url}: Content-Type `{ct}`, expected `{}`",
                        e.content_type
                    ));
                }
                wrong
            }
        });
    let mut wrong: Vec<String> = futures::stream::iter(checks)
        .buffer_unordered(concurrency.max(1))
        .concat()
        .await;
    wrong.sort();
    Ok(wrong)
}

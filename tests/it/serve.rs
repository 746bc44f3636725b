//! Serving the embedded files: the example app's router, request by request (no sockets).

use asset_runtime::Asset;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

async fn request(method: Method, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (media, _dir) = tests::temp_media();
    let resp = example_app::router(media)
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

fn h<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

fn css() -> &'static Asset {
    example_app::asset!("css/app.scss")
}

fn url(a: &Asset) -> String {
    format!("/static/{}", a.hashed_path())
}

fn decode_br(b: &[u8]) -> Vec<u8> {
    tests::decompress_br(b)
}

#[tokio::test]
async fn hashed_asset_has_immutable_caching_etag_type_and_bytes() {
    let r = request(Method::GET, &url(css()), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        h(&r, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(h(&r, "content-type"), "text/css; charset=utf-8");
    assert_eq!(h(&r, "vary"), "Accept-Encoding");
    assert_eq!(h(&r, "etag"), format!("\"{}\"", &css().sha256()[..32]));
    assert_eq!(h(&r, "content-encoding"), "");
    assert_eq!(r.body, css().bytes().unwrap());
    assert_eq!(h(&r, "content-length"), r.body.len().to_string());
}

#[tokio::test]
async fn br_and_gzip_are_chosen_by_q_values() {
    let u = url(css());
    let br = request(Method::GET, &u, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(h(&br, "content-encoding"), "br");
    assert_eq!(decode_br(&br.body), css().bytes().unwrap());
    assert_eq!(h(&br, "etag"), format!("\"{}-br\"", &css().sha256()[..32]));

    let gz = request(
        Method::GET,
        &u,
        &[("accept-encoding", "br;q=0.5, gzip;q=0.9")],
    )
    .await;
    assert_eq!(h(&gz, "content-encoding"), "gzip");
    assert_eq!(tests::decompress_gzip(&gz.body), css().bytes().unwrap());

    let none = request(Method::GET, &u, &[("accept-encoding", "br;q=0, gzip;q=0")]).await;
    assert_eq!(h(&none, "content-encoding"), "");
    let star = request(Method::GET, &u, &[("accept-encoding", "*")]).await;
    assert_eq!(h(&star, "content-encoding"), "br");
    let png = request(
        Method::GET,
        &url(example_app::asset!("img/logo.png")),
        &[("accept-encoding", "br")],
    )
    .await;
    assert_eq!(h(&png, "content-encoding"), "", "no variant for png");
    assert_eq!(h(&png, "content-type"), "image/png");
}

#[tokio::test]
async fn if_none_match_gives_304() {
    let u = url(css());
    let first = request(Method::GET, &u, &[("accept-encoding", "br")]).await;
    let etag = h(&first, "etag").to_owned();
    let again = request(
        Method::GET,
        &u,
        &[("accept-encoding", "br"), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(h(&again, "etag"), etag);
    assert_eq!(
        h(&again, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let weak = request(
        Method::GET,
        &u,
        &[
            ("accept-encoding", "br"),
            ("if-none-match", &format!("W/{etag}, \"other\"")),
        ],
    )
    .await;
    assert_eq!(weak.status, StatusCode::NOT_MODIFIED);
    let other = request(Method::GET, &u, &[("if-none-match", "\"nope\"")]).await;
    assert_eq!(other.status, StatusCode::OK);
    // A 304 to HEAD describes the representation without a Content-Length of 0.
    let head = request(
        Method::HEAD,
        &u,
        &[("accept-encoding", "br"), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(head.status, StatusCode::NOT_MODIFIED);
    assert_eq!(h(&head, "content-length"), "");
}

#[tokio::test]
async fn a_304_only_answers_for_the_representation_the_client_holds() {
    let u = url(css());
    let identity = request(Method::GET, &u, &[]).await;
    let tag = h(&identity, "etag").to_owned();
    assert_eq!(h(&identity, "content-encoding"), "");
    // The client holds identity bytes; br is another representation: send it, no 304 whose
    // `Content-Encoding: br` a cache would apply to the identity bytes it holds.
    let br = request(
        Method::GET,
        &u,
        &[("accept-encoding", "br"), ("if-none-match", &tag)],
    )
    .await;
    assert_eq!(br.status, StatusCode::OK);
    assert_eq!(h(&br, "content-encoding"), "br");
    assert_ne!(h(&br, "etag"), tag);
    let same = request(Method::GET, &u, &[("if-none-match", &tag)]).await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert_eq!(h(&same, "content-encoding"), "");
}

#[tokio::test]
async fn every_accept_encoding_line_counts() {
    let r = request(
        Method::GET,
        &url(css()),
        &[("accept-encoding", "deflate"), ("accept-encoding", "br")],
    )
    .await;
    assert_eq!(h(&r, "content-encoding"), "br");
}

#[tokio::test]
async fn encoded_slashes_and_broken_escapes_are_not_paths() {
    let css = css();
    let hashed = css.hashed_path();
    let (dir, file) = hashed.split_once('/').unwrap();
    let ok = request(Method::GET, &format!("/static/{dir}/{file}"), &[]).await;
    assert_eq!(ok.status, StatusCode::OK);
    for bad in [
        format!("/static/{dir}%2F{file}"),
        format!("/static/{dir}%2f{file}"),
        format!("/static/{dir}/%+5{file}"),
        format!("/static/{dir}/{file}%"),
    ] {
        assert_eq!(
            request(Method::GET, &bad, &[]).await.status,
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn head_has_headers_and_no_body() {
    let r = request(Method::HEAD, &url(css()), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    assert_eq!(h(&r, "content-length"), css().size().to_string());
}

#[tokio::test]
async fn ranges() {
    let u = url(example_app::asset!("fonts/site.woff2"));
    let size = example_app::asset!("fonts/site.woff2").size();
    let bytes = example_app::asset!("fonts/site.woff2").bytes().unwrap();
    let r = request(
        Method::GET,
        &u,
        &[("range", "bytes=4-11"), ("accept-encoding", "br")],
    )
    .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(h(&r, "content-range"), format!("bytes 4-11/{size}"));
    assert_eq!(r.body, &bytes[4..12]);
    let tail = request(Method::GET, &u, &[("range", "bytes=-4")]).await;
    assert_eq!(tail.body, &bytes[bytes.len() - 4..]);
    let bad = request(Method::GET, &u, &[("range", &format!("bytes={size}-"))]).await;
    assert_eq!(bad.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(h(&bad, "content-range"), format!("bytes */{size}"));
    let multi = request(Method::GET, &u, &[("range", "bytes=0-1,4-5")]).await;
    assert_eq!(multi.status, StatusCode::OK);
    let stale = request(
        Method::GET,
        &u,
        &[("range", "bytes=0-1"), ("if-range", "\"old\"")],
    )
    .await;
    assert_eq!(
        stale.status,
        StatusCode::OK,
        "If-Range that does not match sends it all"
    );
}

#[tokio::test]
async fn logical_path_is_served_but_revalidated() {
    let r = request(Method::GET, "/static/css/app.scss", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(h(&r, "cache-control"), "public, no-cache");
}

#[tokio::test]
async fn anything_else_is_404_and_other_methods_405() {
    let hashed = css().hashed_path();
    for path in [
        "/static/nope.css".to_owned(),
        "/static/../Cargo.toml".to_owned(),
        "/static/css/%2e%2e/css/app.css".to_owned(),
        format!("/static/css\\{}", hashed.trim_start_matches("css/")),
        format!("/static/css/%5c{}", hashed.trim_start_matches("css/")),
        "/static/".to_owned(),
        "/static/css//app.css".to_owned(),
        format!("/static/{hashed}.br"),
        "/static/%zz".to_owned(),
    ] {
        let r = request(Method::GET, &path, &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = request(Method::POST, &url(css()), &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h(&r, "allow"), "GET, HEAD");
}

#[tokio::test]
async fn the_page_uses_hashed_urls_with_integrity() {
    let r = request(Method::GET, "/", &[]).await;
    let page = String::from_utf8(r.body).unwrap();
    let tag = format!(
        "<link rel=\"stylesheet\" href=\"/static/{}\" integrity=\"{}\" crossorigin=\"anonymous\">",
        css().hashed_path(),
        css().integrity()
    );
    assert!(page.contains(&tag), "{page}");
    assert!(
        page.contains("<script type=\"importmap\">{\"integrity\":{"),
        "{page}"
    );
}

#[test]
fn lookup_at_run_time() {
    assert_eq!(
        example_app::ASSETS.get("css/app.scss").map(Asset::path),
        Some("css/app.scss")
    );
    assert!(example_app::ASSETS.get("css/nope.css").is_none());
    assert_eq!(example_app::ASSETS.iter().count(), 9);
}

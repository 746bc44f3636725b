//! Serving the embedded files as a tower service: GET and HEAD, content-hash ETags and 304,
//! `Cache-Control: immutable` on hashed names, br/gzip/identity negotiated from
//! `Accept-Encoding` q-values, single byte ranges, 404 for anything that is not an asset and
//! 405 for other methods. No file-system access: every byte is in the binary.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use asset_http::ByteRange;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use crate::{Asset, Assets};

use asset_http::{IMMUTABLE, REVALIDATE};

/// A content coding the service can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Br,
    Gzip,
    Identity,
}

impl Coding {
    fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gzip",
            Coding::Identity => "identity",
        }
    }
}

/// The service over a crate's [`Assets`]; see [`Assets::service`].
#[derive(Debug, Clone, Copy)]
pub struct ServeAssets {
    assets: &'static Assets,
}

impl ServeAssets {
    pub(crate) fn new(assets: &'static Assets) -> ServeAssets {
        ServeAssets { assets }
    }

    /// The response to a request with this method, path (below the mount point) and headers.
    pub fn respond(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Response<Full<Bytes>> {
        if method != Method::GET && method != Method::HEAD {
            let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let Some((asset, hashed)) =
            asset_http::decode_path(path).and_then(|p| self.assets.by_served_path(&p))
        else {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        };
        let Some(identity) = asset.body else {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        };
        let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
        let range = range.filter(|_| if_range_holds(headers, asset));
        // Ranges are served from the identity bytes, so offsets mean what the client thinks.
        let coding = if range.is_some() {
            Coding::Identity
        } else {
            negotiate(headers, asset)
        };
        let bytes = asset.variant(coding).unwrap_or(identity);
        let etag = etag(asset, coding);

        let mut builder = Response::builder()
            .header(
                header::CACHE_CONTROL,
                if hashed { IMMUTABLE } else { REVALIDATE },
            )
            .header(header::ETAG, &etag)
            .header(header::VARY, "Accept-Encoding")
            .header(header::CONTENT_TYPE, asset.content_type)
            .header(header::ACCEPT_RANGES, "bytes")
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        if coding != Coding::Identity {
            builder = builder.header(header::CONTENT_ENCODING, coding.token());
        }
        if none_match(headers, &etag) {
            // No Content-Length: a 304 describes the representation without sending it.
            return builder
                .status(StatusCode::NOT_MODIFIED)
                .body(Full::new(Bytes::new()))
                .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "bad header\n"));
        }
        let head = method == Method::HEAD;
        let body = Bytes::from_static(bytes);
        match range.map(|r| asset_http::range(r, body.len() as u64)) {
            Some(ByteRange::Part(part)) => {
                let bytes = body.slice(part.start as usize..part.end as usize);
                let builder = builder.status(StatusCode::PARTIAL_CONTENT).header(
                    header::CONTENT_RANGE,
                    asset_http::content_range(&part, body.len() as u64),
                );
                finish(builder, bytes, head)
            }
            Some(ByteRange::Unsatisfiable) => {
                let builder = builder
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{}", body.len()));
                finish(builder, Bytes::new(), head)
            }
            Some(ByteRange::Whole) | None => finish(builder.status(StatusCode::OK), body, head),
        }
    }
}

impl<B> tower_service::Service<Request<B>> for ServeAssets {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        ready(Ok(self.respond(
            req.method(),
            req.uri().path(),
            req.headers(),
        )))
    }
}

fn finish(builder: http::response::Builder, body: Bytes, head: bool) -> Response<Full<Bytes>> {
    let len = body.len();
    let builder = builder.header(header::CONTENT_LENGTH, len);
    let body = if head { Bytes::new() } else { body };
    builder
        .body(Full::new(body))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "bad header\n"))
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn etag(asset: &Asset, coding: Coding) -> String {
    let base = &asset.sha256[..32.min(asset.sha256.len())];
    match coding {
        Coding::Identity => format!("\"{base}\""),
        c => format!("\"{base}-{}\"", c.token()),
    }
}

/// Whether `If-None-Match` names the representation about to be served (`etag`): a client
/// holding the identity bytes gets no 304 for the br representation, whose headers (its
/// `Content-Encoding`) would otherwise be applied to the bytes it holds.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    let ours = etag.trim_matches('"');
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"') == ours
        })
}

/// `If-Range` with our identity ETag lets the range through; anything else asks for the
/// whole file.
fn if_range_holds(headers: &HeaderMap, asset: &Asset) -> bool {
    match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) => v.trim() == etag(asset, Coding::Identity),
    }
}

/// The best coding the client accepts that the asset has (ties go to br, then gzip). Every
/// `Accept-Encoding` line counts, as one comma-separated list.
fn negotiate(headers: &HeaderMap, asset: &Asset) -> Coding {
    let lines: Vec<&str> = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if lines.is_empty() {
        return Coding::Identity;
    }
    let accept = lines.join(",");
    let mut q_br = None;
    let mut q_gzip = None;
    let mut q_identity = None;
    let mut q_star = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let token = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0f32;
        for p in parts {
            if let Some(v) = p
                .trim()
                .strip_prefix("q=")
                .or_else(|| p.trim().strip_prefix("Q="))
            {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        let slot = match token.as_str() {
            "br" => &mut q_br,
            "gzip" | "x-gzip" => &mut q_gzip,
            "identity" => &mut q_identity,
            "*" => &mut q_star,
            _ => continue,
        };
        *slot = Some(q.clamp(0.0, 1.0));
    }
    let star = q_star.unwrap_or(0.0);
    let candidates = [
        (Coding::Br, asset.br.is_some(), q_br.unwrap_or(star)),
        (Coding::Gzip, asset.gzip.is_some(), q_gzip.unwrap_or(star)),
        (
            Coding::Identity,
            true,
            q_identity.unwrap_or(if q_star == Some(0.0) { 0.0 } else { 0.001 }),
        ),
    ];
    let mut best = (Coding::Identity, 0.0);
    for (coding, available, q) in candidates {
        if available && q > best.1 {
            best = (coding, q);
        }
    }
    best.0
}

//! Every answer of the media service as one typed [`Outcome`], turned into a response here
//! and nowhere else: the headers objects are served with, plain refusals, JSON errors.

use std::ops::Range;

use axum::body::Body;
use axum::response::Response;
use futures::stream::BoxStream;
use http::{HeaderValue, StatusCode, header};

use crate::{Error, Object, sniff};

/// What the service answers.
pub(super) enum Outcome {
    /// An object's bytes (all, or `part`), or only its headers (`body: None`: HEAD, empty).
    Object {
        object: Object,
        cache: String,
        part: Option<Range<u64>>,
        body: Option<BoxStream<'static, Result<bytes::Bytes, Error>>>,
    },
    /// A range past the end of a `size`-byte object.
    Unsatisfiable {
        size: u64,
    },
    /// A direct upload stored.
    Created {
        key: String,
        size: u64,
    },
    /// A ticket whose upload is stored already.
    Used,
    /// A signature missing, wrong or expired, or a write that is not a ticket's (403).
    Refused(&'static str),
    NotFound,
    MethodNotAllowed,
    /// A CORS preflight.
    Preflight,
    Failed(Error),
}

impl Outcome {
    pub(super) fn into_response(self) -> Response {
        match self {
            Outcome::Object {
                object,
                cache,
                part,
                body,
            } => object_response(&object, cache, part, body),
            Outcome::Unsatisfiable { size } => Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .body(Body::empty())
                .expect("a response"),
            Outcome::Created { key, size } => Response::builder()
                .status(StatusCode::CREATED)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::json!({ "key": key, "size": size }).to_string(),
                ))
                .expect("a response"),
            Outcome::Used => plain(
                StatusCode::PRECONDITION_FAILED,
                "this upload link was already used",
            ),
            Outcome::Refused(why) => plain(StatusCode::FORBIDDEN, why),
            Outcome::NotFound => plain(StatusCode::NOT_FOUND, "not found"),
            Outcome::MethodNotAllowed => {
                let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
                r.headers_mut().insert(
                    header::ALLOW,
                    HeaderValue::from_static("GET, HEAD, PUT, OPTIONS"),
                );
                r
            }
            Outcome::Preflight => Response::builder()
                .status(StatusCode::NO_CONTENT)
                .header(header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, PUT")
                .header(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "content-type, content-disposition, cache-control, if-none-match, range",
                )
                .header(header::ACCESS_CONTROL_MAX_AGE, "600")
                .body(Body::empty())
                .expect("a response"),
            Outcome::Failed(e) => error(&e),
        }
    }
}

/// An object with the headers every object is served with: its type, a disposition that is
/// `attachment` for anything not safe inline, `nosniff`, a sandboxing CSP, caching, ranges.
fn object_response(
    object: &Object,
    cache: String,
    part: Option<Range<u64>>,
    body: Option<BoxStream<'static, Result<bytes::Bytes, Error>>>,
) -> Response {
    let disposition = sniff::content_disposition(&object.content_type, &object.original_name);
    let mut b = Response::builder()
        .header(header::CONTENT_TYPE, safe_header(&object.content_type))
        .header(header::CONTENT_DISPOSITION, safe_header(&disposition))
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        )
        .header(header::CACHE_CONTROL, cache)
        .header(header::ACCEPT_RANGES, "bytes");
    let len = match &part {
        Some(r) => {
            b = b.status(StatusCode::PARTIAL_CONTENT).header(
                header::CONTENT_RANGE,
                asset_http::content_range(r, object.size),
            );
            r.end - r.start
        }
        None => object.size,
    };
    let body = body.map_or_else(Body::empty, Body::from_stream);
    b.header(header::CONTENT_LENGTH, len)
        .body(body)
        .expect("a response")
}

/// A header value with anything a header cannot carry replaced.
fn safe_header(v: &str) -> HeaderValue {
    HeaderValue::from_str(v)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(text))
        .expect("a response")
}

/// An error as the JSON the upload handler also uses.
pub(crate) fn error(e: &Error) -> Response {
    Response::builder()
        .status(e.status())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(
            serde_json::json!({ "error": e.code(), "message": public_message(e) }).to_string(),
        ))
        .expect("a response")
}

/// What a client may be told: store and configuration failures stay in the server's log.
pub(crate) fn public_message(e: &Error) -> String {
    match e {
        Error::Store { .. } | Error::Config(_) | Error::Io { .. } => {
            eprintln!("media storage error: {e}");
            "the storage failed; try again later".into()
        }
        e => e.to_string(),
    }
}

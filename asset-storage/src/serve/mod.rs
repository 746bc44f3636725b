//! The media service: what serves a local folder's objects over HTTP (S3 serves its own),
//! mounted by the app where its base URL points (`/media` by default):
//! - `GET`/`HEAD` of a public key; of a private key only with a valid `expires` + `sig`
//!   (403 otherwise); single byte ranges; `X-Content-Type-Options: nosniff`, a
//!   `Content-Disposition` that is `attachment` for every type not safe inline, and a
//!   sandboxing `Content-Security-Policy`;
//! - `PUT` of a direct upload with a signed ticket: the body streams in under the ticket's
//!   cap (413 past it, nothing left), never over an existing object;
//! - CORS for the configured origins (preflight included).
//!
//! Routing is here; reading the request apart (`request`), each method in its own module
//! (`get`, `put`), and every answer is an [`Outcome`] turned into a response in one place
//! (`outcome`).

mod get;
mod outcome;
mod put;
mod request;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Method, Request, header};

use crate::Storage;
use crate::name::{self, Visibility};
use crate::storage::PENDING_DIR;

use outcome::Outcome;
pub(crate) use outcome::error;
use request::Query;

/// The media service of one storage, as a value: clone it into any router.
#[derive(Debug, Clone)]
pub struct MediaService {
    storage: Storage,
}

impl Storage {
    /// The media service as an axum router: mount it where the base URL points, e.g.
    /// `Router::new().nest_service("/media", storage.service())`.
    pub fn service(&self) -> axum::Router {
        let service = MediaService {
            storage: self.clone(),
        };
        axum::Router::new()
            .fallback(move |req: Request<Body>| {
                let service = service.clone();
                async move { service.respond(req).await }
            })
            .layer(axum::extract::DefaultBodyLimit::disable())
    }

    /// Answers one request of the media service (the path relative to its mount).
    pub async fn respond(&self, req: Request<Body>) -> Response {
        MediaService {
            storage: self.clone(),
        }
        .respond(req)
        .await
    }
}

impl MediaService {
    /// Answers one request (the path relative to the service's mount), with the CORS
    /// headers its origin is allowed.
    pub async fn respond(&self, req: Request<Body>) -> Response {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .filter(|o| {
                self.storage
                    .settings()
                    .cors_origins
                    .iter()
                    .any(|a| a == o || a == "*")
            })
            .map(str::to_owned);
        let mut res = self.route(req).await.into_response();
        let h = res.headers_mut();
        // Every answer depends on the Origin, matched or not: a cache must not hand one
        // origin's answer to another.
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = origin {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_str(&origin).expect("an origin header value"),
            );
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("content-length, content-range, etag"),
            );
        }
        res
    }

    async fn route(&self, req: Request<Body>) -> Outcome {
        let Some(key) = asset_http::decode_path(req.uri().path()) else {
            return Outcome::NotFound;
        };
        if name::check_key(&key).is_err() {
            return Outcome::NotFound;
        }
        // Objects are read, direct uploads written: the pending area is never served.
        let pending = key.split('/').next() == Some(PENDING_DIR);
        if !pending && Visibility::of(&key).is_none() {
            return Outcome::NotFound;
        }
        let query = Query::parse(req.uri().query().unwrap_or(""));
        match *req.method() {
            Method::GET | Method::HEAD if pending => Outcome::NotFound,
            Method::GET | Method::HEAD => {
                let head = req.method() == Method::HEAD;
                let range = req
                    .headers()
                    .get(header::RANGE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                get::get(&self.storage, head, range.as_deref(), &key, &query).await
            }
            Method::PUT if pending => put::put(&self.storage, req, &key, &query).await,
            Method::PUT => Outcome::Refused("objects are written through upload tickets only"),
            Method::OPTIONS => Outcome::Preflight,
            _ => Outcome::MethodNotAllowed,
        }
    }
}

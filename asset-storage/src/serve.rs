//! The media service: what serves a local folder's objects over HTTP (S3 serves its own),
//! mounted by the app where its base URL points (`/media` by default):
//! - `GET`/`HEAD` of a public key; of a private key only with a valid `expires` + `sig`
//!   (403 otherwise); single byte ranges; `X-Content-Type-Options: nosniff`, a
//!   `Content-Disposition` that is `attachment` for every type not safe inline, and a
//!   sandboxing `Content-Security-Policy`;
//! - `PUT` of a direct upload with a signed ticket: the body streams in under the ticket's
//!   cap (413 past it, nothing left), never over an existing object;
//! - CORS for the configured origins (preflight included).

use asset_http::ByteRange;
use axum::body::Body;
use axum::response::Response;
use futures::StreamExt as _;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};

use crate::name::{self, Visibility};
use crate::sniff;
use crate::storage::{NewObject, PENDING_DIR};
use crate::{Error, Storage};

impl Storage {
    /// The media service as an axum router: mount it where the base URL points, e.g.
    /// `Router::new().nest_service("/media", storage.service())`.
    pub fn service(&self) -> axum::Router {
        let storage = self.clone();
        axum::Router::new()
            .fallback(move |req: Request<Body>| {
                let storage = storage.clone();
                async move { storage.respond(req).await }
            })
            .layer(axum::extract::DefaultBodyLimit::disable())
    }

    /// Answers one request of the media service (the path relative to its mount).
    pub async fn respond(&self, req: Request<Body>) -> Response {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .filter(|o| {
                self.settings()
                    .cors_origins
                    .iter()
                    .any(|a| a == o || a == "*")
            })
            .map(str::to_owned);
        let mut res = self.route(req).await;
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

    async fn route(&self, req: Request<Body>) -> Response {
        let Some(key) = asset_http::decode_path(req.uri().path()) else {
            return plain(StatusCode::NOT_FOUND, "not found");
        };
        if name::check_key(&key).is_err() {
            return plain(StatusCode::NOT_FOUND, "not found");
        }
        // Objects are read, direct uploads written: the pending area is never served.
        let pending = key.split('/').next() == Some(PENDING_DIR);
        if !pending && Visibility::of(&key).is_none() {
            return plain(StatusCode::NOT_FOUND, "not found");
        }
        let query = Query::parse(req.uri().query().unwrap_or(""));
        match *req.method() {
            Method::GET | Method::HEAD if pending => plain(StatusCode::NOT_FOUND, "not found"),
            Method::GET | Method::HEAD => self.get(req, &key, &query).await,
            Method::PUT if pending => self.put(req, &key, &query).await,
            Method::PUT => plain(
                StatusCode::FORBIDDEN,
                "objects are written through upload tickets only",
            ),
            Method::OPTIONS => Response::builder()
                .status(StatusCode::NO_CONTENT)
                .header(header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, PUT")
                .header(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "content-type, content-disposition, cache-control, if-none-match, range",
                )
                .header(header::ACCESS_CONTROL_MAX_AGE, "600")
                .body(Body::empty())
                .expect("a response"),
            _ => {
                let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
                r.headers_mut().insert(
                    header::ALLOW,
                    HeaderValue::from_static("GET, HEAD, PUT, OPTIONS"),
                );
                r
            }
        }
    }

    /// Whether the request's signature for `parts` holds and has not expired.
    fn signed(&self, query: &Query, parts: &[&str]) -> Result<u64, &'static str> {
        let (Some(expires), Some(sig)) = (query.get("expires"), query.get("sig")) else {
            return Err("this file is private: a signed link is needed");
        };
        let Ok(at) = expires.parse::<u64>() else {
            return Err("this link is not valid");
        };
        if !self.signing_key().verify(parts, sig) {
            return Err("this link is not valid");
        }
        let now = self.now_secs();
        if at <= now {
            return Err("this link has expired");
        }
        Ok(at - now)
    }

    async fn get(&self, req: Request<Body>, key: &str, query: &Query) -> Response {
        let private = Visibility::of(key) == Some(Visibility::Private);
        let mut remaining = None;
        if private {
            let expires = query.get("expires").unwrap_or("");
            match self.signed(query, &["GET", key, expires]) {
                Ok(r) => remaining = Some(r),
                Err(why) => return plain(StatusCode::FORBIDDEN, why),
            }
        }
        let head = req.method() == Method::HEAD;
        let range = req
            .headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // A plain GET is one read (record and bytes); a range needs the size first.
        let (object, wanted, d) = match (head, range.as_deref()) {
            (false, None) => match self.open(key, None).await {
                Ok(d) => (d.object.clone(), None, Some(d)),
                Err(e) => return error(&e),
            },
            (_, range) => {
                let object = match self.metadata(key).await {
                    Ok(o) => o,
                    Err(e) => return error(&e),
                };
                let wanted = match range.map(|r| asset_http::range(r, object.size)) {
                    None | Some(ByteRange::Whole) => None,
                    Some(ByteRange::Unsatisfiable) => {
                        return Response::builder()
                            .status(StatusCode::RANGE_NOT_SATISFIABLE)
                            .header(header::CONTENT_RANGE, format!("bytes */{}", object.size))
                            .body(Body::empty())
                            .expect("a response");
                    }
                    Some(ByteRange::Part(r)) => Some(r),
                };
                let d = if head || object.size == 0 {
                    None
                } else {
                    match self.open(key, wanted.clone()).await {
                        Ok(d) => Some(d),
                        Err(e) => return error(&e),
                    }
                };
                (object, wanted, d)
            }
        };
        let cache = if private {
            format!("private, max-age={}", remaining.unwrap_or(0).min(3600))
        } else {
            d.as_ref()
                .and_then(|d| d.cache_control.clone())
                .unwrap_or_else(|| self.default_cache(Some(Visibility::Public)))
        };
        let mut b = object_headers(&object, cache);
        let len = match &wanted {
            Some(r) => {
                b = b.status(StatusCode::PARTIAL_CONTENT).header(
                    header::CONTENT_RANGE,
                    asset_http::content_range(r, object.size),
                );
                r.end - r.start
            }
            None => object.size,
        };
        b = b.header(header::CONTENT_LENGTH, len);
        let body = match d {
            Some(d) => Body::from_stream(d.body),
            None => Body::empty(),
        };
        b.body(body).expect("a response")
    }

    /// A direct upload's PUT: the ticket's signature, type and exact size; the bytes go to
    /// the pending key, never over anything there (a used ticket left a tombstone).
    async fn put(&self, req: Request<Body>, key: &str, query: &Query) -> Response {
        let (expires, size, ctype, name) = (
            query.get("expires").unwrap_or(""),
            query.get("size").unwrap_or(""),
            query.get("type").unwrap_or(""),
            query.get("name").unwrap_or(""),
        );
        if let Err(why) = self.signed(query, &["PUT", key, expires, size, ctype, name]) {
            return plain(StatusCode::FORBIDDEN, why);
        }
        let Ok(size) = size.parse::<u64>() else {
            return plain(StatusCode::FORBIDDEN, "this link is not valid");
        };
        let sent = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !sniff::same_type(sent, ctype) {
            return error(&Error::TypeMismatch {
                detected: sniff::essence(sent).to_owned(),
                claimed: format!("the ticket's type {ctype}"),
            });
        }
        match content_length(req.headers()) {
            Some(len) if len > size => return error(&Error::TooLarge { limit: size }),
            Some(len) if len < size => return error(&short(len, size)),
            _ => {}
        }
        let meta = NewObject {
            content_type: ctype.to_owned(),
            original_name: name.to_owned(),
            cache_control: None,
        };
        let body = req
            .into_body()
            .into_data_stream()
            .map(|c| c.map_err(|e| Error::Body(e.to_string())));
        match self.put_exact(key, &meta, body, size).await {
            Ok(n) if n == size => Response::builder()
                .status(StatusCode::CREATED)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::json!({ "key": key, "size": n }).to_string(),
                ))
                .expect("a response"),
            Ok(n) => {
                self.remove_quietly(key).await;
                error(&short(n, size))
            }
            Err(Error::AlreadyExists { .. }) => plain(
                StatusCode::PRECONDITION_FAILED,
                "this upload link was already used",
            ),
            Err(e) => error(&e),
        }
    }
}

fn short(sent: u64, size: u64) -> Error {
    Error::Body(format!(
        "the upload has {sent} bytes where its ticket says {size}"
    ))
}

/// The headers every object is served with: its type, a disposition that is `attachment`
/// for anything not safe inline, `nosniff`, a sandboxing CSP, caching, ranges.
fn object_headers(object: &crate::Object, cache: String) -> http::response::Builder {
    let disposition = sniff::content_disposition(&object.content_type, &object.original_name);
    Response::builder()
        .header(header::CONTENT_TYPE, safe_header(&object.content_type))
        .header(header::CONTENT_DISPOSITION, safe_header(&disposition))
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        )
        .header(header::CACHE_CONTROL, cache)
        .header(header::ACCEPT_RANGES, "bytes")
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
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

/// The request's query parameters, percent-decoded (`+` is a space).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: &str) -> Query {
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        Query(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (dec(k), dec(v))
                })
                .collect(),
        )
    }
    /// The value of `name` if it appears exactly once.
    fn get(&self, name: &str) -> Option<&str> {
        let mut it = self.0.iter().filter(|(k, _)| k == name);
        let first = it.next()?;
        it.next().is_none().then_some(first.1.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_take_each_name_once() {
        let q = Query::parse("a=1&b=x%20y&b=2&c=a+b");
        assert_eq!(q.get("a"), Some("1"));
        assert_eq!(q.get("b"), None);
        assert_eq!(q.get("c"), Some("a b"));
    }
}

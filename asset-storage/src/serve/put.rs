//! A direct upload's `PUT`: the ticket's signature, type and exact size; the bytes go to the
//! pending key, never over anything there (a used ticket left a tombstone).

use axum::body::Body;
use futures::StreamExt as _;
use http::{Request, header};

use crate::storage::NewObject;
use crate::{Error, Storage, sniff};

use super::outcome::Outcome;
use super::request::{Query, content_length, signed};

pub(super) async fn put(
    storage: &Storage,
    req: Request<Body>,
    key: &str,
    query: &Query,
) -> Outcome {
    let (expires, size, ctype, name) = (
        query.value("expires"),
        query.value("size"),
        query.value("type"),
        query.value("name"),
    );
    if let Err(why) = signed(storage, query, &["PUT", key, expires, size, ctype, name]) {
        return Outcome::Refused(why);
    }
    let Ok(size) = size.parse::<u64>() else {
        return Outcome::Refused("this link is not valid");
    };
    let sent = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !sniff::same_type(sent, ctype) {
        return Outcome::Failed(Error::TypeMismatch {
            detected: sniff::essence(sent).to_owned(),
            claimed: format!("the ticket's type {ctype}"),
        });
    }
    match content_length(req.headers()) {
        Some(len) if len > size => return Outcome::Failed(Error::TooLarge { limit: size }),
        Some(len) if len < size => return Outcome::Failed(short(len, size)),
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
    match storage.put_exact(key, &meta, body, size).await {
        Ok(n) if n == size => Outcome::Created {
            key: key.to_owned(),
            size,
        },
        Ok(n) => {
            storage.remove_quietly(key).await;
            Outcome::Failed(short(n, size))
        }
        Err(Error::AlreadyExists { .. }) => Outcome::Used,
        Err(e) => Outcome::Failed(e),
    }
}

fn short(sent: u64, size: u64) -> Error {
    Error::Body(format!(
        "the upload has {sent} bytes where its ticket says {size}"
    ))
}

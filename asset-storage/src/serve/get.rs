//! `GET`/`HEAD` of an object: a private one only with a valid signature; a single byte
//! range; one read for a plain GET (record and bytes), the size first for a range.

use crate::Storage;
use crate::name::Visibility;
use asset_http::ByteRange;

use super::outcome::Outcome;
use super::request::{Query, signed};

pub(super) async fn get(
    storage: &Storage,
    head: bool,
    range: Option<&str>,
    key: &str,
    query: &Query,
) -> Outcome {
    let private = Visibility::of(key) == Some(Visibility::Private);
    let cache_left = if private {
        match signed(storage, query, &["GET", key, query.value("expires")]) {
            Ok(left) => Some(left),
            Err(why) => return Outcome::Refused(why),
        }
    } else {
        None
    };
    let (object, part, download) = match (head, range) {
        (false, None) => match storage.open(key, None).await {
            Ok(d) => (d.object.clone(), None, Some(d)),
            Err(e) => return Outcome::Failed(e),
        },
        (_, range) => {
            let object = match storage.metadata(key).await {
                Ok(o) => o,
                Err(e) => return Outcome::Failed(e),
            };
            let part = match range.map(|r| asset_http::range(r, object.size)) {
                None | Some(ByteRange::Whole) => None,
                Some(ByteRange::Unsatisfiable) => {
                    return Outcome::Unsatisfiable { size: object.size };
                }
                Some(ByteRange::Part(r)) => Some(r),
            };
            let download = if head || object.size == 0 {
                None
            } else {
                match storage.open(key, part.clone()).await {
                    Ok(d) => Some(d),
                    Err(e) => return Outcome::Failed(e),
                }
            };
            (object, part, download)
        }
    };
    let cache = match cache_left {
        Some(left) => format!("private, max-age={}", left.min(3600)),
        None => download
            .as_ref()
            .and_then(|d| d.cache_control.clone())
            .unwrap_or_else(|| storage.default_cache(Some(Visibility::Public))),
    };
    Outcome::Object {
        object,
        cache,
        part,
        body: download.map(|d| d.body),
    }
}

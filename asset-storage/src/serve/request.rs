//! Reading a media request apart: its query, its declared length, and whether its signature
//! holds.

use http::{HeaderMap, header};

use crate::Storage;

/// The request's query parameters, percent-decoded (`+` is a space).
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn parse(q: &str) -> Query {
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
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        let mut it = self.0.iter().filter(|(k, _)| k == name);
        let first = it.next()?;
        it.next().is_none().then_some(first.1.as_str())
    }

    /// The value of `name`, or empty (a signature over it then fails).
    pub(super) fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }
}

/// The `Content-Length` the client declared.
pub(super) fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Whether the request's signature over `parts` holds and has not expired: the seconds it
/// has left, or why not.
pub(super) fn signed(
    storage: &Storage,
    query: &Query,
    parts: &[&str],
) -> Result<u64, &'static str> {
    let (Some(expires), Some(sig)) = (query.get("expires"), query.get("sig")) else {
        return Err("this file is private: a signed link is needed");
    };
    let Ok(at) = expires.parse::<u64>() else {
        return Err("this link is not valid");
    };
    if !storage.signing_key().verify(parts, sig) {
        return Err("this link is not valid");
    }
    let now = storage.now_secs();
    if at <= now {
        return Err("this link has expired");
    }
    Ok(at - now)
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
        assert_eq!(q.value("b"), "");
    }
}

//! The asset health report, for load balancer checks and dashboards: where URLs point, which
//! build, the last probe. [`Assets::health`] gives it as a value, [`Health::to_json`] as JSON
//! and [`Assets::health_response`] as an HTTP response any framework can return (axum:
//! `.route("/health/assets", get(|| async { ASSETS.health_response() }))`).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;

use crate::Assets;
use crate::base::{base_url, cdn_base_url};
use crate::state::{AssetState, ProbeRecord, Reason, asset_state, last_probe};

/// What [`Assets::health`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Where asset URLs point and why.
    pub state: AssetState,
    /// This build's manifest id (empty for code generated before ids were carried).
    pub build: &'static str,
    /// Whether the binary holds the files (so the app can serve them itself).
    pub embedded: bool,
    /// The base URL pages are rendered with now.
    pub base_url: &'static str,
    /// The CDN base URL configured (`ASSET_BASE_URL`), if any.
    pub cdn_base_url: Option<&'static str>,
    /// The last probe of the CDN, if any.
    pub last_probe: Option<ProbeRecord>,
}

impl Health {
    /// 503 while [`AssetState::Waiting`] (pages would link assets nobody serves yet), else 200.
    pub fn status(&self) -> StatusCode {
        match self.state {
            AssetState::Waiting { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::OK,
        }
    }

    /// The report as JSON: `{"state": "local" | "cdn" | "waiting", "reason": .., "detail": ..,
    /// "build": .., "cdn_build": .., "embedded": .., "base_url": .., "cdn_base_url": ..,
    /// "last_probe": {"at_unix_ms": .., "ok": .., "build": .., "reason": .., "detail": ..}}`.
    pub fn to_json(&self) -> String {
        let mut s = String::from("{");
        let _ = write!(s, "\"state\":{}", json_str(self.state.code()));
        let (reason, cdn_build) = match &self.state {
            AssetState::Local { reason } | AssetState::Waiting { reason } => (Some(reason), None),
            AssetState::Cdn { build } => (None, build.as_deref()),
        };
        write_reason(&mut s, reason);
        let _ = write!(
            s,
            ",\"build\":{},\"cdn_build\":{},\"embedded\":{},\"base_url\":{},\"cdn_base_url\":{}",
            json_str(self.build),
            json_opt(cdn_build),
            self.embedded,
            json_str(self.base_url),
            json_opt(self.cdn_base_url),
        );
        s.push_str(",\"last_probe\":");
        match &self.last_probe {
            None => s.push_str("null"),
            Some(p) => {
                let ms = p.at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
                let _ = write!(s, "{{\"at_unix_ms\":{ms},\"ok\":{}", p.outcome.is_ok());
                let _ = write!(s, ",\"build\":{}", json_opt(p.outcome.as_deref().ok()));
                write_reason(&mut s, p.outcome.as_ref().err());
                s.push('}');
            }
        }
        s.push('}');
        s
    }

    /// How long ago the last probe finished, if there was one.
    pub fn since_last_probe(&self) -> Option<std::time::Duration> {
        let p = self.last_probe.as_ref()?;
        SystemTime::now().duration_since(p.at).ok()
    }
}

fn write_reason(s: &mut String, reason: Option<&Reason>) {
    let _ = write!(
        s,
        ",\"reason\":{},\"detail\":{}",
        json_opt(reason.map(Reason::code)),
        json_opt(reason.map(ToString::to_string).as_deref()),
    );
}

fn json_opt(v: Option<&str>) -> String {
    v.map_or_else(|| "null".to_owned(), json_str)
}

/// A JSON string literal.
fn json_str(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            // `<` too, so the JSON is safe inside HTML.
            c if (c as u32) < 0x20 || c == '<' => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

impl Assets {
    /// Where asset URLs point, which build this is, the last probe.
    pub fn health(&self) -> Health {
        Health {
            state: asset_state(),
            build: self.manifest_id(),
            embedded: self.embedded(),
            base_url: base_url(),
            cdn_base_url: cdn_base_url(),
            last_probe: last_probe(),
        }
    }

    /// [`Assets::health`] as a JSON response, 200 or 503 ([`Health::status`]), never cached.
    pub fn health_response(&self) -> Response<Full<Bytes>> {
        let h = self.health();
        let mut r = Response::new(Full::new(Bytes::from(h.to_json())));
        *r.status_mut() = h.status();
        let headers = r.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_as_json() {
        let h = Health {
            state: AssetState::Local {
                reason: Reason::NotPublished { status: 404 },
            },
            build: "abc",
            embedded: true,
            base_url: "/static/",
            cdn_base_url: Some("https://cdn.example.com/s/"),
            last_probe: Some(ProbeRecord {
                at: UNIX_EPOCH + std::time::Duration::from_millis(1500),
                outcome: Err(Reason::NoCors {
                    origin: "https://a\"b".into(),
                    allowed: None,
                }),
            }),
        };
        assert_eq!(h.status(), StatusCode::OK);
        assert_eq!(
            h.to_json(),
            r#"{"state":"local","reason":"not_published","detail":"not published: manifest.json answered 404","build":"abc","cdn_build":null,"embedded":true,"base_url":"/static/","cdn_base_url":"https://cdn.example.com/s/","last_probe":{"at_unix_ms":1500,"ok":false,"build":null,"reason":"no_cors","detail":"no CORS for https://a\"b: no Access-Control-Allow-Origin"}}"#
        );
        let waiting = Health {
            state: AssetState::Waiting {
                reason: Reason::NotProbedYet,
            },
            last_probe: None,
            ..h
        };
        assert_eq!(waiting.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}

//! Where asset URLs point and why: [`AssetState`], kept once per process beside the base URL,
//! with the last probe of the CDN. Every change is logged once (to standard error) with its
//! reason; [`crate::Health`] reports it.

use std::fmt;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::base::{DEFAULT_PREFIX, base_url, cdn_base_url};

/// Where asset URLs point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetState {
    /// At the app's own prefix ([`DEFAULT_PREFIX`]), which serves the embedded files.
    Local {
        /// Why not the CDN.
        reason: Reason,
    },
    /// At the CDN (the configured base URL).
    Cdn {
        /// The id of the manifest the CDN served when it was found ready; `None` when nobody
        /// checked (no probe, or `ASSET_PROBE=off`).
        build: Option<String>,
    },
    /// A CDN-only build (or `ASSET_PROBE=wait`) whose CDN does not serve this build yet: URLs
    /// point at the CDN, and the health check answers 503 until it does.
    Waiting {
        /// Why the CDN is not ready.
        reason: Reason,
    },
}

/// Why asset URLs do not (yet) point at a CDN that serves this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No CDN base URL is set (`ASSET_BASE_URL` unset, or a path on the app itself).
    NoBaseUrl,
    /// The first probe has not answered yet.
    NotProbedYet,
    /// `manifest.json` is not at the base URL (nothing published there, or another prefix).
    NotPublished {
        /// The HTTP status it answered with.
        status: u16,
    },
    /// The CDN serves another build, which lacks or differs in an asset this build needs.
    OtherBuild {
        /// That build's manifest id.
        build: String,
        /// What differs: the first asset of this build it lacks or has other bytes for.
        differs: String,
    },
    /// The CDN answers without CORS for the app's origin, so browsers would block the
    /// stylesheets, scripts and fonts (they are loaded with `crossorigin`).
    NoCors {
        /// The origin the probe sent.
        origin: String,
        /// The `Access-Control-Allow-Origin` it got, if any.
        allowed: Option<String>,
    },
    /// The request failed: DNS, connection, TLS, timeout, or a 5xx.
    Unreachable {
        /// What failed.
        error: String,
    },
    /// `manifest.json` answered but is not a manifest.
    Invalid {
        /// Why it could not be read.
        error: String,
    },
}

impl Reason {
    /// A short stable name: `no_base_url`, `not_probed_yet`, `not_published`, `other_build`,
    /// `no_cors`, `unreachable`, `invalid`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NoBaseUrl => "no_base_url",
            Reason::NotProbedYet => "not_probed_yet",
            Reason::NotPublished { .. } => "not_published",
            Reason::OtherBuild { .. } => "other_build",
            Reason::NoCors { .. } => "no_cors",
            Reason::Unreachable { .. } => "unreachable",
            Reason::Invalid { .. } => "invalid",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoBaseUrl => f.write_str("no CDN base URL is set"),
            Reason::NotProbedYet => f.write_str("the CDN has not been probed yet"),
            Reason::NotPublished { status } => {
                write!(f, "not published: manifest.json answered {status}")
            }
            Reason::OtherBuild { build, differs } => {
                write!(f, "the CDN serves another build ({build}): {differs}")
            }
            Reason::NoCors { origin, allowed } => match allowed {
                Some(a) => write!(
                    f,
                    "no CORS for {origin}: Access-Control-Allow-Origin is {a:?}"
                ),
                None => write!(f, "no CORS for {origin}: no Access-Control-Allow-Origin"),
            },
            Reason::Unreachable { error } => write!(f, "unreachable: {error}"),
            Reason::Invalid { error } => write!(f, "manifest.json is not a manifest: {error}"),
        }
    }
}

impl AssetState {
    /// `local`, `cdn` or `waiting`.
    pub fn code(&self) -> &'static str {
        match self {
            AssetState::Local { .. } => "local",
            AssetState::Cdn { .. } => "cdn",
            AssetState::Waiting { .. } => "waiting",
        }
    }

    /// The same state for logging: the same variant, reason kind and builds (an error's text
    /// may differ from one failed probe to the next).
    fn same_as(&self, other: &AssetState) -> bool {
        let key = |s: &AssetState| match s {
            AssetState::Local { reason } | AssetState::Waiting { reason } => {
                let build = match reason {
                    Reason::OtherBuild { build, .. } => Some(build.clone()),
                    _ => None,
                };
                (s.code(), reason.code(), build)
            }
            AssetState::Cdn { build } => (s.code(), "", build.clone()),
        };
        key(self) == key(other)
    }
}

impl fmt::Display for AssetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssetState::Local { reason } => {
                write!(f, "serving assets locally at {DEFAULT_PREFIX}: {reason}")
            }
            AssetState::Cdn { build: Some(b) } => write!(f, "CDN ready (build {b})"),
            AssetState::Cdn { build: None } => f.write_str("CDN in use (not probed)"),
            AssetState::Waiting { reason } => {
                write!(f, "waiting for the CDN to serve this build: {reason}")
            }
        }
    }
}

/// One probe of the CDN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRecord {
    /// When it finished.
    pub at: SystemTime,
    /// The build the CDN serves, or why it does not serve this one.
    pub outcome: Result<String, Reason>,
}

struct Shared {
    state: Option<AssetState>,
    last_probe: Option<ProbeRecord>,
}

static SHARED: Mutex<Shared> = Mutex::new(Shared {
    state: None,
    last_probe: None,
});

fn shared() -> std::sync::MutexGuard<'static, Shared> {
    SHARED.lock().unwrap_or_else(|e| e.into_inner())
}

/// The state asset URLs are in. Without a probe it follows from the base URL: a CDN in use
/// unchecked, or local.
pub fn asset_state() -> AssetState {
    shared()
        .state
        .clone()
        .unwrap_or_else(|| match cdn_base_url() {
            Some(b) if base_url() == b => AssetState::Cdn { build: None },
            _ => AssetState::Local {
                reason: Reason::NoBaseUrl,
            },
        })
}

/// The last probe of the CDN, if any.
pub fn last_probe() -> Option<ProbeRecord> {
    shared().last_probe.clone()
}

/// Records a new state, logging it when it differs from the previous one. Returns whether
/// it did.
#[cfg_attr(not(feature = "probe"), allow(dead_code))]
pub(crate) fn set_state(state: AssetState) -> bool {
    let mut s = shared();
    let changed = s.state.as_ref().is_none_or(|old| !old.same_as(&state));
    if changed {
        eprintln!("asset-runtime: {state}");
    }
    s.state = Some(state);
    changed
}

/// Records a probe's result.
#[cfg_attr(not(feature = "probe"), allow(dead_code))]
pub(crate) fn record_probe(outcome: Result<String, Reason>) {
    shared().last_probe = Some(ProbeRecord {
        at: SystemTime::now(),
        outcome,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_the_same_whatever_an_error_says() {
        let down = |e: &str| AssetState::Local {
            reason: Reason::Unreachable { error: e.into() },
        };
        assert!(down("connection refused").same_as(&down("timed out")));
        let other = |b: &str| AssetState::Local {
            reason: Reason::OtherBuild {
                build: b.into(),
                differs: "css/app.css is missing".into(),
            },
        };
        assert!(!other("a").same_as(&other("b")));
        assert!(!down("x").same_as(&AssetState::Waiting {
            reason: Reason::Unreachable { error: "x".into() }
        }));
        assert_eq!(
            other("abc").to_string(),
            "serving assets locally at /static/: the CDN serves another build (abc): css/app.css is missing"
        );
    }
}

//! One probe of a CDN ([`Probe::check`]: `GET <base>manifest.json` with an `Origin`, judged by
//! a [`ManifestCheck`]) and the deploy script's wait ([`wait_until_serving`]).

use std::fmt;
use std::time::Duration;

use super::{ManifestCheck, ProbeError};
use crate::state::Reason;

/// The `Origin` sent when none is configured (as `cargo xtask verify --origin`'s default).
pub const DEFAULT_ORIGIN: &str = "https://example.com";

/// A client that fetches `<base>manifest.json` from one CDN.
#[derive(Debug, Clone)]
pub struct Probe {
    client: reqwest::Client,
    url: String,
    origin: String,
}

impl Probe {
    /// A probe of `base_url` (`https://cdn.example.com/static/`; `//host/...` is taken as
    /// https), sending `Origin: origin`, each request within `timeout`.
    ///
    /// # Errors
    /// The base URL is not an absolute http(s) URL, or the HTTP client cannot be built.
    pub fn new(base_url: &str, origin: &str, timeout: Duration) -> Result<Probe, ProbeError> {
        let bad = |reason: &str| ProbeError::Setting {
            name: "base URL",
            value: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let mut base = match base_url.strip_prefix("//") {
            Some(rest) => format!("https://{rest}"),
            None => base_url.to_owned(),
        };
        if !base.ends_with('/') {
            base.push('/');
        }
        let url = reqwest::Url::parse(&base)
            .and_then(|u| u.join("manifest.json"))
            .map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("not http(s)"));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| ProbeError::Client(e.to_string()))?;
        Ok(Probe {
            client,
            url: url.into(),
            origin: origin.to_owned(),
        })
    }

    /// The manifest URL it fetches.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Fetches the manifest once: the id of the build the CDN serves when it serves
    /// `expected`'s build, with CORS for the origin.
    ///
    /// # Errors
    /// Why the CDN does not serve this build: not published (404, 403), no CORS, another
    /// build, unreachable (connection, timeout, another status), not a manifest.
    pub async fn check(&self, expected: &ManifestCheck) -> Result<String, Reason> {
        let unreachable = |e: reqwest::Error| Reason::Unreachable {
            error: error_chain(&e),
        };
        let r = self
            .client
            .get(&self.url)
            .header("origin", &self.origin)
            .header("cache-control", "no-cache")
            .send()
            .await
            .map_err(unreachable)?;
        let status = r.status().as_u16();
        match status {
            200 => {}
            403 | 404 | 410 => return Err(Reason::NotPublished { status }),
            _ => {
                return Err(Reason::Unreachable {
                    error: format!("{} answered {status}", self.url),
                });
            }
        }
        let allowed = r
            .headers()
            .get("access-control-allow-origin")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned());
        if !allowed
            .as_deref()
            .is_some_and(|a| a == "*" || a.eq_ignore_ascii_case(&self.origin))
        {
            return Err(Reason::NoCors {
                origin: self.origin.clone(),
                allowed,
            });
        }
        let body = r.bytes().await.map_err(unreachable)?;
        expected.judge(&body)
    }
}

/// The error and its causes, `: `-separated (reqwest's own message hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

/// Why [`wait_until_serving`] gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitError {
    /// The probe could not be set up (a bad base URL).
    Setup(ProbeError),
    /// The CDN did not serve the build in time.
    TimedOut {
        /// How long it waited.
        after: Duration,
        /// Why the last probe failed.
        last: Reason,
    },
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Setup(e) => e.fmt(f),
            WaitError::TimedOut { after, last } => write!(
                f,
                "the CDN did not serve this build within {after:?}: {last}"
            ),
        }
    }
}

impl std::error::Error for WaitError {}

/// Polls `<base_url>manifest.json` (with `Origin: https://example.com`, so CORS counts) every
/// `interval` until the CDN serves `expected`'s build, for at most `timeout`: what a deploy
/// script runs after publishing and before starting the new app version. Returns the id of
/// the build the CDN serves.
///
/// # Errors
/// A bad base URL, or the timeout passed (with the last probe's reason).
pub async fn wait_until_serving(
    base_url: &str,
    expected: &ManifestCheck,
    timeout: Duration,
    interval: Duration,
) -> Result<String, WaitError> {
    let request_timeout = timeout.clamp(Duration::from_millis(100), Duration::from_secs(10));
    let probe = Probe::new(base_url, DEFAULT_ORIGIN, request_timeout).map_err(WaitError::Setup)?;
    wait_with(&probe, expected, timeout, interval).await
}

/// [`wait_until_serving`] with a probe of your own (another `Origin`, another request
/// timeout).
///
/// # Errors
/// The timeout passed (with the last probe's reason).
pub async fn wait_with(
    probe: &Probe,
    expected: &ManifestCheck,
    timeout: Duration,
    interval: Duration,
) -> Result<String, WaitError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut answered: Option<Reason> = None;
    loop {
        let last = match tokio::time::timeout_at(deadline, probe.check(expected)).await {
            Ok(Ok(build)) => return Ok(build),
            Ok(Err(reason)) => reason,
            // The deadline cut this attempt short: what the CDN last answered says more.
            Err(_) => answered.take().unwrap_or_else(|| Reason::Unreachable {
                error: format!("{} did not answer in time", probe.url()),
            }),
        };
        answered = Some(last.clone());
        if tokio::time::Instant::now() + interval > deadline {
            return Err(WaitError::TimedOut {
                after: timeout,
                last,
            });
        }
        tokio::time::sleep(interval).await;
    }
}

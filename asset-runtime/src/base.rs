//! The base URL that asset URLs start with: a CDN (`ASSET_BASE_URL`), or the prefix where the
//! app serves its embedded files.
//!
//! Two values: the *configured* base (what `ASSET_BASE_URL` says) and the *active* one, which
//! URLs are rendered with. They are the same unless the readiness probe (feature `probe`)
//! keeps the app on its own prefix until the CDN serves this build; the switch is one write,
//! and a render reads the active base once per URL, or once per page under [`pin_base`].

use std::cell::Cell;
use std::sync::RwLock;

/// Where the app serves its own assets when no base URL is set.
pub const DEFAULT_PREFIX: &str = "/static/";

/// The base URLs render with.
static ACTIVE: RwLock<&'static str> = RwLock::new(DEFAULT_PREFIX);
/// The base URL set by [`set_base_url`], if any.
static CONFIGURED: RwLock<Option<&'static str>> = RwLock::new(None);

thread_local! {
    static PINNED: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// A base URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrlError {
    /// The base URL as given.
    pub value: String,
    /// Why it cannot be used.
    pub reason: &'static str,
}

impl std::fmt::Display for BaseUrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid asset base URL `{}`: {}",
            self.value, self.reason
        )
    }
}

impl std::error::Error for BaseUrlError {}

/// The current base URL, always ending in `/`: the one pinned on this thread by
/// [`pin_base`], else the active one.
pub fn base_url() -> &'static str {
    PINNED
        .with(Cell::get)
        .unwrap_or_else(|| *ACTIVE.read().unwrap_or_else(|e| e.into_inner()))
}

/// The base URL set by [`set_base_url`] or `ASSET_BASE_URL`, whether or not URLs use it yet
/// (the readiness probe may keep them on [`DEFAULT_PREFIX`] until the CDN serves this build).
pub fn configured_base_url() -> Option<&'static str> {
    *CONFIGURED.read().unwrap_or_else(|e| e.into_inner())
}

/// The configured base URL when it is another host (a CDN), not a path on the app itself.
pub(crate) fn cdn_base_url() -> Option<&'static str> {
    configured_base_url().filter(|b| !b.starts_with('/') || b.starts_with("//"))
}

/// Makes URLs use the configured base URL (no-op without one).
#[cfg_attr(not(feature = "probe"), allow(dead_code))]
pub(crate) fn use_configured() {
    if let Some(base) = configured_base_url() {
        *ACTIVE.write().unwrap_or_else(|e| e.into_inner()) = base;
    }
}

/// Makes URLs use the app's own prefix, where it serves the embedded files.
#[cfg_attr(not(feature = "probe"), allow(dead_code))]
pub(crate) fn use_local() {
    *ACTIVE.write().unwrap_or_else(|e| e.into_inner()) = DEFAULT_PREFIX;
}

/// Keeps [`base_url`] on this thread at the value it has now until the guard is dropped, so
/// every URL of one page has the same base even if the probe switches it meanwhile:
/// `let _pin = asset_runtime::pin_base();` at the start of a synchronous render. Nested pins
/// keep the outer value.
pub fn pin_base() -> PinnedBase {
    let previous = PINNED.with(Cell::get);
    PINNED.with(|p| p.set(Some(base_url())));
    PinnedBase {
        previous,
        _not_send: std::marker::PhantomData,
    }
}

/// The guard of [`pin_base`]: the thread's URLs use one base until it is dropped. Not
/// `Send`: a pin belongs to the thread that renders.
#[derive(Debug)]
#[must_use = "the base is pinned only while the guard lives"]
pub struct PinnedBase {
    previous: Option<&'static str>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for PinnedBase {
    fn drop(&mut self) {
        PINNED.with(|p| p.set(self.previous));
    }
}

/// Sets the base URL: `https://cdn.example.com/static/` or a path such as `/assets/`.
/// A missing final `/` is added.
///
/// # Errors
/// Not `http(s)://host/...`, `//host/...` or `/path`; or with a query, fragment, spaces or
/// quotes (it is written into HTML attributes).
pub fn set_base_url(url: &str) -> Result<(), BaseUrlError> {
    let bad = |reason| {
        Err(BaseUrlError {
            value: url.to_owned(),
            reason,
        })
    };
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(r) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    {
        r
    } else if let Some(r) = lower.strip_prefix("//") {
        r
    } else if url.starts_with('/') {
        "path"
    } else {
        return bad("expected http(s)://host/path/, //host/path/ or /path/");
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return bad("no host");
    }
    if url.contains(['?', '#']) {
        return bad("a base URL cannot have a query or fragment");
    }
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\'))
    {
        return bad("contains spaces, quotes, angle brackets or backslashes");
    }
    let value = if url.ends_with('/') {
        url.to_owned()
    } else {
        format!("{url}/")
    };
    let value: &'static str = Box::leak(value.into_boxed_str());
    *CONFIGURED.write().unwrap_or_else(|e| e.into_inner()) = Some(value);
    *ACTIVE.write().unwrap_or_else(|e| e.into_inner()) = value;
    Ok(())
}

/// Sets the base URL from `ASSET_BASE_URL` if it is set and not empty; otherwise keeps
/// [`DEFAULT_PREFIX`]. Call it at start-up, and fail the start-up on error.
///
/// # Errors
/// A malformed `ASSET_BASE_URL`.
pub fn init_from_env() -> Result<(), BaseUrlError> {
    match std::env::var("ASSET_BASE_URL") {
        Ok(v) if !v.trim().is_empty() => set_base_url(v.trim()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_base_urls() {
        assert!(set_base_url("ftp://x/").is_err());
        assert!(set_base_url("https:///x").is_err());
        assert!(set_base_url("https://cdn.example.com/a?b").is_err());
        assert!(set_base_url("cdn.example.com").is_err());
        assert!(set_base_url("https://cdn.example.com/a b/").is_err());
        set_base_url("https://cdn.example.com/static").unwrap();
        assert_eq!(base_url(), "https://cdn.example.com/static/");
        assert_eq!(
            configured_base_url(),
            Some("https://cdn.example.com/static/")
        );

        // A pinned thread keeps its base while the active one switches.
        use_local();
        let pin = pin_base();
        use_configured();
        assert_eq!(base_url(), DEFAULT_PREFIX);
        {
            let _inner = pin_base();
            assert_eq!(base_url(), DEFAULT_PREFIX);
        }
        assert_eq!(base_url(), DEFAULT_PREFIX);
        drop(pin);
        assert_eq!(base_url(), "https://cdn.example.com/static/");
        set_base_url(DEFAULT_PREFIX).unwrap();
    }
}

//! The base URL that asset URLs start with: a CDN (`ASSET_BASE_URL`), or the prefix where the
//! app serves its embedded files.

use std::sync::RwLock;

/// Where the app serves its own assets when no base URL is set.
pub const DEFAULT_PREFIX: &str = "/static/";

static BASE: RwLock<&'static str> = RwLock::new(DEFAULT_PREFIX);

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

/// The current base URL, always ending in `/`.
pub fn base_url() -> &'static str {
    *BASE.read().unwrap_or_else(|e| e.into_inner())
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
    *BASE.write().unwrap_or_else(|e| e.into_inner()) = Box::leak(value.into_boxed_str());
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
        set_base_url(DEFAULT_PREFIX).unwrap();
    }
}

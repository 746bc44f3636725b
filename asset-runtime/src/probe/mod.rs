//! The CDN readiness probe (feature `probe`): with a CDN base URL, asset URLs point at the
//! app's own `/static/` until `<base>manifest.json` is this build's (or names every asset of
//! it with the same hashes) and answers with CORS; then they switch to the CDN, once and for
//! good. Without the feature the crate has no HTTP client.
//!
//! ```text
//! ASSETS.init_from_env()?;          // ASSET_BASE_URL
//! ASSETS.start_probe_from_env()?;   // ASSET_PROBE, ASSET_PROBE_INTERVAL, ...
//! ```
//!
//! The probe runs on a task of its own (the current tokio runtime's, else a thread), so it
//! never waits for a request to be polled. [`wait_until_serving`] is the same check for a
//! deploy script: poll until the CDN serves a build.

mod check;
mod fetch;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use check::ManifestCheck;
pub use fetch::{DEFAULT_ORIGIN, Probe, WaitError, wait_until_serving, wait_with};

use crate::Assets;
use crate::base::{cdn_base_url, use_configured, use_local};
use crate::state::{AssetState, Reason, record_probe, set_state};

/// What the app does until the CDN serves this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeMode {
    /// URLs point at the app's own `/static/` (the embedded files) until the CDN is ready.
    /// The default for builds that embed their files; an error for a CDN-only build.
    Fallback,
    /// URLs point at the CDN, and the health check answers 503 until it is ready. The
    /// default for a CDN-only build (`embed = false`).
    Wait,
    /// No probe: URLs point at the CDN from the start.
    Off,
}

/// The probe's settings; [`ProbeSettings::from_env`] reads them from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSettings {
    /// `None`: [`ProbeMode::Fallback`] for a build that embeds its files, else
    /// [`ProbeMode::Wait`]. (`ASSET_PROBE=fallback|wait|off`)
    pub mode: Option<ProbeMode>,
    /// Time between probes until the CDN is ready. (`ASSET_PROBE_INTERVAL`, default `10s`)
    pub interval: Duration,
    /// Time one probe may take. (`ASSET_PROBE_TIMEOUT`, default `5s`)
    pub timeout: Duration,
    /// The `Origin` sent: your app's, when the CDN's CORS rule lists origins.
    /// (`ASSET_PROBE_ORIGIN`, default [`DEFAULT_ORIGIN`])
    pub origin: String,
}

impl Default for ProbeSettings {
    fn default() -> ProbeSettings {
        ProbeSettings {
            mode: None,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            origin: DEFAULT_ORIGIN.to_owned(),
        }
    }
}

impl ProbeSettings {
    /// The defaults, overridden by `ASSET_PROBE`, `ASSET_PROBE_INTERVAL`,
    /// `ASSET_PROBE_TIMEOUT` (`500ms`, `10s`, `2m`) and `ASSET_PROBE_ORIGIN` where set.
    ///
    /// # Errors
    /// A value that cannot be read, naming the variable.
    pub fn from_env() -> Result<ProbeSettings, ProbeError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<ProbeSettings, ProbeError> {
        let mut s = ProbeSettings::default();
        let get = |name| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let bad = |name, value: &str, reason: &str| ProbeError::Setting {
            name,
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(v) = get("ASSET_PROBE") {
            s.mode = Some(match v.to_ascii_lowercase().as_str() {
                "fallback" => ProbeMode::Fallback,
                "wait" => ProbeMode::Wait,
                "off" => ProbeMode::Off,
                _ => return Err(bad("ASSET_PROBE", &v, "expected fallback, wait or off")),
            });
        }
        for (name, field) in [
            ("ASSET_PROBE_INTERVAL", &mut s.interval),
            ("ASSET_PROBE_TIMEOUT", &mut s.timeout),
        ] {
            if let Some(v) = get(name) {
                *field = parse_duration(&v)
                    .ok_or_else(|| bad(name, &v, "expected a duration such as 500ms, 10s or 2m"))?;
            }
        }
        if let Some(v) = get("ASSET_PROBE_ORIGIN") {
            s.origin = v;
        }
        Ok(s)
    }
}

/// `250ms`, `10s`, `2m`, `1h`; a bare number is seconds. Zero is refused.
fn parse_duration(v: &str) -> Option<Duration> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: u64 = n.parse().ok()?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    };
    (!d.is_zero()).then_some(d)
}

/// A probe that cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeError {
    /// A setting that cannot be used.
    Setting {
        /// The variable or setting.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why not.
        reason: String,
    },
    /// `ASSET_PROBE=fallback` for a build that does not embed its files.
    NoFallback,
    /// A probe already runs in this process.
    AlreadyStarted,
    /// The HTTP client could not be built.
    Client(String),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Setting {
                name,
                value,
                reason,
            } => write!(f, "{name}={value:?}: {reason}"),
            ProbeError::NoFallback => f.write_str(
                "ASSET_PROBE=fallback, but this build does not embed its assets (embed = false): there is nothing to fall back to; use ASSET_PROBE=wait or off",
            ),
            ProbeError::AlreadyStarted => f.write_str("the asset probe already runs"),
            ProbeError::Client(e) => write!(f, "the asset probe's HTTP client: {e}"),
        }
    }
}

impl std::error::Error for ProbeError {}

static STARTED: AtomicBool = AtomicBool::new(false);

impl Assets {
    /// [`Assets::start_probe`] with [`ProbeSettings::from_env`]. Call it after
    /// [`Assets::init_from_env`].
    ///
    /// # Errors
    /// As [`ProbeSettings::from_env`] and [`Assets::start_probe`].
    pub fn start_probe_from_env(&'static self) -> Result<bool, ProbeError> {
        self.start_probe(ProbeSettings::from_env()?)
    }

    /// Starts probing the configured CDN base URL (see the module docs) and returns whether
    /// a probe runs: not without a CDN base URL (URLs stay local), nor with
    /// [`ProbeMode::Off`] (URLs point at the CDN unchecked). Needs no tokio runtime, but uses
    /// the current one if there is one.
    ///
    /// # Errors
    /// [`ProbeMode::Fallback`] for a CDN-only build, a second probe, no HTTP client.
    pub fn start_probe(&'static self, settings: ProbeSettings) -> Result<bool, ProbeError> {
        let Some(base) = cdn_base_url() else {
            return Ok(false);
        };
        let mode = settings.mode.unwrap_or(if self.embedded() {
            ProbeMode::Fallback
        } else {
            ProbeMode::Wait
        });
        if mode == ProbeMode::Fallback && !self.embedded() {
            return Err(ProbeError::NoFallback);
        }
        if mode == ProbeMode::Off {
            use_configured();
            set_state(AssetState::Cdn { build: None });
            return Ok(false);
        }
        let probe = Probe::new(base, &settings.origin, settings.timeout)?;
        if STARTED.swap(true, Ordering::SeqCst) {
            return Err(ProbeError::AlreadyStarted);
        }
        let reason = Reason::NotProbedYet;
        if mode == ProbeMode::Fallback {
            use_local();
            set_state(AssetState::Local { reason });
        } else {
            use_configured();
            set_state(AssetState::Waiting { reason });
        }
        let task = run(
            probe,
            ManifestCheck::from_assets(self),
            mode,
            settings.interval,
        );
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn(task)),
            Err(_) => drop(std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime builds")
                    .block_on(task);
            })),
        }
        Ok(true)
    }
}

/// Probes until the CDN serves this build, then switches URLs to it and stops.
async fn run(probe: Probe, check: ManifestCheck, mode: ProbeMode, interval: Duration) {
    loop {
        let outcome = probe.check(&check).await;
        record_probe(outcome.clone());
        match outcome {
            Ok(build) => {
                use_configured();
                set_state(AssetState::Cdn { build: Some(build) });
                return;
            }
            Err(reason) if mode == ProbeMode::Wait => {
                set_state(AssetState::Waiting { reason });
            }
            Err(reason) => {
                set_state(AssetState::Local { reason });
            }
        }
        tokio::time::sleep(interval).await;
    }
}

//! Opening a store: one way for `cargo xtask publish` and for media. A [`Location`] is
//! `s3://bucket/prefix` (object_store's S3 client: AWS or any S3-compatible endpoint),
//! `file:///absolute/path` or a plain folder (relative to the working directory); a
//! [`StoreConfig`] adds endpoint, region, addressing, credentials (the standard `AWS_*`
//! variables, profiles, web identity and container credentials), retries and timeouts.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use crate::Error;

/// Where objects live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A bucket and a key prefix (no leading or trailing `/`; may be empty).
    S3 {
        /// The bucket's name.
        bucket: String,
        /// The key prefix.
        prefix: String,
    },
    /// A folder on this machine.
    File {
        /// The folder.
        path: PathBuf,
    },
}

impl Location {
    /// Parses `s3://bucket/prefix`, `file:///absolute/path`, or a folder path without a
    /// scheme (`media`, `./uploads`, `/srv/media`).
    ///
    /// # Errors
    /// Another scheme, no bucket, a prefix with an empty, `.` or `..` segment, or
    /// `file://` followed by a relative path.
    pub fn parse(url: &str) -> Result<Location, Error> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Config(format!(
                    "`{url}`: no bucket (expected s3://bucket/prefix)"
                )));
            }
            let prefix = prefix.trim_matches('/');
            if prefix
                .split('/')
                .any(|s| (s.is_empty() && !prefix.is_empty()) || s == "." || s == "..")
            {
                return Err(Error::Config(format!(
                    "`{url}`: the key prefix has an empty, `.` or `..` segment"
                )));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(Error::Config(format!(
                    "`{url}`: expected file:///absolute/path (or a folder path without file://)"
                )));
            }
            return Ok(Location::File { path: path.into() });
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(Error::Config(format!(
                "unknown storage scheme `{scheme}` in `{url}`: use s3://bucket/prefix, file:///path or a folder path"
            )));
        }
        if url.is_empty() {
            return Err(Error::Config("an empty storage location".into()));
        }
        Ok(Location::File { path: url.into() })
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Location::File { path } if path.is_absolute() => {
                write!(f, "file://{}", path.display())
            }
            Location::File { path } => write!(f, "{}", path.display()),
        }
    }
}

/// How to reach a [`Location`]: everything but what one use (publish, media) adds.
#[derive(Clone)]
pub struct StoreConfig {
    /// Where the objects are.
    pub location: Location,
    /// `AWS_ENDPOINT_URL`: R2, Spaces, MinIO, a local emulator (`http://` works).
    pub endpoint: Option<String>,
    /// `AWS_REGION` (default `us-east-1`).
    pub region: Option<String>,
    /// Virtual-hosted addressing (`bucket.host`) instead of path-style.
    pub virtual_hosted: bool,
    /// `AWS_ACCESS_KEY_ID` (or from `AWS_PROFILE`).
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY` (or from `AWS_PROFILE`).
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
    /// Retries of one request on 5xx, timeouts and dropped connections, with backoff.
    pub max_retries: usize,
    /// The longest one request may take.
    pub request_timeout: Duration,
    /// The longest a connection may take to open.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("location", &self.location)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id.as_ref().map(|_| "***"))
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .finish_non_exhaustive()
    }
}

/// An opened S3 store: one value that lists, reads, writes and signs URLs.
pub type S3Store = PrefixStore<AmazonS3>;

impl StoreConfig {
    /// Settings for `location`, with endpoint, region and credentials from the standard
    /// `AWS_*` variables, else from the shared credentials and config files (`AWS_PROFILE`,
    /// default `default`).
    pub fn from_env(location: Location) -> StoreConfig {
        StoreConfig::with_profile(location, None)
    }

    /// Like [`StoreConfig::from_env`], with credentials and region of the named profile
    /// of the shared files (before the `AWS_*` variables).
    pub fn from_env_profile(location: Location, profile: &str) -> StoreConfig {
        StoreConfig::with_profile(location, Some(profile))
    }

    fn with_profile(location: Location, chosen: Option<&str>) -> StoreConfig {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let profile = chosen
            .map(str::to_owned)
            .or_else(|| var("AWS_PROFILE"))
            .unwrap_or_else(|| "default".into());
        let home = var("HOME").map(PathBuf::from);
        let creds_file = var("AWS_SHARED_CREDENTIALS_FILE")
            .map(Into::into)
            .or_else(|| home.as_ref().map(|h| h.join(".aws/credentials")));
        let config_file = var("AWS_CONFIG_FILE")
            .map(Into::into)
            .or_else(|| home.as_ref().map(|h| h.join(".aws/config")));
        let from_file = |file: &Option<PathBuf>, section: &str, key: &str| {
            file.as_ref()
                .and_then(|f| std::fs::read_to_string(f).ok())
                .and_then(|t| ini_value(&t, section, key))
        };
        let config_section = if profile == "default" {
            "default".to_owned()
        } else {
            format!("profile {profile}")
        };
        let file_creds = || {
            (
                from_file(&creds_file, &profile, "aws_access_key_id"),
                from_file(&creds_file, &profile, "aws_secret_access_key"),
                from_file(&creds_file, &profile, "aws_session_token"),
            )
        };
        let env_creds = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(a), Some(s)) => Some((Some(a), Some(s), var("AWS_SESSION_TOKEN"))),
            _ => None,
        };
        let (access_key_id, secret_access_key, session_token) = match (chosen, env_creds) {
            (Some(_), env) => match file_creds() {
                (Some(a), Some(s), t) => (Some(a), Some(s), t),
                other => env.unwrap_or(other),
            },
            (None, Some(env)) => env,
            (None, None) => file_creds(),
        };
        StoreConfig {
            location,
            endpoint: var("AWS_ENDPOINT_URL_S3")
                .or_else(|| var("AWS_ENDPOINT_URL"))
                .or_else(|| var("AWS_ENDPOINT")),
            region: if chosen.is_some() {
                from_file(&config_file, &config_section, "region")
                    .or_else(|| var("AWS_REGION"))
                    .or_else(|| var("AWS_DEFAULT_REGION"))
            } else {
                var("AWS_REGION")
                    .or_else(|| var("AWS_DEFAULT_REGION"))
                    .or_else(|| from_file(&config_file, &config_section, "region"))
            },
            virtual_hosted: var("AWS_VIRTUAL_HOSTED_STYLE_REQUEST")
                .is_some_and(|v| v == "true" || v == "1"),
            access_key_id,
            secret_access_key,
            session_token,
            max_retries: 10,
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// `text` with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in [
            &self.secret_access_key,
            &self.session_token,
            &self.access_key_id,
        ]
        .into_iter()
        .flatten()
        {
            if secret.len() >= 4 {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }

    /// Whether the store keeps Content-Type, Cache-Control, Content-Disposition and user
    /// metadata with each object (S3 does; a local folder does not).
    pub fn keeps_attributes(&self) -> bool {
        matches!(self.location, Location::S3 { .. })
    }

    /// The store, scoped to the location's prefix.
    ///
    /// # Errors
    /// No credentials, a bad endpoint, or a local folder that cannot be created.
    pub fn open(&self) -> Result<Arc<dyn ObjectStore>, Error> {
        match &self.location {
            Location::File { path } => Ok(Arc::new(open_folder(path)?)),
            Location::S3 { .. } => Ok(Arc::new(self.open_s3()?)),
        }
    }

    /// The S3 store (scoped to the prefix) as its concrete type, which also signs URLs.
    ///
    /// # Errors
    /// Not an S3 location, no credentials, or a bad endpoint.
    pub fn open_s3(&self) -> Result<S3Store, Error> {
        let (store, prefix) = self.open_s3_parts()?;
        Ok(PrefixStore::new(store, prefix))
    }

    /// The bucket's client and the key prefix [`StoreConfig::open_s3`] scopes it to.
    ///
    /// # Errors
    /// As [`StoreConfig::open_s3`].
    pub fn open_s3_parts(&self) -> Result<(AmazonS3, object_store::path::Path), Error> {
        let Location::S3 { bucket, prefix } = &self.location else {
            return Err(Error::Config(format!(
                "{} is not an S3 location",
                self.location
            )));
        };
        let chain = [
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
            || std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|v| v == "false");
        let http = self
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        // The builder starts from the environment so that web identity tokens, container
        // credentials and instance roles work as in every AWS SDK; explicit settings win.
        let mut b = if chain {
            AmazonS3Builder::from_env()
        } else {
            AmazonS3Builder::new()
        };
        b = b
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(http)
                    .with_timeout(self.request_timeout)
                    .with_connect_timeout(self.connect_timeout),
            )
            .with_allow_http(http)
            .with_bucket_name(bucket)
            .with_region(self.region.clone().unwrap_or_else(|| "us-east-1".into()))
            .with_virtual_hosted_style_request(self.virtual_hosted)
            .with_retry(RetryConfig {
                max_retries: self.max_retries,
                retry_timeout: Duration::from_secs(180),
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(50),
                    max_backoff: Duration::from_secs(5),
                    base: 2.0,
                },
            });
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(key), Some(secret)) => {
                b = b.with_access_key_id(key).with_secret_access_key(secret);
                if let Some(token) = &self.session_token {
                    b = b.with_token(token);
                }
            }
            _ if chain => {}
            _ => {
                return Err(Error::Config(
                    "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/credentials, \
                     AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN, or (on EC2) AWS_EC2_METADATA_DISABLED=false for the instance role"
                        .into(),
                ));
            }
        }
        if let Some(endpoint) = &self.endpoint {
            b = b.with_endpoint(endpoint);
        }
        let store = b
            .build()
            .map_err(|e| Error::Config(self.redact(&format!("S3 settings: {e}"))))?;
        // Parsed, not built from parts: `~`, `%` and spaces stay as the user wrote them
        // (object_store would percent-encode them in a path built from a string).
        let prefix = object_store::path::Path::parse(prefix)
            .map_err(|e| Error::Config(format!("{}: key prefix: {e}", self.location)))?;
        Ok((store, prefix))
    }

    /// The URL at which an anonymous client reads `key` straight from the bucket (for a
    /// public prefix behind no CDN), or `None` for a local folder.
    pub fn bucket_url(&self) -> Option<String> {
        let Location::S3 { bucket, prefix } = &self.location else {
            return None;
        };
        let region = self.region.as_deref().unwrap_or("us-east-1");
        let base = match (&self.endpoint, self.virtual_hosted) {
            (Some(e), false) => format!("{}/{bucket}", e.trim_end_matches('/')),
            (Some(e), true) => {
                let (scheme, host) = e.split_once("://").unwrap_or(("https", e));
                format!("{scheme}://{bucket}.{}", host.trim_end_matches('/'))
            }
            (None, _) => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        };
        Some(if prefix.is_empty() {
            format!("{base}/")
        } else {
            format!("{base}/{prefix}/")
        })
    }
}

/// A local folder as a store, created if missing.
///
/// # Errors
/// The folder cannot be created or resolved.
pub fn open_folder(path: &std::path::Path) -> Result<LocalFileSystem, Error> {
    std::fs::create_dir_all(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    LocalFileSystem::new_with_prefix(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// `key` of `[section]` in an INI file (the AWS credentials and config files).
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_owned();
        } else if current == section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("s3://b/p/q/").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: "p/q".into()
            }
        );
        assert_eq!(
            Location::parse("s3://b").unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            Location::parse("file:///tmp/x").unwrap(),
            Location::File {
                path: "/tmp/x".into()
            }
        );
        assert_eq!(
            Location::parse("media").unwrap(),
            Location::File {
                path: "media".into()
            }
        );
        let e = Location::parse("ftp://x/y").unwrap_err().to_string();
        assert!(e.contains("unknown storage scheme `ftp`"), "{e}");
        assert!(Location::parse("s3:///p").is_err());
        assert!(Location::parse("file://rel").is_err());
        assert!(Location::parse("s3://b/a/../c").is_err());
        assert!(Location::parse("").is_err());
    }

    #[test]
    fn profiles_are_read_from_ini() {
        let text =
            "[default]\naws_access_key_id = A\n[prod]\naws_access_key_id=B\nregion = eu-west-1\n";
        assert_eq!(
            ini_value(text, "prod", "aws_access_key_id").as_deref(),
            Some("B")
        );
        assert_eq!(
            ini_value(text, "default", "aws_access_key_id").as_deref(),
            Some("A")
        );
        assert_eq!(ini_value(text, "prod", "nope"), None);
    }

    #[test]
    fn secrets_are_redacted() {
        let mut s = StoreConfig::from_env(Location::parse("s3://b").unwrap());
        s.access_key_id = Some("AKIAEXAMPLE".into());
        s.secret_access_key = Some("s3cr3tvalue".into());
        assert_eq!(
            s.redact("key AKIAEXAMPLE secret s3cr3tvalue"),
            "key *** secret ***"
        );
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }

    #[test]
    fn bucket_urls() {
        let mut s = StoreConfig::from_env(Location::parse("s3://b/media").unwrap());
        s.endpoint = None;
        s.region = Some("eu-west-1".into());
        assert_eq!(
            s.bucket_url().unwrap(),
            "https://b.s3.eu-west-1.amazonaws.com/media/"
        );
        s.endpoint = Some("http://127.0.0.1:9000/".into());
        assert_eq!(s.bucket_url().unwrap(), "http://127.0.0.1:9000/b/media/");
    }
}

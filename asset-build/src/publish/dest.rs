//! Destinations: `s3://bucket/prefix` through object_store's S3 client (any S3-compatible
//! endpoint), or `file:///path` through its local store. Settings as django-storages users
//! know them: endpoint, region, path-style, credentials from `AWS_*` and profiles, prefix,
//! Cache-Control, and how compressed variants are stored.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use super::Error;

/// How precompressed variants are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variants {
    /// `<key>.br` and `<key>.gz` beside each file, with `Content-Encoding` set (the default):
    /// for a CDN or server that picks the variant itself.
    Separate,
    /// gzip stored under the main key with `Content-Encoding: gzip` (django-storages'
    /// `AWS_IS_GZIPPED`): every client gets gzip from a plain bucket.
    Gzipped,
    /// Only the identity files.
    None,
}

impl std::str::FromStr for Variants {
    type Err = Error;
    fn from_str(s: &str) -> Result<Variants, Error> {
        match s {
            "separate" => Ok(Variants::Separate),
            "gzipped" => Ok(Variants::Gzipped),
            "none" => Ok(Variants::None),
            _ => Err(Error::Config(format!(
                "variants `{s}`: expected separate, gzipped or none"
            ))),
        }
    }
}

/// A parsed destination URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    S3 { bucket: String, prefix: String },
    File { path: std::path::PathBuf },
}

impl Destination {
    /// Parses `s3://bucket/prefix` or `file:///absolute/path`.
    ///
    /// # Errors
    /// Another scheme, no bucket, or a relative file path.
    pub fn parse(url: &str) -> Result<Destination, Error> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Config(format!(
                    "`{url}`: no bucket (expected s3://bucket/prefix)"
                )));
            }
            return Ok(Destination::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(Error::Config(format!(
                    "`{url}`: expected file:///absolute/path"
                )));
            }
            return Ok(Destination::File { path: path.into() });
        }
        let scheme = url.split_once("://").map_or(url, |(s, _)| s);
        Err(Error::Config(format!(
            "unknown destination scheme `{scheme}` in `{url}`: use s3://bucket/prefix or file:///path"
        )))
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Destination::File { path } => write!(f, "file://{}", path.display()),
        }
    }
}

/// Everything needed to talk to a destination.
#[derive(Clone)]
pub struct StoreSettings {
    pub destination: Destination,
    /// `AWS_ENDPOINT_URL`: R2, Spaces, MinIO, a local emulator (`http://` works).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Virtual-hosted addressing (`bucket.host`) instead of path-style.
    pub virtual_hosted: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// Concurrent uploads.
    pub concurrency: usize,
    pub cache_control: String,
    pub variants: Variants,
    /// Retries of one request on 5xx, timeouts and dropped connections.
    pub max_retries: usize,
    pub request_timeout: Duration,
    /// Files larger than this are uploaded in parts.
    pub multipart_threshold: u64,
    /// List the destination even when its `manifest.json` is already this build's, to put
    /// back objects deleted behind publish's back. Otherwise that publish is one GET: the
    /// manifest is only ever written after a listing showed every object it names.
    pub relist: bool,
}

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings")
            .field("destination", &self.destination)
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

impl StoreSettings {
    /// Settings for `destination`, credentials and region from the standard `AWS_*` variables,
    /// else from the shared credentials and config files (`AWS_PROFILE`, default `default`).
    pub fn from_env(destination: Destination) -> StoreSettings {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".into());
        let home = var("HOME").map(std::path::PathBuf::from);
        let creds_file = var("AWS_SHARED_CREDENTIALS_FILE")
            .map(Into::into)
            .or_else(|| home.as_ref().map(|h| h.join(".aws/credentials")));
        let config_file = var("AWS_CONFIG_FILE")
            .map(Into::into)
            .or_else(|| home.as_ref().map(|h| h.join(".aws/config")));
        let from_file = |file: &Option<std::path::PathBuf>, section: &str, key: &str| {
            file.as_ref()
                .and_then(|f| std::fs::read_to_string(f).ok())
                .and_then(|t| ini_value(&t, section, key))
        };
        let config_section = if profile == "default" {
            "default".to_owned()
        } else {
            format!("profile {profile}")
        };
        let (access_key_id, secret_access_key, session_token) =
            match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
                (Some(a), Some(s)) => (Some(a), Some(s), var("AWS_SESSION_TOKEN")),
                _ => (
                    from_file(&creds_file, &profile, "aws_access_key_id"),
                    from_file(&creds_file, &profile, "aws_secret_access_key"),
                    from_file(&creds_file, &profile, "aws_session_token"),
                ),
            };
        StoreSettings {
            destination,
            endpoint: var("AWS_ENDPOINT_URL_S3")
                .or_else(|| var("AWS_ENDPOINT_URL"))
                .or_else(|| var("AWS_ENDPOINT")),
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .or_else(|| from_file(&config_file, &config_section, "region")),
            virtual_hosted: var("AWS_VIRTUAL_HOSTED_STYLE_REQUEST")
                .is_some_and(|v| v == "true" || v == "1"),
            access_key_id,
            secret_access_key,
            session_token,
            concurrency: 16,
            cache_control: super::IMMUTABLE.to_owned(),
            variants: Variants::Separate,
            max_retries: 10,
            request_timeout: Duration::from_secs(60),
            multipart_threshold: 16 * 1024 * 1024,
            relist: false,
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

    /// Whether the store keeps Content-Type and friends (the local folder does not).
    pub fn keeps_headers(&self) -> bool {
        matches!(self.destination, Destination::S3 { .. })
    }

    /// The store, scoped to the prefix.
    ///
    /// # Errors
    /// Missing bucket credentials, a bad endpoint, or a local folder that cannot be created.
    pub fn store(&self) -> Result<Arc<dyn ObjectStore>, Error> {
        match &self.destination {
            Destination::File { path } => {
                std::fs::create_dir_all(path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                let store = LocalFileSystem::new_with_prefix(path)
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
                Ok(Arc::new(store))
            }
            Destination::S3 { bucket, prefix } => {
                let (Some(key), Some(secret)) = (&self.access_key_id, &self.secret_access_key)
                else {
                    return Err(Error::Config(
                        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials".into(),
                    ));
                };
                let http = self
                    .endpoint
                    .as_deref()
                    .is_some_and(|e| e.starts_with("http://"));
                let mut b = AmazonS3Builder::new()
                    .with_client_options(
                        ClientOptions::new()
                            .with_allow_http(http)
                            .with_timeout(self.request_timeout)
                            .with_connect_timeout(Duration::from_secs(5)),
                    )
                    .with_allow_http(http)
                    .with_bucket_name(bucket)
                    .with_region(self.region.clone().unwrap_or_else(|| "us-east-1".into()))
                    .with_access_key_id(key)
                    .with_secret_access_key(secret)
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
                if let Some(endpoint) = &self.endpoint {
                    b = b.with_endpoint(endpoint);
                }
                if let Some(token) = &self.session_token {
                    b = b.with_token(token);
                }
                let store = b
                    .build()
                    .map_err(|e| Error::Config(self.redact(&format!("S3 settings: {e}"))))?;
                if prefix.is_empty() {
                    Ok(Arc::new(store))
                } else {
                    Ok(Arc::new(PrefixStore::new(store, prefix.as_str())))
                }
            }
        }
    }
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
    fn destinations_parse() {
        assert_eq!(
            Destination::parse("s3://b/p/q/").unwrap(),
            Destination::S3 {
                bucket: "b".into(),
                prefix: "p/q".into()
            }
        );
        assert_eq!(
            Destination::parse("s3://b").unwrap(),
            Destination::S3 {
                bucket: "b".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            Destination::parse("file:///tmp/x").unwrap(),
            Destination::File {
                path: "/tmp/x".into()
            }
        );
        let e = Destination::parse("ftp://x/y").unwrap_err().to_string();
        assert!(e.contains("unknown destination scheme `ftp`"), "{e}");
        assert!(Destination::parse("s3:///p").is_err());
        assert!(Destination::parse("file://rel").is_err());
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
        let mut s = StoreSettings::from_env(Destination::parse("s3://b").unwrap());
        s.access_key_id = Some("AKIAEXAMPLE".into());
        s.secret_access_key = Some("s3cr3tvalue".into());
        assert_eq!(
            s.redact("key AKIAEXAMPLE secret s3cr3tvalue"),
            "key *** secret ***"
        );
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }
}

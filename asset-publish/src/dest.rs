//! Publish settings: where to (an [`asset_storage::StoreConfig`], the one way of opening a
//! store that media storage uses too) and what publishing adds: concurrency, Cache-Control,
//! how compressed variants are stored, the multipart threshold.

use std::sync::Arc;

use asset_storage::{Location, StoreConfig};
use object_store::ObjectStore;

use crate::Error;

/// How precompressed variants are stored (`--variants`, `variants = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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

/// Everything needed to publish to a destination.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Where, and how to reach it (endpoint, region, credentials, retries, timeouts).
    pub connection: StoreConfig,
    /// Concurrent uploads.
    pub concurrency: usize,
    /// `Cache-Control` of the hashed files.
    pub cache_control: String,
    /// How precompressed variants are stored.
    pub variants: Variants,
    /// Files larger than this are uploaded in parts.
    pub multipart_threshold: u64,
}

impl StoreSettings {
    /// Settings for `location`, connection settings from the standard `AWS_*` variables and
    /// profiles.
    pub fn from_env(location: Location) -> StoreSettings {
        StoreSettings {
            connection: StoreConfig::from_env(location),
            concurrency: 16,
            cache_control: crate::IMMUTABLE.to_owned(),
            variants: Variants::Separate,
            multipart_threshold: 16 * 1024 * 1024,
        }
    }

    /// Where this publishes.
    pub fn location(&self) -> &Location {
        &self.connection.location
    }

    /// `text` with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        self.connection.redact(text)
    }

    /// Whether the store keeps Content-Type and friends (the local folder does not).
    pub fn keeps_headers(&self) -> bool {
        self.connection.keeps_attributes()
    }

    /// The store, scoped to the prefix.
    ///
    /// # Errors
    /// Missing bucket credentials, a bad endpoint, or a local folder that cannot be created.
    pub fn store(&self) -> Result<Arc<dyn ObjectStore>, Error> {
        Ok(self.connection.open()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let mut s = StoreSettings::from_env(Location::parse("s3://b").unwrap());
        s.connection.access_key_id = Some("AKIAEXAMPLE".into());
        s.connection.secret_access_key = Some("s3cr3tvalue".into());
        assert_eq!(s.redact("key AKIAEXAMPLE"), "key ***");
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }
}

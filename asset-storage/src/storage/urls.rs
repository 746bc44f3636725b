//! URLs: public ones from the base URL, signed ones (S3 presigning or the local HMAC); no
//! request to the store.

use std::time::Duration;

use object_store::signer::SignedUrlOptions;

use crate::Error;
use crate::name::{self, Visibility};
use crate::sniff::{self};

use super::{Object, Storage, UrlSigner};

impl Storage {
    /// The public URL of `key`, from the base URL: no request to the store.
    ///
    /// # Errors
    /// A private key (use [`Storage::signed_url`]) or an invalid one.
    pub fn public_url(&self, key: &str) -> Result<String, Error> {
        name::check_key(key)?;
        if Visibility::of(key) != Some(Visibility::Public) {
            return Err(Error::Forbidden(format!(
                "`{}` is private: it has only signed URLs",
                name::printable(key)
            )));
        }
        Ok(format!("{}{}", self.base_url(), encode_key(key)))
    }

    /// Where public objects are read (always ends with `/`).
    pub fn base_url(&self) -> String {
        let s = &self.inner.settings;
        let base = s
            .base_url
            .clone()
            .or_else(|| s.store.bucket_url())
            .unwrap_or_else(|| "/media/".into());
        if base.ends_with('/') {
            base
        } else {
            format!("{base}/")
        }
    }

    /// A URL for `object` that works for `expires_in` (default: the settings'), with the
    /// download name and type forced in the response: S3's presigned GET (with
    /// `response-content-disposition`), or the local service's HMAC. No request to the store.
    ///
    /// # Errors
    /// The signer failed (S3 credentials could not be loaded).
    pub async fn signed_url(
        &self,
        object: &Object,
        expires_in: Option<Duration>,
    ) -> Result<String, Error> {
        name::check_key(&object.key)?;
        let expiry = expires_in.unwrap_or(self.inner.settings.url_expiry);
        let disposition = sniff::content_disposition(&object.content_type, &object.original_name);
        match &self.inner.signer {
            UrlSigner::Presign(signer) => {
                let opts = SignedUrlOptions::default().with_query([
                    ("response-content-disposition", disposition),
                    ("response-content-type", object.content_type.clone()),
                ]);
                signer
                    .url(http::Method::GET, &object.key, expiry, &opts)
                    .await
                    .map_err(|e| self.err("signing", &object.key, e))
            }
            UrlSigner::Hmac => {
                let expires = (self.now_secs() + expiry.as_secs()).to_string();
                let sig = self.inner.key.sign(&["GET", &object.key, &expires]);
                Ok(format!(
                    "{}{}?expires={expires}&sig={sig}",
                    self.base_url(),
                    encode_key(&object.key)
                ))
            }
        }
    }

    /// The URL to show for `object`: public URL or signed URL. No request to the store.
    ///
    /// # Errors
    /// As [`Storage::signed_url`].
    pub async fn url(&self, object: &Object) -> Result<String, Error> {
        match Visibility::of(&object.key) {
            Some(Visibility::Public) => self.public_url(&object.key),
            _ => self.signed_url(object, None).await,
        }
    }
}

/// `key` with each segment percent-encoded for a URL path (`+` included: S3 reads it as a
/// space).
pub(crate) fn encode_key(key: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    key.split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

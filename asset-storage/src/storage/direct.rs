//! Direct browser uploads: tickets (presigned PUTs) and their confirmation.

use bytes::Bytes;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use object_store::path::Path;
use object_store::signer::{SignedUrlOptions, Signer};
use object_store::{ObjectStore, ObjectStoreExt as _};

use crate::Error;
use crate::name::{self};
use crate::sniff::{self, SNIFF_LEN};

use super::{Object, Policy, Storage, UploadTicket, encode_key};

impl Storage {
    /// A direct-upload ticket: a new key under `policy` and a URL the browser PUTs the file
    /// to (S3's presigned PUT, or the local service) with the headers it must send. The
    /// declared type and extension are checked now; the bytes, size and type again at
    /// [`Storage::confirm_upload`]. No request to the store.
    ///
    /// # Errors
    /// A declared type or extension the policy does not accept, or signing failed.
    pub async fn upload_ticket(
        &self,
        policy: &Policy,
        file_name: &str,
        declared_type: &str,
        size: Option<u64>,
    ) -> Result<UploadTicket, Error> {
        if let Some(size) = size
            && size > policy.max_size
        {
            return Err(Error::TooLarge {
                limit: policy.max_size,
            });
        }
        let content_type = declared_kind(policy, file_name, declared_type)?;
        let key = name::new_key(policy.visibility, &policy.prefix, file_name)?;
        let expiry = self.inner.settings.url_expiry;
        let expires_at = self.now_secs() + expiry.as_secs();
        let original: String = file_name.chars().take(1000).collect();
        let disposition = sniff::content_disposition(&content_type, &original);
        let cache = policy
            .cache_control
            .clone()
            .unwrap_or_else(|| self.default_cache(Some(policy.visibility)));
        let (url, headers) = match &self.inner.signer {
            Some(signer) => {
                let headers = vec![
                    ("content-type".to_owned(), content_type.clone()),
                    ("content-disposition".to_owned(), disposition),
                    ("cache-control".to_owned(), cache),
                    ("if-none-match".to_owned(), "*".to_owned()),
                ];
                let mut opts = SignedUrlOptions::default();
                for (k, v) in &headers {
                    let name = http::HeaderName::from_bytes(k.as_bytes()).expect("a header name");
                    let value = http::HeaderValue::from_str(v).map_err(|_| Error::InvalidName {
                        name: name::printable(&original),
                        reason: "cannot be sent in a header".into(),
                    })?;
                    opts = opts.with_signed_header(name, value);
                }
                let url = signer
                    .signed_url_opts(http::Method::PUT, &Path::from(key.as_str()), expiry, &opts)
                    .await
                    .map_err(|e| self.err("signing", &key, e))?;
                (url.to_string(), headers)
            }
            None => {
                let expires = expires_at.to_string();
                let max = policy.max_size.to_string();
                let sig =
                    self.inner
                        .key
                        .sign(&["PUT", &key, &expires, &max, &content_type, &original]);
                let q = |s: &str| {
                    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                        .to_string()
                };
                let url = format!(
                    "{}{}?expires={expires}&max={max}&type={}&name={}&sig={sig}",
                    self.base_url(),
                    encode_key(&key),
                    q(&content_type),
                    q(&original)
                );
                (url, vec![("content-type".to_owned(), content_type.clone())])
            }
        };
        Ok(UploadTicket {
            key,
            url,
            method: "PUT",
            headers,
            max_size: policy.max_size,
            expires_at,
        })
    }

    /// Checks a direct upload after the browser's PUT: the key is one of `policy`'s, the
    /// object is within the size cap, and its bytes are of an allowed type that matches its
    /// stored type and name. A failing object is deleted. Two requests (HEAD and a ranged GET).
    ///
    /// # Errors
    /// [`Error::NotFound`] if nothing was uploaded, [`Error::TooLarge`], the type errors, or an
    /// [`Error::InvalidName`] for a key that is not `policy`'s.
    pub async fn confirm_upload(&self, policy: &Policy, key: &str) -> Result<Object, Error> {
        name::check_key(key)?;
        let start = policy.key_start();
        let rest = key.strip_prefix(&start).unwrap_or("");
        let parts: Vec<&str> = rest.split('/').collect();
        let ours = parts.len() == 2
            && parts[0].len() == 32
            && parts[0].bytes().all(|b| b.is_ascii_hexdigit());
        if !ours {
            return Err(Error::InvalidName {
                name: name::printable(key),
                reason: format!("not an upload key of `{start}`"),
            });
        }
        let object = self.metadata(key).await?;
        let checked = async {
            if object.size > policy.max_size {
                return Err(Error::TooLarge {
                    limit: policy.max_size,
                });
            }
            let head = if object.size == 0 {
                Bytes::new()
            } else {
                let end = object.size.min(SNIFF_LEN as u64);
                self.inner
                    .store
                    .get_range(&Path::from(key), 0..end)
                    .await
                    .map_err(|e| self.err("reading", key, e))?
            };
            let ct = sniff::check(
                sniff::sniff(&head),
                &policy.types,
                Some(&object.content_type),
                &object.original_name,
            )?;
            if !sniff::same_type(&ct, &object.content_type) {
                return Err(Error::TypeMismatch {
                    detected: ct,
                    claimed: format!("the declared type {}", object.content_type),
                });
            }
            Ok(())
        }
        .await;
        match checked {
            Ok(()) => Ok(object),
            Err(e) => {
                self.delete(key).await?;
                Err(e)
            }
        }
    }
}

/// The content type a direct upload declares, checked against the policy and the name.
fn declared_kind(policy: &Policy, file_name: &str, declared: &str) -> Result<String, Error> {
    let d = sniff::essence(declared).to_ascii_lowercase();
    let kind = sniff::ALL.iter().copied().find(|k| {
        sniff::essence(k.mime) == d
            || (k.family == sniff::Family::Text
                && matches!(
                    d.as_str(),
                    "text/csv" | "text/markdown" | "application/json"
                ))
    });
    match kind {
        Some(k) => sniff::check(Some(k), &policy.types, Some(&d), file_name),
        None if policy.types.unknown => Ok("application/octet-stream".into()),
        None => Err(Error::TypeNotAllowed {
            detected: d,
            allowed: policy.types.describe(),
        }),
    }
}

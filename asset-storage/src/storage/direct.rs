//! Direct browser uploads, single-use and bounded.
//!
//! A ticket names a pending key (`pending/<the object's key>`), the exact size, the type, the
//! original name and an expiry, all signed: into S3's presigned PUT (its headers, with
//! `If-None-Match: *`), or into the HMAC the local service checks (which also counts the
//! bytes). The browser's bytes land in the pending area, which nothing serves (the local
//! service answers 404 there; a bucket policy makes only `public/` readable). Confirming takes
//! the ticket's signed token, not a key: it checks the pending bytes (size, sniffed type,
//! name), copies them to the object's key and leaves a tombstone at the pending key, so the
//! ticket's URL can store nothing again (the conditional PUT finds the key taken) and a second
//! confirm finds the ticket used. [`Storage::collect_garbage`] removes pending uploads nobody
//! confirmed, and tombstones once their ticket has expired.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStoreExt as _, PutOptions};

use crate::Error;
use crate::name;
use crate::sniff::{self, SNIFF_LEN};

use super::{NewObject, Object, Policy, Storage, UploadTicket, UrlSigner, encode_key};

/// Where direct uploads wait for their confirmation: never served, never listed.
pub const PENDING_DIR: &str = "pending";
/// The content type of a used ticket's tombstone.
const USED: &str = "application/x-asset-storage-used-ticket";
/// How long after its ticket expires an upload may still be confirmed (a PUT that started in
/// time may end later).
pub const CONFIRM_GRACE: Duration = Duration::from_secs(3600);

/// What a ticket's token carries, signed with the storage's key.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Ticket {
    /// The object's key once confirmed.
    key: String,
    size: u64,
    #[serde(rename = "type")]
    content_type: String,
    name: String,
    expires: u64,
}

impl Ticket {
    fn pending(&self) -> String {
        format!("{PENDING_DIR}/{}", self.key)
    }
}

impl Storage {
    /// A direct-upload ticket for a file of exactly `size` bytes: a new key under `policy`, a
    /// URL the browser PUTs the file to (S3's presigned PUT, or the local service) with the
    /// headers it must send, and the token [`Storage::confirm_upload`] takes. The declared
    /// type and the name's extension are checked now, the bytes at confirmation. No request
    /// to the store.
    ///
    /// # Errors
    /// [`Error::TooLarge`] over the policy's cap, a declared type or extension the policy does
    /// not accept, or signing failed.
    pub async fn upload_ticket(
        &self,
        policy: &Policy,
        file_name: &str,
        declared_type: &str,
        size: u64,
    ) -> Result<UploadTicket, Error> {
        if size > policy.max_size {
            return Err(Error::TooLarge {
                limit: policy.max_size,
            });
        }
        let clean = name::clean_file_name(file_name);
        let content_type = declared_kind(policy, &clean, declared_type)?;
        let key = name::new_key(policy.visibility, &policy.prefix, &clean)?;
        let expiry = self.inner.settings.url_expiry;
        let ticket = Ticket {
            key,
            size,
            content_type,
            name: file_name.chars().take(1000).collect(),
            expires: self.now_secs() + expiry.as_secs(),
        };
        let (url, headers) = match &self.inner.signer {
            UrlSigner::Presign(signer) => self.presigned_put(signer, &ticket, policy).await?,
            UrlSigner::Hmac => self.local_put(&ticket),
        };
        Ok(UploadTicket {
            token: self.seal(&ticket),
            key: ticket.key,
            url,
            method: "PUT",
            headers,
            size,
            max_size: policy.max_size,
            expires_at: ticket.expires,
        })
    }

    /// S3's presigned PUT of the pending key, with the length and the headers the browser
    /// must send signed in (type, disposition, cache, `If-None-Match: *`). The browser sets
    /// `Content-Length` itself, so it is not among the headers handed out.
    async fn presigned_put(
        &self,
        signer: &super::presign::Presigner,
        ticket: &Ticket,
        policy: &Policy,
    ) -> Result<(String, Vec<(String, String)>), Error> {
        let pending = ticket.pending();
        let cache = policy
            .cache_control
            .clone()
            .unwrap_or_else(|| self.default_cache(Some(policy.visibility)));
        let headers = vec![
            ("content-type".to_owned(), ticket.content_type.clone()),
            (
                "content-disposition".to_owned(),
                sniff::content_disposition(&ticket.content_type, &ticket.name),
            ),
            ("cache-control".to_owned(), cache),
            ("if-none-match".to_owned(), "*".to_owned()),
        ];
        for (_, v) in &headers {
            if http::HeaderValue::from_str(v).is_err() {
                return Err(Error::InvalidName {
                    name: name::printable(&ticket.name),
                    reason: "cannot be sent in a header".into(),
                });
            }
        }
        let url = signer
            .put(
                &pending,
                ticket.size,
                &headers,
                self.inner.settings.url_expiry,
                (self.inner.clock)(),
            )
            .await
            .map_err(|e| self.err("signing", &pending, e))?;
        Ok((url, headers))
    }

    /// The local service's PUT of the pending key: an HMAC over key, expiry, size, type and
    /// name, which the service checks while it counts the bytes.
    fn local_put(&self, ticket: &Ticket) -> (String, Vec<(String, String)>) {
        let pending = ticket.pending();
        let expires = ticket.expires.to_string();
        let size = ticket.size.to_string();
        let sig = self.inner.key.sign(&[
            "PUT",
            &pending,
            &expires,
            &size,
            &ticket.content_type,
            &ticket.name,
        ]);
        let q = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let url = format!(
            "{}{}?expires={expires}&size={size}&type={}&name={}&sig={sig}",
            self.base_url(),
            encode_key(&pending),
            q(&ticket.content_type),
            q(&ticket.name)
        );
        (
            url,
            vec![("content-type".to_owned(), ticket.content_type.clone())],
        )
    }

    /// The ticket as a token: its JSON, base64, and the storage key's signature of that.
    fn seal(&self, ticket: &Ticket) -> String {
        let json = serde_json::to_string(ticket).expect("a ticket serialises");
        let payload = URL_SAFE_NO_PAD.encode(json);
        let sig = self.inner.key.sign(&["ticket", &payload]);
        format!("{payload}.{sig}")
    }

    /// The key a ticket's token will confirm to (its signature checked), for an app that
    /// picks the policy by the key's visibility.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for a token this storage did not sign.
    pub fn ticket_key(&self, token: &str) -> Result<String, Error> {
        Ok(self.open_ticket(token)?.key)
    }

    fn open_ticket(&self, token: &str) -> Result<Ticket, Error> {
        let bad = || Error::Forbidden("not an upload token of this app".into());
        let (payload, sig) = token.split_once('.').ok_or_else(bad)?;
        if !self.inner.key.verify(&["ticket", payload], sig) {
            return Err(bad());
        }
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let ticket: Ticket = serde_json::from_slice(&json).map_err(|_| bad())?;
        name::check_key(&ticket.key)?;
        Ok(ticket)
    }

    /// Checks a direct upload after the browser's PUT and keeps it: `token` (the ticket's) is
    /// this storage's and names one of `policy`'s keys, the pending bytes have the ticket's
    /// exact size, within the cap, and are of an allowed type that matches the ticket's type
    /// and name. Then they are copied to the object's key, which never changes afterwards.
    /// Whatever the outcome, the ticket is used up (a failing upload is removed), except when
    /// nothing was uploaded yet. Confirming an upload that is already confirmed gives the
    /// same object.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for a token that is not this storage's, has expired or was used,
    /// [`Error::NotFound`] if nothing was uploaded, [`Error::TooLarge`] or [`Error::Body`] for
    /// another size than the ticket's, the type errors, or [`Error::InvalidName`] for a key
    /// that is not `policy`'s.
    pub async fn confirm_upload(&self, policy: &Policy, token: &str) -> Result<Object, Error> {
        let ticket = self.open_ticket(token)?;
        let key = ticket.key.as_str();
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
        match self.metadata(key).await {
            Ok(done) => return Ok(done),
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        if self.now_secs() > ticket.expires + CONFIRM_GRACE.as_secs() {
            return Err(Error::Forbidden("this upload ticket has expired".into()));
        }
        let pending = ticket.pending();
        let uploaded = self.metadata(&pending).await?;
        if uploaded.content_type == USED {
            return Err(Error::Forbidden(
                "this upload ticket was already used".into(),
            ));
        }
        let checked = self.check_pending(policy, &ticket, &uploaded).await;
        let kept = match checked {
            Ok(()) => self.keep_pending(&ticket, policy).await,
            Err(e) => Err(e),
        };
        // Used, whatever happened: the tombstone replaces the pending bytes.
        self.retire(&pending).await?;
        match kept {
            Ok(()) => self.metadata(key).await,
            Err(e) => Err(e),
        }
    }

    /// The pending upload has the ticket's size and its bytes are what the ticket says.
    async fn check_pending(
        &self,
        policy: &Policy,
        ticket: &Ticket,
        uploaded: &Object,
    ) -> Result<(), Error> {
        if uploaded.size > policy.max_size {
            return Err(Error::TooLarge {
                limit: policy.max_size,
            });
        }
        if uploaded.size != ticket.size {
            return Err(Error::Body(format!(
                "{} bytes were uploaded where the ticket said {}",
                uploaded.size, ticket.size
            )));
        }
        let pending = Path::from(ticket.pending());
        let head = if uploaded.size == 0 {
            Bytes::new()
        } else {
            let end = uploaded.size.min(SNIFF_LEN as u64);
            self.inner
                .store
                .get_range(&pending, 0..end)
                .await
                .map_err(|e| self.err("reading", &ticket.key, e))?
        };
        let clean = ticket.key.rsplit('/').next().unwrap_or("");
        let ct = sniff::check(
            sniff::sniff(&head),
            &policy.types,
            Some(&ticket.content_type),
            clean,
        )?;
        if !sniff::same_type(&ct, &ticket.content_type) {
            return Err(Error::TypeMismatch {
                detected: ct,
                claimed: format!("the declared type {}", ticket.content_type),
            });
        }
        Ok(())
    }

    /// Copies the checked pending bytes to the object's key (S3 keeps the attributes the
    /// ticket's PUT set; a folder gets a new record).
    async fn keep_pending(&self, ticket: &Ticket, policy: &Policy) -> Result<(), Error> {
        // Nobody else can write the object's key: it has 128 random bits and no ticket
        // names it but this one.
        match self.copy_bytes(&ticket.pending(), &ticket.key).await {
            Ok(()) => {}
            // Another confirm of the same ticket got there first, with the same bytes.
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(()),
            Err(e) => return Err(self.err("keeping", &ticket.key, e)),
        }
        let meta = NewObject {
            content_type: ticket.content_type.clone(),
            original_name: ticket.name.clone(),
            cache_control: policy.cache_control.clone(),
        };
        if let Err(e) = self.keep_record(&ticket.key, &meta).await {
            self.remove_quietly(&ticket.key).await;
            return Err(e);
        }
        Ok(())
    }

    /// Replaces a pending upload with an empty tombstone, so its ticket cannot store again.
    async fn retire(&self, pending: &str) -> Result<(), Error> {
        let meta = NewObject {
            content_type: USED.into(),
            original_name: String::new(),
            cache_control: None,
        };
        let opts = PutOptions {
            attributes: self.attributes(pending, &meta),
            ..Default::default()
        };
        self.inner
            .store
            .put_opts(&Path::from(pending), Bytes::new().into(), opts)
            .await
            .map_err(|e| self.err("closing the ticket of", pending, e))?;
        self.keep_record(pending, &meta).await
    }
}

/// The content type a direct upload declares, checked against the policy and the name.
fn declared_kind(policy: &Policy, file_name: &str, declared: &str) -> Result<String, Error> {
    let d = sniff::essence(declared).to_ascii_lowercase();
    let kind = sniff::ALL.iter().copied().find(|k| {
        sniff::same_type(k.mime, &d)
            || (k.family == sniff::Family::Text
                && matches!(
                    d.as_str(),
                    "text/csv" | "text/markdown" | "application/json"
                ))
    });
    match kind {
        Some(k) => sniff::check(Some(k), &policy.types, Some(&d), file_name),
        None if policy.types.unknown => sniff::check(None, &policy.types, Some(&d), file_name),
        None => Err(Error::TypeNotAllowed {
            detected: d,
            allowed: policy.types.describe(),
        }),
    }
}

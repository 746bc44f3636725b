//! axum integration: stream a `multipart/form-data` upload into the storage.
//!
//! ```no_run
//! use asset_storage::axum::{UploadError, save_multipart};
//! use asset_storage::{Object, Policy, Storage, TypeSet};
//! use axum::extract::{DefaultBodyLimit, Multipart, State};
//! use axum::{Json, Router, routing::post};
//!
//! async fn upload(State(storage): State<Storage>, form: Multipart) -> Result<Json<Vec<Object>>, UploadError> {
//!     let policy = Policy::new("avatars")?.types(TypeSet::images()).max_size(5 << 20);
//!     Ok(Json(save_multipart(&storage, &policy, form).await?.files))
//! }
//!
//! # fn app(storage: Storage) -> Router {
//! Router::new()
//!     .route("/upload", post(upload).layer(DefaultBodyLimit::disable())) // the policy caps each file
//!     .nest_service("/media", storage.service())
//!     .with_state(storage)
//! # }
//! ```

use std::collections::BTreeMap;

use axum::extract::Multipart;
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;

use crate::{Error, Object, Policy, Storage};

/// Text fields of a form are kept up to this many bytes each.
const MAX_FIELD: usize = 64 << 10;
/// Parts (files and fields) one request may have.
const MAX_PARTS: usize = 100;

/// What a multipart upload held: the files saved (in order) and the text fields.
#[derive(Debug, Clone, Default)]
pub struct Uploaded {
    pub files: Vec<Object>,
    pub fields: BTreeMap<String, String>,
}

/// An upload failure, answered as JSON: `{"error": "<code>", "message": "..."}` with the
/// status of [`Error::status`] (413 too large, 415 wrong type, 400 bad request, ...).
#[derive(Debug)]
pub struct UploadError(pub Error);

impl From<Error> for UploadError {
    fn from(e: Error) -> UploadError {
        UploadError(e)
    }
}

impl std::fmt::Display for UploadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        crate::serve::error(&self.0)
    }
}

/// Saves every file part of `form` under `policy` (each streamed, capped and type-checked
/// as [`Storage::save`] does) and collects the text fields. If any part fails, the files
/// already saved from this request are deleted, so a failed request leaves nothing.
///
/// Mount the handler with `DefaultBodyLimit::disable()` (or a limit above the policy's): the
/// policy caps each file while it streams.
///
/// # Errors
/// The first failure: a malformed form (400), a file over the cap (413), a type not
/// accepted (415), or the store (502).
pub async fn save_multipart(
    storage: &Storage,
    policy: &Policy,
    form: Multipart,
) -> Result<Uploaded, UploadError> {
    save_multipart_with(storage, form, |_| policy.clone()).await
}

/// Like [`save_multipart`], with the policy of each file chosen from the text fields that
/// came before it (a visibility or category field placed before the file input).
///
/// # Errors
/// As [`save_multipart`].
pub async fn save_multipart_with(
    storage: &Storage,
    mut form: Multipart,
    choose: impl Fn(&BTreeMap<String, String>) -> Policy,
) -> Result<Uploaded, UploadError> {
    let mut out = Uploaded::default();
    let result = async {
        let mut parts = 0;
        while let Some(mut field) = form.next_field().await.map_err(body_error)? {
            parts += 1;
            if parts > MAX_PARTS {
                return Err(Error::Body(format!("more than {MAX_PARTS} parts")));
            }
            let name = field.name().unwrap_or("").to_owned();
            match field.file_name().map(str::to_owned) {
                Some(file_name) => {
                    let declared = field.content_type().map(str::to_owned);
                    // A file input left empty sends a part with no name and no bytes.
                    let Some(first) = field.chunk().await.map_err(body_error)? else {
                        if file_name.is_empty() {
                            continue;
                        }
                        return Err(Error::Body(format!("the file `{file_name}` is empty")));
                    };
                    let rest = (&mut field).map(|c| c.map_err(|e| e.body_text()));
                    let body = futures::stream::once(async { Ok(first) }).chain(rest);
                    let policy = choose(&out.fields);
                    let saved = storage
                        .save(&policy, &file_name, declared.as_deref(), body)
                        .await?;
                    out.files.push(saved);
                }
                None => {
                    let mut value = Vec::new();
                    while let Some(c) = field.chunk().await.map_err(body_error)? {
                        if value.len() + c.len() > MAX_FIELD {
                            return Err(Error::Body(format!(
                                "the field `{name}` is longer than {MAX_FIELD} bytes"
                            )));
                        }
                        value.extend_from_slice(&c);
                    }
                    out.fields
                        .insert(name, String::from_utf8_lossy(&value).into_owned());
                }
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(out),
        Err(e) => {
            for f in &out.files {
                let _ = storage.delete(&f.key).await;
            }
            Err(UploadError(e))
        }
    }
}

fn body_error(e: axum::extract::multipart::MultipartError) -> Error {
    Error::Body(e.body_text())
}

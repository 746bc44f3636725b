//! axum integration: stream a `multipart/form-data` upload into the storage, within a budget
//! ([`FormLimits`]: the body, the number of files and parts, each text field and each part's
//! header block).
//!
//! ```no_run
//! use asset_storage::axum::{UploadError, UploadForm, save_multipart};
//! use asset_storage::{Object, Policy, Storage, TypeSet};
//! use axum::extract::State;
//! use axum::{Json, Router, routing::post};
//!
//! async fn upload(State(storage): State<Storage>, form: UploadForm) -> Result<Json<Vec<Object>>, UploadError> {
//!     let policy = Policy::new("avatars")?.types(TypeSet::images()).max_size(5 << 20);
//!     Ok(Json(save_multipart(&storage, &policy, form).await?.files))
//! }
//!
//! # fn app(storage: Storage) -> Router {
//! Router::new()
//!     .route("/upload", post(upload)) // the form's budget: FormLimits
//!     .nest_service("/media", storage.service())
//!     .with_state(storage)
//! # }
//! ```

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;

use crate::form::Bounded;
pub use crate::form::FormLimits;
use crate::idle::{Broken, Idle};
use crate::{Error, Object, Policy, Storage};

/// A `multipart/form-data` request body, not read yet: the extractor for
/// [`save_multipart`]. It is not limited by axum's `DefaultBodyLimit`; its own budget is
/// [`FormLimits`] (see [`UploadForm::limits`]).
pub struct UploadForm {
    body: Body,
    boundary: String,
    limits: FormLimits,
}

impl UploadForm {
    /// Another budget than [`FormLimits::default`].
    pub fn limits(mut self, limits: FormLimits) -> UploadForm {
        self.limits = limits;
        self
    }

    /// The form of `request`.
    ///
    /// # Errors
    /// [`Error::Body`] when it is not `multipart/form-data` with a boundary.
    pub fn from_request(request: Request) -> Result<UploadForm, Error> {
        let ctype = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let boundary = multer::parse_boundary(ctype)
            .map_err(|_| Error::Body("expected a multipart/form-data body".into()))?;
        Ok(UploadForm {
            body: request.into_body(),
            boundary,
            limits: FormLimits::default(),
        })
    }
}

impl<S: Send + Sync> FromRequest<S> for UploadForm {
    type Rejection = UploadError;

    async fn from_request(request: Request, _: &S) -> Result<UploadForm, UploadError> {
        Ok(UploadForm::from_request(request)?)
    }
}

/// What a multipart upload held: the files saved (in order) and the text fields.
#[derive(Debug, Clone, Default)]
pub struct Uploaded {
    /// The files saved, in the order they came.
    pub files: Vec<Object>,
    /// The text fields, by name (a name sent twice keeps its last value).
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
/// as [`Storage::save`] does) and collects the text fields, within the form's
/// [`FormLimits`] (the body budget derived from `policy`'s cap unless set). If any part
/// fails, the files already saved from this request are deleted, so a failed request leaves
/// nothing; so does a request whose future is dropped half-way (a client gone, a timeout):
/// the deletion then runs on a task of its own.
///
/// # Errors
/// The first failure: a malformed form or one over its budget (400, 413 for the body), a
/// file over the cap (413), a type not accepted (415), or the store (502).
pub async fn save_multipart(
    storage: &Storage,
    policy: &Policy,
    form: UploadForm,
) -> Result<Uploaded, UploadError> {
    save_multipart_with(storage, form, |_| policy.clone()).await
}

/// Like [`save_multipart`], with the policy of each file chosen from the text fields that
/// came before it (a visibility or category field placed before the file input). The body
/// budget, unless set, is derived from the policy chosen with no fields.
///
/// # Errors
/// As [`save_multipart`].
pub async fn save_multipart_with(
    storage: &Storage,
    form: UploadForm,
    choose: impl Fn(&BTreeMap<String, String>) -> Policy,
) -> Result<Uploaded, UploadError> {
    let mut reader = FormReader::new(storage, form, &choose);
    let mut saved = Saved {
        storage: storage.clone(),
        keys: Vec::new(),
    };
    let mut out = Uploaded::default();
    match reader.read_all(&choose, &mut saved, &mut out).await {
        Ok(()) => {
            saved.keys.clear();
            Ok(out)
        }
        Err(e) => {
            saved.delete().await;
            Err(UploadError(e))
        }
    }
}

/// One form being read within its budget: the parser over the bounded, timed body, and the
/// counts the limits apply to.
struct FormReader<'s> {
    storage: &'s Storage,
    parts: multer::Multipart<'static>,
    limits: FormLimits,
    /// The budget the body broke, if it broke one (413, 408, 400), rather than the parser's
    /// word for it.
    broken: Broken,
    count: usize,
    files: usize,
}

impl<'s> FormReader<'s> {
    fn new(
        storage: &'s Storage,
        form: UploadForm,
        choose: &impl Fn(&BTreeMap<String, String>) -> Policy,
    ) -> FormReader<'s> {
        let limits = form.limits.clone();
        let max_body = limits.body_budget(choose(&BTreeMap::new()).max());
        let bounded = Bounded::new(
            form.body.into_data_stream(),
            &form.boundary,
            max_body,
            limits.max_part_header,
        );
        let broken = bounded.broken.clone();
        let idle = storage.settings().budgets.upload_idle;
        let body = Idle::new(bounded, idle, "the form").reporting(broken.clone());
        let constraints =
            multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(max_body));
        FormReader {
            storage,
            parts: multer::Multipart::with_constraints(body, form.boundary, constraints),
            limits,
            broken,
            count: 0,
            files: 0,
        }
    }

    /// The error to answer with: the budget the body broke, else `e`.
    fn failed(&self, e: Error) -> Error {
        self.broken
            .lock()
            .expect("not poisoned")
            .take()
            .unwrap_or(e)
    }

    fn body_error(&self, e: &multer::Error) -> Error {
        self.failed(Error::Body(one_line(&e.to_string())))
    }

    /// Every part: files saved (their keys in `saved` as they are), text fields collected.
    async fn read_all(
        &mut self,
        choose: &impl Fn(&BTreeMap<String, String>) -> Policy,
        saved: &mut Saved,
        out: &mut Uploaded,
    ) -> Result<(), Error> {
        while let Some(field) = self
            .parts
            .next_field()
            .await
            .map_err(|e| self.body_error(&e))?
        {
            self.count += 1;
            if self.count > self.limits.max_parts {
                return Err(Error::Body(format!(
                    "more than {} parts",
                    self.limits.max_parts
                )));
            }
            match field.file_name().map(str::to_owned) {
                Some(file_name) => {
                    let policy = choose(&out.fields);
                    if let Some(object) = self.save_file(field, &file_name, &policy).await? {
                        saved.keys.push(object.key.clone());
                        out.files.push(object);
                    }
                }
                None => {
                    let (name, value) = self.read_text(field).await?;
                    out.fields.insert(name, value);
                }
            }
        }
        Ok(())
    }

    /// Streams a file part into the storage; `None` for a file input left empty (a part
    /// with no name and no bytes).
    async fn save_file(
        &mut self,
        mut field: multer::Field<'static>,
        file_name: &str,
        policy: &Policy,
    ) -> Result<Option<Object>, Error> {
        let declared = field.content_type().map(|m| m.to_string());
        let Some(first) = field.chunk().await.map_err(|e| self.body_error(&e))? else {
            if file_name.is_empty() {
                return Ok(None);
            }
            return Err(Error::Body(format!("the file `{file_name}` is empty")));
        };
        self.files += 1;
        if self.files > self.limits.max_files {
            return Err(Error::Body(format!(
                "more than {} files",
                self.limits.max_files
            )));
        }
        let rest = field.map(|c| c.map_err(|e| one_line(&e.to_string())));
        let body = futures::stream::once(async { Ok(first) }).chain(rest);
        self.storage
            .save(policy, file_name, declared.as_deref(), body)
            .await
            .map(Some)
            .map_err(|e| self.failed(e))
    }

    /// A text field, within its budget.
    async fn read_text(
        &mut self,
        mut field: multer::Field<'static>,
    ) -> Result<(String, String), Error> {
        let name = field.name().unwrap_or("").to_owned();
        let mut value = Vec::new();
        while let Some(c) = field.chunk().await.map_err(|e| self.body_error(&e))? {
            if value.len() + c.len() > self.limits.max_field {
                return Err(Error::Body(format!(
                    "the field `{name}` is longer than {} bytes",
                    self.limits.max_field
                )));
            }
            value.extend_from_slice(&c);
        }
        Ok((name, String::from_utf8_lossy(&value).into_owned()))
    }
}

/// The files a form saved so far: deleted unless the form succeeds, also when its future is
/// dropped (on a task of its own then).
struct Saved {
    storage: Storage,
    keys: Vec<String>,
}

impl Saved {
    async fn delete(&mut self) {
        for k in std::mem::take(&mut self.keys) {
            let _ = self.storage.delete(&k).await;
        }
    }
}

impl Drop for Saved {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let mut rest = Saved {
            storage: self.storage.clone(),
            keys: std::mem::take(&mut self.keys),
        };
        self.storage
            .spawn_cleanup(async move { rest.delete().await });
    }
}

fn one_line(s: &str) -> String {
    crate::one_line(s)
}

//! What the storage API takes and gives: objects, listings, downloads, tickets, records.

use std::ops::Range;

use bytes::Bytes;
use futures::stream::BoxStream;

use crate::Error;
use crate::name::Visibility;

/// A stored object, as the app keeps it in its own records: enough to make its URL with no
/// request to the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Object {
    /// `<public|private>/<use>/<32 hex digits>/<clean name>`, made by the server.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// The type sniffed from the bytes (never only the client's word).
    pub content_type: String,
    /// The client's file name as given (for display and downloads only, never a path).
    pub original_name: String,
    /// Public or private, as the key says.
    pub visibility: Visibility,
    /// Milliseconds since the Unix epoch, where the store says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_ms: Option<u64>,
}

/// One page of a listing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page {
    /// The objects, in key order.
    pub objects: Vec<ListEntry>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// A listed object (no metadata: that costs a request each).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListEntry {
    /// The object's key.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// As the key says (`None` for a key that is not ours).
    pub visibility: Option<Visibility>,
    /// Last modified, milliseconds since the Unix epoch.
    pub modified_ms: u64,
}

/// An object being read: its metadata, the byte range being sent and the bytes.
pub struct Download {
    /// The object's record.
    pub object: Object,
    /// The bytes being sent (end exclusive): all of them, or the range asked for.
    pub range: Range<u64>,
    /// The `Cache-Control` stored with it, if any.
    pub cache_control: Option<String>,
    /// The bytes, streamed.
    pub body: BoxStream<'static, Result<Bytes, Error>>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("object", &self.object)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// What the browser needs for a direct upload: PUT the file (exactly `size` bytes) to `url`
/// with exactly `headers`, before `expires_at`; then the app calls
/// [`Storage::confirm_upload`](super::Storage::confirm_upload) with `token`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UploadTicket {
    /// The object's key once confirmed (the bytes wait under `pending/` until then).
    pub key: String,
    /// Where the browser sends the file.
    pub url: String,
    /// `PUT`.
    pub method: &'static str,
    /// The headers the browser must send, exactly (they are signed).
    pub headers: Vec<(String, String)>,
    /// The exact size the file must have.
    pub size: u64,
    /// The policy's cap.
    pub max_size: u64,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
    /// What confirming takes: the ticket, signed with the storage's key.
    pub token: String,
}

/// The local backend's record of an object.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Sidecar {
    pub content_type: String,
    pub original_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
}

/// What a new object is stored with.
#[derive(Debug, Clone)]
pub(crate) struct NewObject {
    pub content_type: String,
    pub original_name: String,
    pub cache_control: Option<String>,
}

pub(crate) fn entry(m: object_store::ObjectMeta) -> ListEntry {
    let key = m.location.to_string();
    ListEntry {
        visibility: Visibility::of(&key),
        size: m.size,
        modified_ms: m.last_modified.timestamp_millis().max(0) as u64,
        key,
    }
}

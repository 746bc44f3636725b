//! S3 presigned URLs. GETs go through object_store's signer; a direct upload's PUT is signed
//! here because object_store will not sign `Content-Length`, and a ticket must bind the size
//! (S3 then refuses any other length with 403 before storing a byte).
//!
//! Both use one [`Presigner`]: the unprefixed S3 client, the storage's key prefix, and the
//! credentials the client would use (environment, profile, web identity or instance role).

use std::time::{Duration, SystemTime};

use hmac::{KeyInit as _, Mac as _};
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::signer::{SignedUrlOptions, Signer as _};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Digest as _;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Everything but RFC 3986's unreserved characters, as SigV4 encodes query strings.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Signs URLs for keys below a prefix of one bucket.
#[derive(Debug, Clone)]
pub(crate) struct Presigner {
    s3: AmazonS3,
    prefix: Path,
}

impl Presigner {
    pub(crate) fn new(s3: AmazonS3, prefix: Path) -> Presigner {
        Presigner { s3, prefix }
    }

    fn full(&self, key: &str) -> Path {
        self.prefix.parts().chain(Path::from(key).parts()).collect()
    }

    /// A presigned URL for `method` on `key` with the extra query parameters and headers of
    /// `opts` signed in.
    pub(crate) async fn url(
        &self,
        method: http::Method,
        key: &str,
        expires_in: Duration,
        opts: &SignedUrlOptions,
    ) -> Result<String, object_store::Error> {
        let url = self
            .s3
            .signed_url_opts(method, &self.full(key), expires_in, opts)
            .await?;
        Ok(url.to_string())
    }

    /// A presigned PUT of `key` that only a request with exactly these `headers` and a body
    /// of `size` bytes passes (SigV4 query authentication, `UNSIGNED-PAYLOAD`).
    pub(crate) async fn put(
        &self,
        key: &str,
        size: u64,
        headers: &[(String, String)],
        expires_in: Duration,
        now: SystemTime,
    ) -> Result<String, object_store::Error> {
        // object_store's own URL gives the endpoint, the addressing style and the region (in
        // its credential scope) exactly as its requests use them.
        let base = self
            .s3
            .signed_url(http::Method::PUT, &self.full(key), expires_in)
            .await?;
        let region = base
            .query_pairs()
            .find(|(k, _)| k == "X-Amz-Credential")
            .and_then(|(_, v)| v.split('/').nth(2).map(str::to_owned))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let credential = self.s3.credentials().get_credential().await?;
        let host = match base.port() {
            Some(p) => format!("{}:{p}", base.host_str().unwrap_or_default()),
            None => base.host_str().unwrap_or_default().to_owned(),
        };
        let request = PutRequest {
            origin: format!("{}://{host}", base.scheme()),
            path: base.path().to_owned(),
            host,
            size,
            headers,
        };
        Ok(request.sign(&Credential {
            key_id: &credential.key_id,
            secret: &credential.secret_key,
            token: credential.token.as_deref(),
            region: &region,
            now,
            expires_in,
        }))
    }
}

/// A multipart upload S3 holds open (ListMultipartUploads).
#[derive(Debug, Clone)]
pub(crate) struct IncompleteUpload {
    /// The key below the storage's prefix.
    pub key: String,
    full: String,
    pub id: String,
    pub initiated: chrono::DateTime<chrono::Utc>,
}

impl Presigner {
    /// Every multipart upload open below the prefix, through presigned ListMultipartUploads
    /// requests (object_store has no call for it), page by page.
    pub(crate) async fn incomplete_uploads(&self) -> Result<Vec<IncompleteUpload>, String> {
        let prefix = match self.prefix.as_ref() {
            "" => String::new(),
            p => format!("{p}/"),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let mut found = Vec::new();
        let mut markers: Option<(String, String)> = None;
        for _ in 0..10_000 {
            let mut query = vec![("uploads", String::new()), ("prefix", prefix.clone())];
            if let Some((key, id)) = &markers {
                query.push(("key-marker", key.clone()));
                query.push(("upload-id-marker", id.clone()));
            }
            let opts = SignedUrlOptions::default().with_query(query);
            let url = self
                .s3
                .signed_url_opts(
                    http::Method::GET,
                    &Path::default(),
                    Duration::from_secs(300),
                    &opts,
                )
                .await
                .map_err(|e| e.to_string())?;
            let response = client.get(url).send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let xml = response.text().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!("ListMultipartUploads answered {status}: {xml}"));
            }
            let page = parse_uploads(&xml, &prefix)?;
            found.extend(page.uploads);
            match page.next {
                Some(next) => markers = Some(next),
                None => return Ok(found),
            }
        }
        Err("ListMultipartUploads: more than 10,000 pages".into())
    }

    /// Aborts `upload`; its parts are freed.
    pub(crate) async fn abort(&self, upload: &IncompleteUpload) -> Result<(), object_store::Error> {
        use object_store::multipart::MultipartStore as _;
        let path = Path::parse(&upload.full).map_err(|e| object_store::Error::Generic {
            store: "S3",
            source: Box::new(e),
        })?;
        self.s3.abort_multipart(&path, &upload.id).await
    }
}

struct UploadsPage {
    uploads: Vec<IncompleteUpload>,
    /// `(NextKeyMarker, NextUploadIdMarker)` when truncated.
    next: Option<(String, String)>,
}

/// A ListMultipartUploads result: each `<Upload>`'s key, id and initiation time.
fn parse_uploads(xml: &str, prefix: &str) -> Result<UploadsPage, String> {
    let mut uploads = Vec::new();
    for block in xml.split("<Upload>").skip(1) {
        let block = block.split("</Upload>").next().unwrap_or_default();
        let (Some(full), Some(id), Some(initiated)) = (
            element(block, "Key"),
            element(block, "UploadId"),
            element(block, "Initiated"),
        ) else {
            return Err(format!(
                "ListMultipartUploads: an upload without key, id or time: {block}"
            ));
        };
        let initiated = chrono::DateTime::parse_from_rfc3339(&initiated)
            .map_err(|e| format!("ListMultipartUploads: Initiated {initiated:?}: {e}"))?
            .with_timezone(&chrono::Utc);
        let key = full.strip_prefix(prefix).unwrap_or(&full).to_owned();
        uploads.push(IncompleteUpload {
            key,
            full,
            id,
            initiated,
        });
    }
    let head = xml.split("<Upload>").next().unwrap_or_default();
    let next = match element(head, "IsTruncated").as_deref() {
        Some("true") => Some((
            element(head, "NextKeyMarker").unwrap_or_default(),
            element(head, "NextUploadIdMarker").unwrap_or_default(),
        )),
        _ => None,
    };
    Ok(UploadsPage { uploads, next })
}

/// The text of the first `<tag>` in `xml`, entities decoded.
fn element(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

struct Credential<'a> {
    key_id: &'a str,
    secret: &'a str,
    token: Option<&'a str>,
    region: &'a str,
    now: SystemTime,
    expires_in: Duration,
}

struct PutRequest<'a> {
    /// `scheme://host[:port]`.
    origin: String,
    /// Already percent-encoded, as sent.
    path: String,
    host: String,
    size: u64,
    headers: &'a [(String, String)],
}

impl PutRequest<'_> {
    /// The signed URL (AWS's "Authenticating Requests: Using Query Parameters").
    fn sign(&self, c: &Credential<'_>) -> String {
        let time = chrono::DateTime::<chrono::Utc>::from(c.now);
        let stamp = time.format("%Y%m%dT%H%M%SZ").to_string();
        let day = time.format("%Y%m%d").to_string();
        let scope = format!("{day}/{}/s3/aws4_request", c.region);

        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), normalize(v)))
            .collect();
        headers.push(("host".into(), self.host.clone()));
        headers.push(("content-length".into(), self.size.to_string()));
        headers.sort();
        let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        let signed = signed.join(";");

        let mut query = vec![
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".to_owned()),
            ("X-Amz-Credential", format!("{}/{scope}", c.key_id)),
            ("X-Amz-Date", stamp.clone()),
            ("X-Amz-Expires", c.expires_in.as_secs().to_string()),
            ("X-Amz-SignedHeaders", signed.clone()),
        ];
        if let Some(t) = c.token {
            query.push(("X-Amz-Security-Token", t.to_owned()));
        }
        query.sort();
        let query = query
            .iter()
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, STRICT)))
            .collect::<Vec<_>>()
            .join("&");

        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let canonical = format!(
            "PUT\n{}\n{query}\n{canonical_headers}\n{signed}\nUNSIGNED-PAYLOAD",
            self.path
        );
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
            hex(&sha2::Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(format!("AWS4{}", c.secret).as_bytes(), day.as_bytes());
        for part in [c.region, "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let signature = hex(&hmac(&key, to_sign.as_bytes()));
        format!(
            "{}{}?{query}&X-Amz-Signature={signature}",
            self.origin, self.path
        )
    }
}

/// A header value as SigV4 canonicalizes it: trimmed, inner runs of spaces made one.
fn normalize(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented presigned-URL example (GET, but the construction is the same): the
    /// signing key chain and string-to-sign checked against their published signature.
    #[test]
    fn the_signing_chain_matches_aws_documented_example() {
        // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let canonical = "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\nhost:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD";
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n{}",
            hex(&sha2::Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(format!("AWS4{secret}").as_bytes(), b"20130524");
        for part in ["us-east-1", "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        assert_eq!(
            hex(&hmac(&key, to_sign.as_bytes())),
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn upload_listings_give_keys_below_the_prefix_and_the_next_page() {
        let xml = "<?xml version=\"1.0\"?><ListMultipartUploadsResult><Bucket>b</Bucket><IsTruncated>true</IsTruncated><NextKeyMarker>media/z</NextKeyMarker><NextUploadIdMarker>u2</NextUploadIdMarker><Upload><Key>media/public/a/0f/x&amp;y.png</Key><UploadId>u1</UploadId><Initiated>2026-12-01T10:00:00.000Z</Initiated></Upload><Upload><Key>media/z</Key><UploadId>u2</UploadId><Initiated>2026-12-02T10:00:00Z</Initiated></Upload></ListMultipartUploadsResult>";
        let page = parse_uploads(xml, "media/").unwrap();
        let got: Vec<(&str, &str)> = page
            .uploads
            .iter()
            .map(|u| (u.key.as_str(), u.id.as_str()))
            .collect();
        assert_eq!(got, [("public/a/0f/x&y.png", "u1"), ("z", "u2")]);
        assert_eq!(
            page.uploads[0].initiated.to_rfc3339(),
            "2026-12-01T10:00:00+00:00"
        );
        assert_eq!(page.next, Some(("media/z".into(), "u2".into())));
        assert!(parse_uploads("<Upload><Key>k</Key></Upload>", "").is_err());
    }

    #[test]
    fn a_put_signs_length_host_and_headers_in_order() {
        let headers = [
            ("Content-Type".to_owned(), "image/png".to_owned()),
            ("If-None-Match".to_owned(), "*".to_owned()),
        ];
        let req = PutRequest {
            origin: "http://127.0.0.1:9000".into(),
            path: "/bucket/pending/public/a/0f/x.png".into(),
            host: "127.0.0.1:9000".into(),
            size: 42,
            headers: &headers,
        };
        let url = req.sign(&Credential {
            key_id: "AK",
            secret: "SK",
            token: Some("tok/en"),
            region: "eu-west-1",
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 365),
            expires_in: Duration::from_secs(600),
        });
        assert!(
            url.starts_with("http://127.0.0.1:9000/bucket/pending/public/a/0f/x.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F19710101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=19710101T000000Z&X-Amz-Expires=600&X-Amz-Security-Token=tok%2Fen&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match&X-Amz-Signature="),
            "{url}"
        );
    }
}

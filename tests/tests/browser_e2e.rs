//! Real browsers: headless Debian Chromium publishers (our own page, `tests/browser/`) recorded end
//! to end by the `roomrec` binary through `roomrec relay`, all on 127.0.0.1 inside a private
//! network namespace. How to run and what is measured: docs/BROWSER.md.

#[path = "../browser/checks.rs"]
mod checks;
#[path = "../browser/harness/mod.rs"]
mod harness;
#[path = "../browser/scenarios.rs"]
mod scenarios;
#[path = "../browser/wire.rs"]
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::cdp::{Browser, Page};
use harness::procs::{Recorder, Relay};
use harness::{netns, unix_ms};
use roomrec_core::signaling::Cipher;
use scenarios::{scenarios, Scenario, SMALL_CAMERA};
use serde_json::Value;

const TEST: &str = "chromium_publishers_are_recorded";
/// How long each scenario records once every publisher's media flows.
const RECORD: Duration = Duration::from_secs(10);

#[test]
fn chromium_publishers_are_recorded() {
    if harness::skip_requested(TEST) {
        return;
    }
    harness::require_tools();
    harness::procs::roomrec_bin();
    if let netns::Place::ChildPassed = netns::enter(TEST) {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run_all());
}

struct Ctx {
    /// One Chromium for the small cameras, one for the large: tabs of one browser share its
    /// fake camera at the size the first tab opened it with.
    browsers: [Browser; 2],
    relay: String,
    pages: SocketAddr,
    work: PathBuf,
}

async fn run_all() {
    let work = tempfile::Builder::new()
        .prefix("roomrec-browser-")
        .tempdir()
        .expect("temp dir");
    let pages = harness::http::serve(harness::page_dir());
    let relay = Relay::start(&work.path().join("relay.log"));
    let launch = |n: usize| {
        Browser::launch(
            work.path().join(format!("profile{n}")),
            work.path().join(format!("chromium{n}.log")),
        )
    };
    let (small, large) = tokio::join!(launch(0), launch(1));
    let ctx = Arc::new(Ctx {
        browsers: [small, large],
        relay: relay.url.clone(),
        pages,
        work: work.path().to_path_buf(),
    });

    let mut errors = wire::crypto_vectors(&ctx.browsers[0], pages).await;
    // The scenarios share the browser and the relay; each has its own room and recorder.
    let tasks: Vec<_> = scenarios()
        .into_iter()
        .map(|s| {
            let ctx = ctx.clone();
            tokio::spawn(async move { run_scenario(&ctx, s).await })
        })
        .collect();
    for task in tasks {
        match task.await {
            Ok(outcome) => {
                println!("\n== {}", outcome.name);
                for line in &outcome.report {
                    println!("   {line}");
                }
                errors.extend(
                    outcome
                        .errors
                        .iter()
                        .map(|e| format!("[{}] {e}", outcome.name)),
                );
            }
            Err(e) => errors.push(format!("scenario task failed: {e}")),
        }
    }
    let ctx = Arc::into_inner(ctx).expect("scenarios finished");
    let [small, large] = ctx.browsers;
    tokio::join!(small.shutdown(), large.shutdown());
    drop(relay);
    if !errors.is_empty() {
        let kept = work.keep();
        panic!(
            "{} problem(s) with real browsers (logs, traces and files kept in {}):\n  {}",
            errors.len(),
            kept.display(),
            errors.join("\n  ")
        );
    }
}

pub struct Outcome {
    pub name: &'static str,
    pub errors: Vec<String>,
    pub report: Vec<String>,
}

async fn run_scenario(ctx: &Ctx, s: Scenario) -> Outcome {
    let mut o = Outcome {
        name: s.name,
        errors: Vec::new(),
        report: Vec::new(),
    };
    let dir = ctx.work.join(s.room);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).expect("output dir");
    let mut args: Vec<String> = [
        "--room",
        s.room,
        "--server",
        &ctx.relay,
        "--ice-ip",
        "127.0.0.1",
        "-v",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.extend(["--output-dir".into(), out.display().to_string()]);
    args.extend([
        "--trace-signaling".into(),
        dir.join("trace.jsonl").display().to_string(),
    ]);
    if !s.password {
        args.extend(["--password".into(), "false".into()]);
    }
    if let Some(codecs) = s.codecs {
        args.extend(["--codec".into(), codecs.into()]);
    }
    if s.shared_udp_port {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free UDP port")
            .port();
        args.extend(["--udp-port".into(), port.to_string()]);
    }
    let start_recorder =
        || Recorder::start(&args, &dir.join("recorder.log"), &dir.join("time.txt"));

    let mut recorder = None;
    if s.recorder_first {
        let rec = start_recorder();
        if !wait_for_log(&rec, "signaling connected", Duration::from_secs(10)).await {
            o.errors.push(format!(
                "recorder never connected to the relay:\n{}",
                rec.log_text()
            ));
            return o;
        }
        recorder = Some(rec);
    }
    let mut pages = Vec::new();
    for g in &s.guests {
        let b = usize::from(g.camera != SMALL_CAMERA);
        match ctx.browsers[b]
            .open(&g.url(ctx.pages, &ctx.relay, &s))
            .await
        {
            Ok(page) => pages.push((b, page)),
            Err(e) => {
                o.errors
                    .push(format!("cannot open the page for {}: {e}", g.stream));
                return o;
            }
        }
    }
    if recorder.is_none() {
        // Every publisher is in the room before the recorder joins: they offer to it unasked.
        let joined = wait_pages(ctx, &pages, Duration::from_secs(20), |st| {
            st["joined"] == true
        })
        .await;
        if let Err(states) = joined {
            o.errors
                .push(format!("publishers did not join: {}", brief(&states)));
            return o;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        recorder = Some(start_recorder());
    }
    let rec = recorder.expect("recorder started");
    let first_frame = tokio::spawn(first_frame_on_disk(out.clone(), rec.started));

    let flowing = wait_pages(ctx, &pages, Duration::from_secs(30), |st| {
        media_starts(st).len() == 1
    })
    .await;
    if let Err(states) = flowing {
        o.errors.push(format!(
            "media never started: {}\nrecorder log:\n{}",
            brief(&states),
            tail(&rec.log_text())
        ));
        return o;
    }
    tokio::time::sleep(RECORD).await;
    for (g, page) in s.guests.iter().zip(&pages).filter(|(g, _)| g.rejoin) {
        // The second visit must be recording for a few seconds too.
        let back = wait_pages(
            ctx,
            std::slice::from_ref(page),
            Duration::from_secs(20),
            |st| media_starts(st).len() == 2 && media_starts(st)[1] + 3000.0 < unix_ms(),
        )
        .await;
        if let Err(states) = back {
            o.errors.push(format!(
                "{} did not come back: {}",
                g.stream,
                brief(&states)
            ));
        }
    }
    let before = states(ctx, &pages).await;
    let stop_ms = unix_ms();
    let exit = tokio::task::spawn_blocking(move || {
        let log = rec.log.clone();
        (rec.interrupt(), log)
    })
    .await
    .expect("recorder stop");
    let (exit, log_path) = exit;
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    // After the recorder's bye the pages keep their history (connections, messages).
    let after = states(ctx, &pages).await;
    // Kept with the logs when the test fails.
    let _ = std::fs::write(
        dir.join("pages.json"),
        Value::Array(after.clone()).to_string(),
    );
    for (b, page) in &pages {
        ctx.browsers[*b].close_page(page).await;
    }

    if !exit.success {
        o.errors.push(format!(
            "recorder exit: {} after SIGINT\n{}",
            exit.status,
            tail(&log)
        ));
    }
    if log.contains("panicked") {
        o.errors.push(format!("recorder panicked:\n{}", tail(&log)));
    }
    let first = first_frame.await.ok().flatten();
    o.report.push(format!(
        "recorder: first frame on disk {} after start; CPU {}; peak RSS {}; SIGINT to exit {} ms",
        first.map_or("never".into(), |d| format!("{} ms", d.as_millis())),
        exit.cpu_seconds
            .map_or("n/a".into(), |c| format!("{c:.2} s")),
        exit.max_rss_kb
            .map_or("n/a".into(), |k| format!("{:.1} MB", k as f64 / 1024.0)),
        exit.shutdown.as_millis()
    ));
    let trace = checks::read_trace(&dir.join("trace.jsonl"));
    let manifest = checks::read_manifest(&out, s.room);
    let cipher: Option<Cipher> = s.secrets().cipher;
    for ((g, before), after) in s.guests.iter().zip(&before).zip(&after) {
        let facts = checks::Facts {
            s: &s,
            g,
            before,
            after,
            stop_ms,
            out: &out,
            manifest: &manifest,
            trace: &trace,
            log: &log,
        };
        checks::guest(&facts, cipher.as_ref(), &mut o.errors, &mut o.report);
    }
    o
}

/// Wall-clock ms at which each connection's media started (answer to the re-offer applied).
pub fn media_starts(state: &Value) -> Vec<f64> {
    let mut v: Vec<f64> = state["connections"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["mediaAt"].as_f64()).collect())
        .unwrap_or_default();
    v.sort_by(f64::total_cmp);
    v
}

/// A page and the index of its browser.
type Tab = (usize, Page);

async fn states(ctx: &Ctx, pages: &[Tab]) -> Vec<Value> {
    let mut all = Vec::new();
    for (b, page) in pages {
        all.push(
            ctx.browsers[*b]
                .state(page)
                .await
                .unwrap_or_else(Value::String),
        );
    }
    all
}

/// Polls the pages until `pred` holds for all of them; Err carries their last states.
async fn wait_pages(
    ctx: &Ctx,
    pages: &[Tab],
    limit: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Result<Vec<Value>, Vec<Value>> {
    let deadline = Instant::now() + limit;
    loop {
        let all = states(ctx, pages).await;
        if all.iter().all(&pred) {
            return Ok(all);
        }
        if Instant::now() > deadline {
            return Err(all);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_for_log(rec: &Recorder, needle: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if rec.log_text().contains(needle) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Time from recorder start until a media file holds more than its header (1 KiB).
async fn first_frame_on_disk(out: PathBuf, started: Instant) -> Option<Duration> {
    while started.elapsed() < Duration::from_secs(60) {
        let big = std::fs::read_dir(&out)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                (name.ends_with(".ts") || name.ends_with(".webm"))
                    && e.metadata().is_ok_and(|m| m.len() > 1024)
            });
        if big {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// What a page's state says about its progress, for failure messages.
fn brief(states: &[Value]) -> String {
    let lines: Vec<String> = states
        .iter()
        .map(|st| {
            let log = st["log"]
                .as_array()
                .map(|l| l.iter().rev().take(8).rev().cloned().collect::<Vec<_>>());
            format!(
                "\n  {} ws={} joined={} connections={} errors={} log={:?}",
                st["config"]["push"], st["ws"], st["joined"], st["connections"], st["errors"], log
            )
        })
        .collect();
    lines.concat()
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

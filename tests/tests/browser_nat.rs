//! Real browsers on real networks: headless Chromium publishers (our page, `tests/browser/`)
//! behind one home router, recorded by the `roomrec` binary behind another, both crossing their
//! NATs with STUN. Everything runs in network namespaces this test creates and connects only to
//! each other (`roomrec_test_support::netns`); nothing touches the machine's own interfaces.
//!
//! ```text
//!                 inet 203.0.113.1: relay (ws :8443), coturn (STUN :3478)
//!                  ┌──────────┴──────────┐
//!   nat_a 198.51.100.10                nat_b 192.0.2.10
//!   cone NAT: only replies get in      cone NAT: only replies get in
//!        │                                  │
//!   pub 10.1.0.2: Chromium,            rec 10.2.0.2: roomrec --stun stun:203.0.113.1:3478
//!   iceServers [stun:203.0.113.1:3478]
//!   (page server and CDP on pub's own 127.0.0.1)
//! ```
//!
//! Both sides learn their NAT's mapping from coturn and punch through: the pair that carries the
//! media is the publisher's server-reflexive address, as the recorder's log and Chromium's
//! `getStats` both say. With `--stun false` the recorder offers only 10.2.0.2, nothing connects,
//! and the log says to use `--stun`. Both NATs also drop what is sent to the router itself, as a
//! home router does (`netns::Nat::Cone` drops unsolicited packets): without that, Linux NAT races the two sides' first
//! checks into a port clash and the hole punch fails (measured: no connection in 15 s). The page server, Chromium and the CDP client run on a thread
//! of this test inside `pub` (everything it starts stays there), the relay on one inside `inet`.
//! Docs: docs/BROWSER.md.

#[path = "../browser/harness/mod.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::cdp::{Browser, Page};
use harness::unix_ms;
use roomrec_test_support::coturn::{stun_url, Coturn};
use roomrec_test_support::netns::{Nat, Role, Topology, NAT_A_PUBLIC, REC, SERVER_1};
use roomrec_test_support::recordings::{check_one_recording, media_files};
use roomrec_tests::netroom::{recorder_in, recorder_log, relay_in, relay_url, ROOM};
use serde_json::Value;

const TEST: &str = "chromium_behind_nat_recorded_through_stun";
/// The publishers: stream id and the only video codec their page offers (with Opus).
const GUESTS: [(&str, &str); 2] = [("alice", "h264"), ("bob", "vp8")];
/// How long the publishers send once every page's media flows.
const RECORD: Duration = Duration::from_secs(8);

#[test]
fn chromium_behind_nat_recorded_through_stun() {
    if harness::skip_requested(TEST) {
        return;
    }
    harness::require_tools();
    harness::procs::roomrec_bin();
    // Both port-restricted cones: UDP gets in only as a reply to what the host sent.
    let Some(topology) = Topology::create(Nat::Cone, Nat::Cone) else {
        return;
    };
    let _coturn = Coturn::start(&topology);
    let stun = stun_url(SERVER_1);
    let started = Instant::now();

    let run = record(&topology, &["--stun", &stun], true);
    eprintln!(
        "with --stun: {:.1} s, files {:?}",
        run.took.as_secs_f64(),
        media_files(run.dir.path(), "nat_")
    );
    for line in run.log.lines().filter(|l| l.contains("candidate pair")) {
        eprintln!("recorder: {line}");
    }
    for (stream, codec) in GUESTS {
        // 320x240@15 for 8 s: ~120 video frames; Opus: 50 a second.
        let info = check_one_recording(run.dir.path(), &format!("nat_{stream}_"), codec, 60, 250);
        let frames = |kind: &str| info.stream(kind).map_or(0, |s| s.frames);
        eprintln!(
            "{stream}: {codec} {} video frames, opus {} audio frames, decodes cleanly",
            frames("video"),
            frames("audio")
        );
    }
    let pairs: Vec<&str> = run
        .log
        .lines()
        .filter(|l| l.contains("candidate pair: ours"))
        .collect();
    assert_eq!(
        pairs.len(),
        GUESTS.len(),
        "one pair per publisher:\n{}",
        run.log
    );
    let srflx = format!("the publisher's srflx {NAT_A_PUBLIC}:");
    for pair in &pairs {
        assert!(pair.contains(&srflx), "not the publisher's srflx: {pair}");
    }
    for ((stream, _), page) in GUESTS.iter().zip(&run.pages) {
        let connection = &page["connections"][0];
        // Chromium's own view: its srflx candidate (NAT A's mapping) carries the media.
        let chromium = &connection["pair"];
        eprintln!("chromium {stream}: selected pair {chromium}");
        let local = chromium["local"].as_str().unwrap_or("");
        assert!(
            local.starts_with(&format!("srflx {NAT_A_PUBLIC}:")),
            "{stream}: Chromium's selected local candidate is {chromium}"
        );
        let offered = connection["createdAt"].as_f64().unwrap_or(f64::NAN);
        let first = run.first_frame.get(*stream).copied();
        let media = connection["mediaAt"].as_f64().unwrap_or(f64::NAN);
        eprintln!(
            "{stream}: offer -> connected {:.0} ms, -> media (re-offer answered) {:.0} ms, \
             -> first frame on disk {}",
            connection["connectedAt"].as_f64().unwrap_or(f64::NAN) - offered,
            media - offered,
            first.map_or("never".into(), |t| format!("{:.0} ms", t - offered))
        );
    }

    // The recorder without STUN offers only 10.2.0.2, which NAT B hides; Chromium's checks to it
    // go nowhere, and NAT A drops the recorder's: nothing is recorded, the log says why.
    let run = record(
        &topology,
        &["--stun", "false", "--connect-timeout", "4"],
        false,
    );
    let files = media_files(run.dir.path(), "nat_");
    assert!(files.is_empty(), "recorded without STUN: {files:?}");
    let diagnosis = format!("no candidate pair succeeded (we offered host {REC}:");
    assert!(
        run.log.contains(&diagnosis) && run.log.contains("--stun"),
        "no diagnosis in the log:\n{}",
        run.log
    );
    for line in run.log.lines().filter(|l| l.contains("not connected")) {
        eprintln!("without --stun: {line}");
    }
    eprintln!("{TEST}: {:.1} s in all", started.elapsed().as_secs_f64());
}

/// One run's results.
struct Run {
    dir: tempfile::TempDir,
    log: String,
    /// Each page's `window.__roomrec` at the end (in [`GUESTS`] order).
    pages: Vec<Value>,
    /// Unix ms at which each stream's file first held more than its header.
    first_frame: BTreeMap<String, f64>,
    took: Duration,
}

/// The relay in `inet`, the recorder in `rec` with `args` (plus `--ice-ip 10.2.0.2`), then
/// Chromium in `pub` publishing [`GUESTS`] until [`RECORD`] after their media started (`media`),
/// or for 8 s (not `media`: nothing is expected to connect).
fn record(topology: &Topology, args: &[&str], media: bool) -> Run {
    let t0 = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("roomrec-browser-nat-")
        .tempdir()
        .unwrap();
    let _relay = relay_in(topology, Role::Inet, SERVER_1);
    let mut all = vec!["--ice-ip".to_string(), REC.to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let mut recorder = recorder_in(topology, Role::Rec, dir.path(), "nat", &all);
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (out, watching) = (dir.path().to_path_buf(), watching.clone());
        std::thread::spawn(move || first_frames(&out, &watching))
    };
    let work = dir.path().to_path_buf();
    let pages = topology.run_in(Role::Pub, move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(publish(&work, media))
    });
    recorder.terminate();
    watching.store(false, Ordering::Relaxed);
    let first_frame = watcher.join().expect("file watcher");
    let log = recorder_log(dir.path());
    let pages = match pages {
        Ok(pages) => pages,
        Err(e) => {
            let kept = dir.keep();
            panic!(
                "{e}\nrecorder log:\n{log}\n(files kept in {})",
                kept.display()
            );
        }
    };
    Run {
        dir,
        log,
        pages,
        first_frame,
        took: t0.elapsed(),
    }
}

/// Runs inside `pub`: the page server and Chromium on pub's 127.0.0.1, one tab per guest with
/// STUN configured. Returns the pages' final states.
async fn publish(work: &Path, media: bool) -> Result<Vec<Value>, String> {
    let server = harness::http::PageServer::start(harness::page_dir());
    let browser = Browser::launch(work.join("profile"), work.join("chromium.log")).await;
    let mut pages = Vec::new();
    for (stream, codec) in GUESTS {
        let url = format!(
            "http://{}/publisher.html?room={ROOM}&push={stream}&label={stream}&ws={}\
             &password=false&vcodec={codec}&stun={}",
            server.addr,
            relay_url(),
            stun_url(SERVER_1)
        );
        pages.push(browser.open(&url).await?);
    }
    let outcome = if media {
        match wait_pages(&browser, &pages, Duration::from_secs(30), |st| {
            st["connections"][0]["mediaAt"].is_number()
        })
        .await
        {
            Ok(_) => {
                tokio::time::sleep(RECORD).await;
                Ok(())
            }
            Err(states) => Err(format!("media never started:{}", brief(&states))),
        }
    } else {
        tokio::time::sleep(Duration::from_secs(8)).await;
        Ok(())
    };
    let states = states(&browser, &pages).await;
    let _ = std::fs::write(
        work.join("pages.json"),
        Value::Array(states.clone()).to_string(),
    );
    for page in &pages {
        browser.close_page(page).await;
    }
    browser.shutdown().await;
    drop(server);
    outcome.map(|()| states)
}

async fn states(browser: &Browser, pages: &[Page]) -> Vec<Value> {
    let mut all = Vec::new();
    for page in pages {
        all.push(browser.state(page).await.unwrap_or_else(Value::String));
    }
    all
}

/// Polls the pages until `pred` holds for all of them; Err carries their last states.
async fn wait_pages(
    browser: &Browser,
    pages: &[Page],
    limit: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Result<Vec<Value>, Vec<Value>> {
    let deadline = Instant::now() + limit;
    loop {
        let all = states(browser, pages).await;
        if all.iter().all(&pred) {
            return Ok(all);
        }
        if Instant::now() > deadline {
            return Err(all);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What the pages' states say about their progress, for failure messages.
fn brief(states: &[Value]) -> String {
    let lines: Vec<String> = states
        .iter()
        .map(|st| {
            let log = st["log"]
                .as_array()
                .map(|l| l.iter().rev().take(8).rev().cloned().collect::<Vec<_>>());
            format!(
                "\n  {} ws={} connections={} errors={} log={:?}",
                st["config"]["push"], st["ws"], st["connections"], st["errors"], log
            )
        })
        .collect();
    lines.concat()
}

/// Until `watching` turns false: unix ms at which each guest's file in `out` first exceeds 1 KiB.
fn first_frames(out: &Path, watching: &AtomicBool) -> BTreeMap<String, f64> {
    let mut seen = BTreeMap::new();
    while watching.load(Ordering::Relaxed) && seen.len() < GUESTS.len() {
        for (stream, _) in GUESTS {
            if seen.contains_key(stream) {
                continue;
            }
            let big = media_files(out, &format!("nat_{stream}_"))
                .iter()
                .any(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 1024));
            if big {
                seen.insert(stream.to_string(), unix_ms());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    seen
}

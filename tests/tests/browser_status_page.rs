//! The `--http` status page in real headless Chromium, during `roomrec demo --http`, all inside a
//! private network namespace (127.0.0.1 only): one card per guest, each with a keyframe decoded
//! by WebCodecs onto its canvas (pixels read back: not blank, not uniform) and an audio level
//! meter that moves. `ROOMREC_STATUS_SCREENSHOT=FILE` also saves a PNG of the page (the README's).

#[path = "../browser/harness/mod.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::cdp::Browser;
use harness::netns;
use roomrec_test_support::recordings::check_one_recording;
use roomrec_tests::status_http::{request, Demo};
use serde_json::Value;

const TEST: &str = "status_page_shows_every_guest_with_thumbnail_and_level";
const TOKEN: &str = "page-token";

/// Per card: its thumbnail's decode state, canvas pixel statistics, distinct levels seen.
const PROBE: &str = r#"(() => {
  const r = window.roomrec;
  if (!r) return "null";
  const cards = [...document.querySelectorAll(".card")].map((el) => {
    const c = el.dataset.connection;
    const canvas = el.querySelector("canvas");
    const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0, sum2 = 0, n = 0;
    const colours = new Set();
    for (let i = 0; i < d.length; i += 4 * 7) {
      const y = (d[i] + d[i + 1] + d[i + 2]) / 3;
      sum += y; sum2 += y * y; n++;
      if (colours.size < 4096) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    }
    const mean = sum / n;
    const levels = (r.levels[c] || []).filter((v) => v !== null && v !== undefined);
    return {
      connection: +c,
      name: el.querySelector(".name").textContent,
      thumb: r.thumbs[c] || null,
      canvas: [canvas.width, canvas.height],
      colours: colours.size,
      stddev: Math.sqrt(Math.max(0, sum2 / n - mean * mean)),
      levels: [...new Set(levels)],
      meter: el.querySelector(".meter div").style.width,
    };
  });
  return JSON.stringify({ snapshots: r.snapshots, cards });
})()"#;

#[test]
fn status_page_shows_every_guest_with_thumbnail_and_level() {
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
    runtime.block_on(run());
}

fn ready(card: &Value) -> bool {
    card["thumb"]["decoded"].as_u64().unwrap_or(0) >= 1
        && card["colours"].as_u64().unwrap_or(0) >= 16
        && card["stddev"].as_f64().unwrap_or(0.0) > 5.0
        && card["levels"].as_array().map_or(0, Vec::len) >= 3
}

async fn run() {
    let work = tempfile::Builder::new()
        .prefix("roomrec-status-page-")
        .tempdir()
        .expect("temp dir");
    let out = work.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let demo = Demo::start(&out, 120, &["--http-token", TOKEN]);
    let browser = Browser::launch(
        work.path().join("profile"),
        work.path().join("chromium.log"),
    )
    .await;
    let page = browser
        .open(&format!("http://{}/?token={TOKEN}", demo.addr))
        .await
        .expect("open the status page");

    let deadline = Instant::now() + Duration::from_secs(45);
    let state = loop {
        let text = browser.eval(&page, PROBE).await.expect("probe the page");
        let state: Value =
            serde_json::from_str(text.as_str().unwrap_or("null")).unwrap_or(Value::Null);
        let cards = state["cards"].as_array().cloned().unwrap_or_default();
        if cards.len() == 4 && cards.iter().all(ready) {
            break state;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(&browser.log).unwrap_or_default();
            let kept = work.keep();
            panic!(
                "the page never showed 4 guests with decoded thumbnails and moving meters \
                 (kept {}):\n{state:#}\nChromium log tail:\n{}",
                kept.display(),
                log.lines().rev().take(20).collect::<Vec<_>>().join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut codecs: Vec<String> = state["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["thumb"]["codec"].as_str().unwrap_or("").to_string())
        .collect();
    codecs.sort();
    println!("status page: {state:#}");
    assert_eq!(
        codecs
            .iter()
            .map(|c| c.split('.').next().unwrap_or(""))
            .collect::<Vec<_>>(),
        vec!["av01", "avc1", "vp09", "vp8"],
        "one thumbnail per codec"
    );
    if let Ok(path) = std::env::var("ROOMREC_STATUS_SCREENSHOT") {
        let png = browser
            .screenshot(&page, 1280, 800)
            .await
            .expect("screenshot");
        std::fs::write(&path, png).expect("write the screenshot");
        println!("screenshot: {path}");
    }
    browser.close_page(&page).await;
    browser.shutdown().await;

    let r = request(
        demo.addr,
        "POST",
        "/stop",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let (exit, log) = demo.wait(Duration::from_secs(20));
    assert!(exit.success(), "exit {exit}:\n{}", log.join("\n"));
    for (stream, codec) in [
        ("alice", "h264"),
        ("bob", "vp8"),
        ("carol", "vp9"),
        ("dave", "av1"),
    ] {
        check_one_recording(&out, &format!("demo_{stream}_"), codec, 10, 20);
    }
}

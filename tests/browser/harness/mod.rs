//! Helpers for the browser end-to-end tests (`tests/tests/browser_*.rs`): private network
//! namespace, page server, Chromium over CDP, the roomrec processes, wire-format checks.
#![allow(dead_code)]

pub mod cdp;
pub mod http;
pub mod media;
pub mod netns;
pub mod procs;
pub mod shapes;

use std::io::Write;
use std::path::{Path, PathBuf};

/// Directory of the publisher page (served over HTTP).
pub fn page_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// `ROOMREC_SKIP_BROWSER=1` skips the browser tests, loudly.
pub fn skip_requested(test: &str) -> bool {
    let skip = std::env::var("ROOMREC_SKIP_BROWSER").is_ok_and(|v| v == "1");
    if skip {
        // Straight to the stderr handle: libtest captures eprintln! of passing tests.
        let line = "#".repeat(72);
        let text = format!(
            "\n{line}\n## SKIPPED {test}: ROOMREC_SKIP_BROWSER=1 is set.\n\
             ## Nothing was tested with a real browser.\n{line}\n"
        );
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
    skip
}

/// Every external program the browser tests need; a missing one fails with the install line.
pub fn require_tools() {
    let tools = [
        (cdp::CHROMIUM, "chromium"),
        ("ffprobe", "ffmpeg"),
        ("ffmpeg", "ffmpeg"),
        ("unshare", "util-linux"),
        ("ip", "iproute2"),
    ];
    let missing: Vec<&str> = tools
        .iter()
        .filter(|(t, _)| !on_path(t))
        .map(|(_, p)| *p)
        .collect();
    assert!(
        missing.is_empty(),
        "browser tests need programs that are not installed: \
         `apt-get update && apt-get install -y {}` (or set ROOMREC_SKIP_BROWSER=1 to skip them)",
        missing.join(" ")
    );
}

fn on_path(tool: &str) -> bool {
    if tool.contains('/') {
        return Path::new(tool).exists();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// Unix milliseconds now (the pages report `Date.now()`; same machine, same clock).
pub fn unix_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

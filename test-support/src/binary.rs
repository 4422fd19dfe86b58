//! The `roomrec` binary that end-to-end tests run as a separate process.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// `target/<profile>/roomrec`, next to the running test binary's `deps/` directory; panics if it is
/// missing or older than the sources it is built from.
pub fn roomrec_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("roomrec"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p roomrec`; `cargo test --workspace` builds it)",
        bin.display()
    );
    check_fresh(&bin);
    bin
}

/// A binary older than the sources would test yesterday's code.
fn check_fresh(bin: &Path) {
    let built = modified(bin);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    for dir in [
        "core/src",
        "io-tokio/src",
        "cli/src",
        "relay/src",
        "testpeer/src",
    ] {
        if let Some(newer) = newest_source(&root.join(dir)).filter(|(t, _)| *t > built) {
            panic!(
                "{} is older than {}: rebuild it (`cargo build -p roomrec`)",
                bin.display(),
                newer.1.display()
            );
        }
    }
}

fn modified(p: &Path) -> SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn newest_source(dir: &Path) -> Option<(SystemTime, PathBuf)> {
    let mut best: Option<(SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let candidate = if path.is_dir() {
            newest_source(&path)
        } else {
            Some((modified(&path), path))
        };
        if let Some(c) = candidate {
            if best.as_ref().is_none_or(|b| c.0 > b.0) {
                best = Some(c);
            }
        }
    }
    best
}

//! Keeps every packet on 127.0.0.1: the test re-runs itself inside a private network namespace
//! that has nothing but `lo` (Chromium then offers 127.0.0.1 alone as ICE candidate).

use std::process::Command;

/// Set in the re-executed test process.
const MARKER: &str = "ROOMREC_BROWSER_NETNS";

pub enum Place {
    /// We are the re-executed process inside the namespace: run the test body.
    Inside,
    /// We started the inner process and it passed: nothing left to do.
    ChildPassed,
}

/// Re-executes this test (`--exact test_name`) under `unshare --net`, or, inside, brings `lo` up
/// and checks that no other interface exists.
pub fn enter(test_name: &str) -> Place {
    if std::env::var_os(MARKER).is_some() {
        setup_loopback();
        return Place::Inside;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new("unshare");
    if !is_root() {
        // Without root a user namespace grants the right to create the network namespace.
        cmd.arg("--map-root-user");
    }
    cmd.arg("--net")
        .arg("--")
        .arg(exe)
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(MARKER, "1");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run `unshare` (util-linux): {e}"));
    assert!(
        status.success(),
        "{test_name} failed inside its private network namespace ({status}); see the output above"
    );
    Place::ChildPassed
}

fn setup_loopback() {
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .unwrap_or_else(|e| panic!("cannot run `ip` (iproute2): {e}"));
    assert!(status.success(), "`ip link set lo up` failed: {status}");
    let names = interfaces();
    assert_eq!(
        names,
        vec!["lo".to_string()],
        "the namespace must have nothing but lo"
    );
}

/// Interfaces of this process's network namespace (`/proc/self/net/dev` is per namespace;
/// `/sys/class/net` may still show the host's).
fn interfaces() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/net/dev").expect("/proc/self/net/dev");
    text.lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_string())
        .collect()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

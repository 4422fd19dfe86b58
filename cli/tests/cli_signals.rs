//! SIGINT/SIGTERM end a recording cleanly and quickly. Needs the core (room, password) to start.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start(dir: &std::path::Path, server: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_roomrec"))
        .args([
            "--room",
            "sigtest",
            "--password",
            "false",
            "--ice-ip",
            "127.0.0.1",
            "--server",
            server,
        ])
        .arg("--output-dir")
        .arg(dir)
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start roomrec")
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} failed");
}

/// Wait up to `limit`; kills the child and fails if it is still running.
fn wait(child: &mut Child, limit: Duration) -> (std::process::ExitStatus, Duration, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status, start.elapsed(), err);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("roomrec still running {limit:?} after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "needs the core bodies (Password::parse, RoomSecrets, Room)"]
fn sigint_and_sigterm_shut_down_within_two_seconds() {
    // A server that accepts TCP but never answers the WebSocket handshake.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("ws://{}", listener.local_addr().unwrap());
    for sig in ["-INT", "-TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = start(dir.path(), &server);
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            child.try_wait().unwrap().is_none(),
            "roomrec exited before the signal"
        );
        signal(&child, sig);
        let (status, took, stderr) = wait(&mut child, Duration::from_secs(5));
        assert!(status.success(), "{sig}: exit {status:?}\n{stderr}");
        assert!(
            took < Duration::from_millis(2500),
            "{sig}: shutdown took {took:?}"
        );
        assert!(stderr.contains("shutting down"), "{stderr}");
    }
    drop(listener);
}

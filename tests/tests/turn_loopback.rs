//! TURN against a real coturn on 127.0.0.1: with `--relay-only` the recorder announces nothing
//! but its relayed address, so a recording proves the media came through the TURN server — over
//! UDP, TCP and TLS (a certificate the test makes and trusts with `--turn-ca`). Refused
//! credentials are reported and cost nothing else. Skips where coturn is not installed (CI
//! installs it).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use roomrec_core::ice::parse_turn;
use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::demo::{publisher_config, recorder_options, spawn_publisher};
use roomrec_io_tokio::relay::spawn_relay;
use roomrec_io_tokio::run_until;
use roomrec_test_support::recordings::{check_one_recording, media_files};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const USER: &str = "roomrec";
const SECRET: &str = "secret";

/// coturn on 127.0.0.1 with a static user and a self-signed certificate; killed on drop.
struct Coturn {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    tls_port: u16,
}

impl Coturn {
    fn start() -> Option<Coturn> {
        if Command::new("turnserver")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipping: coturn is not installed (`apt-get install coturn`; .ci/run does)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
        let (port, tls_port) = (free_port(), free_port());
        // Relay ports from a range nobody else in this test run uses.
        let relay_base = 40000 + (std::process::id() % 500) as u16 * 40;
        let child = Command::new("turnserver")
            .args([
                "-n",
                "-v",
                "--no-cli",
                "--no-dtls",
                "--simple-log",
                "--fingerprint",
            ])
            .args(["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1"])
            .arg(format!("--listening-port={port}"))
            .arg(format!("--tls-listening-port={tls_port}"))
            .arg(format!("--min-port={relay_base}"))
            .arg(format!("--max-port={}", relay_base + 39))
            .args(["--lt-cred-mech", "--realm=roomrec.test"])
            .arg(format!("--user={USER}:{SECRET}"))
            // The publishers are on loopback too.
            .arg("--allow-loopback-peers")
            .arg(format!("--cert={}", dir.path().join("cert.pem").display()))
            .arg(format!("--pkey={}", dir.path().join("key.pem").display()))
            .arg(format!(
                "--log-file={}",
                dir.path().join("turn.log").display()
            ))
            // Nothing outside the temporary directory (coturn's defaults are under /var).
            .arg(format!(
                "--pidfile={}",
                dir.path().join("turn.pid").display()
            ))
            .arg(format!("--db={}", dir.path().join("turndb").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start turnserver");
        let coturn = Coturn {
            child,
            dir,
            port,
            tls_port,
        };
        coturn.wait_listening();
        Some(coturn)
    }

    fn wait_listening(&self) {
        for _ in 0..100 {
            let tcp = std::net::TcpStream::connect((LOOPBACK, self.port)).is_ok();
            let tls = std::net::TcpStream::connect((LOOPBACK, self.tls_port)).is_ok();
            if tcp && tls {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("coturn did not start:\n{}", self.log());
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn log(&self) -> String {
        // coturn names the file after its own date-stamped scheme with --simple-log off only.
        let mut text = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with("turn") {
                text += &std::fs::read_to_string(entry.path()).unwrap_or_default();
            }
        }
        text
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let udp = std::net::UdpSocket::bind((LOOPBACK, port));
    if udp.is_err() {
        return free_port();
    }
    port
}

/// Records one VP8 publisher through `turn` (relay only); returns the output directory.
async fn record_through(turn: &str, ca: Option<&Path>, relay_only: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (dialect, password) = (Dialect::Relay, Password::Disabled);
    let (addr, relay) = spawn_relay(SocketAddr::new(LOOPBACK, 0), dialect)
        .await
        .unwrap();
    let server = format!("ws://{addr}");
    let mut options =
        recorder_options(&server, dir.path().to_path_buf(), dialect, password.clone());
    options.turn = vec![parse_turn(turn).unwrap()];
    options.turn_ca = ca.map(Path::to_path_buf);
    options.relay_only = relay_only;
    options.connect_timeout = Duration::from_secs(5);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let recorder = tokio::spawn(run_until(options, async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let config = publisher_config("alice", Some(Codec::Vp8), true, dialect, &password);
    let publisher = spawn_publisher(&server, LOOPBACK, config).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let _ = stop.send(());
    recorder
        .await
        .unwrap()
        .expect("recorder shuts down cleanly");
    publisher.hang_up().await;
    relay.abort();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_through_turn_over_udp_tcp_and_tls() {
    let Some(coturn) = Coturn::start() else {
        return;
    };
    let (port, tls_port) = (coturn.port, coturn.tls_port);
    let urls = [
        format!("turn:{USER}:{SECRET}@127.0.0.1:{port}"),
        format!("turn:{USER}:{SECRET}@127.0.0.1:{port}?transport=tcp"),
        format!("turns:{USER}:{SECRET}@127.0.0.1:{tls_port}"),
    ];
    for url in &urls {
        let dir = record_through(url, Some(&coturn.ca()), true).await;
        eprintln!("{url}: {:?}", media_files(dir.path(), "demo_alice_"));
        check_one_recording(dir.path(), "demo_alice_", "vp8", 60, 100);
    }
    let log = coturn.log();
    let allocations = log
        .lines()
        .filter(|l| l.contains("ALLOCATE processed, success"))
        .count();
    assert!(
        allocations >= 3,
        "coturn allocated {allocations} times:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_turn_credentials_are_reported_and_cost_nothing_else() {
    let Some(coturn) = Coturn::start() else {
        return;
    };
    // Relay only with a refused allocation: nothing can connect, and the diagnosis says why.
    let url = format!("turn:{USER}:wrong@127.0.0.1:{}", coturn.port);
    let dir = record_through(&url, None, true).await;
    assert!(media_files(dir.path(), "demo_").is_empty());
    // Without relay-only the publisher on this machine is still recorded directly.
    let dir = record_through(&url, None, false).await;
    check_one_recording(dir.path(), "demo_alice_", "vp8", 60, 100);
    let log = coturn.log();
    assert!(
        log.contains("credentials are incorrect"),
        "coturn refused nothing:\n{log}"
    );
}

//! Real networks, in network namespaces this test creates and connects only to each other: the
//! recorder behind a 1:1 NAT (a cloud VM: its public address DNATs to its private one).
//!
//! ```text
//!  inet 203.0.113.1          nat 203.0.113.10 | 10.0.0.1          rec 10.0.0.2
//!  relay + publishers  ───── DNAT 203.0.113.10 → 10.0.0.2 ─────  roomrec --public-ip
//!  (firewall: only replies   SNAT 10.0.0.2 → 203.0.113.10
//!   to what they sent)
//! ```
//!
//! The publishers' host only lets in UDP that answers what it sent (like a home router), so the
//! recorder is reachable only at an address the publishers send to first: with `--public-ip` they
//! learn 203.0.113.10 from the answer and are recorded; without it nothing connects.
//! The test re-runs itself inside the `inet` namespace for the relay and publishers
//! (`RR_NAT_ROLE=publishers`) and runs the `roomrec` binary inside `rec`.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::demo::{publisher_config, spawn_publisher};
use roomrec_io_tokio::relay::spawn_relay;
use roomrec_test_support::binary::roomrec_bin;
use roomrec_test_support::recordings::{check_one_recording, media_files};

const TEST: &str = "recorder_behind_one_to_one_nat";
const INET: &str = "203.0.113.1";
const PUBLIC: &str = "203.0.113.10";
const PRIVATE: &str = "10.0.0.2";
const RELAY_PORT: u16 = 8443;
/// How long the publishers publish.
const PUBLISH: Duration = Duration::from_secs(8);

#[test]
fn recorder_behind_one_to_one_nat() {
    if std::env::var("RR_NAT_ROLE").as_deref() == Ok("publishers") {
        return publishers();
    }
    let Some(topology) = Topology::create() else {
        return;
    };
    let (recorded, _) = record(&topology, true);
    let streams = [("alice", "h264"), ("bob", "vp8")];
    for (stream, codec) in streams {
        check_one_recording(recorded.path(), &format!("nat_{stream}_"), codec, 90, 150);
    }
    // The same without --public-ip: the publishers only learn 10.0.0.2, which the NAT hides. The
    // log says why, in words a user can act on.
    let (unrecorded, log) = record(&topology, false);
    let files = media_files(unrecorded.path(), "nat_");
    assert!(files.is_empty(), "recorded without --public-ip: {files:?}");
    let diagnosis =
        format!("not connected after 4s: no candidate pair succeeded (we offered host {PRIVATE}:");
    assert!(log.contains(&diagnosis), "no diagnosis in the log:\n{log}");
    assert!(log.contains("--public-ip"), "no hint in the log:\n{log}");
    for line in log.lines().filter(|l| l.contains("not connected")) {
        eprintln!("diagnosis: {line}");
    }
}

/// One run: relay and publishers in `inet`, the recorder in `rec`; returns its output directory
/// and its log.
fn record(topology: &Topology, public_ip: bool) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut publishers = Guard(
        topology
            .exec("inet", &exe)
            .args(["--exact", TEST, "--nocapture"])
            .env("RR_NAT_ROLE", "publishers")
            .stdout(Stdio::piped())
            .spawn()
            .expect("run the publishers in the inet namespace"),
    );
    let stdout = publishers.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.any(|l| l.is_ok_and(|l| l.contains("RELAY READY")));
    assert!(ready, "the relay in the inet namespace did not start");
    let mut args = vec![
        "--room".to_string(),
        "roomrec-demo".into(),
        "--record".into(),
        "nat".into(),
        "--server".into(),
        format!("ws://{INET}:{RELAY_PORT}"),
        "--dialect".into(),
        "relay".into(),
        "--password".into(),
        "false".into(),
        "--ice-ip".into(),
        PRIVATE.into(),
        "--output-dir".into(),
        dir.path().display().to_string(),
    ];
    if public_ip {
        args.extend(["--public-ip".into(), PUBLIC.into()]);
    } else {
        // Give up within the run, so the diagnosis is logged.
        args.extend(["--connect-timeout".into(), "4".into()]);
    }
    let log_path = dir.path().join("recorder.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let recorder = Guard(
        topology
            .exec("rec", &roomrec_bin())
            .args(&args)
            .stderr(log)
            .spawn()
            .expect("run the recorder in the rec namespace"),
    );
    let status = publishers.wait();
    assert!(status, "the publishers' run failed");
    recorder.terminate();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    (dir, log)
}

/// Inside `inet`: the relay and two publishers, for `PUBLISH`.
fn publishers() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let inet: IpAddr = INET.parse().unwrap();
        let (_, relay) = spawn_relay(SocketAddr::new(inet, RELAY_PORT), Dialect::Relay)
            .await
            .expect("relay listens");
        println!("RELAY READY");
        let server = format!("ws://{INET}:{RELAY_PORT}");
        let mut running = Vec::new();
        for (stream, codec) in [("alice", Codec::H264), ("bob", Codec::Vp8)] {
            let config = publisher_config(
                stream,
                Some(codec),
                true,
                Dialect::Relay,
                &Password::Disabled,
            );
            running.push(
                spawn_publisher(&server, inet, config)
                    .await
                    .expect("publisher"),
            );
        }
        tokio::time::sleep(PUBLISH).await;
        for p in running {
            p.hang_up().await;
        }
        relay.abort();
    });
}

/// A child process killed if the test fails before it ends.
struct Guard(Child);

impl Guard {
    fn wait(&mut self) -> bool {
        self.0.wait().is_ok_and(|s| s.success())
    }

    /// SIGTERM (the recorder finalizes its files), then wait.
    fn terminate(mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.0.wait();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The three namespaces and their links; removed on drop.
struct Topology {
    prefix: String,
}

impl Topology {
    /// None (with a message) where namespaces cannot be created: not root, or no `ip`.
    fn create() -> Option<Topology> {
        if std::env::var("ROOMREC_SKIP_NETNS").is_ok_and(|v| v == "1") {
            eprintln!("skipping {TEST}: ROOMREC_SKIP_NETNS=1");
            return None;
        }
        let topology = Topology {
            prefix: format!("rrnat{}", std::process::id()),
        };
        let probe = Command::new("ip")
            .args(["netns", "add", &topology.name("inet")])
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            eprintln!(
                "skipping {TEST}: cannot create network namespaces (needs root and iproute2)"
            );
            return None;
        }
        let nft = Command::new("nft").arg("--version").output();
        assert!(
            nft.is_ok_and(|o| o.status.success()),
            "nft is missing: `apt-get install nftables` (bash .ci/run installs it)"
        );
        topology.build();
        Some(topology)
    }

    fn name(&self, role: &str) -> String {
        format!("{}{role}", self.prefix)
    }

    fn build(&self) {
        let (inet, nat, rec) = (self.name("inet"), self.name("nat"), self.name("rec"));
        let pid = std::process::id();
        let (vi, vni, vr, vnr) = (
            format!("rri{pid}"),
            format!("rrni{pid}"),
            format!("rrr{pid}"),
            format!("rrnr{pid}"),
        );
        let run = |args: &str| ip(&args.split_whitespace().collect::<Vec<_>>());
        run(&format!("netns add {nat}"));
        run(&format!("netns add {rec}"));
        run(&format!(
            "link add {vi} netns {inet} type veth peer name {vni} netns {nat}"
        ));
        run(&format!(
            "link add {vr} netns {rec} type veth peer name {vnr} netns {nat}"
        ));
        for (ns, dev, addr) in [
            (&inet, &vi, format!("{INET}/24")),
            (&nat, &vni, format!("{PUBLIC}/24")),
            (&nat, &vnr, "10.0.0.1/24".into()),
            (&rec, &vr, format!("{PRIVATE}/24")),
        ] {
            run(&format!("-n {ns} addr add {addr} dev {dev}"));
            run(&format!("-n {ns} link set {dev} up"));
        }
        for ns in [&inet, &nat, &rec] {
            run(&format!("-n {ns} link set lo up"));
        }
        run(&format!("-n {rec} route add default via 10.0.0.1"));
        self.nft(
            "nat",
            &format!(
                "table ip nat {{
                   chain pre {{
                     type nat hook prerouting priority dstnat;
                     ip daddr {PUBLIC} dnat to {PRIVATE};
                   }}
                   chain post {{
                     type nat hook postrouting priority srcnat;
                     ip saddr {PRIVATE} snat to {PUBLIC};
                   }}
                 }}\n"
            ),
        );
        sysctl(&nat, "net.ipv4.ip_forward=1");
        // The publishers' host: UDP in only as a reply to what it sent (TCP to the relay is open).
        self.nft(
            "inet",
            "table inet guard {
               chain input {
                 type filter hook input priority filter; policy accept;
                 meta l4proto udp ct state established,related accept;
                 meta l4proto udp iifname != \"lo\" drop;
               }
             }\n",
        );
    }

    fn nft(&self, role: &str, rules: &str) {
        use std::io::Write;
        let mut child = self
            .exec(role, Path::new("nft"))
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("run nft");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(rules.as_bytes())
            .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "nft rules in {role}: {rules}"
        );
    }

    /// `cmd` run inside the namespace of `role`.
    fn exec(&self, role: &str, cmd: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name(role)]).arg(cmd);
        c
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for role in ["inet", "nat", "rec"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name(role)])
                .output();
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sysctl(ns: &str, setting: &str) {
    ip(&["netns", "exec", ns, "sysctl", "-qw", setting]);
}

//! A real TURN/STUN server for end-to-end tests: Debian's coturn (`turnserver`, package `coturn`)
//! inside a [`Topology`]'s `inet` namespace, so roomrec's STUN and TURN clients are tested against
//! the server people deploy, not against our own reading of the RFCs.
//!
//! ```text
//!  inet  203.0.113.1  STUN + TURN: UDP/TCP 3478, TLS 5349 (cert for IP 203.0.113.1 and turn.test)
//!        203.0.113.2  STUN + TURN: UDP/TCP 3478 (the second STUN server)
//!        relayed addresses: 203.0.113.1:50000-50099
//! ```
//!
//! It reads no config file from /etc (`-n`), writes its pid file, user database and log (`-v`:
//! a line per request, e.g. `ALLOCATE processed, success`) into its own temporary directory, and
//! knows one long-term user ([`USER`]:[`PASSWORD`], realm [`REALM`]). Its TLS certificate is made
//! fresh by each start (self-signed, so the certificate is its own CA: [`Coturn::ca_path`] is the
//! file for `--turn-ca`). coturn 4.6 refuses loopback peers (403 Forbidden IP) and allows every
//! other address by default; the topology's ranges are still allowed explicitly ([`ALLOWED_PEERS`]),
//! so a coturn that denies private ranges by default relays to them all the same.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::child::Child;
use crate::netns::{Role, Topology, SERVER_1, SERVER_2};

/// The long-term credential's user name.
pub const USER: &str = "roomrec";
/// The long-term credential's password.
pub const PASSWORD: &str = "secret";
/// The realm coturn announces.
pub const REALM: &str = "roomrec.test";
/// STUN and TURN over UDP and TCP, on both server addresses.
pub const PORT: u16 = 3478;
/// TURN over TLS (and DTLS), on both server addresses.
pub const TLS_PORT: u16 = 5349;
/// The DNS name in the certificate (besides IP [`SERVER_1`]).
pub const DNS_NAME: &str = "turn.test";
/// The ports relayed addresses get, on [`SERVER_1`].
pub const RELAY_PORTS: RangeInclusive<u16> = 50000..=50099;
/// Peers [`Coturn::start`] lets coturn relay to (`--allowed-peer-ip`): the topology's addresses
/// (`inet`, both NATs' public sides, both private networks). An allowed range wins over
/// `--denied-peer-ip` (measured with coturn 4.6.1): to deny one of these, start with another list.
pub const ALLOWED_PEERS: [&str; 4] = [
    "10.0.0.0-10.255.255.255",
    "198.51.100.0-198.51.100.255",
    "192.0.2.0-192.0.2.255",
    "203.0.113.0-203.0.113.255",
];

/// A running coturn, killed on drop; its temporary directory (certificate, log) is removed then.
#[derive(Debug)]
pub struct Coturn {
    child: Child,
    dir: tempfile::TempDir,
}

impl Coturn {
    /// Starts coturn in `inet` on [`SERVER_1`] and [`SERVER_2`] and waits until it answers STUN on
    /// both and accepts TCP and TLS connections. Panics (with install hint or log) otherwise.
    pub fn start(topology: &Topology) -> Coturn {
        Coturn::start_with(topology, &ALLOWED_PEERS, &[])
    }

    /// [`Coturn::start`] with `allowed_peers` (ranges `A.B.C.D[-E.F.G.H]`) instead of
    /// [`ALLOWED_PEERS`] and `extra` command-line options (e.g. `--denied-peer-ip=10.1.0.2`,
    /// `--no-tcp-relay`).
    pub fn start_with(topology: &Topology, allowed_peers: &[&str], extra: &[&str]) -> Coturn {
        assert!(
            Command::new("turnserver")
                .arg("--help")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok(),
            "turnserver is missing: `apt-get install coturn` (bash .ci/run installs it)"
        );
        let dir = tempfile::Builder::new()
            .prefix("roomrec-coturn")
            .tempdir()
            .expect("temporary directory");
        write_certificate(dir.path());
        let path = |name: &str| dir.path().join(name).display().to_string();
        let mut args: Vec<String> = vec![
            "-n".into(), // no turnserver.conf
            "--no-cli".into(),
            "-v".into(),
            "--log-file".into(),
            path("turn.log"),
            "--simple-log".into(), // exactly that file name, no rollover
            "--no-stdout-log".into(),
            "--pidfile".into(),
            path("turnserver.pid"),
            "--db".into(),
            path("turndb"),
            "--listening-ip".into(),
            SERVER_1.to_string(),
            "--listening-ip".into(),
            SERVER_2.to_string(),
            "--listening-port".into(),
            PORT.to_string(),
            "--tls-listening-port".into(),
            TLS_PORT.to_string(),
            "--relay-ip".into(),
            SERVER_1.to_string(),
            "--min-port".into(),
            RELAY_PORTS.start().to_string(),
            "--max-port".into(),
            RELAY_PORTS.end().to_string(),
            "--lt-cred-mech".into(),
            "--user".into(),
            format!("{USER}:{PASSWORD}"),
            "--realm".into(),
            REALM.into(),
            "--cert".into(),
            path("cert.pem"),
            "--pkey".into(),
            path("key.pem"),
        ];
        args.extend(
            allowed_peers
                .iter()
                .map(|r| format!("--allowed-peer-ip={r}")),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        // Its stdout/stderr carry only noise (e.g. "socket: Protocol not supported" for SCTP).
        let out = std::fs::File::create(dir.path().join("turnserver.out")).unwrap();
        let child = Child::spawn(
            topology
                .exec(Role::Inet, "turnserver")
                .args(&args)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out),
            "turnserver",
        );
        let mut coturn = Coturn { child, dir };
        coturn.wait_ready(topology);
        coturn
    }

    /// The server's certificate (PEM); self-signed, so also the CA to trust (`--turn-ca`).
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// The temporary directory with the certificate, key and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// coturn's log so far (verbose: one line per request and session event).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("turn.log")).unwrap_or_default()
    }

    /// The process id (e.g. to stop it from another thread by signal).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().is_none()
    }

    /// Stops the server mid-test (SIGTERM, SIGKILL after 5 s): allocations and TCP/TLS
    /// connections end, ports stop answering. The log stays readable.
    pub fn stop(&mut self) {
        self.child.terminate_within(Duration::from_secs(5));
    }

    /// Kills the server at once (SIGKILL): nothing is closed cleanly.
    pub fn kill(&mut self) {
        self.child.kill();
    }

    /// Polls until both STUN addresses answer and the TCP and TLS ports accept.
    fn wait_ready(&mut self, topology: &Topology) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait() {
                panic!("turnserver exited ({status}) at start:\n{}", self.log());
            }
            if topology.run_in(Role::Inet, ready) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "turnserver not ready after 15 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `stun:203.0.113.1:3478` (or the other server).
pub fn stun_url(server: Ipv4Addr) -> String {
    format!("stun:{server}:{PORT}")
}

/// `turn:roomrec:secret@203.0.113.1:3478?transport=udp` (or `tcp`), roomrec's `--turn` syntax.
pub fn turn_url(transport: &str) -> String {
    format!("turn:{USER}:{PASSWORD}@{SERVER_1}:{PORT}?transport={transport}")
}

/// `turns:roomrec:secret@203.0.113.1:5349` (TURN over TLS; trust [`Coturn::ca_path`]).
pub fn turns_url() -> String {
    format!("turns:{USER}:{PASSWORD}@{SERVER_1}:{TLS_PORT}")
}

/// Run inside `inet`: both STUN servers answer, TCP and TLS ports accept.
fn ready() -> bool {
    let Ok(socket) = UdpSocket::bind("0.0.0.0:0") else {
        return false;
    };
    let timeout = Duration::from_millis(300);
    let stun = [SERVER_1, SERVER_2]
        .into_iter()
        .all(|ip| crate::stun::query(&socket, SocketAddr::from((ip, PORT)), timeout).is_ok());
    stun && [PORT, TLS_PORT].into_iter().all(|port| {
        TcpStream::connect_timeout(&SocketAddr::from((SERVER_1, port)), timeout).is_ok()
    })
}

/// A fresh self-signed certificate for IP [`SERVER_1`] and [`DNS_NAME`]: `cert.pem`, `key.pem`.
fn write_certificate(dir: &Path) {
    let names = vec![SERVER_1.to_string(), DNS_NAME.to_string()];
    let certified = rcgen::generate_simple_self_signed(names).expect("generate a certificate");
    let write = |name: &str, label: &str, der: &[u8]| {
        let mut f = std::fs::File::create(dir.join(name)).unwrap();
        f.write_all(pem(label, der).as_bytes()).unwrap();
    };
    write("cert.pem", "CERTIFICATE", certified.cert.der());
    write(
        "key.pem",
        "PRIVATE KEY",
        &certified.signing_key.serialize_der(),
    );
}

/// PEM text: base64 in lines of 64 between BEGIN/END `label`.
fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            b64.push(match i <= chunk.len() {
                true => char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]),
                false => '=',
            });
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn pem_base64() {
        assert_eq!(
            super::pem("X", b"Man is"),
            "-----BEGIN X-----\nTWFuIGlz\n-----END X-----\n"
        );
        assert!(super::pem("X", b"Ma").contains("\nTWE=\n"));
        assert!(super::pem("X", b"M").contains("\nTQ==\n"));
    }
}

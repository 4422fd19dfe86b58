//! Real networks for end-to-end tests: network namespaces that this module creates and connects
//! only to each other (veth pairs), with real Linux NATs (nftables) between them. Nothing touches
//! the machine's own interfaces or routes; everything is removed when the [`Topology`] drops.
//!
//! ```text
//!                              inet (routes between its links)
//!                  203.0.113.1, 203.0.113.2: servers (relay, STUN ×2, TURN)
//!               198.51.100.1 ───────┘                 └─────── 192.0.2.1
//!                    │                                               │
//!   nat_a  198.51.100.10 (public)                       nat_b  192.0.2.10 (public)
//!          10.1.0.1 (private)    NAT kind: caller's            10.2.0.1 (private)
//!                    │                                               │
//!   pub    10.1.0.2: publishers                         rec    10.2.0.2: the recorder
//! ```
//!
//! Each NAT is one of [`Nat`]: a home router's port-restricted cone, a symmetric NAT (a new
//! mapping per destination), a cloud VM's 1:1 NAT, or plain routing. `inet` has no route into the
//! private networks (like the internet), except through an [`Nat::Open`] one.
//!
//! Code runs inside a namespace either as a process ([`Topology::exec`], e.g. the `roomrec`
//! binary or coturn) or as a thread of the test itself ([`Topology::run_in`],
//! [`Topology::spawn_in`]: `setns(2)` moves only that thread, and threads it starts, such as a
//! tokio runtime's workers, stay there too). Namespace and interface names carry the process id
//! and a per-topology counter, so tests running in parallel never collide.
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables): [`Topology::create`] returns `None` (the test
//! skips) without namespaces and panics without `nft`.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The first server address in `inet` (relay, coturn's first STUN/TURN address).
pub const SERVER_1: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The second server address in `inet` (coturn's second STUN address).
pub const SERVER_2: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);
/// `inet`'s end of the link to NAT A (NAT A's default gateway).
pub const INET_A: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// NAT A's public address.
pub const NAT_A_PUBLIC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// NAT A's private address (the gateway of `pub`).
pub const NAT_A_PRIVATE: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
/// The publishers' host, behind NAT A.
pub const PUB: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
/// `inet`'s end of the link to NAT B (NAT B's default gateway).
pub const INET_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// NAT B's public address.
pub const NAT_B_PUBLIC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// NAT B's private address (the gateway of `rec`).
pub const NAT_B_PRIVATE: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 1);
/// The recorder's host, behind NAT B.
pub const REC: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 2);

/// How a NAT maps and filters. Linux conntrack filters every kind that maps (Cone, Symmetric) by
/// the full remote address and port: only replies from where the host sent to get in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nat {
    /// Plain routing, no translation: `inet` routes the private /24 to this NAT's public side.
    Open,
    /// Port-restricted cone (a home router): `masquerade`; one mapping per local socket for every
    /// destination (the source port is kept when free), replies only from where it sent.
    Cone,
    /// Symmetric: `masquerade fully-random`, a new random public port per destination.
    Symmetric,
    /// 1:1 NAT (a cloud VM): everything to the public address DNATs to the host, the host's
    /// traffic SNATs to the public address, ports unchanged; nothing filtered.
    OneToOne,
}

/// One of the five namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The internet: servers at [`SERVER_1`] and [`SERVER_2`], routes between the NATs.
    Inet,
    /// NAT A, between `inet` and `pub`.
    NatA,
    /// The publishers' host [`PUB`] behind NAT A.
    Pub,
    /// NAT B, between `inet` and `rec`.
    NatB,
    /// The recorder's host [`REC`] behind NAT B.
    Rec,
}

impl Role {
    /// Every role, in creation order.
    pub const ALL: [Role; 5] = [Role::Inet, Role::NatA, Role::Pub, Role::NatB, Role::Rec];

    /// Short name, part of the namespace's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Inet => "inet",
            Role::NatA => "nata",
            Role::Pub => "pub",
            Role::NatB => "natb",
            Role::Rec => "rec",
        }
    }

    /// The role's own address: [`SERVER_1`] for `inet`, the public one for a NAT, the private
    /// one for a host.
    pub fn ip(self) -> Ipv4Addr {
        match self {
            Role::Inet => SERVER_1,
            Role::NatA => NAT_A_PUBLIC,
            Role::Pub => PUB,
            Role::NatB => NAT_B_PUBLIC,
            Role::Rec => REC,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Topologies created by this process so far: part of every name.
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The five namespaces and their links (see the module docs); all removed on drop.
#[derive(Debug)]
pub struct Topology {
    /// `rr<pid>-<n>-`: namespace names are this plus the role.
    prefix: String,
    /// `rr<pid hex>-<n hex>`: interface names are this plus two letters (at most 15 in all).
    link_prefix: String,
    nat_a: Nat,
    nat_b: Nat,
    /// Namespaces created so far, removed on drop even if `build` panicked half-way.
    created: Vec<Role>,
}

impl Topology {
    /// Creates the namespaces with NAT A of kind `nat_a` (in front of `pub`) and NAT B of kind
    /// `nat_b` (in front of `rec`). `None`, after saying so on stderr, where namespaces cannot be
    /// created (not root, no iproute2) or `ROOMREC_SKIP_NETNS=1`: the test then skips. Panics
    /// if `nft` is missing (namespaces work, so the test should run: install nftables).
    pub fn create(nat_a: Nat, nat_b: Nat) -> Option<Topology> {
        if std::env::var("ROOMREC_SKIP_NETNS").is_ok_and(|v| v == "1") {
            eprintln!("skipping: ROOMREC_SKIP_NETNS=1");
            return None;
        }
        let pid = std::process::id();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut topology = Topology {
            prefix: format!("rr{pid}-{n}-"),
            link_prefix: format!("rr{pid:x}-{n:x}"),
            nat_a,
            nat_b,
            created: Vec::new(),
        };
        let first = Command::new("ip")
            .args(["netns", "add", &topology.name(Role::Inet)])
            .output();
        if !first.is_ok_and(|o| o.status.success()) {
            eprintln!("skipping: cannot create network namespaces (needs root and iproute2)");
            return None;
        }
        topology.created.push(Role::Inet);
        let nft = Command::new("nft").arg("--version").output();
        assert!(
            nft.is_ok_and(|o| o.status.success()),
            "nft is missing: `apt-get install nftables` (bash .ci/run installs it)"
        );
        topology.build();
        Some(topology)
    }

    /// NAT A's kind.
    pub fn nat_a(&self) -> Nat {
        self.nat_a
    }

    /// NAT B's kind.
    pub fn nat_b(&self) -> Nat {
        self.nat_b
    }

    /// The namespace's name, for `ip netns exec NAME` or `ip -n NAME`.
    pub fn name(&self, role: Role) -> String {
        format!("{}{}", self.prefix, role.as_str())
    }

    /// `program` run inside the namespace of `role` (via `ip netns exec`, which execs it: the
    /// child's pid is the program's, so signals reach it).
    pub fn exec(&self, role: Role, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name(role)]).arg(program);
        c
    }

    /// Runs `f` on a new thread inside the namespace of `role` and returns its result (a panic in
    /// `f` panics here). Sockets it opens, and threads it starts (a tokio runtime's workers),
    /// live in that namespace.
    pub fn run_in<T: Send, F: FnOnce() -> T + Send>(&self, role: Role, f: F) -> T {
        let ns = self.open(role);
        std::thread::scope(|s| {
            let thread = std::thread::Builder::new()
                .name(format!("netns-{role}"))
                .spawn_scoped(s, move || {
                    enter(&ns, role);
                    f()
                })
                .expect("spawn a thread");
            match thread.join() {
                Ok(t) => t,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Starts `f` on a new thread inside the namespace of `role`, like [`Topology::run_in`]
    /// without waiting.
    pub fn spawn_in<T, F>(&self, role: Role, f: F) -> std::thread::JoinHandle<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let ns = self.open(role);
        std::thread::Builder::new()
            .name(format!("netns-{role}"))
            .spawn(move || {
                enter(&ns, role);
                f()
            })
            .expect("spawn a thread")
    }

    /// Loads nftables `rules` (the text `nft -f` reads) in the namespace of `role`; panics if nft
    /// refuses them.
    pub fn nft(&self, role: Role, rules: &str) {
        let mut child = self
            .exec(role, "nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run nft");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(rules.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nft rules in {role}: {}\n{rules}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A host firewall in `role` (like a home router's, but on the host itself): UDP gets in only
    /// as a reply to what the host sent (conntrack), TCP and loopback stay open. Behind an
    /// [`Nat::Open`] NAT this makes the host filter like a port-restricted cone while its own
    /// address stays routable (e.g. as a TURN peer), which demo publishers without STUN need.
    pub fn udp_replies_only(&self, role: Role) {
        self.nft(
            role,
            "table inet guard {
               chain input {
                 type filter hook input priority filter; policy accept;
                 meta l4proto udp ct state established,related accept;
                 meta l4proto udp iifname != \"lo\" drop;
               }
             }\n",
        );
    }

    /// `ip -n NAMESPACE-OF-role ARGS…`; panics on failure.
    pub fn ip(&self, role: Role, args: &str) {
        let ns = self.name(role);
        let mut all = vec!["-n", &ns];
        all.extend(args.split_whitespace());
        ip(&all);
    }

    /// `sysctl -w setting` inside the namespace of `role`.
    pub fn sysctl(&self, role: Role, setting: &str) {
        let out = self
            .exec(role, "sysctl")
            .args(["-qw", setting])
            .output()
            .expect("run sysctl");
        assert!(out.status.success(), "sysctl {setting} in {role}: {out:?}");
    }

    fn open(&self, role: Role) -> File {
        let path = format!("/run/netns/{}", self.name(role));
        File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// An interface name: the link prefix and a two-letter tag.
    fn link(&self, tag: &str) -> String {
        let name = format!("{}{tag}", self.link_prefix);
        debug_assert!(name.len() <= 15, "interface name too long: {name}");
        name
    }

    fn build(&mut self) {
        for role in [Role::NatA, Role::Pub, Role::NatB, Role::Rec] {
            ip(&["netns", "add", &self.name(role)]);
            self.created.push(role);
        }
        for role in Role::ALL {
            self.ip(role, "link set lo up");
        }
        // inet's servers: host addresses on its loopback, reached through its links.
        for server in [SERVER_1, SERVER_2] {
            self.ip(Role::Inet, &format!("addr add {server}/32 dev lo"));
        }
        let a_up = self.veth((Role::Inet, "ia", INET_A), (Role::NatA, "ai", NAT_A_PUBLIC));
        self.veth((Role::NatA, "ap", NAT_A_PRIVATE), (Role::Pub, "pa", PUB));
        let b_up = self.veth((Role::Inet, "ib", INET_B), (Role::NatB, "bi", NAT_B_PUBLIC));
        self.veth((Role::NatB, "br", NAT_B_PRIVATE), (Role::Rec, "rb", REC));
        self.ip(Role::NatA, &format!("route add default via {INET_A}"));
        self.ip(Role::Pub, &format!("route add default via {NAT_A_PRIVATE}"));
        self.ip(Role::NatB, &format!("route add default via {INET_B}"));
        self.ip(Role::Rec, &format!("route add default via {NAT_B_PRIVATE}"));
        for role in [Role::Inet, Role::NatA, Role::NatB] {
            self.sysctl(role, "net.ipv4.ip_forward=1");
        }
        for (nat, role, uplink, public, host, private_net) in [
            (
                self.nat_a,
                Role::NatA,
                a_up,
                NAT_A_PUBLIC,
                PUB,
                "10.1.0.0/24",
            ),
            (
                self.nat_b,
                Role::NatB,
                b_up,
                NAT_B_PUBLIC,
                REC,
                "10.2.0.0/24",
            ),
        ] {
            match nat_rules(nat, &uplink, public, host) {
                Some(rules) => self.nft(role, &rules),
                None => self.ip(Role::Inet, &format!("route add {private_net} via {public}")),
            }
        }
    }

    /// A veth pair between two namespaces, each end `(role, tag, address/24)`, both up; returns
    /// the second end's interface name.
    fn veth(&self, a: (Role, &str, Ipv4Addr), b: (Role, &str, Ipv4Addr)) -> String {
        let (la, lb) = (self.link(a.1), self.link(b.1));
        ip(&[
            "link",
            "add",
            &la,
            "netns",
            &self.name(a.0),
            "type",
            "veth",
            "peer",
            "name",
            &lb,
            "netns",
            &self.name(b.0),
        ]);
        for (role, link, addr) in [(a.0, &la, a.2), (b.0, &lb, b.2)] {
            self.ip(role, &format!("addr add {addr}/24 dev {link}"));
            self.ip(role, &format!("link set {link} up"));
        }
        lb
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for role in self.created.iter().rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name(*role)])
                .output();
        }
    }
}

/// The nftables ruleset of a NAT whose public interface is `uplink` (None: plain routing).
fn nat_rules(nat: Nat, uplink: &str, public: Ipv4Addr, host: Ipv4Addr) -> Option<String> {
    let post = |action: &str| {
        format!(
            "table ip nat {{
               chain post {{
                 type nat hook postrouting priority srcnat;
                 oifname \"{uplink}\" {action};
               }}
             }}\n"
        )
    };
    // Like a home router, unsolicited inbound packets are dropped before conntrack confirms an
    // entry for them: a stale entry would take the very mapping a later outgoing packet needs
    // (then masquerade picks another port and hole punching fails).
    let guarded = |action: &str| {
        post(action)
            + &format!(
                "table ip guard {{
                   chain pre {{
                     type filter hook prerouting priority -150;
                     iifname \"{uplink}\" ct state new drop;
                   }}
                 }}\n"
            )
    };
    match nat {
        Nat::Open => None,
        Nat::Cone => Some(guarded("masquerade")),
        Nat::Symmetric => Some(guarded("masquerade fully-random")),
        Nat::OneToOne => Some(format!(
            "table ip nat {{
               chain pre {{
                 type nat hook prerouting priority dstnat;
                 iifname \"{uplink}\" ip daddr {public} dnat to {host};
               }}
               chain post {{
                 type nat hook postrouting priority srcnat;
                 oifname \"{uplink}\" ip saddr {host} snat to {public};
               }}
             }}\n"
        )),
    }
}

/// Moves the calling thread into the namespace `ns` (only this thread: network namespaces are
/// per thread).
fn enter(ns: &File, role: Role) {
    // SAFETY: setns(2) with a valid open namespace file descriptor; it touches no memory of ours.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert!(
        rc == 0,
        "setns into {role}: {}",
        std::io::Error::last_os_error()
    );
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

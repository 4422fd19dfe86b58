//! What a recording needs, in two steps: [`RecorderOptions`] as the caller states them (the CLI's
//! flags, or a test's struct), and [`ValidOptions`], built only by [`RecorderOptions::validate`]
//! with every check done and every default derived. `run` takes the latter, so it checks nothing.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use roomrec_core::ice::{StunUrl, TurnUrl};
use roomrec_core::media::{Codec, TrackKind};
use roomrec_core::signaling::password::salt_for_host;
use roomrec_core::signaling::{Dialect, Password};
use tokio_tungstenite::tungstenite::http::Uri;

use crate::ice_servers::IceServers;

pub const DEFAULT_SERVER: &str = "wss://wss.vdo.ninja:443";

/// The recording as asked for; nothing here has been checked yet.
#[derive(Clone, Debug)]
pub struct RecorderOptions {
    pub room: String,
    /// Signaling server, `ws://` or `wss://`.
    pub server: String,
    pub password: Password,
    /// None = `salt_for_host(host of server)`.
    pub salt: Option<String>,
    /// None = Official for vdo.ninja hosts, Relay otherwise.
    pub dialect: Option<Dialect>,
    /// File name prefix; None = the room name.
    pub record_prefix: Option<String>,
    /// Only record these stream ids (trimmed, blanks dropped, must name one); None = all.
    pub record_streams: Option<Vec<String>>,
    pub audio: bool,
    pub video: bool,
    /// Video codec preference; empty = the publisher's order.
    pub video_codecs: Vec<Codec>,
    /// Must exist and accept new files.
    pub output_dir: PathBuf,
    /// Addresses announced as ICE host candidates; empty = every non-loopback interface address.
    pub ice_ips: Vec<IpAddr>,
    /// 1:1 NAT: public addresses that forward to this machine port for port, announced with the
    /// local ports (cloud VMs whose public address forwards every port).
    pub public_ips: Vec<IpAddr>,
    /// STUN servers; None = the web app's for VDO.Ninja hosts, none for others; empty = off.
    pub stun: Option<Vec<StunUrl>>,
    /// TURN servers (with credentials).
    pub turn: Vec<TurnUrl>,
    /// Extra trusted certificates (PEM) for `turns:` servers.
    pub turn_ca: Option<PathBuf>,
    /// Announce only TURN relay candidates.
    pub relay_only: bool,
    /// Give up on a WebRTC connection that is not up by then.
    pub connect_timeout: Duration,
    /// Our display label in the data-channel request.
    pub label: String,
    /// Append every signaling text frame (in and out) to this file as JSON lines.
    pub signaling_trace: Option<PathBuf>,
    /// In that trace, replace SDPs, candidates and IVs with "<redacted>".
    pub signaling_trace_redact: bool,
    /// Orderly shutdown must finish within this time.
    pub shutdown_timeout: Duration,
    /// Bind every connection's UDP sockets to a port in this range (one firewall rule instead of
    /// the ephemeral range); None = any free port.
    pub udp_ports: Option<PortRange>,
    /// Run every connection (except those using TURN) on these UDP ports, shared, one event
    /// loop per port; None = a socket (and task) per connection.
    pub shared_udp_ports: Option<PortRange>,
    /// When to stop by itself, and what to run for each finished file (see [`Lifecycle`]).
    pub lifecycle: Lifecycle,
    // -- single-stream mode --
    /// `--view`: record this one stream id of a publisher outside any room (`?push=ID` without
    /// `&room`); `room` must then be empty and `record_streams` unset.
    pub view: Option<String>,
    /// Copy a video keyframe every few seconds into the status hub (thumbnails for `--http`).
    pub preview_keyframes: bool,
}

/// A recording's own end and per-file hook (`--max-duration`, `--stop-when-empty`,
/// `--on-file-closed`); `lifecycle.rs` carries them out through the status hub.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// Stop (finalize, exit 0) after this long.
    pub max_duration: Option<Duration>,
    /// Stop once no guest has been in the room for this long, counted from when the last one
    /// left; not before a first guest has come.
    pub stop_when_empty: Option<Duration>,
    /// Shell command (`sh -c`) run once per finished file.
    pub on_file_closed: Option<String>,
    /// How long shutdown waits for `on_file_closed` commands still running.
    pub hook_timeout: Duration,
}

/// Checked options with every default resolved. Only [`RecorderOptions::validate`] makes one.
#[derive(Clone, Debug)]
pub struct ValidOptions {
    pub(crate) room: String,
    pub(crate) server: String,
    pub(crate) password: Password,
    pub(crate) salt: String,
    pub(crate) dialect: Dialect,
    pub(crate) prefix: String,
    pub(crate) record_streams: Option<Vec<String>>,
    pub(crate) audio: bool,
    pub(crate) video: bool,
    pub(crate) video_codecs: Vec<Codec>,
    pub(crate) output_dir: PathBuf,
    pub(crate) ice_ips: Vec<IpAddr>,
    pub(crate) public_ips: Vec<IpAddr>,
    pub(crate) ice_servers: IceServers,
    pub(crate) connect_timeout: Duration,
    pub(crate) label: String,
    pub(crate) signaling_trace: Option<PathBuf>,
    pub(crate) signaling_trace_redact: bool,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) lifecycle: Lifecycle,
    /// Single-stream mode: the stream id (trimmed); `room` is empty then.
    pub(crate) view: Option<String>,
    pub(crate) udp_ports: Option<PortRange>,
    pub(crate) shared_udp_ports: Option<PortRange>,
    pub(crate) preview_keyframes: bool,
}

impl RecorderOptions {
    /// Options with every default for `room`.
    pub fn new(room: impl Into<String>) -> RecorderOptions {
        RecorderOptions {
            room: room.into(),
            server: DEFAULT_SERVER.to_string(),
            password: Password::Default,
            salt: None,
            dialect: None,
            record_prefix: None,
            record_streams: None,
            audio: true,
            video: true,
            video_codecs: Vec::new(),
            output_dir: PathBuf::from("."),
            ice_ips: Vec::new(),
            public_ips: Vec::new(),
            stun: None,
            turn: Vec::new(),
            turn_ca: None,
            relay_only: false,
            connect_timeout: Duration::from_secs(15),
            label: "roomrec".to_string(),
            signaling_trace: None,
            signaling_trace_redact: false,
            shutdown_timeout: Duration::from_secs(2),
            lifecycle: Lifecycle {
                hook_timeout: Duration::from_secs(30),
                ..Lifecycle::default()
            },
            udp_ports: None,
            shared_udp_ports: None,
            view: None,
            preview_keyframes: false,
        }
    }

    /// Options with every default for recording one stream outside any room (`--view`).
    pub fn view(stream_id: impl Into<String>) -> RecorderOptions {
        RecorderOptions {
            view: Some(stream_id.into()),
            ..RecorderOptions::new("")
        }
    }

    /// The one place options are checked and defaults derived. Also proves the output directory
    /// accepts new files, so a bad directory fails before anything connects.
    pub fn validate(self) -> Result<ValidOptions, OptionsError> {
        let view = self.checked_view()?;
        if view.is_none() && self.room.trim().is_empty() {
            return Err(OptionsError::EmptyRoom);
        }
        let host = server_host(&self.server)?;
        if !self.audio && !self.video {
            return Err(OptionsError::NothingToRecord);
        }
        if let Some(&c) = self
            .video_codecs
            .iter()
            .find(|c| c.kind() != TrackKind::Video)
        {
            return Err(OptionsError::NotVideoCodec(c));
        }
        if let Some(&ip) = self
            .ice_ips
            .iter()
            .find(|ip| ip.is_unspecified() || ip.is_multicast())
        {
            return Err(OptionsError::IceAddress(ip));
        }
        if let Some(&ip) = self
            .public_ips
            .iter()
            .find(|ip| ip.is_unspecified() || ip.is_multicast() || ip.is_loopback())
        {
            return Err(OptionsError::PublicAddress(ip));
        }
        let record_streams = match self.record_streams {
            Some(list) => {
                let list: Vec<String> = list
                    .iter()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if list.is_empty() {
                    return Err(OptionsError::NoStreamIds);
                }
                Some(list)
            }
            None => None,
        };
        let ice_servers = IceServers::new(
            self.stun,
            self.turn,
            self.turn_ca.as_deref(),
            self.relay_only,
            &host,
        )
        .map_err(OptionsError::IceServers)?;
        check_lifecycle(&self.lifecycle)?;
        check_output_dir(&self.output_dir)?;
        Ok(ValidOptions {
            ice_servers,
            salt: self.salt.unwrap_or_else(|| salt_for_host(&host)),
            dialect: self.dialect.unwrap_or_else(|| default_dialect(&host)),
            prefix: self
                .record_prefix
                .unwrap_or_else(|| view.clone().unwrap_or_else(|| self.room.clone())),
            view,
            room: self.room,
            server: self.server,
            password: self.password,
            record_streams,
            audio: self.audio,
            video: self.video,
            video_codecs: self.video_codecs,
            output_dir: self.output_dir,
            ice_ips: self.ice_ips,
            public_ips: self.public_ips,
            connect_timeout: self.connect_timeout,
            label: self.label,
            signaling_trace: self.signaling_trace,
            signaling_trace_redact: self.signaling_trace_redact,
            shutdown_timeout: self.shutdown_timeout,
            lifecycle: self.lifecycle,
            udp_ports: self.udp_ports,
            shared_udp_ports: self.shared_udp_ports,
            preview_keyframes: self.preview_keyframes,
        })
    }
}

impl RecorderOptions {
    /// `--view` alone names what to record: no room, no stream list beside it.
    fn checked_view(&self) -> Result<Option<String>, OptionsError> {
        let Some(view) = &self.view else {
            return Ok(None);
        };
        if !self.room.trim().is_empty() {
            return Err(OptionsError::ViewConflict("--room"));
        }
        if self.record_streams.is_some() {
            return Err(OptionsError::ViewConflict("--record-streams"));
        }
        let view = view.trim();
        if view.is_empty() {
            return Err(OptionsError::EmptyStreamId);
        }
        Ok(Some(view.to_string()))
    }
}

impl TryFrom<RecorderOptions> for ValidOptions {
    type Error = OptionsError;

    fn try_from(options: RecorderOptions) -> Result<Self, OptionsError> {
        options.validate()
    }
}

impl ValidOptions {
    /// File name prefix: `record_prefix`, or the room name (the stream id with `--view`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The room being recorded (empty with `--view`).
    pub fn room(&self) -> &str {
        &self.room
    }

    pub fn output_dir(&self) -> &std::path::Path {
        &self.output_dir
    }

    /// The stream recorded in single-stream mode (`--view`); None when recording a room.
    pub fn view(&self) -> Option<&str> {
        self.view.as_deref()
    }
}

/// Zero durations would stop at once; an empty command would run nothing.
fn check_lifecycle(l: &Lifecycle) -> Result<(), OptionsError> {
    if l.max_duration == Some(Duration::ZERO) {
        return Err(OptionsError::Lifecycle(
            "--max-duration must be positive".into(),
        ));
    }
    if l.stop_when_empty == Some(Duration::ZERO) {
        return Err(OptionsError::Lifecycle(
            "--stop-when-empty must be positive".into(),
        ));
    }
    if l.on_file_closed
        .as_deref()
        .is_some_and(|c| c.trim().is_empty())
    {
        return Err(OptionsError::Lifecycle(
            "--on-file-closed needs a command".into(),
        ));
    }
    Ok(())
}

/// UDP ports `first..=last` (1 ≤ first ≤ last); each connection takes a free one per address, so
/// the range bounds how many connections can be up at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    pub fn new(first: u16, last: u16) -> Result<PortRange, String> {
        if first == 0 {
            return Err("port 0 is not a port".into());
        }
        if first > last {
            return Err(format!("{first}-{last} is empty (first > last)"));
        }
        Ok(PortRange { first, last })
    }

    pub fn first(&self) -> u16 {
        self.first
    }

    pub fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `i`-th port, wrapping around.
    pub fn nth(&self, i: usize) -> u16 {
        self.first + (i % self.len()) as u16
    }
}

impl std::str::FromStr for PortRange {
    type Err = String;

    /// `A-B`, or `A` for a single port.
    fn from_str(s: &str) -> Result<PortRange, String> {
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port number (1-65535)"))
        };
        match s.split_once('-') {
            Some((a, b)) => PortRange::new(port(a)?, port(b)?),
            None => {
                let p = port(s)?;
                PortRange::new(p, p)
            }
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// Official dialect for the public VDO.Ninja servers, relay dialect for anything self-hosted.
fn default_dialect(host: &str) -> Dialect {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "vdo.ninja" || host.ends_with(".vdo.ninja") {
        Dialect::Official
    } else {
        Dialect::Relay
    }
}

/// Host of a `ws://` / `wss://` URL (no brackets for IPv6); any other scheme or no host is an error.
fn server_host(url: &str) -> Result<String, OptionsError> {
    let bad = |reason: String| OptionsError::Server {
        url: url.to_string(),
        reason,
    };
    let uri: Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
    match uri.scheme_str() {
        Some("ws") | Some("wss") => {}
        Some(other) => return Err(bad(format!("scheme {other:?} is not ws or wss"))),
        None => return Err(bad("expected ws://HOST or wss://HOST".into())),
    }
    let host = uri.host().filter(|h| !h.is_empty());
    let host = host.ok_or_else(|| bad("no host".into()))?;
    Ok(host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string())
}

/// The output directory must exist and accept new files (checked by creating one).
fn check_output_dir(path: &std::path::Path) -> Result<(), OptionsError> {
    let err = |reason: String| OptionsError::OutputDir {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => err("does not exist".into()),
        _ => err(e.to_string()),
    })?;
    if !meta.is_dir() {
        return Err(err("not a directory".into()));
    }
    let probe = path.join(format!(
        ".roomrec-write-test-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| err(format!("not writable: {e}")))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Why [`RecorderOptions::validate`] refused; each variant names the option at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionsError {
    EmptyRoom,
    Server {
        url: String,
        reason: String,
    },
    NothingToRecord,
    NotVideoCodec(Codec),
    IceAddress(IpAddr),
    PublicAddress(IpAddr),
    NoStreamIds,
    OutputDir {
        path: PathBuf,
        reason: String,
    },
    /// `--stun`, `--turn`, `--turn-ca`, `--relay-only` (the message names the flag).
    IceServers(String),
    /// `--max-duration`, `--stop-when-empty`, `--on-file-closed` (the message names the flag).
    Lifecycle(String),
    /// `--view` with an empty stream id.
    EmptyStreamId,
    /// `--view` with the named option that it excludes.
    ViewConflict(&'static str),
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionsError::EmptyRoom => f.write_str("the room name must not be empty"),
            OptionsError::Server { url, reason } => {
                write!(f, "invalid server URL {url:?}: {reason}")
            }
            OptionsError::NothingToRecord => {
                f.write_str("audio and video are both disabled: nothing to record")
            }
            OptionsError::NotVideoCodec(c) => {
                write!(f, "{} is an audio codec, not a video codec", c.name())
            }
            OptionsError::IceAddress(ip) => {
                write!(f, "{ip} is not a concrete unicast address of this machine")
            }
            OptionsError::PublicAddress(ip) => {
                write!(
                    f,
                    "{ip} cannot be a public address (unspecified, multicast or loopback)"
                )
            }
            OptionsError::NoStreamIds => f.write_str("the stream list names no stream id"),
            OptionsError::OutputDir { path, reason } => {
                write!(f, "output directory {}: {reason}", path.display())
            }
            OptionsError::IceServers(e) | OptionsError::Lifecycle(e) => f.write_str(e),
            OptionsError::EmptyStreamId => f.write_str("the stream id must not be empty"),
            OptionsError::ViewConflict(other) => write!(
                f,
                "records one stream outside any room and cannot be combined with {other}"
            ),
        }
    }
}
impl std::error::Error for OptionsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges() {
        let r: PortRange = "40000-40009".parse().unwrap();
        assert_eq!((r.first(), r.len()), (40000, 10));
        assert_eq!((r.nth(0), r.nth(9), r.nth(10)), (40000, 40009, 40000));
        let one: PortRange = " 5000 ".parse().unwrap();
        assert_eq!((one.first(), one.len(), one.nth(3)), (5000, 1, 5000));
        let full: PortRange = "1-65535".parse().unwrap();
        assert_eq!((full.len(), full.nth(65534)), (65535, 65535));
        for bad in ["", "0-10", "10-9", "a-b", "1-65536", "-5", "5-", "1-2-3"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dialect_follows_host() {
        assert_eq!(default_dialect("vdo.ninja"), Dialect::Official);
        assert_eq!(default_dialect("wss.vdo.ninja"), Dialect::Official);
        assert_eq!(default_dialect("WSS.VDO.Ninja."), Dialect::Official);
        assert_eq!(default_dialect("notvdo.ninja"), Dialect::Relay);
        assert_eq!(default_dialect("vdo.ninja.evil.com"), Dialect::Relay);
        assert_eq!(default_dialect("127.0.0.1"), Dialect::Relay);
    }

    #[test]
    fn server_urls() {
        assert_eq!(
            server_host("wss://wss.vdo.ninja:443").unwrap(),
            "wss.vdo.ninja"
        );
        assert_eq!(
            server_host("ws://127.0.0.1:8443/path").unwrap(),
            "127.0.0.1"
        );
        assert_eq!(server_host("ws://[::1]:80").unwrap(), "::1");
        assert!(server_host("http://example.com")
            .unwrap_err()
            .to_string()
            .contains("scheme"));
        assert!(server_host("example.com").is_err());
        assert!(server_host("").is_err());
        assert!(server_host("wss://").is_err());
    }

    #[test]
    fn defaults_are_derived() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = RecorderOptions::new("room1");
        o.output_dir = dir.path().to_path_buf();
        let v = o.clone().validate().unwrap();
        assert_eq!(v.prefix(), "room1");
        assert_eq!(v.dialect, Dialect::Official);
        assert_eq!(v.salt, "vdo.ninja");
        o.record_prefix = Some("rec".into());
        o.server = "ws://example.org:8080".into();
        let v = o.clone().validate().unwrap();
        assert_eq!((v.prefix(), v.dialect), ("rec", Dialect::Relay));
        assert_eq!(v.salt, "example.org");
        o.dialect = Some(Dialect::Official);
        o.salt = Some("s".into());
        o.record_streams = Some(vec![" a ".into(), "".into()]);
        let v = o.validate().unwrap();
        assert_eq!((v.dialect, v.salt.as_str()), (Dialect::Official, "s"));
        assert_eq!(v.record_streams, Some(vec!["a".to_string()]));
    }

    #[test]
    fn each_check_has_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let base = RecorderOptions {
            output_dir: dir.path().to_path_buf(),
            ..RecorderOptions::new("room1")
        };
        let fails = |change: &dyn Fn(&mut RecorderOptions)| {
            let mut o = base.clone();
            change(&mut o);
            o.validate().unwrap_err()
        };
        assert_eq!(fails(&|o| o.room = "  ".into()), OptionsError::EmptyRoom);
        assert!(matches!(
            fails(&|o| o.server = "https://x".into()),
            OptionsError::Server { .. }
        ));
        assert_eq!(
            fails(&|o| (o.audio, o.video) = (false, false)),
            OptionsError::NothingToRecord
        );
        assert_eq!(
            fails(&|o| o.video_codecs = vec![Codec::Vp9, Codec::Opus]),
            OptionsError::NotVideoCodec(Codec::Opus)
        );
        let any = "0.0.0.0".parse().unwrap();
        assert_eq!(
            fails(&|o| o.ice_ips = vec![any]),
            OptionsError::IceAddress(any)
        );
        assert_eq!(
            fails(&|o| o.record_streams = Some(vec![" ".into()])),
            OptionsError::NoStreamIds
        );
        assert!(matches!(
            fails(&|o| o.output_dir = o.output_dir.join("missing")),
            OptionsError::OutputDir { .. }
        ));
        assert!(matches!(
            fails(&|o| o.lifecycle.max_duration = Some(Duration::ZERO)),
            OptionsError::Lifecycle(e) if e.contains("--max-duration")
        ));
        assert!(matches!(
            fails(&|o| o.lifecycle.stop_when_empty = Some(Duration::ZERO)),
            OptionsError::Lifecycle(e) if e.contains("--stop-when-empty")
        ));
        assert!(matches!(
            fails(&|o| o.lifecycle.on_file_closed = Some(" ".into())),
            OptionsError::Lifecycle(e) if e.contains("--on-file-closed")
        ));
    }

    #[test]
    fn view_mode_checks_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let base = RecorderOptions {
            output_dir: dir.path().to_path_buf(),
            ..RecorderOptions::view(" cam1 ")
        };
        let v = base.clone().validate().unwrap();
        assert_eq!((v.view(), v.prefix()), (Some("cam1"), "cam1"));
        let v = RecorderOptions {
            record_prefix: Some("rec".into()),
            ..base.clone()
        };
        assert_eq!(v.validate().unwrap().prefix(), "rec");
        let fails = |change: &dyn Fn(&mut RecorderOptions)| {
            let mut o = base.clone();
            change(&mut o);
            o.validate().unwrap_err()
        };
        assert_eq!(
            fails(&|o| o.room = "r".into()),
            OptionsError::ViewConflict("--room")
        );
        assert_eq!(
            fails(&|o| o.record_streams = Some(vec!["a".into()])),
            OptionsError::ViewConflict("--record-streams")
        );
        assert_eq!(
            fails(&|o| o.view = Some(" ".into())),
            OptionsError::EmptyStreamId
        );
    }
}

//! Command-line arguments as typed (clap derive), and the one conversion of the recording flags
//! into checked options: clap only parses, `RecorderOptions::validate` checks and derives.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use roomrec_core::ice::{parse_stun, parse_turn, StunUrl, TurnUrl};
use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::http::HttpOptions;
use roomrec_io_tokio::options::{OptionsError, PortRange, ValidOptions, DEFAULT_SERVER};
use roomrec_io_tokio::RecorderOptions;

#[derive(Parser, Debug)]
#[command(
    name = "roomrec",
    version,
    about = "Record every participant of a VDO.Ninja room, each to its own file",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub record: RecordArgs,
    /// More logging: -v debug, -vv trace (RUST_LOG overrides)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No live table on a terminal (logs stay on stderr) and no events on stdout unless --events
    /// asks for them
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a self-hosted signaling relay
    Relay(crate::relay_cmd::RelayArgs),
    /// Show what STUN servers see of this machine (NAT type) and whether TURN servers allocate
    CheckNetwork {
        /// STUN server to ask, stun:HOST[:PORT] (repeatable) [default: the web app's two]
        #[arg(long, value_name = "URL")]
        stun: Vec<String>,
        /// TURN server to try (repeatable), as for recording
        #[arg(long, value_name = "URL", value_parser = parse_turn)]
        turn: Vec<TurnUrl>,
        /// Also trust the certificates in this PEM file for turns: servers
        #[arg(long, value_name = "FILE")]
        turn_ca: Option<PathBuf>,
        /// Local address to test from (repeatable) [default: every interface address]
        #[arg(long = "ice-ip", value_name = "ADDR", value_parser = parse_ice_ip)]
        ice_ip: Vec<IpAddr>,
    },
    /// Synthetic publishers only (no recorder) against a relay or server: a load generator
    Loadgen(Box<crate::loadgen_cmd::LoadgenArgs>),
    /// Relay + loadgen + recorder as separate processes per stream count: a table of costs
    Bench(Box<crate::bench::BenchArgs>),
    /// Record a demo room offline: the bundled relay and four synthetic publishers
    /// (H.264, VP8, VP9, AV1, each with Opus) on 127.0.0.1
    Demo {
        /// How long to record, in seconds
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Directory for the recordings (created if missing)
        #[arg(long, value_name = "DIR", default_value = "roomrec-demo")]
        output_dir: PathBuf,
        #[arg(long, value_parser = dialect_parser(), default_value = "relay")]
        dialect: Dialect,
        /// Room password; false/0/off: none [default: VDO.Ninja's default]
        #[arg(long, value_name = "PASSWORD")]
        password: Option<String>,
        /// Write status events as JSON lines (docs/EVENTS.md) to FILE, `-` for stdout
        #[arg(long, value_name = "FILE|-")]
        events: Option<String>,
        #[command(flatten)]
        http: HttpArgs,
    },
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// Room to record; every participant gets their own file
    #[arg(long, value_name = "ROOM", required_unless_present = "view")]
    pub room: Option<String>,
    /// File name prefix [default: the room name, or the stream id with --view]
    #[arg(long, value_name = "PREFIX")]
    pub record: Option<String>,
    /// Accepted for raspberry_ninja compatibility (--room always records the whole room)
    #[arg(long)]
    pub record_room: bool,
    /// Signaling server (ws:// or wss://)
    #[arg(long, value_name = "URL", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// Room password; without a value or absent: VDO.Ninja's default; false/0/off: none
    #[arg(long, value_name = "PASSWORD", num_args = 0..=1)]
    pub password: Option<Option<String>>,
    /// Hashing salt [default: derived from the server host]
    #[arg(long, value_name = "SALT")]
    pub salt: Option<String>,
    /// Only record these stream ids (comma separated)
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub record_streams: Option<Vec<String>>,
    /// Do not record audio
    #[arg(long)]
    pub noaudio: bool,
    /// Do not record video
    #[arg(long)]
    pub novideo: bool,
    /// Preferred video codecs, in order (h264, vp8, vp9, av1)
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_codec)]
    pub codec: Vec<Codec>,
    /// Directory for the recordings (must exist)
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub output_dir: PathBuf,
    /// Address to announce as ICE host candidate (repeatable) [default: every interface address]
    #[arg(long = "ice-ip", value_name = "ADDR", value_parser = parse_ice_ip)]
    pub ice_ip: Vec<IpAddr>,
    /// 1:1 NAT: public address that forwards to this machine port for port (repeatable); announced
    /// with the local ports, like Janus's nat_1_1_mapping (cloud VMs whose public address forwards
    /// every port)
    #[arg(long = "public-ip", value_name = "ADDR", value_parser = parse_ice_ip)]
    pub public_ip: Vec<IpAddr>,
    /// STUN server for a server-reflexive candidate, stun:HOST[:PORT] (repeatable); false: none
    /// [default: the web app's STUN servers for VDO.Ninja hosts, none for others]
    #[arg(long, value_name = "URL")]
    pub stun: Vec<String>,
    /// TURN server for a relay candidate (repeatable): turn:USER:PASS@HOST[:PORT][?transport=tcp]
    /// or turns:USER:PASS@HOST[:PORT] (TLS, certificate verified)
    #[arg(long, value_name = "URL", value_parser = parse_turn)]
    pub turn: Vec<TurnUrl>,
    /// Also trust the certificates in this PEM file for turns: servers (a private CA)
    #[arg(long, value_name = "FILE")]
    pub turn_ca: Option<PathBuf>,
    /// Announce only TURN relay candidates (the web app's &relay): media goes through TURN
    #[arg(long)]
    pub relay_only: bool,
    /// Signaling dialect [default: official for vdo.ninja hosts, relay otherwise]
    #[arg(long, value_parser = dialect_parser())]
    pub dialect: Option<Dialect>,
    /// Give up on a connection not established within this many seconds
    #[arg(long, value_name = "SECS", default_value = "15", value_parser = parse_secs)]
    pub connect_timeout: Duration,
    /// Append every signaling message, in and out, to FILE (JSON lines), for debugging
    #[arg(long, value_name = "FILE")]
    pub trace_signaling: Option<PathBuf>,
    /// In the signaling trace, replace SDPs, ICE candidates and IVs with "<redacted>"
    #[arg(long, requires = "trace_signaling")]
    pub trace_redact: bool,
    /// Write status events as JSON lines (docs/EVENTS.md) to FILE, `-` for stdout
    /// [default: stdout when it is not a terminal]
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<String>,
    /// Stop (finalize every file, exit 0) after this long: 90m, 2h, 1h30m, 45s; a bare number is
    /// seconds
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_duration: Option<Duration>,
    /// Stop (finalize, exit 0) once the room has had no publisher for this long, counted from when
    /// the last one left; before the first publisher comes it waits however long. Seconds, or
    /// 5m...
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub stop_when_empty: Option<Duration>,
    /// Run CMD with `sh -c` once for each finished file, with $ROOMREC_FILE (its path),
    /// $ROOMREC_RECORD (its manifest record, JSON), $ROOMREC_STREAM_ID, $ROOMREC_LABEL,
    /// $ROOMREC_ROOM, $ROOMREC_FILE_BYTES and $ROOMREC_FINALIZED. Its failure is logged; the file is
    /// kept. At exit, commands still running are waited for up to 30 s
    #[arg(long, value_name = "CMD")]
    pub on_file_closed: Option<String>,
    // -- single-stream mode --
    /// Record one stream published without a room (a https://vdo.ninja/?push=STREAMID link)
    /// instead of a room; asks again whenever the publisher is gone, so a comeback gets a new file
    #[arg(long, value_name = "STREAMID", conflicts_with_all = ["room", "record_streams"])]
    pub view: Option<String>,
    /// Bind WebRTC UDP sockets only to ports in FIRST-LAST (or one PORT), one per connection and
    /// address, for a firewall rule narrower than the ephemeral range [default: any free port]
    #[arg(long, value_name = "FIRST-LAST")]
    pub port_range: Option<PortRange>,
    /// Receive every guest on this one UDP port (or one per port of FIRST-LAST, each with its own
    /// event loop), told apart by their ICE credentials: one firewall rule, and far less work per
    /// packet with many guests. Guests reached through TURN keep a socket each (see --port-range)
    #[arg(long, value_name = "PORT")]
    pub udp_port: Option<PortRange>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Live status over HTTP, for recording and for the demo.
#[derive(Args, Debug, Clone)]
pub struct HttpArgs {
    /// Serve the live status page, /status, /events, /metrics and POST /stop on ADDR
    /// (e.g. 127.0.0.1:8080) [default: off]
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Every HTTP request must carry TOKEN (Authorization: Bearer TOKEN, or ?token=TOKEN);
    /// required when --http is not a loopback address
    #[arg(long, value_name = "TOKEN", requires = "http")]
    pub http_token: Option<String>,
}

impl HttpArgs {
    /// Checked `--http` options, or a usage error.
    pub fn options(&self) -> Result<Option<HttpOptions>, clap::Error> {
        let Some(addr) = self.http else {
            return Ok(None);
        };
        HttpOptions::new(addr, self.http_token.clone())
            .map(Some)
            .map_err(|e| Cli::command().error(ErrorKind::ArgumentConflict, e.to_string()))
    }
}

impl Cli {
    /// The `--http` options of the recording or the demo, checked.
    pub fn http_options(&self) -> Result<Option<HttpOptions>, clap::Error> {
        match &self.command {
            None => self.record.http.options(),
            Some(Command::Demo { http, .. }) => http.options(),
            Some(_) => Ok(None),
        }
    }
}

/// What to run, every flag checked.
pub enum Mode {
    Record(Box<ValidOptions>),
    Command(Command),
}

impl Cli {
    /// The step from flags as typed to what runs; a usage error names the flag at fault.
    pub fn mode(self) -> Result<Mode, clap::Error> {
        match self.command {
            Some(command) => Ok(Mode::Command(command)),
            None => self
                .record
                .into_options()
                .map(|o| Mode::Record(Box::new(o))),
        }
    }
}

impl RecordArgs {
    /// The recording flags as checked options, or a usage error naming the flag at fault.
    fn into_options(self) -> Result<ValidOptions, clap::Error> {
        // `--room` is required unless there is a subcommand, and then this is never called.
        let mut o = RecorderOptions::new(self.room.unwrap_or_default());
        o.server = self.server;
        o.password = Password::parse(self.password.as_ref().and_then(|p| p.as_deref()));
        o.salt = self.salt;
        o.dialect = self.dialect;
        o.record_prefix = self.record;
        o.record_streams = self.record_streams;
        o.audio = !self.noaudio;
        o.video = !self.novideo;
        o.video_codecs = self.codec;
        o.output_dir = self.output_dir;
        o.ice_ips = self.ice_ip;
        o.public_ips = self.public_ip;
        o.stun = stun_option(&self.stun)?;
        o.turn = self.turn;
        o.turn_ca = self.turn_ca;
        o.relay_only = self.relay_only;
        o.connect_timeout = self.connect_timeout;
        o.signaling_trace = self.trace_signaling;
        o.signaling_trace_redact = self.trace_redact;
        o.lifecycle.max_duration = self.max_duration;
        o.lifecycle.stop_when_empty = self.stop_when_empty;
        o.lifecycle.on_file_closed = self.on_file_closed;
        o.view = self.view;
        o.udp_ports = self.port_range;
        o.shared_udp_ports = self.udp_port;
        o.preview_keyframes = self.http.http.is_some();
        o.validate().map_err(|e| {
            let msg = match flag(&e) {
                Some(flag) => format!("{flag}: {e}"),
                None => e.to_string(),
            };
            Cli::command().error(ErrorKind::ValueValidation, msg)
        })
    }
}

/// The flag an options error is about.
fn flag(e: &OptionsError) -> Option<&'static str> {
    Some(match e {
        OptionsError::EmptyRoom => "--room",
        OptionsError::Server { .. } => "--server",
        OptionsError::NothingToRecord => return None,
        OptionsError::NotVideoCodec(_) => "--codec",
        OptionsError::IceAddress(_) => "--ice-ip",
        OptionsError::PublicAddress(_) => "--public-ip",
        OptionsError::NoStreamIds => "--record-streams",
        OptionsError::OutputDir { .. } => "--output-dir",
        OptionsError::IceServers(_) | OptionsError::Lifecycle(_) => return None,
        OptionsError::EmptyStreamId | OptionsError::ViewConflict(_) => "--view",
    })
}

/// `--dialect`: core's `Dialect` by name, so `--help` lists the choices.
pub(crate) fn dialect_parser() -> impl TypedValueParser<Value = Dialect> {
    PossibleValuesParser::new(Dialect::ALL.map(Dialect::name)).try_map(|s| s.parse::<Dialect>())
}

/// `--stun`: absent = default, `false` (alone) = none, else the URLs.
pub(crate) fn stun_option(values: &[String]) -> Result<Option<Vec<StunUrl>>, clap::Error> {
    let usage = |msg: String| Cli::command().error(ErrorKind::ValueValidation, msg);
    if values.is_empty() {
        return Ok(None);
    }
    let off = |v: &String| matches!(v.trim(), "false" | "0" | "off" | "none");
    if values.iter().any(off) {
        if values.len() > 1 {
            return Err(usage(
                "--stun false cannot be combined with STUN servers".into(),
            ));
        }
        return Ok(Some(Vec::new()));
    }
    values
        .iter()
        .map(|v| parse_stun(v).map_err(|e| usage(format!("--stun: {e}"))))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Names only; that it is a video codec is for `validate` to check.
fn parse_codec(s: &str) -> Result<Codec, String> {
    Codec::from_name(s).ok_or_else(|| format!("unknown codec {s:?} (expected h264, vp8, vp9, av1)"))
}

fn parse_ice_ip(s: &str) -> Result<IpAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not an IP address"))
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "{s:?} is not a number of seconds between 0 and 3600"
        )),
    }
}

/// `90m`, `2h`, `1h30m`, `45s` (humantime), or a bare number of seconds; more than zero.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let d = match s.parse::<f64>() {
        Ok(v) if (0.0..1e12).contains(&v) => Duration::from_secs_f64(v),
        Ok(_) => return Err(format!("{s:?} is not a duration")),
        Err(_) => {
            humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e} (e.g. 90m, 2h, 30s)"))?
        }
    };
    if d.is_zero() {
        return Err("must be longer than 0".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_parsers() {
        assert_eq!(parse_codec("H264"), Ok(Codec::H264));
        assert_eq!(parse_codec(" vp9 "), Ok(Codec::Vp9));
        assert!(parse_codec("h265").unwrap_err().contains("unknown codec"));
        assert!(parse_ice_ip("nope").is_err());
        assert_eq!(parse_ice_ip(" ::1"), Ok("::1".parse().unwrap()));
        assert_eq!(parse_secs("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_secs("-1").is_err());
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(" 30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("-5").is_err());
        assert!(parse_duration("soon").unwrap_err().contains("90m"));
    }

    #[test]
    fn lifecycle_flags() {
        let cli = Cli::try_parse_from([
            "roomrec",
            "--room",
            "r",
            "--max-duration",
            "2h",
            "--stop-when-empty",
            "30",
            "--on-file-closed",
            "echo \"$ROOMREC_FILE\"",
            "-q",
        ])
        .unwrap();
        assert!(cli.quiet);
        assert_eq!(cli.record.max_duration, Some(Duration::from_secs(7200)));
        assert_eq!(cli.record.stop_when_empty, Some(Duration::from_secs(30)));
        assert_eq!(
            cli.record.on_file_closed.as_deref(),
            Some("echo \"$ROOMREC_FILE\"")
        );
        let demo = Cli::try_parse_from(["roomrec", "demo", "--quiet"]).unwrap();
        assert!(demo.quiet);
    }

    #[test]
    fn password_forms() {
        let p = |args: &[&str]| {
            let mut v = vec!["roomrec", "--room", "r"];
            v.extend_from_slice(args);
            Cli::try_parse_from(v).unwrap().record.password
        };
        assert_eq!(p(&[]), None);
        assert_eq!(p(&["--password"]), Some(None));
        assert_eq!(p(&["--password", "--noaudio"]), Some(None));
        assert_eq!(p(&["--password", "false"]), Some(Some("false".into())));
        assert_eq!(p(&["--password=hunter2"]), Some(Some("hunter2".into())));
    }

    #[test]
    fn signaling_trace_flags() {
        let parse = |extra: &[&str]| {
            let mut v = vec!["roomrec", "--room", "r"];
            v.extend_from_slice(extra);
            Cli::try_parse_from(v)
        };
        let cli = parse(&["--trace-signaling", "t.jsonl", "--trace-redact"]).unwrap();
        assert_eq!(cli.record.trace_signaling, Some(PathBuf::from("t.jsonl")));
        assert!(cli.record.trace_redact);
        assert!(
            !parse(&["--trace-signaling", "t.jsonl"])
                .unwrap()
                .record
                .trace_redact
        );
        assert!(
            parse(&["--trace-redact"]).is_err(),
            "redaction needs a trace"
        );
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("--trace-signaling") && help.contains("--trace-redact"));
    }

    #[test]
    fn lists_and_subcommand() {
        let cli = Cli::try_parse_from([
            "roomrec",
            "--room",
            "r",
            "--codec",
            "vp9,h264",
            "--record-streams",
            "a,b",
            "--ice-ip",
            "127.0.0.1",
            "--ice-ip",
            "::1",
            "--record-room",
        ])
        .unwrap();
        assert_eq!(cli.record.codec, vec![Codec::Vp9, Codec::H264]);
        assert_eq!(
            cli.record.record_streams,
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(cli.record.ice_ip.len(), 2);
        let cli =
            Cli::try_parse_from(["roomrec", "relay", "--listen", "127.0.0.1:8443", "-v"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Relay(crate::relay_cmd::RelayArgs {
                dialect: Dialect::Relay,
                ..
            }))
        ));
        assert_eq!(cli.verbose, 1);
        assert!(Cli::try_parse_from([
            "roomrec",
            "--room",
            "r",
            "relay",
            "--listen",
            "127.0.0.1:1"
        ])
        .is_err());
    }

    #[test]
    fn view_replaces_room_and_excludes_it() {
        let cli = Cli::try_parse_from(["roomrec", "--view", "mystream", "--password", "false"])
            .expect("--view needs no --room");
        assert_eq!(cli.record.view.as_deref(), Some("mystream"));
        assert_eq!(cli.record.room, None);
        for extra in [["--room", "r"], ["--record-streams", "a"]] {
            let mut args = vec!["roomrec", "--view", "mystream"];
            args.extend(extra);
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ArgumentConflict, "{err}");
            assert!(err.to_string().contains("--view"), "{err}");
        }
        let err = Cli::try_parse_from(["roomrec"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
        let err = match Cli::try_parse_from(["roomrec", "--view", " "])
            .unwrap()
            .mode()
        {
            Err(e) => e,
            Ok(_) => panic!("an empty stream id is refused"),
        };
        assert!(err.to_string().contains("--view"), "{err}");
    }
}

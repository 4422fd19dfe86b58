//! `roomrec loadgen`: synthetic publishers against a relay or server, reporting what they sent as
//! JSON lines on stdout.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use clap::Args;
use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::loadgen::{run_loadgen, LoadgenOptions, Profile};

use crate::args::dialect_parser;

/// Flags of `roomrec loadgen`.
#[derive(Args, Debug, Clone)]
pub struct LoadgenArgs {
    /// Signaling server (ws:// or wss://) the publishers join
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// Room to publish in
    #[arg(long, value_name = "ROOM")]
    pub room: String,
    /// Signaling dialect [default: official for vdo.ninja hosts, relay otherwise]
    #[arg(long, value_parser = dialect_parser())]
    pub dialect: Option<Dialect>,
    /// Room password; without a value or absent: VDO.Ninja's default; false/0/off: none
    #[arg(long, value_name = "PASSWORD", num_args = 0..=1)]
    pub password: Option<Option<String>>,
    /// Hashing salt [default: derived from the server host]
    #[arg(long, value_name = "SALT")]
    pub salt: Option<String>,
    /// Number of publishers
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub publishers: u32,
    /// Publishers joining per second
    #[arg(long, value_name = "PER_SEC", default_value_t = 20.0, value_parser = positive_f64)]
    pub join_rate: f64,
    /// Video codecs, assigned to publishers round robin (h264, vp8, vp9, av1)
    #[arg(long, value_name = "LIST", value_delimiter = ',', default_value = "h264,vp8", value_parser = parse_codec)]
    pub codecs: Vec<Codec>,
    /// Send no video
    #[arg(long)]
    pub novideo: bool,
    /// Send no audio
    #[arg(long)]
    pub noaudio: bool,
    /// Media profile: 320x240 (bundled, ~300 kbit/s) or 720p (padded to 2.5 Mbit/s)
    #[arg(long, value_name = "NAME", default_value = "320x240")]
    pub profile: Profile,
    /// Video bitrate in kbit/s (pads frames; overrides the profile's)
    #[arg(long, value_name = "KBPS")]
    pub bitrate: Option<u64>,
    /// Seconds to run, then hang up everyone [default: until Ctrl-C]
    #[arg(long, value_name = "SECS", value_parser = positive_f64)]
    pub duration: Option<f64>,
    /// Hang up and rejoin under a new peer id every SECS seconds
    #[arg(long, value_name = "SECS", value_parser = positive_f64)]
    pub rejoin_every: Option<f64>,
    /// Drop this fraction (0..1) of outgoing datagrams
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    pub loss: f64,
    /// Address the publishers bind and announce
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub local_ip: IpAddr,
    /// Stream ids are PREFIX0000, PREFIX0001, ...
    #[arg(long, value_name = "PREFIX", default_value = "lg")]
    pub stream_prefix: String,
}

impl LoadgenArgs {
    pub fn options(&self) -> Result<LoadgenOptions, String> {
        if !(0.0..1.0).contains(&self.loss) {
            return Err("--loss must be in [0, 1)".into());
        }
        Ok(LoadgenOptions {
            server: self.server.clone(),
            room: self.room.clone(),
            dialect: self.dialect,
            password: Password::parse(self.password.as_ref().and_then(|p| p.as_deref())),
            salt: self.salt.clone(),
            publishers: self.publishers,
            join_rate: self.join_rate,
            codecs: if self.novideo {
                Vec::new()
            } else {
                self.codecs.clone()
            },
            audio: !self.noaudio,
            profile: self.profile,
            bitrate: self.bitrate.map(|k| k * 1000),
            duration: self.duration.map(Duration::from_secs_f64),
            rejoin_every: self.rejoin_every.map(Duration::from_secs_f64),
            loss: self.loss,
            local_ip: self.local_ip,
            stream_prefix: self.stream_prefix.clone(),
        })
    }
}

pub async fn loadgen_main(args: LoadgenArgs) -> Result<(), String> {
    let options = args.options()?;
    let stdout = std::io::stdout();
    run_loadgen(
        options,
        roomrec_io_tokio::signals::shutdown_signal(),
        move |line| {
            let mut out = stdout.lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        },
    )
    .await
}

fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

fn parse_codec(s: &str) -> Result<Codec, String> {
    match Codec::from_name(s) {
        Some(c) if c != Codec::Opus => Ok(c),
        _ => Err(format!(
            "unknown video codec {s:?} (expected h264, vp8, vp9, av1)"
        )),
    }
}

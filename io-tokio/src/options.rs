//! Everything the CLI (or a test) decides before recording starts, and the defaults derived from it.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::password::salt_for_host;
use roomrec_core::signaling::{Dialect, Password};
use tokio_tungstenite::tungstenite::http::Uri;

pub const DEFAULT_SERVER: &str = "wss://wss.vdo.ninja:443";

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
    /// Only record these stream ids; None = all.
    pub record_streams: Option<Vec<String>>,
    pub audio: bool,
    pub video: bool,
    /// Video codec preference; empty = the publisher's order.
    pub video_codecs: Vec<Codec>,
    pub output_dir: PathBuf,
    /// Addresses announced as ICE host candidates; empty = every non-loopback interface address.
    pub ice_ips: Vec<IpAddr>,
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
            connect_timeout: Duration::from_secs(15),
            label: "roomrec".to_string(),
            signaling_trace: None,
            signaling_trace_redact: false,
            shutdown_timeout: Duration::from_secs(2),
        }
    }

    /// Host name of the signaling server (no brackets for IPv6 literals).
    pub fn server_host(&self) -> Result<String, OptionsError> {
        server_host(&self.server)
    }

    pub fn effective_salt(&self) -> Result<String, OptionsError> {
        match &self.salt {
            Some(s) => Ok(s.clone()),
            None => Ok(salt_for_host(&self.server_host()?)),
        }
    }

    pub fn effective_dialect(&self) -> Result<Dialect, OptionsError> {
        match self.dialect {
            Some(d) => Ok(d),
            None => Ok(default_dialect(&self.server_host()?)),
        }
    }

    pub fn prefix(&self) -> &str {
        self.record_prefix.as_deref().unwrap_or(&self.room)
    }

    /// Checks that need no I/O: room, URL, media selection, ICE addresses.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.room.trim().is_empty() {
            return Err(OptionsError("the room name is empty".into()));
        }
        self.server_host()?;
        if !self.audio && !self.video {
            return Err(OptionsError(
                "audio and video are both disabled: nothing to record".into(),
            ));
        }
        if let Some(c) = self
            .video_codecs
            .iter()
            .find(|c| c.kind() != roomrec_core::media::TrackKind::Video)
        {
            return Err(OptionsError(format!("{} is not a video codec", c.name())));
        }
        if let Some(ip) = self
            .ice_ips
            .iter()
            .find(|ip| ip.is_unspecified() || ip.is_multicast())
        {
            return Err(OptionsError(format!(
                "ICE address {ip} is not a concrete unicast address"
            )));
        }
        Ok(())
    }
}

/// Official dialect for the public VDO.Ninja servers, relay dialect for anything self-hosted.
pub fn default_dialect(host: &str) -> Dialect {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "vdo.ninja" || host.ends_with(".vdo.ninja") {
        Dialect::Official
    } else {
        Dialect::Relay
    }
}

/// Host of a `ws://` / `wss://` URL; any other scheme or a missing host is an error.
pub fn server_host(url: &str) -> Result<String, OptionsError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| OptionsError(format!("invalid server URL {url:?}: {e}")))?;
    match uri.scheme_str() {
        Some("ws") | Some("wss") => {}
        Some(other) => {
            return Err(OptionsError(format!(
                "invalid server URL {url:?}: scheme {other:?} is not ws or wss"
            )))
        }
        None => {
            return Err(OptionsError(format!(
                "invalid server URL {url:?}: expected ws://HOST or wss://HOST"
            )))
        }
    }
    let host = uri.host().filter(|h| !h.is_empty());
    let host = host.ok_or_else(|| OptionsError(format!("invalid server URL {url:?}: no host")))?;
    Ok(host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionsError(pub String);

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for OptionsError {}

#[cfg(test)]
mod tests {
    use super::*;

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
            .0
            .contains("scheme"));
        assert!(server_host("example.com").is_err());
        assert!(server_host("").is_err());
        assert!(server_host("wss://").is_err());
    }

    #[test]
    fn defaults_and_validation() {
        let mut o = RecorderOptions::new("room1");
        assert_eq!(o.prefix(), "room1");
        assert_eq!(o.effective_dialect().unwrap(), Dialect::Official);
        o.record_prefix = Some("rec".into());
        assert_eq!(o.prefix(), "rec");
        o.server = "ws://localhost:8080".into();
        assert_eq!(o.effective_dialect().unwrap(), Dialect::Relay);
        o.dialect = Some(Dialect::Official);
        assert_eq!(o.effective_dialect().unwrap(), Dialect::Official);
        o.salt = Some("s".into());
        assert_eq!(o.effective_salt().unwrap(), "s");
        assert!(o.validate().is_ok());
        o.video_codecs = vec![Codec::Opus];
        assert!(o.validate().is_err());
        o.video_codecs = vec![Codec::Vp9];
        o.ice_ips = vec!["0.0.0.0".parse().unwrap()];
        assert!(o.validate().is_err());
        o.ice_ips.clear();
        o.audio = false;
        o.video = false;
        assert!(o.validate().is_err());
        o.audio = true;
        o.room = "  ".into();
        assert!(o.validate().is_err());
    }
}

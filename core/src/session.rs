//! One WebRTC connection to one publisher: a str0m `Rtc` as the answering, receive-only side, plus
//! the VDO.Ninja data-channel protocol on top (request, re-offers, ping, bye).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::channel::ChannelId;
use str0m::media::{KeyframeRequestKind, MediaData, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

use crate::media::{Codec, MediaFrame, SenderClock};
use crate::room::{SessionCommand, SessionKey, SessionReport};
use crate::signaling::datachannel::{self, DcIncoming, ViewerRequest};
use crate::signaling::{Cipher, IceCandidate};

mod sdp;

/// The data channel VDO.Ninja negotiates first; everything after the first offer travels on it.
const CONTROL_CHANNEL: &str = "sendChannel";
/// A connection whose ICE stays disconnected this long is considered dead.
const DISCONNECTED_GRACE: Duration = Duration::from_secs(5);
/// str0m reports "nothing to do" as a timeout ~100 years away; callers want something sane.
const MAX_IDLE: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub key: SessionKey,
    /// Stream id without the password suffix.
    pub stream_id: String,
    pub cipher: Option<Cipher>,
    /// Our host candidates: addresses of the UDP socket(s) the caller bound for this session.
    pub local_addrs: Vec<SocketAddr>,
    /// Video codec preference; empty = the publisher's order.
    pub video_codecs: Vec<Codec>,
    pub audio: bool,
    pub video: bool,
    /// Our display label in the data-channel request.
    pub label: String,
    /// str0m has no failed state: give up if not connected by then.
    pub connect_timeout: Duration,
    /// Seeds str0m's ids and our IVs.
    pub seed: u64,
}

#[derive(Clone, Debug)]
pub enum SessionInput {
    Datagram {
        source: SocketAddr,
        destination: SocketAddr,
        contents: Vec<u8>,
    },
    Command(SessionCommand),
    /// The media layer wants a keyframe on this track (mid).
    RequestKeyframe {
        track: String,
    },
}

#[derive(Clone, Debug)]
pub enum SessionOutput {
    Transmit {
        source: SocketAddr,
        destination: SocketAddr,
        contents: Vec<u8>,
    },
    Report(SessionReport),
    Frame(MediaFrame),
    /// The publisher's display name (`info.label`).
    Label(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionError(pub String);

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SessionError {}

pub struct Session {
    config: SessionConfig,
    rtc: Rtc,
    rng: fastrand::Rng,
    out: VecDeque<SessionOutput>,
    control: Option<ChannelId>,
    created: Instant,
    connected: bool,
    disconnected_since: Option<Instant>,
    rtc_timeout: Instant,
    closed: Option<String>,
    /// Set by [`Session::handle_control_text`]: data-channel texts are collected here.
    captured_control: Option<Vec<String>>,
}

impl Session {
    /// Accepts the offer that opened the connection; the answer comes out as
    /// `SessionOutput::Report(SessionReport::Answer)`.
    pub fn new(
        now: Instant,
        config: SessionConfig,
        offer_sdp: &str,
    ) -> Result<Session, SessionError> {
        // str0m draws ids from fastrand's thread-local generator: seed it so runs are reproducible.
        fastrand::seed(config.seed);
        let codec_order = sdp::video_codec_order(&config.video_codecs, offer_sdp);
        let mut builder = Rtc::builder().clear_codecs().enable_opus(true, false);
        for codec in &codec_order {
            builder = match codec {
                Codec::H264 => builder.enable_h264(true),
                Codec::Vp8 => builder.enable_vp8(true),
                Codec::Vp9 => builder.enable_vp9(true),
                Codec::Av1 => builder.enable_av1(true),
                Codec::Opus => builder,
            };
        }
        let mut rtc = builder.build(now);
        for addr in &config.local_addrs {
            let candidate = Candidate::host(*addr, "udp")
                .map_err(|e| SessionError(format!("bad local address {addr}: {e}")))?;
            rtc.add_local_candidate(candidate);
        }
        let rng = fastrand::Rng::with_seed(config.seed ^ 0x5e55_1011);
        let mut session = Session {
            config,
            rtc,
            rng,
            out: VecDeque::new(),
            control: None,
            created: now,
            connected: false,
            disconnected_since: None,
            rtc_timeout: now,
            closed: None,
            captured_control: None,
        };
        let answer = session.accept_offer(offer_sdp)?;
        session
            .out
            .push_back(SessionOutput::Report(SessionReport::Answer { sdp: answer }));
        session.drain(now);
        Ok(session)
    }

    pub fn handle_input(&mut self, now: Instant, input: SessionInput) {
        if self.closed.is_some() {
            return;
        }
        match input {
            SessionInput::Datagram {
                source,
                destination,
                contents,
            } => {
                let Ok(contents) = contents.as_slice().try_into() else {
                    tracing::debug!(session = %self.config.key, "ignoring unrecognised datagram");
                    return;
                };
                let receive = Receive {
                    proto: Protocol::Udp,
                    source,
                    destination,
                    contents,
                };
                if let Err(e) = self.rtc.handle_input(Input::Receive(now, receive)) {
                    tracing::debug!(session = %self.config.key, "datagram rejected: {e}");
                }
            }
            SessionInput::Command(SessionCommand::RemoteCandidates(candidates)) => {
                self.add_remote_candidates(&candidates);
            }
            SessionInput::Command(SessionCommand::Close) => {
                self.close(now, "closed by the room".into());
                return;
            }
            SessionInput::RequestKeyframe { track } => self.request_keyframe(&track),
        }
        self.drain(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed.is_some() {
            return;
        }
        if !self.connected && now >= self.created + self.config.connect_timeout {
            self.close(
                now,
                format!("not connected after {:?}", self.config.connect_timeout),
            );
            return;
        }
        if let Some(since) = self.disconnected_since {
            if now >= since + DISCONNECTED_GRACE {
                self.close(now, "ICE disconnected".into());
                return;
            }
        }
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            self.close(now, format!("rtc error: {e}"));
            return;
        }
        self.drain(now);
    }

    pub fn poll_output(&mut self) -> Option<SessionOutput> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Instant {
        let mut next = self.rtc_timeout;
        if !self.connected {
            next = next.min(self.created + self.config.connect_timeout);
        }
        if let Some(since) = self.disconnected_since {
            next = next.min(since + DISCONNECTED_GRACE);
        }
        next
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    pub fn key(&self) -> &SessionKey {
        &self.config.key
    }

    /// Whether this datagram belongs to this session (for callers that share a socket).
    pub fn accepts(&self, source: SocketAddr, destination: SocketAddr, contents: &[u8]) -> bool {
        let Ok(contents) = contents.try_into() else {
            return false;
        };
        let receive = Receive {
            proto: Protocol::Udp,
            source,
            destination,
            contents,
        };
        self.rtc.accepts(&Input::Receive(self.rtc_timeout, receive))
    }

    /// Test hook for trace replays: handles `text` as if it arrived on the control data channel
    /// and returns what the session sends back on it. Captured browser offers cannot complete a
    /// DTLS/SCTP connection, so this is the only way to reach the data-channel protocol with them.
    #[doc(hidden)]
    pub fn handle_control_text(&mut self, now: Instant, text: &str) -> Vec<String> {
        self.captured_control = Some(Vec::new());
        self.handle_control(now, text);
        self.drain(now);
        self.captured_control.take().unwrap_or_default()
    }

    fn accept_offer(&mut self, offer_sdp: &str) -> Result<String, SessionError> {
        sdp::check_offer_limits(offer_sdp)
            .map_err(|e| SessionError(format!("offer rejected: {e}")))?;
        let recvonly = sdp::as_recvonly_offer(offer_sdp);
        let offer = SdpOffer::from_sdp_string(&recvonly)
            .map_err(|e| SessionError(format!("unparsable offer: {e}")))?;
        // Defence in depth: str0m asserts on some inconsistent offers (two found by fuzzing are
        // refused above); an unknown one must cost this offer, not the recorder.
        let rtc = &mut self.rtc;
        let accepted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rtc.sdp_api().accept_offer(offer)
        }))
        .map_err(|_| SessionError("offer rejected: str0m could not apply it".into()))?;
        let answer = accepted.map_err(|e| SessionError(format!("offer rejected: {e}")))?;
        Ok(answer.to_sdp_string())
    }

    fn add_remote_candidates(&mut self, candidates: &[IceCandidate]) {
        for c in candidates {
            let text = c.candidate.trim();
            let text = text.strip_prefix("a=").unwrap_or(text);
            match Candidate::from_sdp_string(text) {
                // mDNS names cannot be resolved here; TCP candidates are not supported.
                Ok(cand) if cand.proto() == Protocol::Udp => self.rtc.add_remote_candidate(cand),
                Ok(_) => tracing::debug!(session = %self.config.key, "skipping non-UDP candidate"),
                Err(e) => {
                    tracing::debug!(session = %self.config.key, "skipping candidate {text:?}: {e}")
                }
            }
        }
    }

    fn request_keyframe(&mut self, track: &str) {
        let mid = Mid::from(track);
        match self.rtc.writer(mid) {
            Some(mut writer) => {
                if let Err(e) = writer.request_keyframe(None, KeyframeRequestKind::Pli) {
                    tracing::debug!(session = %self.config.key, "keyframe request on {track} failed: {e}");
                }
            }
            None => {
                tracing::debug!(session = %self.config.key, "no track {track} to request a keyframe on")
            }
        }
    }

    fn close(&mut self, now: Instant, reason: String) {
        if self.closed.is_some() {
            return;
        }
        self.send_control(&datachannel::encode_bye());
        self.drain(now);
        self.rtc.disconnect();
        tracing::info!(session = %self.config.key, stream = %self.config.stream_id, "connection closed: {reason}");
        self.out
            .push_back(SessionOutput::Report(SessionReport::Closed {
                reason: reason.clone(),
            }));
        self.closed = Some(reason);
    }

    fn send_control(&mut self, text: &str) {
        if let Some(captured) = &mut self.captured_control {
            captured.push(text.to_string());
            return;
        }
        let Some(id) = self.control else { return };
        if let Some(mut channel) = self.rtc.channel(id) {
            if let Err(e) = channel.write(false, text.as_bytes()) {
                tracing::debug!(session = %self.config.key, "data channel write failed: {e}");
            }
        }
    }

    fn random_iv(&mut self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.iter_mut().for_each(|b| *b = self.rng.u8(..));
        iv
    }

    /// Runs str0m until it has nothing more to say, turning its outputs into ours.
    fn drain(&mut self, now: Instant) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.rtc_timeout = t.min(now + MAX_IDLE).max(now);
                    return;
                }
                Ok(Output::Transmit(t)) => self.out.push_back(SessionOutput::Transmit {
                    source: t.source,
                    destination: t.destination,
                    contents: t.contents.to_vec(),
                }),
                Ok(Output::Event(event)) => self.handle_event(now, event),
                Err(e) => {
                    self.rtc_timeout = now;
                    self.close(now, format!("rtc error: {e}"));
                    return;
                }
            }
            if self.closed.is_some() {
                return;
            }
        }
    }

    fn handle_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::Connected => {
                self.connected = true;
                tracing::info!(session = %self.config.key, stream = %self.config.stream_id, "connected");
            }
            Event::IceConnectionStateChange(state) => match state {
                IceConnectionState::Disconnected => {
                    self.disconnected_since.get_or_insert(now);
                }
                _ => self.disconnected_since = None,
            },
            Event::ChannelOpen(id, label) if label == CONTROL_CHANNEL => {
                self.control = Some(id);
                let request = ViewerRequest {
                    audio: self.config.audio,
                    video: self.config.video,
                    label: self.config.label.clone(),
                    prefer_video_codec: self
                        .config
                        .video_codecs
                        .first()
                        .map(|c| c.name().to_string()),
                };
                self.send_control(&datachannel::encode_request(&request));
            }
            Event::ChannelData(data) if Some(data.id) == self.control && !data.binary => {
                match std::str::from_utf8(&data.data) {
                    Ok(text) => self.handle_control(now, text),
                    Err(_) => {
                        tracing::warn!(session = %self.config.key, "non-UTF-8 data-channel message ignored")
                    }
                }
            }
            Event::ChannelClose(id) if Some(id) == self.control => {
                self.control = None;
            }
            // DTLS or SCTP ended (a browser's `pc.close()` sends close_notify): str0m goes inert
            // and would never report ICE trouble, so the session would live on without media.
            Event::Closed => self.close(now, "the connection was closed (DTLS/SCTP)".into()),
            Event::MediaData(data) => {
                if let Some(frame) = to_frame(data) {
                    self.out.push_back(SessionOutput::Frame(frame));
                }
            }
            _ => {}
        }
    }

    fn handle_control(&mut self, now: Instant, text: &str) {
        let items = match datachannel::decode(self.config.cipher.as_ref(), text) {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(session = %self.config.key, "bad data-channel message ignored: {e}");
                return;
            }
        };
        for item in items {
            match item {
                DcIncoming::Description {
                    kind,
                    sdp,
                    session,
                    encrypted,
                } => self.handle_reoffer(&kind, &sdp, session.as_deref(), encrypted),
                DcIncoming::Candidates {
                    session,
                    candidates,
                } => {
                    if session
                        .as_deref()
                        .is_none_or(|s| s == self.config.key.session)
                    {
                        self.add_remote_candidates(&candidates);
                    }
                }
                DcIncoming::Ping(value) => self.send_control(&datachannel::encode_pong(&value)),
                DcIncoming::Bye => {
                    self.close(now, "publisher said bye".into());
                    return;
                }
                DcIncoming::Info { label: Some(label) } => {
                    self.out.push_back(SessionOutput::Label(label))
                }
                DcIncoming::Info { label: None } | DcIncoming::VideoMuted(_) => {}
            }
        }
    }

    fn handle_reoffer(&mut self, kind: &str, sdp: &str, session: Option<&str>, encrypted: bool) {
        if kind != "offer" {
            tracing::debug!(session = %self.config.key, "ignoring data-channel {kind}");
            return;
        }
        if session.is_some_and(|s| s != self.config.key.session) {
            tracing::warn!(session = %self.config.key, "re-offer for another session ignored");
            return;
        }
        match self.accept_offer(sdp) {
            Ok(answer) => {
                let cipher = if encrypted {
                    self.config.cipher.clone()
                } else {
                    None
                };
                let iv = self.random_iv();
                let text = datachannel::encode_answer(
                    cipher.as_ref(),
                    &self.config.key.session,
                    &answer,
                    iv,
                );
                self.send_control(&text);
            }
            Err(e) => tracing::warn!(session = %self.config.key, "re-offer rejected: {e}"),
        }
    }
}

fn to_frame(data: MediaData) -> Option<MediaFrame> {
    use str0m::format::Codec as C;
    let codec = match data.params.spec().codec {
        C::H264 => Codec::H264,
        C::Vp8 => Codec::Vp8,
        C::Vp9 => Codec::Vp9,
        C::Av1 => Codec::Av1,
        C::Opus => Codec::Opus,
        other => {
            tracing::debug!("dropping frame of unsupported codec {other:?}");
            return None;
        }
    };
    let clock_rate = data.time.frequency().get();
    let sender_clock = data.last_sender_info.map(|info| SenderClock {
        ntp_time: info.ntp_time,
        rtp_time: info.rtp_time.rebase(data.time.frequency()).numer(),
    });
    Some(MediaFrame {
        track: data.mid.to_string(),
        codec,
        rtp_time: data.time.numer(),
        clock_rate,
        keyframe: crate::media::codec::is_keyframe(codec, &data.data),
        contiguous: data.contiguous,
        data: data.data,
        received_at: data.network_time,
        sender_clock,
    })
}

//! The WebRTC half of a connection: a str0m `Rtc` as the answering, receive-only side, plus the
//! VDO.Ninja data-channel protocol on top (request, re-offers, ping, bye). Crate-private: the
//! [`Connection`](super::Connection) owns it and feeds its frames to the recorder.
//!
//! str0m's rule "every mutation is followed by a complete drain" is kept here: each public method
//! ends with [`Webrtc::drain`], and what an event triggers (a re-offer, a reply on the data
//! channel) happens inside a drain, which then runs on to str0m's next timeout.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::channel::ChannelId;
use str0m::media::{KeyframeRequestKind, MediaData, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};

use super::api::{CandidateSummary, CloseReason, ConnectionSettings, SessionKey};
use super::sdp;
use super::stats::{IngressCounters, STATS_INTERVAL};
use crate::media::{Codec, MediaFrame, SenderClock};
use crate::signaling::datachannel::{self, DcIncoming, ViewerRequest};
use crate::signaling::{random_iv, Cipher, IceCandidate};

/// The data channel VDO.Ninja negotiates first; everything after the first offer travels on it.
const CONTROL_CHANNEL: &str = "sendChannel";
/// A connection whose ICE stays disconnected this long is considered dead.
const DISCONNECTED_GRACE: Duration = Duration::from_secs(5);
/// Nothing received from a connected publisher for this long is reported as `Disconnected`
/// long before ICE gives up (its checks take about 25 s to fail); nothing is closed for it.
pub const SILENCE_REPORTED_AFTER: Duration = Duration::from_secs(5);
/// str0m reports "nothing to do" as a timeout ~100 years away; wake at least this often anyway.
const MAX_IDLE: Duration = Duration::from_secs(1);

/// What the WebRTC half hands to its connection.
#[derive(Debug)]
pub(crate) enum WebrtcOutput {
    Transmit {
        source: SocketAddr,
        destination: SocketAddr,
        contents: Vec<u8>,
    },
    Answer(String),
    Connected,
    Frame(MediaFrame),
    /// The RTP audio level (RFC 6464) of a frame's first packet, on an audio track.
    AudioLevel {
        track: String,
        dbov: i8,
    },
    /// The publisher's display name (`info.label`).
    Label(String),
    /// A candidate address of the publisher (TURN needs a permission for its IP).
    RemoteAddress(SocketAddr),
    /// Nothing arrived for [`SILENCE_REPORTED_AFTER`], or ICE lost the publisher; only the
    /// latter ends the connection (unless it comes back within the grace period).
    Disconnected,
    /// Datagrams (and ICE) are back after `Disconnected`.
    Reconnected,
    /// The last output: nothing follows.
    Closed(CloseReason),
}

pub(crate) struct Webrtc {
    key: SessionKey,
    stream_id: String,
    cipher: Option<Cipher>,
    settings: ConnectionSettings,
    rtc: Rtc,
    rng: fastrand::Rng,
    out: VecDeque<WebrtcOutput>,
    control: Option<ChannelId>,
    created: Instant,
    connected: bool,
    /// The candidate pair in use has been logged (first datagram sent after connecting).
    pair_logged: bool,
    disconnected_since: Option<Instant>,
    /// `Disconnected` was reported and `Reconnected` not yet.
    lost_reported: bool,
    /// When the last datagram arrived (creation time before the first).
    last_received: Instant,
    rtc_timeout: Instant,
    ingress: IngressCounters,
    /// What both sides offered, for the diagnosis when nothing connects.
    candidates: CandidateSummary,
    pending_problems: Vec<String>,
    /// `sdpMid` and `usernameFragment` of our answer, for trickled candidates.
    answer_mid: String,
    answer_ufrag: Option<String>,
    /// A close that an event asked for, carried out when the current drain ends.
    close_after_drain: Option<CloseReason>,
    /// `close` is running: further close requests are moot.
    closing: bool,
    closed: bool,
    /// Set by [`Webrtc::handle_control_text`]: data-channel texts are collected here.
    #[cfg(feature = "test-hooks")]
    captured_control: Option<Vec<String>>,
}

/// Identity and secrets of one WebRTC session.
pub(crate) struct WebrtcStart<'a> {
    pub key: SessionKey,
    pub stream_id: String,
    pub cipher: Option<Cipher>,
    pub settings: ConnectionSettings,
    pub seed: u64,
    pub local_addrs: &'a [SocketAddr],
    pub offer_sdp: &'a str,
}

impl Webrtc {
    /// Accepts the offer that opened the connection; the answer (or the reason it was refused,
    /// as `Closed`) comes out of `poll_output`. str0m draws its ids from the thread's `fastrand`
    /// generator: a caller that wants reproducible runs seeds that thread (it owns it).
    pub fn new(now: Instant, start: WebrtcStart<'_>) -> Webrtc {
        let codec_order = sdp::video_codec_order(&start.settings.video_codecs, start.offer_sdp);
        let mut builder = Rtc::builder()
            .set_stats_interval(Some(STATS_INTERVAL))
            .clear_codecs()
            .enable_opus(true, false);
        for codec in &codec_order {
            builder = match codec {
                Codec::H264 => builder.enable_h264(true),
                Codec::Vp8 => builder.enable_vp8(true),
                Codec::Vp9 => builder.enable_vp9(true),
                Codec::Av1 => builder.enable_av1(true),
                Codec::Opus => builder,
            };
        }
        let mut webrtc = Webrtc {
            key: start.key,
            stream_id: start.stream_id,
            cipher: start.cipher,
            settings: start.settings,
            rtc: builder.build(now),
            rng: fastrand::Rng::with_seed(start.seed ^ 0x5e55_1011),
            out: VecDeque::new(),
            control: None,
            created: now,
            connected: false,
            pair_logged: false,
            disconnected_since: None,
            lost_reported: false,
            last_received: now,
            rtc_timeout: now,
            ingress: IngressCounters::default(),
            candidates: CandidateSummary::default(),
            pending_problems: Vec::new(),
            answer_mid: "0".into(),
            answer_ufrag: None,
            close_after_drain: None,
            closing: false,
            closed: false,
            #[cfg(feature = "test-hooks")]
            captured_control: None,
        };
        if let Err(reason) = webrtc.start(now, start.local_addrs, start.offer_sdp) {
            webrtc.finish(reason);
        }
        webrtc
    }

    fn start(
        &mut self,
        now: Instant,
        local_addrs: &[SocketAddr],
        offer_sdp: &str,
    ) -> Result<(), CloseReason> {
        if local_addrs.is_empty() {
            return Err(CloseReason::NoLocalAddress);
        }
        // Relay only: our addresses are never announced (TURN's candidates come later).
        let announced = if self.settings.relay_only {
            &[][..]
        } else {
            local_addrs
        };
        for addr in announced {
            let candidate = Candidate::host(*addr, "udp").map_err(|e| {
                CloseReason::OfferRejected(format!("bad local address {addr}: {e}"))
            })?;
            self.rtc.add_local_candidate(candidate);
            CandidateSummary::push(&mut self.candidates.local, "host", *addr);
            self.drain(now);
            let public: Vec<IpAddr> = self.settings.public_ips.clone();
            for ip in public
                .iter()
                .filter(|ip| ip.is_ipv4() == addr.is_ipv4() && **ip != addr.ip())
            {
                let mapped = SocketAddr::new(*ip, addr.port());
                match Candidate::server_reflexive(mapped, *addr, "udp") {
                    Ok(candidate) => {
                        self.rtc.add_local_candidate(candidate);
                        CandidateSummary::push(&mut self.candidates.local, "srflx", mapped);
                        self.drain(now);
                    }
                    Err(e) => tracing::warn!(%mapped, "cannot announce public address: {e}"),
                }
            }
        }
        let answer = self.accept_offer(offer_sdp)?;
        for line in answer.lines() {
            if let Some(mid) = line.strip_prefix("a=mid:") {
                if self.answer_ufrag.is_none() {
                    self.answer_mid = mid.trim().to_string();
                }
            } else if let Some(ufrag) = line.strip_prefix("a=ice-ufrag:") {
                self.answer_ufrag
                    .get_or_insert_with(|| ufrag.trim().to_string());
            }
        }
        for line in offer_sdp.lines().filter(|l| l.starts_with("a=candidate")) {
            self.note_remote(line);
        }
        self.out.push_back(WebrtcOutput::Answer(answer));
        self.drain(now);
        Ok(())
    }

    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        if self.closed {
            return;
        }
        let Ok(contents) = contents.try_into() else {
            tracing::debug!(session = %self.key, "ignoring unrecognised datagram");
            return;
        };
        self.last_received = now;
        // Silence over (ICE's own recovery, if it lost the pair too, reports itself).
        if self.lost_reported && self.disconnected_since.is_none() {
            self.lost_reported = false;
            self.out.push_back(WebrtcOutput::Reconnected);
        }
        let receive = Receive {
            proto: Protocol::Udp,
            source,
            destination,
            contents,
        };
        if let Err(e) = self.rtc.handle_input(Input::Receive(now, receive)) {
            tracing::debug!(session = %self.key, "datagram rejected: {e}");
        }
        self.drain(now);
    }

    /// Adds a candidate found after the answer; returns it as the publisher must hear of it.
    pub fn add_local_candidate(
        &mut self,
        now: Instant,
        candidate: Candidate,
        kind: &str,
    ) -> Option<IceCandidate> {
        if self.closed || self.closing {
            return None;
        }
        let addr = candidate.addr();
        let sdp = self
            .rtc
            .add_local_candidate(candidate)
            .map(|c| c.to_sdp_string());
        CandidateSummary::push(&mut self.candidates.local, kind, addr);
        self.drain(now);
        let sdp = sdp?;
        Some(IceCandidate {
            candidate: sdp.trim().trim_start_matches("a=").to_string(),
            sdp_mid: Some(self.answer_mid.clone()),
            sdp_mline_index: Some(0),
            username_fragment: self.answer_ufrag.clone(),
        })
    }

    /// Our ICE username fragment (from the answer), once answered.
    pub fn local_ufrag(&self) -> Option<&str> {
        self.answer_ufrag.as_deref()
    }

    /// Remembers why we have fewer candidates than configured, for the diagnosis.
    pub fn note_problem(&mut self, problem: String) {
        CandidateSummary::note(&mut self.candidates.problems, problem);
    }

    /// Problems that may still resolve (a TURN allocation in progress): replaced on every call,
    /// shown only if the connection never comes up.
    pub fn set_pending_problems(&mut self, problems: Vec<String>) {
        self.pending_problems = problems;
    }

    pub fn add_remote_candidates(&mut self, now: Instant, candidates: &[IceCandidate]) {
        if self.closed {
            return;
        }
        self.add_candidates(candidates);
        self.drain(now);
    }

    /// Ends the connection (says bye on the data channel first).
    pub fn close(&mut self, now: Instant, reason: CloseReason) {
        if self.closed || self.closing {
            return;
        }
        self.closing = true;
        self.send_control(&datachannel::encode_bye());
        self.drain(now);
        self.rtc.disconnect();
        // Let the bye and the close alerts out; str0m is not touched again after this drain.
        self.drain(now);
        self.finish(reason);
    }

    pub fn request_keyframe(&mut self, now: Instant, track: &str) {
        if self.closed {
            return;
        }
        let mid = Mid::from(track);
        match self.rtc.writer(mid) {
            Some(mut writer) => {
                if let Err(e) = writer.request_keyframe(None, KeyframeRequestKind::Pli) {
                    tracing::debug!(session = %self.key, "keyframe request on {track} failed: {e}");
                }
            }
            None => {
                tracing::debug!(session = %self.key, "no track {track} to request a keyframe on")
            }
        }
        self.drain(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        let connect_timeout = self.settings.connect_timeout;
        if !self.connected && now >= self.created + connect_timeout {
            let mut candidates = self.candidates.clone();
            for problem in &self.pending_problems {
                CandidateSummary::note(&mut candidates.problems, problem.clone());
            }
            let after = connect_timeout;
            self.close(now, CloseReason::NotConnected { after, candidates });
            return;
        }
        if let Some(since) = self.disconnected_since {
            if now >= since + DISCONNECTED_GRACE {
                self.close(now, CloseReason::IceDisconnected);
                return;
            }
        }
        if self.connected && !self.lost_reported && now >= self.silence_deadline() {
            tracing::info!(session = %self.key, stream = %self.stream_id, "nothing received for {SILENCE_REPORTED_AFTER:?}");
            self.lost_reported = true;
            self.out.push_back(WebrtcOutput::Disconnected);
        }
        if now < self.rtc_timeout {
            return;
        }
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            self.close(now, CloseReason::Rtc(e.to_string()));
            return;
        }
        self.drain(now);
    }

    /// What arrived so far, per track.
    pub fn ingress(&self) -> &IngressCounters {
        &self.ingress
    }

    pub fn poll_output(&mut self) -> Option<WebrtcOutput> {
        self.out.pop_front()
    }

    /// None once closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let mut next = self.rtc_timeout;
        if !self.connected {
            next = next.min(self.created + self.settings.connect_timeout);
        }
        if let Some(since) = self.disconnected_since {
            next = next.min(since + DISCONNECTED_GRACE);
        }
        if self.connected && !self.lost_reported {
            next = next.min(self.silence_deadline());
        }
        Some(next)
    }

    fn silence_deadline(&self) -> Instant {
        self.last_received + SILENCE_REPORTED_AFTER
    }

    /// Whether this datagram belongs to this connection (for callers that share a socket).
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
        !self.closed && self.rtc.accepts(&Input::Receive(self.rtc_timeout, receive))
    }

    /// Test hook (trace replays): handles `text` as if it arrived on the control data channel
    /// and returns what we send back on it. Captured browser offers cannot complete DTLS/SCTP,
    /// so this is the only way to reach the data-channel protocol with them.
    #[cfg(feature = "test-hooks")]
    pub fn handle_control_text(&mut self, now: Instant, text: &str) -> Vec<String> {
        self.captured_control = Some(Vec::new());
        self.handle_control(text);
        self.drain(now);
        self.captured_control.take().unwrap_or_default()
    }

    /// The last output is `Closed`; nothing happens after it.
    fn finish(&mut self, reason: CloseReason) {
        if self.closed {
            return;
        }
        match reason {
            // Something the user has to act on (network setup, a broken peer).
            CloseReason::NotConnected { .. }
            | CloseReason::OfferRejected(_)
            | CloseReason::Rtc(_) => {
                tracing::warn!(session = %self.key, stream = %self.stream_id, "connection closed: {reason}")
            }
            _ => {
                tracing::info!(session = %self.key, stream = %self.stream_id, "connection closed: {reason}")
            }
        }
        self.out.push_back(WebrtcOutput::Closed(reason));
        self.closed = true;
    }

    fn accept_offer(&mut self, offer_sdp: &str) -> Result<String, CloseReason> {
        let rejected = CloseReason::OfferRejected;
        sdp::check_offer_limits(offer_sdp).map_err(rejected)?;
        let recvonly = sdp::as_recvonly_offer(offer_sdp);
        let offer = SdpOffer::from_sdp_string(&recvonly)
            .map_err(|e| rejected(format!("unparsable: {e}")))?;
        // Defence in depth: str0m asserts on some inconsistent offers (two found by fuzzing are
        // refused above); an unknown one must cost this offer, not the recorder.
        let rtc = &mut self.rtc;
        let accepted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rtc.sdp_api().accept_offer(offer)
        }))
        .map_err(|_| rejected("str0m could not apply it".into()))?;
        let answer = accepted.map_err(|e| rejected(e.to_string()))?;
        Ok(answer.to_sdp_string())
    }

    fn add_candidates(&mut self, candidates: &[IceCandidate]) {
        for c in candidates {
            let text = c.candidate.trim();
            let text = text.strip_prefix("a=").unwrap_or(text);
            match Candidate::from_sdp_string(text) {
                // mDNS names cannot be resolved here; TCP candidates are not supported.
                Ok(cand) if cand.proto() == Protocol::Udp => {
                    CandidateSummary::push(&mut self.candidates.remote, cand.kind(), cand.addr());
                    self.out.push_back(WebrtcOutput::RemoteAddress(cand.addr()));
                    self.rtc.add_remote_candidate(cand)
                }
                Ok(_) => tracing::debug!(session = %self.key, "skipping non-UDP candidate"),
                Err(e) => {
                    tracing::debug!(session = %self.key, "skipping candidate {text:?}: {e}")
                }
            }
        }
    }

    /// Remembers a candidate line of the offer for the diagnosis (str0m applies it itself).
    fn note_remote(&mut self, line: &str) {
        let text = line.trim().trim_start_matches("a=");
        if let Ok(c) = Candidate::from_sdp_string(text) {
            if c.proto() == Protocol::Udp {
                CandidateSummary::push(&mut self.candidates.remote, c.kind(), c.addr());
                self.out.push_back(WebrtcOutput::RemoteAddress(c.addr()));
            }
        }
    }

    fn send_control(&mut self, text: &str) {
        #[cfg(feature = "test-hooks")]
        if let Some(captured) = &mut self.captured_control {
            captured.push(text.to_string());
            return;
        }
        let Some(id) = self.control else { return };
        if let Some(mut channel) = self.rtc.channel(id) {
            if let Err(e) = channel.write(false, text.as_bytes()) {
                tracing::debug!(session = %self.key, "data channel write failed: {e}");
            }
        }
    }

    /// Runs str0m until it has nothing more to say, turning its outputs into ours.
    fn drain(&mut self, now: Instant) {
        while !self.closed {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.rtc_timeout = t.min(now + MAX_IDLE).max(now);
                    break;
                }
                Ok(Output::Transmit(t)) => {
                    if self.connected && !self.pair_logged {
                        self.pair_logged = true;
                        self.log_pair(now, t.source, t.destination);
                    }
                    self.out.push_back(WebrtcOutput::Transmit {
                        source: t.source,
                        destination: t.destination,
                        contents: t.contents.to_vec(),
                    })
                }
                Ok(Output::Event(event)) => self.handle_event(now, event),
                Err(e) => {
                    // str0m is broken: no bye, nothing more goes through it.
                    self.rtc_timeout = now;
                    self.finish(CloseReason::Rtc(e.to_string()));
                }
            }
        }
        if let Some(reason) = self.close_after_drain.take() {
            self.close(now, reason);
        }
    }

    /// Which of the candidates both sides offered carry the media, and how long it took: what a
    /// user (and the network tests) want to know about a connection through NATs.
    fn log_pair(&self, now: Instant, source: SocketAddr, destination: SocketAddr) {
        let kind_of = |list: &[String], addr: SocketAddr, otherwise: &str| {
            let suffix = format!(" {addr}");
            list.iter()
                .find(|c| c.ends_with(&suffix))
                .cloned()
                .unwrap_or_else(|| format!("{otherwise} {addr}"))
        };
        // A host and a srflx candidate share their socket: only a relay tells itself apart.
        let local = kind_of(&self.candidates.local, source, "socket");
        let local = match local.starts_with("relay") {
            true => local,
            false => format!("socket {source}"),
        };
        let remote = kind_of(&self.candidates.remote, destination, "prflx");
        let after = now.saturating_duration_since(self.created);
        tracing::info!(session = %self.key, stream = %self.stream_id, "candidate pair: ours {local}, the publisher's {remote} ({after:?} after the offer)");
    }

    /// Closing from inside a drain would start a drain within the drain: wait for it to end.
    fn close_later(&mut self, reason: CloseReason) {
        self.close_after_drain.get_or_insert(reason);
    }

    fn handle_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::Connected => {
                self.connected = true;
                self.out.push_back(WebrtcOutput::Connected);
                tracing::info!(session = %self.key, stream = %self.stream_id, "connected");
            }
            Event::IceConnectionStateChange(state) => match state {
                IceConnectionState::Disconnected => {
                    self.disconnected_since.get_or_insert(now);
                    if !std::mem::replace(&mut self.lost_reported, true) {
                        self.out.push_back(WebrtcOutput::Disconnected);
                    }
                }
                IceConnectionState::Connected | IceConnectionState::Completed => {
                    // Only ICE's own loss is over here; a silence ends with the next datagram.
                    let ice_was_lost = self.disconnected_since.take().is_some();
                    if ice_was_lost && std::mem::take(&mut self.lost_reported) {
                        self.out.push_back(WebrtcOutput::Reconnected);
                    }
                }
                _ => self.disconnected_since = None,
            },
            Event::ChannelOpen(id, label) if label == CONTROL_CHANNEL => {
                self.control = Some(id);
                let request = ViewerRequest {
                    audio: self.settings.audio,
                    video: self.settings.video,
                    label: self.settings.label.clone(),
                    prefer_video_codec: self
                        .settings
                        .video_codecs
                        .first()
                        .map(|c| c.name().to_string()),
                };
                self.send_control(&datachannel::encode_request(&request));
            }
            Event::ChannelData(data) if Some(data.id) == self.control && !data.binary => {
                match std::str::from_utf8(&data.data) {
                    Ok(text) => self.handle_control(text),
                    Err(_) => {
                        tracing::warn!(session = %self.key, "non-UTF-8 data-channel message ignored")
                    }
                }
            }
            Event::ChannelClose(id) if Some(id) == self.control => {
                self.control = None;
            }
            // DTLS or SCTP ended (a browser's `pc.close()` sends close_notify): str0m goes inert
            // and would never report ICE trouble, so the session would live on without media.
            Event::Closed => self.close_later(CloseReason::RemoteClosed),
            Event::MediaData(data) => {
                let seqs = (**data.seq_range.start(), **data.seq_range.end());
                if let Some(dbov) = data
                    .ext_vals
                    .audio_level
                    .filter(|_| data.params.spec().codec.is_audio())
                {
                    let track = data.mid.to_string();
                    self.out.push_back(WebrtcOutput::AudioLevel { track, dbov });
                }
                if let Some(frame) = to_frame(data) {
                    self.ingress.frame(&frame, seqs.0, seqs.1);
                    self.out.push_back(WebrtcOutput::Frame(frame));
                }
            }
            Event::MediaIngressStats(stats) => self.ingress.ingress(&stats),
            _ => {}
        }
    }

    fn handle_control(&mut self, text: &str) {
        let items = match datachannel::decode(self.cipher.as_ref(), text) {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(session = %self.key, "bad data-channel message ignored: {e}");
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
                    if session.as_deref().is_none_or(|s| s == self.key.session) {
                        self.add_candidates(&candidates);
                    }
                }
                DcIncoming::Ping(value) => self.send_control(&datachannel::encode_pong(&value)),
                DcIncoming::Bye => {
                    self.close_later(CloseReason::PublisherBye);
                    return;
                }
                DcIncoming::Info { label: Some(label) } => {
                    self.out.push_back(WebrtcOutput::Label(label))
                }
                DcIncoming::Info { label: None } | DcIncoming::VideoMuted(_) => {}
            }
        }
    }

    fn handle_reoffer(&mut self, kind: &str, sdp: &str, session: Option<&str>, encrypted: bool) {
        if kind != "offer" {
            tracing::debug!(session = %self.key, "ignoring data-channel {kind}");
            return;
        }
        if session.is_some_and(|s| s != self.key.session) {
            tracing::warn!(session = %self.key, "re-offer for another session ignored");
            return;
        }
        match self.accept_offer(sdp) {
            Ok(answer) => {
                let cipher = if encrypted { self.cipher.clone() } else { None };
                let iv = random_iv(&mut self.rng);
                let text =
                    datachannel::encode_answer(cipher.as_ref(), &self.key.session, &answer, iv);
                self.send_control(&text);
            }
            Err(e) => tracing::warn!(session = %self.key, "re-offer rejected: {e}"),
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

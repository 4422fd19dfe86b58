//! One publisher → viewer connection: the offering str0m `Rtc`, the data-channel handshake and
//! paced sending of encoded frames.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use roomrec_core::signaling::{datachannel, Cipher, DcIncoming, IceCandidate};
use serde_json::Value;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

use roomrec_core::media::{Codec, TrackKind};

use crate::{PublisherOutput, Track};

const MAX_IDLE: Duration = Duration::from_millis(100);

/// Where in its track a sending m-line is.
struct Sending {
    mid: Mid,
    track: usize,
    next: usize,
    loops: u64,
    /// RTP time where the current track began (non-zero after a source switch).
    base: u64,
    /// Video waits for a keyframe after (re)starting.
    need_keyframe: bool,
    sent: u64,
}

pub(crate) struct ViewerConn {
    pub viewer: String,
    pub session: String,
    rtc: Rtc,
    pending: Option<SdpPendingOffer>,
    control: Option<ChannelId>,
    sending: Vec<Sending>,
    media_start: Option<Instant>,
    rtc_timeout: Instant,
    /// Opens sealed descriptions on the data channel.
    cipher: Option<Cipher>,
    pub closed: bool,
    /// Answers accepted (the first one on the WebSocket, re-offers' on the data channel).
    pub answers: u32,
    /// Data-channel messages for the owner, which answers them (sealing with its IV source).
    pub events: VecDeque<ConnEvent>,
    /// What was handed to str0m, by kind (load generators check recordings against it).
    pub counts: SentCounts,
}

/// Which kinds of track are not sent right now.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Muted {
    pub video: bool,
    pub audio: bool,
}

/// Frames handed to str0m on one or more connections, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SentCounts {
    /// Video frames (the first one a keyframe).
    pub video: u64,
    /// Audio frames, all of them.
    pub audio: u64,
    /// Audio frames sent while no video frame had been sent yet: a recorder starting its file on
    /// the first keyframe need not have them.
    pub audio_before_video: u64,
}

impl SentCounts {
    /// Adds `other` (another connection's counts).
    pub fn add(&mut self, other: SentCounts) {
        self.video += other.video;
        self.audio += other.audio;
        self.audio_before_video += other.audio_before_video;
    }
}

pub(crate) enum ConnEvent {
    /// The viewer's request arrived: the owner answers with info + a re-offer.
    Request {
        audio: bool,
        video: bool,
    },
    /// The viewer's answer on the data channel (already opened).
    Description {
        sdp: String,
    },
    Ping(Value),
    Bye,
}

impl ViewerConn {
    /// Returns the connection and its first offer (data channel only, candidates stripped so they
    /// must travel as trickled candidates like Chrome's do).
    pub fn new(
        now: Instant,
        viewer: String,
        session: String,
        codec: Option<Codec>,
        local: SocketAddr,
        cipher: Option<Cipher>,
    ) -> (ViewerConn, String) {
        let mut builder = Rtc::builder().clear_codecs().enable_opus(true, false);
        builder = match codec {
            Some(Codec::H264) => builder.enable_h264(true),
            Some(Codec::Vp8) => builder.enable_vp8(true),
            Some(Codec::Vp9) => builder.enable_vp9(true),
            Some(Codec::Av1) => builder.enable_av1(true),
            _ => builder,
        };
        let mut rtc = builder.build(now);
        if let Ok(c) = Candidate::host(local, "udp") {
            rtc.add_local_candidate(c);
        }
        let mut change = rtc.sdp_api();
        change.add_channel("sendChannel".to_string());
        let (offer, pending) = change.apply().expect("a new channel is a change");
        let sdp: String = offer
            .to_sdp_string()
            .split("\r\n")
            .filter(|l| !l.starts_with("a=candidate") && !l.starts_with("a=end-of-candidates"))
            .map(|l| format!("{l}\r\n"))
            .collect::<String>()
            .trim_end_matches("\r\n")
            .to_string()
            + "\r\n";
        let conn = ViewerConn {
            viewer,
            session,
            rtc,
            pending: Some(pending),
            control: None,
            sending: Vec::new(),
            media_start: None,
            rtc_timeout: now,
            cipher,
            closed: false,
            answers: 0,
            events: VecDeque::new(),
            counts: SentCounts::default(),
        };
        (conn, sdp)
    }

    pub fn local_candidates(
        &self,
        local: SocketAddr,
        reflexive: Option<SocketAddr>,
    ) -> Vec<IceCandidate> {
        let host = Candidate::host(local, "udp");
        let srflx = reflexive
            .filter(|r| *r != local)
            .map(|r| Candidate::server_reflexive(r, local, "udp"));
        std::iter::once(host)
            .chain(srflx)
            .filter_map(|c| c.ok())
            .map(|c| {
                let sdp = c.to_sdp_string();
                IceCandidate {
                    candidate: sdp.strip_prefix("a=").unwrap_or(&sdp).to_string(),
                    sdp_mid: Some("0".into()),
                    sdp_mline_index: Some(0),
                    username_fragment: None,
                }
            })
            .collect()
    }

    /// `first`: the answer came on the WebSocket, so it can only be for the first offer (a late
    /// duplicate must not consume a re-offer that is pending on the data channel).
    pub fn accept_answer(
        &mut self,
        now: Instant,
        sdp: &str,
        first: bool,
        out: &mut VecDeque<PublisherOutput>,
    ) {
        if first != (self.answers == 0) {
            tracing::debug!("publisher: answer in the wrong state ignored");
            return;
        }
        let Some(pending) = self.pending.take() else {
            return;
        };
        match SdpAnswer::from_sdp_string(sdp) {
            Ok(answer) => match self.rtc.sdp_api().accept_answer(pending, answer) {
                Ok(()) => self.answers += 1,
                Err(e) => tracing::warn!("publisher: answer rejected: {e}"),
            },
            Err(e) => tracing::warn!("publisher: unparsable answer: {e}"),
        }
        self.drain(now, out);
    }

    pub fn add_candidates(
        &mut self,
        now: Instant,
        candidates: &[IceCandidate],
        out: &mut VecDeque<PublisherOutput>,
    ) {
        for c in candidates {
            if let Ok(cand) = Candidate::from_sdp_string(&c.candidate) {
                self.rtc.add_remote_candidate(cand);
            }
        }
        self.drain(now, out);
    }

    /// Adds sendonly m-lines for the tracks the viewer asked for; returns the re-offer SDP.
    pub fn add_tracks(
        &mut self,
        now: Instant,
        tracks: &[(usize, TrackKind)],
        out: &mut VecDeque<PublisherOutput>,
    ) -> Option<String> {
        let mut change = self.rtc.sdp_api();
        let mut mids = Vec::new();
        for (index, kind) in tracks {
            let media_kind = if *kind == TrackKind::Audio {
                MediaKind::Audio
            } else {
                MediaKind::Video
            };
            let mid = change.add_media(media_kind, Direction::SendOnly, None, None, None);
            mids.push((mid, *index, *kind));
        }
        let (offer, pending) = change.apply()?;
        self.pending = Some(pending);
        for (mid, track, kind) in mids {
            let need_keyframe = kind == TrackKind::Video;
            self.sending.push(Sending {
                mid,
                track,
                next: 0,
                loops: 0,
                base: 0,
                need_keyframe,
                sent: 0,
            });
        }
        self.drain(now, out);
        Some(offer.to_sdp_string())
    }

    pub fn send_control(&mut self, now: Instant, text: &str, out: &mut VecDeque<PublisherOutput>) {
        if let Some(mut ch) = self.control.and_then(|id| self.rtc.channel(id)) {
            let _ = ch.write(false, text.as_bytes());
        }
        self.drain(now, out);
    }

    /// Like a browser's `pc.close()`: RTCP BYE, SCTP shutdown and DTLS close_notify go out.
    pub fn close(&mut self, now: Instant, out: &mut VecDeque<PublisherOutput>) {
        if self.rtc.close().is_err() {
            self.rtc.disconnect();
        }
        self.drain(now, out);
        self.rtc.disconnect();
        self.closed = true;
    }

    pub fn accepts(&self, source: SocketAddr, destination: SocketAddr, contents: &[u8]) -> bool {
        let Ok(contents) = contents.try_into() else {
            return false;
        };
        let r = Receive {
            proto: Protocol::Udp,
            source,
            destination,
            contents,
        };
        self.rtc.accepts(&Input::Receive(self.rtc_timeout, r))
    }

    pub fn receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
        out: &mut VecDeque<PublisherOutput>,
    ) {
        let Ok(contents) = contents.try_into() else {
            return;
        };
        let r = Receive {
            proto: Protocol::Udp,
            source,
            destination,
            contents,
        };
        if self.rtc.handle_input(Input::Receive(now, r)).is_ok() {
            self.drain(now, out);
        }
    }

    pub fn timeout(
        &mut self,
        now: Instant,
        tracks: &[Track],
        muted: Muted,
        out: &mut VecDeque<PublisherOutput>,
    ) {
        if self.rtc.handle_input(Input::Timeout(now)).is_err() {
            self.closed = true;
            return;
        }
        self.drain(now, out);
        self.send_due_frames(now, tracks, muted);
        self.drain(now, out);
    }

    pub fn next_timeout(&self, tracks: &[Track]) -> Instant {
        let mut next = self.rtc_timeout;
        if let Some(start) = self.media_start.filter(|_| self.can_send()) {
            for s in &self.sending {
                next = next.min(due_at(start, &tracks[s.track], s));
            }
        }
        next
    }

    /// Track `track` is about to be replaced (`old` is what it was): continue the RTP clock where
    /// it is and start the new source from its first keyframe, like a camera switching resolution.
    pub fn switch_source(&mut self, track: usize, old: &Track) {
        for s in self.sending.iter_mut().filter(|s| s.track == track) {
            s.base += s.loops * old.period + old.frames[s.next].time;
            s.loops = 0;
            s.next = 0;
            s.need_keyframe = true;
        }
    }

    /// A renegotiation on the data channel once the tracks are up: an ICE restart, or (like the
    /// web app preparing a screen share) an extra unused transceiver. None while another is pending.
    pub fn reoffer(
        &mut self,
        now: Instant,
        ice_restart: bool,
        out: &mut VecDeque<PublisherOutput>,
    ) -> Option<String> {
        if self.pending.is_some() || self.control.is_none() || self.sending.is_empty() {
            return None;
        }
        let mut change = self.rtc.sdp_api();
        if ice_restart {
            change.ice_restart(true);
        } else {
            change.add_media(MediaKind::Audio, Direction::Inactive, None, None, None);
        }
        let (offer, pending) = change.apply()?;
        self.pending = Some(pending);
        self.drain(now, out);
        Some(offer.to_sdp_string())
    }

    pub fn frames_sent(&self) -> u64 {
        self.sending.iter().map(|s| s.sent).sum()
    }

    fn can_send(&self) -> bool {
        self.rtc.is_connected() && self.pending.is_none() && !self.sending.is_empty()
    }

    fn send_due_frames(&mut self, now: Instant, tracks: &[Track], muted: Muted) {
        if !self.can_send() {
            return;
        }
        let start = *self.media_start.get_or_insert(now);
        for s in &mut self.sending {
            let track = &tracks[s.track];
            let pt = self
                .rtc
                .media(s.mid)
                .and_then(|m| m.remote_pts().first().copied());
            while due_at(start, track, s) <= now {
                let frame = &track.frames[s.next];
                let rtp = s.base + s.loops * track.period + frame.time;
                let skip = match track.codec.kind() {
                    TrackKind::Video => muted.video,
                    TrackKind::Audio => muted.audio,
                };
                if skip {
                    s.need_keyframe = true;
                } else if let Some(pt) = pt.filter(|_| !s.need_keyframe || frame.keyframe) {
                    s.need_keyframe = false;
                    let wallclock =
                        start + Duration::from_secs_f64(rtp as f64 / track.clock_rate as f64);
                    let time = MediaTime::new(rtp, frequency(track.clock_rate));
                    if let Some(mut writer) = self.rtc.writer(s.mid) {
                        if track.codec.kind() == TrackKind::Audio {
                            let seconds = (rtp - s.base) as f64 / f64::from(track.clock_rate);
                            writer = writer.audio_level(synthetic_audio_level(seconds), true);
                        }
                        if writer
                            .write(pt, wallclock, time, frame.data.clone())
                            .is_ok()
                        {
                            s.sent += 1;
                            count(&mut self.counts, track.codec.kind());
                        }
                    }
                }
                s.next += 1;
                if s.next == track.frames.len() {
                    s.next = 0;
                    s.loops += 1;
                }
            }
        }
    }

    fn drain(&mut self, now: Instant, out: &mut VecDeque<PublisherOutput>) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.rtc_timeout = t.min(now + MAX_IDLE).max(now);
                    return;
                }
                Ok(Output::Transmit(t)) => out.push_back(PublisherOutput::Transmit {
                    source: t.source,
                    destination: t.destination,
                    contents: t.contents.to_vec(),
                }),
                Ok(Output::Event(e)) => self.handle_event(e),
                Err(e) => {
                    tracing::debug!("publisher rtc error: {e}");
                    self.closed = true;
                    return;
                }
            }
        }
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::ChannelOpen(id, label) if label == "sendChannel" => self.control = Some(id),
            Event::ChannelData(d) if Some(d.id) == self.control => {
                if let Ok(text) = std::str::from_utf8(&d.data) {
                    self.control_text(text);
                }
            }
            _ => {}
        }
    }

    /// One message from the viewer on the data channel: its answer, a ping, bye (decoded by core's
    /// codec), or its request for tracks (which only a publisher reads).
    fn control_text(&mut self, text: &str) {
        let items = datachannel::decode(self.cipher.as_ref(), text).unwrap_or_default();
        let before = self.events.len();
        for item in items {
            match item {
                DcIncoming::Description { sdp, .. } => {
                    self.events.push_back(ConnEvent::Description { sdp })
                }
                DcIncoming::Ping(v) => self.events.push_back(ConnEvent::Ping(v)),
                DcIncoming::Bye => self.events.push_back(ConnEvent::Bye),
                _ => {}
            }
        }
        if self.events.len() > before {
            return;
        }
        let Ok(Value::Object(msg)) = serde_json::from_str::<Value>(text) else {
            return;
        };
        if msg.contains_key("audio") || msg.contains_key("video") {
            let flag = |k: &str| msg.get(k).and_then(Value::as_bool).unwrap_or(true);
            self.events.push_back(ConnEvent::Request {
                audio: flag("audio"),
                video: flag("video"),
            });
        }
    }
}

fn count(counts: &mut SentCounts, kind: TrackKind) {
    match kind {
        TrackKind::Video => counts.video += 1,
        TrackKind::Audio if counts.video == 0 => {
            counts.audio += 1;
            counts.audio_before_video += 1;
        }
        TrackKind::Audio => counts.audio += 1,
    }
}

fn due_at(start: Instant, track: &Track, s: &Sending) -> Instant {
    let rtp = s.base + s.loops * track.period + track.frames[s.next].time;
    start + Duration::from_secs_f64(rtp as f64 / track.clock_rate as f64)
}

fn frequency(clock_rate: u32) -> Frequency {
    if clock_rate == 48_000 {
        Frequency::FORTY_EIGHT_KHZ
    } else {
        Frequency::NINETY_KHZ
    }
}

/// The RFC 6464 level the synthetic publisher announces: a slow swell between -55 and -5 dBov
/// (period 3 s), so level meters visibly move. The encoded audio itself is not measured.
pub(crate) fn synthetic_audio_level(seconds: f64) -> i8 {
    let swell = (seconds * std::f64::consts::TAU / 3.0).sin();
    (-30.0 + 25.0 * swell).round() as i8
}

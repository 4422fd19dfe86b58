//! The room: one signaling connection, the members we know, and which connections exist.
//!
//! The room decides *what* to do with signaling (join, play, route candidates, replace or end
//! connections). Each connection is a [`Connection`](crate::connection::Connection) that the
//! caller builds from [`RoomOutput::StartConnection`] and whose reports it feeds back, tagged
//! with the [`ConnectionHandle`] the room gave it.
//!
//! # Call contract
//!
//! Like [`Connection`](crate::connection::Connection)'s:
//!
//! 1. Build it with [`Room::new`]. It does nothing until [`RoomInput::SignalingUp`], on which it
//!    joins (and joins again after every reconnect).
//! 2. After every [`Room::handle_input`], call [`Room::poll_output`] until it returns `None`
//!    ("drained"), carrying out each output in order: send `SendSignaling` text, build a
//!    connection for `StartConnection`, pass `ToConnection` commands on (or drop them when that
//!    connection is already gone).
//! 3. Then wait for [`Room::poll_timeout`] (or the next input) and pass `RoomInput::Timeout` when
//!    it is due; early calls are harmless.
//! 4. Reports from connections go in as `RoomInput::FromConnection`; a report whose handle the
//!    room no longer knows (a replaced connection's late word) is ignored, so the caller needs no
//!    bookkeeping of its own.
//! 5. `RoomInput::Shutdown` sends `Close` to every connection and starts nothing new. The caller
//!    keeps driving the connections until each reports `Closed` (its files finalized), then
//!    drops the room.
//!
//! Time is only the `now` passed in (never decreasing): it paces `play` retries and how long
//! candidates wait for their offer. Randomness (our peer id, IVs, connection seeds) comes from
//! [`RoomConfig::seed`].
//!
//! # Single-stream mode
//!
//! With [`RoomConfig::view`] (a `?push=ID` link without `&room`) the room joins nothing: on
//! every `SignalingUp` it sends `play` for that one stream (hashed id with a password) and keeps
//! asking every [`VIEW_RETRY_CAP`] at most while nothing is connected, because a publisher outside
//! a room is announced to nobody by the official server. The relay dialect forwards the
//! publisher's `seed`, which triggers a `play` at once. After a hang-up (or any ended connection)
//! it asks again, so a publisher that comes back is recorded into a new file. Offers for any
//! other stream are ignored.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::connection::{
    CloseReason, ConnectionCommand, ConnectionHandle, ConnectionReport, ConnectionSettings,
    ConnectionStart, SessionKey,
};
use crate::signaling::message::{self, CodecContext};
use crate::signaling::password::sanitize_stream_id;
use crate::signaling::random_iv;
use crate::signaling::{Dialect, IceCandidate, Incoming, Member, Outgoing, Password, RoomSecrets};

#[cfg(test)]
mod churn_tests;
mod plays;
mod queue;
#[cfg(test)]
mod view_tests;

use plays::Plays;
use queue::CandidateQueue;

/// What room to join and how to record it; fixed for the room's life.
#[derive(Clone, Debug)]
pub struct RoomConfig {
    /// Room name as the user typed it.
    pub room: String,
    /// `--password` as parsed by [`Password::parse`].
    pub password: Password,
    /// Hash and key salt, usually [`salt_for_host`](crate::signaling::password::salt_for_host)
    /// of the signaling server.
    pub salt: String,
    /// The signaling server's protocol flavour.
    pub dialect: Dialect,
    /// Only record these stream ids (without password suffix); None = all.
    pub record_streams: Option<Vec<String>>,
    /// Single-stream mode: record only this stream id (as typed, without suffix) of a publisher
    /// outside any room, joining no room; `room` and `record_streams` are then unused.
    pub view: Option<String>,
    /// Seeds our peer id, the IVs of encrypted messages and each connection's seed.
    pub seed: u64,
    /// How every connection records.
    pub connection: ConnectionSettings,
}

/// Input to [`Room::handle_input`].
#[derive(Clone, Debug)]
pub enum RoomInput {
    /// The signaling socket is (again) connected.
    SignalingUp,
    /// The signaling socket is gone (it reconnects by itself).
    SignalingDown,
    /// A text message from the signaling server.
    SignalingText(String),
    /// A connection's report, tagged with its handle.
    FromConnection(ConnectionHandle, ConnectionReport),
    /// The time from `poll_timeout` has come (early calls are harmless).
    Timeout,
    /// Orderly shutdown: close every connection.
    Shutdown,
}

/// Output of [`Room::poll_output`].
#[derive(Clone, Debug)]
pub enum RoomOutput {
    /// Send this text on the signaling socket (dropped while it is down).
    SendSignaling(String),
    /// Build a [`Connection`](crate::connection::Connection) from this.
    StartConnection(Box<ConnectionStart>),
    /// Pass to the connection with this handle, if it still exists.
    ToConnection(ConnectionHandle, ConnectionCommand),
}

/// One live connection as the room sees it.
#[derive(Clone, Debug)]
struct Live {
    handle: ConnectionHandle,
    stream_id: String,
    encrypted: bool,
}

/// The room state machine; see the module docs for the call contract.
pub struct Room {
    config: RoomConfig,
    secrets: RoomSecrets,
    ctx: CodecContext,
    rng: fastrand::Rng,
    signaling_up: bool,
    shutting_down: bool,
    /// Peer id -> wire stream id (None: member that does not publish).
    members: BTreeMap<String, Option<String>>,
    connections: BTreeMap<SessionKey, Live>,
    next_handle: u64,
    /// Recently ended connections: a late duplicate of their offer must not start them again.
    ended: VecDeque<SessionKey>,
    early_candidates: CandidateQueue,
    plays: Plays,
    /// Single-stream mode: the wire stream id (with password suffix) we ask for.
    view: Option<String>,
    out: VecDeque<RoomOutput>,
}

impl Room {
    /// A room that is not joined yet: it joins on `RoomInput::SignalingUp`.
    pub fn new(config: RoomConfig, now: Instant) -> Room {
        let secrets = RoomSecrets::new(&config.room, &config.password, &config.salt);
        let mut rng = fastrand::Rng::with_seed(config.seed);
        let own_id: String = (0..20).map(|_| rng.alphanumeric()).collect();
        let view = config
            .view
            .as_deref()
            .map(|id| secrets.wire_stream_id(&sanitize_stream_id(id)));
        let ctx = CodecContext {
            dialect: config.dialect,
            own_id,
            // No room: nothing to put in `roomid`, nothing to check it against.
            room_wire: match view {
                Some(_) => String::new(),
                None => secrets.room_wire.clone(),
            },
            cipher: secrets.cipher.clone(),
        };
        let plays = match view {
            Some(_) => Plays::capped(VIEW_RETRY_CAP),
            None => Plays::default(),
        };
        Room {
            config,
            secrets,
            ctx,
            rng,
            signaling_up: false,
            shutting_down: false,
            members: BTreeMap::new(),
            connections: BTreeMap::new(),
            next_handle: 0,
            ended: VecDeque::new(),
            early_candidates: CandidateQueue::new(now),
            plays,
            view,
            out: VecDeque::new(),
        }
    }

    /// Feeds one input; then drain `poll_output`.
    pub fn handle_input(&mut self, now: Instant, input: RoomInput) {
        match input {
            RoomInput::SignalingUp => {
                self.signaling_up = true;
                if let Some(view) = self.view.clone() {
                    // Nothing to join: ask for the one stream (unless it is still connected).
                    if self.wants_play(&view) {
                        self.send_play(now, &view);
                    }
                } else if !self.shutting_down {
                    // Live connections stay up. Members are kept: the relay dialect sends no
                    // listing, and a publisher whose offer was lost while we were away waits for
                    // us. Ask for those not connected shortly after the join, unless they offer
                    // by themselves first (an early `play` would tear that offer down).
                    self.send(&Outgoing::JoinRoom);
                    let streams: Vec<String> = self.members.values().flatten().cloned().collect();
                    for stream in streams {
                        if self.wants_play(&stream) {
                            self.plays.retry_later(now, &stream);
                        }
                    }
                }
            }
            RoomInput::SignalingDown => self.signaling_up = false,
            RoomInput::SignalingText(text) => self.handle_signaling(now, &text),
            RoomInput::FromConnection(handle, report) => self.handle_report(now, handle, report),
            RoomInput::Timeout => self.handle_timeout(now),
            RoomInput::Shutdown => {
                self.shutting_down = true;
                let keys: Vec<SessionKey> = self.connections.keys().cloned().collect();
                for key in keys {
                    self.close_connection(&key);
                }
                self.plays.clear();
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.early_candidates.expire(now);
        if self.shutting_down || !self.signaling_up {
            return;
        }
        for stream in self.plays.due(now) {
            if self.wants_play(&stream) {
                self.send_play(now, &stream);
            } else {
                self.plays.remove(&stream);
            }
        }
    }

    /// The next output, or `None` when drained.
    pub fn poll_output(&mut self) -> Option<RoomOutput> {
        self.out.pop_front()
    }

    /// When to pass `RoomInput::Timeout` next, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        // Plays wait for signaling; reporting them while it is down would busy-loop the caller.
        let plays = if self.signaling_up && !self.shutting_down {
            self.plays.next_due()
        } else {
            None
        };
        [plays, self.early_candidates.next_expiry()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Our peer id (relay dialect).
    pub fn own_id(&self) -> &str {
        &self.ctx.own_id
    }

    /// Hashes and the cipher derived from room name, password and salt (derived once).
    pub fn secrets(&self) -> &RoomSecrets {
        &self.secrets
    }

    /// Connections the room considers live.
    pub fn connection_keys(&self) -> impl Iterator<Item = &SessionKey> {
        self.connections.keys()
    }

    fn handle_signaling(&mut self, now: Instant, text: &str) {
        let incoming = match message::decode(&self.ctx, text) {
            Ok(incoming) => incoming,
            Err(e) => {
                tracing::warn!("signaling message ignored: {e}");
                return;
            }
        };
        match incoming {
            Incoming::Listing { members } => {
                for Member { peer, stream_id } in members {
                    self.member_seen(now, peer, stream_id);
                }
            }
            Incoming::PeerJoined { peer, stream_id } => self.member_seen(now, peer, stream_id),
            Incoming::Offer {
                peer,
                session,
                stream_id,
                sdp,
                encrypted,
                is_scene,
            } => self.handle_offer(
                now,
                SessionKey { peer, session },
                stream_id,
                sdp,
                encrypted,
                is_scene,
            ),
            Incoming::Candidates {
                peer,
                session,
                candidates,
            } => self.route_candidates(now, peer, session, candidates),
            Incoming::PeerLeft { peer } => self.peer_left(&peer),
            Incoming::Notice { kind, message } => tracing::warn!("server {kind}: {message}"),
            Incoming::Ignored { reason } => tracing::trace!("signaling message ignored: {reason}"),
        }
    }

    fn member_seen(&mut self, now: Instant, peer: String, stream_id: Option<String>) {
        if peer == self.ctx.own_id {
            return;
        }
        let Some(stream) = stream_id.filter(|s| self.view.is_none() || self.is_wanted(s)) else {
            // Nothing to record from it; remembering it would only grow with every viewer (and,
            // outside a room, with every other publisher on the server).
            self.members.remove(&peer);
            return;
        };
        let previous = self.remember_member(&peer, &stream);
        // The official server can announce one arrival twice; a second `play` right after the
        // first makes the publisher tear down the connection it is setting up.
        if previous.flatten().as_ref() == Some(&stream) && self.plays.recently_sent(now, &stream) {
            return;
        }
        if self.wants_play(&stream) || self.held_by_other_peer(&peer, &stream) {
            self.send_play(now, &stream);
        }
    }

    /// A peer announces a stream that is connected from another peer id: that one left without a
    /// word (crash, reload; the relay dialect announces nobody leaving), so ask the newcomer
    /// rather than wait for ICE to notice. Its offer replaces the old connection.
    fn held_by_other_peer(&self, peer: &str, wire_stream: &str) -> bool {
        if self.shutting_down || !self.is_wanted(wire_stream) {
            return false;
        }
        let stream = self.secrets.strip_stream_id(wire_stream);
        let mut holders = self
            .connections
            .iter()
            .filter(|(_, c)| c.stream_id == stream);
        holders.clone().next().is_some() && holders.all(|(k, _)| k.peer != peer)
    }

    /// Ask for a stream only when nobody is connected for it: a second `play` makes the publisher
    /// tear down a connection that is being set up.
    fn wants_play(&self, wire_stream: &str) -> bool {
        if self.shutting_down || !self.is_wanted(wire_stream) {
            return false;
        }
        let stream = self.secrets.strip_stream_id(wire_stream);
        // Without a room nobody announces the publisher: keep asking while it is not connected.
        let publisher_present = self.view.is_some()
            || self
                .members
                .values()
                .any(|s| s.as_deref() == Some(wire_stream));
        publisher_present && !self.connections.values().any(|c| c.stream_id == stream)
    }

    fn send_play(&mut self, now: Instant, wire_stream: &str) {
        tracing::info!(stream = %self.secrets.strip_stream_id(wire_stream), "asking to play");
        self.send(&Outgoing::Play {
            stream_id: wire_stream,
        });
        self.plays.sent(now, wire_stream);
    }

    fn is_wanted(&self, wire_stream: &str) -> bool {
        if let Some(view) = &self.view {
            return wire_stream == view;
        }
        let stream = self.secrets.strip_stream_id(wire_stream);
        match &self.config.record_streams {
            Some(list) => list.iter().any(|s| s == stream),
            None => true,
        }
    }

    fn handle_offer(
        &mut self,
        now: Instant,
        key: SessionKey,
        wire_stream: Option<String>,
        sdp: String,
        encrypted: bool,
        is_scene: Option<bool>,
    ) {
        if self.shutting_down {
            return;
        }
        if is_scene == Some(true) {
            tracing::debug!(peer = %key.peer, "ignoring offer from a scene/viewer (never sends tracks)");
            return;
        }
        let wire_stream = wire_stream.or_else(|| self.members.get(&key.peer).cloned().flatten());
        let Some(wire_stream) = wire_stream else {
            tracing::warn!(peer = %key.peer, "offer without a stream id ignored");
            return;
        };
        if !self.is_wanted(&wire_stream) {
            tracing::debug!(stream = %wire_stream, "not in --record-streams, offer ignored");
            return;
        }
        if self.connections.contains_key(&key) {
            tracing::debug!(session = %key, "duplicate offer for a live session ignored");
            return;
        }
        if self.ended.contains(&key) {
            tracing::debug!(session = %key, "offer for a session that already ended ignored");
            return;
        }
        let stream_id = self.secrets.strip_stream_id(&wire_stream).to_string();
        let announced_owner = self.members.get(&key.peer) == Some(&Some(wire_stream.clone()));
        let taken_by_other = self
            .connections
            .iter()
            .any(|(k, c)| k.peer != key.peer && c.stream_id == stream_id);
        if taken_by_other && !announced_owner {
            // Only the peer that announced the stream (a rejoin) may take over a live recording.
            tracing::warn!(peer = %key.peer, stream = %stream_id, "offer for a stream already recorded from another peer ignored");
            return;
        }
        // A newer session from the same peer, or the same stream from a rejoined peer, replaces the
        // old connection: a stream is never recorded by two connections at once.
        let replaced: Vec<SessionKey> = self
            .connections
            .iter()
            .filter(|(k, c)| k.peer == key.peer || c.stream_id == stream_id)
            .map(|(k, _)| k.clone())
            .collect();
        for old in replaced {
            tracing::info!(old = %old, new = %key, "replacing connection");
            self.close_connection(&old);
        }
        if self.members.get(&key.peer).is_none_or(Option::is_none) {
            self.remember_member(&key.peer, &wire_stream);
        }
        self.plays.remove(&wire_stream);
        let handle = ConnectionHandle(self.next_handle);
        self.next_handle += 1;
        self.connections.insert(
            key.clone(),
            Live {
                handle,
                stream_id: stream_id.clone(),
                encrypted,
            },
        );
        tracing::info!(session = %key, stream = %stream_id, %handle, "offer received");
        let start = ConnectionStart {
            handle,
            key: key.clone(),
            stream_id,
            offer_sdp: sdp,
            cipher: self.secrets.cipher.clone(),
            first_file_id: handle.0.saturating_mul(FILE_IDS_PER_CONNECTION),
            seed: self.rng.u64(..),
            settings: self.config.connection.clone(),
        };
        self.out
            .push_back(RoomOutput::StartConnection(Box::new(start)));
        let early = self.early_candidates.take(&key, now);
        if !early.is_empty() {
            self.out.push_back(RoomOutput::ToConnection(
                handle,
                ConnectionCommand::RemoteCandidates(early),
            ));
        }
    }

    fn route_candidates(
        &mut self,
        now: Instant,
        peer: String,
        session: Option<String>,
        candidates: Vec<IceCandidate>,
    ) {
        let key = match session {
            Some(session) => SessionKey { peer, session },
            // Without a session id the only sane target is the peer's single live connection.
            None => match self.connections.keys().find(|k| k.peer == peer) {
                Some(key) => key.clone(),
                None => {
                    tracing::debug!(peer = %peer, "session-less candidates for no connection dropped");
                    return;
                }
            },
        };
        if let Some(live) = self.connections.get(&key) {
            self.out.push_back(RoomOutput::ToConnection(
                live.handle,
                ConnectionCommand::RemoteCandidates(candidates),
            ));
        } else {
            self.early_candidates.push(now, key, candidates);
        }
    }

    fn peer_left(&mut self, peer: &str) {
        if let Some(Some(stream)) = self.members.remove(peer) {
            self.plays.remove(&stream);
        }
        let keys: Vec<SessionKey> = self
            .connections
            .keys()
            .filter(|k| k.peer == peer)
            .cloned()
            .collect();
        for key in keys {
            self.close_connection(&key);
        }
    }

    fn handle_report(&mut self, now: Instant, handle: ConnectionHandle, report: ConnectionReport) {
        let Some(key) = self
            .connections
            .iter()
            .find(|(_, live)| live.handle == handle)
            .map(|(key, _)| key.clone())
        else {
            tracing::debug!(%handle, "report from a connection that is gone dropped");
            return;
        };
        match report {
            ConnectionReport::Answer { sdp } => {
                let encrypt = self.connections[&key].encrypted;
                self.send(&Outgoing::Answer {
                    peer: &key.peer,
                    session: &key.session,
                    sdp: &sdp,
                    encrypt,
                });
            }
            ConnectionReport::LocalCandidates(candidates) => {
                let encrypt = self.connections[&key].encrypted;
                self.send(&Outgoing::Candidates {
                    peer: &key.peer,
                    session: &key.session,
                    candidates: &candidates,
                    encrypt,
                });
            }
            ConnectionReport::Closed(reason) => {
                let Some(live) = self.connections.remove(&key) else {
                    return;
                };
                self.remember_ended(key.clone());
                tracing::info!(session = %key, stream = %live.stream_id, "connection ended: {reason}");
                if reason == CloseReason::PublisherBye {
                    // A hang-up: the web app's data-channel bye is its WebSocket bye (peer left).
                    self.peer_left(&key.peer);
                }
                // Single-stream mode waits for the publisher to come back, however it ended.
                let stream = match &self.view {
                    Some(view) => Some(view.clone()),
                    None if reason == CloseReason::PublisherBye => None,
                    None => self.members.get(&key.peer).cloned().flatten(),
                };
                // The publisher is still here: ask again after a pause (it may also offer by itself).
                if let Some(stream) = stream {
                    if self.wants_play(&stream) {
                        self.plays.retry_later(now, &stream);
                    }
                }
            }
        }
    }

    fn close_connection(&mut self, key: &SessionKey) {
        if let Some(live) = self.connections.remove(key) {
            self.remember_ended(key.clone());
            self.out.push_back(RoomOutput::ToConnection(
                live.handle,
                ConnectionCommand::Close,
            ));
        }
    }

    /// `peer` publishes `wire_stream`; returns what it announced before. Another peer that
    /// announced the same stream is forgotten: a stream id has one publisher, and the relay
    /// dialect announces nobody leaving, so a rejoin under a new peer id is the only word that the
    /// old one is gone (remembering it grew the room by one member per rejoin).
    fn remember_member(&mut self, peer: &str, wire_stream: &str) -> Option<Option<String>> {
        self.members
            .retain(|p, s| p == peer || s.as_deref() != Some(wire_stream));
        self.members
            .insert(peer.to_string(), Some(wire_stream.to_string()))
    }

    fn remember_ended(&mut self, key: SessionKey) {
        if self.ended.len() >= MAX_ENDED {
            self.ended.pop_front();
        }
        self.ended.push_back(key);
    }

    fn send(&mut self, msg: &Outgoing<'_>) {
        if !self.signaling_up {
            tracing::debug!("signaling down, not sending {msg:?}");
            return;
        }
        let iv = random_iv(&mut self.rng);
        self.out
            .push_back(RoomOutput::SendSignaling(message::encode(
                &self.ctx, msg, iv,
            )));
    }
}

/// File ids per connection: a connection's files are numbered from `handle * this`.
const FILE_IDS_PER_CONNECTION: u64 = 1_000_000;

/// How many ended sessions to remember (session ids are random; a publisher never reuses one).
const MAX_ENDED: usize = 1024;

/// How long to wait for an offer after `play` before asking again.
pub(crate) const PLAY_RETRY: Duration = Duration::from_secs(10);

/// Single-stream mode asks for its stream at least this often while it is not connected.
pub const VIEW_RETRY_CAP: Duration = Duration::from_secs(15);

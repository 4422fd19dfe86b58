//! The routing state machine: clients, their ids, rooms and stream ids, and where each text goes.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};
use tracing::{debug, warn};

use super::limits::Limits;
use super::{js, Dialect};

/// One connected socket. Ids are never reused within a `Relay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(u64);

impl ClientId {
    /// The number behind the id (stable map keys, logs).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "client#{}", self.0)
    }
}

/// What the relay knows about one socket.
#[derive(Debug, Default)]
pub(super) struct Client {
    /// Relay dialect: the first truthy `from` (kept as JSON so `===` semantics hold).
    /// Official dialect: the server-assigned id, always a string.
    pub(super) id: Option<Value>,
    /// `String(roomid)` of its last `joinroom`; None = not in a room.
    pub(super) room: Option<String>,
    /// The stream id it claimed with `seed`/`joinroom`.
    pub(super) stream_id: Option<Value>,
    /// It asked to `play` a stream (a viewer outside rooms has nothing else to show for itself).
    pub(super) played: bool,
}

impl Client {
    /// The id as text (official ids are always strings).
    pub(super) fn id_text(&self) -> String {
        match &self.id {
            Some(Value::String(s)) => s.clone(),
            Some(other) => js::string(Some(other)),
            None => String::new(),
        }
    }
}

/// The routing state of a whole signaling server.
///
/// # Call contract
///
/// The driver reports every socket event with one call: [`connect`](Self::connect) when a socket
/// opens (keep the returned [`ClientId`]), [`receive`](Self::receive) for each text frame,
/// [`disconnect`](Self::disconnect) when it closes. After each of these calls, call
/// [`poll_output`](Self::poll_output) until it returns `None` ("drained") and write each text to
/// its recipient's socket in that order; frames for one client must keep their order.
///
/// The relay keeps no timers and reads no clock, so there is no `handle_timeout`/`poll_timeout`:
/// pings and idle timeouts are the server's business. The same calls with the same seed give the
/// same outputs.
#[derive(Debug)]
pub struct Relay {
    pub(super) dialect: Dialect,
    pub(super) rng: fastrand::Rng,
    next_id: u64,
    /// Ordered by connection time, so fan-out order is deterministic.
    pub(super) clients: BTreeMap<ClientId, Client>,
    out: VecDeque<(ClientId, String)>,
    pub(super) limits: Limits,
}

impl Relay {
    /// A relay with no clients; `seed` drives the ids the official dialect assigns.
    pub fn new(dialect: Dialect, seed: u64) -> Self {
        Self {
            dialect,
            rng: fastrand::Rng::with_seed(seed),
            next_id: 0,
            clients: BTreeMap::new(),
            out: VecDeque::new(),
            limits: Limits::default(),
        }
    }

    /// The server this relay behaves like.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A new socket connected; its id is new (ids are never reused). Produces no output.
    pub fn connect(&mut self) -> ClientId {
        let id = ClientId(self.next_id);
        self.next_id += 1;
        let mut client = Client::default();
        if self.dialect == Dialect::Official {
            client.id = Some(Value::String(self.fresh_official_id()));
        }
        self.clients.insert(id, client);
        id
    }

    /// A text frame arrived from `from`. Malformed input is logged and ignored.
    pub fn receive(&mut self, from: ClientId, text: &str) {
        if !self.clients.contains_key(&from) {
            warn!(%from, "relay: frame from an unknown client ignored");
            return;
        }
        match self.dialect {
            Dialect::Relay => self.receive_relay(from, text),
            Dialect::Official => self.receive_official(from, text),
        }
    }

    /// The socket closed. Idempotent; frames still queued for it are discarded.
    pub fn disconnect(&mut self, client: ClientId) {
        // vdoninja.js says nothing when a socket leaves; the official server tells the room.
        if self.dialect == Dialect::Official {
            self.official_leave_room(client);
        }
        if self.clients.remove(&client).is_some() {
            self.out.retain(|(to, _)| *to != client);
        }
    }

    /// The next text frame to deliver: (recipient, text); `None` once drained.
    pub fn poll_output(&mut self) -> Option<(ClientId, String)> {
        self.out.pop_front()
    }

    /// The client's peer id as other peers see it (relay: its first `from`; official: assigned).
    pub fn peer_id(&self, client: ClientId) -> Option<String> {
        let c = self.clients.get(&client)?;
        c.id.as_ref().map(|_| c.id_text())
    }

    /// The room the client joined, if any.
    pub fn room(&self, client: ClientId) -> Option<&str> {
        self.clients.get(&client)?.room.as_deref()
    }

    /// The client has done what a page does first: joined a room, published (`seed`) or asked to
    /// `play` a stream. Single-stream pages (`?push=` / `?view=` without `&room`) never join.
    pub fn is_settled(&self, client: ClientId) -> bool {
        self.clients
            .get(&client)
            .is_some_and(|c| c.room.is_some() || c.stream_id.is_some() || c.played)
    }

    /// Number of connected clients.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    pub(super) fn send(&mut self, to: ClientId, text: String) {
        self.out.push_back((to, text));
    }

    /// Other clients in `room`, in connection order.
    pub(super) fn room_members<'a>(
        &'a self,
        room: &'a str,
        except: ClientId,
    ) -> impl Iterator<Item = ClientId> + 'a {
        self.clients
            .iter()
            .filter(move |(id, c)| **id != except && c.room.as_deref() == Some(room))
            .map(|(id, _)| *id)
    }

    fn fresh_official_id(&mut self) -> String {
        loop {
            let id: String = (0..20).map(|_| self.rng.alphanumeric()).collect();
            let taken = self
                .clients
                .values()
                .any(|c| matches!(&c.id, Some(Value::String(s)) if *s == id));
            if !taken {
                return id;
            }
        }
    }

    /// `vdoninja.js` routing: claim ids, then forward the original text unchanged.
    fn receive_relay(&mut self, from: ClientId, text: &str) {
        let msg: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                warn!(%from, error = %e, "relay: unparsable frame dropped");
                return;
            }
        };
        // Property access on a non-object yields undefined in JS, so such frames lack `from`.
        let field = |name: &str| msg.as_object().and_then(|o| o.get(name));
        let Some(sender_id) = field("from").filter(|v| js::truthy(Some(v))) else {
            warn!(%from, "relay: frame without `from` dropped");
            return;
        };
        if self.clients[&from].id.is_none() {
            if self.id_too_long(js::string(Some(sender_id)).len()) {
                self.send(from, json!({"error": "uuid too long"}).to_string());
                return;
            }
            let in_use = self.clients.iter().any(|(other, c)| {
                *other != from && c.id.as_ref().is_some_and(|id| js::strict_eq(id, sender_id))
            });
            if in_use {
                debug!(%from, "relay: uuid already in use");
                self.send(from, json!({"error": "uuid already in use"}).to_string());
                return;
            }
            if let Some(c) = self.clients.get_mut(&from) {
                c.id = Some(sender_id.clone());
            }
        }
        let request = field("request").and_then(Value::as_str);
        let stream_id = field("streamID").filter(|v| js::truthy(Some(v)));
        let sid_len = stream_id.map_or(0, |s| js::string(Some(s)).len());
        if request == Some("joinroom") {
            let room = js::string(field("roomid"));
            if let Some(error) = self.join_refusal(from, &room, sid_len) {
                self.send(from, json!({"error": error}).to_string());
                return;
            }
        } else if request == Some("seed") && self.id_too_long(sid_len) {
            self.send(from, json!({"error": "streamID too long"}).to_string());
            return;
        }
        if let (Some("seed" | "joinroom"), Some(sid)) = (request, stream_id) {
            if let Some(error) = self.claim_relay_sid(from, sid) {
                self.send(from, json!({"error": error}).to_string());
                return;
            }
        }
        if request == Some("joinroom") {
            let room = js::string(field("roomid"));
            if let Some(c) = self.clients.get_mut(&from) {
                c.room = Some(room);
            }
        }

        let target = field("UUID").filter(|v| js::truthy(Some(v)));
        if request == Some("play") {
            if let Some(c) = self.clients.get_mut(&from) {
                c.played = true;
            }
        }
        let play_sid = if request == Some("play") {
            stream_id
        } else {
            None
        };
        let sender_room = self.clients[&from].room.clone();
        let recipients: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(id, c)| {
                **id != from
                    && c.room == sender_room
                    && target.is_none_or(|t| c.id.as_ref().is_some_and(|id| js::strict_eq(id, t)))
                    && play_sid.is_none_or(|s| {
                        c.stream_id
                            .as_ref()
                            .is_some_and(|own| js::strict_eq(own, s))
                    })
            })
            .map(|(id, _)| *id)
            .collect();
        for to in recipients {
            self.send(to, text.to_owned());
        }
    }

    /// Claim `sid` for `from`; the error text to reply with on refusal.
    fn claim_relay_sid(&mut self, from: ClientId, sid: &Value) -> Option<&'static str> {
        if let Some(own) = &self.clients[&from].stream_id {
            if !js::strict_eq(own, sid) {
                return Some("can't change sid");
            }
        }
        let in_use = self.clients.iter().any(|(other, c)| {
            *other != from && c.stream_id.as_ref().is_some_and(|s| js::strict_eq(s, sid))
        });
        if in_use {
            return Some("sid already in use");
        }
        if let Some(c) = self.clients.get_mut(&from) {
            c.stream_id = Some(sid.clone());
        }
        None
    }
}

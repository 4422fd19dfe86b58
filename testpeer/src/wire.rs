//! The publisher side of the signaling dialects, as the VDO.Ninja web app speaks it. Sealing,
//! opening and field encoding are core's ([`payload`]), so both ends encrypt the same way.

use roomrec_core::signaling::payload::{self, json, object};
use roomrec_core::signaling::{Cipher, Dialect, IceCandidate};
use serde_json::Value;

/// Identity and secrets of a publisher on the wire.
#[derive(Clone, Debug)]
pub(crate) struct PublisherWire {
    pub dialect: Dialect,
    pub own_id: String,
    /// Empty: no room (`seed` only, no `roomid` anywhere).
    pub room_wire: String,
    /// Stream id with the password suffix.
    pub wire_stream: String,
    pub cipher: Option<Cipher>,
    /// A scene/viewer: joins without streamID and flags its offers `isScene: true`.
    pub scene: bool,
}

/// What a publisher reacts to on the WebSocket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PublisherIncoming {
    /// Someone wants our stream: relay `joinroom` without streamID or `play`, official `offerSDP`.
    WantsStream {
        viewer: String,
    },
    Answer {
        viewer: String,
        session: String,
        sdp: String,
    },
    Candidates {
        viewer: String,
        session: Option<String>,
        candidates: Vec<IceCandidate>,
    },
    Left {
        viewer: String,
    },
    Other,
}

impl PublisherWire {
    /// `joinroom` with our stream id, or `seed` alone when we are in no room.
    pub fn announce(&self) -> String {
        if self.room_wire.is_empty() {
            let fields = vec![
                ("request", json("seed")),
                ("streamID", json(self.wire_stream.as_str())),
            ];
            return self.finish(fields);
        }
        let mut fields = vec![
            ("request", json("joinroom")),
            ("roomid", json(self.room_wire.as_str())),
        ];
        if !self.scene {
            fields.push(("streamID", json(self.wire_stream.as_str())));
        }
        self.finish(fields)
    }

    pub fn offer(&self, viewer: &str, session: &str, sdp: &str, iv: [u8; 16]) -> String {
        let fields = vec![
            ("UUID", json(viewer)),
            ("streamID", json(self.wire_stream.as_str())),
            ("session", json(session)),
            ("isScene", json(self.scene)),
        ];
        let desc = payload::description_json("offer", sdp);
        self.finish(self.sealed(fields, "description", desc, iv))
    }

    pub fn candidates(
        &self,
        viewer: &str,
        session: &str,
        candidates: &[IceCandidate],
        iv: [u8; 16],
    ) -> String {
        let fields = vec![
            ("UUID", json(viewer)),
            ("type", json("local")),
            ("session", json(session)),
        ];
        let list = payload::candidates_json(candidates);
        self.finish(self.sealed(fields, "candidates", list, iv))
    }

    /// Re-offer on the data channel: the plain stream id, no addressing fields.
    pub fn dc_offer(
        &self,
        viewer: &str,
        plain_stream: &str,
        session: &str,
        sdp: &str,
        iv: [u8; 16],
    ) -> String {
        let fields = vec![
            ("UUID", json(viewer)),
            ("streamID", json(plain_stream)),
            ("session", json(session)),
            ("isScene", json(false)),
        ];
        let desc = payload::description_json("offer", sdp);
        object(&self.sealed(fields, "description", desc, iv))
    }

    /// `fields` plus `field` (sealed when there is a password) and its `vector`.
    fn sealed<'a>(
        &self,
        mut fields: Vec<(&'a str, String)>,
        field: &'a str,
        json_text: String,
        iv: [u8; 16],
    ) -> Vec<(&'a str, String)> {
        let (value, vector) = payload::seal(self.cipher.as_ref(), json_text, iv);
        fields.push((field, value));
        if let Some(v) = vector {
            fields.push(("vector", json(v)));
        }
        fields
    }

    /// The relay dialect addresses every message with `from` and `roomid`.
    fn finish(&self, mut fields: Vec<(&str, String)>) -> String {
        if self.dialect == Dialect::Relay {
            fields.push(("from", json(self.own_id.as_str())));
            if !self.room_wire.is_empty() && !fields.iter().any(|(k, _)| *k == "roomid") {
                fields.push(("roomid", json(self.room_wire.as_str())));
            }
        }
        object(&fields)
    }

    pub fn decode(&self, text: &str) -> PublisherIncoming {
        let Ok(Value::Object(msg)) = serde_json::from_str::<Value>(text) else {
            return PublisherIncoming::Other;
        };
        let field = |k: &str| msg.get(k).and_then(Value::as_str);
        let peer = match self.dialect {
            Dialect::Relay => {
                if field("UUID").is_some_and(|u| u != self.own_id)
                    || (!self.room_wire.is_empty()
                        && field("roomid").is_some_and(|r| r != self.room_wire))
                {
                    return PublisherIncoming::Other;
                }
                field("from")
            }
            Dialect::Official => field("UUID"),
        };
        let Some(peer) = peer.map(str::to_string) else {
            return PublisherIncoming::Other;
        };
        match field("request") {
            Some("joinroom") if self.dialect == Dialect::Relay && field("streamID").is_none() => {
                return PublisherIncoming::WantsStream { viewer: peer };
            }
            Some("play") if field("streamID") == Some(self.wire_stream.as_str()) => {
                return PublisherIncoming::WantsStream { viewer: peer };
            }
            Some("offerSDP") => return PublisherIncoming::WantsStream { viewer: peer },
            Some("cleanup") => return PublisherIncoming::Left { viewer: peer },
            _ => {}
        }
        if msg.get("bye").is_some() {
            return PublisherIncoming::Left { viewer: peer };
        }
        let session = field("session").map(str::to_string);
        let cipher = self.cipher.as_ref();
        if msg.contains_key("description") {
            let desc = payload::open(cipher, &msg, "description")
                .and_then(|(plain, _)| payload::description(&plain));
            return match (desc, session) {
                (Ok((kind, sdp)), Some(session)) if kind == "answer" => PublisherIncoming::Answer {
                    viewer: peer,
                    session,
                    sdp,
                },
                _ => PublisherIncoming::Other,
            };
        }
        match payload::open_candidates(cipher, &msg) {
            Ok(Some(candidates)) => PublisherIncoming::Candidates {
                viewer: peer,
                session,
                candidates,
            },
            _ => PublisherIncoming::Other,
        }
    }
}

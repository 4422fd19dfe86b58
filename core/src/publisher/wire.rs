//! The publisher side of the signaling dialects, as the VDO.Ninja web app speaks it.

use serde_json::{json, Map, Value};

use crate::signaling::{Cipher, Dialect};

/// Identity and secrets of a publisher on the wire.
#[derive(Clone, Debug)]
pub struct PublisherWire {
    pub dialect: Dialect,
    pub own_id: String,
    pub room_wire: String,
    /// Stream id with the password suffix.
    pub wire_stream: String,
    pub cipher: Option<Cipher>,
    /// A scene/viewer: joins without streamID and flags its offers `isScene: true`.
    pub scene: bool,
}

/// What a publisher reacts to on the WebSocket.
#[derive(Debug, Clone, PartialEq)]
pub enum PublisherIncoming {
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
        candidates: Vec<Value>,
    },
    Left {
        viewer: String,
    },
    Other,
}

impl PublisherWire {
    pub fn joinroom(&self) -> String {
        if self.scene {
            return self.finish(json!({"request": "joinroom", "roomid": self.room_wire}));
        }
        self.finish(
            json!({"request": "joinroom", "roomid": self.room_wire, "streamID": self.wire_stream}),
        )
    }

    pub fn offer(&self, viewer: &str, session: &str, sdp: &str, iv: [u8; 16]) -> String {
        let mut msg = json!({"UUID": viewer, "streamID": self.wire_stream, "session": session, "isScene": self.scene});
        self.seal(
            &mut msg,
            "description",
            &json!({"type": "offer", "sdp": sdp}),
            iv,
        );
        self.finish(msg)
    }

    pub fn candidates(
        &self,
        viewer: &str,
        session: &str,
        candidates: &[Value],
        iv: [u8; 16],
    ) -> String {
        let mut msg = json!({"UUID": viewer, "type": "local", "session": session});
        self.seal(
            &mut msg,
            "candidates",
            &Value::Array(candidates.to_vec()),
            iv,
        );
        self.finish(msg)
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
        let mut msg =
            json!({"UUID": viewer, "streamID": plain_stream, "session": session, "isScene": false});
        self.seal(
            &mut msg,
            "description",
            &json!({"type": "offer", "sdp": sdp}),
            iv,
        );
        msg.to_string()
    }

    fn seal(&self, msg: &mut Value, field: &str, value: &Value, iv: [u8; 16]) {
        let Some(obj) = msg.as_object_mut() else {
            return;
        };
        match &self.cipher {
            Some(cipher) => {
                let (ciphertext, vector) = cipher.encrypt(&value.to_string(), iv);
                obj.insert(field.into(), Value::String(ciphertext));
                obj.insert("vector".into(), Value::String(vector));
            }
            None => {
                obj.insert(field.into(), value.clone());
            }
        }
    }

    fn finish(&self, mut msg: Value) -> String {
        if self.dialect == Dialect::Relay {
            if let Some(obj) = msg.as_object_mut() {
                obj.insert("from".into(), Value::String(self.own_id.clone()));
                obj.insert("roomid".into(), Value::String(self.room_wire.clone()));
            }
        }
        msg.to_string()
    }

    pub fn decode(&self, text: &str) -> PublisherIncoming {
        let Ok(Value::Object(msg)) = serde_json::from_str::<Value>(text) else {
            return PublisherIncoming::Other;
        };
        let field = |k: &str| msg.get(k).and_then(Value::as_str);
        let peer = match self.dialect {
            Dialect::Relay => {
                if field("UUID").is_some_and(|u| u != self.own_id)
                    || field("roomid").is_some_and(|r| r != self.room_wire)
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
        if let Some(desc) = self.unseal(&msg, "description") {
            if desc.get("type").and_then(Value::as_str) == Some("answer") {
                if let (Some(sdp), Some(session)) =
                    (desc.get("sdp").and_then(Value::as_str), session)
                {
                    return PublisherIncoming::Answer {
                        viewer: peer,
                        session,
                        sdp: sdp.to_string(),
                    };
                }
            }
            return PublisherIncoming::Other;
        }
        if let Some(cands) = self
            .unseal(&msg, "candidates")
            .or_else(|| self.unseal(&msg, "candidate"))
        {
            let candidates = match cands {
                Value::Array(list) => list,
                single => vec![single],
            };
            return PublisherIncoming::Candidates {
                viewer: peer,
                session,
                candidates,
            };
        }
        PublisherIncoming::Other
    }

    /// The field's value, decrypted when it is a hex string with a `vector`.
    pub fn unseal(&self, msg: &Map<String, Value>, field: &str) -> Option<Value> {
        match (
            msg.get(field)?,
            msg.get("vector").and_then(Value::as_str),
            &self.cipher,
        ) {
            (Value::String(hex), Some(iv), Some(cipher)) => {
                let plain = cipher.decrypt(hex, iv).ok()?;
                serde_json::from_str(&plain).ok()
            }
            (Value::String(_), _, _) => None,
            (value, _, _) => Some(value.clone()),
        }
    }
}

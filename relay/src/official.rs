//! Emulation of the public `wss.vdo.ninja` server (closed source; semantics from its clients):
//! server-assigned ids, `listing` on join, `someonejoined`/`videoaddedtoroom`, `play` turned into
//! `offerSDP`, `UUID` rewritten to the sender, `cleanup` on leave. Nothing crosses rooms.

use serde_json::{json, Map, Value};
use tracing::{debug, warn};

use super::routing::{ClientId, Relay};

impl Relay {
    pub(super) fn receive_official(&mut self, from: ClientId, text: &str) {
        let mut msg = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                warn!(%from, "relay(official): frame is not a JSON object, dropped");
                return;
            }
            Err(e) => {
                warn!(%from, error = %e, "relay(official): unparsable frame dropped");
                return;
            }
        };
        match msg.get("request").and_then(Value::as_str) {
            Some("joinroom") => self.official_join(from, &msg),
            Some("seed") => self.official_seed(from, &msg),
            Some("play") => self.official_play(from, &msg),
            _ => match msg.get("UUID") {
                Some(Value::String(target)) => {
                    let target = target.clone();
                    self.official_direct(from, &target, &mut msg)
                }
                Some(_) => warn!(%from, "relay(official): non-string UUID, dropped"),
                None => self.official_broadcast(from, &mut msg),
            },
        }
    }

    fn alert(&mut self, to: ClientId, message: &str) {
        self.send(
            to,
            json!({"request": "alert", "message": message}).to_string(),
        );
    }

    fn official_join(&mut self, from: ClientId, msg: &Map<String, Value>) {
        let room = match msg.get("roomid") {
            Some(Value::String(r)) if !r.is_empty() => r.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                warn!(%from, "relay(official): joinroom without a usable roomid");
                self.alert(from, "roomid required");
                return;
            }
        };
        let stream_id = match msg.get("streamID") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                warn!(%from, "relay(official): joinroom with an invalid streamID");
                self.alert(from, "invalid streamID");
                return;
            }
        };
        if let Some(error) =
            self.join_refusal(from, &room, stream_id.as_ref().map_or(0, String::len))
        {
            self.alert(from, error);
            return;
        }
        if let Some(sid) = &stream_id {
            if self.stream_owner(sid, from).is_some() {
                self.alert(from, "sid already in use");
                return;
            }
        }
        // Joining again (same or another room) is a leave followed by a join.
        self.official_leave_room(from);
        let Some(me) = self.clients.get_mut(&from) else {
            return;
        };
        me.room = Some(room.clone());
        if let Some(sid) = &stream_id {
            me.stream_id = Some(Value::String(sid.clone()));
        }
        let my_id = me.id_text();
        let stream_id = stream_id.or_else(|| {
            me.stream_id
                .as_ref()
                .and_then(|v| v.as_str().map(str::to_owned))
        });

        let members: Vec<ClientId> = self.room_members(&room, from).collect();
        let list: Vec<Value> = members
            .iter()
            .map(|m| {
                let c = &self.clients[m];
                match c.stream_id.as_ref().and_then(Value::as_str) {
                    Some(sid) => json!({"UUID": c.id_text(), "streamID": sid}),
                    None => json!({"UUID": c.id_text()}),
                }
            })
            .collect();
        self.send(
            from,
            json!({"request": "listing", "list": list}).to_string(),
        );

        let mut notices = Vec::new();
        match &stream_id {
            Some(sid) => {
                notices.push(json!({"request": "someonejoined", "UUID": my_id, "streamID": sid}));
                notices
                    .push(json!({"request": "videoaddedtoroom", "UUID": my_id, "streamID": sid}));
            }
            None => notices.push(json!({"request": "someonejoined", "UUID": my_id})),
        }
        for member in members {
            for notice in &notices {
                self.send(member, notice.to_string());
            }
        }
    }

    /// Remove `from` from its room (if any), telling the members.
    pub(super) fn official_leave_room(&mut self, from: ClientId) {
        let Some(me) = self.clients.get_mut(&from) else {
            return;
        };
        let Some(room) = me.room.take() else {
            return;
        };
        let notice = json!({"request": "cleanup", "UUID": me.id_text()}).to_string();
        let members: Vec<ClientId> = self.room_members(&room, from).collect();
        for member in members {
            self.send(member, notice.clone());
        }
    }

    fn official_seed(&mut self, from: ClientId, msg: &Map<String, Value>) {
        let Some(sid) = msg
            .get("streamID")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            warn!(%from, "relay(official): seed without a streamID");
            self.alert(from, "invalid streamID");
            return;
        };
        if self.id_too_long(sid.len()) {
            self.alert(from, "streamID too long");
            return;
        }
        if self.stream_owner(sid, from).is_some() {
            self.alert(from, "sid already in use");
            return;
        }
        let Some(me) = self.clients.get_mut(&from) else {
            return;
        };
        if me.stream_id.as_ref().and_then(Value::as_str) == Some(sid) {
            return; // Already announced.
        }
        me.stream_id = Some(Value::String(sid.to_owned()));
        let Some(room) = me.room.clone() else {
            return;
        };
        let notice = json!({"request": "videoaddedtoroom", "UUID": me.id_text(), "streamID": sid});
        let members: Vec<ClientId> = self.room_members(&room, from).collect();
        for member in members {
            self.send(member, notice.to_string());
        }
    }

    fn official_play(&mut self, from: ClientId, msg: &Map<String, Value>) {
        let Some(sid) = msg.get("streamID").and_then(Value::as_str) else {
            warn!(%from, "relay(official): play without a streamID");
            self.alert(from, "invalid streamID");
            return;
        };
        if let Some(me) = self.clients.get_mut(&from) {
            me.played = true;
        }
        let room = self.clients[&from].room.clone();
        let owner = self
            .stream_owner(sid, from)
            .filter(|owner| self.clients[owner].room == room);
        match owner {
            Some(owner) => {
                let viewer = self.clients[&from].id_text();
                self.send(
                    owner,
                    json!({"request": "offerSDP", "UUID": viewer}).to_string(),
                );
            }
            None => {
                debug!(%from, sid, "relay(official): play for an unknown stream");
                self.alert(from, "stream not found");
            }
        }
    }

    /// Deliver to `target` only, with `UUID` naming the sender.
    fn official_direct(&mut self, from: ClientId, target: &str, msg: &mut Map<String, Value>) {
        let room = self.clients[&from].room.clone();
        let to = self.clients.iter().find(|(id, c)| {
            **id != from && c.room == room && c.id.as_ref().and_then(Value::as_str) == Some(target)
        });
        let Some((&to, _)) = to else {
            debug!(%from, target, "relay(official): message for an unknown peer dropped");
            return;
        };
        msg.insert("UUID".into(), Value::String(self.clients[&from].id_text()));
        self.send(to, Value::Object(std::mem::take(msg)).to_string());
    }

    /// Deliver to every other member of the sender's room, with `UUID` naming the sender.
    fn official_broadcast(&mut self, from: ClientId, msg: &mut Map<String, Value>) {
        let Some(room) = self.clients[&from].room.clone() else {
            debug!(%from, "relay(official): broadcast outside a room dropped");
            return;
        };
        msg.insert("UUID".into(), Value::String(self.clients[&from].id_text()));
        let text = Value::Object(std::mem::take(msg)).to_string();
        let members: Vec<ClientId> = self.room_members(&room, from).collect();
        for member in members {
            self.send(member, text.clone());
        }
    }

    /// The other client owning stream id `sid`.
    fn stream_owner(&self, sid: &str, except: ClientId) -> Option<ClientId> {
        self.clients
            .iter()
            .find(|(id, c)| {
                **id != except && c.stream_id.as_ref().and_then(Value::as_str) == Some(sid)
            })
            .map(|(id, _)| *id)
    }
}

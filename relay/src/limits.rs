//! Caps on what one client may claim (room size, id and room-name lengths), so a hostile client
//! cannot grow the routing state without bound. Refusals answer with `{"error": ...}` like
//! `vdoninja.js` does for ids in use.

use super::routing::{ClientId, Relay};

/// Routing caps; the default is unlimited (exactly `vdoninja.js`), servers facing the internet
/// set them with [`Relay::set_limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Members per room, the joining client included.
    pub max_room_members: usize,
    /// Longest peer id (`from`) or stream id (`streamID`), in bytes.
    pub max_id_len: usize,
    /// Longest room name (`roomid` as text), in bytes.
    pub max_room_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_room_members: usize::MAX,
            max_id_len: usize::MAX,
            max_room_len: usize::MAX,
        }
    }
}

impl Relay {
    /// Apply `limits` to every later claim (clients already in rooms stay).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Why `from` may not join `room` with stream id length `sid_len`, if it may not.
    pub(super) fn join_refusal(
        &self,
        from: ClientId,
        room: &str,
        sid_len: usize,
    ) -> Option<&'static str> {
        if room.len() > self.limits.max_room_len {
            return Some("roomid too long");
        }
        if sid_len > self.limits.max_id_len {
            return Some("streamID too long");
        }
        let members = self
            .clients
            .iter()
            .filter(|(id, c)| **id != from && c.room.as_deref() == Some(room))
            .count();
        (members >= self.limits.max_room_members.saturating_sub(1)).then_some("room full")
    }

    /// Whether a peer or stream id of `len` bytes is over the limit.
    pub(super) fn id_too_long(&self, len: usize) -> bool {
        len > self.limits.max_id_len
    }
}

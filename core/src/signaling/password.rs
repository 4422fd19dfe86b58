//! Password normalization, salt choice and everything derived from room + password + salt.

use super::crypto::Cipher;

pub const DEFAULT_PASSWORD: &str = "someEncryptionKey123";
pub const DEFAULT_SALT: &str = "vdo.ninja";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Password {
    /// No `--password`: VDO.Ninja's default key, hashing and encryption on.
    Default,
    /// `false` / `0` / `off`: raw ids, plaintext SDP.
    Disabled,
    /// Already percent-encoded like `encodeURIComponent(p.trim())`.
    Custom(String),
}

impl Password {
    /// `None` = flag absent.
    pub fn parse(arg: Option<&str>) -> Password {
        todo!("{arg:?}")
    }
}

/// Salt the web app would use for a signaling host (`vdo.ninja` for the public site, localhost
/// and IP literals).
pub fn salt_for_host(host: &str) -> String {
    todo!("{host}")
}

/// Values derived from room + password + salt.
#[derive(Clone, Debug)]
pub struct RoomSecrets {
    /// Room id as sent in `joinroom`.
    pub room_wire: String,
    /// 6 hex chars appended to stream ids; None without password.
    pub stream_suffix: Option<String>,
    pub cipher: Option<Cipher>,
}

impl RoomSecrets {
    pub fn new(room: &str, password: &Password, salt: &str) -> RoomSecrets {
        todo!("{room}{password:?}{salt}")
    }
    /// Stream id as sent on the wire (with suffix).
    pub fn wire_stream_id(&self, stream_id: &str) -> String {
        todo!("{stream_id}")
    }
    /// Stream id without the password suffix (for display, filters and file names).
    pub fn strip_stream_id<'a>(&self, wire: &'a str) -> &'a str {
        todo!("{wire}")
    }
}

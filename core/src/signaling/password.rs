//! Password normalization, salt choice and everything derived from room + password + salt.

use super::crypto::{hash_hex, Cipher};

/// The key VDO.Ninja uses when the room has no `&password`.
pub const DEFAULT_PASSWORD: &str = "someEncryptionKey123";
/// Salt of the official site, localhost and IP hosts; other hosts use their name
/// ([`salt_for_host`]).
pub const DEFAULT_SALT: &str = "vdo.ninja";

/// Longest room name the app keeps after sanitizing.
const ROOM_MAX: usize = 30;
/// Stream ids are cut to this length before the password suffix is appended.
const STREAM_MAX: usize = 44;

/// The room password as the app treats it.
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
        let Some(raw) = arg else {
            return Password::Default;
        };
        let p = js_trim(raw);
        if p.is_empty() {
            return Password::Default;
        }
        if ["false", "0", "off"]
            .iter()
            .any(|d| p.eq_ignore_ascii_case(d))
        {
            return Password::Disabled;
        }
        Password::Custom(encode_uri_component(p))
    }

    /// The password text that goes into hashes and the key; None when disabled.
    pub fn effective(&self) -> Option<&str> {
        match self {
            Password::Default => Some(DEFAULT_PASSWORD),
            Password::Disabled => None,
            Password::Custom(p) => Some(p),
        }
    }
}

/// `String.prototype.trim`: JS whitespace differs from Rust's (`U+FEFF` yes, `U+0085` no).
fn js_trim(s: &str) -> &str {
    fn js_space(c: char) -> bool {
        matches!(
            c,
            '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200A}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{202F}'
                    | '\u{205F}'
                    | '\u{3000}'
                    | '\u{FEFF}'
        )
    }
    s.trim_matches(js_space)
}

/// JavaScript `encodeURIComponent`.
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Salt the web app would use for a signaling host (`vdo.ninja` for the public site, localhost
/// and IP literals).
pub fn salt_for_host(host: &str) -> String {
    let host = strip_port(host.trim()).to_ascii_lowercase();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let is_ip = bare.parse::<std::net::IpAddr>().is_ok();
    if is_ip || host == "localhost" || host == DEFAULT_SALT || host.ends_with(".vdo.ninja") {
        DEFAULT_SALT.to_string()
    } else {
        host
    }
}

/// `host:port` -> `host`, `[v6]:port` -> `[v6]`; a bare IPv6 literal is left alone.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Room name as the app sanitizes it: runs of non-word characters become `_`, at most 30 chars.
pub fn sanitize_room(room: &str) -> String {
    let mut out = sanitize_stream_id(room);
    // All ASCII now, so byte truncation is a char truncation.
    out.truncate(ROOM_MAX);
    out
}

/// Stream id as the app sanitizes `&push=`: runs of non-word characters become `_` (the cut to
/// 44 chars happens with the password suffix, in [`RoomSecrets::wire_stream_id`]).
pub fn sanitize_stream_id(id: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for c in js_trim(id).chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

/// Values derived from room + password + salt.
#[derive(Clone, Debug)]
pub struct RoomSecrets {
    /// Room id as sent in `joinroom`.
    pub room_wire: String,
    /// 6 hex chars appended to stream ids; None without password.
    pub stream_suffix: Option<String>,
    /// Seals SDP and candidates; None without password.
    pub cipher: Option<Cipher>,
}

impl RoomSecrets {
    /// Sanitizes the room name like the app, then hashes: with a password, `room_wire` is the
    /// first 16 hex chars of SHA-256(room + password + salt).
    pub fn new(room: &str, password: &Password, salt: &str) -> RoomSecrets {
        let room = sanitize_room(room);
        match password.effective() {
            None => RoomSecrets {
                room_wire: room,
                stream_suffix: None,
                cipher: None,
            },
            Some(p) => RoomSecrets {
                room_wire: hash_hex(&format!("{room}{p}{salt}"), 16),
                stream_suffix: Some(hash_hex(&format!("{p}{salt}"), 6)),
                cipher: Some(Cipher::new(p, salt)),
            },
        }
    }
    /// Stream id as sent on the wire (with suffix).
    pub fn wire_stream_id(&self, stream_id: &str) -> String {
        match &self.stream_suffix {
            None => stream_id.to_string(),
            Some(suffix) => {
                let cut: String = stream_id.chars().take(STREAM_MAX).collect();
                format!("{cut}{suffix}")
            }
        }
    }
    /// Stream id without the password suffix (for display, filters and file names).
    pub fn strip_stream_id<'a>(&self, wire: &'a str) -> &'a str {
        match &self.stream_suffix {
            Some(suffix) if wire.len() > suffix.len() => {
                wire.strip_suffix(suffix.as_str()).unwrap_or(wire)
            }
            _ => wire,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_password() {
        assert_eq!(Password::parse(None), Password::Default);
        assert_eq!(Password::parse(Some("")), Password::Default);
        assert_eq!(Password::parse(Some("  \t")), Password::Default);
        for off in [
            "false",
            "FALSE",
            " False ",
            "0",
            "off",
            "OFF",
            "\u{FEFF}off",
        ] {
            assert_eq!(Password::parse(Some(off)), Password::Disabled, "{off:?}");
        }
        assert_eq!(
            Password::parse(Some("falsey")),
            Password::Custom("falsey".into())
        );
        assert_eq!(
            Password::parse(Some(" hunter2 ")),
            Password::Custom("hunter2".into())
        );
        assert_eq!(
            Password::parse(Some("a b&c/d?é€😀")),
            Password::Custom("a%20b%26c%2Fd%3F%C3%A9%E2%82%AC%F0%9F%98%80".into())
        );
        // NEL is not JS whitespace: it stays and gets encoded.
        assert_eq!(
            Password::parse(Some("x\u{85}")),
            Password::Custom("x%C2%85".into())
        );
    }

    #[test]
    fn uri_component_keeps_unreserved() {
        let keep = "ABCXYZabcxyz0189-_.!~*'()";
        assert_eq!(encode_uri_component(keep), keep);
        assert_eq!(
            encode_uri_component("#$%+,:;=@[]\"<>"),
            "%23%24%25%2B%2C%3A%3B%3D%40%5B%5D%22%3C%3E"
        );
    }

    #[test]
    fn salts() {
        for h in [
            "vdo.ninja",
            "VDO.Ninja",
            "www.vdo.ninja",
            "wss.vdo.ninja",
            "localhost",
            "127.0.0.1",
            "10.1.2.3:8443",
            "::1",
            "[::1]",
            "[::1]:8443",
            "fe80::1",
            "localhost:8443",
        ] {
            assert_eq!(salt_for_host(h), "vdo.ninja", "{h}");
        }
        assert_eq!(salt_for_host("Example.COM"), "example.com");
        assert_eq!(salt_for_host("example.com:443"), "example.com");
        assert_eq!(salt_for_host("notvdo.ninja"), "notvdo.ninja");
        assert_eq!(salt_for_host("vdo.ninja.evil.com"), "vdo.ninja.evil.com");
    }

    #[test]
    fn sanitize() {
        assert_eq!(sanitize_room("testroom123"), "testroom123");
        assert_eq!(sanitize_room("my room!!name"), "my_room_name");
        assert_eq!(sanitize_room("é-é"), "_");
        assert_eq!(sanitize_room(" a "), "a");
        assert_eq!(sanitize_room(&"x".repeat(40)), "x".repeat(30));
    }

    #[test]
    fn secrets_default() {
        let s = RoomSecrets::new("testroom123", &Password::Default, "vdo.ninja");
        assert_eq!(s.room_wire, "f8a52950fcaa9910");
        assert_eq!(s.stream_suffix.as_deref(), Some("808d64"));
        assert_eq!(s.wire_stream_id("streamY"), "streamY808d64");
        assert_eq!(s.strip_stream_id("streamY808d64"), "streamY");
        assert!(s.cipher.is_some());
        let e2e = RoomSecrets::new("e2eroom", &Password::parse(None), DEFAULT_SALT);
        assert_eq!(e2e.room_wire, "3213057560d1c04a");
        assert_eq!(e2e.wire_stream_id("cam1"), "cam1808d64");
    }

    #[test]
    fn secrets_custom_and_disabled() {
        let s = RoomSecrets::new(
            "testroom123",
            &Password::parse(Some("hunter2")),
            "vdo.ninja",
        );
        assert_eq!(s.room_wire, "91ef82c5e9e46c4f");
        assert_eq!(s.stream_suffix.as_deref(), Some("1c2bdc"));
        let d = RoomSecrets::new("testroom123", &Password::parse(Some("false")), "vdo.ninja");
        assert_eq!(d.room_wire, "testroom123");
        assert_eq!(d.stream_suffix, None);
        assert!(d.cipher.is_none());
        assert_eq!(d.wire_stream_id("streamY"), "streamY");
        assert_eq!(d.strip_stream_id("streamY808d64"), "streamY808d64");
    }

    #[test]
    fn sanitized_room_is_hashed() {
        let a = RoomSecrets::new("my room", &Password::Default, "vdo.ninja");
        let b = RoomSecrets::new("my_room", &Password::Default, "vdo.ninja");
        assert_eq!(a.room_wire, b.room_wire);
    }

    #[test]
    fn stream_id_cut_and_strip() {
        let s = RoomSecrets::new("r", &Password::Default, "vdo.ninja");
        let long = "a".repeat(50);
        assert_eq!(s.wire_stream_id(&long), format!("{}808d64", "a".repeat(44)));
        // The suffix alone is not stripped; a missing suffix leaves the id as is.
        assert_eq!(s.strip_stream_id("808d64"), "808d64");
        assert_eq!(s.strip_stream_id("cam1"), "cam1");
        assert_eq!(s.strip_stream_id("x808d64"), "x");
    }
}

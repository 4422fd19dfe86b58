//! STUN and TURN server URLs as users write them (RFC 7064 / 7065, plus the credentials the web
//! app passes separately): `stun:HOST[:PORT]`, `turn:USER:PASS@HOST[:PORT][?transport=udp|tcp]`,
//! `turns:USER:PASS@HOST[:PORT]`. Parsing only: the shell resolves the host.

use std::fmt;

/// The default port of `stun:` and `turn:` (RFC 5389).
pub const STUN_PORT: u16 = 3478;
/// The default port of `turns:` (RFC 5766); many deployments use 443 instead.
pub const TURNS_PORT: u16 = 5349;

/// A STUN server: where to send binding requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StunUrl {
    /// Host name or IP literal (without brackets).
    pub host: String,
    /// UDP port.
    pub port: u16,
}

/// How we reach a TURN server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnTransport {
    /// `turn:` (default) or `?transport=udp`.
    Udp,
    /// `turn:...?transport=tcp`.
    Tcp,
    /// `turns:`: TLS over TCP, the server's certificate verified.
    Tls,
}

impl fmt::Display for TurnTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TurnTransport::Udp => "udp",
            TurnTransport::Tcp => "tcp",
            TurnTransport::Tls => "tls",
        })
    }
}

/// A TURN server with the long-term credentials to use on it.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnUrl {
    /// Host name or IP literal (without brackets); for TLS also the name the certificate must
    /// carry.
    pub host: String,
    /// Port.
    pub port: u16,
    /// UDP, TCP or TLS.
    pub transport: TurnTransport,
    /// Long-term credential user name.
    pub username: String,
    /// Long-term credential password (never shown).
    pub password: String,
}

/// Shown in logs and diagnoses: never the password.
impl fmt::Display for TurnUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.transport == TurnTransport::Tls {
            "turns"
        } else {
            "turn"
        };
        write!(
            f,
            "{scheme}:{}@{}",
            self.username,
            host_port(&self.host, self.port)
        )?;
        if self.transport == TurnTransport::Tcp {
            f.write_str("?transport=tcp")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TurnUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TurnUrl({self})")
    }
}

impl fmt::Display for StunUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stun:{}", host_port(&self.host, self.port))
    }
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Parses `stun:HOST[:PORT]` (the scheme may be left out).
pub fn parse_stun(text: &str) -> Result<StunUrl, String> {
    let rest = text.trim();
    let rest = rest.strip_prefix("stun:").unwrap_or(rest);
    if rest.contains('@') || rest.contains('?') {
        return Err(format!(
            "{text:?}: a STUN URL is stun:HOST[:PORT] (no credentials or options)"
        ));
    }
    let (host, port) = parse_host_port(rest, STUN_PORT).map_err(|e| format!("{text:?}: {e}"))?;
    Ok(StunUrl { host, port })
}

/// Parses `turn:USER:PASS@HOST[:PORT][?transport=udp|tcp]` or `turns:USER:PASS@HOST[:PORT]`.
/// User and password may be percent-encoded (`%40` for `@`, `%3A` for `:`).
pub fn parse_turn(text: &str) -> Result<TurnUrl, String> {
    let err = |e: &str| format!("{text:?}: {e}");
    let trimmed = text.trim();
    let (tls, rest) = if let Some(rest) = trimmed.strip_prefix("turns:") {
        (true, rest)
    } else if let Some(rest) = trimmed.strip_prefix("turn:") {
        (false, rest)
    } else {
        return Err(err("a TURN URL starts with turn: or turns:"));
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let Some((userinfo, address)) = rest.rsplit_once('@') else {
        return Err(err(
            "credentials are missing: turn:USER:PASS@HOST[:PORT] (roomrec has none built in)",
        ));
    };
    let Some((user, pass)) = userinfo.split_once(':') else {
        return Err(err("write the credentials as USER:PASS"));
    };
    let username = percent_decode(user).ok_or_else(|| err("bad percent-encoding in the user"))?;
    let password =
        percent_decode(pass).ok_or_else(|| err("bad percent-encoding in the password"))?;
    if username.is_empty() {
        return Err(err("the user name is empty"));
    }
    let mut transport = if tls {
        TurnTransport::Tls
    } else {
        TurnTransport::Udp
    };
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        match pair.split_once('=') {
            Some(("transport", "udp")) if !tls => transport = TurnTransport::Udp,
            Some(("transport", "tcp")) if !tls => transport = TurnTransport::Tcp,
            Some(("transport", "tcp")) => {}
            Some(("transport", other)) => {
                return Err(err(&format!(
                    "transport={other} is not supported (udp or tcp; turns: is TLS over TCP)"
                )))
            }
            _ => return Err(err(&format!("unknown option {pair:?}"))),
        }
    }
    let default_port = if tls { TURNS_PORT } else { STUN_PORT };
    let (host, port) = parse_host_port(address, default_port).map_err(|e| err(&e))?;
    Ok(TurnUrl {
        host,
        port,
        transport,
        username,
        password,
    })
}

fn parse_host_port(text: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs a closing ]")?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("unexpected {after:?} after the address")),
        }
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c == '/' || c == '@')
    {
        return Err(format!("{host:?} is not a host name"));
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("{p:?} is not a port")),
            Ok(p) => p,
        },
    };
    Ok((host.to_string(), port))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stun_urls() {
        let url = parse_stun("stun:stun.l.google.com:19302").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("stun.l.google.com", 19302));
        assert_eq!(parse_stun("203.0.113.1").unwrap().port, 3478);
        let v6 = parse_stun("stun:[2001:db8::1]:3479").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("2001:db8::1", 3479));
        assert!(parse_stun("stun:").is_err());
        assert!(parse_stun("stun:host:0").is_err());
        assert!(parse_stun("stun:u:p@host").is_err());
    }

    #[test]
    fn turn_urls() {
        let url = parse_turn("turn:alice:s%40cret:x@turn.example.org?transport=tcp").unwrap();
        assert_eq!(url.host, "turn.example.org");
        assert_eq!(url.port, 3478);
        assert_eq!(url.transport, TurnTransport::Tcp);
        assert_eq!(url.username, "alice");
        assert_eq!(url.password, "s@cret:x");
        // The password never shows.
        assert_eq!(
            url.to_string(),
            "turn:alice@turn.example.org:3478?transport=tcp"
        );
        assert!(!format!("{url:?}").contains("cret"));
        let tls = parse_turn("turns:bob:pw@203.0.113.1:443").unwrap();
        assert_eq!((tls.transport, tls.port), (TurnTransport::Tls, 443));
        assert_eq!(parse_turn("turns:bob:pw@h").unwrap().port, 5349);
        assert_eq!(
            parse_turn("turn:a:b@h:3478?transport=udp")
                .unwrap()
                .transport,
            TurnTransport::Udp
        );
        for bad in [
            "turn:host:3478",
            "turn::pw@host",
            "turn:user@host",
            "stun:u:p@host",
            "turn:u:p@host?transport=dtls",
            "turn:u:p@host?foo=bar",
            "turn:u:p@host:99999",
            "turn:u:p%zz@host",
        ] {
            assert!(parse_turn(bad).is_err(), "{bad} accepted");
        }
    }
}

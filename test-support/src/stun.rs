//! An independent STUN client (RFC 5389 Binding requests built by hand, not roomrec's code), to
//! prove what a NAT does: which public address and port a socket is mapped to, as seen by two
//! servers from the same socket.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::netns::{Role, Topology};

/// RFC 5389's magic cookie.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
/// The pre-RFC 5389 attribute, used only when a server sends no XOR-MAPPED-ADDRESS.
const MAPPED_ADDRESS: u16 = 0x0001;

/// A Binding request: the 20-byte header alone (type, length 0, magic cookie, transaction id).
pub fn binding_request(transaction: [u8; 12]) -> [u8; 20] {
    let mut msg = [0u8; 20];
    msg[0..2].copy_from_slice(&BINDING_REQUEST.to_be_bytes());
    msg[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    msg[8..20].copy_from_slice(&transaction);
    msg
}

/// The mapped address in a Binding success response to `transaction`: XOR-MAPPED-ADDRESS, else
/// MAPPED-ADDRESS. None for anything else (another message, another transaction, malformed).
pub fn parse_binding_response(msg: &[u8], transaction: [u8; 12]) -> Option<SocketAddr> {
    if msg.len() < 20
        || u16::from_be_bytes([msg[0], msg[1]]) != BINDING_SUCCESS
        || msg[4..8] != MAGIC_COOKIE.to_be_bytes()
        || msg[8..20] != transaction
    {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([msg[2], msg[3]]));
    let body = msg.get(20..20 + len)?;
    let (mut at, mut plain) = (0, None);
    while at + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[at], body[at + 1]]);
        let alen = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        let value = body.get(at + 4..at + 4 + alen)?;
        match kind {
            XOR_MAPPED_ADDRESS => return address(value, Some(&msg[4..20])),
            MAPPED_ADDRESS => plain = address(value, None),
            _ => {}
        }
        at += 4 + alen.div_ceil(4) * 4;
    }
    plain
}

/// An address attribute's value; XORed with the cookie and transaction id when `xor` is given
/// (the message's bytes 4..20).
fn address(value: &[u8], xor: Option<&[u8]>) -> Option<SocketAddr> {
    let mask = |i: usize| xor.map_or(0, |x| x[i]);
    let port = u16::from_be_bytes([value.get(2)? ^ mask(0), value.get(3)? ^ mask(1)]);
    let ip = match value.get(1)? {
        0x01 => {
            let b: [u8; 4] = std::array::from_fn(|i| value.get(4 + i).map_or(0, |v| v ^ mask(i)));
            value.get(7)?;
            IpAddr::V4(Ipv4Addr::from(b))
        }
        0x02 => {
            let b: [u8; 16] = std::array::from_fn(|i| value.get(4 + i).map_or(0, |v| v ^ mask(i)));
            value.get(19)?;
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Asks `server` for this socket's mapped address: a Binding request, resent every 200 ms until a
/// matching response arrives or `timeout` passes. Other datagrams are ignored.
pub fn query(socket: &UdpSocket, server: SocketAddr, timeout: Duration) -> io::Result<SocketAddr> {
    let transaction: [u8; 12] = std::array::from_fn(|_| fastrand::u8(..));
    let request = binding_request(transaction);
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 1500];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no STUN Binding response from {server} within {timeout:?}"),
            ));
        }
        socket.send_to(&request, server)?;
        let resend = (now + Duration::from_millis(200)).min(deadline);
        while let Some(left) = resend.checked_duration_since(Instant::now()) {
            if left.is_zero() {
                break;
            }
            socket.set_read_timeout(Some(left))?;
            match socket.recv_from(&mut buf) {
                Ok((n, from)) if from == server => {
                    if let Some(mapped) = parse_binding_response(&buf[..n], transaction) {
                        return Ok(mapped);
                    }
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            // An ICMP unreachable from an earlier send: keep trying.
                            | io::ErrorKind::ConnectionRefused
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// What one socket learned from STUN servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The socket's own address (`0.0.0.0:PORT`: the port is what a NAT may keep).
    pub local: SocketAddr,
    /// The mapped address each server saw, in the servers' order.
    pub mapped: Vec<SocketAddr>,
}

/// One socket (bound to `0.0.0.0:0`, in the calling thread's namespace) asking each server in turn.
/// Panics if a server does not answer within 5 s.
pub fn probe(servers: &[SocketAddr]) -> Probe {
    let socket = UdpSocket::bind("0.0.0.0:0").expect("bind a UDP socket");
    let mapped = servers
        .iter()
        .map(|&s| query(&socket, s, Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    Probe {
        local: socket.local_addr().expect("local address"),
        mapped,
    }
}

/// RFC 4787 mapping behaviour, as far as two servers at different addresses can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// The same public address and port toward both servers (cone NATs, 1:1 NAT, no NAT).
    EndpointIndependent,
    /// A different public address or port per destination (symmetric NAT).
    AddressDependent,
}

/// What [`mapping_behaviour`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappingReport {
    /// The behaviour that follows from `mapped`.
    pub mapping: Mapping,
    /// The probing socket's own address (`0.0.0.0:PORT`).
    pub local: SocketAddr,
    /// What the first and the second server saw.
    pub mapped: [SocketAddr; 2],
}

/// One socket in `role` asks `server_1` and `server_2` (at different addresses) for its mapped
/// address: the mapping behaviour of the NATs on the way.
pub fn mapping_behaviour(
    topology: &Topology,
    role: Role,
    server_1: SocketAddr,
    server_2: SocketAddr,
) -> MappingReport {
    let found = topology.run_in(role, || probe(&[server_1, server_2]));
    let mapped = [found.mapped[0], found.mapped[1]];
    let mapping = match mapped[0] == mapped[1] {
        true => Mapping::EndpointIndependent,
        false => Mapping::AddressDependent,
    };
    MappingReport {
        mapping,
        local: found.local,
        mapped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attributes of RFC 5769's sample IPv4 response (section 2.2), with its integrity
    /// dropped and a zero FINGERPRINT: mapped address 192.0.2.1:32853.
    #[test]
    fn parses_rfc5769_ipv4_response() {
        let msg = hex(
            "010100242112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220\
             002000080001a147e112a6438028000400000000",
        );
        let transaction: [u8; 12] = msg[8..20].try_into().unwrap();
        assert_eq!(
            parse_binding_response(&msg, transaction),
            Some("192.0.2.1:32853".parse().unwrap())
        );
        let mut other = transaction;
        other[0] ^= 1;
        assert_eq!(parse_binding_response(&msg, other), None);
    }

    #[test]
    fn request_header() {
        let r = binding_request([7; 12]);
        assert_eq!(&r[..8], &[0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]);
        assert_eq!(&r[8..], &[7; 12]);
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}

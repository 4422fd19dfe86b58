//! `session_offer` and `session_datagram`: offers and UDP datagrams into a core `Connection`
//! (str0m, the data-channel protocol and the recorder).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use roomrec_core::connection::{
    Connection, ConnectionCommand, ConnectionHandle, ConnectionInput, ConnectionOutput,
    ConnectionReport, ConnectionStart, SessionKey,
};
use roomrec_core::signaling::IceCandidate;
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::ice::{StunMessage, TransId};
use str0m::{Candidate, Rtc};

use super::signaling::base_instant;
use super::Bytes;

/// The publisher's first offer (data channel only), as captured from the real web app.
pub(crate) const FIRST_OFFER: &str =
    include_str!("../../fixtures/traces/sdp/chrome-first-offer-datachannel-only.sdp");
/// The audio + video re-offer that follows on the data channel.
pub(crate) const REOFFER: &str =
    include_str!("../../fixtures/traces/sdp/chrome-reoffer-audio-video.sdp");
pub(crate) const REOFFER_H264: &str =
    include_str!("../../fixtures/traces/sdp/chrome-reoffer-h264-preferred.sdp");

const LOCAL: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 40_000);
const REMOTES: [SocketAddr; 2] = [
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 50_000),
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 50_001),
];

/// A connection to the publisher that sent `offer`.
fn connect(now: Instant, offer: &str) -> Connection {
    let start = ConnectionStart {
        handle: ConnectionHandle(1),
        key: SessionKey {
            peer: "publisher".into(),
            session: "session".into(),
        },
        stream_id: "cam1".into(),
        offer_sdp: offer.into(),
        cipher: None,
        first_file_id: 0,
        seed: 1,
        settings: Default::default(),
    };
    Connection::new(now, SystemTime::UNIX_EPOCH, start, &[LOCAL])
}

fn input(connection: &mut Connection, now: Instant, input: ConnectionInput) {
    connection.handle_input(now, SystemTime::UNIX_EPOCH, input);
}

/// The whole input is an offer SDP (lossy UTF-8). If the session accepts it, its answer must
/// parse, the session must survive its first timeout, and the same text is then applied as the
/// data-channel re-offer would be (see [`reoffer`]).
pub fn session_offer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let now = base_instant();
    let mut connection = connect(now, &text);
    let mut outputs = Outputs::default();
    outputs.drain(&mut connection);
    let Some(answer) = outputs.answer.take() else {
        assert!(outputs.closed, "a connection neither answers nor closes");
        return;
    };
    if let Err(e) = SdpAnswer::from_sdp_string(&answer) {
        panic!("our answer does not parse: {e}\n{answer}");
    }
    let t = connection
        .poll_timeout()
        .expect("a live connection has a timeout");
    assert!(t >= now, "timeout in the past");
    input(&mut connection, t, ConnectionInput::Timeout);
    outputs.drain(&mut connection);
    reoffer(&text);
}

/// What the connection's re-offer handling does with a data-channel offer, at the str0m level: the data
/// channel itself cannot be reached without a DTLS handshake, which a fuzzer cannot complete.
/// Same codec setup as `Connection::new`, the real first offer accepted, then `text` as the re-offer
/// with the same sendrecv -> sendonly rewrite.
fn reoffer(text: &str) {
    let now = base_instant();
    fastrand::seed(2);
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .enable_h264(true)
        .enable_vp9(true)
        .enable_av1(true)
        .build(now);
    rtc.add_local_candidate(Candidate::host(LOCAL, "udp").expect("valid local candidate"));
    let first = SdpOffer::from_sdp_string(FIRST_OFFER).expect("fixture offer parses");
    rtc.sdp_api()
        .accept_offer(first)
        .expect("fixture offer is accepted");
    let Ok(offer) = SdpOffer::from_sdp_string(&text.replace("a=sendrecv", "a=sendonly")) else {
        return;
    };
    let Ok(answer) = rtc.sdp_api().accept_offer(offer) else {
        return;
    };
    let answer = answer.to_sdp_string();
    if let Err(e) = SdpAnswer::from_sdp_string(&answer) {
        panic!("our re-offer answer does not parse: {e}\n{answer}");
    }
    for _ in 0..100 {
        match rtc.poll_output() {
            Ok(str0m::Output::Timeout(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// Layout: a session is created from the real first offer, then the input is a list of ops; each
/// starts with a byte whose bit 7 picks the remote address and whose low nibble picks the op:
/// 0 raw datagram (`u16` length & 0x7FF, bytes), 1 a correctly signed STUN binding request (bit 4:
/// USE-CANDIDATE, bit 5: controlling; `u16` priority), 2 STUN-looking (type `u16`, 12-byte
/// transaction id, `u8` length, attributes), 3 DTLS-record-looking, 4 RTP-looking, 5
/// RTCP-looking, 6 advance the clock by d² ms and handle due timeouts, 7 remote candidate text,
/// 8 a timeout at the current time, 9 close; others: raw datagram to a port that is not ours.
pub fn session_datagram(data: &[u8]) {
    let mut now = base_instant();
    let mut connection = connect(now, FIRST_OFFER);
    let mut outputs = Outputs::default();
    outputs.drain(&mut connection);
    let answer = outputs.answer.take().expect("the real offer is answered");
    let (ufrag, pwd) = ice_creds(&answer).expect("our answer has ICE credentials");
    let (remote_ufrag, _) = ice_creds(FIRST_OFFER).expect("the offer has ICE credentials");
    let mut b = Bytes::new(data);
    while !b.is_empty() {
        let op = b.u8();
        let source = REMOTES[usize::from(op >> 7)];
        let mut destination = LOCAL;
        let contents = match op & 0x0F {
            0 => {
                let len = usize::from(b.u16() & 0x7FF);
                b.take(len).to_vec()
            }
            1 => {
                let username = format!("{ufrag}:{remote_ufrag}");
                let prio = u32::from(b.u16()) << 8;
                binding_request(&username, &pwd, op & 0x20 != 0, op & 0x10 != 0, prio)
            }
            2 => {
                let kind = b.u16() & 0x3FFF;
                let id = b.take(12).to_vec();
                let len = usize::from(b.u8());
                let attrs = b.take(len);
                let mut v = kind.to_be_bytes().to_vec();
                v.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
                v.extend_from_slice(&0x2112_A442u32.to_be_bytes());
                v.extend_from_slice(&id);
                v.resize(20, 0);
                v.extend_from_slice(attrs);
                v
            }
            3 => {
                let content_type = 20 + b.u8() % 6;
                let header = b.take(8).to_vec();
                let len = usize::from(b.u16() & 0x3FF);
                let body = b.take(len);
                let mut v = vec![content_type, 0xFE, 0xFD];
                v.extend_from_slice(&header);
                v.resize(11, 0);
                v.extend_from_slice(&(body.len() as u16).to_be_bytes());
                v.extend_from_slice(body);
                v
            }
            4 | 5 => {
                let first = 0x80 | (b.u8() & 0x3F);
                let pt = if op & 0x0F == 5 {
                    200 + b.u8() % 7
                } else {
                    b.u8()
                };
                let len = usize::from(b.u16() & 0x3FF);
                let mut v = vec![first, pt];
                v.extend_from_slice(b.take(len));
                v
            }
            6 => {
                let d = u64::from(b.u8());
                now += Duration::from_millis(d * d);
                if connection.poll_timeout().is_some_and(|t| t <= now) {
                    input(&mut connection, now, ConnectionInput::Timeout);
                }
                outputs.drain(&mut connection);
                continue;
            }
            7 => {
                let len = usize::from(b.u8());
                let candidate = String::from_utf8_lossy(b.take(len)).into_owned();
                let candidate = IceCandidate {
                    candidate,
                    sdp_mid: None,
                    sdp_mline_index: None,
                    username_fragment: None,
                };
                let cmd = ConnectionCommand::RemoteCandidates(vec![candidate]);
                input(&mut connection, now, ConnectionInput::Command(cmd));
                outputs.drain(&mut connection);
                continue;
            }
            8 => {
                input(&mut connection, now, ConnectionInput::Timeout);
                outputs.drain(&mut connection);
                continue;
            }
            9 => {
                let close = ConnectionInput::Command(ConnectionCommand::Close);
                input(&mut connection, now, close);
                outputs.drain(&mut connection);
                assert!(
                    connection.is_closed(),
                    "Close command leaves the connection open"
                );
                continue;
            }
            _ => {
                destination = SocketAddr::new(LOCAL.ip(), 40_001);
                let len = usize::from(b.u8());
                b.take(len).to_vec()
            }
        };
        let _ = connection.accepts(source, destination, &contents);
        let datagram = ConnectionInput::Datagram {
            source,
            destination,
            contents,
        };
        input(&mut connection, now, datagram);
        outputs.drain(&mut connection);
    }
    now += Duration::from_secs(30);
    input(&mut connection, now, ConnectionInput::Timeout);
    outputs.drain(&mut connection);
    assert!(
        connection.is_closed(),
        "a connection never connected is closed after its connect timeout"
    );
    assert!(outputs.closed, "the close was reported");
}

/// Checks on a connection's outputs across a run.
#[derive(Default)]
struct Outputs {
    answer: Option<String>,
    closed: bool,
}

impl Outputs {
    fn drain(&mut self, connection: &mut Connection) {
        while let Some(out) = connection.poll_output() {
            assert!(!self.closed, "output after the Closed report: {out:?}");
            match out {
                ConnectionOutput::Transmit { source, .. } => {
                    assert_eq!(source, LOCAL, "transmit from an address that is not ours");
                }
                ConnectionOutput::Report(ConnectionReport::Answer { sdp }) => {
                    assert!(self.answer.is_none(), "second answer report");
                    self.answer = Some(sdp);
                }
                ConnectionOutput::Report(ConnectionReport::Closed(_)) => self.closed = true,
                // No STUN/TURN servers are configured here: nothing to trickle, no streams.
                ConnectionOutput::Report(ConnectionReport::LocalCandidates(c)) => {
                    panic!("candidates without STUN/TURN: {c:?}")
                }
                ConnectionOutput::Stream(op) => panic!("a stream without TURN: {op:?}"),
                ConnectionOutput::File(_) | ConnectionOutput::Event(_) => {}
            }
        }
    }
}

/// A STUN binding request as the remote ICE agent sends it, signed with our password.
fn binding_request(
    username: &str,
    pwd: &str,
    controlling: bool,
    use_candidate: bool,
    prio: u32,
) -> Vec<u8> {
    let msg = StunMessage::binding_request(
        username,
        TransId::new(),
        controlling,
        7,
        prio,
        use_candidate,
    );
    let mut buf = vec![0; 1500];
    let hmac = |key: &[u8], parts: &[&[u8]]| {
        str0m::crypto::from_feature_flags()
            .sha1_hmac_provider
            .sha1_hmac(key, parts)
    };
    let len = msg
        .to_bytes(Some(pwd.as_bytes()), &mut buf, hmac)
        .expect("STUN message fits");
    buf.truncate(len);
    buf
}

/// `a=ice-ufrag` and `a=ice-pwd` of an SDP.
fn ice_creds(sdp: &str) -> Option<(String, String)> {
    let attr = |name: &str| {
        sdp.lines()
            .find_map(|l| l.trim().strip_prefix(name).map(str::to_string))
    };
    Some((attr("a=ice-ufrag:")?, attr("a=ice-pwd:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signed request the datagram target builds really passes str0m's integrity check: the
    /// connection answers it with a binding success response.
    #[test]
    fn signed_binding_request_is_answered() {
        let now = base_instant();
        let mut connection = connect(now, FIRST_OFFER);
        let mut outputs = Outputs::default();
        outputs.drain(&mut connection);
        let (ufrag, pwd) = ice_creds(&outputs.answer.take().expect("answer")).expect("creds");
        let (remote_ufrag, _) = ice_creds(FIRST_OFFER).expect("offer creds");
        let request = binding_request(
            &format!("{ufrag}:{remote_ufrag}"),
            &pwd,
            true,
            true,
            1 << 24,
        );
        let contents = request.clone();
        let datagram = ConnectionInput::Datagram {
            source: REMOTES[0],
            destination: LOCAL,
            contents,
        };
        input(&mut connection, now, datagram);
        let mut answered = false;
        while let Some(out) = connection.poll_output() {
            if let ConnectionOutput::Transmit {
                destination,
                contents,
                ..
            } = out
            {
                let reply = StunMessage::parse(&contents);
                answered |= destination == REMOTES[0]
                    && reply.is_ok_and(|m| m.is_successful_binding_response());
            }
        }
        assert!(
            answered,
            "no binding success response to a correctly signed request"
        );
        // A wrong password is not answered.
        let mut connection = connect(now, FIRST_OFFER);
        while connection.poll_output().is_some() {}
        let bad = binding_request(
            &format!("{ufrag}:{remote_ufrag}"),
            "wrong-password-000000",
            true,
            true,
            1 << 24,
        );
        let datagram = ConnectionInput::Datagram {
            source: REMOTES[0],
            destination: LOCAL,
            contents: bad,
        };
        input(&mut connection, now, datagram);
        while let Some(out) = connection.poll_output() {
            if let ConnectionOutput::Transmit { contents, .. } = out {
                assert!(!StunMessage::parse(&contents)
                    .is_ok_and(|m| m.is_successful_binding_response()));
            }
        }
    }
}

//! The live views' preview data: our answer to a browser's offer negotiates the RTP audio-level
//! extension (RFC 6464) under the browser's id, so its levels reach us without decoding audio.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use roomrec_core::connection::{
    Connection, ConnectionHandle, ConnectionOutput, ConnectionReport, ConnectionSettings,
    ConnectionStart, SessionKey,
};

const REOFFER: &str =
    include_str!("../../tests/fixtures/traces/sdp/chrome-reoffer-audio-video.sdp");
const AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

fn answer(offer: &str) -> String {
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
        settings: ConnectionSettings::default(),
    };
    let local = [SocketAddr::from(([127, 0, 0, 1], 40_000))];
    let mut connection = Connection::new(Instant::now(), SystemTime::now(), start, &local);
    while let Some(out) = connection.poll_output() {
        if let ConnectionOutput::Report(ConnectionReport::Answer { sdp }) = out {
            return sdp;
        }
    }
    panic!("no answer")
}

/// The extmap lines of the answer's audio section.
fn audio_extmaps(sdp: &str) -> Vec<String> {
    let mut in_audio = false;
    let mut out = Vec::new();
    for line in sdp.lines() {
        if line.starts_with("m=") {
            in_audio = line.starts_with("m=audio");
        } else if in_audio && line.starts_with("a=extmap:") {
            out.push(line.trim().to_string());
        }
    }
    out
}

#[test]
fn the_answer_negotiates_the_audio_level_extension_under_the_offers_id() {
    let offered = audio_extmaps(REOFFER);
    assert!(
        offered.contains(&format!("a=extmap:14 {AUDIO_LEVEL}")),
        "the fixture is Chrome's offer with audio level as 14: {offered:?}"
    );
    let answered = audio_extmaps(&answer(REOFFER));
    assert!(
        answered.contains(&format!("a=extmap:14 {AUDIO_LEVEL}")),
        "answer's audio extmaps: {answered:?}"
    );
}

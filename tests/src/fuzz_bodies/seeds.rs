//! Seed inputs per target, built from the real fixtures (captured signaling traces and SDPs,
//! ffmpeg-generated media). They start the fuzz corpora (`fuzz/seeds/`, written by the ignored
//! test `write_fuzz_seeds`) and are replayed on stable by `tests/tests/fuzz_replay.rs`.

use std::path::{Path, PathBuf};

use roomrec_core::signaling::password::{DEFAULT_PASSWORD, DEFAULT_SALT};
use roomrec_core::signaling::Cipher;
use roomrec_testpeer::source::{read_h264_annexb, read_ivf, read_ogg_opus};
use serde_json::Value;

use super::session::{FIRST_OFFER, REOFFER, REOFFER_H264};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = repo().join("core/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Seeds for the target `name` (one of [`super::TARGETS`]).
pub fn seeds(name: &str) -> Vec<Vec<u8>> {
    match name {
        "signaling_room" => signaling(),
        "session_offer" => offers(),
        "session_datagram" => datagrams(),
        "muxer_ts" => ts(),
        "muxer_webm" => webm(),
        "codec_parse" => codec(),
        other => panic!("no target {other}"),
    }
}

fn signaling() -> Vec<Vec<u8>> {
    let dir = repo().join("tests/fixtures/traces");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("traces directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let mut seeds = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("trace");
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let viewer = lines
            .iter()
            .find(|l| l["sender"] == "viewer" && l["msg"]["request"] == "joinroom")
            .and_then(|l| l["msg"]["from"].as_str())
            .expect("viewer id")
            .to_string();
        let password = path.to_string_lossy().contains("defaultpw");
        for (with_reports, filter) in [(true, false), (false, true)] {
            let flags = 8 | if password { 2 } else { 0 } | if filter { 4 } else { 0 };
            let mut seed = vec![flags];
            for line in lines.iter().filter(|l| l["sender"] == "publisher") {
                seed.push(b'\n');
                seed.extend(small(&line["msg"]).replace(&viewer, "$ME").bytes());
                if with_reports
                    && line["msg"].get("description").is_some()
                    && line["channel"] == "ws"
                {
                    seed.extend(b"\n\x04\x00v=0\r");
                }
            }
            if with_reports {
                seed.extend(b"\n\x06\xff\n\x05\x00gone\n\x06\x30\n\x02\n\x06\x60\n\x01");
            }
            seeds.push(seed);
        }
    }
    let official = [
        r#"{"request":"listing","list":[{"UUID":"p1","streamID":"cam1"},{"UUID":"p3"}]}"#,
        r#"{"UUID":"p1","candidates":[{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}],"session":"s1"}"#,
        r#"{"UUID":"p1","description":{"type":"offer","sdp":"v=0"},"session":"s1","streamID":"cam1","isScene":false}"#,
        r#"{"request":"videoaddedtoroom","UUID":"p2","streamID":"cam1"}"#,
        r#"{"UUID":"p2","description":{"type":"offer","sdp":"v=0"},"session":"s2"}"#,
        r#"{"request":"cleanup","UUID":"p1"}"#,
        r#"{"UUID":"p2","bye":true}"#,
        r#"{"error":"room claimed"}"#,
        r#"{"request":"alert","message":"hi"}"#,
    ];
    for flags in [9u8, 13] {
        let mut seed = vec![flags];
        for msg in official {
            seed.push(b'\n');
            seed.extend(msg.bytes());
        }
        seed.extend(b"\n\x06\xff\n\x06\xff\n\x03");
        seeds.push(seed);
    }
    // Official dialect with the default password: the seal directive encrypts the offer.
    let mut sealed = vec![11u8];
    sealed.extend(b"\n{\"request\":\"someonejoined\",\"UUID\":\"p1\",\"streamID\":\"cam1808d64\"}");
    sealed.extend(b"\n\x07{\"UUID\":\"p1\",\"description\":{\"type\":\"offer\",\"sdp\":\"v=0\"},\"session\":\"s1\"}");
    sealed.extend(
        b"\n\x07{\"UUID\":\"p1\",\"candidates\":[{\"candidate\":\"c\"}],\"session\":\"s1\"}",
    );
    sealed.extend(b"\n\x04\x00v=0\n\x05\x00x\n\x06\xff");
    seeds.push(sealed);
    seeds
}

/// A trace message made small (fuzzing speed is dominated by input size): a short SDP instead of
/// the real one, and encrypted payloads decrypted into a seal step (`07`) that the body encrypts
/// again with the room key.
fn small(msg: &Value) -> String {
    let mut msg = msg.clone();
    let Some(obj) = msg.as_object_mut() else {
        return msg.to_string();
    };
    let sealed = obj.remove("vector");
    if let Some(Value::String(vector)) = &sealed {
        let cipher = Cipher::new(DEFAULT_PASSWORD, DEFAULT_SALT);
        for field in ["description", "candidates"] {
            if let Some(Value::String(hex)) = obj.get(field) {
                let plain = cipher.decrypt(hex, vector).expect("trace payload decrypts");
                obj.insert(
                    field.into(),
                    serde_json::from_str(&plain).expect("JSON payload"),
                );
            }
        }
    }
    if let Some(Value::Object(desc)) = obj.get_mut("description") {
        desc.insert(
            "sdp".into(),
            Value::String("v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n".into()),
        );
    }
    match sealed {
        Some(_) => format!("\x07{msg}"),
        None => msg.to_string(),
    }
}

fn offers() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for sdp in [FIRST_OFFER, REOFFER, REOFFER_H264] {
        seeds.push(sdp.as_bytes().to_vec());
        seeds.push(sdp.replace("\r\n", "\n").into_bytes());
        seeds.push(sdp.replace("a=sendrecv", "a=recvonly").into_bytes());
        seeds.push(sdp.as_bytes()[..sdp.len() / 2].to_vec());
    }
    seeds
}

fn datagrams() -> Vec<Vec<u8>> {
    let stun_ok = [0x31u8, 0x7E, 0x00];
    let dtls_hello = [
        0x03u8, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x0C, 1, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0x20,
    ];
    let rtp = [
        0x04u8, 0x00, 0x60, 0x00, 0x0C, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xAA, 0xBB,
    ];
    let rtcp = [0x05u8, 0x01, 0x00, 0x00, 0x06, 0, 6, 0, 0, 0, 1, 0, 0];
    let stun_like = [
        0x02u8, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 8, 0x00, 0x06, 0x00, 0x04, b'a',
        b'b', b':', b'c',
    ];
    let candidate = b"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host";
    let mut cand = vec![0x07u8, candidate.len() as u8];
    cand.extend_from_slice(candidate);
    let mut seeds = vec![
        [&stun_ok[..], &[0x06, 40], &dtls_hello].concat(),
        [&cand[..], &[0x06, 60], &stun_ok, &[0x06, 60], &rtp, &rtcp].concat(),
        [
            &stun_like[..],
            &[0x81, 0x00, 0x02, 0, 1],
            &[0x08, 1],
            &[0x09],
        ]
        .concat(),
        [
            &[0x21u8, 0x10, 0x00][..],
            &[0x11, 0x10, 0x00],
            &[0x06, 200],
            &[0x06, 200],
        ]
        .concat(),
    ];
    seeds.push(vec![0x0A, 3, 1, 2, 3]);
    seeds
}

/// One frame op for the muxer layouts: op byte, signed step (unit from the op byte), length.
fn op(out: &mut Vec<u8>, op: u8, step_ms: i16, data: &[u8]) {
    out.push(op);
    out.extend_from_slice(&step_ms.to_be_bytes());
    out.extend_from_slice(&(data.len().min(0xFFF) as u16).to_be_bytes());
    out.extend_from_slice(&data[..data.len().min(0xFFF)]);
}

fn opus_packets() -> Vec<Vec<u8>> {
    let frames = read_ogg_opus(&fixture("opus-48k-stereo-20ms.ogg")).expect("ogg fixture");
    frames.into_iter().take(6).map(|f| f.data).collect()
}

fn ts() -> Vec<Vec<u8>> {
    let h264 = read_h264_annexb(&fixture("h264-320x240-30fps.h264"), 30);
    let opus = opus_packets();
    let mut seeds = Vec::new();
    for (flags, cut) in [(0x23u8, 300usize), (0x2B, 120), (0x07, 64)] {
        let mut seed = vec![flags];
        for (i, frame) in h264.iter().take(4).enumerate() {
            let video_track = if flags & 8 != 0 {
                1
            } else {
                usize::from(flags & 4 != 0)
            };
            let audio_track = if flags & 8 != 0 { 0 } else { video_track + 1 };
            let key = if frame.keyframe { 4 } else { 0 };
            op(
                &mut seed,
                video_track as u8 | key | 16,
                33,
                &frame.data[..frame.data.len().min(cut)],
            );
            op(
                &mut seed,
                audio_track as u8,
                if i == 0 { -10 } else { 20 },
                &opus[i % opus.len()],
            );
        }
        seeds.push(seed);
    }
    // Audio only, with a long gap and a PTS far in the future.
    let mut seed = vec![0x22u8];
    for (i, packet) in opus.iter().enumerate() {
        op(&mut seed, if i == 3 { 0x80 } else { 0x10 }, 20, packet);
    }
    seeds.push(seed);
    seeds
}

fn webm() -> Vec<Vec<u8>> {
    let opus = opus_packets();
    let mut seeds = Vec::new();
    for (codec, name) in [
        (1u8, "vp8-320x240-30fps.ivf"),
        (2, "vp9-320x240-30fps.ivf"),
        (3, "av1-320x240-30fps.ivf"),
    ] {
        let (_, _, frames) = read_ivf(&fixture(name)).expect("ivf fixture");
        for flags in [codec | 4 | 0x20 | 0x40, codec | 4 | 8 | 0x10, codec | 0x80] {
            let mut seed = vec![flags, 20];
            if flags & 0x80 != 0 {
                seed.extend_from_slice(&[0x81, 0, 0x0C, 0, 0x0A, 0x0B, 0, 0]);
            }
            let (video_track, audio_track) = if flags & 8 != 0 { (1, 0) } else { (0, 1) };
            for (i, frame) in frames.iter().take(3).enumerate() {
                let key = if frame.keyframe { 4 } else { 0 };
                op(
                    &mut seed,
                    video_track | key,
                    33,
                    &frame.data[..frame.data.len().min(400)],
                );
                if flags & 4 != 0 {
                    op(
                        &mut seed,
                        audio_track,
                        if i == 1 { -40 } else { 20 },
                        &opus[i],
                    );
                }
            }
            seeds.push(seed);
        }
    }
    // Audio only across clusters and a large jump.
    let mut seed = vec![0x24u8, 1];
    for (i, packet) in opus.iter().enumerate() {
        op(&mut seed, if i == 4 { 0x40 } else { 0 }, 20, packet);
    }
    seeds.push(seed);
    seeds
}

fn codec() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for name in [
        "vp8-320x240-30fps.ivf",
        "vp9-320x240-30fps.ivf",
        "av1-320x240-30fps.ivf",
    ] {
        let file = fixture(name);
        seeds.push(file[..400].to_vec());
        let (_, _, frames) = read_ivf(&file).expect("ivf fixture");
        seeds.push(frames[0].data[..frames[0].data.len().min(256)].to_vec());
        seeds.push(frames[1].data[..frames[1].data.len().min(64)].to_vec());
    }
    let h264 = fixture("h264-320x240-30fps.h264");
    seeds.push(h264[..400].to_vec());
    seeds.push(fixture("opus-48k-stereo-20ms.ogg")[..600].to_vec());
    seeds.extend(opus_packets().into_iter().take(2));
    seeds
}

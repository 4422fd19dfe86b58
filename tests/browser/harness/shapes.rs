//! The page's messages next to the real web app's (`tests/fixtures/traces/`): same fields, the
//! same encryption, candidates on 127.0.0.1 only.

use std::collections::BTreeSet;
use std::path::Path;

use roomrec_core::signaling::Cipher;
use serde_json::Value;

/// The web app's publisher messages, (channel, message), from the capture of one run.
pub fn reference(password: bool) -> Vec<(String, Value)> {
    let name = if password {
        "single-recorder-after-defaultpw.jsonl"
    } else {
        "single-recorder-after-nopass.jsonl"
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/traces")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["sender"] == "publisher")
        .map(|l| {
            (
                l["channel"].as_str().unwrap_or("").to_string(),
                l["msg"].clone(),
            )
        })
        .collect()
}

pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

pub fn kind(msg: &Value) -> &'static str {
    if msg["request"] == "joinroom" {
        "joinroom"
    } else if msg.get("description").is_some() {
        "offer"
    } else if msg.get("candidates").is_some() {
        "candidates"
    } else if msg.get("info").is_some() {
        "info"
    } else {
        "other"
    }
}

/// A `description` / `candidates` field, decrypted when the message carries a `vector`.
pub fn payload(msg: &Value, field: &str, cipher: Option<&Cipher>) -> Result<Value, String> {
    match (msg.get("vector"), cipher) {
        (Some(iv), Some(cipher)) => {
            let (Some(text), Some(iv)) = (msg[field].as_str(), iv.as_str()) else {
                return Err(format!("{field}: encrypted payload is not a hex string"));
            };
            let plain = cipher
                .decrypt(text, iv)
                .map_err(|e| format!("{field}: {e}"))?;
            serde_json::from_str(&plain)
                .map_err(|e| format!("{field}: decrypted text is not JSON: {e}"))
        }
        (Some(_), None) => Err(format!("{field}: encrypted although there is no password")),
        (None, Some(_)) => Err(format!("{field}: plaintext although a password is set")),
        (None, None) => Ok(msg[field].clone()),
    }
}

/// Our messages of each kind must carry exactly the fields the web app's carry on that channel.
pub fn compare_fields(
    ours: &[Value],
    channel: &str,
    reference: &[(String, Value)],
    who: &str,
    errors: &mut Vec<String>,
) {
    for msg in ours {
        let k = kind(msg);
        if k == "other" || k == "info" {
            continue;
        }
        match reference.iter().find(|(c, m)| c == channel && kind(m) == k) {
            None => errors.push(format!("{who}: the web app never sends a {k} on {channel}")),
            Some((_, theirs)) if keys(msg) != keys(theirs) => errors.push(format!(
                "{who}: {channel} {k} has fields {:?}, the web app's has {:?}",
                keys(msg),
                keys(theirs)
            )),
            Some(_) => {}
        }
    }
}

/// Media kinds of the m-lines, in order (`application`, `video`, `audio`).
pub fn m_lines(sdp: &str) -> Vec<String> {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("m="))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Codec names of the `m=video` payload types, in offer order (lowercase: h264, vp8, rtx, ...).
pub fn video_codecs(sdp: &str) -> Vec<String> {
    let lines: Vec<&str> = sdp.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("m=video")) else {
        return Vec::new();
    };
    let section: Vec<&str> = lines[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with("m="))
        .copied()
        .collect();
    let name_of = |pt: &str| {
        let prefix = format!("a=rtpmap:{pt} ");
        section
            .iter()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|rest| rest.split('/').next())
            .map(|n| n.to_ascii_lowercase())
    };
    lines[start]
        .split_whitespace()
        .skip(3)
        .filter_map(name_of)
        .collect()
}

/// Candidate objects as RTCIceCandidate.toJSON() gives them, host candidates on 127.0.0.1.
pub fn check_candidates(list: &Value, who: &str, errors: &mut Vec<String>) {
    let Some(list) = list.as_array() else {
        return errors.push(format!("{who}: candidates are not an array: {list}"));
    };
    let expected: BTreeSet<String> = ["candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for c in list {
        if keys(c) != expected {
            errors.push(format!("{who}: candidate fields {:?}", keys(c)));
        }
        let text = c["candidate"].as_str().unwrap_or("");
        if !text.contains(" 127.0.0.1 ") {
            errors.push(format!("{who}: candidate not on 127.0.0.1: {text}"));
        }
    }
}

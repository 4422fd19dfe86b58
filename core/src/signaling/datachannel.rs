//! Messages on the `sendChannel` data channel.

use serde_json::Value;

use super::crypto::Cipher;
use super::message::{DecodeError, IceCandidate};
use super::payload::{self, json, object, opt_str};

/// One item of a data-channel message from the publisher.
#[derive(Clone, Debug, PartialEq)]
pub enum DcIncoming {
    /// Re-offer (or answer) on the data channel, decrypted.
    Description {
        /// The description's `type`: `offer` or `answer`.
        kind: String,
        /// The SDP.
        sdp: String,
        /// Session id, if sent.
        session: Option<String>,
        /// It came encrypted.
        encrypted: bool,
    },
    /// Remote ICE candidates, decrypted; never empty.
    Candidates {
        /// Session id, if sent.
        session: Option<String>,
        /// The candidates.
        candidates: Vec<IceCandidate>,
    },
    /// `{"ping":x}`: answer with `pong` carrying x.
    Ping(serde_json::Value),
    /// Publisher hangs up.
    Bye,
    /// `info.label`: the guest's display name (None when no label).
    Info {
        /// The label, if the guest has one.
        label: Option<String>,
    },
    /// `videoMuted` true/false.
    VideoMuted(bool),
}

/// Decode one data-channel text message. One message may carry several items
/// (`{"videoMuted":true,"bye":true}`); unknown keys are ignored.
pub fn decode(cipher: Option<&Cipher>, text: &str) -> Result<Vec<DcIncoming>, DecodeError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let obj = value.as_object().ok_or(DecodeError::NotAnObject)?;
    let mut out = Vec::new();
    if let Some(info) = obj.get("info") {
        let info = info.as_object().ok_or(DecodeError::BadField("info"))?;
        // The app sends `label: false` when the guest has no label.
        let label = info
            .get("label")
            .and_then(Value::as_str)
            .map(str::to_string);
        out.push(DcIncoming::Info { label });
    }
    if obj.contains_key("description") {
        let (plain, encrypted) = payload::open(cipher, obj, "description")?;
        let (kind, sdp) = payload::description(&plain)?;
        out.push(DcIncoming::Description {
            kind,
            sdp,
            session: opt_str(obj, "session")?,
            encrypted,
        });
    }
    if let Some(candidates) = payload::open_candidates(cipher, obj)? {
        if !candidates.is_empty() {
            out.push(DcIncoming::Candidates {
                session: opt_str(obj, "session")?,
                candidates,
            });
        }
    }
    if let Some(x) = obj.get("ping") {
        out.push(DcIncoming::Ping(x.clone()));
    }
    if let Some(muted) = obj.get("videoMuted") {
        let muted = muted.as_bool().ok_or(DecodeError::BadField("videoMuted"))?;
        out.push(DcIncoming::VideoMuted(muted));
    }
    // Last, so that state carried in the same message is applied before the hang-up.
    if obj.contains_key("bye") {
        out.push(DcIncoming::Bye);
    }
    Ok(out)
}

/// The viewer's request, sent when the channel opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewerRequest {
    /// Ask for the publisher's audio.
    pub audio: bool,
    /// Ask for the publisher's video.
    pub video: bool,
    /// Our display name as the publisher sees it.
    pub label: String,
    /// e.g. "h264"
    pub prefer_video_codec: Option<String>,
}

/// The request as JSON. Besides audio, video and label it turns chunked/webp transfer off (media
/// stays on RTP) and screen sharing on (a shared screen is recorded too).
pub fn encode_request(req: &ViewerRequest) -> String {
    let mut fields = vec![("audio", json(req.audio)), ("video", json(req.video))];
    // chunked/webp off keeps media on RTP; screen share on so a shared screen gets recorded too.
    for (key, on) in [
        ("allowchunked", false),
        ("allowwebp", false),
        ("allowscreenvideo", true),
        ("allowscreenaudio", true),
        ("guest", false),
        ("scene", false),
        ("director", false),
        ("downloads", false),
        ("iframe", false),
        ("widget", false),
        ("allowmidi", false),
        ("allowdrawing", false),
        ("broadcast", false),
    ] {
        fields.push((key, json(on)));
    }
    fields.push(("info", object(&[("label", json(req.label.as_str()))])));
    if let Some(codec) = &req.prefer_video_codec {
        fields.push(("preferVideoCodec", json(codec.as_str())));
    }
    object(&fields)
}

/// Answer on the data channel; encrypted when `cipher` is Some.
pub fn encode_answer(cipher: Option<&Cipher>, session: &str, sdp: &str, iv: [u8; 16]) -> String {
    let (desc, vector) = payload::seal(cipher, payload::description_json("answer", sdp), iv);
    let mut fields = vec![("description", desc), ("session", json(session))];
    if let Some(v) = vector {
        fields.push(("vector", json(v)));
    }
    object(&fields)
}

/// Reply to [`DcIncoming::Ping`]: `{"pong":value}`.
pub fn encode_pong(value: &serde_json::Value) -> String {
    object(&[("pong", value.to_string())])
}

/// `{"bye":true}`: we hang up.
pub fn encode_bye() -> String {
    object(&[("bye", json(true))])
}

#[cfg(test)]
#[path = "datachannel_tests.rs"]
mod tests;

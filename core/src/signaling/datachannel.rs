//! Messages on the `sendChannel` data channel.

use super::crypto::Cipher;
use super::message::{DecodeError, IceCandidate};

#[derive(Clone, Debug, PartialEq)]
pub enum DcIncoming {
    /// Re-offer (or answer) on the data channel, decrypted.
    Description { kind: String, sdp: String, session: Option<String>, encrypted: bool },
    Candidates { session: Option<String>, candidates: Vec<IceCandidate> },
    /// `{"ping":x}`: answer with `pong` carrying x.
    Ping(serde_json::Value),
    /// Publisher hangs up.
    Bye,
    /// `info.label`: the guest's display name (None when no label).
    Info { label: Option<String> },
    /// `videoMuted` true/false.
    VideoMuted(bool),
}

/// Decode one data-channel text message. One message may carry several items
/// (`{"videoMuted":true,"bye":true}`); unknown keys are ignored.
pub fn decode(cipher: Option<&Cipher>, text: &str) -> Result<Vec<DcIncoming>, DecodeError> {
    todo!("{cipher:?}{text}")
}

/// The viewer's request, sent when the channel opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewerRequest {
    pub audio: bool,
    pub video: bool,
    pub label: String,
    /// e.g. "h264"
    pub prefer_video_codec: Option<String>,
}

pub fn encode_request(req: &ViewerRequest) -> String {
    todo!("{req:?}")
}

/// Answer on the data channel; encrypted when `cipher` is Some.
pub fn encode_answer(cipher: Option<&Cipher>, session: &str, sdp: &str, iv: [u8; 16]) -> String {
    todo!("{cipher:?}{session}{sdp}{iv:?}")
}

pub fn encode_pong(value: &serde_json::Value) -> String {
    todo!("{value}")
}

pub fn encode_bye() -> String {
    todo!()
}

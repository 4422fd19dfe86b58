//! VDO.Ninja signaling: password/salt/hash derivation, AES-CBC sealing of SDP and candidates, and the
//! JSON codecs for WebSocket and data-channel messages in both server dialects.

pub mod crypto;
pub mod datachannel;
pub mod message;
pub mod password;
pub mod payload;

pub use crypto::{random_iv, Cipher};
pub use datachannel::DcIncoming;
pub use message::{CodecContext, Dialect, IceCandidate, Incoming, Member, Outgoing};
pub use password::{Password, RoomSecrets};

//! VDO.Ninja signaling: password/salt/hash derivation, AES-CBC sealing of SDP and candidates, and the
//! JSON codecs for WebSocket and data-channel messages in both server dialects.

pub mod crypto;
pub mod datachannel;
pub mod message;
pub mod password;
pub mod payload;

pub use crypto::{hash_hex, random_iv, Cipher, CryptoError};
pub use datachannel::{DcIncoming, ViewerRequest};
pub use message::{CodecContext, DecodeError, Dialect, IceCandidate, Incoming, Member, Outgoing};
pub use password::{Password, RoomSecrets};

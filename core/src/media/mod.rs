//! Media: frames coming out of sessions, codec bitstream inspection, muxers and the per-stream
//! recording pipeline (keyframe gating, timing, file lifecycle).

pub mod frame;

pub use frame::{Codec, MediaFrame, SenderClock, TrackKind};

//! Media: frames coming out of sessions, codec bitstream inspection, muxers and the per-stream
//! recording pipeline (keyframe gating, timing, file lifecycle).

pub mod codec;
pub mod ebml;
pub mod frame;
pub mod mux;
pub mod recorder;
pub mod ts;
pub mod webm;

pub use frame::{Codec, MediaFrame, SenderClock, TrackKind};
pub use mux::{Muxer, Patch, TrackSpec};
pub use recorder::{FileId, FileOp, RecorderOutput, StreamRecorder, StreamRecorderConfig};

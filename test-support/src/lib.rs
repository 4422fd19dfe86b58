//! File inspection shared by roomrec's tests: what the muxers wrote, read back by independent
//! tools (ffprobe, ffmpeg, mkvtoolnix) and by strict readers written from the specs (WebM, MPEG-TS),
//! so a file is never judged by the code that wrote it. Independent of roomrec-core, so core's own
//! tests can use it too.

pub mod binary;
pub mod ffmpeg;
pub mod ffprobe;
pub mod mkvtoolnix;
pub mod recordings;
pub mod scratch;
mod tool;
pub mod ts;
pub mod webm;

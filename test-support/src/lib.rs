//! File inspection shared by roomrec's tests: what the muxers wrote, read back by independent
//! tools (ffprobe, ffmpeg, mkvtoolnix) and by strict readers written from the specs (WebM, MPEG-TS),
//! so a file is never judged by the code that wrote it. Also real networks for end-to-end tests:
//! network namespaces with real NATs ([`netns`]), a real TURN/STUN server ([`coturn`]) and an
//! independent STUN client ([`stun`]). Independent of roomrec-core, so core's own tests can use it
//! too.

pub mod binary;
pub mod child;
pub mod coturn;
pub mod ffmpeg;
pub mod ffprobe;
pub mod mkvtoolnix;
pub mod netns;
pub mod recordings;
pub mod scratch;
pub mod stun;
mod tool;
pub mod ts;
pub mod webm;

//! Fuzz target bodies over the core's untrusted inputs. The cargo-fuzz targets in `fuzz/` are thin
//! wrappers around these functions, so the same code runs on stable in `tests/tests/fuzz_replay.rs`
//! (committed corpus, regressions and seeded pseudo-random inputs). Every body must never panic on
//! any input; a panic is a finding. Bodies that check output structure (`muxer_*`) panic with the
//! validator's message when the output does not parse.
//!
//! Input layouts are documented on each body; see `docs/FUZZING.md` for how to run the fuzzers.

mod codec;
mod muxers;
#[cfg(test)]
mod reader_tests;
pub mod seeds;
mod session;
mod signaling;

pub use codec::codec_parse;
pub use muxers::{muxer_ts, muxer_webm};
pub use session::{session_datagram, session_offer};
pub use signaling::signaling_room;

/// A fuzz body: any bytes in, a panic only on a finding.
pub type Body = fn(&[u8]);

/// Every target by name (the name of its `fuzz/fuzz_targets/<name>.rs` and corpus directory).
pub const TARGETS: &[(&str, Body)] = &[
    ("signaling_room", signaling_room),
    ("session_offer", session_offer),
    ("session_datagram", session_datagram),
    ("muxer_ts", muxer_ts),
    ("muxer_webm", muxer_webm),
    ("codec_parse", codec_parse),
];

/// A forgiving cursor over fuzz bytes: reads past the end give zeros / empty slices, so every
/// input decodes to *some* sequence of operations.
pub(crate) struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
}

//! The readers the muxer bodies rely on (`roomrec_test_support::webm`) accept the muxers' output
//! and reject each kind of damage they claim to catch. They live here, not in the readers' crate,
//! because that crate must not depend on the core whose muxers make the files.

use roomrec_core::media::webm::WebmMuxer;
use roomrec_core::media::{Codec, Muxer};
use roomrec_test_support::webm;

use super::muxers::spec;

/// A finished file with its patches applied.
fn webm_file() -> Vec<u8> {
    let mut out = Vec::new();
    let mut mux = WebmMuxer::new(&[spec(Codec::Opus, 2)], &mut out);
    for i in 0..300u64 {
        mux.write_frame(0, i * 20_000_000, true, &[0xFC, 1, 2, 3], &mut out);
    }
    for p in mux.finish(&mut out) {
        let at = p.offset as usize;
        out[at..at + p.bytes.len()].copy_from_slice(&p.bytes);
    }
    out
}

/// `good` with `damage` done to it must fail to parse; returns the reader's complaint.
fn complaint<T>(
    good: &[u8],
    read: fn(&[u8]) -> Result<T, String>,
    damage: &dyn Fn(&mut Vec<u8>),
) -> String {
    let mut b = good.to_vec();
    damage(&mut b);
    match read(&b) {
        Ok(_) => panic!("damage was not detected"),
        Err(e) => e,
    }
}

#[test]
fn webm_reader_catches_broken_files() {
    let good = webm_file();
    let p = webm::parse(&good).expect("muxer output is valid");
    assert!(p.segment_known_size);
    assert_eq!(p.blocks().count(), 300);
    assert!(p.clusters.len() > 1 && !p.cues.is_empty() && !p.seeks.is_empty());
    let damaged = |f: &dyn Fn(&mut Vec<u8>)| complaint(&good, webm::parse, f);
    assert!(damaged(&|b| b.truncate(b.len() - 1)).contains("overruns"));
    assert!(damaged(&|b| b.push(0)).contains("Segment ends"));
    assert!(damaged(&|b| b[0] = 0x1B).contains("not EBML"));
    // Point the first block at track 2, which does not exist.
    let first_block = p.clusters[0].blocks[0].payload.start;
    assert!(damaged(&|b| b[first_block - 4] = 0x82).contains("undeclared track"));
}

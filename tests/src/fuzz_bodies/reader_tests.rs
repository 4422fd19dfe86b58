//! The readers the muxer bodies rely on (`roomrec_test_support::{ts, webm}`) accept the muxers'
//! output and reject each kind of damage they claim to catch. They live here, not in the readers'
//! crate, because that crate must not depend on the core whose muxers make the files.

use roomrec_core::media::ts::TsMuxer;
use roomrec_core::media::webm::WebmMuxer;
use roomrec_core::media::{Codec, Muxer};
use roomrec_test_support::{ts, webm};

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

fn ts_stream() -> Vec<u8> {
    let mut out = Vec::new();
    let mut mux = TsMuxer::new(&[spec(Codec::H264, 2), spec(Codec::Opus, 2)], &mut out);
    for i in 0..20u64 {
        mux.write_frame(
            0,
            i * 33_000_000,
            i == 0,
            &[0, 0, 0, 1, 0x65, 1, 2, 3],
            &mut out,
        );
        mux.write_frame(1, i * 20_000_000, true, &[0xFC; 300], &mut out);
    }
    out
}

#[test]
fn ts_reader_catches_broken_streams() {
    let good = ts_stream();
    let summary = ts::check(&good).expect("muxer output is valid");
    assert_eq!(summary.pes[&0x101].len(), 20);
    assert_eq!(summary.pes[&0x100].len(), 20);
    let damaged = |f: &dyn Fn(&mut Vec<u8>)| complaint(&good, ts::check, f);
    assert!(damaged(&|b| b.truncate(b.len() - 1)).contains("multiple of 188"));
    assert!(damaged(&|b| b[188 * 3] = 0x46).contains("sync byte"));
    // Packet 6 continues the first Opus PES: dropping it leaves a continuity gap.
    let dropped = damaged(&|b| {
        b.drain(188 * 6..188 * 7);
    });
    assert!(
        dropped.contains("continuity") || dropped.contains("PES"),
        "{dropped}"
    );
    // The PAT is padded with adaptation stuffing; its section starts at byte 172.
    assert!(damaged(&|b| b[10] ^= 1).contains("stuffing"));
    assert!(damaged(&|b| b[176] ^= 1).contains("CRC"));
}

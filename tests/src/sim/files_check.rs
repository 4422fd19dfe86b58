//! Property (h): every file a simulated recording wrote, read back from memory by the strict
//! readers in `roomrec-test-support`, is well formed, and a finalized file holds exactly the
//! frames its manifest record counts.

use std::collections::BTreeMap;

use roomrec_core::media::FileId;
use roomrec_test_support::{ts, webm};

use super::recorder::MemFile;

/// MPEG-TS stream type of H.264.
const STREAM_TYPE_H264: u8 = 0x1b;

/// One line per problem, naming the file.
pub fn check_files(files: &BTreeMap<FileId, MemFile>) -> Vec<String> {
    files
        .values()
        .filter_map(|f| check_file(f).err().map(|e| format!("(h) {}: {e}", f.name)))
        .collect()
}

fn check_file(f: &MemFile) -> Result<(), String> {
    let counted = f.record.as_ref().filter(|_| f.finalized).map(|r| r.frames);
    if f.name.ends_with(".webm") {
        let summary = webm::parse(&f.bytes).map_err(|e| format!("WebM: {e:?}"))?;
        if f.finalized && !summary.segment_known_size {
            return Err("finalized, but the Segment size was never patched in".into());
        }
        if let Some(frames) = counted {
            let blocks = summary.blocks().count() as u64;
            if blocks != frames.video + frames.audio {
                return Err(format!("{blocks} blocks, the manifest counts {frames:?}"));
            }
        }
    } else {
        let summary = ts::check(&f.bytes)?;
        if let Some(frames) = counted {
            let video_pes: usize = summary
                .streams
                .iter()
                .filter(|(_, kind)| **kind == STREAM_TYPE_H264)
                .map(|(pid, _)| summary.pes.get(pid).map_or(0, Vec::len))
                .sum();
            if video_pes as u64 != frames.video {
                return Err(format!(
                    "{video_pes} video PES, the manifest counts {frames:?}"
                ));
            }
        }
    }
    Ok(())
}

//! Clusters: a Timecode first, then unlaced SimpleBlocks of declared tracks.

use std::collections::BTreeMap;

use super::ebml::{Reader, R};
use super::{Block, Cluster, Track, LEVEL1, VOID};

/// A Cluster whose payload starts at `start`; an unknown-size one (`end` None) ends at a level-1
/// ID or at `seg_end`. Returns the Cluster and where the next element starts.
pub(super) fn parse(
    r: &Reader,
    tracks: &BTreeMap<u64, Track>,
    pos: u64,
    start: usize,
    end: Option<usize>,
    seg_end: usize,
) -> R<(Cluster, usize)> {
    let known = end.is_some();
    let end = end.unwrap_or(seg_end);
    let mut cluster = Cluster {
        pos,
        timecode: 0,
        known_size: known,
        blocks: Vec::new(),
    };
    let mut timecode = None;
    let mut i = start;
    while i < end {
        let (id, _) = r.id(i)?;
        if !known && LEVEL1.contains(&id) {
            break;
        }
        let (id, s, e) = r.header(i)?;
        let e = e.ok_or_else(|| format!("unknown-size {id:#x} in a Cluster"))?;
        if e > end {
            return Err(format!("Cluster child at {i} overruns the Cluster"));
        }
        match id {
            0xE7 => {
                if timecode.is_some() || !cluster.blocks.is_empty() {
                    return Err("Timecode after blocks or twice".into());
                }
                timecode = Some(r.uint(s, e)?);
            }
            0xA3 => {
                let tc = timecode.ok_or("SimpleBlock before the Cluster Timecode")?;
                let (track, tl, _) = r.vint(s)?;
                if s + tl + 3 > e {
                    return Err(format!("SimpleBlock at {i} too short"));
                }
                if !tracks.contains_key(&track) {
                    return Err(format!("SimpleBlock for undeclared track {track}"));
                }
                let rel = i16::from_be_bytes([r.b[s + tl], r.b[s + tl + 1]]);
                let flags = r.b[s + tl + 2];
                if flags & 0x06 != 0 {
                    return Err("laced SimpleBlock".into());
                }
                cluster.blocks.push(Block {
                    track,
                    time_ms: tc as i64 + i64::from(rel),
                    keyframe: flags & 0x80 != 0,
                    payload: s + tl + 3..e,
                });
            }
            VOID => {}
            other => return Err(format!("unexpected {other:#x} in a Cluster")),
        }
        i = e;
    }
    cluster.timecode = timecode.ok_or("Cluster without Timecode")?;
    Ok((cluster, i))
}

//! The index a clean finish writes: SeekHead and Cues, every entry complete.

use super::ebml::{Reader, R};

/// SeekHead: Seek entries only, each with a SeekID and a SeekPosition: (ID, position).
pub(super) fn seek_head(r: &Reader, s: usize, e: usize, seeks: &mut Vec<(u32, u64)>) -> R<()> {
    for (sid, ss, se) in r.children(s, e)? {
        if sid != 0x4DBB {
            return Err(format!("{sid:#x} in SeekHead"));
        }
        let (mut seek_id, mut seek_pos) = (None, None);
        for (cid, cs, ce) in r.children(ss, se)? {
            match cid {
                0x53AB => seek_id = Some(r.uint(cs, ce)? as u32),
                0x53AC => seek_pos = Some(r.uint(cs, ce)?),
                _ => {}
            }
        }
        match (seek_id, seek_pos) {
            (Some(id), Some(pos)) => seeks.push((id, pos)),
            _ => return Err("Seek without SeekID or SeekPosition".into()),
        }
    }
    Ok(())
}

/// Cues: CuePoints only, a CueTime before track positions that name a track and a Cluster:
/// (time, track, cluster position).
pub(super) fn cues(r: &Reader, s: usize, e: usize, cues: &mut Vec<(u64, u64, u64)>) -> R<()> {
    for (pid, ps, pe) in r.children(s, e)? {
        if pid != 0xBB {
            return Err(format!("{pid:#x} in Cues"));
        }
        let mut time = None;
        for (cid, cs, ce) in r.children(ps, pe)? {
            match cid {
                0xB3 => time = Some(r.uint(cs, ce)?),
                0xB7 => {
                    let (mut track, mut pos) = (None, None);
                    for (tid, ts, te) in r.children(cs, ce)? {
                        match tid {
                            0xF7 => track = Some(r.uint(ts, te)?),
                            0xF1 => pos = Some(r.uint(ts, te)?),
                            _ => {}
                        }
                    }
                    let time = time.ok_or("CueTrackPositions before CueTime")?;
                    match (track, pos) {
                        (Some(t), Some(c)) => cues.push((time, t, c)),
                        _ => return Err("CueTrackPositions without track or position".into()),
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

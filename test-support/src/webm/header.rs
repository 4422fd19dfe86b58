//! What a WebM file declares before its Clusters: Info's Duration and the Tracks.

use std::collections::BTreeMap;

use super::ebml::{Reader, R};
use super::Track;

/// Info: its Duration, which roomrec writes as an 8-byte float (a 4-byte one is not what the
/// muxer writes, so it is an error here).
pub(super) fn info(r: &Reader, s: usize, e: usize, duration: &mut Option<f64>) -> R<()> {
    for (cid, cs, ce) in r.children(s, e)? {
        if cid == 0x4489 {
            let bytes: [u8; 8] = r.b[cs..ce]
                .try_into()
                .map_err(|_| format!("Duration of {} bytes, expected 8", ce - cs))?;
            *duration = Some(f64::from_be_bytes(bytes));
        }
    }
    Ok(())
}

/// Tracks: TrackEntries only, each with a unique non-zero TrackNumber, a TrackType and a CodecID.
pub(super) fn tracks(r: &Reader, s: usize, e: usize, tracks: &mut BTreeMap<u64, Track>) -> R<()> {
    for (tid, ts, te) in r.children(s, e)? {
        if tid != 0xAE {
            return Err(format!("{tid:#x} in Tracks"));
        }
        let (mut number, mut kind, mut codec_id, mut size) = (None, None, None, None);
        for (cid, cs, ce) in r.children(ts, te)? {
            match cid {
                0xD7 => number = Some(r.uint(cs, ce)?),
                0x83 => kind = Some(r.uint(cs, ce)?),
                0x86 => codec_id = Some(String::from_utf8_lossy(&r.b[cs..ce]).into_owned()),
                0xE0 => {
                    let (mut w, mut h) = (0, 0);
                    for (vid, vs, ve) in r.children(cs, ce)? {
                        match vid {
                            0xB0 => w = r.uint(vs, ve)?,
                            0xBA => h = r.uint(vs, ve)?,
                            _ => {}
                        }
                    }
                    size = Some((w, h));
                }
                0xE1 => {
                    r.children(cs, ce)?;
                }
                _ => {}
            }
        }
        let number = number
            .filter(|n| *n > 0)
            .ok_or("TrackEntry without a TrackNumber")?;
        let track = Track {
            kind: kind.ok_or("TrackEntry without TrackType")?,
            codec_id: codec_id.ok_or("TrackEntry without CodecID")?,
            size,
        };
        if tracks.insert(number, track).is_some() {
            return Err(format!("track number {number} twice"));
        }
    }
    if tracks.is_empty() {
        return Err("Tracks without a TrackEntry".into());
    }
    Ok(())
}

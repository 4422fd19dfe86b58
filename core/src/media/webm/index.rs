//! What a clean finish adds: Cues, the SeekHead and the real Segment/Cluster sizes.

use crate::media::ebml::{self, id};
use crate::media::mux::Patch;

/// Bytes reserved (as a Void) right after the Segment header for the SeekHead written at finish.
pub const SEEK_HEAD_RESERVED: usize = 100;

pub struct CuePoint {
    pub time_ms: u64,
    pub track: u64,
    /// Cluster offset relative to the Segment data start.
    pub cluster_pos: u64,
}

/// Writes Cues (sorted by time); nothing when there are no cue points.
pub fn write_cues(out: &mut Vec<u8>, cues: &mut [CuePoint]) {
    if cues.is_empty() {
        return;
    }
    cues.sort_by_key(|c| c.time_ms);
    ebml::master(out, id::CUES, |b| {
        for cue in cues.iter() {
            ebml::master(b, id::CUE_POINT, |p| {
                ebml::uint(p, id::CUE_TIME, cue.time_ms);
                ebml::master(p, id::CUE_TRACK_POSITIONS, |t| {
                    ebml::uint(t, id::CUE_TRACK, cue.track);
                    ebml::uint(t, id::CUE_CLUSTER_POSITION, cue.cluster_pos);
                });
            });
        }
    });
}

/// A SeekHead (positions relative to the Segment data start) padded with a Void to exactly
/// `SEEK_HEAD_RESERVED` bytes, replacing the reserved Void in place.
pub fn seek_head(info_pos: u64, tracks_pos: u64, cues_pos: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEEK_HEAD_RESERVED);
    let entries = [
        (id::INFO, Some(info_pos)),
        (id::TRACKS, Some(tracks_pos)),
        (id::CUES, cues_pos),
    ];
    ebml::master(&mut out, id::SEEK_HEAD, |b| {
        for (element, pos) in entries {
            let Some(pos) = pos else { continue };
            ebml::master(b, id::SEEK, |s| {
                ebml::binary(s, id::SEEK_ID, &element.to_be_bytes());
                ebml::uint(s, id::SEEK_POSITION, pos);
            });
        }
    });
    // At most 3 entries of 21 bytes plus a 5-byte header: always room for a Void of >= 2 bytes.
    let rest = SEEK_HEAD_RESERVED - out.len();
    ebml::void(&mut out, rest);
    out
}

/// Real sizes for the unknown-size Segment and Clusters, same 8-byte width as the markers.
/// `cluster_starts` are absolute offsets of Cluster IDs; the last cluster ends at `clusters_end`;
/// the Segment ends at `file_end`.
pub fn size_patches(
    segment_data_start: u64,
    cluster_starts: &[u64],
    clusters_end: u64,
    file_end: u64,
) -> Vec<Patch> {
    let size_patch = |size_at: u64, size: u64| {
        let mut bytes = Vec::with_capacity(8);
        ebml::write_vint_fixed(&mut bytes, size.min(ebml::MAX_SIZE), 8);
        Patch {
            offset: size_at,
            bytes,
        }
    };
    let mut patches = Vec::with_capacity(cluster_starts.len() + 1);
    for (i, &start) in cluster_starts.iter().enumerate() {
        let end = cluster_starts.get(i + 1).copied().unwrap_or(clusters_end);
        // Cluster ID (4 bytes) then the 8-byte size; the size counts what follows it.
        patches.push(size_patch(start + 4, end - (start + 12)));
    }
    patches.push(size_patch(
        segment_data_start - 8,
        file_end - segment_data_start,
    ));
    patches
}

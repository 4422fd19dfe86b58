//! Crash-safe streaming WebM writer (VP8 / VP9 / AV1 video, Opus audio).
//!
//! Why our own writer instead of the `webm` crate (libwebm): libwebm holds audio back (up to ~33 s)
//! while the video track stalls, so a muted camera plus a crash loses half a minute of sound; it
//! cannot bound cluster duration; a crash leaves Duration = 1 ms, which players believe; it rejects
//! timestamps that step back across tracks (normal for RTP audio vs. video) with a bare error; it has
//! no CodecDelay/SeekPreRoll/DateUTC; and AV1 needs its CodecPrivate before the first frame.
//! Here every frame is one SimpleBlock appended at once to an unknown-size Cluster inside an
//! unknown-size Segment, so a file cut at any byte plays up to the cut; a clean `finish` adds Cues,
//! Duration, the SeekHead and the real element sizes through in-place patches.

mod header;
mod index;

use std::time::SystemTime;

use super::ebml::{self, id};
use super::frame::{Codec, TrackKind};
use super::mux::{Muxer, Patch, TrackSpec};
use index::{CuePoint, SEEK_HEAD_RESERVED};

/// Block timecodes are int16 offsets from their cluster's timecode (in ms here).
const REL_MIN: i64 = i16::MIN as i64;
const REL_MAX: i64 = i16::MAX as i64;
/// Video frame duration assumed before two frames were seen (30 fps).
const DEFAULT_VIDEO_FRAME_MS: u64 = 33;
/// Longer gaps between video frames are stalls, not frame durations.
const MAX_VIDEO_FRAME_MS: u64 = 1000;

/// Options of a [`WebmMuxer`]; the default has no DateUTC, 5 s clusters and patched sizes.
#[derive(Clone, Debug)]
pub struct WebmConfig {
    /// Wall-clock time of the file start, written as DateUTC.
    pub date_utc: Option<SystemTime>,
    /// A new Cluster starts when a block is this far (ms) past the cluster start; bounds the seek
    /// granularity for audio-only files and for video with long or missing keyframe intervals.
    pub max_cluster_ms: u64,
    /// On finish, patch the real Segment and Cluster sizes (a fully sized file for picky players).
    /// Off: those stay unknown-size, which Matroska readers handle as well.
    pub patch_sizes: bool,
}

impl Default for WebmConfig {
    fn default() -> WebmConfig {
        WebmConfig {
            date_utc: None,
            max_cluster_ms: 5000,
            patch_sizes: true,
        }
    }
}

struct TrackState {
    kind: TrackKind,
    codec: Codec,
    last_ms: Option<u64>,
    /// Duration estimate of the last block (for the file Duration).
    frame_ms: u64,
    /// Absolute offset of PixelWidth/PixelHeight when the header had no size, and the size learned
    /// since (patched at finish).
    unknown_size_at: Option<u64>,
    learned_size: Option<(u16, u16)>,
}

/// Streaming WebM muxer; see the module docs. Nothing is buffered: every call appends complete
/// elements to `out`, and the caller appends `out` to the file in order (offsets count from the
/// first byte written by `new`).
pub struct WebmMuxer {
    config: WebmConfig,
    tracks: Vec<TrackState>,
    has_video: bool,
    /// Absolute offset of the next byte this muxer writes.
    pos: u64,
    segment_data_start: u64,
    seek_head_at: u64,
    duration_at: u64,
    info_pos: u64,
    tracks_pos: u64,
    /// Timecode (ms) of the open Cluster.
    cluster: Option<u64>,
    cluster_starts: Vec<u64>,
    cues: Vec<CuePoint>,
    end_ms: u64,
    finished: bool,
}

impl WebmMuxer {
    /// [`with_config`](WebmMuxer::with_config) with the default [`WebmConfig`].
    pub fn new(tracks: &[TrackSpec], out: &mut Vec<u8>) -> WebmMuxer {
        WebmMuxer::with_config(tracks, WebmConfig::default(), out)
    }

    /// Writes the EBML header, the Segment start, the SeekHead reservation, Info and Tracks.
    pub fn with_config(
        tracks: &[TrackSpec],
        mut config: WebmConfig,
        out: &mut Vec<u8>,
    ) -> WebmMuxer {
        config.max_cluster_ms = config.max_cluster_ms.clamp(1, REL_MAX as u64);
        let base = out.len();
        header::ebml_header(out);
        ebml::start_unknown_master(out, id::SEGMENT);
        let segment_data_start = (out.len() - base) as u64;
        let seek_head_at = (out.len() - base) as u64;
        ebml::void(out, SEEK_HEAD_RESERVED);
        let info_pos = (out.len() - base) as u64 - segment_data_start;
        let duration_at = (header::info(out, config.date_utc) - base) as u64;
        let tracks_pos = (out.len() - base) as u64 - segment_data_start;
        let size_at = header::tracks(out, tracks);
        let states: Vec<TrackState> = tracks
            .iter()
            .zip(size_at)
            .map(|(spec, size_at)| TrackState {
                kind: spec.codec.kind(),
                codec: spec.codec,
                last_ms: None,
                frame_ms: DEFAULT_VIDEO_FRAME_MS,
                unknown_size_at: size_at
                    .filter(|_| spec.width == 0 || spec.height == 0)
                    .map(|at| (at - base) as u64),
                learned_size: None,
            })
            .collect();
        WebmMuxer {
            config,
            has_video: states.iter().any(|t| t.kind == TrackKind::Video),
            tracks: states,
            pos: (out.len() - base) as u64,
            segment_data_start,
            seek_head_at,
            duration_at,
            info_pos,
            tracks_pos,
            cluster: None,
            cluster_starts: Vec::new(),
            cues: Vec::new(),
            end_ms: 0,
            finished: false,
        }
    }

    /// The size of a video track whose TrackSpec had none (0), e.g. from its first keyframe.
    /// Written into the header at finish; a crash-cut file keeps 0x0 (ffmpeg plays it, mkvmerge
    /// refuses it), so callers should pass the size in the TrackSpec whenever they can.
    pub fn set_video_size(&mut self, track: usize, width: u16, height: u16) {
        match self.tracks.get_mut(track) {
            Some(state) if state.unknown_size_at.is_some() && width > 0 && height > 0 => {
                state.learned_size = Some((width, height));
            }
            _ => tracing::debug!(track, width, height, "video size not needed for this track"),
        }
    }

    /// Picks the block time in ms: rounded, strictly increasing per track, and reachable from the
    /// current cluster (int16 offset).
    fn block_time(&mut self, track: usize, pts_ns: u64) -> u64 {
        let mut ms = pts_ns.saturating_add(500_000) / 1_000_000;
        if let Some(last) = self.tracks[track].last_ms {
            if ms <= last {
                tracing::debug!(
                    track,
                    ms,
                    last,
                    "non-increasing timestamp; using previous + 1 ms"
                );
                ms = last + 1;
            }
        }
        if let Some(timecode) = self.cluster {
            let floor = timecode.saturating_sub(REL_MIN.unsigned_abs());
            if ms < floor {
                tracing::warn!(
                    track,
                    ms,
                    floor,
                    "frame far older than its cluster; clamping"
                );
                ms = floor;
            }
        }
        ms
    }

    fn needs_cluster(&self, ms: u64, video_keyframe: bool) -> bool {
        match self.cluster {
            None => true,
            Some(timecode) => {
                let rel = ms as i64 - timecode as i64;
                video_keyframe || rel >= self.config.max_cluster_ms as i64 || rel > REL_MAX
            }
        }
    }

    /// Opens a Cluster for a block at `ms`; returns its position relative to the Segment data.
    fn start_cluster(&mut self, ms: u64, out: &mut Vec<u8>) -> u64 {
        // Cluster timecodes never step back; a slightly earlier block gets a negative offset.
        let timecode = self.cluster.map_or(ms, |c| c.max(ms));
        let start = self.pos;
        let before = out.len();
        ebml::start_unknown_master(out, id::CLUSTER);
        ebml::uint(out, id::TIMECODE, timecode);
        self.pos += (out.len() - before) as u64;
        self.cluster = Some(timecode);
        self.cluster_starts.push(start);
        start - self.segment_data_start
    }

    fn write_block(
        &mut self,
        track: usize,
        ms: u64,
        keyframe: bool,
        data: &[u8],
        out: &mut Vec<u8>,
    ) {
        let Some(timecode) = self.cluster else { return };
        let rel = (ms as i64 - timecode as i64).clamp(REL_MIN, REL_MAX) as i16;
        let number = track as u64 + 1;
        let before = out.len();
        ebml::write_id(out, id::SIMPLE_BLOCK);
        ebml::write_vint(out, (ebml::vint_len(number) + 3 + data.len()) as u64);
        ebml::write_vint(out, number);
        out.extend_from_slice(&rel.to_be_bytes());
        out.push(if keyframe { 0x80 } else { 0x00 });
        out.extend_from_slice(data);
        self.pos += (out.len() - before) as u64;
    }
}

impl Muxer for WebmMuxer {
    fn write_frame(
        &mut self,
        track: usize,
        pts_ns: u64,
        keyframe: bool,
        data: &[u8],
        out: &mut Vec<u8>,
    ) {
        if self.finished {
            tracing::warn!(track, "frame after finish; dropped");
            return;
        }
        let Some(state) = self.tracks.get(track) else {
            tracing::warn!(
                track,
                tracks = self.tracks.len(),
                "frame for unknown track; dropped"
            );
            return;
        };
        // Matroska's AV1 mapping keeps Temporal Delimiter OBUs (0x12 0x00) out of blocks.
        let data = match (state.codec, data) {
            (Codec::Av1, [0x12, 0x00, rest @ ..]) => rest,
            _ => data,
        };
        if data.is_empty() {
            tracing::debug!(track, "empty frame; dropped");
            return;
        }
        let is_video = state.kind == TrackKind::Video;
        let keyframe = keyframe || !is_video;
        let ms = self.block_time(track, pts_ns);
        if self.needs_cluster(ms, is_video && keyframe) {
            let cluster_pos = self.start_cluster(ms, out);
            if (is_video && keyframe) || !self.has_video {
                self.cues.push(CuePoint {
                    time_ms: ms,
                    track: track as u64 + 1,
                    cluster_pos,
                });
            }
        }
        self.write_block(track, ms, keyframe, data, out);

        let state = &mut self.tracks[track];
        state.frame_ms = match state.codec {
            Codec::Opus => opus_packet_ms(data).unwrap_or(20),
            _ => match state.last_ms {
                Some(last) if ms - last <= MAX_VIDEO_FRAME_MS => ms - last,
                _ => state.frame_ms,
            },
        };
        state.last_ms = Some(ms);
        self.end_ms = self.end_ms.max(ms + state.frame_ms);
    }

    /// Nothing to do: clusters are unknown-size, so they need no closing, and no frame is held
    /// back. The next block decides whether a new cluster starts (keyframe, age, int16 range).
    fn tick(&mut self, _now_ns: u64, _out: &mut Vec<u8>) {}

    fn finish(&mut self, out: &mut Vec<u8>) -> Vec<Patch> {
        if self.finished {
            return Vec::new();
        }
        self.finished = true;
        let clusters_end = self.pos;
        let cues_pos = (!self.cues.is_empty()).then_some(self.pos - self.segment_data_start);
        let before = out.len();
        index::write_cues(out, &mut self.cues);
        self.pos += (out.len() - before) as u64;
        let mut patches = Vec::new();
        if self.end_ms > 0 {
            let mut bytes = Vec::new();
            ebml::float(&mut bytes, id::DURATION, self.end_ms as f64);
            patches.push(Patch {
                offset: self.duration_at,
                bytes,
            });
        }
        patches.push(Patch {
            offset: self.seek_head_at,
            bytes: index::seek_head(self.info_pos, self.tracks_pos, cues_pos),
        });
        for state in &self.tracks {
            if let (Some(offset), Some((width, height))) =
                (state.unknown_size_at, state.learned_size)
            {
                let mut bytes = Vec::with_capacity(header::VIDEO_SIZE_LEN);
                header::video_size(&mut bytes, width, height);
                patches.push(Patch { offset, bytes });
            }
        }
        if self.config.patch_sizes {
            patches.extend(index::size_patches(
                self.segment_data_start,
                &self.cluster_starts,
                clusters_end,
                self.pos,
            ));
        }
        patches
    }
}

/// Duration of one Opus packet in ms from its TOC byte (RFC 6716, section 3.1).
fn opus_packet_ms(packet: &[u8]) -> Option<u64> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    // Frame size in units of 2.5 ms (120 samples at 48 kHz).
    let frame_units: u64 = match config {
        0..=11 => [4, 8, 16, 24][usize::from(config % 4)],
        12..=15 => [4, 8][usize::from(config % 2)],
        _ => [1, 2, 4, 8][usize::from(config % 4)],
    };
    let frames = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u64::from(packet.get(1)? & 0x3F),
    };
    Some((frame_units * frames * 5).div_ceil(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_calls_write_nothing_and_never_panic() {
        let mut out = Vec::new();
        let mut muxer = WebmMuxer::new(&[TrackSpec::webrtc_opus()], &mut out);
        let header = out.len();
        muxer.write_frame(1, 0, true, &[0xFC], &mut out); // no such track
        muxer.write_frame(0, 0, true, &[], &mut out); // empty frame
        muxer.tick(5_000_000_000, &mut out);
        assert_eq!(out.len(), header);
        // No frames: no Duration, no Cues; SeekHead and Segment size only.
        let patches = muxer.finish(&mut out);
        assert_eq!(out.len(), header);
        assert_eq!(patches.len(), 2);
        assert!(patches
            .iter()
            .all(|p| p.offset as usize + p.bytes.len() <= out.len()));
        muxer.write_frame(0, 0, true, &[0xFC], &mut out); // after finish
        assert_eq!(out.len(), header);
        assert!(muxer.finish(&mut out).is_empty());
    }

    #[test]
    fn offsets_count_from_the_muxers_first_byte() {
        // The caller's buffer may hold earlier bytes of the same file write; patches must not
        // depend on them.
        let mut a = Vec::new();
        let mut b = vec![0xAA; 7];
        let mut ma = WebmMuxer::new(&[TrackSpec::webrtc_opus()], &mut a);
        let mut mb = WebmMuxer::new(&[TrackSpec::webrtc_opus()], &mut b);
        for i in 0..10 {
            ma.write_frame(0, i * 20_000_000, true, &[0xFC, 1, 2], &mut a);
            mb.write_frame(0, i * 20_000_000, true, &[0xFC, 1, 2], &mut b);
        }
        assert_eq!(ma.finish(&mut a), mb.finish(&mut b));
        assert_eq!(a, b[7..]);
    }

    #[test]
    fn opus_durations_from_toc() {
        assert_eq!(opus_packet_ms(&[0xFC]), Some(20)); // CELT FB 20 ms, 1 frame
        assert_eq!(opus_packet_ms(&[0x19]), Some(120)); // SILK 60 ms, 2 frames
        assert_eq!(opus_packet_ms(&[0xE3, 0x03]), Some(8)); // CELT 2.5 ms x 3 = 7.5 -> 8
        assert_eq!(opus_packet_ms(&[0x03]), None);
        assert_eq!(opus_packet_ms(&[]), None);
    }
}

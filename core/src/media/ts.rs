//! MPEG-TS muxer for H.264 + Opus (ISO/IEC 13818-1; Opus in the private-stream mapping that
//! ffmpeg and GStreamer read). Streams every frame straight out: a TS file is playable up to its
//! last complete packet, so nothing needs patching on finish.

mod packets;

use mpeg2ts::es::StreamType;

use self::packets::{Counters, EsEntry, PesSpec};
use super::codec::h264;
use super::frame::Codec;
use super::mux::{Muxer, Patch, TrackSpec};

const VIDEO_PID: u16 = 0x100;
const AUDIO_PID: u16 = 0x101;
const VIDEO_STREAM_ID: u8 = 0xE0;
const PRIVATE_STREAM_1: u8 = 0xBD;
/// File time 0 maps to PTS 1 s, so early audio/video never needs a negative timestamp.
const PTS_OFFSET_NS: u64 = 1_000_000_000;
/// The PCR runs this far behind the PTS of the frames it travels with: decoder buffering slack.
const PCR_LAG_NS: u64 = 400_000_000;
/// A PCR-only packet goes out once the last PCR is this old, so that with 20 ms audio packets
/// the gap stays within the 100 ms 13818-1 asks for.
const PCR_INTERVAL_NS: u64 = 80_000_000;
/// PAT/PMT are repeated before every IDR and at least this often (for files without video).
const PSI_INTERVAL_NS: u64 = 1_000_000_000;
/// Access unit delimiter, primary_pic_type 7 (any slice type).
const AUD: [u8; 2] = [0x09, 0xF0];

const PTS_MASK: u64 = (1 << 33) - 1;
const PCR_MODULO: u64 = (1 << 33) * 300;

/// Streaming TS writer for one H.264 track and/or one Opus track. Other tracks are ignored.
pub struct TsMuxer {
    /// Track index of the H.264 track, if any.
    video: Option<usize>,
    /// Track index of the Opus track, if any.
    audio: Option<usize>,
    streams: Vec<EsEntry>,
    pcr_pid: Option<u16>,
    counters: Counters,
    /// File time of the latest PCR written (PCR never goes backwards).
    last_pcr_ns: Option<u64>,
    last_psi_ns: Option<u64>,
    /// Latest SPS and PPS NAL units (without start code), re-sent before an IDR that lacks them.
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
}

impl TsMuxer {
    /// Writes PAT and PMT to `out` right away.
    pub fn new(tracks: &[TrackSpec], out: &mut Vec<u8>) -> TsMuxer {
        let mut video = None;
        let mut audio = None;
        let mut streams = Vec::new();
        for (i, t) in tracks.iter().enumerate() {
            match t.codec {
                Codec::H264 if video.is_none() => {
                    video = Some(i);
                    streams.push(EsEntry {
                        pid: VIDEO_PID,
                        stream_type: StreamType::H264,
                        descriptors: Vec::new(),
                    });
                }
                Codec::Opus if audio.is_none() => {
                    audio = Some(i);
                    let channels = if (1..=8).contains(&t.channels) {
                        t.channels
                    } else {
                        2
                    };
                    streams.push(EsEntry {
                        pid: AUDIO_PID,
                        stream_type: StreamType::Mpeg2PacketizedData,
                        descriptors: vec![
                            (0x05, b"Opus".to_vec()),     // registration descriptor
                            (0x7F, vec![0x80, channels]), // extension descriptor: Opus channel config
                        ],
                    });
                }
                codec => tracing::warn!(
                    track = i,
                    ?codec,
                    "ts: track not supported in MPEG-TS, ignored"
                ),
            }
        }
        let pcr_pid = match (video, audio) {
            (Some(_), _) => Some(VIDEO_PID),
            (None, Some(_)) => Some(AUDIO_PID),
            (None, None) => None,
        };
        let mut mux = TsMuxer {
            video,
            audio,
            streams,
            pcr_pid,
            counters: Counters::default(),
            last_pcr_ns: None,
            last_psi_ns: None,
            sps: None,
            pps: None,
        };
        mux.write_psi(0, out);
        mux
    }

    fn write_psi(&mut self, now_ns: u64, out: &mut Vec<u8>) {
        packets::write_pat(&mut self.counters, out);
        packets::write_pmt(&mut self.counters, self.pcr_pid, &self.streams, out);
        self.last_psi_ns = Some(now_ns);
    }

    fn psi_due(&self, now_ns: u64) -> bool {
        self.last_psi_ns
            .is_none_or(|t| now_ns.saturating_sub(t) >= PSI_INTERVAL_NS)
    }

    fn pcr_due(&self, now_ns: u64) -> bool {
        self.last_pcr_ns
            .is_none_or(|t| now_ns.saturating_sub(t) >= PCR_INTERVAL_NS)
    }

    /// Takes a PCR for file time `t_ns` (clamped so it never decreases); 27 MHz, wrapped.
    fn next_pcr(&mut self, t_ns: u64) -> u64 {
        let t = self.last_pcr_ns.map_or(t_ns, |last| last.max(t_ns));
        self.last_pcr_ns = Some(t);
        let ns = u128::from(t) + u128::from(PTS_OFFSET_NS - PCR_LAG_NS);
        (ns * 27 / 1000 % u128::from(PCR_MODULO)) as u64
    }

    /// A PCR-only packet on the PCR PID when the PCR would otherwise stall.
    fn keep_pcr_flowing(&mut self, now_ns: u64, out: &mut Vec<u8>) {
        if let Some(pid) = self.pcr_pid {
            if self.pcr_due(now_ns) {
                let pcr = self.next_pcr(now_ns);
                packets::write_pcr_only(&mut self.counters, pid, pcr, out);
            }
        }
    }

    fn write_video(&mut self, pts_ns: u64, keyframe: bool, data: &[u8], out: &mut Vec<u8>) {
        if h264::nal_units(data).next().is_none() {
            tracing::warn!(
                len = data.len(),
                "ts: H.264 frame without NAL units ignored"
            );
            return;
        }
        let idr = keyframe || h264::is_idr(data);
        let es = self.video_es(idr, data);
        if idr || self.psi_due(pts_ns) {
            self.write_psi(pts_ns, out);
        }
        let pcr = (self.pcr_pid == Some(VIDEO_PID)).then(|| self.next_pcr(pts_ns));
        let spec = PesSpec {
            pid: VIDEO_PID,
            stream_id: VIDEO_STREAM_ID,
            pts: pts_90k(pts_ns),
            bounded: false,
            first_af: (idr || pcr.is_some()).then(|| packets::adaptation(idr, pcr)),
        };
        packets::write_pes(&mut self.counters, spec, &es, out);
    }

    /// The access unit as it goes into the PES (4-byte start codes): an AUD first, then the cached
    /// SPS/PPS if this is an IDR without them, then the NAL units of `data`.
    fn video_es(&mut self, idr: bool, data: &[u8]) -> Vec<u8> {
        let (mut has_sps, mut has_pps) = (false, false);
        for nal in h264::nal_units(data) {
            match h264::nal_type(nal) {
                h264::NAL_SPS => (has_sps, self.sps) = (true, Some(nal.to_vec())),
                h264::NAL_PPS => (has_pps, self.pps) = (true, Some(nal.to_vec())),
                _ => {}
            }
        }
        let mut nals = h264::nal_units(data).peekable();
        let mut es = Vec::with_capacity(data.len() + 64);
        match nals.next_if(|nal| h264::nal_type(nal) == h264::NAL_AUD) {
            Some(aud) => push_nal(&mut es, aud),
            None => push_nal(&mut es, &AUD),
        }
        if idr {
            for (present, cached) in [(has_sps, &self.sps), (has_pps, &self.pps)] {
                if let (false, Some(nal)) = (present, cached) {
                    push_nal(&mut es, nal);
                }
            }
        }
        for nal in nals {
            push_nal(&mut es, nal);
        }
        es
    }

    fn write_audio(&mut self, pts_ns: u64, data: &[u8], out: &mut Vec<u8>) {
        if self.psi_due(pts_ns) {
            self.write_psi(pts_ns, out);
        }
        let pcr = if self.pcr_pid == Some(AUDIO_PID) {
            Some(self.next_pcr(pts_ns))
        } else {
            self.keep_pcr_flowing(pts_ns, out);
            None
        };
        // Opus control header: prefix 0x3FF, no trim flags, then the size as 0xFF run + remainder.
        let mut es = Vec::with_capacity(data.len() + 2 + data.len() / 255 + 1);
        es.extend_from_slice(&[0x7F, 0xE0]);
        es.extend(std::iter::repeat_n(0xFF, data.len() / 255));
        es.push((data.len() % 255) as u8);
        es.extend_from_slice(data);
        let spec = PesSpec {
            pid: AUDIO_PID,
            stream_id: PRIVATE_STREAM_1,
            pts: pts_90k(pts_ns),
            bounded: true,
            first_af: pcr.map(|pcr| packets::adaptation(false, Some(pcr))),
        };
        packets::write_pes(&mut self.counters, spec, &es, out);
    }
}

fn push_nal(es: &mut Vec<u8>, nal: &[u8]) {
    es.extend_from_slice(&[0, 0, 0, 1]);
    es.extend_from_slice(nal);
}

fn pts_90k(pts_ns: u64) -> u64 {
    // Rounded: ns times from 90 kHz sources (33_333_333 ns) come back exact.
    let ticks = ((u128::from(pts_ns) + u128::from(PTS_OFFSET_NS)) * 9 + 50_000) / 100_000;
    ticks as u64 & PTS_MASK
}

impl Muxer for TsMuxer {
    fn write_frame(
        &mut self,
        track: usize,
        pts_ns: u64,
        keyframe: bool,
        data: &[u8],
        out: &mut Vec<u8>,
    ) {
        if data.is_empty() {
            return;
        }
        if Some(track) == self.video {
            self.write_video(pts_ns, keyframe, data, out);
        } else if Some(track) == self.audio {
            self.write_audio(pts_ns, data, out);
        } else {
            tracing::warn!(track, "ts: frame for an unknown track ignored");
        }
    }

    fn tick(&mut self, now_ns: u64, out: &mut Vec<u8>) {
        self.keep_pcr_flowing(now_ns, out);
    }

    fn finish(&mut self, _out: &mut Vec<u8>) -> Vec<Patch> {
        Vec::new()
    }
}

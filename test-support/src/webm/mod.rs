//! A strict WebM (Matroska/EBML) reader written from the spec, for checking the muxer's output both
//! finished and as a crash leaves it: EBML header with DocType webm, one Segment, known sizes
//! nesting exactly, unknown-size Segment/Cluster ending at EOF or at a level-1 ID, only the
//! elements roomrec writes, blocks on declared tracks, Cues and SeekHead pointing at real elements.
//! Errors instead of panics, so a fuzz target can report a malformed file as such; tests that want
//! a panic `.expect()`.

mod cluster;
mod ebml;
mod header;
mod index;

use std::collections::BTreeMap;

use ebml::{Reader, R};

const EBML: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const SEEK_HEAD: u32 = 0x114D_9B74;
const INFO: u32 = 0x1549_A966;
const TRACKS: u32 = 0x1654_AE6B;
const CLUSTER: u32 = 0x1F43_B675;
const CUES: u32 = 0x1C53_BB6B;
const VOID: u32 = 0xEC;
/// The level-1 IDs of Matroska: one of them ends an unknown-size Cluster.
const LEVEL1: [u32; 8] = [
    SEEK_HEAD,
    INFO,
    TRACKS,
    CLUSTER,
    CUES,
    0x1254_C367,
    0x1043_A770,
    0x1941_A469,
];

#[derive(Debug, Clone)]
pub struct Track {
    pub kind: u64,
    pub codec_id: String,
    /// PixelWidth, PixelHeight of a video track.
    pub size: Option<(u64, u64)>,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub track: u64,
    /// Cluster timecode + relative time, ms.
    pub time_ms: i64,
    pub keyframe: bool,
    /// Payload range in the file.
    pub payload: std::ops::Range<usize>,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    /// Offset of the Cluster ID relative to the Segment data.
    pub pos: u64,
    pub timecode: u64,
    /// False for an unknown-size Cluster (as written before a clean finish patches sizes in).
    pub known_size: bool,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Default)]
pub struct WebmSummary {
    pub segment_known_size: bool,
    pub tracks: BTreeMap<u64, Track>,
    pub clusters: Vec<Cluster>,
    /// Info's Duration (TimecodeScale units: ms in roomrec's files); none before a clean finish.
    pub duration_ms: Option<f64>,
    /// (time, track, cluster position)
    pub cues: Vec<(u64, u64, u64)>,
    /// (ID, position) from the SeekHead.
    pub seeks: Vec<(u32, u64)>,
    /// Every level-1 element: (ID, position relative to the Segment data).
    pub level1: Vec<(u32, u64)>,
}

impl WebmSummary {
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.clusters.iter().flat_map(|c| c.blocks.iter())
    }
}

/// Parses a finished or crash-cut (unpatched) WebM file.
pub fn parse(b: &[u8]) -> R<WebmSummary> {
    let r = Reader { b };
    let (ebml, hs, he) = r.header(0)?;
    if ebml != EBML {
        return Err(format!("file starts with {ebml:#x}, not EBML"));
    }
    let he = he.ok_or("unknown-size EBML header")?;
    let mut doc_type = None;
    for (id, s, e) in r.children(hs, he)? {
        if id == 0x4282 {
            doc_type = Some(&b[s..e]);
        }
    }
    if doc_type != Some(b"webm") {
        return Err(format!("DocType {doc_type:?}"));
    }
    let (seg, data_start, seg_end) = r.header(he)?;
    if seg != SEGMENT {
        return Err(format!("{seg:#x} after the EBML header, not a Segment"));
    }
    if let Some(end) = seg_end {
        if end != b.len() {
            return Err(format!("Segment ends at {end}, file at {}", b.len()));
        }
    }
    let end = seg_end.unwrap_or(b.len());
    let mut p = WebmSummary {
        segment_known_size: seg_end.is_some(),
        ..WebmSummary::default()
    };
    let mut i = data_start;
    while i < end {
        let (id, s, e) = r.header(i)?;
        let pos = (i - data_start) as u64;
        p.level1.push((id, pos));
        if id == CLUSTER {
            if p.tracks.is_empty() {
                return Err("Cluster before Tracks".into());
            }
            let (cluster, next) = cluster::parse(&r, &p.tracks, pos, s, e, end)?;
            p.clusters.push(cluster);
            i = next;
            continue;
        }
        let e = e.ok_or_else(|| format!("unknown-size level-1 element {id:#x}"))?;
        match id {
            VOID => {}
            INFO => header::info(&r, s, e, &mut p.duration_ms)?,
            TRACKS => header::tracks(&r, s, e, &mut p.tracks)?,
            SEEK_HEAD => index::seek_head(&r, s, e, &mut p.seeks)?,
            CUES => index::cues(&r, s, e, &mut p.cues)?,
            other => return Err(format!("unexpected level-1 element {other:#x}")),
        }
        i = e;
    }
    cross_check(&p)?;
    Ok(p)
}

/// Cues point at Clusters, SeekHead entries at the elements they name.
fn cross_check(p: &WebmSummary) -> R<()> {
    for &(time, track, pos) in &p.cues {
        if !p.tracks.contains_key(&track) {
            return Err(format!("cue for undeclared track {track}"));
        }
        if !p.clusters.iter().any(|c| c.pos == pos) {
            return Err(format!("cue at {time} ms points at {pos}, not a Cluster"));
        }
    }
    for &(id, pos) in &p.seeks {
        if !p.level1.contains(&(id, pos)) {
            return Err(format!("SeekHead entry {id:#x} at {pos} points at nothing"));
        }
    }
    Ok(())
}

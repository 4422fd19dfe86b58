//! A strict WebM (Matroska/EBML) reader for the muxer fuzz target, written from the spec: EBML
//! header, one Segment, known sizes nesting exactly, unknown-size Segment/Cluster ending at EOF or
//! at a level-1 ID, blocks on declared tracks, Cues and SeekHead pointing at real elements.
//! Returns an error instead of panicking.

use std::collections::BTreeMap;

const EBML: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const SEEK_HEAD: u32 = 0x114D_9B74;
const INFO: u32 = 0x1549_A966;
const TRACKS: u32 = 0x1654_AE6B;
const CLUSTER: u32 = 0x1F43_B675;
const CUES: u32 = 0x1C53_BB6B;
const VOID: u32 = 0xEC;
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
    pub blocks: Vec<Block>,
}

#[derive(Debug, Default)]
pub struct WebmSummary {
    pub segment_known_size: bool,
    pub tracks: BTreeMap<u64, Track>,
    pub clusters: Vec<Cluster>,
    pub duration: Option<f64>,
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

struct Reader<'a> {
    b: &'a [u8],
}

type R<T> = Result<T, String>;

impl Reader<'_> {
    /// Variable-length integer at `i`: (value, length, all value bits set).
    fn vint(&self, i: usize) -> R<(u64, usize, bool)> {
        let first = *self
            .b
            .get(i)
            .ok_or_else(|| format!("vint past the end at {i}"))?;
        if first == 0 {
            return Err(format!("invalid vint at {i}"));
        }
        let len = first.leading_zeros() as usize + 1;
        let bytes = self
            .b
            .get(i..i + len)
            .ok_or_else(|| format!("truncated vint at {i}"))?;
        let mut v = u64::from(first) & ((1u64 << (8 - len)) - 1);
        for &x in &bytes[1..] {
            v = (v << 8) | u64::from(x);
        }
        Ok((v, len, v == (1u64 << (7 * len)) - 1))
    }

    fn id(&self, i: usize) -> R<(u32, usize)> {
        let first = *self
            .b
            .get(i)
            .ok_or_else(|| format!("ID past the end at {i}"))?;
        let len = first.leading_zeros() as usize + 1;
        if len > 4 {
            return Err(format!("invalid ID at {i}"));
        }
        let bytes = self
            .b
            .get(i..i + len)
            .ok_or_else(|| format!("truncated ID at {i}"))?;
        Ok((
            bytes.iter().fold(0, |acc, &x| (acc << 8) | u32::from(x)),
            len,
        ))
    }

    /// (id, payload start, payload end or None when unknown-size).
    fn header(&self, i: usize) -> R<(u32, usize, Option<usize>)> {
        let (id, il) = self.id(i)?;
        let (size, sl, unknown) = self.vint(i + il)?;
        let start = i + il + sl;
        if unknown {
            return Ok((id, start, None));
        }
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s));
        match end {
            Some(end) if end <= self.b.len() => Ok((id, start, Some(end))),
            _ => Err(format!("element {id:#x} at {i} overruns the file")),
        }
    }

    /// Children of a known-size master, exactly filling it.
    fn children(&self, start: usize, end: usize) -> R<Vec<(u32, usize, usize)>> {
        let mut out = Vec::new();
        let mut i = start;
        while i < end {
            let (id, s, e) = self.header(i)?;
            let e = e.ok_or_else(|| format!("unknown size {id:#x} inside a known-size master"))?;
            if e > end {
                return Err(format!("child {id:#x} at {i} overruns its parent"));
            }
            out.push((id, s, e));
            i = e;
        }
        Ok(out)
    }

    fn uint(&self, s: usize, e: usize) -> R<u64> {
        if e - s > 8 {
            return Err(format!("uint of {} bytes at {s}", e - s));
        }
        Ok(self.b[s..e]
            .iter()
            .fold(0, |acc, &x| (acc << 8) | u64::from(x)))
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
            let (cluster, next) = parse_cluster(&r, &p, pos, s, e, end)?;
            p.clusters.push(cluster);
            i = next;
            continue;
        }
        let e = e.ok_or_else(|| format!("unknown-size level-1 element {id:#x}"))?;
        match id {
            VOID => {}
            INFO => {
                for (cid, cs, ce) in r.children(s, e)? {
                    if cid == 0x4489 {
                        p.duration = Some(match ce - cs {
                            4 => f64::from(f32::from_be_bytes(
                                b[cs..ce].try_into().expect("4 bytes"),
                            )),
                            8 => f64::from_be_bytes(b[cs..ce].try_into().expect("8 bytes")),
                            n => return Err(format!("Duration of {n} bytes")),
                        });
                    }
                }
            }
            TRACKS => parse_tracks(&r, s, e, &mut p)?,
            SEEK_HEAD => {
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
                        (Some(id), Some(pos)) => p.seeks.push((id, pos)),
                        _ => return Err("Seek without SeekID or SeekPosition".into()),
                    }
                }
            }
            CUES => {
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
                                    (Some(t), Some(c)) => p.cues.push((time, t, c)),
                                    _ => {
                                        return Err(
                                            "CueTrackPositions without track or position".into()
                                        )
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            other => return Err(format!("unexpected level-1 element {other:#x}")),
        }
        i = e;
    }
    cross_check(&p)?;
    Ok(p)
}

fn parse_tracks(r: &Reader, s: usize, e: usize, p: &mut WebmSummary) -> R<()> {
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
        if p.tracks.insert(number, track).is_some() {
            return Err(format!("track number {number} twice"));
        }
    }
    if p.tracks.is_empty() {
        return Err("Tracks without a TrackEntry".into());
    }
    Ok(())
}

/// A Cluster from `start`; unknown-size ones end at a level-1 ID or `seg_end`.
fn parse_cluster(
    r: &Reader,
    p: &WebmSummary,
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
                if !p.tracks.contains_key(&track) {
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

#[cfg(test)]
mod tests {
    use roomrec_core::media::webm::WebmMuxer;
    use roomrec_core::media::{Codec, Muxer, TrackSpec};

    /// A finished file with its patches applied.
    fn file() -> Vec<u8> {
        let opus = TrackSpec {
            codec: Codec::Opus,
            width: 0,
            height: 0,
            channels: 2,
            sample_rate: 48_000,
            codec_private: None,
        };
        let mut out = Vec::new();
        let mut mux = WebmMuxer::new(&[opus], &mut out);
        for i in 0..300u64 {
            mux.write_frame(0, i * 20_000_000, true, &[0xFC, 1, 2, 3], &mut out);
        }
        for p in mux.finish(&mut out) {
            let at = p.offset as usize;
            out[at..at + p.bytes.len()].copy_from_slice(&p.bytes);
        }
        out
    }

    /// The reader accepts the muxer's output and rejects each kind of damage it claims to catch.
    #[test]
    fn catches_broken_files() {
        let good = file();
        let p = super::parse(&good).expect("muxer output is valid");
        assert!(p.segment_known_size);
        assert_eq!(p.blocks().count(), 300);
        assert!(p.clusters.len() > 1 && !p.cues.is_empty() && !p.seeks.is_empty());
        let damaged = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            match super::parse(&b) {
                Ok(_) => panic!("damage was not detected"),
                Err(e) => e,
            }
        };
        assert!(damaged(&|b| b.truncate(b.len() - 1)).contains("overruns"));
        assert!(damaged(&|b| b.push(0)).contains("Segment ends"));
        assert!(damaged(&|b| b[0] = 0x1B).contains("not EBML"));
        // Point the first block at track 2, which does not exist.
        let first_block = super::parse(&good).unwrap().clusters[0].blocks[0]
            .payload
            .start;
        assert!(damaged(&|b| b[first_block - 4] = 0x82).contains("undeclared track"));
    }
}

//! A strict little Matroska reader for structure checks (test-only, written from the spec).
//! Known sizes must nest exactly; unknown-size Segment/Cluster end at EOF or at a level-1 ID.

const SEGMENT: u32 = 0x1853_8067;
const CLUSTER: u32 = 0x1F43_B675;
const CUES: u32 = 0x1C53_BB6B;
const INFO: u32 = 0x1549_A966;
const TRACKS: u32 = 0x1654_AE6B;
const SEEK_HEAD: u32 = 0x114D_9B74;
const LEVEL1: [u32; 8] = [
    CLUSTER,
    CUES,
    INFO,
    TRACKS,
    SEEK_HEAD,
    0x1254_C367,
    0x1043_A770,
    0x1941_A469,
];

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub track: u64,
    /// Absolute time (cluster timecode + relative), ms.
    pub time_ms: i64,
    pub keyframe: bool,
    pub payload_len: usize,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    /// Offset of the Cluster ID, relative to the Segment data start.
    pub pos: u64,
    pub timecode: u64,
    pub known_size: bool,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub segment_known_size: bool,
    pub clusters: Vec<Cluster>,
    /// (time ms, track, cluster position)
    pub cues: Vec<(u64, u64, u64)>,
    pub duration_ms: Option<f64>,
    /// (element ID, position) from the SeekHead.
    pub seeks: Vec<(u32, u64)>,
    /// Every level-1 element: (ID, position relative to the Segment data start).
    pub level1: Vec<(u32, u64)>,
}

fn vint(b: &[u8], i: usize) -> (u64, usize, bool) {
    let first = b[i];
    assert!(first != 0, "invalid vint at {i}");
    let len = first.leading_zeros() as usize + 1;
    let mut v = u64::from(first) & ((1u64 << (8 - len)) - 1);
    for k in 1..len {
        v = (v << 8) | u64::from(b[i + k]);
    }
    let unknown = v == (1u64 << (7 * len)) - 1;
    (v, len, unknown)
}

fn id(b: &[u8], i: usize) -> (u32, usize) {
    let len = b[i].leading_zeros() as usize + 1;
    assert!(len <= 4, "invalid ID at {i}");
    (
        b[i..i + len]
            .iter()
            .fold(0u32, |acc, &x| (acc << 8) | u32::from(x)),
        len,
    )
}

/// (id, payload start, payload end or None when unknown-size)
fn header(b: &[u8], i: usize) -> (u32, usize, Option<usize>) {
    let (eid, il) = id(b, i);
    let (size, sl, unknown) = vint(b, i + il);
    let start = i + il + sl;
    let end = (!unknown).then(|| start + size as usize);
    if let Some(end) = end {
        assert!(end <= b.len(), "element {eid:#x} at {i} overruns the file");
    }
    (eid, start, end)
}

fn uint(b: &[u8]) -> u64 {
    b.iter().fold(0, |acc, &x| (acc << 8) | u64::from(x))
}

/// Children of a known-size master, exactly filling it.
fn children(b: &[u8], start: usize, end: usize) -> Vec<(u32, usize, usize)> {
    let mut out = Vec::new();
    let mut i = start;
    while i < end {
        let (eid, s, e) = header(b, i);
        let e = e.expect("unknown size inside a known-size master");
        assert!(e <= end, "child {eid:#x} overruns its parent");
        out.push((eid, s, e));
        i = e;
    }
    out
}

pub fn parse(b: &[u8]) -> Parsed {
    let (ebml, _, ebml_end) = header(b, 0);
    assert_eq!(ebml, 0x1A45_DFA3);
    let (seg, data_start, seg_end) = header(b, ebml_end.unwrap());
    assert_eq!(seg, SEGMENT);
    if let Some(end) = seg_end {
        assert_eq!(end, b.len(), "Segment size must cover the rest of the file");
    }
    let end = seg_end.unwrap_or(b.len());
    let mut p = Parsed {
        segment_known_size: seg_end.is_some(),
        ..Parsed::default()
    };
    let mut i = data_start;
    while i < end {
        let (eid, s, e) = header(b, i);
        let pos = (i - data_start) as u64;
        p.level1.push((eid, pos));
        if eid == CLUSTER {
            let (cluster, next) = parse_cluster(b, pos, s, e.unwrap_or(end), e.is_some());
            p.clusters.push(cluster);
            i = next;
            continue;
        }
        let e = e.expect("only Clusters are unknown-size");
        match eid {
            INFO => {
                for (cid, cs, ce) in children(b, s, e) {
                    if cid == 0x4489 {
                        p.duration_ms = Some(f64::from_be_bytes(b[cs..ce].try_into().unwrap()));
                    }
                }
            }
            SEEK_HEAD => {
                for (_, ss, se) in children(b, s, e) {
                    let (mut seek_id, mut seek_pos) = (0, 0);
                    for (cid, cs, ce) in children(b, ss, se) {
                        match cid {
                            0x53AB => seek_id = uint(&b[cs..ce]) as u32,
                            0x53AC => seek_pos = uint(&b[cs..ce]),
                            _ => {}
                        }
                    }
                    p.seeks.push((seek_id, seek_pos));
                }
            }
            CUES => {
                for (_, ps, pe) in children(b, s, e) {
                    let mut time = 0;
                    for (cid, cs, ce) in children(b, ps, pe) {
                        match cid {
                            0xB3 => time = uint(&b[cs..ce]),
                            0xB7 => {
                                let (mut track, mut pos) = (0, 0);
                                for (tid, ts, te) in children(b, cs, ce) {
                                    match tid {
                                        0xF7 => track = uint(&b[ts..te]),
                                        0xF1 => pos = uint(&b[ts..te]),
                                        _ => {}
                                    }
                                }
                                p.cues.push((time, track, pos));
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
        i = e;
    }
    p
}

fn parse_cluster(b: &[u8], pos: u64, start: usize, end: usize, known: bool) -> (Cluster, usize) {
    let mut cluster = Cluster {
        pos,
        timecode: u64::MAX,
        known_size: known,
        blocks: Vec::new(),
    };
    let mut i = start;
    while i < end {
        let (eid, _) = id(b, i);
        if !known && LEVEL1.contains(&eid) {
            break;
        }
        let (eid, s, e) = header(b, i);
        let e = e.expect("unknown-size child in a Cluster");
        assert!(e <= end, "Cluster child overruns the Cluster");
        match eid {
            0xE7 => {
                assert!(
                    cluster.blocks.is_empty(),
                    "Timecode must come before blocks"
                );
                cluster.timecode = uint(&b[s..e]);
            }
            0xA3 => {
                assert_ne!(
                    cluster.timecode,
                    u64::MAX,
                    "block before the cluster Timecode"
                );
                let (track, tl, _) = vint(b, s);
                let rel = i16::from_be_bytes([b[s + tl], b[s + tl + 1]]);
                let flags = b[s + tl + 2];
                assert_eq!(flags & 0x06, 0, "no lacing expected");
                cluster.blocks.push(Block {
                    track,
                    time_ms: cluster.timecode as i64 + i64::from(rel),
                    keyframe: flags & 0x80 != 0,
                    payload_len: e - (s + tl + 3),
                });
            }
            _ => {}
        }
        i = e;
    }
    (cluster, i)
}

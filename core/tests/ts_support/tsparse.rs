//! A minimal independent TS packet walker for assertions on our own output.

#[derive(Debug, Clone)]
pub struct Packet {
    pub index: usize,
    pub pid: u16,
    pub unit_start: bool,
    pub has_payload: bool,
    pub cc: u8,
    pub random_access: bool,
    /// 27 MHz.
    pub pcr: Option<u64>,
    pub payload: Vec<u8>,
}

pub fn packets(data: &[u8]) -> Vec<Packet> {
    assert_eq!(data.len() % 188, 0, "whole packets");
    data.chunks(188)
        .enumerate()
        .map(|(index, p)| {
            assert_eq!(p[0], 0x47, "sync byte of packet {index}");
            let pid = u16::from_be_bytes([p[1], p[2]]) & 0x1FFF;
            let afc = (p[3] >> 4) & 3;
            assert_ne!(afc, 0, "reserved adaptation_field_control");
            let mut at = 4;
            let (mut random_access, mut pcr) = (false, None);
            if afc & 2 != 0 {
                let len = p[4] as usize;
                if len > 0 {
                    let flags = p[5];
                    random_access = flags & 0x40 != 0;
                    if flags & 0x10 != 0 {
                        let b = &p[6..12];
                        let base = (u64::from(b[0]) << 25)
                            | (u64::from(b[1]) << 17)
                            | (u64::from(b[2]) << 9)
                            | (u64::from(b[3]) << 1)
                            | (u64::from(b[4]) >> 7);
                        let ext = (u64::from(b[4] & 1) << 8) | u64::from(b[5]);
                        pcr = Some(base * 300 + ext);
                    }
                }
                at = 5 + len;
                assert!(at <= 188, "adaptation field overflows packet {index}");
            }
            Packet {
                index,
                pid,
                unit_start: p[1] & 0x40 != 0,
                has_payload: afc & 1 != 0,
                cc: p[3] & 0x0F,
                random_access,
                pcr,
                payload: if afc & 1 != 0 {
                    p[at..].to_vec()
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

/// Asserts continuity counters: +1 per payload packet, unchanged on adaptation-only packets.
pub fn assert_continuity(pkts: &[Packet]) {
    let mut last: std::collections::HashMap<u16, u8> = Default::default();
    for p in pkts {
        if let Some(&prev) = last.get(&p.pid) {
            let expected = if p.has_payload {
                (prev + 1) & 0x0F
            } else {
                prev
            };
            assert_eq!(
                p.cc, expected,
                "continuity counter of PID {:#x} at packet {}",
                p.pid, p.index
            );
        }
        last.insert(p.pid, p.cc);
    }
}

/// PTS of a PES starting in this packet's payload.
pub fn pes_pts(p: &Packet) -> Option<u64> {
    let h = &p.payload;
    if !p.unit_start || h.len() < 14 || h[..3] != [0, 0, 1] || h[7] & 0x80 == 0 {
        return None;
    }
    let t = &h[9..14];
    Some(
        (u64::from(t[0] >> 1 & 7) << 30)
            | (u64::from(t[1]) << 22)
            | (u64::from(t[2] >> 1) << 15)
            | (u64::from(t[3]) << 7)
            | u64::from(t[4] >> 1),
    )
}

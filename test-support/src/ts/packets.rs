//! The transport packet layer: 188-byte framing, adaptation fields, continuity counters.

use std::collections::BTreeMap;

pub const PACKET_LEN: usize = 188;

/// One transport packet whose framing checked out.
#[derive(Debug, Clone)]
pub struct Packet<'a> {
    /// Position in the stream, in packets.
    pub index: usize,
    pub pid: u16,
    pub unit_start: bool,
    pub has_payload: bool,
    /// Continuity counter.
    pub cc: u8,
    pub random_access: bool,
    /// Program clock reference, 27 MHz.
    pub pcr: Option<u64>,
    /// What follows the adaptation field; empty on adaptation-only packets.
    pub payload: &'a [u8],
}

/// Splits a stream into packets, each one checked: whole packets, sync byte, no transport error
/// or scrambling, a valid adaptation_field_control, an adaptation field that fills an
/// adaptation-only packet and holds only PCR/OPCR flags that fit, stuffing of 0xFF.
pub fn packets(data: &[u8]) -> Result<Vec<Packet<'_>>, String> {
    if !data.len().is_multiple_of(PACKET_LEN) {
        return Err(format!("length {} is not a multiple of 188", data.len()));
    }
    data.chunks(PACKET_LEN)
        .enumerate()
        .map(|(index, p)| packet(index, p).map_err(|what| format!("packet {index}: {what}")))
        .collect()
}

fn packet(index: usize, p: &[u8]) -> Result<Packet<'_>, String> {
    if p[0] != 0x47 {
        return Err(format!("sync byte {:#04x}", p[0]));
    }
    if p[1] & 0x80 != 0 {
        return Err("transport_error_indicator set".into());
    }
    if p[3] & 0xC0 != 0 {
        return Err("scrambled".into());
    }
    let afc = (p[3] >> 4) & 3;
    let has_payload = afc & 1 != 0;
    let (mut random_access, mut pcr) = (false, None);
    let mut at = 4;
    match afc {
        0 => return Err("reserved adaptation_field_control 0".into()),
        2 | 3 => {
            let len = usize::from(p[4]);
            let max = if afc == 2 { 183 } else { 182 };
            if afc == 2 && len != 183 {
                return Err(format!("adaptation-only packet with field length {len}"));
            }
            if len > max {
                return Err(format!("adaptation field length {len} > {max}"));
            }
            if len > 0 {
                let flags = p[5];
                if flags & 0x07 != 0 {
                    return Err(format!("unexpected adaptation field flags {flags:#04x}"));
                }
                random_access = flags & 0x40 != 0;
                if flags & 0x10 != 0 {
                    if len < 7 {
                        return Err("PCR flag in a too short adaptation field".into());
                    }
                    pcr = Some(read_pcr(&p[6..12]));
                }
                let used = 1
                    + if flags & 0x10 != 0 { 6 } else { 0 }
                    + if flags & 0x08 != 0 { 6 } else { 0 };
                if used > len {
                    return Err("adaptation field flags overrun its length".into());
                }
                if p[5 + used..5 + len].iter().any(|&b| b != 0xFF) {
                    return Err("stuffing bytes are not 0xFF".into());
                }
            }
            at = 5 + len;
        }
        _ => {}
    }
    Ok(Packet {
        index,
        pid: u16::from_be_bytes([p[1] & 0x1F, p[2]]),
        unit_start: p[1] & 0x40 != 0,
        has_payload,
        cc: p[3] & 0x0F,
        random_access,
        pcr,
        payload: if has_payload { &p[at..] } else { &[] },
    })
}

/// 33-bit base * 300 + 9-bit extension.
fn read_pcr(b: &[u8]) -> u64 {
    let base = (u64::from(b[0]) << 25)
        | (u64::from(b[1]) << 17)
        | (u64::from(b[2]) << 9)
        | (u64::from(b[3]) << 1)
        | (u64::from(b[4]) >> 7);
    let ext = (u64::from(b[4] & 1) << 8) | u64::from(b[5]);
    base * 300 + ext
}

/// Continuity counters per PID: +1 on every packet with payload, unchanged on adaptation-only
/// packets.
pub fn check_continuity(packets: &[Packet]) -> Result<(), String> {
    let mut last: BTreeMap<u16, u8> = BTreeMap::new();
    for p in packets {
        if let Some(&prev) = last.get(&p.pid) {
            let expected = if p.has_payload {
                (prev + 1) & 0x0F
            } else {
                prev
            };
            if p.cc != expected {
                return Err(format!(
                    "packet {}: continuity counter {} on PID {:#x}, expected {expected}",
                    p.index, p.cc, p.pid
                ));
            }
        }
        last.insert(p.pid, p.cc);
    }
    Ok(())
}

/// PTS of a PES that starts in this packet's payload (its presence only: the PES layer of
/// [`super::check`] checks the marker bits).
pub fn pes_pts(p: &Packet) -> Option<u64> {
    let h = p.payload;
    if !p.unit_start || h.len() < 14 || h[..3] != [0, 0, 1] || h[7] & 0x80 == 0 {
        return None;
    }
    Some(read_timestamp(&h[9..14]))
}

/// A 33-bit PES timestamp from its 5 bytes (marker bits skipped).
pub(super) fn read_timestamp(t: &[u8]) -> u64 {
    (u64::from(t[0] >> 1 & 7) << 30)
        | (u64::from(t[1]) << 22)
        | (u64::from(t[2] >> 1) << 15)
        | (u64::from(t[3]) << 7)
        | u64::from(t[4] >> 1)
}

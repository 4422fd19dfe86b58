//! An independent MPEG-TS checker (ISO/IEC 13818-1) for the muxer fuzz target: packet framing,
//! continuity per PID, PSI sections with CRC, and PES reassembly. Returns an error instead of
//! panicking so a malformed stream is reported as such.

use std::collections::BTreeMap;

const PACKET: usize = 188;
const PAT_PID: u16 = 0;

/// What a stream contained, for the caller's own checks.
#[derive(Debug, Default)]
pub struct TsSummary {
    pub packets: usize,
    /// Elementary streams declared by the (last) PMT: pid -> stream_type.
    pub streams: BTreeMap<u16, u8>,
    pub pcr_pid: Option<u16>,
    /// Complete PES packets per PID.
    pub pes: BTreeMap<u16, Vec<Pes>>,
    pub pcr_count: usize,
}

/// One PES packet: (stream_id, PTS, payload after the PES header).
pub type Pes = (u8, Option<u64>, Vec<u8>);

/// Checks a whole TS stream; every PES must be complete (the muxer writes whole frames).
pub fn check(data: &[u8]) -> Result<TsSummary, String> {
    if !data.len().is_multiple_of(PACKET) {
        return Err(format!("length {} is not a multiple of 188", data.len()));
    }
    let mut s = TsSummary {
        packets: data.len() / PACKET,
        ..TsSummary::default()
    };
    let mut last_cc: BTreeMap<u16, u8> = BTreeMap::new();
    let mut pmt_pid = None;
    let mut open: BTreeMap<u16, Vec<u8>> = BTreeMap::new();
    for (index, p) in data.chunks(PACKET).enumerate() {
        let err = |what: String| format!("packet {index}: {what}");
        if p[0] != 0x47 {
            return Err(err(format!("sync byte {:#04x}", p[0])));
        }
        if p[1] & 0x80 != 0 {
            return Err(err("transport_error_indicator set".into()));
        }
        let unit_start = p[1] & 0x40 != 0;
        let pid = u16::from_be_bytes([p[1] & 0x1F, p[2]]);
        if p[3] & 0xC0 != 0 {
            return Err(err("scrambled".into()));
        }
        let afc = (p[3] >> 4) & 3;
        let cc = p[3] & 0x0F;
        let has_payload = afc & 1 != 0;
        let mut at = 4;
        match afc {
            0 => return Err(err("reserved adaptation_field_control 0".into())),
            2 | 3 => {
                let len = usize::from(p[4]);
                let max = if afc == 2 { 183 } else { 182 };
                if afc == 2 && len != 183 {
                    return Err(err(format!(
                        "adaptation-only packet with field length {len}"
                    )));
                }
                if len > max {
                    return Err(err(format!("adaptation field length {len} > {max}")));
                }
                if len > 0 {
                    let flags = p[5];
                    if flags & 0x07 != 0 {
                        return Err(err(format!(
                            "unexpected adaptation field flags {flags:#04x}"
                        )));
                    }
                    if flags & 0x10 != 0 {
                        if len < 7 {
                            return Err(err("PCR flag in a too short adaptation field".into()));
                        }
                        if Some(pid) != s.pcr_pid && s.pcr_pid.is_some() {
                            return Err(err(format!(
                                "PCR on PID {pid:#x}, PMT says {:?}",
                                s.pcr_pid
                            )));
                        }
                        s.pcr_count += 1;
                    }
                    let used = 1
                        + if flags & 0x10 != 0 { 6 } else { 0 }
                        + if flags & 0x08 != 0 { 6 } else { 0 };
                    if used > len {
                        return Err(err("adaptation field flags overrun its length".into()));
                    }
                    if p[5 + used..5 + len].iter().any(|&b| b != 0xFF) {
                        return Err(err("stuffing bytes are not 0xFF".into()));
                    }
                }
                at = 5 + len;
            }
            _ => {}
        }
        if let Some(&prev) = last_cc.get(&pid) {
            let expected = if has_payload { (prev + 1) & 0x0F } else { prev };
            if cc != expected {
                return Err(err(format!(
                    "continuity counter {cc} on PID {pid:#x}, expected {expected}"
                )));
            }
        }
        last_cc.insert(pid, cc);
        if !has_payload {
            continue;
        }
        let payload = &p[at..];
        if pid == PAT_PID || Some(pid) == pmt_pid {
            if !unit_start {
                return Err(err("PSI section not starting in its packet".into()));
            }
            let section = psi_section(payload).map_err(err)?;
            if pid == PAT_PID {
                pmt_pid = Some(parse_pat(section).map_err(err)?);
            } else {
                parse_pmt(section, &mut s).map_err(err)?;
            }
        } else if s.streams.contains_key(&pid) {
            if unit_start {
                if let Some(pes) = open.remove(&pid) {
                    finish_pes(pid, &pes, &mut s).map_err(err)?;
                }
                open.insert(pid, payload.to_vec());
            } else {
                match open.get_mut(&pid) {
                    Some(pes) => pes.extend_from_slice(payload),
                    None => {
                        return Err(err(format!(
                            "PES continuation on PID {pid:#x} without a start"
                        )))
                    }
                }
            }
        } else {
            return Err(err(format!("payload on undeclared PID {pid:#x}")));
        }
    }
    for (pid, pes) in open {
        finish_pes(pid, &pes, &mut s).map_err(|e| format!("last PES: {e}"))?;
    }
    Ok(s)
}

/// The section after the pointer field, CRC checked; returns (table_id .. before CRC).
fn psi_section(payload: &[u8]) -> Result<&[u8], String> {
    let pointer = usize::from(*payload.first().ok_or("empty PSI payload")?);
    let sec = payload
        .get(1 + pointer..)
        .ok_or("pointer field past the packet")?;
    if sec.len() < 3 {
        return Err("short section".into());
    }
    if sec[1] & 0x80 == 0 {
        return Err("section_syntax_indicator not set".into());
    }
    let len = usize::from(u16::from_be_bytes([sec[1] & 0x0F, sec[2]]));
    let total = 3 + len;
    if len < 9 || total > sec.len() {
        return Err(format!("section length {len} does not fit"));
    }
    if crc32_mpeg2(&sec[..total]) != 0 {
        return Err("section CRC mismatch".into());
    }
    if sec[total..].iter().any(|&b| b != 0xFF) {
        return Err("bytes after the section are not 0xFF".into());
    }
    Ok(&sec[..total - 4])
}

/// Returns the PMT PID of the single program.
fn parse_pat(sec: &[u8]) -> Result<u16, String> {
    if sec[0] != 0x00 {
        return Err(format!("PAT table_id {:#x}", sec[0]));
    }
    let entries = &sec[8..];
    if entries.len() != 4 {
        return Err(format!(
            "PAT with {} bytes of programs, expected one program",
            entries.len()
        ));
    }
    Ok(u16::from_be_bytes([entries[2] & 0x1F, entries[3]]))
}

fn parse_pmt(sec: &[u8], s: &mut TsSummary) -> Result<(), String> {
    if sec[0] != 0x02 {
        return Err(format!("PMT table_id {:#x}", sec[0]));
    }
    let pcr = u16::from_be_bytes([sec[8] & 0x1F, sec[9]]);
    let info_len = usize::from(u16::from_be_bytes([sec[10] & 0x0F, sec[11]]));
    let mut i = 12 + info_len;
    let mut streams = BTreeMap::new();
    while i < sec.len() {
        let e = sec.get(i..i + 5).ok_or("truncated ES entry")?;
        let pid = u16::from_be_bytes([e[1] & 0x1F, e[2]]);
        let es_info = usize::from(u16::from_be_bytes([e[3] & 0x0F, e[4]]));
        if i + 5 + es_info > sec.len() {
            return Err("ES descriptors overrun the PMT".into());
        }
        streams.insert(pid, e[0]);
        i += 5 + es_info;
    }
    s.pcr_pid = (pcr != 0x1FFF).then_some(pcr);
    if let Some(pcr) = s.pcr_pid {
        if !streams.contains_key(&pcr) {
            return Err(format!("PCR PID {pcr:#x} is not an elementary stream"));
        }
    }
    s.streams = streams;
    Ok(())
}

fn finish_pes(pid: u16, pes: &[u8], s: &mut TsSummary) -> Result<(), String> {
    if pes.len() < 9 || pes[..3] != [0, 0, 1] {
        return Err(format!("PES on PID {pid:#x} without start code"));
    }
    let stream_id = pes[3];
    let declared = usize::from(u16::from_be_bytes([pes[4], pes[5]]));
    if declared != 0 && declared + 6 != pes.len() {
        return Err(format!(
            "PES_packet_length {declared} but {} bytes follow",
            pes.len() - 6
        ));
    }
    if pes[6] & 0xC0 != 0x80 {
        return Err("PES header marker bits".into());
    }
    let header_len = usize::from(pes[8]);
    let data_at = 9 + header_len;
    if data_at > pes.len() {
        return Err("PES header overruns the PES".into());
    }
    let pts = match pes[7] >> 6 {
        0 => None,
        2 | 3 if header_len >= 5 => {
            let t = &pes[9..14];
            if t[0] & 1 == 0 || t[2] & 1 == 0 || t[4] & 1 == 0 {
                return Err("PTS marker bits".into());
            }
            Some(
                (u64::from(t[0] >> 1 & 7) << 30)
                    | (u64::from(t[1]) << 22)
                    | (u64::from(t[2] >> 1) << 15)
                    | (u64::from(t[3]) << 7)
                    | u64::from(t[4] >> 1),
            )
        }
        _ => return Err("PTS_DTS_flags invalid or header too short".into()),
    };
    s.pes
        .entry(pid)
        .or_default()
        .push((stream_id, pts, pes[data_at..].to_vec()));
    Ok(())
}

/// CRC-32/MPEG-2 over data that ends with its CRC: 0 when it matches.
fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use roomrec_core::media::ts::TsMuxer;
    use roomrec_core::media::{Codec, Muxer, TrackSpec};

    fn stream() -> Vec<u8> {
        let spec = |codec| TrackSpec {
            codec,
            width: 0,
            height: 0,
            channels: 2,
            sample_rate: 48_000,
            codec_private: None,
        };
        let mut out = Vec::new();
        let mut mux = TsMuxer::new(&[spec(Codec::H264), spec(Codec::Opus)], &mut out);
        for i in 0..20u64 {
            mux.write_frame(
                0,
                i * 33_000_000,
                i == 0,
                &[0, 0, 0, 1, 0x65, 1, 2, 3],
                &mut out,
            );
            mux.write_frame(1, i * 20_000_000, true, &[0xFC; 300], &mut out);
        }
        out
    }

    /// The checker accepts the muxer's output and rejects each kind of damage it claims to catch.
    #[test]
    fn catches_broken_streams() {
        let good = stream();
        let summary = super::check(&good).expect("muxer output is valid");
        assert_eq!(summary.pes[&0x101].len(), 20);
        assert_eq!(summary.pes[&0x100].len(), 20);
        let damaged = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            match super::check(&b) {
                Ok(_) => panic!("damage was not detected"),
                Err(e) => e,
            }
        };
        assert!(damaged(&|b| b.truncate(b.len() - 1)).contains("multiple of 188"));
        assert!(damaged(&|b| b[188 * 3] = 0x46).contains("sync byte"));
        // Packet 6 continues the first Opus PES: dropping it leaves a continuity gap.
        let dropped = damaged(&|b| {
            b.drain(188 * 6..188 * 7);
        });
        assert!(
            dropped.contains("continuity") || dropped.contains("PES"),
            "{dropped}"
        );
        // The PAT is padded with adaptation stuffing; its section starts at byte 172.
        assert!(damaged(&|b| b[10] ^= 1).contains("stuffing"));
        assert!(damaged(&|b| b[176] ^= 1).contains("CRC"));
    }
}

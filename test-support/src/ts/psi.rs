//! Program-specific information: the PAT and PMT sections, CRC checked.

use std::collections::BTreeMap;

use super::TsSummary;

/// The section after the pointer field, CRC checked; returns (table_id .. before CRC).
pub(super) fn section(payload: &[u8]) -> Result<&[u8], String> {
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
pub(super) fn pat(sec: &[u8]) -> Result<u16, String> {
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

/// Sets the summary's streams and PCR PID, which must be one of the streams.
pub(super) fn pmt(sec: &[u8], s: &mut TsSummary) -> Result<(), String> {
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

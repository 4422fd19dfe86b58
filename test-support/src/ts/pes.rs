//! PES packets reassembled from the transport packets of one PID.

use super::packets::read_timestamp;
use super::TsSummary;

/// Checks one complete PES (start code, declared length, header, PTS marker bits) and adds it to
/// the summary.
pub(super) fn finish(pid: u16, pes: &[u8], s: &mut TsSummary) -> Result<(), String> {
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
            Some(read_timestamp(t))
        }
        _ => return Err("PTS_DTS_flags invalid or header too short".into()),
    };
    s.pes
        .entry(pid)
        .or_default()
        .push((stream_id, pts, pes[data_at..].to_vec()));
    Ok(())
}

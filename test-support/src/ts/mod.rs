//! An independent MPEG-TS reader (ISO/IEC 13818-1) for checking the muxer's output: packet
//! framing, continuity per PID, PSI sections with CRC, PES reassembly. Errors instead of panics, so
//! a fuzz target can report a malformed stream as such; tests that want a panic `.expect()`.

mod packets;
mod pes;
mod psi;

use std::collections::BTreeMap;

pub use packets::{check_continuity, packets, pes_pts, Packet, PACKET_LEN};

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

/// Checks a whole TS stream: every packet (see [`packets`]), continuity, one program whose PAT and
/// PMT sections are whole and CRC-correct, PCRs only on the PMT's PCR PID, payload only on declared
/// PIDs, and every PES complete (the muxer writes whole frames).
pub fn check(data: &[u8]) -> Result<TsSummary, String> {
    let packets = packets(data)?;
    check_continuity(&packets)?;
    let mut s = TsSummary {
        packets: packets.len(),
        ..TsSummary::default()
    };
    let mut pmt_pid = None;
    let mut open: BTreeMap<u16, Vec<u8>> = BTreeMap::new();
    for p in &packets {
        let (index, pid) = (p.index, p.pid);
        let err = |what: String| format!("packet {index}: {what}");
        if p.pcr.is_some() {
            if Some(pid) != s.pcr_pid && s.pcr_pid.is_some() {
                return Err(err(format!(
                    "PCR on PID {pid:#x}, PMT says {:?}",
                    s.pcr_pid
                )));
            }
            s.pcr_count += 1;
        }
        if !p.has_payload {
            continue;
        }
        if pid == PAT_PID || Some(pid) == pmt_pid {
            if !p.unit_start {
                return Err(err("PSI section not starting in its packet".into()));
            }
            let section = psi::section(p.payload).map_err(err)?;
            if pid == PAT_PID {
                pmt_pid = Some(psi::pat(section).map_err(err)?);
            } else {
                psi::pmt(section, &mut s).map_err(err)?;
            }
        } else if s.streams.contains_key(&pid) {
            if p.unit_start {
                if let Some(pes) = open.remove(&pid) {
                    pes::finish(pid, &pes, &mut s).map_err(err)?;
                }
                open.insert(pid, p.payload.to_vec());
            } else {
                match open.get_mut(&pid) {
                    Some(pes) => pes.extend_from_slice(p.payload),
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
        pes::finish(pid, &pes, &mut s).map_err(|e| format!("last PES: {e}"))?;
    }
    Ok(s)
}

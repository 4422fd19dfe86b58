//! 188-byte packet writing on top of `mpeg2ts`: PSI, PES split into packets, PCR-only packets,
//! with a continuity counter per PID.

use mpeg2ts::es::{StreamId, StreamType};
use mpeg2ts::pes::PesHeader;
use mpeg2ts::time::{ClockReference, Timestamp};
use mpeg2ts::ts::payload::{Bytes, Pat, Pes, Pmt};
use mpeg2ts::ts::{
    AdaptationField, ContinuityCounter, Descriptor, EsInfo, Pid, ProgramAssociation,
    TransportScramblingControl, TsHeader, TsPacket, TsPacketWriter, TsPayload, VersionNumber,
    WriteTsPacket,
};

pub(super) const PAT_PID: u16 = 0;
pub(super) const PMT_PID: u16 = 0x1000;
const PROGRAM: u16 = 1;
const PAYLOAD: usize = TsPacket::SIZE - 4;
/// PES header with a PTS: start code, stream id, length, 2 flag bytes, header length, PTS.
const PES_HEADER_LEN: usize = 14;

/// One elementary stream of the program.
pub(super) struct EsEntry {
    pub pid: u16,
    pub stream_type: StreamType,
    pub descriptors: Vec<(u8, Vec<u8>)>,
}

/// Per-PID continuity counters.
#[derive(Default)]
pub(super) struct Counters {
    /// (pid, next counter value)
    next: Vec<(u16, u8)>,
}

impl Counters {
    fn slot(&mut self, pid: u16) -> &mut u8 {
        let i = match self.next.iter().position(|(p, _)| *p == pid) {
            Some(i) => i,
            None => {
                self.next.push((pid, 0));
                self.next.len() - 1
            }
        };
        &mut self.next[i].1
    }

    /// Counter for a packet with payload (increments).
    fn take(&mut self, pid: u16) -> u8 {
        let slot = self.slot(pid);
        let cc = *slot;
        *slot = (cc + 1) & 0x0F;
        cc
    }

    /// Counter for an adaptation-field-only packet: repeats the last one (13818-1 2.4.3.3).
    fn current(&mut self, pid: u16) -> u8 {
        self.slot(pid).wrapping_sub(1) & 0x0F
    }
}

fn header(pid: u16, cc: u8) -> TsHeader {
    TsHeader {
        transport_error_indicator: false,
        transport_priority: false,
        pid: Pid::new(pid).expect("PIDs are constants below 0x1FFF"),
        transport_scrambling_control: TransportScramblingControl::NotScrambled,
        continuity_counter: ContinuityCounter::from_u8(cc).expect("masked to 4 bits"),
    }
}

/// Serializes one packet; appends exactly 188 bytes or nothing.
fn emit(packet: &TsPacket, out: &mut Vec<u8>) {
    let mut buf = Vec::with_capacity(TsPacket::SIZE);
    match TsPacketWriter::new(&mut buf).write_ts_packet(packet) {
        Ok(()) if buf.len() == TsPacket::SIZE => out.extend_from_slice(&buf),
        Ok(()) => tracing::warn!(len = buf.len(), "ts: packet of wrong size dropped"),
        Err(e) => tracing::warn!(error = %e, "ts: packet dropped"),
    }
}

/// A 27 MHz clock reference (already wrapped to 33 + 9 bits).
pub(super) fn adaptation(random_access: bool, pcr: Option<u64>) -> AdaptationField {
    AdaptationField {
        discontinuity_indicator: false,
        random_access_indicator: random_access,
        es_priority_indicator: false,
        pcr: pcr.and_then(|v| ClockReference::new(v).ok()),
        opcr: None,
        splice_countdown: None,
        transport_private_data: Vec::new(),
        extension: None,
    }
}

fn adaptation_len(af: &AdaptationField) -> usize {
    2 + if af.pcr.is_some() { 6 } else { 0 }
}

pub(super) fn write_pat(counters: &mut Counters, out: &mut Vec<u8>) {
    let pat = Pat {
        transport_stream_id: 1,
        version_number: VersionNumber::new(),
        table: vec![ProgramAssociation {
            program_num: PROGRAM,
            program_map_pid: Pid::new(PMT_PID).expect("constant"),
        }],
    };
    let cc = counters.take(PAT_PID);
    emit(
        &TsPacket {
            header: header(PAT_PID, cc),
            adaptation_field: None,
            payload: Some(TsPayload::Pat(pat)),
        },
        out,
    );
}

pub(super) fn write_pmt(
    counters: &mut Counters,
    pcr_pid: Option<u16>,
    streams: &[EsEntry],
    out: &mut Vec<u8>,
) {
    let pmt = Pmt {
        program_num: PROGRAM,
        pcr_pid: pcr_pid.and_then(|p| Pid::new(p).ok()),
        version_number: VersionNumber::new(),
        program_info: Vec::new(),
        es_info: streams
            .iter()
            .map(|s| EsInfo {
                stream_type: s.stream_type,
                elementary_pid: Pid::new(s.pid).expect("constant"),
                descriptors: s
                    .descriptors
                    .iter()
                    .map(|(tag, data)| Descriptor {
                        tag: *tag,
                        data: data.clone(),
                    })
                    .collect(),
            })
            .collect(),
    };
    let cc = counters.take(PMT_PID);
    emit(
        &TsPacket {
            header: header(PMT_PID, cc),
            adaptation_field: None,
            payload: Some(TsPayload::Pmt(pmt)),
        },
        out,
    );
}

/// An adaptation-field-only packet carrying a PCR.
pub(super) fn write_pcr_only(counters: &mut Counters, pid: u16, pcr: u64, out: &mut Vec<u8>) {
    let cc = counters.current(pid);
    emit(
        &TsPacket {
            header: header(pid, cc),
            adaptation_field: Some(adaptation(false, Some(pcr))),
            payload: None,
        },
        out,
    );
}

/// What goes into the PES header.
pub(super) struct PesSpec {
    pub pid: u16,
    pub stream_id: u8,
    /// 90 kHz, already wrapped to 33 bits.
    pub pts: u64,
    /// Write PES_packet_length (audio) or 0 = unbounded (video).
    pub bounded: bool,
    /// Adaptation field of the first packet (random access, PCR).
    pub first_af: Option<AdaptationField>,
}

/// Writes one PES packet split over as many TS packets as needed; the last one is padded with
/// adaptation-field stuffing.
pub(super) fn write_pes(counters: &mut Counters, spec: PesSpec, es: &[u8], out: &mut Vec<u8>) {
    let pes_len = if spec.bounded {
        u16::try_from(es.len() + PES_HEADER_LEN - 6).unwrap_or(0)
    } else {
        0
    };
    let pes_header = PesHeader {
        stream_id: StreamId::new(spec.stream_id),
        priority: false,
        data_alignment_indicator: true,
        copyright: false,
        original_or_copy: false,
        pts: Timestamp::new(spec.pts).ok(),
        dts: None,
        escr: None,
    };
    let af_len = spec.first_af.as_ref().map_or(0, adaptation_len);
    let first_len = es.len().min(PAYLOAD - PES_HEADER_LEN - af_len);
    let (first, mut rest) = es.split_at(first_len);
    let Ok(data) = Bytes::new(first) else { return };
    let cc = counters.take(spec.pid);
    let pes = Pes {
        header: pes_header,
        pes_packet_len: pes_len,
        data,
    };
    emit(
        &TsPacket {
            header: header(spec.pid, cc),
            adaptation_field: spec.first_af,
            payload: Some(TsPayload::PesStart(pes)),
        },
        out,
    );
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(rest.len().min(PAYLOAD));
        rest = tail;
        let Ok(data) = Bytes::new(chunk) else { return };
        let cc = counters.take(spec.pid);
        emit(
            &TsPacket {
                header: header(spec.pid, cc),
                adaptation_field: None,
                payload: Some(TsPayload::PesContinuation(data)),
            },
            out,
        );
    }
}

//! Readers for encoded media files (IVF, H.264 Annex-B, Ogg Opus): test fixtures and the input of
//! the synthetic publisher. Pure functions over bytes.

use std::fmt;

use roomrec_core::media::codec::{self, h264};
use roomrec_core::media::Codec;

/// One encoded frame with its timing in the clock of its reader (90 kHz video, 48 kHz Opus).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The frame's bytes (H.264: one access unit with 4-byte start codes).
    pub data: Vec<u8>,
    /// Start time in clock units.
    pub time: u64,
    /// Until the next frame starts (the last one: one frame interval or its Opus duration).
    pub duration: u64,
    /// Whether a decoder can start here (every Opus packet can).
    pub keyframe: bool,
}

/// Why a file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceError {
    /// The file does not start with the expected signature.
    BadMagic,
    /// IVF fourcc other than VP80 / VP90 / AV01.
    UnsupportedCodec([u8; 4]),
    /// The data ends inside a header or a frame.
    Truncated,
    /// A header field makes no sense (zero time base, bad Ogg version...).
    Invalid(&'static str),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::BadMagic => write!(f, "unexpected file signature"),
            SourceError::UnsupportedCodec(c) => {
                write!(f, "unsupported codec {:?}", String::from_utf8_lossy(c))
            }
            SourceError::Truncated => write!(f, "truncated data"),
            SourceError::Invalid(what) => write!(f, "invalid {what}"),
        }
    }
}

impl std::error::Error for SourceError {}

const VIDEO_CLOCK: u64 = 90_000;

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Reads an IVF file. Returns the codec, the time base denominator (frame rate for fixed-rate
/// files: IVF time base = scale / rate seconds) and the frames with times on a 90 kHz clock.
pub fn read_ivf(bytes: &[u8]) -> Result<(Codec, u32, Vec<EncodedFrame>), SourceError> {
    if bytes.get(..4) != Some(b"DKIF") {
        return Err(SourceError::BadMagic);
    }
    let header_len = usize::from(le_u16(bytes, 6).ok_or(SourceError::Truncated)?);
    let fourcc: [u8; 4] = bytes
        .get(8..12)
        .ok_or(SourceError::Truncated)?
        .try_into()
        .expect("4 bytes");
    let codec = match &fourcc {
        b"VP80" => Codec::Vp8,
        b"VP90" => Codec::Vp9,
        b"AV01" => Codec::Av1,
        _ => return Err(SourceError::UnsupportedCodec(fourcc)),
    };
    let rate = le_u32(bytes, 16).ok_or(SourceError::Truncated)?;
    let scale = le_u32(bytes, 20).ok_or(SourceError::Truncated)?;
    if rate == 0 || scale == 0 || header_len < 32 {
        return Err(SourceError::Invalid("IVF header"));
    }
    let to_90k = |pts: u64| {
        (u128::from(pts) * u128::from(VIDEO_CLOCK) * u128::from(scale) / u128::from(rate)) as u64
    };
    let mut frames: Vec<EncodedFrame> = Vec::new();
    let mut pos = header_len;
    while pos < bytes.len() {
        let size = le_u32(bytes, pos).ok_or(SourceError::Truncated)? as usize;
        let pts = le_u64(bytes, pos + 4).ok_or(SourceError::Truncated)?;
        let data = bytes
            .get(pos + 12..pos + 12 + size)
            .ok_or(SourceError::Truncated)?;
        pos += 12 + size;
        frames.push(EncodedFrame {
            data: data.to_vec(),
            time: to_90k(pts),
            duration: 0,
            keyframe: codec::is_keyframe(codec, data),
        });
    }
    set_durations(&mut frames, to_90k(1));
    Ok((codec, rate, frames))
}

/// Each frame lasts until the next one starts; the last one gets `last`.
fn set_durations(frames: &mut [EncodedFrame], last: u64) {
    for i in 0..frames.len() {
        frames[i].duration = match frames.get(i + 1) {
            Some(next) => next.time.saturating_sub(frames[i].time),
            None => last,
        };
    }
}

/// Splits an H.264 Annex-B stream into access units (at access unit delimiters, or where a new
/// picture starts when there are none), re-emitted with 4-byte start codes like str0m delivers
/// them, timed at `fps` on a 90 kHz clock.
pub fn read_h264_annexb(bytes: &[u8], fps: u32) -> Vec<EncodedFrame> {
    let mut units: Vec<Vec<u8>> = Vec::new();
    let mut current = Vec::new();
    let mut has_vcl = false;
    for nal in h264::nal_units(bytes) {
        let t = h264::nal_type(nal);
        let vcl = (h264::NAL_SLICE..=h264::NAL_IDR).contains(&t);
        // 7.4.1.2.3: AUD always starts an AU; SPS/PPS/SEI and types 14..18 after a picture, or
        // the first slice of a new picture.
        let starts_au = t == h264::NAL_AUD
            || (has_vcl && (matches!(t, h264::NAL_SEI | h264::NAL_SPS | h264::NAL_PPS | 14..=18)))
            || (has_vcl && vcl && h264::is_first_slice(nal));
        if starts_au && !current.is_empty() {
            units.push(std::mem::take(&mut current));
            has_vcl = false;
        }
        current.extend_from_slice(&[0, 0, 0, 1]);
        current.extend_from_slice(nal);
        has_vcl |= vcl;
    }
    if !current.is_empty() {
        units.push(current);
    }
    let fps = u64::from(fps.max(1));
    let time = |i: usize| i as u64 * VIDEO_CLOCK / fps;
    units
        .into_iter()
        .enumerate()
        .map(|(i, data)| EncodedFrame {
            keyframe: h264::is_idr(&data),
            time: time(i),
            duration: time(i + 1) - time(i),
            data,
        })
        .collect()
}

/// Reads the Opus packets of the first logical stream of an Ogg file (RFC 3533 pages, RFC 7845
/// mapping), skipping OpusHead and OpusTags. Times are on a 48 kHz clock, starting at 0; each
/// packet lasts what its TOC byte says.
pub fn read_ogg_opus(bytes: &[u8]) -> Result<Vec<EncodedFrame>, SourceError> {
    let packets = ogg_packets(bytes)?;
    let mut iter = packets.into_iter();
    if !iter.next().is_some_and(|p| p.starts_with(b"OpusHead")) {
        return Err(SourceError::Invalid("Ogg Opus: no OpusHead"));
    }
    if !iter.next().is_some_and(|p| p.starts_with(b"OpusTags")) {
        return Err(SourceError::Invalid("Ogg Opus: no OpusTags"));
    }
    let mut time = 0;
    let mut frames = Vec::new();
    for data in iter {
        let duration =
            u64::from(codec::opus_packet_samples(&data).ok_or(SourceError::Invalid("Opus TOC"))?);
        frames.push(EncodedFrame {
            data,
            time,
            duration,
            keyframe: true,
        });
        time += duration;
    }
    Ok(frames)
}

/// Reassembles the packets of the first logical bitstream from Ogg pages.
fn ogg_packets(bytes: &[u8]) -> Result<Vec<Vec<u8>>, SourceError> {
    let mut packets = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut serial = None;
    let mut pos = 0;
    if bytes.get(..4) != Some(b"OggS") {
        return Err(SourceError::BadMagic);
    }
    while pos < bytes.len() {
        let page = &bytes[pos..];
        if page.get(..4) != Some(b"OggS") {
            return Err(SourceError::BadMagic);
        }
        if *page.get(4).ok_or(SourceError::Truncated)? != 0 {
            return Err(SourceError::Invalid("Ogg version"));
        }
        let header_type = *page.get(5).ok_or(SourceError::Truncated)?;
        let page_serial = le_u32(page, 14).ok_or(SourceError::Truncated)?;
        let segments = usize::from(*page.get(26).ok_or(SourceError::Truncated)?);
        let table = page.get(27..27 + segments).ok_or(SourceError::Truncated)?;
        let body_len: usize = table.iter().map(|&l| usize::from(l)).sum();
        let body = page
            .get(27 + segments..27 + segments + body_len)
            .ok_or(SourceError::Truncated)?;
        pos += 27 + segments + body_len;
        if *serial.get_or_insert(page_serial) != page_serial {
            continue; // another multiplexed stream
        }
        if header_type & 0x01 == 0 {
            partial.clear(); // not a continuation: drop a dangling partial packet
        }
        let mut at = 0;
        for &len in table {
            partial.extend_from_slice(&body[at..at + usize::from(len)]);
            at += usize::from(len);
            if len < 255 {
                packets.push(std::mem::take(&mut partial));
            }
        }
    }
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(header_type: u8, segments: &[u8], body: &[u8]) -> Vec<u8> {
        let mut p = b"OggS".to_vec();
        p.push(0);
        p.push(header_type);
        p.extend_from_slice(&[0; 8]); // granule
        p.extend_from_slice(&7u32.to_le_bytes());
        p.extend_from_slice(&[0; 8]); // sequence, crc
        p.push(segments.len() as u8);
        p.extend_from_slice(segments);
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn packet_continues_across_pages() {
        let mut file = page(2, &[255], &[1; 255]);
        file.extend(page(1, &[10, 3], &[2; 13]));
        let packets = ogg_packets(&file).unwrap();
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[0].len(), 265);
        assert_eq!(packets[1], vec![2; 3]);
        assert_eq!(
            ogg_packets(&file[..file.len() - 1]),
            Err(SourceError::Truncated)
        );
    }

    #[test]
    fn annexb_without_aud_splits_on_first_slice() {
        // SPS, PPS, IDR(first_mb 0), slice(first_mb 0), slice(first_mb != 0)
        let mut s = Vec::new();
        for nal in [
            &[0x67, 1][..],
            &[0x68, 1],
            &[0x65, 0x88],
            &[0x41, 0x9a],
            &[0x41, 0x40],
        ] {
            s.extend_from_slice(&[0, 0, 1]);
            s.extend_from_slice(nal);
        }
        let frames = read_h264_annexb(&s, 30);
        assert_eq!(frames.len(), 2);
        assert!(frames[0].keyframe && !frames[1].keyframe);
        assert_eq!(
            frames[1].data,
            vec![0, 0, 0, 1, 0x41, 0x9a, 0, 0, 0, 1, 0x41, 0x40]
        );
        assert_eq!((frames[1].time, frames[1].duration), (3000, 3000));
    }
}

//! Manifest records: one JSON object per file, re-sent when it opens, changes resolution or
//! label, and closes. Wall times are RFC 3339 UTC (ms) plus unix ms, so separate files line up.

use super::file::RecFile;
use super::naming;
use crate::media::frame::TrackKind;

const NS_PER_MS: i128 = 1_000_000;

/// Recorder-level facts every record carries.
pub(crate) struct Context<'a> {
    pub stream_id: &'a str,
    pub label: &'a str,
}

/// Why a record is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Open,
    Resolution,
    Label,
    Close,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Event::Open => "open",
            Event::Resolution => "resolution",
            Event::Label => "label",
            Event::Close => "close",
        }
    }
}

/// The manifest's description of one file, re-sent whole whenever it changes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileRecord {
    /// Why this record was sent: `open`, `resolution`, `label` or `close`.
    pub event: &'static str,
    /// The recorder's file id; the manifest keeps one entry per id.
    pub file_id: u64,
    /// File name as requested (`base.ext`); the writer may have appended a counter.
    pub file: String,
    /// Stream id without the password suffix, as the publisher sent it.
    pub stream_id: String,
    /// The stream id as it appears in file names.
    pub stream_name: String,
    /// `main`, `screen`, `screen2`, ...
    pub role: String,
    /// Guest display name (data-channel `info.label`), empty if none.
    pub label: String,
    /// `ts` or `webm`.
    pub container: &'static str,
    /// Video codec name ([`Codec::name`](crate::media::Codec::name)), if the file has video.
    pub video_codec: Option<&'static str>,
    /// Audio codec name (`opus`), if the file has audio.
    pub audio_codec: Option<&'static str>,
    /// Each video size and the file time (ms) it started at.
    pub resolutions: Vec<Resolution>,
    /// Wall clock of pts 0, RFC 3339 UTC with ms.
    pub start_wall: String,
    /// `start_wall` as ms since the unix epoch.
    pub start_unix_ms: i64,
    /// Wall clock of the file's end (start + duration); only once it is closed.
    pub end_wall: Option<String>,
    /// `end_wall` as ms since the unix epoch.
    pub end_unix_ms: Option<i64>,
    /// Frames written so far.
    pub frames: FrameCounts,
    /// File time from pts 0 to the end of the last frame written.
    pub duration_ms: u64,
    /// `rtcp-sr` or `arrival`: where pts came from.
    pub clock: &'static str,
    /// The file was finalized.
    pub complete: bool,
}

/// One resolution change within a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Resolution {
    /// File time (ms) of the keyframe that brought this size.
    pub at_ms: u64,
    /// Coded width in pixels.
    pub width: u16,
    /// Coded height in pixels.
    pub height: u16,
}

/// Frames per track kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FrameCounts {
    /// Video frames written.
    pub video: u64,
    /// Audio packets written.
    pub audio: u64,
}

pub(crate) fn record(file: &RecFile, event: Event, ctx: &Context) -> FileRecord {
    let s = &file.setup;
    let codec = |kind| {
        s.tracks
            .iter()
            .find(|t| t.kind == kind)
            .map(|t| t.codec.name())
    };
    let resolutions = file
        .resolutions
        .iter()
        .map(|&(at_ms, width, height)| Resolution {
            at_ms,
            width,
            height,
        })
        .collect();
    let start_ms = s.start_wall_ns.div_euclid(NS_PER_MS);
    let end_ms = start_ms + i128::from(file.end_ns / 1_000_000);
    let closed = event == Event::Close;
    let role = if s.role == 0 {
        "main".to_string()
    } else {
        naming::group_suffix(s.role)
            .trim_start_matches('_')
            .to_string()
    };
    FileRecord {
        event: event.name(),
        file_id: s.id.0,
        file: format!("{}.{}", s.base_name, s.container.extension()),
        stream_id: ctx.stream_id.to_string(),
        stream_name: naming::sanitize_component(ctx.stream_id),
        role,
        label: ctx.label.to_string(),
        container: s.container.extension(),
        video_codec: codec(TrackKind::Video),
        audio_codec: codec(TrackKind::Audio),
        resolutions,
        start_wall: rfc3339_ms(start_ms),
        start_unix_ms: clamp_i64(start_ms),
        end_wall: closed.then(|| rfc3339_ms(end_ms)),
        end_unix_ms: closed.then(|| clamp_i64(end_ms)),
        frames: FrameCounts {
            video: file.frames(TrackKind::Video),
            audio: file.frames(TrackKind::Audio),
        },
        duration_ms: file.end_ns / 1_000_000,
        clock: s.mode.name(),
        complete: closed,
    }
}

fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`; times outside years 0000..=9999 are clamped (garbage SRs).
pub fn rfc3339_ms(unix_ms: i128) -> String {
    const MIN_MS: i128 = -62_167_219_200_000; // 0000-01-01T00:00:00Z
    const MAX_MS: i128 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    let ms = unix_ms.clamp(MIN_MS, MAX_MS) as i64;
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        ms.rem_euclid(1000)
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01, computed per 400-year era.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153; // month from March = 0
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_ms(i128::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_ms(i128::MIN), "0000-01-01T00:00:00.000Z");
    }
}

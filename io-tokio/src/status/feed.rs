//! What the shell tells the hub: the connections' events and file records, turned into status
//! events and guest rows.

use roomrec_core::connection::{ConnectionEvent, ConnectionHandle, ConnectionStats};
use roomrec_core::media::recorder::FileRecord;
use roomrec_core::media::TrackKind;

use super::schema::{Event, GuestState, GuestStatus, Thumbnail};
use super::StatusHub;

pub(crate) use super::files::{finish, guest_left};

/// A connection's observable event.
pub(crate) fn connection_event(hub: &StatusHub, handle: ConnectionHandle, event: &ConnectionEvent) {
    let connection = handle.0;
    match event {
        ConnectionEvent::Connected => hub.update_guest(connection, |g| {
            if g.state == GuestState::Connecting {
                g.state = GuestState::Waiting;
            }
        }),
        ConnectionEvent::Label(label) => {
            hub.update_guest(connection, |g| g.label = Some(label.clone()))
        }
        ConnectionEvent::KeyframeRequested { track } => {
            let mut stream_id = None;
            hub.update_guest(connection, |g| {
                g.keyframe_requests += 1;
                if !std::mem::replace(&mut g.waiting_for_keyframe, true) {
                    stream_id = Some(g.stream_id.clone());
                }
            });
            // Once per wait: the recorder repeats its request about once a second.
            if let Some(stream_id) = stream_id {
                hub.emit(Event::KeyframeWait {
                    connection,
                    stream_id,
                    track: track.clone(),
                });
            }
        }
        ConnectionEvent::Disconnected => hub.emit(Event::ConnectionLost {
            connection,
            stream_id: stream_id(hub, connection),
            reason: "nothing received from the guest".into(),
        }),
        ConnectionEvent::Reconnected => hub.emit(Event::ConnectionRestored {
            connection,
            stream_id: stream_id(hub, connection),
        }),
        ConnectionEvent::Stats(stats) => hub.update_guest(connection, |g| apply_stats(g, stats)),
        ConnectionEvent::AudioLevel { .. } | ConnectionEvent::Keyframe(_) => {
            preview_event(hub, handle, event)
        }
        ConnectionEvent::FrameReceived(_) | ConnectionEvent::FrameWritten { .. } => {}
    }
}

fn stream_id(hub: &StatusHub, connection: u64) -> String {
    hub.stream_id(connection).unwrap_or_default()
}

/// A stats report into the guest's row: rates over its interval, counters summed over tracks.
fn apply_stats(g: &mut GuestStatus, s: &ConnectionStats) {
    let kind =
        |t: &&roomrec_core::connection::TrackStats, k| t.codec.is_some_and(|c| c.kind() == k);
    let video = s.tracks.iter().find(|t| kind(t, TrackKind::Video));
    let audio = s.tracks.iter().find(|t| kind(t, TrackKind::Audio));
    g.frame_rate = video.map(|t| t.frame_rate(s.interval));
    g.bitrate_bps = s.bitrate_bps();
    g.packets_received = s.tracks.iter().map(|t| t.packets).sum();
    g.packets_lost = s.tracks.iter().map(|t| t.packets_lost).sum();
    g.loss_percent = s.loss_percent();
    g.bytes_received = s.tracks.iter().map(|t| t.bytes).sum();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    g.rtt_ms = s.tracks.iter().filter_map(|t| t.rtt).max().map(ms);
    g.jitter_ms = video.or(audio).and_then(|t| t.jitter).map(ms);
    // Between files (and after the last) the row keeps the last file's numbers.
    if s.file_bytes > 0 {
        g.file_bytes = s.file_bytes;
        g.recorded_seconds = s.recorded.as_secs_f64();
    }
    g.keyframe_requests = g.keyframe_requests.max(s.keyframe_requests);
    if g.video_codec.is_none() {
        g.video_codec = video.and_then(|t| t.codec).map(|c| c.name().to_string());
    }
    if g.audio_codec.is_none() {
        g.audio_codec = audio.and_then(|t| t.codec).map(|c| c.name().to_string());
    }
    let keyframes = s
        .tracks
        .iter()
        .filter(|t| kind(t, TrackKind::Video))
        .map(|t| t.keyframes)
        .sum();
    if keyframes > g.keyframes_received {
        g.waiting_for_keyframe = false;
    }
    g.keyframes_received = keyframes;
}

/// Audio levels (already throttled by the connection) and keyframe copies for thumbnails.
fn preview_event(hub: &StatusHub, handle: ConnectionHandle, event: &ConnectionEvent) {
    match event {
        ConnectionEvent::AudioLevel { dbov, .. } => {
            hub.update_guest(handle.0, |g| g.audio_level_dbov = Some(*dbov))
        }
        ConnectionEvent::Keyframe(k) => hub.set_thumbnail(
            handle.0,
            Thumbnail {
                codec: k.codec.name().to_string(),
                width: k.width.map_or(0, u32::from),
                height: k.height.map_or(0, u32::from),
                data: k.data.to_vec(),
            },
        ),
        _ => {}
    }
}

/// A file record from a connection's recorder (`open`, `resolution`, `label`, `close`).
pub(crate) fn file_record(hub: &StatusHub, handle: ConnectionHandle, record: &FileRecord) {
    let connection = handle.0;
    match record.event {
        "open" => {
            hub.emit(Event::RecordingStarted {
                connection,
                stream_id: record.stream_id.clone(),
                file: record.file.clone(),
                video_codec: record.video_codec.map(str::to_string),
                audio_codec: record.audio_codec.map(str::to_string),
            });
            // The file's first size, when its first keyframe came with it.
            if let Some(r) = record.resolutions.last() {
                hub.emit(Event::ResolutionChanged {
                    connection,
                    stream_id: record.stream_id.clone(),
                    width: r.width.into(),
                    height: r.height.into(),
                });
            }
        }
        "resolution" => {
            if let Some(r) = record.resolutions.last() {
                hub.emit(Event::ResolutionChanged {
                    connection,
                    stream_id: record.stream_id.clone(),
                    width: r.width.into(),
                    height: r.height.into(),
                });
            }
        }
        _ => {}
    }
    super::files::record(hub, handle, record);
    let frames = record.frames.video + record.frames.audio;
    let seconds = record.duration_ms as f64 / 1000.0;
    hub.update_guest(connection, |g| {
        g.frames_written = frames;
        g.recorded_seconds = seconds;
    });
}

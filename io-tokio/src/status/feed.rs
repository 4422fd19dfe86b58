//! What the shell tells the hub: the connections' events and file records, turned into status
//! events and guest rows.

use roomrec_core::connection::{ConnectionEvent, ConnectionHandle};
use roomrec_core::media::recorder::FileRecord;

use super::schema::{Event, GuestState};
use super::StatusHub;

/// A connection's observable event.
pub(crate) fn connection_event(hub: &StatusHub, handle: ConnectionHandle, event: &ConnectionEvent) {
    match event {
        ConnectionEvent::Connected => hub.update_guest(handle.0, |g| {
            if g.state == GuestState::Connecting {
                g.state = GuestState::Waiting;
            }
        }),
        ConnectionEvent::Label(label) => {
            hub.update_guest(handle.0, |g| g.label = Some(label.clone()))
        }
        ConnectionEvent::KeyframeRequested { .. } => {
            hub.update_guest(handle.0, |g| g.keyframe_requests += 1)
        }
        ConnectionEvent::FrameReceived(_) | ConnectionEvent::FrameWritten { .. } => {}
    }
}

/// A file record from a connection's recorder (`open`, `resolution`, `label`, `close`).
pub(crate) fn file_record(hub: &StatusHub, handle: ConnectionHandle, record: &FileRecord) {
    let connection = handle.0;
    match record.event {
        "open" => hub.emit(Event::RecordingStarted {
            connection,
            stream_id: record.stream_id.clone(),
            file: record.file.clone(),
            video_codec: record.video_codec.map(str::to_string),
            audio_codec: record.audio_codec.map(str::to_string),
        }),
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
    let frames = record.frames.video + record.frames.audio;
    let seconds = record.duration_ms as f64 / 1000.0;
    hub.update_guest(connection, |g| {
        g.frames_written = frames;
        g.recorded_seconds = seconds;
    });
}

//! `StatusHub`: the recorder's live state for every view. The shell reports into it (events,
//! guest statistics, thumbnails); the table, the event writer and the HTTP server read from it.
//! Cheap to clone; every method is quick and never blocks on a reader.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use roomrec_core::media::recorder::rfc3339_ms;
use tokio::sync::{broadcast, watch};

use super::files::FileJoin;
use super::schema::{
    Event, EventLine, GuestState, GuestStatus, StatusSnapshot, Thumbnail, EVENTS_VERSION,
};

/// Events a subscriber may fall behind by before it misses some (it is told how many).
const CHANNEL_CAPACITY: usize = 4096;
/// Recent events kept for subscribers that arrive late (`/events`, the page).
const HISTORY: usize = 256;
/// Guests that left, kept so the views show who left and why.
const LEFT_KEPT: usize = 32;

#[derive(Clone)]
pub struct StatusHub {
    inner: Arc<Inner>,
}

struct Inner {
    room: String,
    started_wall: String,
    started: Instant,
    state: Mutex<State>,
    /// Taken before `state` when both are.
    files: Mutex<FileJoin>,
    events: broadcast::Sender<Arc<EventLine>>,
    stop: watch::Sender<Option<String>>,
}

#[derive(Default)]
struct State {
    seq: u64,
    guests: BTreeMap<u64, GuestStatus>,
    left_order: VecDeque<u64>,
    history: VecDeque<Arc<EventLine>>,
    thumbnails: HashMap<u64, Arc<Thumbnail>>,
    files_closed: u64,
    /// Readers that must see every line ([`StatusHub::sink`]).
    sinks: Vec<std_mpsc::Sender<Arc<EventLine>>>,
}

impl StatusHub {
    pub fn new(room: &str) -> StatusHub {
        let (events, _) = broadcast::channel(CHANNEL_CAPACITY);
        let (stop, _) = watch::channel(None);
        StatusHub {
            inner: Arc::new(Inner {
                room: room.to_string(),
                started_wall: rfc3339_ms(unix_ms_now()),
                started: Instant::now(),
                state: Mutex::new(State::default()),
                files: Mutex::new(FileJoin::default()),
                events,
                stop,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn file_join(&self) -> MutexGuard<'_, FileJoin> {
        self.inner.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number, timestamp and publish an event; the guest rows follow it.
    pub fn emit(&self, event: Event) {
        let mut state = self.state();
        state.apply(&event);
        state.seq += 1;
        let line = Arc::new(EventLine {
            v: EVENTS_VERSION,
            seq: state.seq,
            time: rfc3339_ms(unix_ms_now()),
            event,
        });
        if state.history.len() == HISTORY {
            state.history.pop_front();
        }
        state.history.push_back(line.clone());
        // Sent under the lock so every subscriber sees `seq` in order.
        state.sinks.retain(|sink| sink.send(line.clone()).is_ok());
        let _ = self.inner.events.send(line);
    }

    /// Every later event, none ever dropped (an unbounded queue: events are few, a handful per
    /// guest, so a stalled reader costs little memory, while a lost line would cost a file
    /// writer its completeness). Stats updates are not events and never queue here.
    pub fn sink(&self) -> std_mpsc::Receiver<Arc<EventLine>> {
        let (tx, rx) = std_mpsc::channel();
        self.state().sinks.push(tx);
        rx
    }

    /// Change a guest's statistics (no event). Unknown connections are ignored.
    pub fn update_guest(&self, connection: u64, update: impl FnOnce(&mut GuestStatus)) {
        if let Some(guest) = self.state().guests.get_mut(&connection) {
            update(guest);
        }
    }

    /// A guest's stream id, if the connection is known.
    pub fn stream_id(&self, connection: u64) -> Option<String> {
        let state = self.state();
        state.guests.get(&connection).map(|g| g.stream_id.clone())
    }

    /// Later events; a subscriber that falls behind by [`CHANNEL_CAPACITY`] gets `Lagged`.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EventLine>> {
        self.inner.events.subscribe()
    }

    /// The recent events and every later one, with nothing missed or repeated in between.
    pub fn subscribe_with_history(
        &self,
    ) -> (Vec<Arc<EventLine>>, broadcast::Receiver<Arc<EventLine>>) {
        let state = self.state();
        let rx = self.inner.events.subscribe();
        (state.history.iter().cloned().collect(), rx)
    }

    pub fn snapshot(&self) -> StatusSnapshot {
        let state = self.state();
        StatusSnapshot {
            v: EVENTS_VERSION,
            room: self.inner.room.clone(),
            started: self.inner.started_wall.clone(),
            uptime_seconds: self.inner.started.elapsed().as_secs_f64(),
            guests: state.guests.values().cloned().collect(),
            files_closed: state.files_closed,
        }
    }

    /// Guests not in state `left`.
    pub fn active_guests(&self) -> usize {
        let state = self.state();
        state
            .guests
            .values()
            .filter(|g| g.state != GuestState::Left)
            .count()
    }

    pub fn set_thumbnail(&self, connection: u64, thumbnail: Thumbnail) {
        let mut state = self.state();
        if state.guests.contains_key(&connection) {
            state.thumbnails.insert(connection, Arc::new(thumbnail));
        }
    }

    pub fn thumbnail(&self, connection: u64) -> Option<Arc<Thumbnail>> {
        self.state().thumbnails.get(&connection).cloned()
    }

    /// Ask the recorder to finalize and exit (`POST /stop`, `--max-duration`...).
    pub fn request_stop(&self, why: &str) {
        self.inner.stop.send_if_modified(|stop| {
            let first = stop.is_none();
            if first {
                *stop = Some(why.to_string());
            }
            first
        });
    }

    /// Resolves with the reason once [`request_stop`](Self::request_stop) was called.
    pub async fn stop_requested(&self) -> String {
        let mut rx = self.inner.stop.subscribe();
        let why = rx
            .wait_for(Option::is_some)
            .await
            .map(|why| why.clone().unwrap_or_default());
        match why {
            Ok(why) => why,
            // The hub owns the sender: it cannot be gone while `self` lives.
            Err(_) => std::future::pending().await,
        }
    }
}

impl State {
    fn apply(&mut self, event: &Event) {
        match event {
            Event::GuestJoined {
                connection,
                stream_id,
                label,
            } => {
                self.guests.insert(
                    *connection,
                    GuestStatus {
                        connection: *connection,
                        stream_id: stream_id.clone(),
                        label: label.clone(),
                        ..GuestStatus::default()
                    },
                );
            }
            Event::RecordingStarted {
                connection,
                file,
                video_codec,
                audio_codec,
                ..
            } => {
                if let Some(g) = self.guests.get_mut(connection) {
                    g.state = GuestState::Recording;
                    g.file = Some(file.clone());
                    g.file_bytes = 0;
                    g.recorded_seconds = 0.0;
                    g.video_codec = video_codec.clone();
                    g.audio_codec = audio_codec.clone();
                }
            }
            Event::ResolutionChanged {
                connection,
                width,
                height,
                ..
            } => {
                if let Some(g) = self.guests.get_mut(connection) {
                    g.width = Some(*width);
                    g.height = Some(*height);
                }
            }
            Event::ConnectionLost { connection, .. } => {
                if let Some(g) = self.guests.get_mut(connection) {
                    g.state = GuestState::Lost;
                }
            }
            Event::ConnectionRestored { connection, .. } => {
                if let Some(g) = self.guests.get_mut(connection) {
                    g.state = match g.file {
                        Some(_) => GuestState::Recording,
                        None => GuestState::Waiting,
                    };
                }
            }
            Event::GuestLeft {
                connection, reason, ..
            } => self.left(*connection, reason),
            Event::FileClosed { .. } => self.files_closed += 1,
            Event::RecorderStarted { .. }
            | Event::KeyframeWait { .. }
            | Event::Error { .. }
            | Event::Stopped { .. } => {}
        }
    }

    fn left(&mut self, connection: u64, reason: &str) {
        let Some(g) = self.guests.get_mut(&connection) else {
            return;
        };
        g.state = GuestState::Left;
        g.reason = Some(reason.to_string());
        g.bitrate_bps = 0;
        g.frame_rate = None;
        g.audio_level_dbov = None;
        self.thumbnails.remove(&connection);
        self.left_order.push_back(connection);
        while self.left_order.len() > LEFT_KEPT {
            if let Some(old) = self.left_order.pop_front() {
                self.guests.remove(&old);
            }
        }
    }
}

fn unix_ms_now() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i128)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(connection: u64) -> Event {
        Event::GuestJoined {
            connection,
            stream_id: format!("s{connection}"),
            label: None,
        }
    }

    #[test]
    fn events_are_numbered_in_order_and_rows_follow_them() {
        let hub = StatusHub::new("room");
        let mut rx = hub.subscribe();
        hub.emit(joined(1));
        hub.update_guest(1, |g| g.bitrate_bps = 1000);
        hub.emit(Event::GuestLeft {
            connection: 1,
            stream_id: "s1".into(),
            reason: "bye".into(),
        });
        assert_eq!(rx.try_recv().unwrap().seq, 1);
        assert_eq!(rx.try_recv().unwrap().seq, 2);
        let snap = hub.snapshot();
        assert_eq!(snap.guests.len(), 1);
        assert_eq!(snap.guests[0].state, GuestState::Left);
        assert_eq!(snap.guests[0].bitrate_bps, 0);
        assert_eq!(hub.active_guests(), 0);
    }

    #[test]
    fn left_guests_are_bounded() {
        let hub = StatusHub::new("room");
        for c in 0..(LEFT_KEPT as u64 + 10) {
            hub.emit(joined(c));
            hub.emit(Event::GuestLeft {
                connection: c,
                stream_id: String::new(),
                reason: String::new(),
            });
        }
        assert_eq!(hub.snapshot().guests.len(), LEFT_KEPT);
        let (history, _) = hub.subscribe_with_history();
        assert_eq!(history.len(), HISTORY.min(2 * (LEFT_KEPT + 10)));
    }

    #[test]
    fn event_lines_round_trip_as_json() {
        let hub = StatusHub::new("room");
        let mut rx = hub.subscribe();
        hub.emit(joined(7));
        let line = rx.try_recv().unwrap();
        let text = serde_json::to_string(&*line).unwrap();
        assert!(text.contains(r#""type":"guest_joined""#), "{text}");
        let back: EventLine = serde_json::from_str(&text).unwrap();
        assert_eq!(back, *line);
    }

    #[tokio::test]
    async fn stop_keeps_the_first_reason() {
        let hub = StatusHub::new("room");
        hub.request_stop("POST /stop");
        hub.request_stop("later");
        assert_eq!(hub.stop_requested().await, "POST /stop");
    }
}

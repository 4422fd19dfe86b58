//! `/events`: the hub's event lines as Server-Sent Events, the recent history first, then live,
//! none missed or repeated in between. Each `data:` is one JSON event line (docs/EVENTS.md), its
//! `id:` the line's `seq`. A reader that falls behind gets an `event: lagged` with the count.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

use super::AppState;
use crate::status::EventLine;

/// Also how soon a reader that went away is noticed (at the next write), which ends the linger
/// of a stopped recorder.
const KEEP_ALIVE: Duration = Duration::from_secs(1);

pub(super) async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let (history, rx) = state.hub.subscribe_with_history();
    let watcher = Watcher::new(state.watchers.clone());
    let history = stream::iter(history.into_iter().map(|line| Ok(sse(&line))));
    let live = stream::unfold(
        (rx, watcher),
        |(mut rx, watcher): (Receiver<Arc<EventLine>>, Watcher)| async move {
            let event = match rx.recv().await {
                Ok(line) => sse(&line),
                Err(RecvError::Lagged(n)) => {
                    SseEvent::default().event("lagged").data(n.to_string())
                }
                Err(RecvError::Closed) => return None,
            };
            Some((Ok(event), (rx, watcher)))
        },
    );
    use futures_util::StreamExt;
    Sse::new(history.chain(live)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

fn sse(line: &EventLine) -> SseEvent {
    let data = serde_json::to_string(line).unwrap_or_default();
    SseEvent::default().id(line.seq.to_string()).data(data)
}

/// Counts an open `/events` stream while it lives (dropped when the reader goes away).
struct Watcher(Arc<AtomicUsize>);

impl Watcher {
    fn new(count: Arc<AtomicUsize>) -> Watcher {
        count.fetch_add(1, Ordering::SeqCst);
        Watcher(count)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

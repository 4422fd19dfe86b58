//! `/events`: the hub's event lines as Server-Sent Events, the recent history first, then live,
//! none missed or repeated in between. Each `data:` is one JSON event line (docs/EVENTS.md), its
//! `id:` the line's `seq`. A reader that falls behind gets an `event: lagged` with the count.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::{self, error::RecvError};

use super::AppState;
use crate::status::EventLine;

/// Also how soon a reader that went away is noticed (at the next write), which ends the linger
/// of a stopped recorder.
const KEEP_ALIVE: Duration = Duration::from_secs(1);

pub(super) async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let (history, rx) = state.hub.subscribe_with_history();
    let history = stream::iter(history.into_iter().map(|line| Ok(sse(&line))));
    let live = stream::unfold(
        rx,
        |mut rx: broadcast::Receiver<Arc<EventLine>>| async move {
            let event = match rx.recv().await {
                Ok(line) => sse(&line),
                Err(RecvError::Lagged(n)) => {
                    SseEvent::default().event("lagged").data(n.to_string())
                }
                Err(RecvError::Closed) => return None,
            };
            Some((Ok(event), rx))
        },
    );
    use futures_util::StreamExt;
    Sse::new(history.chain(live)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

fn sse(line: &EventLine) -> SseEvent {
    let data = serde_json::to_string(line).unwrap_or_default();
    SseEvent::default().id(line.seq.to_string()).data(data)
}

//! The room task: owns the `Room`, moves signaling between it and the WebSocket, starts session
//! tasks and routes commands to them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use roomrec_core::room::{Room, RoomInput, RoomOutput, SessionCommand, SessionKey, SessionReport};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::session_task::{run_session, SessionContext, SessionMsg};
use crate::trace::SignalingTrace;
use crate::ws::{WsClient, WsEvent};

/// Longest sleep between two room timeouts; `poll_timeout` may be far away or never.
const MAX_SLEEP: Duration = Duration::from_secs(30);

struct SessionEntry {
    task_id: u64,
    commands: mpsc::UnboundedSender<SessionCommand>,
}

/// Why the main loop stopped.
pub(crate) enum Stop {
    Shutdown,
    SignalingGone,
}

pub(crate) struct Driver {
    pub room: Room,
    pub ws: WsClient,
    pub ctx: Arc<SessionContext>,
    pub trace: Option<SignalingTrace>,
    /// Generation of the WebSocket connection that is up, if any.
    generation: Option<u64>,
    sessions: HashMap<SessionKey, SessionEntry>,
    tasks: JoinSet<()>,
    /// Which session each running task serves, to tell the room when one crashes.
    task_sessions: HashMap<tokio::task::Id, (SessionKey, u64)>,
    next_task_id: u64,
}

impl Driver {
    pub fn new(
        room: Room,
        ws: WsClient,
        ctx: Arc<SessionContext>,
        trace: Option<SignalingTrace>,
    ) -> Driver {
        Driver {
            room,
            ws,
            ctx,
            trace,
            generation: None,
            sessions: HashMap::new(),
            tasks: JoinSet::new(),
            task_sessions: HashMap::new(),
            next_task_id: 0,
        }
    }

    pub async fn run(
        &mut self,
        ws_events: &mut mpsc::UnboundedReceiver<WsEvent>,
        reports: &mut mpsc::UnboundedReceiver<SessionMsg>,
        shutdown: impl Future<Output = ()>,
    ) -> Stop {
        tokio::pin!(shutdown);
        loop {
            let now = Instant::now();
            let wake = self
                .room
                .poll_timeout()
                .unwrap_or(now + MAX_SLEEP)
                .min(now + MAX_SLEEP);
            tokio::select! {
                biased;
                _ = &mut shutdown => return Stop::Shutdown,
                ev = ws_events.recv() => match ev {
                    Some(ev) => self.on_ws_event(ev),
                    None => return Stop::SignalingGone,
                },
                Some(msg) = reports.recv() => self.on_report(msg),
                // Reap finished tasks so the set does not grow over a long recording.
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => self.on_task_end(done),
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if self.room.poll_timeout().is_some_and(|t| t <= now) {
                        self.room.handle_timeout(now);
                        self.drain();
                    }
                }
            }
        }
    }

    fn on_ws_event(&mut self, ev: WsEvent) {
        let input = match ev {
            WsEvent::Up { generation } => {
                self.generation = Some(generation);
                RoomInput::SignalingUp
            }
            WsEvent::Down { generation, .. } => {
                if self.generation != Some(generation) {
                    return;
                }
                self.generation = None;
                RoomInput::SignalingDown
            }
            WsEvent::Text { generation, text } => {
                if self.generation != Some(generation) {
                    return;
                }
                if let Some(t) = &self.trace {
                    t.record("in", generation, &text);
                }
                RoomInput::SignalingText(text)
            }
        };
        self.input(input);
    }

    fn on_report(&mut self, msg: SessionMsg) {
        // A replaced session's late reports must not be mistaken for its successor's.
        let current = self
            .sessions
            .get(&msg.key)
            .is_some_and(|e| e.task_id == msg.task_id);
        if !current {
            tracing::debug!(session = %msg.key, "dropping a report from a replaced session");
            return;
        }
        if matches!(msg.report, SessionReport::Closed { .. }) {
            self.sessions.remove(&msg.key);
        }
        self.input(RoomInput::FromSession(msg.key, msg.report));
    }

    /// A session task that panicked never reported Closed: do it for it.
    fn on_task_end(&mut self, done: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        let (id, error) = match done {
            Ok((id, ())) => (id, None),
            Err(e) => (e.id(), Some(e)),
        };
        let Some((key, task_id)) = self.task_sessions.remove(&id) else {
            return;
        };
        let Some(e) = error else { return };
        tracing::error!(session = %key, "session task failed: {e}");
        let report = SessionReport::Closed {
            reason: format!("session task failed: {e}"),
        };
        self.on_report(SessionMsg {
            task_id,
            key,
            report,
        });
    }

    pub fn input(&mut self, input: RoomInput) {
        self.room.handle_input(Instant::now(), input);
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(out) = self.room.poll_output() {
            match out {
                RoomOutput::SendSignaling(text) => match self.generation {
                    Some(g) => {
                        if let Some(t) = &self.trace {
                            t.record("out", g, &text);
                        }
                        self.ws.send(g, text);
                    }
                    None => tracing::debug!("signaling down: dropping an outgoing message"),
                },
                RoomOutput::StartSession(start) => {
                    let task_id = self.next_task_id;
                    self.next_task_id += 1;
                    let (tx, rx) = mpsc::unbounded_channel();
                    let key = start.key.clone();
                    if let Some(old) = self.sessions.insert(
                        key.clone(),
                        SessionEntry {
                            task_id,
                            commands: tx,
                        },
                    ) {
                        tracing::warn!(session = %key, "session started twice; closing the older one");
                        let _ = old.commands.send(SessionCommand::Close);
                    }
                    let handle =
                        self.tasks
                            .spawn(run_session(self.ctx.clone(), task_id, start, rx));
                    self.task_sessions.insert(handle.id(), (key, task_id));
                }
                RoomOutput::ToSession(key, cmd) => {
                    if let Some(entry) = self.sessions.get(&key) {
                        let _ = entry.commands.send(cmd);
                    }
                }
            }
        }
    }

    /// Tell the room to shut down, close what it did not close, and wait (until `deadline`) for
    /// every session task to finish its recorder. Returns how many tasks did not finish.
    pub async fn shutdown(&mut self, deadline: tokio::time::Instant) -> usize {
        self.input(RoomInput::Shutdown);
        // Dropping the command channels closes every session the room left open.
        self.sessions.clear();
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let left = self.tasks.len();
        self.tasks.abort_all();
        left
    }
}

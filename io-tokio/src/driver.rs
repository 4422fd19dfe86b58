//! The room task: owns the `Room`, moves signaling between it and the WebSocket, starts a task
//! per connection and routes the room's commands to them by handle.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use roomrec_core::connection::{
    CloseReason, ConnectionCommand, ConnectionHandle, ConnectionReport,
};
use roomrec_core::room::{Room, RoomInput, RoomOutput};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::connection_task::{run_connection, ShellContext};
use crate::status::Event;
use crate::trace::SignalingTrace;
use crate::wake::wake_at;
use crate::ws::{WsClient, WsEvent};

/// A connection's report on its way to the room.
pub(crate) type Report = (ConnectionHandle, ConnectionReport);

/// Why the main loop stopped.
pub(crate) enum Stop {
    Shutdown,
    SignalingGone,
}

pub(crate) struct Driver {
    pub room: Room,
    pub ws: WsClient,
    pub ctx: Arc<ShellContext>,
    pub trace: Option<SignalingTrace>,
    /// Generation of the WebSocket connection that is up, if any.
    generation: Option<u64>,
    /// Command channels of the running connection tasks.
    connections: HashMap<ConnectionHandle, mpsc::UnboundedSender<ConnectionCommand>>,
    /// Stream id of each running connection, for status events.
    stream_ids: HashMap<ConnectionHandle, String>,
    tasks: JoinSet<()>,
    /// Which connection each running task serves, to tell the room when one crashes.
    task_handles: HashMap<tokio::task::Id, ConnectionHandle>,
}

impl Driver {
    pub fn new(
        room: Room,
        ws: WsClient,
        ctx: Arc<ShellContext>,
        trace: Option<SignalingTrace>,
    ) -> Driver {
        Driver {
            room,
            ws,
            ctx,
            trace,
            generation: None,
            connections: HashMap::new(),
            stream_ids: HashMap::new(),
            tasks: JoinSet::new(),
            task_handles: HashMap::new(),
        }
    }

    pub async fn run(
        &mut self,
        ws_events: &mut mpsc::UnboundedReceiver<WsEvent>,
        reports: &mut mpsc::UnboundedReceiver<Report>,
        shutdown: impl Future<Output = ()>,
    ) -> Stop {
        tokio::pin!(shutdown);
        loop {
            let wake = wake_at(Instant::now(), self.room.poll_timeout());
            tokio::select! {
                biased;
                _ = &mut shutdown => return Stop::Shutdown,
                ev = ws_events.recv() => match ev {
                    Some(ev) => self.on_ws_event(ev),
                    None => return Stop::SignalingGone,
                },
                Some((handle, report)) = reports.recv() => self.on_report(handle, report),
                // Reap finished tasks so the set does not grow over a long recording.
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => self.on_task_end(done),
                _ = tokio::time::sleep_until(wake.into()) => {
                    if self.room.poll_timeout().is_some_and(|t| t <= Instant::now()) {
                        self.input(RoomInput::Timeout);
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

    fn on_report(&mut self, handle: ConnectionHandle, report: ConnectionReport) {
        if let ConnectionReport::Closed(reason) = &report {
            self.connections.remove(&handle);
            // Once per connection (a failed task's stand-in report may follow its own).
            if let Some(stream_id) = self.stream_ids.remove(&handle) {
                let left = Event::GuestLeft {
                    connection: handle.0,
                    stream_id,
                    reason: reason.to_string(),
                };
                // Held back until the guest's files are closed (`file_closed` comes first).
                crate::status::feed::guest_left(&self.ctx.status, left);
            }
        }
        self.input(RoomInput::FromConnection(handle, report));
    }

    /// A connection task that panicked never reported Closed: do it for it.
    fn on_task_end(&mut self, done: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        let (id, error) = match done {
            Ok((id, ())) => (id, None),
            Err(e) => (e.id(), Some(e)),
        };
        let Some(handle) = self.task_handles.remove(&id) else {
            return;
        };
        let Some(e) = error else { return };
        tracing::error!(%handle, "connection task failed: {e}");
        let reason = CloseReason::Internal(format!("connection task failed: {e}"));
        self.on_report(handle, ConnectionReport::Closed(reason));
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
                RoomOutput::StartConnection(start) => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    let handle = start.handle;
                    self.connections.insert(handle, tx);
                    self.stream_ids.insert(handle, start.stream_id.clone());
                    self.ctx.status.emit(Event::GuestJoined {
                        connection: handle.0,
                        stream_id: start.stream_id.clone(),
                        label: None,
                    });
                    let task = self
                        .tasks
                        .spawn(run_connection(self.ctx.clone(), start, rx));
                    self.task_handles.insert(task.id(), handle);
                }
                RoomOutput::ToConnection(handle, cmd) => {
                    if let Some(commands) = self.connections.get(&handle) {
                        let _ = commands.send(cmd);
                    }
                }
            }
        }
    }

    /// Tell the room to shut down, close what it did not close, and wait (until `deadline`) for
    /// every connection task to finalize its files. Returns how many tasks did not finish.
    pub async fn shutdown(
        &mut self,
        reports: &mut mpsc::UnboundedReceiver<Report>,
        deadline: tokio::time::Instant,
    ) -> usize {
        self.input(RoomInput::Shutdown);
        // Dropping the command channels closes every connection the room left open.
        self.connections.clear();
        // Their reports still count: `guest_left` for each before `stopped`.
        while !self.tasks.is_empty() {
            tokio::select! {
                Some((handle, report)) = reports.recv() => self.on_report(handle, report),
                Some(done) = self.tasks.join_next_with_id() => self.on_task_end(done),
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        while let Ok((handle, report)) = reports.try_recv() {
            self.on_report(handle, report);
        }
        let left = self.tasks.len();
        self.tasks.abort_all();
        left
    }
}

//! The room task: owns the `Room`, moves signaling between it and the WebSocket, starts a task
//! per connection and routes the room's commands to them by handle.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use roomrec_core::connection::{
    CloseReason, ConnectionCommand, ConnectionHandle, ConnectionReport, ConnectionStart,
};
use roomrec_core::room::{Room, RoomInput, RoomOutput};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::connection_task::{run_connection, ShellContext};
use crate::shared_udp::{spawn_port, LoopInput, PortSockets};
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

/// Where a connection runs.
enum Route {
    /// A task of its own.
    Task(mpsc::UnboundedSender<ConnectionCommand>),
    /// The loop of shared port `n`.
    Port(usize),
}

pub(crate) struct Driver {
    pub room: Room,
    pub ws: WsClient,
    pub ctx: Arc<ShellContext>,
    pub trace: Option<SignalingTrace>,
    /// Generation of the WebSocket connection that is up, if any.
    generation: Option<u64>,
    /// Where each running connection takes its commands.
    connections: HashMap<ConnectionHandle, Route>,
    /// `--udp-port`: each shared port's loop, and how many connections it holds.
    ports: Vec<(mpsc::UnboundedSender<LoopInput>, usize)>,
    /// Which port each port loop task serves.
    port_tasks: HashMap<tokio::task::Id, usize>,
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
        shared_ports: Vec<PortSockets>,
    ) -> Driver {
        let mut tasks = JoinSet::new();
        let mut ports = Vec::new();
        let mut port_tasks = HashMap::new();
        for (n, sockets) in shared_ports.into_iter().enumerate() {
            let (tx, rx) = mpsc::unbounded_channel();
            let task = tasks.spawn(spawn_port(n, ctx.clone(), sockets, rx));
            port_tasks.insert(task.id(), n);
            ports.push((tx, 0));
        }
        Driver {
            room,
            ws,
            ctx,
            trace,
            generation: None,
            connections: HashMap::new(),
            ports,
            port_tasks,
            stream_ids: HashMap::new(),
            tasks,
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
            if let Some(Route::Port(n)) = self.connections.remove(&handle) {
                if let Some((_, load)) = self.ports.get_mut(n) {
                    *load = load.saturating_sub(1);
                }
            }
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

    /// A connection task that panicked never reported Closed: do it for it (and for every
    /// connection of a port loop that did).
    fn on_task_end(&mut self, done: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        let (id, error) = match done {
            Ok((id, ())) => (id, None),
            Err(e) => (e.id(), Some(e)),
        };
        if let Some(port) = self.port_tasks.remove(&id) {
            let Some(e) = error else { return };
            tracing::error!("the loop of shared UDP port {port} failed: {e}");
            let lost: Vec<ConnectionHandle> = self
                .connections
                .iter()
                .filter(|(_, route)| matches!(route, Route::Port(n) if *n == port))
                .map(|(h, _)| *h)
                .collect();
            for handle in lost {
                let reason = CloseReason::Internal(format!("UDP port loop failed: {e}"));
                self.on_report(handle, ConnectionReport::Closed(reason));
            }
            return;
        }
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
                    let handle = start.handle;
                    self.stream_ids.insert(handle, start.stream_id.clone());
                    self.ctx.status.emit(Event::GuestJoined {
                        connection: handle.0,
                        stream_id: start.stream_id.clone(),
                        label: None,
                    });
                    self.start_connection(start);
                }
                RoomOutput::ToConnection(handle, cmd) => match self.connections.get(&handle) {
                    Some(Route::Task(commands)) => {
                        let _ = commands.send(cmd);
                    }
                    Some(Route::Port(n)) => {
                        let _ = self.ports[*n].0.send(LoopInput::Command(handle, cmd));
                    }
                    None => {}
                },
            }
        }
    }

    /// On the least busy shared port, or (no `--udp-port`, or TURN, whose allocations need a
    /// socket per connection) on a task of its own.
    fn start_connection(&mut self, start: Box<ConnectionStart>) {
        let handle = start.handle;
        let least_busy = (0..self.ports.len()).min_by_key(|n| self.ports[*n].1);
        if let Some(n) = least_busy.filter(|_| start.settings.turn_servers.is_empty()) {
            let (inputs, load) = &mut self.ports[n];
            if inputs.send(LoopInput::Start(start)).is_ok() {
                *load += 1;
                self.connections.insert(handle, Route::Port(n));
                return;
            }
            // The port's loop is gone (its failure is being reported): nothing to run it on.
            let reason = CloseReason::Internal("UDP port loop is gone".to_string());
            self.on_report(handle, ConnectionReport::Closed(reason));
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.connections.insert(handle, Route::Task(tx));
        let task = self
            .tasks
            .spawn(run_connection(self.ctx.clone(), start, rx));
        self.task_handles.insert(task.id(), handle);
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
        self.ports.clear();
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

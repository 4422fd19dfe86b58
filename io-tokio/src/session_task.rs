//! One tokio task per WebRTC connection: its own UDP sockets, its `Session` and `StreamRecorder`.
//! Nothing on this packet path is shared with other sessions.

use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use roomrec_core::media::{Codec, RecorderOutput, StreamRecorder, StreamRecorderConfig};
use roomrec_core::room::{SessionCommand, SessionKey, SessionReport, SessionStart};
use roomrec_core::session::{Session, SessionConfig, SessionInput, SessionOutput};
use roomrec_core::signaling::Cipher;
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::files::{FileSink, RecorderFiles};
use crate::manifest::ManifestSender;
use crate::netif;

/// Longest sleep between two checks; core timeouts can be "never" (years away).
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// A session told to close that has not closed by then is ended anyway.
const CLOSE_GRACE: Duration = Duration::from_millis(1000);
const RECV_BUFFER: usize = 4096;

/// What every session task shares (read-only apart from the counter).
pub(crate) struct SessionContext {
    pub cipher: Option<Cipher>,
    pub ice_ips: Vec<IpAddr>,
    pub video_codecs: Vec<Codec>,
    pub audio: bool,
    pub video: bool,
    pub label: String,
    pub connect_timeout: Duration,
    pub prefix: String,
    pub files: FileSink,
    pub manifest: ManifestSender,
    pub reports: mpsc::UnboundedSender<SessionMsg>,
    pub counter: AtomicU64,
}

/// A report from a session task to the room task.
pub(crate) struct SessionMsg {
    pub task_id: u64,
    pub key: SessionKey,
    pub report: SessionReport,
}

pub(crate) async fn run_session(
    ctx: Arc<SessionContext>,
    task_id: u64,
    start: SessionStart,
    commands: mpsc::UnboundedReceiver<SessionCommand>,
) {
    let key = start.key.clone();
    let report = |report: SessionReport| {
        let _ = ctx.reports.send(SessionMsg {
            task_id,
            key: key.clone(),
            report,
        });
    };
    let sockets = bind_sockets(&netif::ice_addresses(&ctx.ice_ips)).await;
    if sockets.is_empty() {
        tracing::error!(session = %key, "no UDP socket could be bound: no usable local address (see --ice-ip)");
        report(SessionReport::Closed {
            reason: "no local address".into(),
        });
        return;
    }
    let seq = ctx.counter.fetch_add(1, Ordering::Relaxed);
    let config = SessionConfig {
        key: key.clone(),
        stream_id: start.stream_id.clone(),
        cipher: ctx.cipher.clone(),
        local_addrs: sockets.iter().map(|(a, _)| *a).collect(),
        video_codecs: ctx.video_codecs.clone(),
        audio: ctx.audio,
        video: ctx.video,
        label: ctx.label.clone(),
        connect_timeout: ctx.connect_timeout,
        seed: fastrand::u64(..),
    };
    let now = Instant::now();
    let session = match Session::new(now, config, &start.offer_sdp) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(session = %key, stream = %start.stream_id, "cannot accept the offer: {e}");
            report(SessionReport::Closed {
                reason: format!("offer rejected: {e}"),
            });
            return;
        }
    };
    let recorder = StreamRecorder::new(
        StreamRecorderConfig {
            prefix: ctx.prefix.clone(),
            stream_id: start.stream_id.clone(),
            audio: ctx.audio,
            video: ctx.video,
            first_file_id: seq * 1_000_000,
        },
        now,
        SystemTime::now(),
    );
    tracing::debug!(session = %key, stream = %start.stream_id, addrs = ?sockets.iter().map(|s| s.0).collect::<Vec<_>>(), "session started");
    let mut task = SessionLoop {
        files: RecorderFiles::new(ctx.files.clone()),
        ctx: ctx.clone(),
        task_id,
        key: key.clone(),
        session,
        recorder,
        sockets,
        closed_reported: false,
    };
    task.drain(now);
    let reason = task.run(commands).await;
    task.finish(reason);
}

async fn bind_sockets(ips: &[IpAddr]) -> Vec<(SocketAddr, UdpSocket)> {
    let mut out = Vec::new();
    for ip in ips {
        match UdpSocket::bind(SocketAddr::new(*ip, 0))
            .await
            .and_then(|s| Ok((s.local_addr()?, s)))
        {
            Ok(pair) => out.push(pair),
            Err(e) => tracing::warn!("cannot bind a UDP socket on {ip}: {e}"),
        }
    }
    out
}

struct SessionLoop {
    ctx: Arc<SessionContext>,
    task_id: u64,
    key: SessionKey,
    session: Session,
    recorder: StreamRecorder,
    sockets: Vec<(SocketAddr, UdpSocket)>,
    files: RecorderFiles,
    closed_reported: bool,
}

impl SessionLoop {
    /// Runs until the session is closed (or would not close); returns why.
    async fn run(&mut self, mut commands: mpsc::UnboundedReceiver<SessionCommand>) -> String {
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut next_socket = 0usize;
        let mut force_close_at: Option<Instant> = None;
        let mut commands_open = true;
        loop {
            if self.session.is_closed() {
                return "closed".into();
            }
            let now = Instant::now();
            if force_close_at.is_some_and(|t| now >= t) {
                return "did not close in time".into();
            }
            let mut wake = self.session.poll_timeout();
            if let Some(t) = self.recorder.poll_timeout() {
                wake = wake.min(t);
            }
            if let Some(t) = force_close_at {
                wake = wake.min(t);
            }
            let wake = wake.min(now + MAX_SLEEP);
            tokio::select! {
                (idx, res) = recv_any(&self.sockets, &mut buf, &mut next_socket) => {
                    let now = Instant::now();
                    match res {
                        Ok((len, source)) => {
                            let destination = self.sockets[idx].0;
                            let contents = buf[..len].to_vec();
                            self.session.handle_input(now, SessionInput::Datagram { source, destination, contents });
                        }
                        Err(e) => tracing::debug!(session = %self.key, "UDP receive error: {e}"),
                    }
                    self.drain(now);
                }
                cmd = commands.recv(), if commands_open => {
                    let now = Instant::now();
                    // The room task going away means close, like an explicit Close.
                    let cmd = match cmd {
                        Some(cmd) => Some(cmd),
                        None => {
                            commands_open = false;
                            force_close_at.is_none().then_some(SessionCommand::Close)
                        }
                    };
                    if let Some(cmd) = cmd {
                        if cmd == SessionCommand::Close && force_close_at.is_none() {
                            force_close_at = Some(now + CLOSE_GRACE);
                        }
                        self.session.handle_input(now, SessionInput::Command(cmd));
                        self.drain(now);
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if self.session.poll_timeout() <= now {
                        self.session.handle_timeout(now);
                    }
                    if self.recorder.poll_timeout().is_some_and(|t| t <= now) {
                        self.recorder.handle_timeout(now, SystemTime::now());
                    }
                    self.drain(now);
                }
            }
        }
    }

    /// Finish the recorder (finalizing its files) and tell the room.
    fn finish(mut self, reason: String) {
        let now = Instant::now();
        self.recorder.finish(now, SystemTime::now());
        self.drain(now);
        if !self.files.is_empty() {
            tracing::warn!(session = %self.key, open = self.files.len(), "recorder left files open; closing them");
        }
        tracing::debug!(session = %self.key, "session ended: {reason}");
        if !self.closed_reported {
            self.report(SessionReport::Closed { reason });
        }
    }

    fn report(&mut self, report: SessionReport) {
        if matches!(report, SessionReport::Closed { .. }) {
            self.closed_reported = true;
        }
        let _ = self.ctx.reports.send(SessionMsg {
            task_id: self.task_id,
            key: self.key.clone(),
            report,
        });
    }

    /// Drain session and recorder until both are quiet; they feed each other.
    fn drain(&mut self, now: Instant) {
        loop {
            let mut busy = false;
            while let Some(out) = self.session.poll_output() {
                busy = true;
                match out {
                    SessionOutput::Transmit {
                        source,
                        destination,
                        contents,
                    } => self.transmit(source, destination, &contents),
                    SessionOutput::Report(r) => self.report(r),
                    SessionOutput::Frame(frame) => {
                        self.recorder.handle_frame(now, SystemTime::now(), frame)
                    }
                    SessionOutput::Label(label) => self.recorder.set_label(&label),
                }
            }
            let mut keyframes = Vec::new();
            while let Some(out) = self.recorder.poll_output() {
                busy = true;
                match out {
                    RecorderOutput::OpenFile {
                        file,
                        base_name,
                        extension,
                    } => self.files.open(file, &base_name, extension),
                    RecorderOutput::Write { file, bytes } => self.files.write(file, bytes),
                    RecorderOutput::Flush { file } => self.files.flush(file),
                    RecorderOutput::Finalize { file, patches } => {
                        self.files.finalize(file, patches)
                    }
                    RecorderOutput::RequestKeyframe { track } => keyframes.push(track),
                    RecorderOutput::FileInfo(info) => self.ctx.manifest.file_info(info),
                }
            }
            for track in keyframes {
                self.session
                    .handle_input(now, SessionInput::RequestKeyframe { track });
            }
            if !busy {
                return;
            }
        }
    }

    fn transmit(&self, source: SocketAddr, destination: SocketAddr, contents: &[u8]) {
        let Some((_, socket)) = self.sockets.iter().find(|(a, _)| *a == source) else {
            tracing::debug!(session = %self.key, %source, "transmit from an address we have no socket for");
            return;
        };
        // UDP may drop: a full send buffer loses this datagram rather than stalling the session.
        if let Err(e) = socket.try_send_to(contents, destination) {
            tracing::debug!(session = %self.key, %destination, "UDP send failed: {e}");
        }
    }
}

/// Next datagram from any socket (round-robin so one busy socket cannot starve the others).
async fn recv_any(
    sockets: &[(SocketAddr, UdpSocket)],
    buf: &mut [u8],
    next: &mut usize,
) -> (usize, io::Result<(usize, SocketAddr)>) {
    poll_fn(|cx| {
        let n = sockets.len();
        for i in 0..n {
            let idx = (*next + i) % n;
            let mut rb = ReadBuf::new(&mut *buf);
            match sockets[idx].1.poll_recv_from(cx, &mut rb) {
                Poll::Ready(res) => {
                    *next = (idx + 1) % n;
                    return Poll::Ready((idx, res.map(|src| (rb.filled().len(), src))));
                }
                Poll::Pending => {}
            }
        }
        Poll::Pending
    })
    .await
}

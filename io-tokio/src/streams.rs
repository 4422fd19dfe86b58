//! TCP streams a core state machine asks for (TURN over TCP and TLS): connect, write in order,
//! report what arrives. Bytes only; TLS itself runs in core. One task per stream; dropping
//! [`Streams`] ends them all.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_BUFFER: usize = 16 * 1024;

/// What happened on a stream.
#[derive(Debug)]
pub(crate) enum StreamEvent {
    Opened {
        remote: SocketAddr,
        local: SocketAddr,
    },
    Data {
        remote: SocketAddr,
        contents: Vec<u8>,
    },
    Closed {
        remote: SocketAddr,
        error: String,
    },
}

/// The streams of one state machine, keyed by the remote address.
pub(crate) struct Streams {
    writers: HashMap<SocketAddr, mpsc::UnboundedSender<Vec<u8>>>,
    tasks: Vec<JoinHandle<()>>,
    events_tx: mpsc::UnboundedSender<StreamEvent>,
    events: mpsc::UnboundedReceiver<StreamEvent>,
}

impl Streams {
    pub(crate) fn new() -> Streams {
        let (events_tx, events) = mpsc::unbounded_channel();
        Streams {
            writers: HashMap::new(),
            tasks: Vec::new(),
            events_tx,
            events,
        }
    }

    /// Connects to `remote` (at most one stream per address).
    pub(crate) fn open(&mut self, remote: SocketAddr) {
        if self.writers.contains_key(&remote) {
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.writers.insert(remote, tx);
        let events = self.events_tx.clone();
        self.tasks
            .push(tokio::spawn(run_stream(remote, rx, events)));
    }

    /// Queues bytes for `remote`; dropped if it has no stream.
    pub(crate) fn send(&mut self, remote: SocketAddr, contents: Vec<u8>) {
        if let Some(tx) = self.writers.get(&remote) {
            let _ = tx.send(contents);
        }
    }

    /// The next event; pending forever when there are no streams.
    pub(crate) async fn next(&mut self) -> StreamEvent {
        match self.events.recv().await {
            Some(event) => event,
            // We hold a sender, so this cannot end; stay pending if it ever does.
            None => std::future::pending().await,
        }
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn run_stream(
    remote: SocketAddr,
    mut writes: mpsc::UnboundedReceiver<Vec<u8>>,
    events: mpsc::UnboundedSender<StreamEvent>,
) {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(remote)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            let _ = events.send(StreamEvent::Closed {
                remote,
                error: e.to_string(),
            });
            return;
        }
        Err(_) => {
            let _ = events.send(StreamEvent::Closed {
                remote,
                error: format!("no connection within {CONNECT_TIMEOUT:?}"),
            });
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let local = match stream.local_addr() {
        Ok(local) => local,
        Err(e) => {
            let _ = events.send(StreamEvent::Closed {
                remote,
                error: e.to_string(),
            });
            return;
        }
    };
    let _ = events.send(StreamEvent::Opened { remote, local });
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = vec![0u8; READ_BUFFER];
    let error = loop {
        tokio::select! {
            read = reader.read(&mut buf) => match read {
                Ok(0) => break "closed by the server".to_string(),
                Ok(n) => {
                    let _ = events.send(StreamEvent::Data { remote, contents: buf[..n].to_vec() });
                }
                Err(e) => break e.to_string(),
            },
            write = writes.recv() => match write {
                Some(bytes) => {
                    if let Err(e) = writer.write_all(&bytes).await {
                        break e.to_string();
                    }
                }
                // The owner is gone.
                None => return,
            },
        }
    };
    let _ = events.send(StreamEvent::Closed { remote, error });
}

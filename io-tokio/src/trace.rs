//! Optional signaling trace: every WebSocket text frame, in and out, as one JSON line.
//! Written by its own thread so a slow disk never delays signaling.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

pub(crate) struct SignalingTrace {
    tx: mpsc::Sender<String>,
    start: Instant,
}

impl SignalingTrace {
    pub fn open(path: &Path) -> std::io::Result<SignalingTrace> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let (tx, rx) = mpsc::channel::<String>();
        let shown = path.display().to_string();
        std::thread::Builder::new()
            .name("roomrec-trace".into())
            .spawn(move || {
                let mut w = BufWriter::new(f);
                for line in rx.iter() {
                    let r = w
                        .write_all(line.as_bytes())
                        .and_then(|()| w.write_all(b"\n"))
                        .and_then(|()| w.flush());
                    if let Err(e) = r {
                        tracing::error!("signaling trace {shown}: {e}; tracing stopped");
                        return;
                    }
                }
            })?;
        Ok(SignalingTrace {
            tx,
            start: Instant::now(),
        })
    }

    /// `dir`: "in" or "out".
    pub fn record(&self, dir: &str, generation: u64, text: &str) {
        let line = serde_json::json!({
            "ms": self.start.elapsed().as_millis() as u64,
            "dir": dir,
            "conn": generation,
            "text": text,
        });
        let _ = self.tx.send(line.to_string());
    }
}

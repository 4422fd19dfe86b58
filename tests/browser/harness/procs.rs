//! The `roomrec` binary under test, run as a relay and as the recorder.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use roomrec_test_support::binary::roomrec_bin;

/// `roomrec relay --listen 127.0.0.1:0`.
pub struct Relay {
    child: Child,
    pub url: String,
}

impl Relay {
    pub fn start(log: &Path) -> Relay {
        let mut child = Command::new(roomrec_bin())
            .args(["relay", "--listen", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roomrec relay");
        let stderr = child.stderr.take().expect("relay stderr");
        let mut log = File::create(log).expect("relay log");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("ws://") {
                    let url = line[i..]
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_string();
                    let _ = tx.send(url);
                }
                let _ = writeln!(log, "{line}");
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("roomrec relay did not print its address");
        Relay { child, url }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The recorder, under `/usr/bin/time -v` when available (CPU time and peak memory).
pub struct Recorder {
    child: Child,
    /// The roomrec process itself (the child of `time`, or `child`).
    pid: u32,
    time_file: Option<PathBuf>,
    pub started: Instant,
    pub log: PathBuf,
}

#[derive(Debug)]
pub struct RecorderExit {
    pub success: bool,
    pub status: String,
    /// From SIGINT to exit.
    pub shutdown: Duration,
    pub cpu_seconds: Option<f64>,
    pub max_rss_kb: Option<u64>,
}

const TIME: &str = "/usr/bin/time";

impl Recorder {
    pub fn start(args: &[String], log: &Path, time_file: &Path) -> Recorder {
        let bin = roomrec_bin();
        let timed = Path::new(TIME).exists();
        let mut cmd = if timed {
            let mut c = Command::new(TIME);
            c.arg("-v").arg("-o").arg(time_file).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        let stderr = File::create(log).expect("recorder log");
        let child = cmd
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start the recorder");
        let pid = if timed {
            child_of(child.id())
        } else {
            child.id()
        };
        Recorder {
            child,
            pid,
            time_file: timed.then(|| time_file.to_path_buf()),
            started: Instant::now(),
            log: log.to_path_buf(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGINT, then wait (at most 10 s) for the files to be finished.
    pub fn interrupt(mut self) -> RecorderExit {
        let sent = Instant::now();
        let _ = Command::new("kill")
            .args(["-INT", &self.pid.to_string()])
            .status();
        let deadline = sent + Duration::from_secs(10);
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break Some(status);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let shutdown = sent.elapsed();
        let times = self
            .time_file
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        let field = |name: &str| {
            times
                .lines()
                .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
        };
        let secs = |name: &str| field(name).and_then(|v| v.parse::<f64>().ok());
        let cpu_seconds = secs("User time (seconds):")
            .zip(secs("System time (seconds):"))
            .map(|(u, s)| u + s);
        let max_rss_kb = field("Maximum resident set size (kbytes):").and_then(|v| v.parse().ok());
        match status {
            Some(status) => RecorderExit {
                success: status.success(),
                status: status.to_string(),
                shutdown,
                cpu_seconds,
                max_rss_kb,
            },
            None => RecorderExit {
                success: false,
                status: "still running 10 s after SIGINT".into(),
                shutdown,
                cpu_seconds,
                max_rss_kb,
            },
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The process whose parent is `parent` (waits up to 5 s for it to appear).
fn child_of(parent: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // Fields after the parenthesized command name: state, ppid, ...
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1));
            if ppid == Some(parent.to_string().as_str()) {
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "{TIME} did not start roomrec");
        std::thread::sleep(Duration::from_millis(10));
    }
}

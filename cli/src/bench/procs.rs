//! The processes of one bench run (relay, recorder, loadgen: this binary, as separate processes)
//! and what Linux says about them (/proc/PID/stat, /proc/PID/status).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child that is killed and reaped when dropped, however the bench ends.
pub struct Guard {
    pub child: Child,
    name: &'static str,
}

impl Guard {
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> Result<Guard, String> {
        let log = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        cmd.stderr(Stdio::from(log)).stdin(Stdio::null());
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the {name}: {e}"))?;
        Ok(Guard { child, name })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM (the recorder finalizes its files), then wait up to `within`, then SIGKILL.
    pub fn terminate(&mut self, within: Duration) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("bench: the {} did not stop in time, killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_listening(addr: SocketAddr, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("nothing listens on {addr}"))
}

/// CPU seconds (user + system) of a process.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    roomrec_io_tokio::loadgen::report::cpu_seconds_of(&pid.to_string())
}

/// Memory of a process in KiB: (VmRSS, VmHWM = peak RSS).
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

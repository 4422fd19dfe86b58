//! A child process that cannot outlive its test: killed when the guard drops, also when the test
//! panics half-way, so no server or recorder keeps running (or keeps a namespace alive) after it.

use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

/// A running child process, killed (SIGKILL) and reaped on drop unless it has ended.
#[derive(Debug)]
pub struct Child {
    inner: std::process::Child,
    what: String,
    done: Option<ExitStatus>,
}

impl Child {
    /// Spawns `command`; `what` names it in panics and messages.
    pub fn spawn(command: &mut Command, what: &str) -> Child {
        let inner = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {what} ({command:?}): {e}"));
        Child::from_std(inner, what)
    }

    /// Guards an already spawned process.
    pub fn from_std(inner: std::process::Child, what: &str) -> Child {
        Child {
            inner,
            what: what.to_string(),
            done: None,
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// The standard library's handle, e.g. to take its piped stdout.
    pub fn std_mut(&mut self) -> &mut std::process::Child {
        &mut self.inner
    }

    /// Waits for the process to end by itself.
    pub fn wait(&mut self) -> ExitStatus {
        if let Some(status) = self.done {
            return status;
        }
        let status = self
            .inner
            .wait()
            .unwrap_or_else(|e| panic!("wait for {}: {e}", self.what));
        self.done = Some(status);
        status
    }

    /// Its exit status if it has ended, without waiting.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.done.is_none() {
            self.done = self.inner.try_wait().ok().flatten();
        }
        self.done
    }

    /// SIGTERM (a recorder finalizes its files, a server closes its sockets), then waits; SIGKILL
    /// after 10 s. Safe to call on a process that has already ended.
    pub fn terminate(&mut self) -> ExitStatus {
        self.terminate_within(Duration::from_secs(10))
    }

    /// [`Child::terminate`] with SIGKILL after `grace`.
    pub fn terminate_within(&mut self, grace: Duration) -> ExitStatus {
        if let Some(status) = self.try_wait() {
            return status;
        }
        signal(self.inner.id(), libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} ignored SIGTERM for {grace:?}: killing it", self.what);
        self.kill()
    }

    /// SIGKILL, then waits.
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.try_wait() {
            return status;
        }
        let _ = self.inner.kill();
        self.wait()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.done.is_none() {
            let _ = self.inner.kill();
            let _ = self.inner.wait();
        }
    }
}

/// Sends `sig` to `pid` (one of our own children only).
fn signal(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is a child we have not reaped,
    // so it cannot have been reused.
    unsafe {
        libc::kill(pid, sig);
    }
}

//! The live terminal table: the recorder's status hub drawn about once a second on the alternate
//! screen, from its own thread so a stalled terminal never holds up the runtime. The terminal is
//! restored when the table stops, when the thread panics, on a panic elsewhere, and before a
//! second Ctrl-C exits at once ([`restore_terminal`]).

mod render;

use std::io::{self, Stdout};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::Terminal;
use roomrec_io_tokio::status::StatusHub;

const REFRESH: Duration = Duration::from_secs(1);

/// Where tracing goes while the table is shown.
pub fn log_path(output_dir: &Path) -> PathBuf {
    output_dir.join("roomrec.log")
}

pub struct LiveTable {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl LiveTable {
    /// Switches to the alternate screen and draws `hub` until [`LiveTable::finish`].
    pub fn start(hub: StatusHub, log: Option<PathBuf>) -> io::Result<LiveTable> {
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        let guard = Restore;
        // Not `terminal.clear()`: it asks the terminal where the cursor is, and waits for the answer.
        execute!(
            io::stdout(),
            EnterAlternateScreen,
            Hide,
            Clear(ClearType::All)
        )?;
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("live-table".into())
            .spawn(move || {
                let _guard = guard;
                let mut terminal = terminal;
                draw_until(&mut terminal, &hub, log.as_deref(), &stopped);
            })?;
        Ok(LiveTable { stop, thread })
    }

    /// Draws a last time, then gives the terminal back as it was.
    pub fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
        restore_terminal();
    }
}

fn draw_until(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    hub: &StatusHub,
    log: Option<&Path>,
    stopped: &mpsc::Receiver<()>,
) {
    loop {
        let snapshot = hub.snapshot();
        if let Err(e) = terminal.draw(|f| render::draw(f, &snapshot, log)) {
            tracing::warn!("live table: cannot draw: {e}");
            return;
        }
        match stopped.recv_timeout(REFRESH) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Leaves the alternate screen and shows the cursor; harmless when the table never started.
pub fn restore_terminal() {
    let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
}

/// Restores the terminal when the drawing thread ends, also by a panic.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        restore_terminal();
    }
}

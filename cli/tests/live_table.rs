//! The live table as a person sees it: the real binary in a pseudo-terminal, its output read by a
//! terminal emulator (vt100). A row per demo guest shows `recording`, the terminal is given back
//! (main screen, cursor shown) at the end and on Ctrl-C, and `--quiet` draws nothing.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};
use roomrec_test_support::recordings::check_one_recording;

const ROWS: u16 = 30;
const COLS: u16 = 180;
const STREAMS: [(&str, &str); 4] = [
    ("alice", "h264"),
    ("bob", "vp8"),
    ("carol", "vp9"),
    ("dave", "av1"),
];

struct Term {
    parser: vt100::Parser,
    output: mpsc::Receiver<Vec<u8>>,
    /// Everything the program wrote, for checks on escape sequences.
    raw: Vec<u8>,
    child: Box<dyn Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
}

impl Term {
    fn spawn(args: &[&str], dir: &Path) -> Term {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_roomrec"));
        cmd.args(args);
        cmd.arg("--output-dir");
        cmd.arg(dir);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("RUST_LOG");
        let child = pty.slave.spawn_command(cmd).unwrap();
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().unwrap();
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // Ends with EOF or EIO once the program and its pty are gone.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        let size = |n| NonZeroU16::new(n).unwrap();
        Term {
            parser: vt100::Parser::new(size(ROWS), size(COLS), 0),
            output,
            raw: Vec::new(),
            child,
            master: pty.master,
        }
    }

    /// Feeds output to the emulator until `done` holds for its screen; panics after `limit`.
    fn wait_for(&mut self, what: &str, limit: Duration, done: impl Fn(&vt100::Screen) -> bool) {
        let start = Instant::now();
        while !done(self.parser.screen()) {
            assert!(
                start.elapsed() < limit,
                "no {what} within {limit:?}; screen:\n{}",
                self.parser.screen().contents()
            );
            if let Ok(bytes) = self.output.recv_timeout(Duration::from_millis(100)) {
                self.feed(&bytes);
            }
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
        self.raw.extend_from_slice(bytes);
    }

    /// Waits for the exit (panics after `limit`) and reads what was left to read.
    fn wait_exit(&mut self, limit: Duration) -> portable_pty::ExitStatus {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!(
                    "still running after {limit:?}; screen:\n{}",
                    self.parser.screen().contents()
                );
            }
            if let Ok(bytes) = self.output.recv_timeout(Duration::from_millis(50)) {
                self.feed(&bytes);
            }
        };
        while let Ok(bytes) = self.output.recv_timeout(Duration::from_millis(500)) {
            self.feed(&bytes);
        }
        status
    }

    fn type_keys(&mut self, keys: &[u8]) {
        let mut w = self.master.take_writer().unwrap();
        w.write_all(keys).unwrap();
        w.flush().unwrap();
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Each demo guest has a row whose state is `recording`.
fn every_guest_recording(screen: &vt100::Screen) -> bool {
    let text = screen.contents();
    screen.alternate_screen()
        && STREAMS.iter().all(|(s, _)| {
            text.lines()
                .any(|l| l.starts_with(s) && l.contains("recording"))
        })
}

fn assert_restored(term: &Term) {
    let screen = term.parser.screen();
    assert!(!screen.alternate_screen(), "still on the alternate screen");
    assert!(!screen.hide_cursor(), "cursor still hidden");
}

#[test]
fn demo_shows_a_row_per_guest_and_gives_the_terminal_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut term = Term::spawn(&["demo", "--seconds", "6"], dir.path());
    term.wait_for(
        "row per guest recording",
        Duration::from_secs(30),
        every_guest_recording,
    );
    let table = term.parser.screen().contents();
    assert!(table.contains("room roomrec-demo"), "{table}");
    assert!(table.contains("4 guests (4 recording)"), "{table}");
    let header = table
        .lines()
        .find(|l| l.starts_with("STREAM"))
        .expect("column titles");
    for title in ["STATE", "CODECS", "RES", "BITRATE", "FILE", "SIZE", "REC"] {
        assert!(header.contains(title), "{title}: {header}");
    }
    for (stream, codec) in STREAMS {
        let row = table.lines().find(|l| l.starts_with(stream)).unwrap();
        assert!(row.contains(&format!("{codec}+opus")), "{row}");
        assert!(
            row.contains(&format!("demo_{stream}_")),
            "file column: {row}"
        );
    }
    let status = term.wait_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "{status:?}\n{}",
        term.parser.screen().contents()
    );
    assert_restored(&term);
    let after = term.parser.screen().contents();
    assert!(after.contains("log written to"), "{after}");
    assert!(after.contains("files in"), "{after}");
    let log = std::fs::read_to_string(dir.path().join("roomrec.log")).expect("log file");
    assert!(log.contains("all files closed"), "{log}");
}

#[test]
fn ctrl_c_finalizes_and_gives_the_terminal_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut term = Term::spawn(&["demo", "--seconds", "120"], dir.path());
    term.wait_for(
        "row per guest recording",
        Duration::from_secs(30),
        every_guest_recording,
    );
    // Let every file get a couple of seconds of media.
    std::thread::sleep(Duration::from_secs(2));
    term.type_keys(b"\x03");
    let status = term.wait_exit(Duration::from_secs(20));
    assert!(
        status.success(),
        "{status:?}\n{}",
        term.parser.screen().contents()
    );
    assert_restored(&term);
    for (stream, codec) in STREAMS {
        check_one_recording(dir.path(), &format!("demo_{stream}_"), codec, 30, 50);
    }
}

#[test]
fn quiet_draws_no_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut term = Term::spawn(&["demo", "--seconds", "3", "--quiet"], dir.path());
    let status = term.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    let raw = String::from_utf8_lossy(&term.raw);
    assert!(
        !raw.contains("\x1b[?1049h"),
        "switched to the alternate screen"
    );
    assert!(!raw.contains("STREAM"), "{raw}");
    // Logs stay on the terminal, and there is no log file.
    assert!(raw.contains("all files closed"), "{raw}");
    assert!(!dir.path().join("roomrec.log").exists());
}

//! One bench run: relay, recorder and loadgen as separate processes for N streams; samples the
//! recorder while every stream is sending, then checks the files against what was sent.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::files::{self, Accounting, Sent};
use super::procs::{cpu_seconds, free_port, memory_kib, wait_listening, Guard};
use super::BenchArgs;

/// What one run measured.
#[derive(Clone, Debug, Default)]
pub struct RunResult {
    pub streams: u32,
    /// Steady state: every stream sending.
    pub window_s: f64,
    pub recorder_cpu_s: f64,
    pub loadgen_cpu_s: f64,
    pub datagrams: u64,
    pub rss_idle_kib: u64,
    /// While every stream is sending, at the end of the window.
    pub rss_end_kib: u64,
    pub rss_peak_kib: u64,
    /// After every publisher hung up.
    pub rss_after_kib: u64,
    pub accounting: Accounting,
    pub files: usize,
    pub decoded: usize,
    pub decode_failures: Vec<String>,
}

pub const PREFIX: &str = "bench";
const ROOM: &str = "roomrec-bench";

pub fn run_once(args: &BenchArgs, streams: u32, dir: &Path) -> Result<RunResult, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let server = format!("ws://{addr}");
    let mut relay = Command::new(&exe);
    relay.args(["relay", "--listen", &addr.to_string()]);
    // One machine, one address, every publisher in one room: lift the per-address caps.
    for flag in [
        "--max-connections",
        "--max-connections-per-ip",
        "--max-room-members",
    ] {
        relay.args([flag, "1000000"]);
    }
    let _relay = Guard::spawn("relay", relay, &dir.join("relay.log"))?;
    wait_listening(addr, Duration::from_secs(10))?;

    let mut rec = Command::new(&exe);
    rec.args(["--room", ROOM, "--server", &server, "--password", "false"])
        .args(["--ice-ip", "127.0.0.1", "--record", PREFIX, "--output-dir"])
        .arg(dir)
        // Its event lines are kept with the run, not mixed into the table on stdout.
        .arg("--events")
        .arg(dir.join("events.jsonl"))
        .args(&args.recorder_arg);
    let mut recorder = Guard::spawn("recorder", rec, &dir.join("recorder.log"))?;
    std::thread::sleep(Duration::from_millis(700));
    let rec_pid = recorder.pid();
    let rss_idle_kib = memory_kib(rec_pid).map_or(0, |m| m.0);

    let join_s = streams as f64 / args.join_rate;
    let mut lg = Command::new(&exe);
    lg.args([
        "loadgen",
        "--server",
        &server,
        "--room",
        ROOM,
        "--password",
        "false",
    ])
    .args(["--publishers", &streams.to_string()])
    .args(["--join-rate", &args.join_rate.to_string()])
    .args(["--codecs", &args.codecs, "--profile", &args.profile])
    .args(["--duration", &(join_s + args.seconds).to_string()]);
    if let Some(r) = args.rejoin_every {
        lg.args(["--rejoin-every", &r.to_string()]);
    }
    lg.stdout(Stdio::piped());
    let mut loadgen = Guard::spawn("loadgen", lg, &dir.join("loadgen.log"))?;
    let lg_pid = loadgen.pid();
    let stdout = loadgen.child.stdout.take().ok_or("no loadgen stdout")?;
    let (tx, rx) = mpsc::channel::<Value>();
    let report_path = dir.join("loadgen.jsonl");
    let reader = std::thread::spawn(move || {
        let mut keep = std::fs::File::create(report_path).ok();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(f) = keep.as_mut() {
                use std::io::Write;
                let _ = writeln!(f, "{line}");
            }
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });

    let mut r = RunResult {
        streams,
        rss_idle_kib,
        ..RunResult::default()
    };
    let mut sessions = Vec::new();
    let mut window: Option<(Snapshot, Snapshot)> = None;
    let started = Instant::now();
    let mut next_sample = started;
    for v in rx.iter() {
        match v["type"].as_str() {
            Some("session") => sessions.push(v),
            Some("progress") => {
                // The window: from the first progress line with every stream sending to the last.
                let all = v["sending"].as_u64() == Some(u64::from(streams));
                if all || (args.rejoin_every.is_some() && v["sending"].as_u64() > Some(0)) {
                    let snap = Snapshot::take(rec_pid, lg_pid, &v);
                    match &mut window {
                        None => window = Some((snap.clone(), snap)),
                        Some((_, end)) => *end = snap,
                    }
                }
                if args.rejoin_every.is_some() && Instant::now() >= next_sample {
                    let (rss, _) = memory_kib(rec_pid).unwrap_or_default();
                    println!(
                        "soak t={:>5.0}s recorder RSS {:.1} MB, files so far {}",
                        started.elapsed().as_secs_f64(),
                        rss as f64 / 1024.0,
                        count_media(dir)
                    );
                    next_sample += Duration::from_secs_f64(args.sample_every);
                }
            }
            _ => {}
        }
    }
    let _ = reader.join();
    let _ = loadgen.child.wait();
    if let Some((start, end)) = window {
        r.window_s = end.at.duration_since(start.at).as_secs_f64();
        r.recorder_cpu_s = end.rec_cpu - start.rec_cpu;
        r.loadgen_cpu_s = end.lg_cpu - start.lg_cpu;
        r.datagrams = end.datagrams - start.datagrams;
        r.rss_end_kib = end.rec_rss;
    }
    // Closing connections finalize their files; give them a moment, then read memory.
    std::thread::sleep(Duration::from_secs(2));
    if let Some((rss, peak)) = memory_kib(rec_pid) {
        r.rss_after_kib = rss;
        // The kernel's RSS counters are approximate: VmHWM can trail a VmRSS read earlier.
        r.rss_peak_kib = peak.max(r.rss_end_kib);
    }
    if !recorder.terminate(Duration::from_secs(15)) {
        eprintln!(
            "bench: the recorder did not exit cleanly (see {}/recorder.log)",
            dir.display()
        );
    }
    let sent: Vec<Sent> = sessions.iter().filter_map(Sent::from_line).collect();
    let recorded = files::recorded(dir, PREFIX)?;
    r.files = recorded.len();
    r.accounting = files::account(&sent, &recorded);
    for f in recorded.iter().take(args.decode_sample) {
        let errors = files::decode_errors(&f.path)?;
        if errors.is_empty() {
            r.decoded += 1;
        } else {
            r.decode_failures
                .push(format!("{}: {errors}", f.path.display()));
        }
    }
    Ok(r)
}

#[derive(Clone)]
struct Snapshot {
    at: Instant,
    rec_cpu: f64,
    lg_cpu: f64,
    rec_rss: u64,
    datagrams: u64,
}

impl Snapshot {
    fn take(rec: u32, lg: u32, progress: &Value) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            rec_cpu: cpu_seconds(rec).unwrap_or(0.0),
            lg_cpu: cpu_seconds(lg).unwrap_or(0.0),
            rec_rss: memory_kib(rec).map_or(0, |m| m.0),
            datagrams: progress["datagrams"].as_u64().unwrap_or(0),
        }
    }
}

fn count_media(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| PathBuf::from(e.file_name()))
                .filter(|p| p.extension().is_some_and(|e| e == "ts" || e == "webm"))
                .count()
        })
        .unwrap_or(0)
}

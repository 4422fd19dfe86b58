//! The bench's markdown table: one row per run, a median row per stream count.

use super::files::percentile;
use super::run::RunResult;

pub fn header() -> String {
    [
        "| streams | run | recorder CPU (% core) | µs CPU / datagram | ms CPU / stream-s | RSS idle → all sending → peak → after (MB) | KB / stream | join → file p50 / p99 (ms) | video frames in files / sent | audio in files / sent after 1st keyframe | files decoded | loadgen CPU (% core) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    .join("\n")
}

pub fn legend() -> &'static str {
    "CPU and datagrams are measured over the window in which every stream was sending; \
     RSS from /proc/PID/status (VmRSS, peak = VmHWM); KB / stream = (all sending − idle) / streams; \
     join → file = publisher starts connecting → its file's birth time; frames in files counted by \
     ffprobe -count_packets."
}

fn mb(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

pub fn row(r: &RunResult, label: &str) -> String {
    let a = &r.accounting;
    let w = r.window_s.max(1e-9);
    let per_dgram = r.recorder_cpu_s * 1e6 / (r.datagrams.max(1) as f64);
    let per_stream_s = r.recorder_cpu_s * 1e3 / (w * f64::from(r.streams));
    let per_stream_kb =
        (r.rss_end_kib.saturating_sub(r.rss_idle_kib)) as f64 / f64::from(r.streams);
    let lat = |p| percentile(&a.latencies_ms, p).map_or("-".into(), |v| v.to_string());
    format!(
        "| {} | {label} | {:.1} | {:.1} | {:.2} | {} → {} → {} → {} | {:.0} | {} / {} | {} / {} ({} of {} sessions exact{}) | {} / {} | {} / {} | {:.1} |",
        r.streams,
        r.recorder_cpu_s * 100.0 / w,
        per_dgram,
        per_stream_s,
        mb(r.rss_idle_kib),
        mb(r.rss_end_kib),
        mb(r.rss_peak_kib),
        mb(r.rss_after_kib),
        per_stream_kb,
        lat(50.0),
        lat(99.0),
        a.video_in_files,
        a.video_sent,
        a.video_exact,
        a.sessions,
        if a.unrecorded > 0 { format!(", {} unrecorded", a.unrecorded) } else { String::new() },
        a.audio_in_files,
        a.audio_sent,
        r.decoded,
        r.decoded + r.decode_failures.len(),
        r.loadgen_cpu_s * 100.0 / w,
    )
}

/// Medians of the numeric columns over repeated runs (the accounting of the median-CPU run).
pub fn median_row(runs: &[RunResult]) -> String {
    let med = |f: &dyn Fn(&RunResult) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let mut m = runs[0].clone();
    m.window_s = 1.0;
    m.recorder_cpu_s = med(&|r| r.recorder_cpu_s / r.window_s.max(1e-9));
    m.loadgen_cpu_s = med(&|r| r.loadgen_cpu_s / r.window_s.max(1e-9));
    // Datagrams per second of window, so per-datagram cost is the median run's ratio.
    m.datagrams = med(&|r| r.datagrams as f64 / r.window_s.max(1e-9)) as u64;
    m.rss_idle_kib = med(&|r| r.rss_idle_kib as f64) as u64;
    m.rss_end_kib = med(&|r| r.rss_end_kib as f64) as u64;
    m.rss_peak_kib = med(&|r| r.rss_peak_kib as f64) as u64;
    m.rss_after_kib = med(&|r| r.rss_after_kib as f64) as u64;
    let mut lat: Vec<i64> = runs
        .iter()
        .flat_map(|r| r.accounting.latencies_ms.clone())
        .collect();
    lat.sort_unstable();
    m.accounting.latencies_ms = lat;
    row(&m, "**median**")
}

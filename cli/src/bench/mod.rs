//! `roomrec bench`: relay, loadgen and recorder as separate processes (this binary), for each
//! stream count; prints recorder CPU and memory per stream, join → file latency, frame accounting
//! and decode checks as a table. With `--rejoin-every` it is a churn soak that prints the
//! recorder's RSS over time.

mod files;
mod procs;
mod run;
mod table;

use std::path::PathBuf;

use clap::Args;

/// Flags of `roomrec bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Stream counts to measure, one run (or --repeat runs) each
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "10,100"
    )]
    pub streams: Vec<u32>,
    /// Seconds of steady state (every stream sending) per run
    #[arg(long, value_name = "SECS", default_value_t = 20.0)]
    pub seconds: f64,
    /// Runs per stream count; the table adds their median
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub repeat: u32,
    /// Publishers joining per second
    #[arg(long, value_name = "PER_SEC", default_value_t = 20.0)]
    pub join_rate: f64,
    /// Video codecs of the publishers, round robin
    #[arg(long, value_name = "LIST", default_value = "h264,vp8")]
    pub codecs: String,
    /// loadgen media profile (320x240 or 720p)
    #[arg(long, value_name = "NAME", default_value = "320x240")]
    pub profile: String,
    /// Churn soak: publishers hang up and rejoin under a new peer id every SECS seconds
    #[arg(long, value_name = "SECS")]
    pub rejoin_every: Option<f64>,
    /// Soak: print the recorder's RSS every SECS seconds
    #[arg(long, value_name = "SECS", default_value_t = 15.0)]
    pub sample_every: f64,
    /// Decode-check this many files per run with ffmpeg
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub decode_sample: usize,
    /// Extra argument for the recorder (repeatable), e.g. --recorder-arg=--udp-port=50000
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub recorder_arg: Vec<String>,
    /// Where the runs write (kept) [default: a new directory under the system temp dir]
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

pub fn bench_main(args: BenchArgs) -> Result<(), String> {
    if args.streams.is_empty() || args.streams.contains(&0) {
        return Err("--streams needs positive counts".into());
    }
    let root = match &args.output_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("roomrec-bench-{}", std::process::id())),
    };
    eprintln!("bench: runs write to {}", root.display());
    let mut rows = Vec::new();
    let mut failures = 0;
    for &n in &args.streams {
        let mut runs = Vec::new();
        for k in 1..=args.repeat {
            let dir = root.join(format!("n{n}-r{k}"));
            eprintln!("bench: {n} streams, run {k}/{} ...", args.repeat);
            let r = run::run_once(&args, n, &dir)?;
            for f in &r.decode_failures {
                eprintln!("bench: decode failure: {f}");
            }
            failures += r.decode_failures.len();
            println!("{}", table::row(&r, &format!("run {k}")));
            runs.push(r);
        }
        rows.push(runs);
    }
    println!();
    println!("{}", table::header());
    for runs in &rows {
        for (k, r) in runs.iter().enumerate() {
            println!("{}", table::row(r, &format!("run {}", k + 1)));
        }
        if runs.len() > 1 {
            println!("{}", table::median_row(runs));
        }
    }
    println!("\n{}", table::legend());
    if failures > 0 {
        return Err(format!("{failures} files failed to decode"));
    }
    Ok(())
}

//! `roomrec`: record every participant of a VDO.Ninja room, each to its own file.

mod args;
mod bench;
mod loadgen_cmd;
mod logging;
mod relay_cmd;
mod table;

use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;

use clap::Parser;
use roomrec_core::signaling::Password;
use roomrec_io_tokio::http::HttpOptions;
use roomrec_io_tokio::signals;
use roomrec_io_tokio::status::{EventsTarget, EventsWriter, StatusHub};

use args::{Cli, Command, Mode};

fn main() -> ExitCode {
    // Usage errors (and --help) are printed by clap, here rather than deep inside it.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(e),
    };
    let verbose = cli.verbose;
    let stdout_tty = std::io::stdout().is_terminal();
    let quiet = cli.quiet;
    let events = EventsTarget::choose(cli.record.events.as_deref(), quiet, stdout_tty);
    let http = match cli.http_options() {
        Ok(http) => http,
        Err(e) => return usage(e),
    };
    let mode = match cli.mode() {
        Ok(mode) => mode,
        Err(e) => return usage(e),
    };
    let live = live_table_log(quiet, stdout_tty, &mode, events.as_ref());
    if let Err(e) = logging::init(verbose, live.as_deref()) {
        eprintln!("roomrec: cannot write the log file: {e}");
        return ExitCode::FAILURE;
    }
    // The bench only starts and watches processes: no runtime of its own.
    if let Mode::Command(Command::Bench(args)) = mode {
        return finish(bench::bench_main(*args));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roomrec: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match mode {
            Mode::Record(options) => record_main(*options, events, live, http).await,
            Mode::Command(Command::Relay(args)) => relay_cmd::relay_main(args).await,
            Mode::Command(Command::CheckNetwork {
                stun,
                turn,
                turn_ca,
                ice_ip,
            }) => check_network_main(stun, turn, turn_ca, ice_ip).await,
            Mode::Command(Command::Loadgen(args)) => loadgen_cmd::loadgen_main(*args).await,
            Mode::Command(Command::Bench(_)) => Err("the bench runs without a runtime".into()),
            Mode::Command(Command::Demo {
                seconds,
                output_dir,
                dialect,
                password,
                events,
                http: _,
            }) => {
                let events = EventsTarget::choose(events.as_deref(), true, stdout_tty);
                demo_main(seconds, output_dir, dialect, password, events, live, http).await
            }
        }
    });
    // Session tasks may still be winding down after a missed deadline: do not wait for them.
    runtime.shutdown_background();
    finish(result)
}

fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roomrec: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a clap error its own way; exit 2 for usage errors, 0 for --help and --version.
fn usage(e: clap::Error) -> ExitCode {
    let _ = e.print();
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}

/// Records with the live views the flags ask for.
async fn record_main(
    options: roomrec_io_tokio::options::ValidOptions,
    events: Option<EventsTarget>,
    live: Option<PathBuf>,
    http: Option<HttpOptions>,
) -> Result<(), String> {
    let hub = StatusHub::new(options.room());
    with_views(hub, events, live, http, |hub, shutdown| async move {
        roomrec_io_tokio::run_with_status(options, hub, shutdown)
            .await
            .map_err(|e| e.to_string())
    })
    .await
}

/// The live table's log file when the table is to be shown: recording or demo, stdout a terminal
/// not taken by `--events -`, no `--quiet`. The demo's output directory is created here so the
/// log can go in it.
fn live_table_log(
    quiet: bool,
    stdout_tty: bool,
    mode: &Mode,
    events: Option<&EventsTarget>,
) -> Option<PathBuf> {
    if quiet || !stdout_tty {
        return None;
    }
    let dir = match mode {
        Mode::Record(_) if matches!(events, Some(EventsTarget::Stdout)) => return None,
        Mode::Record(options) => options.output_dir().to_path_buf(),
        Mode::Command(Command::Demo { events, .. }) if events.as_deref() == Some("-") => {
            return None
        }
        Mode::Command(Command::Demo { output_dir, .. }) => {
            std::fs::create_dir_all(output_dir).ok()?;
            output_dir.clone()
        }
        Mode::Command(_) => return None,
    };
    Some(table::log_path(&dir))
}

type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs `recording` reporting into `hub`, with the events writer and, when `log` is set, the live
/// table (tracing goes to `log` meanwhile).
async fn with_views<F, Fut>(
    hub: StatusHub,
    events: Option<EventsTarget>,
    log: Option<PathBuf>,
    http: Option<HttpOptions>,
    recording: F,
) -> Result<(), String>
where
    F: FnOnce(StatusHub, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let writer = start_events(&hub, events.as_ref())?;
    let server = match http {
        Some(http) => Some(roomrec_io_tokio::http::start_for(http, &hub).await?),
        None => None,
    };
    let (live, shutdown): (_, Shutdown) = match &log {
        None => (None, Box::pin(signals::shutdown_signal())),
        Some(log) => {
            let live = table::LiveTable::start(hub.clone(), Some(log.clone()))
                .map_err(|e| tracing::warn!("cannot show the live table: {e}"))
                .ok();
            let shutdown = signals::shutdown_signal_with(table::restore_terminal);
            (live, Box::pin(shutdown))
        }
    };
    let result = recording(hub, shutdown).await;
    // A watcher's last scrape after the recording stopped (see `http::LINGER`).
    if let Some(server) = server {
        server.finish(roomrec_io_tokio::http::LINGER).await;
    }
    if let Some(live) = live {
        live.finish();
    }
    if let Some(log) = log {
        eprintln!("roomrec: log written to {}", log.display());
    }
    finish_events(writer);
    result
}

fn start_events(
    hub: &StatusHub,
    target: Option<&EventsTarget>,
) -> Result<Option<EventsWriter>, String> {
    target
        .map(|t| EventsWriter::start(hub, t).map_err(|e| e.to_string()))
        .transpose()
}

fn finish_events(writer: Option<EventsWriter>) {
    if let Some(Err(e)) = writer.map(EventsWriter::finish) {
        eprintln!("roomrec: writing events failed: {e}");
    }
}

async fn check_network_main(
    stun: Vec<String>,
    turn: Vec<roomrec_core::ice::TurnUrl>,
    turn_ca: Option<std::path::PathBuf>,
    ice_ip: Vec<std::net::IpAddr>,
) -> Result<(), String> {
    let stun = args::stun_option(&stun).map_err(|e| e.to_string())?;
    // With no --stun, the web app's servers: the question is how the internet sees us.
    let servers = roomrec_io_tokio::ice_servers::IceServers::new(
        stun,
        turn,
        turn_ca.as_deref(),
        false,
        "vdo.ninja",
    )?;
    let report = roomrec_io_tokio::check_network::check_network(&servers, &ice_ip).await;
    print!("{report}");
    Ok(())
}

async fn demo_main(
    seconds: u64,
    output_dir: std::path::PathBuf,
    dialect: roomrec_core::signaling::Dialect,
    password: Option<String>,
    events: Option<EventsTarget>,
    live: Option<PathBuf>,
    http: Option<HttpOptions>,
) -> Result<(), String> {
    std::fs::create_dir_all(&output_dir)
        .map_err(|e| format!("cannot create {}: {e}", output_dir.display()))?;
    eprintln!(
        "roomrec demo: recording 4 synthetic publishers for {seconds} s into {}",
        output_dir.display()
    );
    let options = roomrec_io_tokio::demo::DemoOptions {
        output_dir: output_dir.clone(),
        duration: std::time::Duration::from_secs(seconds),
        dialect,
        password: Password::parse(password.as_deref()),
        http,
    };
    let hub = StatusHub::new(roomrec_io_tokio::demo::ROOM);
    // The demo serves `--http` itself, around its own recorder.
    with_views(hub, events, live, None, |hub, shutdown| async move {
        roomrec_io_tokio::demo::run_demo_with_status(options, hub, shutdown)
            .await
            .map_err(|e| e.to_string())
    })
    .await?;
    let mut names: Vec<String> = std::fs::read_dir(&output_dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    eprintln!("roomrec demo: files in {}:", output_dir.display());
    for name in names {
        eprintln!("  {name}");
    }
    Ok(())
}

//! `roomrec`: record every participant of a VDO.Ninja room, each to its own file.

mod args;
mod bench;
mod loadgen_cmd;
mod logging;
mod relay_cmd;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use roomrec_core::signaling::Password;
use roomrec_io_tokio::http::HttpOptions;
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
    let events = EventsTarget::choose(cli.record.events.as_deref(), cli.record.quiet, stdout_tty);
    let http = match cli.http_options() {
        Ok(http) => http,
        Err(e) => return usage(e),
    };
    let mode = match cli.mode() {
        Ok(mode) => mode,
        Err(e) => return usage(e),
    };
    logging::init(verbose);
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
            Mode::Record(options) => record_main(*options, events, http).await,
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
                demo_main(seconds, output_dir, dialect, password, events, http).await
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
    http: Option<HttpOptions>,
) -> Result<(), String> {
    let hub = StatusHub::new(options.room());
    let writer = start_events(&hub, events.as_ref())?;
    let server = match http {
        Some(http) => Some(roomrec_io_tokio::http::start_for(http, &hub).await?),
        None => None,
    };
    let shutdown = roomrec_io_tokio::signals::shutdown_signal();
    let result = roomrec_io_tokio::run_with_status(options, hub, shutdown).await;
    // A watcher's last scrape after the recording stopped (see `http::LINGER`).
    if let Some(server) = server {
        server.finish(roomrec_io_tokio::http::LINGER).await;
    }
    finish_events(writer);
    result.map_err(|e| e.to_string())
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
    let writer = start_events(&hub, events.as_ref())?;
    let interrupted = roomrec_io_tokio::signals::shutdown_signal();
    let result = roomrec_io_tokio::demo::run_demo_with_status(options, hub, interrupted).await;
    finish_events(writer);
    result.map_err(|e| e.to_string())?;
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

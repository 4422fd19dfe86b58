//! `roomrec`: record every participant of a VDO.Ninja room, each to its own file.

mod args;
mod logging;
mod relay_cmd;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use roomrec_core::signaling::Password;
use roomrec_io_tokio::RecorderOptions;

use args::{Cli, Command, RecordArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = match &cli.command {
        None => Some(recorder_options(&cli.record)),
        Some(_) => None,
    };
    logging::init(cli.verbose);
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
        match (cli.command, options) {
            (Some(Command::Relay { listen, dialect }), _) => {
                relay_cmd::relay_main(listen, dialect.into()).await
            }
            (
                Some(Command::Demo {
                    seconds,
                    output_dir,
                    dialect,
                    password,
                }),
                _,
            ) => demo_main(seconds, output_dir, dialect.into(), password).await,
            (None, Some(options)) => roomrec_io_tokio::run(options)
                .await
                .map_err(|e| e.to_string()),
            (None, None) => unreachable!("options are built when there is no subcommand"),
        }
    });
    // Session tasks may still be winding down after a missed deadline: do not wait for them.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roomrec: error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn demo_main(
    seconds: u64,
    output_dir: std::path::PathBuf,
    dialect: roomrec_core::signaling::Dialect,
    password: Option<String>,
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
    };
    roomrec_io_tokio::demo::run_demo(options, roomrec_io_tokio::signals::shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
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

/// Checked options, or a usage error (exit 2) naming what is wrong.
fn recorder_options(a: &RecordArgs) -> RecorderOptions {
    let fail = |kind: ErrorKind, msg: String| -> ! { Cli::command().error(kind, msg).exit() };
    let Some(room) = a.room.clone() else {
        fail(
            ErrorKind::MissingRequiredArgument,
            "--room ROOM is required (or a subcommand such as `relay`)".into(),
        )
    };
    let mut o = RecorderOptions::new(room);
    o.server = a.server.clone();
    o.salt = a.salt.clone();
    o.dialect = a.dialect.map(Into::into);
    o.record_prefix = a.record.clone();
    o.record_streams = a.record_streams.as_ref().map(|list| {
        list.iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    });
    o.audio = !a.noaudio;
    o.video = !a.novideo;
    o.video_codecs = a.codec.clone();
    o.output_dir = a.output_dir.clone();
    o.ice_ips = a.ice_ip.clone();
    o.connect_timeout = a.connect_timeout;
    o.signaling_trace = a.trace_signaling.clone();
    o.signaling_trace_redact = a.trace_redact;
    if let Err(e) = o.validate() {
        fail(ErrorKind::ValueValidation, e.0);
    }
    if let Err(e) = roomrec_io_tokio::check_output_dir(&o) {
        fail(ErrorKind::ValueValidation, format!("--output-dir: {e}"));
    }
    if matches!(&o.record_streams, Some(list) if list.is_empty()) {
        fail(
            ErrorKind::ValueValidation,
            "--record-streams lists no stream id".into(),
        );
    }
    // Last: password rules live in the core.
    o.password = Password::parse(a.password.as_ref().and_then(|p| p.as_deref()));
    o
}

//! tracing to stderr (or to a file while the live table is shown): info for roomrec's crates and
//! warn for the rest, `-v`/`-vv` or RUST_LOG for more.

use std::io::IsTerminal;
use std::path::Path;

use tracing_subscriber::EnvFilter;

/// `file`: append there instead of stderr (the live table owns the terminal). Fails only when the
/// file cannot be opened; tracing is then not set up yet.
pub fn init(verbose: u8, file: Option<&Path>) -> std::io::Result<()> {
    let file = match file {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
        None => None,
    };
    let (ours, others) = match verbose {
        0 => ("info", "warn"),
        1 => ("debug", "warn"),
        _ => ("trace", "info"),
    };
    // turn-client-proto logs every poll at info and expected auth challenges as errors; what
    // matters reaches the user through roomrec's own diagnosis.
    let turn = if verbose >= 2 { "debug" } else { "off" };
    let default = format!(
        "{others},roomrec={ours},roomrec_core={ours},roomrec_io_tokio={ours},turn_client_proto={turn}"
    );
    let mut bad_env = None;
    let filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.trim().is_empty() => EnvFilter::try_new(&s).unwrap_or_else(|e| {
            bad_env = Some(format!("ignoring RUST_LOG={s:?}: {e}"));
            EnvFilter::new(&default)
        }),
        _ => EnvFilter::new(&default),
    };
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(verbose > 0);
    match file {
        Some(file) => fmt
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .init(),
        None => fmt
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
    }
    if let Some(msg) = bad_env {
        tracing::warn!("{msg}");
    }
    Ok(())
}

//! Running the external programs the checks rely on.

use std::process::{Command, Output};

/// Runs `program` to completion. One that cannot start fails the test with what to install.
pub(crate) fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): apt-get install {}",
                package(program)
            )
        })
}

/// The Debian package that ships `program`.
fn package(program: &str) -> &str {
    match program {
        "ffmpeg" | "ffprobe" => "ffmpeg",
        "mkvmerge" | "mkvinfo" => "mkvtoolnix",
        other => other,
    }
}

/// A path as an argument; test paths are UTF-8 (they live under the workspace or a temp dir).
pub(crate) fn arg(path: &std::path::Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
}

/// A program's output as text; lossy, as messages may quote file bytes.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

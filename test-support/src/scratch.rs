//! Paths for the files a test writes so that external tools can read them.

use std::path::{Path, PathBuf};

/// `dir/name`, with `dir` created and whatever an earlier run left at that path removed, so a
/// check never reads a stale file.
pub fn fresh_path(dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// A [`fresh_path`] in the calling test target's own directory under Cargo's
/// `CARGO_TARGET_TMPDIR`, where the files stay for inspection after a failure. Integration tests
/// only: Cargo sets that variable for them alone.
#[macro_export]
macro_rules! scratch_path {
    ($name:expr) => {
        $crate::scratch::fresh_path(
            &::std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(env!("CARGO_CRATE_NAME")),
            $name,
        )
    };
}

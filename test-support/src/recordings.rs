//! Finding what a recorder run wrote.

use std::path::{Path, PathBuf};

/// Recorded media files in `dir` whose name starts with `prefix`, sorted by name.
pub fn media_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with(prefix) && (name.ends_with(".ts") || name.ends_with(".webm"))
    });
    files.sort();
    files
}

//! File names: stream ids come from the network, so they are reduced to a safe alphabet before
//! they get anywhere near a path.

use std::time::{SystemTime, UNIX_EPOCH};

/// Longest sanitized component, in bytes (all ASCII).
pub const MAX_NAME_LEN: usize = 64;

/// Reduces `raw` to `[A-Za-z0-9_-]`: every other character becomes `_`, runs of `_` collapse to one,
/// leading/trailing `_` go, the result is cut to 64 bytes, and an empty result becomes `stream`.
/// The output can never contain a path separator, `.`, NUL or anything a shell would expand.
pub fn sanitize_component(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_NAME_LEN));
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '-' {
            c
        } else {
            '_'
        };
        if c == '_' && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push(c);
        if out.len() >= MAX_NAME_LEN {
            break;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("stream");
    }
    out
}

/// `{prefix}_{stream}_{unix seconds}{suffix}`; the prefix is sanitized too (and left out when
/// empty) so the base name is always a single safe path component.
pub fn base_name(prefix: &str, stream_id: &str, wall: SystemTime, suffix: &str) -> String {
    let secs = wall
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let stream = sanitize_component(stream_id);
    let prefix = if prefix.trim().is_empty() {
        String::new()
    } else {
        sanitize_component(prefix) + "_"
    };
    format!("{prefix}{stream}_{secs}{suffix}")
}

/// Name suffix of the n-th file group of a connection: camera, then screen shares.
pub fn group_suffix(group: usize) -> String {
    match group {
        0 => String::new(),
        1 => "_screen".to_string(),
        n => format!("_screen{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn traversal_and_separators_are_neutralized() {
        assert_eq!(sanitize_component("../../etc/x"), "etc_x");
        assert_eq!(sanitize_component("a\\b/c\0d"), "a_b_c_d");
        assert_eq!(sanitize_component("..."), "stream");
        assert_eq!(sanitize_component(""), "stream");
        assert_eq!(sanitize_component("ünï-cödé"), "n_-c_d");
    }

    #[test]
    fn long_names_are_cut() {
        let s = sanitize_component(&"a".repeat(500));
        assert_eq!(s.len(), MAX_NAME_LEN);
    }

    #[test]
    fn base_name_layout() {
        let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(base_name("rec", "abc", wall, ""), "rec_abc_1700000000");
        assert_eq!(
            base_name("rec", "abc", wall, "_screen"),
            "rec_abc_1700000000_screen"
        );
        assert_eq!(base_name("", "abc", wall, ""), "abc_1700000000");
    }
}

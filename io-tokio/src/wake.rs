//! When a task sleeping for a core state machine's `poll_timeout` wakes up.

use std::time::{Duration, Instant};

/// Longest sleep: a timeout may be "never" (None) or years away.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// The instant to sleep until for a state machine that wants `timeout`.
pub(crate) fn wake_at(now: Instant, timeout: Option<Instant>) -> Instant {
    timeout.unwrap_or(now + MAX_SLEEP).min(now + MAX_SLEEP)
}

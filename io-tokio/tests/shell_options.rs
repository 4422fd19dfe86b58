//! Library callers get the same checks as the CLI: `run_until` validates `RecorderOptions` before
//! anything connects.

use roomrec_io_tokio::options::OptionsError;
use roomrec_io_tokio::{run_until, RecorderOptions, RunError};

#[tokio::test]
async fn bad_options_are_refused_before_connecting() {
    let mut options = RecorderOptions::new("room1");
    options.server = "https://vdo.ninja".into();
    let err = run_until(options, std::future::pending())
        .await
        .unwrap_err();
    assert!(
        matches!(err, RunError::Options(OptionsError::Server { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("not ws or wss"), "{err}");
}

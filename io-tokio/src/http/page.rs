//! The page, the snapshot, the thumbnails and the stop button's endpoint.

use axum::extract::{Path, State};
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;

use super::AppState;
use crate::status::StatusSnapshot;

/// One file, no build step, no external assets: HTML, CSS and JS.
const PAGE: &str = include_str!("page.html");

pub(super) async fn index() -> Html<&'static str> {
    Html(PAGE)
}

pub(super) async fn status(State(state): State<AppState>) -> Json<StatusSnapshot> {
    Json(state.hub.snapshot())
}

/// The latest keyframe of a connection's video as the recorder got it (H.264 Annex B with
/// SPS/PPS, a VP8/VP9 frame, an AV1 temporal unit); the page decodes it with WebCodecs.
pub(super) async fn thumbnail(
    State(state): State<AppState>,
    Path(connection): Path<u64>,
) -> Response {
    let Some(thumb) = state.hub.thumbnail(connection) else {
        return (StatusCode::NOT_FOUND, "no keyframe yet\n").into_response();
    };
    let headers = [
        (header::CONTENT_TYPE, "application/octet-stream".to_string()),
        (header::CACHE_CONTROL, "no-store".to_string()),
        (HeaderName::from_static("x-codec"), thumb.codec.clone()),
        (HeaderName::from_static("x-width"), thumb.width.to_string()),
        (
            HeaderName::from_static("x-height"),
            thumb.height.to_string(),
        ),
    ];
    (headers, thumb.data.clone()).into_response()
}

/// Finalizes the recording and exits, like SIGTERM.
pub(super) async fn stop(State(state): State<AppState>) -> Response {
    state.hub.request_stop("POST /stop");
    (
        StatusCode::ACCEPTED,
        "stopping: files are being finalized\n",
    )
        .into_response()
}

//! Live status of a recording: one schema ([`schema`]) and one hub ([`StatusHub`]) that the shell
//! reports into and every view (terminal table, event lines, HTTP) reads from.

pub(crate) mod feed;
mod hub;
pub mod schema;

pub use hub::StatusHub;
pub use schema::{
    Event, EventLine, GuestState, GuestStatus, StatusSnapshot, Thumbnail, EVENTS_VERSION,
};

//! Live status of a recording: one schema ([`schema`]) and one hub ([`StatusHub`]) that the shell
//! reports into and every view (terminal table, event lines, HTTP) reads from.

mod events_writer;
pub(crate) mod feed;
mod files;
mod hub;
pub mod schema;

pub use events_writer::{EventsTarget, EventsWriter};
pub use files::FileWatch;
pub use hub::StatusHub;
pub use schema::{
    Event, EventLine, GuestState, GuestStatus, StatusSnapshot, Thumbnail, EVENTS_VERSION,
};

//! The media half of the observer: what the connections did with frames and files.
//! (f) after the reference chain breaks (loss, or before the first keyframe), no video frame but a
//!     keyframe reaches a file, and a keyframe request goes out at once unless one went out less
//!     than `KEYFRAME_RETRY` ago; requests for one track are never closer than that;
//! (g) file operations only touch files that are open, and every file a connection opened is
//!     finalized when it reports `Closed`, however it ended.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use roomrec_core::connection::{ConnectionHandle, FileOp, ReceivedFrame};
use roomrec_core::media::recorder::{WrittenFrame, KEYFRAME_RETRY};
use roomrec_core::media::{FileId, TrackKind};

/// One video track of one connection, as the frames went by.
#[derive(Default)]
struct TrackWatch {
    /// Frames are dropped until the next keyframe (true before the first one).
    broken: bool,
    /// RTP times of frames that must not reach a file.
    must_drop: BTreeSet<u64>,
    last_request: Option<Instant>,
    /// A request was due at this instant and has not been seen.
    request_due: Option<Instant>,
}

/// Open files per connection, and which ones are finalized.
#[derive(Default)]
pub struct MediaChecks {
    tracks: BTreeMap<(ConnectionHandle, String), TrackWatch>,
    files: BTreeMap<FileId, (ConnectionHandle, bool)>,
    /// Counters for tests that want to see the properties were exercised.
    pub chain_breaks: u64,
    pub keyframe_requests: u64,
    pub frames_written: u64,
    pub files_finalized: u64,
}

/// A broken property: its letter and what happened.
pub type Violation = (char, String);

impl MediaChecks {
    pub fn received(
        &mut self,
        now: Instant,
        handle: ConnectionHandle,
        frame: &ReceivedFrame,
    ) -> Vec<Violation> {
        if frame.codec.kind() != TrackKind::Video {
            return Vec::new();
        }
        let watch = self
            .tracks
            .entry((handle, frame.track.clone()))
            .or_insert_with(|| TrackWatch {
                broken: true,
                ..TrackWatch::default()
            });
        let violations = overdue(watch, now, handle, &frame.track);
        if frame.keyframe {
            watch.broken = false;
            watch.must_drop.remove(&frame.rtp_time);
            return violations;
        }
        if !frame.contiguous && !watch.broken {
            self.chain_breaks += 1;
            watch.broken = true;
            let throttled = watch
                .last_request
                .is_some_and(|at| now < at + KEYFRAME_RETRY);
            if !throttled {
                watch.request_due = Some(now);
            }
        }
        if watch.broken {
            watch.must_drop.insert(frame.rtp_time);
        } else {
            watch.must_drop.remove(&frame.rtp_time);
        }
        violations
    }

    pub fn keyframe_requested(
        &mut self,
        now: Instant,
        handle: ConnectionHandle,
        track: &str,
    ) -> Vec<Violation> {
        self.keyframe_requests += 1;
        let watch = self.tracks.entry((handle, track.to_string())).or_default();
        let mut violations = Vec::new();
        if let Some(last) = watch.last_request.filter(|at| now < *at + KEYFRAME_RETRY) {
            violations.push((
                'f',
                format!(
                    "keyframe requests on {handle} track {track} {} ms apart",
                    (now - last).as_millis()
                ),
            ));
        }
        watch.last_request = Some(now);
        watch.request_due = None;
        violations
    }

    pub fn written(
        &mut self,
        now: Instant,
        handle: ConnectionHandle,
        file: FileId,
        frame: &WrittenFrame,
    ) -> Vec<Violation> {
        self.frames_written += 1;
        let mut violations = Vec::new();
        if !self
            .files
            .get(&file)
            .is_some_and(|(h, done)| *h == handle && !done)
        {
            violations.push((
                'g',
                format!("frame written to {file:?}, not an open file of {handle}"),
            ));
        }
        let Some(watch) = self.tracks.get_mut(&(handle, frame.track.clone())) else {
            return violations;
        };
        violations.extend(overdue(watch, now, handle, &frame.track));
        if !frame.keyframe && watch.must_drop.contains(&frame.rtp_time) {
            violations.push((
                'f',
                format!(
                    "{handle} track {} wrote non-keyframe rtp={} after the chain broke, before a keyframe",
                    frame.track, frame.rtp_time
                ),
            ));
        }
        if frame.keyframe {
            // Frames reach a file in order: nothing older is still on its way.
            watch.must_drop.retain(|&rtp| rtp > frame.rtp_time);
        }
        violations
    }

    pub fn file_op(&mut self, handle: ConnectionHandle, op: &FileOp) -> Vec<Violation> {
        let (file, what) = match op {
            FileOp::Open { file, .. } => {
                if self.files.insert(*file, (handle, false)).is_some() {
                    return vec![('g', format!("{handle} opened {file:?} a second time"))];
                }
                return Vec::new();
            }
            FileOp::Write { file, .. } => (*file, "write to"),
            FileOp::Flush { file } => (*file, "flush of"),
            FileOp::Record(record) => (FileId(record.file_id), "manifest record of"),
            FileOp::Finalize { file, .. } => (*file, "finalize of"),
        };
        let Some((owner, finalized)) = self.files.get_mut(&file) else {
            return vec![(
                'g',
                format!("{handle}: {what} {file:?}, which was never opened"),
            )];
        };
        if *owner != handle {
            return vec![('g', format!("{handle}: {what} {file:?}, a file of {owner}"))];
        }
        match op {
            // The closing record follows the finalize.
            FileOp::Record(record) if record.complete => {}
            FileOp::Finalize { .. } if !*finalized => {
                *finalized = true;
                self.files_finalized += 1;
            }
            _ if *finalized => {
                return vec![('g', format!("{handle}: {what} {file:?} after its finalize"))];
            }
            _ => {}
        }
        Vec::new()
    }

    /// The connection reported `Closed`: all its files must be finalized.
    pub fn closed(&mut self, handle: ConnectionHandle) -> Vec<Violation> {
        let open: Vec<FileId> = self
            .files
            .iter()
            .filter(|(_, (h, done))| *h == handle && !done)
            .map(|(f, _)| *f)
            .collect();
        let violations: Vec<Violation> = open
            .iter()
            .map(|f| ('g', format!("{handle} closed with {f:?} not finalized")))
            .collect();
        // A request due at the very instant of the close is moot.
        self.tracks.retain(|(h, _), _| *h != handle);
        violations
    }

    /// End of the run: requests still due are missing.
    pub fn finish(&mut self, now: Instant) -> Vec<Violation> {
        let mut violations = Vec::new();
        for ((handle, track), watch) in &mut self.tracks {
            violations.extend(overdue(watch, now, *handle, track));
        }
        violations
    }
}

/// A keyframe request that was due before `now` and never came.
fn overdue(
    watch: &mut TrackWatch,
    now: Instant,
    handle: ConnectionHandle,
    track: &str,
) -> Vec<Violation> {
    match watch.request_due {
        Some(due) if now > due => {
            watch.request_due = None;
            vec![(
                'f',
                format!("no keyframe request on {handle} track {track} after the chain broke"),
            )]
        }
        _ => Vec::new(),
    }
}

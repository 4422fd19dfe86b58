//! Timing: every track's RTP media time is mapped onto one per-file timeline in nanoseconds,
//! either through the sender's RTCP sender reports (sender wall clock) or anchored on arrival
//! times (local clock). A file uses one mode for all its tracks so their offsets stay comparable.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::media::frame::SenderClock;

pub(crate) const NS_PER_SEC: i128 = 1_000_000_000;
const MS: i128 = 1_000_000;
/// Media time may run at most this far ahead of arrival time before we call it a jump.
const FUTURE_LIMIT: i128 = 5_000 * MS;
/// ...and lag arrival at most this far (a stalled network path, not a clock jump).
const LATE_LIMIT: i128 = 60_000 * MS;
/// A step back of more than this within one track is a new timeline, not reordering.
const BACKSTEP_LIMIT: i128 = 1_000 * MS;
/// The arrival estimator keeps the smallest delay of this window and the previous one.
const ESTIMATOR_WINDOW: i128 = 10_000 * MS;
/// Tracks whose sender reports disagree with their arrival by more than this (relative to each
/// other) make a file fall back to arrival timing.
pub(crate) const SR_CONSISTENCY: i128 = 2_000 * MS;
const WRAP32: i128 = 1 << 32;

/// Which timeline a file's pts come from; its [`name`](ClockMode::name) goes into the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClockMode {
    /// RTCP sender reports: the sender's own wall clock (unix ns).
    SenderReport,
    /// Arrival of the first frames (local ns since the recorder's epoch).
    Arrival,
}

impl ClockMode {
    /// `rtcp-sr` or `arrival`, as in [`FileRecord::clock`](super::FileRecord::clock).
    pub fn name(self) -> &'static str {
        match self {
            ClockMode::SenderReport => "rtcp-sr",
            ClockMode::Arrival => "arrival",
        }
    }
}

pub(crate) fn unix_ns(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

fn ticks_to_ns(ticks: i128, rate: u32) -> i128 {
    ticks * NS_PER_SEC / i128::from(rate.max(1))
}

/// What we learn about one track's timing before it enters a file.
#[derive(Clone, Debug)]
pub(crate) struct TrackClock {
    rate: u32,
    /// RTP time the arrival estimate is relative to.
    base_rtp: u64,
    window_start: i128,
    /// Smallest `arrival - media` (ns) in the current and previous window: the least-delayed
    /// frame is the best estimate of when media time 0 happened locally.
    cur_min: i128,
    prev_min: Option<i128>,
    /// Latest sender report, its RTP time unwrapped next to this track's frames.
    sender: Option<(u64, i128)>,
    last_rtp: u64,
    last_arrival: i128,
}

impl TrackClock {
    pub fn new(rate: u32, rtp: u64, arrival_ns: i128, sender: Option<SenderClock>) -> TrackClock {
        let mut clock = TrackClock {
            rate: rate.max(1),
            base_rtp: rtp,
            window_start: arrival_ns,
            cur_min: arrival_ns,
            prev_min: None,
            sender: None,
            last_rtp: rtp,
            last_arrival: arrival_ns,
        };
        clock.set_sender(rtp, sender);
        clock
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn observe(&mut self, rtp: u64, arrival_ns: i128, sender: Option<SenderClock>) {
        self.set_sender(rtp, sender);
        self.last_rtp = rtp;
        self.last_arrival = arrival_ns;
        let sample =
            arrival_ns - ticks_to_ns(i128::from(rtp) - i128::from(self.base_rtp), self.rate);
        let est = self.estimate();
        if sample < est - FUTURE_LIMIT || sample > est + LATE_LIMIT {
            tracing::debug!("track clock jumped; restarting the arrival estimate");
            self.base_rtp = rtp;
            self.window_start = arrival_ns;
            self.cur_min = arrival_ns;
            self.prev_min = None;
            return;
        }
        if arrival_ns - self.window_start > ESTIMATOR_WINDOW {
            self.prev_min = Some(self.cur_min);
            self.cur_min = sample;
            self.window_start = arrival_ns;
        } else {
            self.cur_min = self.cur_min.min(sample);
        }
    }

    fn estimate(&self) -> i128 {
        self.prev_min.map_or(self.cur_min, |p| p.min(self.cur_min))
    }

    fn set_sender(&mut self, rtp: u64, sender: Option<SenderClock>) {
        let Some(sr) = sender else { return };
        // Sender reports carry 32-bit RTP times; frames are unwrapped. Pick the SR's wrap
        // nearest to this frame.
        let mut sr_rtp = i128::from(sr.rtp_time);
        let diff = i128::from(rtp) - sr_rtp;
        if diff.abs() > WRAP32 / 2 {
            sr_rtp += (diff + WRAP32 / 2).div_euclid(WRAP32) * WRAP32;
        }
        match u64::try_from(sr_rtp) {
            Ok(r) => self.sender = Some((r, unix_ns(sr.ntp_time))),
            Err(_) => tracing::warn!("sender report RTP time out of range; ignored"),
        }
    }

    pub fn mapping(&self, mode: ClockMode) -> Mapping {
        let (anchor_rtp, anchor_ns) = match (mode, self.sender) {
            (ClockMode::SenderReport, Some(sr)) => sr,
            _ => (self.base_rtp, self.estimate()),
        };
        Mapping {
            rate: self.rate,
            anchor_rtp,
            anchor_ns,
            reference: None,
            last_rtp: None,
        }
    }

    /// How far the SR timeline sits from the arrival timeline for this track (ns). Equal across
    /// tracks of one sender when its reports are sane.
    pub fn sr_skew(&self) -> Option<i128> {
        self.sender?;
        let sr = self.mapping(ClockMode::SenderReport).raw(self.last_rtp);
        let arrival = self.mapping(ClockMode::Arrival).raw(self.last_rtp);
        Some(arrival - sr)
    }
}

/// A frozen RTP → timeline map for one track in one file. Fixed when the track enters the file
/// so pts stay monotonic; only a clear jump of the RTP clock re-anchors it (on arrival time).
#[derive(Clone, Debug)]
pub(crate) struct Mapping {
    rate: u32,
    anchor_rtp: u64,
    anchor_ns: i128,
    /// `arrival - mapped` and the arrival of the first mapped frame.
    reference: Option<(i128, i128)>,
    last_rtp: Option<u64>,
}

impl Mapping {
    fn raw(&self, rtp: u64) -> i128 {
        self.anchor_ns + ticks_to_ns(i128::from(rtp) - i128::from(self.anchor_rtp), self.rate)
    }

    /// Timeline position of a frame; `arrival_ns` (local) only serves to detect clock jumps.
    pub fn map(&mut self, rtp: u64, arrival_ns: i128) -> i128 {
        let t = self.raw(rtp);
        let drift = arrival_ns - t;
        let Some((ref_drift, ref_arrival)) = self.reference else {
            self.reference = Some((drift, arrival_ns));
            self.last_rtp = Some(rtp);
            return t;
        };
        // Clocks drift a little (ppm); allow 0.1 % of the elapsed time on top of the limits.
        let allowance = (arrival_ns - ref_arrival).abs() / 1000;
        let ahead = ref_drift - drift;
        let back = self.last_rtp.is_some_and(|last| {
            last > rtp && ticks_to_ns(i128::from(last - rtp), self.rate) > BACKSTEP_LIMIT
        });
        self.last_rtp = Some(rtp);
        if ahead > FUTURE_LIMIT + allowance || -ahead > LATE_LIMIT + allowance || back {
            tracing::warn!(
                jump_ms = (ahead / MS) as i64,
                "RTP clock jumped; re-anchoring track on arrival"
            );
            self.anchor_rtp = rtp;
            self.anchor_ns = arrival_ns - ref_drift;
            return self.anchor_ns;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn arrival_estimate_takes_least_delayed_frame() {
        // 20 ms frames, arrivals with 5..25 ms of jitter on top of a 100 ms base.
        let mut c = TrackClock::new(48_000, 1000, 100 * MS + 20 * MS, None);
        for (i, jitter) in [5, 0, 25, 3].iter().enumerate() {
            let i = i as i128 + 1;
            c.observe(
                1000 + (i as u64) * 960,
                100 * MS + i * 20 * MS + jitter * MS,
                None,
            );
        }
        assert_eq!(c.mapping(ClockMode::Arrival).raw(1000), 100 * MS);
    }

    #[test]
    fn sender_report_maps_to_sender_wall() {
        let ntp = UNIX_EPOCH + Duration::from_secs(1_000);
        let sr = SenderClock {
            ntp_time: ntp,
            rtp_time: 90_000,
        };
        let c = TrackClock::new(90_000, 180_000, 0, Some(sr));
        let m = c.mapping(ClockMode::SenderReport);
        assert_eq!(m.raw(180_000), 1_001 * NS_PER_SEC);
    }

    #[test]
    fn sender_report_rtp_wraps_next_to_frame() {
        let sr = SenderClock {
            ntp_time: UNIX_EPOCH,
            rtp_time: 10,
        };
        let c = TrackClock::new(90_000, (1 << 32) + 100, 0, Some(sr));
        assert_eq!(
            c.mapping(ClockMode::SenderReport).raw((1 << 32) + 100),
            ticks_to_ns(90, 90_000)
        );
    }

    #[test]
    fn mapping_reanchors_on_jump_but_keeps_gaps() {
        let mut m = TrackClock::new(90_000, 0, 0, None).mapping(ClockMode::Arrival);
        assert_eq!(m.map(0, 0), 0);
        // a 30 s gap (muted camera) is kept
        assert_eq!(m.map(30 * 90_000, 30 * NS_PER_SEC), 30 * NS_PER_SEC);
        // a jump of hours in RTP time is not
        let t = m.map(u64::MAX / 2, 31 * NS_PER_SEC);
        assert_eq!(t, 31 * NS_PER_SEC);
        // and the track continues from there
        assert_eq!(
            m.map(u64::MAX / 2 + 90_000, 32 * NS_PER_SEC),
            32 * NS_PER_SEC
        );
    }
}

//! A small scenario language for the simulation: participants, then steps at times (join, leave,
//! crash, rejoin, mute, resolution change, re-offer, ICE restart, late candidates, recorder
//! signaling drop/reconnect), plus seeded network and signaling impairments. `Debug` of a
//! scenario is its readable description (what proptest prints for a shrunk counterexample).

use std::fmt;
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_testpeer::Track;

use super::hostile::Hostile;
use super::net::{Impairment, SignalingImpairment};
use super::{PublisherNode, PublisherSpec, Sim, SimConfig};
use crate::synthetic::{audio_track, fixture_audio, fixture_video, video_track, video_track_sized};

/// Where a participant's media comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// Tiny generated payloads (fast); a resolution change swaps to bigger frames.
    Synthetic(Codec),
    /// Real encoded VP8/H.264 + Opus from the fixtures; a resolution change swaps 320x240 and
    /// 640x480.
    Fixture(Codec),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    pub stream: String,
    pub media: Media,
    /// Send the candidate bundle before the offer.
    pub candidates_first: bool,
}

impl Participant {
    fn video(&self, large: bool) -> Track {
        match self.media {
            Media::Synthetic(codec) if large => video_track_sized(codec, 4, 30, 6000, 1500),
            Media::Synthetic(codec) => video_track(codec, 4, 30),
            Media::Fixture(codec) => {
                fixture_video(codec, large).expect("fixtures exist for VP8 and H.264")
            }
        }
    }

    fn audio(&self) -> Track {
        match self.media {
            Media::Synthetic(_) => audio_track(4),
            Media::Fixture(_) => fixture_audio(),
        }
    }

    fn spec(&self) -> PublisherSpec {
        let mut spec =
            PublisherSpec::new(&self.stream, Some(self.video(false)), Some(self.audio()));
        spec.candidates_first = self.candidates_first;
        spec
    }
}

/// One thing that happens; `usize` is the participant's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    RecorderUp,
    /// The recorder's WebSocket drops (its connections keep running).
    RecorderDown,
    Join(usize),
    /// Hang up (data-channel bye) and leave.
    Leave(usize),
    /// Vanish without a word.
    Crash(usize),
    /// Come back under a new peer id with the same stream (leaving first if present).
    Rejoin(usize),
    Mute(usize),
    Unmute(usize),
    /// Swap the video source to the other resolution.
    Resize(usize),
    /// Re-negotiate on the data channel.
    ReOffer(usize),
    /// Re-negotiate on the data channel with new ICE credentials.
    IceRestart(usize),
    /// Trickle the candidates again on the WebSocket, long after the offer.
    Trickle(usize),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub at_ms: u64,
    pub action: Action,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms {:?}", self.at_ms, self.action)
    }
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub dialect: Dialect,
    pub password: Password,
    pub seed: u64,
    pub datagrams: Impairment,
    pub signaling: SignalingImpairment,
    /// How long the recorder's session reports (answers) take to reach its room.
    pub report_delay: Duration,
    pub participants: Vec<Participant>,
    /// In time order (the builder keeps them sorted; equal times keep their order).
    pub steps: Vec<Step>,
    /// Hostile or malformed input, in time order.
    pub hostile: Vec<Hostile>,
    pub duration: Duration,
}

impl Scenario {
    pub fn new(dialect: Dialect, password: Password, seed: u64) -> Scenario {
        Scenario {
            dialect,
            password,
            seed,
            datagrams: Impairment::default(),
            signaling: SignalingImpairment::default(),
            report_delay: Duration::ZERO,
            participants: Vec::new(),
            steps: Vec::new(),
            hostile: Vec::new(),
            duration: Duration::from_secs(10),
        }
    }

    pub fn publisher(mut self, stream: &str, media: Media) -> Scenario {
        let p = Participant {
            stream: stream.into(),
            media,
            candidates_first: false,
        };
        self.participants.push(p);
        self
    }

    /// The last added publisher sends its candidates before its offer.
    pub fn candidates_first(mut self) -> Scenario {
        if let Some(p) = self.participants.last_mut() {
            p.candidates_first = true;
        }
        self
    }

    pub fn at(mut self, at_ms: u64, action: Action) -> Scenario {
        let index = self.steps.partition_point(|s| s.at_ms <= at_ms);
        self.steps.insert(index, Step { at_ms, action });
        self
    }

    pub fn datagrams(mut self, impairment: Impairment) -> Scenario {
        self.datagrams = impairment;
        self
    }

    pub fn signaling(mut self, impairment: SignalingImpairment) -> Scenario {
        self.signaling = impairment;
        self
    }

    pub fn duration(mut self, duration: Duration) -> Scenario {
        self.duration = duration;
        self
    }

    pub fn run(&self) -> Outcome {
        self.run_with(|_| {})
    }

    /// Runs the scenario; `setup` may adjust the simulation first (e.g. keep the full log).
    pub fn run_with(&self, setup: impl FnOnce(&mut Sim)) -> Outcome {
        let mut config = SimConfig::new(self.dialect, self.password.clone(), self.seed);
        config.impairment = self.datagrams.clone();
        config.signaling = self.signaling.clone();
        config.report_delay = self.report_delay;
        let mut sim = Sim::new(config);
        setup(&mut sim);
        let mut runner = Runner::new(self);
        let (mut steps, mut hostile) =
            (self.steps.iter().peekable(), self.hostile.iter().peekable());
        loop {
            // Steps first when both are due at the same time.
            let step_first = match (steps.peek(), hostile.peek()) {
                (Some(s), Some(h)) => s.at_ms <= h.at_ms,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let at_ms = if step_first {
                steps.peek().unwrap().at_ms
            } else {
                hostile.peek().unwrap().at_ms
            };
            let at = Duration::from_millis(at_ms).min(self.duration);
            sim.run_for(at.saturating_sub(sim.elapsed()));
            if step_first {
                runner.apply(&mut sim, steps.next().unwrap().action);
            } else {
                hostile.next().unwrap().input.apply(&mut sim, &runner.node);
            }
        }
        sim.run_for(self.duration.saturating_sub(sim.elapsed()));
        let violations = sim.finish();
        let digest = sim.recorder.observer.digest();
        Outcome {
            presences: runner.presences,
            recorder_up: runner.recorder_up,
            violations,
            digest,
            end: sim.elapsed(),
            sim,
        }
    }
}

/// A publisher's time in the room under one peer id.
#[derive(Clone, Debug)]
pub struct Presence {
    pub participant: usize,
    pub stream: String,
    pub peer: String,
    pub from: Duration,
    /// None: still there at the end.
    pub until: Option<Duration>,
}

pub struct Outcome {
    pub sim: Sim,
    pub presences: Vec<Presence>,
    /// Intervals during which the recorder's signaling was up.
    pub recorder_up: Vec<(Duration, Option<Duration>)>,
    pub violations: Vec<String>,
    pub digest: u64,
    pub end: Duration,
}

impl Outcome {
    /// Frames the recorder emitted from this peer's connections within [from, until).
    pub fn frames_from(&self, peer: &str, from: Duration, until: Duration) -> usize {
        let start = self.sim.start;
        self.sim
            .recorder
            .frames
            .iter()
            .filter(|f| f.key.peer == peer && f.at >= start + from && f.at < start + until)
            .count()
    }

    /// The simulation publisher behind a peer id.
    pub fn publisher(&self, peer: &str) -> Option<&PublisherNode> {
        self.sim
            .publishers
            .iter()
            .find(|p| p.peer_id.as_deref() == Some(peer))
    }

    /// Longest time the presence overlapped with the recorder being up.
    fn longest_overlap(&self, p: &Presence) -> Duration {
        let until = p.until.unwrap_or(self.end);
        self.recorder_up
            .iter()
            .map(|(a, b)| {
                let (lo, hi) = (p.from.max(*a), until.min(b.unwrap_or(self.end)));
                hi.saturating_sub(lo)
            })
            .max()
            .unwrap_or_default()
    }

    /// Property (d): every publisher that was in the room together with the recorder for
    /// `settle` got recorded during that presence. Returns the ones that were not.
    pub fn unrecorded(&self, settle: Duration) -> Vec<String> {
        self.presences
            .iter()
            .filter(|p| self.longest_overlap(p) >= settle)
            .filter(|p| self.frames_from(&p.peer, p.from, p.until.unwrap_or(self.end)) == 0)
            .map(|p| format!("(d) {p:?} never recorded"))
            .collect()
    }

    /// The other half of (d): after a quiet tail of `settle` with the recorder up, every present
    /// publisher is being recorded at the very end (within the last `recent`).
    pub fn not_recorded_at_end(
        &self,
        settle: Duration,
        recent: Duration,
        quiet_since: Duration,
    ) -> Vec<String> {
        let recorder_up_long = self
            .recorder_up
            .last()
            .is_some_and(|(a, b)| b.is_none() && *a + settle <= self.end);
        if !recorder_up_long || quiet_since + settle > self.end {
            return Vec::new();
        }
        self.presences
            .iter()
            .filter(|p| p.until.is_none())
            .filter(|p| self.frames_from(&p.peer, self.end - recent, self.end) == 0)
            .map(|p| format!("(d) {p:?} not being recorded at the end"))
            .collect()
    }

    /// The problems that break the given properties (letters, e.g. "abc").
    pub fn problems_of(
        &self,
        properties: &str,
        settle: Duration,
        quiet_since: Duration,
    ) -> Vec<String> {
        let all = self.problems(settle, quiet_since);
        all.into_iter()
            .filter(|p| properties.chars().any(|c| p.starts_with(&format!("({c})"))))
            .collect()
    }

    /// Everything that went wrong: observer violations plus property (d).
    pub fn problems(&self, settle: Duration, quiet_since: Duration) -> Vec<String> {
        let mut all = self.violations.clone();
        all.extend(self.unrecorded(settle));
        all.extend(self.not_recorded_at_end(settle, Duration::from_secs(2), quiet_since));
        all
    }
}

/// Maps participants to simulation publishers while a scenario runs.
struct Runner {
    participants: Vec<Participant>,
    /// Current simulation publisher of each participant, while present.
    node: Vec<Option<usize>>,
    large: Vec<bool>,
    presences: Vec<Presence>,
    recorder_up: Vec<(Duration, Option<Duration>)>,
}

impl Runner {
    fn new(scenario: &Scenario) -> Runner {
        let n = scenario.participants.len();
        Runner {
            participants: scenario.participants.clone(),
            node: vec![None; n],
            large: vec![false; n],
            presences: Vec::new(),
            recorder_up: Vec::new(),
        }
    }

    fn apply(&mut self, sim: &mut Sim, action: Action) {
        let now = sim.elapsed();
        match action {
            Action::RecorderUp => {
                if sim.recorder_client.is_none() {
                    sim.recorder_connect();
                    self.recorder_up.push((now, None));
                }
            }
            Action::RecorderDown => {
                if sim.recorder_client.is_some() {
                    sim.recorder_disconnect();
                    if let Some(last) = self.recorder_up.last_mut() {
                        last.1 = Some(now);
                    }
                }
            }
            Action::Join(i) => {
                if self.node.get(i).is_some_and(Option::is_none) {
                    self.join(sim, i);
                }
            }
            Action::Leave(i) | Action::Crash(i) => {
                if let Some(n) = self.node.get_mut(i).and_then(Option::take) {
                    if matches!(action, Action::Leave(_)) {
                        sim.publisher_leave(n);
                    } else {
                        sim.publisher_crash(n);
                    }
                    self.end_presence(i, now);
                }
            }
            Action::Rejoin(i) => {
                if let Some(n) = self.node.get_mut(i).and_then(Option::take) {
                    sim.publisher_leave(n);
                    self.end_presence(i, now);
                }
                if i < self.node.len() {
                    self.join(sim, i);
                }
            }
            Action::Mute(i) | Action::Unmute(i) => {
                if let Some(n) = self.current(i) {
                    sim.set_video_muted(n, matches!(action, Action::Mute(_)));
                }
            }
            Action::Resize(i) => {
                if let Some(n) = self.current(i) {
                    self.large[i] = !self.large[i];
                    let track = self.participants[i].video(self.large[i]);
                    sim.set_video_track(n, track);
                }
            }
            Action::ReOffer(i) | Action::IceRestart(i) => {
                if let Some(n) = self.current(i) {
                    sim.publisher_reoffer(n, matches!(action, Action::IceRestart(_)));
                }
            }
            Action::Trickle(i) => {
                if let Some(n) = self.current(i) {
                    sim.publisher_trickle(n);
                }
            }
        }
    }

    fn current(&self, i: usize) -> Option<usize> {
        self.node.get(i).copied().flatten()
    }

    fn join(&mut self, sim: &mut Sim, i: usize) {
        let p = &self.participants[i];
        let n = sim.add_publisher(p.spec());
        sim.publisher_join(n);
        self.node[i] = Some(n);
        self.large[i] = false;
        let peer = sim.publishers[n].peer_id.clone().unwrap_or_default();
        let presence = Presence {
            participant: i,
            stream: p.stream.clone(),
            peer,
            from: sim.elapsed(),
            until: None,
        };
        self.presences.push(presence);
    }

    fn end_presence(&mut self, i: usize, now: Duration) {
        if let Some(p) = self
            .presences
            .iter_mut()
            .rev()
            .find(|p| p.participant == i && p.until.is_none())
        {
            p.until = Some(now);
        }
    }
}

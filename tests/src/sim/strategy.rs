//! proptest strategies for whole scenarios: participants, step sequences, impairments and hostile
//! input. Everything shrinks toward fewer steps, earlier times and less impairment, so a failing
//! case prints as a short scenario.

use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use serde_json::{json, Value};

use super::hostile::{Hostile, HostileInput, OWN, PEER, ROOM, SESSION, STREAM};
use super::net::{Impairment, SignalingImpairment};
use super::scenario::{Action, Media, Participant, Scenario, Step};

/// Shape of the generated scenarios.
#[derive(Clone, Debug)]
pub struct Gen {
    pub max_publishers: usize,
    /// Steps happen in [0, active); then a quiet tail of `settle` with the recorder up.
    pub active: Duration,
    pub settle: Duration,
    pub max_steps: usize,
    /// Datagram loss/jitter/duplication and signaling delay/duplication/reordering.
    pub impair: bool,
    /// Up to this many hostile inputs.
    pub max_hostile: usize,
}

impl Gen {
    pub fn duration(&self) -> Duration {
        self.active + self.settle
    }
}

/// `PROPTEST_CASES` when set, else `default` (the configs below set their own case counts).
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const CODECS: [Codec; 4] = [Codec::Vp8, Codec::H264, Codec::Vp9, Codec::Av1];

fn dialect() -> impl Strategy<Value = Dialect> {
    prop_oneof![Just(Dialect::Relay), Just(Dialect::Official)]
}

fn password() -> impl Strategy<Value = Password> {
    prop_oneof![
        Just(Password::Default),
        Just(Password::Disabled),
        Just(Password::parse(Some("hunter2")))
    ]
}

fn participant(i: usize) -> impl Strategy<Value = Participant> {
    (0..CODECS.len(), any::<bool>()).prop_map(move |(c, candidates_first)| Participant {
        stream: format!("p{i}"),
        media: Media::Synthetic(CODECS[c]),
        candidates_first,
    })
}

fn action(n: usize) -> impl Strategy<Value = Action> {
    let per = (0..n).prop_flat_map(|i| {
        prop_oneof![
            Just(Action::Leave(i)),
            Just(Action::Crash(i)),
            Just(Action::Rejoin(i)),
            Just(Action::Join(i)),
            Just(Action::Mute(i)),
            Just(Action::Unmute(i)),
            Just(Action::Resize(i)),
            Just(Action::ReOffer(i)),
            Just(Action::IceRestart(i)),
            Just(Action::Trickle(i)),
        ]
    });
    prop_oneof![8 => per, 1 => Just(Action::RecorderDown), 1 => Just(Action::RecorderUp)]
}

fn impairments(on: bool) -> BoxedStrategy<(Impairment, SignalingImpairment)> {
    if !on {
        return Just((Impairment::default(), SignalingImpairment::default())).boxed();
    }
    (
        0..=50u32,
        0..=30u64,
        0..=30u32,
        0..=150u64,
        0..=30u32,
        0..=30u32,
        0..=1500u64,
    )
        .prop_map(|(loss, jitter, dup, sjitter, sdup, reorder, late)| {
            let datagrams = Impairment {
                loss: f64::from(loss) / 1000.0,
                jitter: Duration::from_millis(jitter),
                duplicate: f64::from(dup) / 1000.0,
                ..Impairment::default()
            };
            let signaling = SignalingImpairment {
                jitter: Duration::from_millis(sjitter),
                duplicate: f64::from(sdup) / 100.0,
                reorder: f64::from(reorder) / 100.0,
                late: Duration::from_millis(late),
            };
            (datagrams, signaling)
        })
        .boxed()
}

/// Whole scenarios: every participant joins once early on, then random steps; the recorder is up
/// (again) for the quiet tail.
pub fn scenarios(g: Gen) -> impl Strategy<Value = Scenario> {
    let active_ms = g.active.as_millis() as u64;
    (1..=g.max_publishers)
        .prop_flat_map(move |n| {
            let participants: Vec<_> = (0..n).map(participant).collect();
            (
                (dialect(), password(), any::<u64>()),
                participants,
                (0..3_000u64, 0..=60u64),
                vec(0..active_ms / 2, n),
                vec((0..active_ms, action(n)), 0..=g.max_steps),
                impairments(g.impair),
                hostile(n, active_ms, g.max_hostile),
            )
        })
        .prop_map(
            move |(
                (dialect, password, seed),
                participants,
                (recorder_at, report_ms),
                joins,
                steps,
                (dg, sig),
                hostile,
            )| {
                let mut s = Scenario::new(dialect, password, seed)
                    .datagrams(dg)
                    .signaling(sig)
                    .duration(g.duration());
                s.participants = participants;
                s.report_delay = Duration::from_millis(report_ms);
                s = s.at(recorder_at, Action::RecorderUp);
                for (i, at) in joins.into_iter().enumerate() {
                    s = s.at(at, Action::Join(i));
                }
                for (at, action) in steps {
                    s = s.at(at, action);
                }
                s.hostile = hostile;
                s.at(active_ms, Action::RecorderUp)
            },
        )
}

/// When the last step happens (the quiet tail starts after it).
pub fn quiet_since(s: &Scenario) -> Duration {
    Duration::from_millis(s.steps.iter().map(|st: &Step| st.at_ms).max().unwrap_or(0))
}

fn hostile(n: usize, active_ms: u64, max: usize) -> BoxedStrategy<Vec<Hostile>> {
    if max == 0 {
        return Just(Vec::new()).boxed();
    }
    let input = prop_oneof![
        5 => (signaling_text(), any::<bool>()).prop_map(|(template, seal)| HostileInput::Signaling { template, seal }),
        3 => (0..n, dc_text()).prop_map(|(publisher, text)| HostileInput::DataChannel { publisher, text }),
        2 => (0..4usize, datagram()).prop_map(|(connection, bytes)| HostileInput::Datagram { connection, bytes }),
    ];
    vec((0..active_ms, input), 0..=max)
        .prop_map(|mut list| {
            list.sort_by_key(|(at, _)| *at);
            list.into_iter()
                .map(|(at_ms, input)| Hostile { at_ms, input })
                .collect()
        })
        .boxed()
}

fn text() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-zA-Z0-9]{0,20}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        Just(json!({"x": [1, {}]})),
    ]
}

fn named(placeholder: &'static str) -> impl Strategy<Value = Value> {
    prop_oneof![3 => Just(Value::from(placeholder)), 1 => text()]
}

const CHROME_OFFER: &str = include_str!("../../fixtures/traces/sdp/chrome-reoffer-audio-video.sdp");
const WEIRD_LINES: [&str; 8] = [
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
    "a=rtpmap:96 VP8/90000",
    "a=rtpmap:300 H264/0",
    "m=audio 0 RTP/AVP",
    "a=ssrc:4294967295 cname:x",
    "a=candidate:1 1 udp 1 999.1.1.1 70000 typ host",
    "a=fingerprint:sha-256 ZZ",
    "a=mid:",
];

/// SDP texts from a real Chrome offer: truncated, with lines dropped or odd lines inserted.
fn sdp() -> impl Strategy<Value = String> {
    let lines: Vec<&'static str> = CHROME_OFFER.split("\r\n").collect();
    let count = lines.len();
    (
        0..=count,
        vec(0..count, 0..4),
        vec((0..count, 0..WEIRD_LINES.len()), 0..3),
    )
        .prop_map(move |(keep, drop, add)| {
            let mut out: Vec<&str> = lines.iter().take(keep).copied().collect();
            for d in drop {
                if d < out.len() {
                    out.remove(d);
                }
            }
            for (at, w) in add {
                out.insert(at.min(out.len()), WEIRD_LINES[w]);
            }
            out.join("\r\n")
        })
}

fn description() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (prop_oneof![Just("offer"), Just("answer"), Just("rollback")], sdp())
            .prop_map(|(kind, sdp)| json!({"type": kind, "sdp": sdp})),
        1 => "[0-9a-f]{0,64}".prop_map(Value::from),
        1 => text(),
    ]
}

fn candidates() -> impl Strategy<Value = Value> {
    let one = prop_oneof![
        Just(
            json!({"candidate": "candidate:1 1 udp 2122260223 127.0.0.2 20000 typ host", "sdpMid": "0"})
        ),
        Just(json!({"candidate": "candidate:1 1 tcp 1 127.0.0.2 9 typ host tcptype active"})),
        Just(json!({"candidate": "candidate:x 1 udp 1 abc.local 5 typ host"})),
        "[ -~]{0,40}".prop_map(|s| json!({"candidate": s, "sdpMLineIndex": -1})),
        text(),
    ];
    prop_oneof![3 => vec(one.clone(), 0..4).prop_map(Value::from), 1 => one]
}

/// A WebSocket text: usually a JSON object of the fields the protocol uses, with live values or
/// junk; sometimes not JSON at all.
fn signaling_text() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        prop_oneof![
            Just("joinroom"),
            Just("play"),
            Just("offerSDP"),
            Just("cleanup"),
            Just("listing"),
            Just("videoaddedtoroom"),
            Just("someonejoined"),
            Just("alert"),
        ]
        .prop_map(|r| ("request", Value::from(r))),
        named(OWN).prop_map(|v| ("UUID", v)),
        named(PEER).prop_map(|v| ("UUID", v)),
        named(PEER).prop_map(|v| ("from", v)),
        named(ROOM).prop_map(|v| ("roomid", v)),
        named(SESSION).prop_map(|v| ("session", v)),
        named(STREAM).prop_map(|v| ("streamID", v)),
        description().prop_map(|v| ("description", v)),
        candidates().prop_map(|v| ("candidates", v)),
        candidates().prop_map(|v| ("candidate", v)),
        "[0-9a-f]{0,40}".prop_map(|v| ("vector", Value::from(v))),
        text().prop_map(|v| ("isScene", v)),
        Just(("bye", Value::Bool(true))),
        vec((named(PEER), named(STREAM)), 0..3).prop_map(|l| (
            "list",
            l.into_iter()
                .map(|(u, s)| json!({"UUID": u, "streamID": s}))
                .collect()
        )),
    ];
    prop_oneof![
        9 => vec(field, 0..8).prop_map(|fields| {
            let obj: serde_json::Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            Value::Object(obj).to_string()
        }),
        1 => "[ -~]{0,60}",
    ]
}

/// A data-channel text: re-offers with odd SDP, candidates, pings, info, mute flags, bye.
fn dc_text() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        description().prop_map(|v| ("description", v)),
        named(SESSION).prop_map(|v| ("session", v)),
        candidates().prop_map(|v| ("candidates", v)),
        text().prop_map(|v| ("ping", v)),
        text().prop_map(|v| ("info", json!({"label": v}))),
        text().prop_map(|v| ("info", v)),
        text().prop_map(|v| ("videoMuted", v)),
        Just(("bye", Value::Bool(true))),
        "[0-9a-f]{0,40}".prop_map(|v| ("vector", Value::from(v))),
    ];
    prop_oneof![
        9 => vec(field, 0..5).prop_map(|fields| {
            let obj: serde_json::Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            Value::Object(obj).to_string()
        }),
        1 => "[ -~]{0,60}",
    ]
}

/// Raw datagrams that look like STUN, DTLS, RTP/RTCP or nothing.
fn datagram() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just(0u8),
            Just(1),
            Just(22),
            Just(23),
            Just(0x80),
            Just(0x90),
            Just(0xff)
        ],
        0u8..=255,
        vec(any::<u8>(), 0..200),
    )
        .prop_map(|(first, second, mut rest)| {
            rest.insert(0, second);
            rest.insert(0, first);
            if first <= 1 && rest.len() >= 8 {
                rest[4..8].copy_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
            }
            rest
        })
}

//! Ten publishers for a simulated minute with 5% datagram loss and churn: people leave and come
//! back, reload (new peer id, same stream), vanish and return. Every stream must be recorded after
//! every (re)join. Wall time is printed (run with `--nocapture`); assertions are functional only.

use std::time::{Duration, Instant};

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_tests::sim::net::Impairment;
use roomrec_tests::sim::scenario::{Action::*, Media, Scenario};

const CODECS: [Codec; 4] = [Codec::Vp8, Codec::H264, Codec::Vp9, Codec::Av1];

fn churn(dialect: Dialect, seed: u64) -> Scenario {
    let mut s = Scenario::new(dialect, Password::Default, seed)
        .datagrams(Impairment {
            loss: 0.05,
            jitter: Duration::from_millis(10),
            ..Impairment::default()
        })
        .duration(Duration::from_secs(60))
        .at(0, RecorderUp);
    for i in 0..10 {
        s = s
            .publisher(&format!("guest{i}"), Media::Synthetic(CODECS[i % 4]))
            .at(200 * i as u64, Join(i));
    }
    // Churn: every participant is disturbed at least once, at staggered times.
    for i in 0..10u64 {
        let t = 8_000 + i * 3_500;
        let p = i as usize;
        s = match i % 4 {
            0 => s.at(t, Leave(p)).at(t + 2_000, Join(p)),
            1 => s.at(t, Rejoin(p)),
            2 => s.at(t, Crash(p)).at(t + 1_500, Join(p)),
            _ => s.at(t, Leave(p)).at(t + 4_000, Rejoin(p)),
        };
    }
    s
}

fn run(dialect: Dialect, seed: u64) {
    let scenario = churn(dialect, seed);
    let started = Instant::now();
    let outcome = scenario.run();
    let wall = started.elapsed();
    eprintln!(
        "{dialect:?}: 10 publishers, 60 s simulated, 5% loss: {wall:?} wall, {} frames",
        outcome.sim.recorder.frame_count.values().sum::<u64>()
    );
    assert!(outcome.violations.is_empty(), "{:#?}", outcome.violations);
    assert!(
        outcome.sim.net.dropped * 100 >= outcome.sim.net.sent * 4,
        "the loss was applied"
    );
    // Every (re)join is recorded: frames from that peer id within its presence, and presences that
    // last to the end are still being recorded in the final two seconds.
    let mut joins = 0;
    for p in &outcome.presences {
        let until = p.until.unwrap_or(outcome.end);
        let frames = outcome.frames_from(&p.peer, p.from, until);
        assert!(frames > 30, "{dialect:?}: {p:?} got {frames} frames");
        if p.until.is_none() {
            let recent =
                outcome.frames_from(&p.peer, outcome.end - Duration::from_secs(2), outcome.end);
            assert!(
                recent > 30,
                "{dialect:?}: {p:?} not recorded at the end ({recent} frames)"
            );
        }
        joins += 1;
    }
    assert_eq!(joins, 20, "10 first joins and 10 returns");
    for i in 0..10 {
        let stream = format!("guest{i}");
        let labelled = outcome
            .sim
            .recorder
            .labels
            .values()
            .filter(|l| **l == stream)
            .count();
        assert!(
            labelled >= 2,
            "{stream}: a connection per presence ({labelled})"
        );
    }
}

#[test]
fn ten_publishers_one_minute_relay_dialect() {
    run(Dialect::Relay, 101);
}

#[test]
fn ten_publishers_one_minute_official_dialect() {
    run(Dialect::Official, 102);
}

//! (e) The core never panics: generated scenarios plus hostile input at random times — WebSocket
//! texts built from the protocol's fields with live peer ids, sessions, room and stream ids (or
//! junk), optionally sealed with the room key; data-channel texts with odd re-offers, candidates,
//! pings, info and mute flags; raw STUN/DTLS/RTP-looking datagrams. A panic anywhere in the room,
//! a session or str0m fails the case and proptest shrinks it to a readable scenario.

use std::time::Duration;

use proptest::prelude::*;
use roomrec_tests::sim::strategy::{cases, quiet_since, scenarios, Gen};

fn gen() -> Gen {
    Gen {
        max_publishers: 3,
        active: Duration::from_secs(12),
        settle: Duration::from_secs(3),
        max_steps: 6,
        impair: true,
        max_hostile: 40,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(48), max_shrink_iters: 300, ..ProptestConfig::default() })]

    /// (e) Guards robustness: no input makes the core panic, and hostile input does not make the
    /// room mis-route candidates or answers (a spoofed message is routed by what it claims).
    #[test]
    fn core_never_panics_on_hostile_input(scenario in scenarios(gen())) {
        let outcome = scenario.run();
        let problems = outcome.problems_of("ab", gen().settle, quiet_since(&scenario));
        prop_assert!(problems.is_empty(), "{problems:#?}");
    }
}

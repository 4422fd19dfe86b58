//! Arbitrary frame sequences never panic the recorder, and its file lifecycle stays sound.

mod recorder_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use recorder_support::*;
use roomrec_core::media::{Codec, MediaFrame, RecorderOutput, SenderClock};

#[derive(Clone, Debug)]
enum Rtp {
    Step(i32),
    Any(u64),
}

#[derive(Clone, Debug)]
enum Op {
    Frame {
        mid: u8,
        codec: Codec,
        rtp: Rtp,
        rate: Option<u32>,
        keyframe: bool,
        contiguous: bool,
        data: Vec<u8>,
        dt_ms: u32,
        late_ms: u32,
        sr: Option<(u64, u64)>,
    },
    Wait(u32),
    Label(String),
}

fn codec() -> impl Strategy<Value = Codec> {
    prop_oneof![
        Just(Codec::H264),
        Just(Codec::Vp8),
        Just(Codec::Vp9),
        Just(Codec::Av1),
        Just(Codec::Opus)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let frame = (
        0u8..5,
        // Mostly the codec a mid usually carries; sometimes anything (renegotiation, garbage).
        prop_oneof![6 => Just(None), 1 => codec().prop_map(Some)],
        prop_oneof![8 => (-200i32..4000).prop_map(Rtp::Step), 1 => any::<u64>().prop_map(Rtp::Any)],
        prop_oneof![12 => Just(None), 1 => Just(Some(0)), 1 => Just(Some(1)), 1 => Just(Some(u32::MAX))],
        any::<bool>(),
        prop::bool::weighted(0.9),
        prop::collection::vec(any::<u8>(), 0..24),
        0u32..120,
        0u32..3000,
        prop::option::of((0u64..(1 << 36), any::<u64>())),
    )
        .prop_map(|(mid, codec, rtp, rate, keyframe, contiguous, data, dt_ms, late_ms, sr)| Op::Frame {
            mid,
            codec: codec.unwrap_or([Codec::Vp8, Codec::Opus, Codec::H264, Codec::Opus, Codec::Av1][mid as usize]),
            rtp,
            rate,
            keyframe,
            contiguous,
            data,
            dt_ms,
            late_ms,
            sr,
        });
    prop_oneof![
        20 => frame,
        2 => (0u32..5000).prop_map(Op::Wait),
        1 => "\\PC{0,12}".prop_map(Op::Label),
    ]
}

fn run(audio: bool, video: bool, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut cfg = config("p/../\0x");
    (cfg.audio, cfg.video) = (audio, video);
    let mut sim = Sim::new(cfg);
    let mut rtp: HashMap<u8, u64> = HashMap::new();
    let mut ms = 0.0;
    for op in ops {
        match op {
            Op::Frame {
                mid,
                codec,
                rtp: r,
                rate,
                keyframe,
                contiguous,
                data,
                dt_ms,
                late_ms,
                sr,
            } => {
                ms += f64::from(dt_ms);
                let last = rtp.entry(mid).or_insert(1000);
                *last = match r {
                    Rtp::Step(s) => last.wrapping_add_signed(i64::from(s)),
                    Rtp::Any(v) => v,
                };
                let now = sim.at(ms);
                let frame = MediaFrame {
                    track: mid.to_string(),
                    codec,
                    rtp_time: *last,
                    clock_rate: rate.unwrap_or(if codec == Codec::Opus { 48_000 } else { 90_000 }),
                    keyframe,
                    contiguous,
                    data: Arc::from(data),
                    received_at: now
                        .checked_sub(Duration::from_millis(late_ms.into()))
                        .unwrap_or(now),
                    sender_clock: sr.map(|(secs, rtp_time)| SenderClock {
                        ntp_time: std::time::UNIX_EPOCH + Duration::from_secs(secs),
                        rtp_time,
                    }),
                };
                sim.feed(ms, frame);
            }
            Op::Wait(d) => {
                ms += f64::from(d);
                sim.advance(ms);
            }
            Op::Label(l) => sim.rec.set_label(&l),
        }
    }
    sim.finish(ms + 1.0);
    prop_assert_eq!(sim.rec.poll_timeout(), None);

    let mut disk = Disk::default();
    for (_, o) in &sim.outs {
        disk.apply(o).map_err(TestCaseError::fail)?;
    }
    let opened = sim.opened();
    prop_assert_eq!(disk.files.len(), opened.len());
    for (id, f) in &disk.files {
        prop_assert_eq!(f.finalized, 1, "{:?} finalized {} times", id, f.finalized);
        prop_assert!(id.0 >= 100);
    }
    let closes = sim.infos().iter().filter(|i| i["event"] == "close").count();
    prop_assert_eq!(closes, opened.len());
    let files = sim.files();
    prop_assert_eq!(files.len(), opened.len());
    for f in &files {
        prop_assert_eq!(f.finished, 1);
        for t in 0..f.tracks.len() {
            let pts: Vec<u64> = f.track_frames(t).iter().map(|w| w.pts_ns).collect();
            prop_assert!(
                pts.windows(2).all(|w| w[1] >= w[0]),
                "pts decrease on track {}: {:?}",
                t,
                pts
            );
        }
        // The file starts at pts 0 and its first video frame is a keyframe.
        if let Some(first) = f.frames.iter().map(|w| w.pts_ns).min() {
            prop_assert_eq!(first, 0);
        }
        if let Some(v) = f.video() {
            prop_assert!(f.track_frames(v)[0].keyframe);
        }
        // Audio packets never share or go back in time (overlapping Opus breaks decoders).
        if let Some(a) = f.audio() {
            let pts: Vec<u64> = f.track_frames(a).iter().map(|w| w.pts_ns).collect();
            prop_assert!(
                pts.windows(2).all(|w| w[1] > w[0]),
                "audio pts not increasing: {:?}",
                pts
            );
        }
        if !audio {
            prop_assert!(f.audio().is_none());
        }
        if !video {
            prop_assert!(f.video().is_none());
        }
    }
    if !video {
        let asked = sim
            .outs
            .iter()
            .any(|(_, o)| matches!(o, RecorderOutput::RequestKeyframe { .. }));
        prop_assert!(!asked, "keyframe requested with video off");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_frames_never_panic_and_files_finalize_once(
        audio in prop::bool::weighted(0.8),
        video in prop::bool::weighted(0.8),
        ops in prop::collection::vec(op(), 0..300),
    ) {
        run(audio, video, ops)?;
    }
}

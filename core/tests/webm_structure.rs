//! Structure of the written WebM under arbitrary frame sequences (late tracks, repeated timestamps,
//! long gaps), read back with a strict test-only Matroska reader.

mod common;

use common::Input;
use proptest::prelude::*;
use roomrec_core::media::webm::WebmConfig;
use roomrec_core::media::{Codec, TrackSpec};
use roomrec_test_support::webm;

fn spec(codec: Codec) -> TrackSpec {
    let video = codec != Codec::Opus;
    TrackSpec {
        codec,
        width: if video { 320 } else { 0 },
        height: if video { 240 } else { 0 },
        channels: if video { 0 } else { 2 },
        sample_rate: if video { 0 } else { 48_000 },
        codec_private: None,
    }
}

/// One track's frames as (gap to previous in µs, keyframe); gaps include zeros (repeated
/// timestamps) and occasional long stalls.
fn track_strategy() -> impl Strategy<Value = Vec<(u64, bool)>> {
    let gap = prop_oneof![
        8 => 15_000u64..40_000,
        1 => Just(0u64),
        1 => 0u64..2_000,
        1 => 1_000_000u64..40_000_000,
    ];
    prop::collection::vec((gap, prop::bool::weighted(0.1)), 1..150)
}

/// Inputs in arrival order: each track's frames at cumulative pts; `late_us` delays the second
/// track's arrival (never its pts).
fn build(
    video: &[(u64, bool)],
    audio: &[(u64, bool)],
    late_us: u64,
    layout: u8,
) -> (Vec<TrackSpec>, Vec<Input>) {
    let mut specs = Vec::new();
    let mut tagged = Vec::new();
    let mut add = |specs: &mut Vec<TrackSpec>, codec: Codec, frames: &[(u64, bool)], late: u64| {
        let track = specs.len();
        specs.push(spec(codec));
        let mut pts_us = 0;
        for (i, &(gap, key)) in frames.iter().enumerate() {
            pts_us += gap;
            let keyframe = codec == Codec::Opus || key || i == 0;
            let data = vec![if codec == Codec::Opus { 0xFC } else { 0x10 }; 1 + i % 40];
            tagged.push((
                pts_us + late,
                Input {
                    track,
                    pts_ns: pts_us * 1000,
                    keyframe,
                    data,
                },
            ));
        }
    };
    if layout != 1 {
        add(&mut specs, Codec::Vp8, video, 0);
    }
    if layout != 2 {
        add(&mut specs, Codec::Opus, audio, late_us);
    }
    tagged.sort_by_key(|(arrival, input)| (*arrival, input.track));
    (specs, tagged.into_iter().map(|(_, i)| i).collect())
}

/// The documented timing rule: ms rounding, then per-track strictly increasing.
fn expected_times(inputs: &[Input], tracks: usize) -> Vec<i64> {
    let mut last = vec![None::<i64>; tracks];
    inputs
        .iter()
        .map(|i| {
            let mut ms = ((i.pts_ns + 500_000) / 1_000_000) as i64;
            if let Some(prev) = last[i.track] {
                ms = ms.max(prev + 1);
            }
            last[i.track] = Some(ms);
            ms
        })
        .collect()
}

fn check(specs: &[TrackSpec], inputs: &[Input], max_cluster_ms: u64, patch_sizes: bool) {
    let config = WebmConfig {
        max_cluster_ms,
        patch_sizes,
        ..WebmConfig::default()
    };
    let muxed = common::mux(specs, inputs, config);
    let unfinished_len = muxed.block_ends.last().unwrap().1;
    let unfinished =
        webm::parse(&muxed.bytes[..unfinished_len]).expect("the unfinished file parses");
    let finished = webm::parse(&muxed.finished()).expect("the finished file parses");
    let has_video = specs.iter().any(|s| s.codec != Codec::Opus);
    let limit = max_cluster_ms.min(i16::MAX as u64) as i64;

    assert!(!unfinished.segment_known_size && unfinished.clusters.iter().all(|c| !c.known_size));
    assert!(
        unfinished.duration_ms.is_none()
            && unfinished.cues.is_empty()
            && unfinished.seeks.is_empty()
    );
    assert_eq!(finished.segment_known_size, patch_sizes);
    assert!(finished
        .clusters
        .iter()
        .all(|c| c.known_size == patch_sizes));

    for parsed in [&unfinished, &finished] {
        // Every frame, in order, with the expected track, time, flags and payload.
        let blocks: Vec<&webm::Block> = parsed.clusters.iter().flat_map(|c| &c.blocks).collect();
        assert_eq!(blocks.len(), inputs.len());
        let times = expected_times(inputs, specs.len());
        for ((block, input), time) in blocks.iter().zip(inputs).zip(times) {
            assert_eq!(block.track, input.track as u64 + 1);
            assert_eq!(block.time_ms, time, "block time");
            assert_eq!(block.keyframe, input.keyframe);
            assert_eq!(block.payload.len(), input.data.len());
        }
        // Cluster rules: timecodes never step back, blocks stay within the cluster duration,
        // video keyframes open clusters.
        for pair in parsed.clusters.windows(2) {
            assert!(
                pair[0].timecode <= pair[1].timecode,
                "cluster timecodes step back"
            );
        }
        for cluster in &parsed.clusters {
            assert!(!cluster.blocks.is_empty(), "empty cluster");
            for (i, block) in cluster.blocks.iter().enumerate() {
                let rel = block.time_ms - cluster.timecode as i64;
                assert!(rel < limit, "block {rel} ms into a cluster (limit {limit})");
                let video = specs[block.track as usize - 1].codec != Codec::Opus;
                assert!(
                    !(video && block.keyframe) || i == 0,
                    "video keyframe inside a cluster"
                );
            }
        }
    }

    // Finished: SeekHead points at Info, Tracks and Cues; cues point at clusters.
    for (element, pos) in &finished.seeks {
        assert!(
            finished.level1.contains(&(*element, *pos)),
            "seek entry {element:#x} -> {pos}"
        );
    }
    let seek_ids: Vec<u32> = finished.seeks.iter().map(|s| s.0).collect();
    assert_eq!(seek_ids, [0x1549_A966, 0x1654_AE6B, 0x1C53_BB6B]);
    let expected_cues: Vec<(u64, u64, u64)> = finished
        .clusters
        .iter()
        .filter_map(|c| {
            let first = &c.blocks[0];
            let video = specs[first.track as usize - 1].codec != Codec::Opus;
            let cue = if has_video {
                video && first.keyframe
            } else {
                true
            };
            cue.then_some((first.time_ms as u64, first.track, c.pos))
        })
        .collect();
    let mut sorted = expected_cues.clone();
    sorted.sort_by_key(|c| c.0);
    assert_eq!(finished.cues, sorted);
    let last_time = finished
        .clusters
        .iter()
        .flat_map(|c| &c.blocks)
        .map(|b| b.time_ms)
        .max()
        .unwrap();
    let duration = finished.duration_ms.expect("Duration");
    assert!(
        duration > last_time as f64 && duration <= last_time as f64 + 1000.0,
        "duration {duration}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn any_frame_sequence_gives_valid_structure(
        video in track_strategy(),
        audio in track_strategy(),
        late_us in prop_oneof![Just(0u64), 0u64..300_000],
        layout in 0u8..3,
        max_cluster_ms in prop_oneof![Just(5000u64), 200u64..60_000],
        patch_sizes in any::<bool>(),
    ) {
        let (specs, inputs) = build(&video, &audio, late_us, layout);
        check(&specs, &inputs, max_cluster_ms, patch_sizes);
    }
}

#[test]
fn long_gaps_start_clusters_within_int16_range() {
    // 40 s of audio-only gap with a 60 s cluster limit: int16 forces new clusters anyway.
    let video: Vec<(u64, bool)> = vec![
        (0, true),
        (33_000, false),
        (40_000_000, true),
        (33_000, false),
    ];
    let audio: Vec<(u64, bool)> = (0..2100)
        .map(|i| (if i == 0 { 0 } else { 20_000 }, true))
        .collect();
    let (specs, inputs) = build(&video, &audio, 20_000, 0);
    check(&specs, &inputs, 60_000, true);
}

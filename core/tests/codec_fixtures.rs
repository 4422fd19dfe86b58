//! Codec inspection and fixture readers checked against ffmpeg's view of the same files.

mod ts_support;

use roomrec_core::media::codec::{
    av1_codec_private, is_keyframe, opus_packet_samples, video_resolution,
};
use roomrec_core::media::Codec;
use roomrec_test_support::{ffmpeg, ffprobe, mkvtoolnix, scratch_path};
use roomrec_testpeer::source::{read_h264_annexb, read_ivf, read_ogg_opus};
use ts_support::*;

#[test]
fn ivf_fixtures_keyframes_and_resolution() {
    for (name, codec) in [
        ("vp8-320x240-30fps.ivf", Codec::Vp8),
        ("vp9-320x240-30fps.ivf", Codec::Vp9),
        ("av1-320x240-30fps.ivf", Codec::Av1),
    ] {
        let (got, rate, frames) = read_ivf(&fixture(name)).unwrap();
        assert_eq!((got, rate, frames.len()), (codec, 30, 90), "{name}");
        let ffprobe_keys = ffprobe::keyframe_flags(&fixture_path(name));
        let ours: Vec<bool> = frames.iter().map(|f| f.keyframe).collect();
        assert_eq!(ours, ffprobe_keys, "{name}");
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.keyframe, i % 30 == 0, "{name} frame {i}");
            assert_eq!(is_keyframe(codec, &f.data), f.keyframe);
            assert_eq!(
                (f.time, f.duration),
                (i as u64 * 3000, 3000),
                "{name} frame {i}"
            );
            if f.keyframe {
                assert_eq!(
                    video_resolution(codec, &f.data),
                    Some((320, 240)),
                    "{name} frame {i}"
                );
            }
        }
    }
}

#[test]
fn h264_fixture_access_units() {
    let frames = read_h264_annexb(&fixture("h264-320x240-30fps.h264"), 30);
    assert_eq!(frames.len(), 90);
    let ffprobe_keys = ffprobe::keyframe_flags(&fixture_path("h264-320x240-30fps.h264"));
    assert_eq!(
        frames.iter().map(|f| f.keyframe).collect::<Vec<_>>(),
        ffprobe_keys
    );
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.keyframe, i % 30 == 0, "frame {i}");
        assert_eq!(is_keyframe(Codec::H264, &f.data), f.keyframe);
        assert_eq!((f.time, f.duration), (i as u64 * 3000, 3000));
        assert!(
            f.data.starts_with(&[0, 0, 0, 1, 0x09]),
            "each AU starts with its AUD"
        );
    }
    assert_eq!(
        video_resolution(Codec::H264, &frames[0].data),
        Some((320, 240))
    );
}

#[test]
fn h264_without_aud_splits_like_ffmpeg() {
    // Two slices per picture, no AUD: splitting must rely on first_mb_in_slice.
    let path = scratch_path!("noaud.h264");
    let bytes = ffmpeg::generate(
        "-f lavfi -i testsrc2=size=320x240:rate=30 -t 1 -c:v libx264 -g 10 -bf 0 -x264-params slices=2 -f h264",
        &path,
    );
    let frames = read_h264_annexb(&bytes, 30);
    let keys = ffprobe::keyframe_flags(&path);
    assert_eq!(frames.len(), 30);
    assert_eq!(frames.iter().map(|f| f.keyframe).collect::<Vec<_>>(), keys);
    assert!(frames
        .iter()
        .all(|f| !f.data.starts_with(&[0, 0, 0, 1, 0x09])));
}

#[test]
fn opus_fixture_packets() {
    let frames = read_ogg_opus(&fixture("opus-48k-stereo-20ms.ogg")).unwrap();
    let probe = ffprobe::probe(&fixture_path("opus-48k-stereo-20ms.ogg"));
    assert_eq!(frames.len() as u64, probe.codec("opus").frames);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!((f.time, f.duration), (i as u64 * 960, 960));
        assert!(f.keyframe && is_keyframe(Codec::Opus, &f.data));
        assert_eq!(opus_packet_samples(&f.data), Some(960));
    }
}

/// H.264 SPS variants: cropping, high profiles, 4:4:4 chroma, interlaced (field) coding.
#[test]
fn h264_sps_variants() {
    let cases = [
        ("-s 320x180 -profile:v high -pix_fmt yuv420p", (320, 180)),
        ("-s 322x242 -profile:v high444 -pix_fmt yuv444p", (322, 242)),
        ("-s 330x250 -profile:v high422 -pix_fmt yuv422p", (330, 250)),
        ("-s 640x480 -profile:v main -pix_fmt yuv420p", (640, 480)),
        (
            "-s 320x200 -pix_fmt yuv420p -flags +ilme+ildct -x264-params interlaced=1",
            (320, 200),
        ),
        (
            "-s 176x144 -pix_fmt yuv420p -x264-params cqm=jvt",
            (176, 144),
        ),
    ];
    for (i, (opts, size)) in cases.iter().enumerate() {
        let bytes = ffmpeg::generate(
            &format!("-f lavfi -i testsrc2=rate=30 -t 0.2 {opts} -c:v libx264 -f h264"),
            &scratch_path!(&format!("sps{i}.h264")),
        );
        let frames = read_h264_annexb(&bytes, 30);
        assert!(frames[0].keyframe, "{opts}");
        assert_eq!(
            video_resolution(Codec::H264, &frames[0].data),
            Some(*size),
            "{opts}"
        );
    }
}

/// VP8/VP9/AV1 at odd sizes, VP9 profiles 1 and 2, AV1 4:4:4 and 10 bit.
#[test]
fn vpx_av1_variants() {
    let cases = [
        (Codec::Vp8, "-s 322x242 -c:v libvpx", (322, 242)),
        (
            Codec::Vp9,
            "-s 322x242 -c:v libvpx-vp9 -pix_fmt yuv444p",
            (322, 242),
        ),
        (
            Codec::Vp9,
            "-s 1282x722 -c:v libvpx-vp9 -pix_fmt yuv420p10le",
            (1282, 722),
        ),
        (
            Codec::Av1,
            "-s 322x242 -c:v libaom-av1 -cpu-used 8 -pix_fmt yuv444p",
            (322, 242),
        ),
        (
            Codec::Av1,
            "-s 2000x100 -c:v libaom-av1 -cpu-used 8 -pix_fmt yuv420p10le",
            (2000, 100),
        ),
    ];
    for (i, (codec, opts, size)) in cases.iter().enumerate() {
        let bytes = ffmpeg::generate(
            &format!("-f lavfi -i testsrc2=rate=30 -frames:v 3 {opts} -f ivf"),
            &scratch_path!(&format!("var{i}.ivf")),
        );
        let (got, _, frames) = read_ivf(&bytes).unwrap();
        assert_eq!(got, *codec);
        assert!(frames[0].keyframe, "{opts}");
        assert!(!frames[1].keyframe, "{opts}");
        assert_eq!(
            video_resolution(*codec, &frames[0].data),
            Some(*size),
            "{opts}"
        );
    }
}

/// Our av1C must equal the CodecPrivate ffmpeg's Matroska muxer writes for the same stream.
#[test]
fn av1_codec_private_matches_ffmpeg() {
    for (i, opts) in [
        "",
        "-s 322x242 -cpu-used 8 -pix_fmt yuv444p",
        "-s 64x64 -cpu-used 8 -pix_fmt yuv420p10le",
    ]
    .iter()
    .enumerate()
    {
        let ivf = if opts.is_empty() {
            fixture("av1-320x240-30fps.ivf")
        } else {
            ffmpeg::generate(
                &format!("-f lavfi -i testsrc2=rate=30 -frames:v 2 {opts} -c:v libaom-av1 -f ivf"),
                &scratch_path!(&format!("av1c{i}.ivf")),
            )
        };
        let ivf_path = scratch_path!(&format!("av1c{i}-in.ivf"));
        std::fs::write(&ivf_path, &ivf).unwrap();
        let mkv = scratch_path!(&format!("av1c{i}.mkv"));
        ffmpeg::run(&[
            "-i",
            ivf_path.to_str().unwrap(),
            "-c",
            "copy",
            mkv.to_str().unwrap(),
        ]);
        let info = mkvtoolnix::identify(&mkv);
        let expected = info["tracks"][0]["properties"]["codec_private_data"]
            .as_str()
            .unwrap()
            .to_string();
        let (_, _, frames) = read_ivf(&ivf).unwrap();
        let ours = av1_codec_private(&frames[0].data).expect("first TU has a sequence header");
        assert_eq!(hex::encode(&ours), expected, "{opts}");
        assert_eq!(
            av1_codec_private(&frames[1].data),
            None,
            "no sequence header in later TUs"
        );
    }
}

/// Good-quality VP9 (two-pass) and AV1 encodes use hidden alt-ref frames: VP9 superframes with an
/// index, AV1 temporal units with several frames / show_existing_frame. Key frames still match.
#[test]
fn keyframes_with_hidden_frames_match_ffprobe() {
    let src = "-f lavfi -i testsrc2=size=160x120:rate=30 -frames:v 45";
    let log = scratch_path!("vp9-2pass");
    let log = log.to_str().unwrap();
    let first_pass =
        format!("{src} -c:v libvpx-vp9 -b:v 200k -pass 1 -passlogfile {log} -f null -");
    ffmpeg::run(&first_pass.split_whitespace().collect::<Vec<_>>());
    let vp9 = scratch_path!("vp9-arf.ivf");
    ffmpeg::generate(
        &format!(
            "{src} -c:v libvpx-vp9 -b:v 200k -pass 2 -passlogfile {log} -auto-alt-ref 1 \
             -lag-in-frames 16 -g 20 -f ivf"
        ),
        &vp9,
    );
    let av1 = scratch_path!("av1-arf.ivf");
    ffmpeg::generate(
        &format!("{src} -c:v libaom-av1 -cpu-used 8 -lag-in-frames 16 -g 20 -f ivf"),
        &av1,
    );
    for (codec, path) in [(Codec::Vp9, vp9), (Codec::Av1, av1)] {
        let (_, _, frames) = read_ivf(&std::fs::read(&path).unwrap()).unwrap();
        let ours: Vec<bool> = frames.iter().map(|f| f.keyframe).collect();
        assert_eq!(ours, ffprobe::keyframe_flags(&path), "{codec:?}");
        assert_eq!(ours.iter().filter(|&&k| k).count(), 3, "{codec:?}");
        if codec == Codec::Vp9 {
            let superframes = frames
                .iter()
                .filter(|f| f.data.last().is_some_and(|b| b & 0xE0 == 0xC0));
            assert!(superframes.count() > 0, "the VP9 encode has superframes");
        }
    }
}

/// VP9 key frame followed by more frames: with a superframe index (IVF / WebM) or plainly
/// concatenated spatial layers (str0m depacketizer), the first frame decides.
#[test]
fn vp9_first_frame_of_superframe_decides() {
    let (_, _, frames) = read_ivf(&fixture("vp9-320x240-30fps.ivf")).unwrap();
    let (key, inter) = (&frames[0].data, &frames[1].data);
    let superframe = |a: &[u8], b: &[u8]| {
        let mut v = [a, b].concat();
        let marker = 0b1100_0000 | (3 << 3) | 1; // 4 bytes per size, 2 frames
        v.push(marker);
        v.extend_from_slice(&(a.len() as u32).to_le_bytes());
        v.extend_from_slice(&(b.len() as u32).to_le_bytes());
        v.push(marker);
        v
    };
    for data in [superframe(key, inter), [&key[..], inter].concat()] {
        assert!(is_keyframe(Codec::Vp9, &data));
        assert_eq!(video_resolution(Codec::Vp9, &data), Some((320, 240)));
    }
    for data in [superframe(inter, key), [&inter[..], key].concat()] {
        assert!(!is_keyframe(Codec::Vp9, &data));
        assert_eq!(video_resolution(Codec::Vp9, &data), None);
    }
}

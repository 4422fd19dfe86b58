//! What the browser test asserts about one publisher: its files (ffprobe / ffmpeg), their
//! manifest entries, the recorder's log, and its messages next to the real web app's.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use roomrec_core::signaling::Cipher;
use roomrec_tests::probe::{decode_errors, media_files, probe};
use serde_json::Value;

use crate::harness::cdp::Browser;
use crate::harness::shapes::{self, kind, payload};
use crate::{media_starts, Guest, Scenario};

/// A file's duration may differ this much from the time the page was sending.
const DURATION_SLACK_S: f64 = 1.0;

pub struct Facts<'a> {
    pub s: &'a Scenario,
    pub g: &'a Guest,
    /// Page state just before SIGINT (sending statistics) and after the recorder left.
    pub before: &'a Value,
    pub after: &'a Value,
    /// Unix ms of the SIGINT.
    pub stop_ms: f64,
    pub out: &'a Path,
    pub manifest: &'a [Value],
    /// The recorder's `--trace-signaling` lines.
    pub trace: &'a [Value],
    pub log: &'a str,
}

pub fn read_trace(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The `files` of `{room}_manifest.json`.
pub fn read_manifest(out: &Path, room: &str) -> Vec<Value> {
    let path = out.join(format!("{room}_manifest.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    json["files"].as_array().cloned().unwrap_or_default()
}

pub fn guest(
    f: &Facts,
    cipher: Option<&Cipher>,
    errors: &mut Vec<String>,
    report: &mut Vec<String>,
) {
    let who = f.g.stream;
    let mut errs = Vec::new();
    if f.after["errors"].as_array().is_none_or(|e| !e.is_empty()) {
        errs.push(format!("page errors: {}", f.after["errors"]));
    }
    if f.g.video() {
        // Chromium's fake device delivers exactly the size and rate the page asks for.
        let cam = &f.after["camera"];
        let got = (
            cam["width"].as_u64(),
            cam["height"].as_u64(),
            cam["fps"].as_u64(),
        );
        let (w, h, fps) = f.g.camera;
        if got != (Some(w), Some(h), Some(fps)) {
            errs.push(format!(
                "fake camera gave {got:?}, asked for {:?}",
                f.g.camera
            ));
        }
    }
    let visits = if f.g.rejoin { 2 } else { 1 };
    let starts = media_starts(f.after);
    let files = media_files(f.out, &format!("{}_{}_", f.s.room, f.g.stream));
    if files.len() != visits || starts.len() != visits {
        errs.push(format!(
            "{visits} visit(s): {} media start(s) on the page, files {files:?}",
            starts.len()
        ));
    } else {
        for (i, file) in files.iter().enumerate() {
            let end = if i + 1 < visits {
                f.after["hungUpAt"].as_f64().unwrap_or(f64::NAN)
            } else {
                f.stop_ms
            };
            let sent_s = (end - starts[i]) / 1000.0;
            check_file(f, file, sent_s, &mut errs, report);
        }
    }
    check_log(f, visits, &mut errs);
    check_wire(f, cipher, visits, &mut errs);
    check_data_channel(f, cipher, visits, &mut errs);
    let peer = f.before["peers"]
        .as_object()
        .and_then(|p| p.values().next());
    if let Some(video) = peer.map(|p| &p["video"]).filter(|v| v.is_object()) {
        report.push(format!(
            "{who}: Chromium sent {} {}x{} at {} fps ({}, quality limitation: {})",
            video["codec"],
            video["width"],
            video["height"],
            video["fps"],
            video["encoder"],
            video["limitation"]
        ));
    }
    errors.extend(errs.into_iter().map(|e| format!("{who}: {e}")));
}

fn check_file(
    f: &Facts,
    file: &Path,
    sent_s: f64,
    errs: &mut Vec<String>,
    report: &mut Vec<String>,
) {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_string();
    let info = probe(file);
    let (video, audio) = (info.stream("video"), info.stream("audio"));
    let wanted = usize::from(f.g.video()) + usize::from(f.g.audio);
    if info.streams.len() != wanted {
        errs.push(format!(
            "{name}: {} streams, expected {wanted}: {:?}",
            info.streams.len(),
            info.streams
        ));
    }
    if video.map(|v| v.codec.as_str()) != f.g.vcodec {
        errs.push(format!(
            "{name}: video {:?}, expected {:?}",
            video.map(|v| &v.codec),
            f.g.vcodec
        ));
    }
    if audio.map(|a| a.codec.as_str()) != f.g.audio.then_some("opus") {
        errs.push(format!(
            "{name}: audio {:?}, expected opus: {}",
            audio.map(|a| &a.codec),
            f.g.audio
        ));
    }
    let duration = info.duration.unwrap_or(0.0);
    if (duration - sent_s).abs() > DURATION_SLACK_S {
        errs.push(format!(
            "{name}: {duration:.2} s long, the page sent for {sent_s:.2} s"
        ));
    }
    match decode_check(file, video.is_some()) {
        Ok(None) => {}
        Ok(Some(note)) => report.push(format!("{name}: note: {note}")),
        Err(e) => errs.push(format!("{name}: ffmpeg decode errors: {e}")),
    }
    let Some(entry) = f.manifest.iter().find(|e| e["file"] == name.as_str()) else {
        return errs.push(format!("{name}: not in the manifest"));
    };
    if entry["complete"] != true
        || entry["stream_id"] != f.g.stream
        || entry["label"] != f.g.label().as_str()
    {
        errs.push(format!("{name}: manifest entry {entry}"));
    }
    let mut counted = |kind: &str, s: Option<&roomrec_tests::probe::StreamInfo>| {
        let frames = s.map_or(0, |s| s.frames);
        if entry["frames"][kind].as_u64() != Some(frames) {
            errs.push(format!(
                "{name}: manifest says {} {kind} frames, ffprobe decodes {frames}",
                entry["frames"][kind]
            ));
        }
    };
    counted("video", video);
    counted("audio", audio);
    if (entry["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0 - duration).abs() > 0.25 {
        errs.push(format!(
            "{name}: manifest duration {} ms, ffprobe {duration:.3} s",
            entry["duration_ms"]
        ));
    }
    let mut size = String::new();
    if video.is_some() {
        let sizes = check_resolutions(&name, file, entry, f.g.camera, errs);
        let sizes: Vec<String> = sizes.iter().map(|(w, h)| format!("{w}x{h}")).collect();
        size = format!(" {}", sizes.join("→"));
    }
    let rate = |s: Option<&roomrec_tests::probe::StreamInfo>| {
        s.map_or(0.0, |s| s.frames as f64 / duration.max(0.001))
    };
    if video.is_some() && rate(video) < 8.0 {
        errs.push(format!(
            "{name}: only {:.1} video frames/s (camera: 15)",
            rate(video)
        ));
    }
    if audio.is_some() && rate(audio) < 40.0 {
        errs.push(format!(
            "{name}: only {:.1} audio frames/s (Opus: 50)",
            rate(audio)
        ));
    }
    report.push(format!(
        "{name}: {}{size}, {} video frames ({:.1}/s), {} audio frames ({:.1}/s), {duration:.2} s (page sent {sent_s:.2} s)",
        [video.map(|v| v.codec.clone()), audio.map(|a| a.codec.clone())].into_iter().flatten().collect::<Vec<_>>().join("+"),
        video.map_or(0, |v| v.frames),
        rate(video),
        audio.map_or(0, |a| a.frames),
        rate(audio)
    ));
}

/// `ffmpeg -v error -i F -f null -` must print nothing, with one exception that is not the
/// file's fault: Chromium stamps frames at capture, and under CPU load a late frame can land in
/// the same slot of the nominal frame rate as the next one; ffmpeg's null output (time base
/// 1/frame rate) then reports non-monotonic DTS for output stream 0. That is tolerated (as a
/// note) only when the file's video timestamps strictly increase and a decode in the file's own
/// time base (`-enc_time_base -1`) prints nothing.
pub fn decode_check(file: &Path, has_video: bool) -> Result<Option<String>, String> {
    let literal = decode_errors(file);
    if literal.is_empty() {
        return Ok(None);
    }
    let collision = |l: &str| l.contains("non monotonically increasing dts to muxer in stream 0:");
    if !has_video || !literal.lines().all(collision) {
        return Err(literal);
    }
    let pts = packet_times(file, "v");
    if let Some(w) = pts.windows(2).find(|w| w[1] <= w[0]) {
        return Err(format!("{literal} (video pts {} then {})", w[0], w[1]));
    }
    let own_base = ffmpeg_stderr(&["-enc_time_base", "-1"], file);
    if !own_base.is_empty() {
        return Err(format!(
            "{literal}\nand in the file's time base: {own_base}"
        ));
    }
    let closest = pts
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    Ok(Some(format!(
        "two video frames {:.0} ms apart (capture jitter) collide at the nominal frame rate in ffmpeg's null output; clean in the file's time base",
        closest * 1000.0
    )))
}

/// `ffmpeg -v error -i FILE <extra> -f null -` stderr.
fn ffmpeg_stderr(extra: &[&str], file: &Path) -> String {
    std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(extra)
        .args(["-f", "null", "-"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_else(|e| e.to_string())
}

/// Packet presentation times (s) of the first stream of `kind` (v, a), in file order.
fn packet_times(file: &Path, kind: &str) -> Vec<f64> {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            kind,
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect()
}

/// The encoder may scale the camera down (CPU, bandwidth ramp-up), never up and never off its
/// aspect ratio; the manifest's list of sizes is the sequence of sizes of the decoded frames.
fn check_resolutions(
    name: &str,
    file: &Path,
    entry: &Value,
    camera: (u64, u64, u64),
    errs: &mut Vec<String>,
) -> Vec<(u64, u64)> {
    let manifest: Vec<(u64, u64)> = entry["resolutions"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| {
                    (
                        r["width"].as_u64().unwrap_or(0),
                        r["height"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let decoded = frame_sizes(file);
    if manifest != decoded {
        errs.push(format!(
            "{name}: manifest resolutions {manifest:?}, decoded frames {decoded:?}"
        ));
    }
    let (cw, ch, _) = camera;
    for &(w, h) in &decoded {
        let off = (w as f64 / h.max(1) as f64 - cw as f64 / ch as f64).abs();
        if w > cw || h > ch || off > 0.05 {
            errs.push(format!(
                "{name}: frames of {w}x{h} cannot come from a {cw}x{ch} camera"
            ));
        }
    }
    decoded
}

/// Sizes of the decoded video frames, consecutive repeats collapsed.
fn frame_sizes(file: &Path) -> Vec<(u64, u64)> {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "frame=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut sizes: Vec<(u64, u64)> = Vec::new();
    for line in out.lines() {
        let mut parts = line
            .split(',')
            .map(|p| p.trim().parse::<u64>().unwrap_or(0));
        let size = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if sizes.last() != Some(&size) {
            sizes.push(size);
        }
    }
    sizes
}

/// The recorder (core) logged the offer and the connection for every visit.
fn check_log(f: &Facts, visits: usize, errs: &mut Vec<String>) {
    let stream = format!("stream={}", f.g.stream);
    let count = |what: &str| {
        f.log
            .lines()
            .filter(|l| l.contains(what) && l.split_whitespace().any(|w| w == stream))
            .count()
    };
    for what in ["offer received", "connected session="] {
        if count(what) < visits {
            errs.push(format!(
                "recorder logged {} \"{what}\" for {stream}, expected {visits}",
                count(what)
            ));
        }
    }
}

/// WebSocket messages of this page as the recorder received them (through the relay).
fn check_wire(f: &Facts, cipher: Option<&Cipher>, visits: usize, errs: &mut Vec<String>) {
    let sent = f.after["sent"].as_array().cloned().unwrap_or_default();
    let ids: BTreeSet<String> = sent
        .iter()
        .filter(|m| m["channel"] == "ws")
        .filter_map(|m| m["msg"]["from"].as_str().map(str::to_string))
        .collect();
    if ids.len() != visits {
        errs.push(format!(
            "{} page ids for {visits} visit(s): {ids:?}",
            ids.len()
        ));
    }
    let mine = |dir: &str| -> Vec<Value> {
        f.trace
            .iter()
            .filter(|l| l["dir"] == dir)
            .filter_map(|l| serde_json::from_str::<Value>(l["text"].as_str()?).ok())
            .filter(|m| {
                let field = if dir == "in" { "from" } else { "UUID" };
                m[field].as_str().is_some_and(|id| ids.contains(id))
            })
            .collect()
    };
    let ours = mine("in");
    shapes::compare_fields(&ours, "ws", &shapes::reference(f.s.password), "ws", errs);
    let secrets = f.s.secrets();
    let wire_stream = secrets.wire_stream_id(f.g.stream);
    let mut kinds = Vec::new();
    for m in &ours {
        kinds.push(kind(m));
        if m["roomid"] != secrets.room_wire.as_str() {
            errs.push(format!(
                "roomid {} instead of {}",
                m["roomid"], secrets.room_wire
            ));
        }
        match kind(m) {
            "joinroom" | "offer" if m["streamID"] != wire_stream.as_str() => errs.push(format!(
                "{} streamID {} instead of {wire_stream}",
                kind(m),
                m["streamID"]
            )),
            "offer" => match payload(m, "description", cipher) {
                Ok(d)
                    if d["type"] == "offer"
                        && shapes::m_lines(d["sdp"].as_str().unwrap_or("")) == ["application"] => {}
                Ok(d) => errs.push(format!("first offer must be data channel only: {d}")),
                Err(e) => errs.push(format!("offer: {e}")),
            },
            "candidates" => match payload(m, "candidates", cipher) {
                Ok(list) => shapes::check_candidates(&list, "ws candidates", errs),
                Err(e) => errs.push(format!("candidates: {e}")),
            },
            _ => {}
        }
    }
    // A recorder that joins after the publisher never sees that visit's joinroom.
    let joins = visits - usize::from(!f.s.recorder_first);
    for (k, n) in [
        ("joinroom", joins),
        ("offer", visits),
        ("candidates", visits),
    ] {
        if kinds.iter().filter(|&&x| x == k).count() < n {
            errs.push(format!(
                "the recorder received {kinds:?} from this page, expected {n} {k}"
            ));
        }
    }
    let answers = mine("out")
        .iter()
        .filter(|m| payload(m, "description", cipher).is_ok_and(|d| d["type"] == "answer"))
        .count();
    if answers < visits {
        errs.push(format!(
            "{answers} WebSocket answers from the recorder for {visits} visit(s)"
        ));
    }
}

/// The page's data-channel messages (info, re-offer) and the recorder's request.
fn check_data_channel(f: &Facts, cipher: Option<&Cipher>, visits: usize, errs: &mut Vec<String>) {
    let of = |list: &str| -> Vec<Value> {
        f.after[list]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter(|m| m["channel"] == "dc")
                    .map(|m| m["msg"].clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    let sent = of("sent");
    shapes::compare_fields(&sent, "dc", &shapes::reference(f.s.password), "dc", errs);
    let infos = sent
        .iter()
        .filter(|m| m["info"]["label"] == f.g.label().as_str())
        .count();
    let mut reoffers = 0;
    for m in sent.iter().filter(|m| kind(m) == "offer") {
        reoffers += 1;
        if m["streamID"] != f.g.stream {
            errs.push(format!(
                "re-offer streamID {} (the web app sends the plain id)",
                m["streamID"]
            ));
        }
        let sdp = match payload(m, "description", cipher) {
            Ok(d) => d["sdp"].as_str().unwrap_or("").to_string(),
            Err(e) => {
                errs.push(format!("re-offer: {e}"));
                continue;
            }
        };
        let expected: Vec<&str> = ["application"]
            .into_iter()
            .chain(f.g.video().then_some("video"))
            .chain(f.g.audio.then_some("audio"))
            .collect();
        if shapes::m_lines(&sdp) != expected {
            errs.push(format!(
                "re-offer m-lines {:?}, expected {expected:?}",
                shapes::m_lines(&sdp)
            ));
        }
        let codecs = shapes::video_codecs(&sdp);
        let only = |codec: &str| codecs.iter().all(|c| c == codec || c == "rtx");
        match f.g.vcodec {
            Some(codec) if f.g.restrict && (codecs.is_empty() || !only(codec)) => errs.push(
                format!("re-offer video codecs {codecs:?}, only {codec} (+rtx) allowed"),
            ),
            // Unrestricted: Chromium's whole list, the recorder's preferVideoCodec first.
            Some(codec)
                if !f.g.restrict
                    && (codecs.first().map(String::as_str) != Some(codec) || codecs.len() < 4) =>
            {
                errs.push(format!(
                    "re-offer video codecs {codecs:?}, expected {codec} first of all"
                ))
            }
            _ => {}
        }
    }
    if infos < visits || reoffers < visits {
        errs.push(format!(
            "{infos} info and {reoffers} re-offer messages for {visits} visit(s)"
        ));
    }
    let requests: Vec<Value> = of("received")
        .into_iter()
        .filter(|m| m.get("allowchunked").is_some())
        .collect();
    if requests.len() < visits {
        errs.push(format!(
            "{} data-channel requests from the recorder",
            requests.len()
        ));
    }
    let prefer = f.s.codecs.and_then(|c| c.split(',').next());
    for r in &requests {
        let bad_prefer = r["preferVideoCodec"].as_str() != prefer;
        if r["allowchunked"] != false
            || r["allowwebp"] != false
            || r["audio"] != true
            || r["video"] != true
            || bad_prefer
        {
            errs.push(format!("recorder's request: {r}"));
        }
    }
}

/// The page's hashing and encryption against the protocol's test vectors and the core's cipher.
pub async fn crypto_vectors(browser: &Browser, pages: std::net::SocketAddr) -> Vec<String> {
    const IV: &str = "000102030405060708090a0b0c0d0e0f";
    const PLAIN: &str = r#"{"type":"answer","sdp":"v=0\r\n"}"#;
    let mut errors = Vec::new();
    let page = match browser.open(&format!("http://{pages}/selftest.html")).await {
        Ok(p) => p,
        Err(e) => return vec![format!("self-test page: {e}")],
    };
    let script = format!(
        r#"(async () => {{
            const C = window.VdoCrypto;
            const d = await C.makeSecrets("testroom123", "streamY", null, "vdo.ninja");
            const h = await C.makeSecrets("testroom123", "streamY", "hunter2", "vdo.ninja");
            const n = await C.makeSecrets("testroom123", "streamY", "false", "vdo.ninja");
            const [ct] = await C.encrypt(d.key, {plain}, "{IV}");
            const back = await C.decrypt(d.key, ct, "{IV}");
            return JSON.stringify([d.roomid, d.streamID, h.roomid, h.streamID, n.roomid, n.streamID, ct, back]);
        }})()"#,
        plain = serde_json::to_string(PLAIN).unwrap_or_default()
    );
    let mut got = Err("VdoCrypto never loaded".to_string());
    for _ in 0..100 {
        got = browser.eval(&page, &script).await;
        if got.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.close_page(&page).await;
    let got: Vec<String> =
        match got.map(|v| serde_json::from_str(v.as_str().unwrap_or("")).unwrap_or_default()) {
            Ok(v) => v,
            Err(e) => return vec![format!("crypto self-test: {e}")],
        };
    let mut iv = [0u8; 16];
    iv.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    let (core_ct, _) = Cipher::new("someEncryptionKey123", "vdo.ninja").encrypt(PLAIN, iv);
    let doc_ct = "e3cbc3ad10ee89125690f59776c972d770723acec02df276fe7c02a800d34f83bfa792e1450b421fd51f9f101d21c8d0";
    let expected = [
        "f8a52950fcaa9910",
        "streamY808d64",
        "91ef82c5e9e46c4f",
        "streamY1c2bdc",
        "testroom123",
        "streamY",
        doc_ct,
        PLAIN,
    ];
    if got != expected {
        errors.push(format!(
            "page crypto: got {got:?}, protocol vectors {expected:?}"
        ));
    }
    if core_ct != doc_ct {
        errors.push(format!(
            "core cipher gives {core_ct}, the protocol doc {doc_ct}"
        ));
    }
    errors
}

//! The page's messages as the recorder received them, and its data-channel messages, next to the
//! real web app's; the page's crypto against the protocol's test vectors.

use std::collections::BTreeSet;
use std::time::Duration;

use roomrec_core::signaling::Cipher;
use serde_json::Value;

use crate::checks::Facts;
use crate::harness::cdp::Browser;
use crate::harness::shapes::{self, kind, payload};

/// WebSocket messages of this page as the recorder received them (through the relay).
pub fn check_wire(f: &Facts, cipher: Option<&Cipher>, visits: usize, errs: &mut Vec<String>) {
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
    // `--trace-signaling` lines: what we sent has sender "viewer" and no `peer`; relay-dialect
    // messages name their sender in `from` and their addressee in `UUID`.
    let mine = |incoming: bool| -> Vec<Value> {
        f.trace
            .iter()
            .filter(|l| incoming || (l["sender"] == "viewer" && l.get("peer").is_none()))
            .map(|l| &l["msg"])
            .filter(|m| {
                let field = if incoming { "from" } else { "UUID" };
                m[field].as_str().is_some_and(|id| ids.contains(id))
            })
            .cloned()
            .collect()
    };
    let ours = mine(true);
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
    let answers = mine(false)
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
pub fn check_data_channel(
    f: &Facts,
    cipher: Option<&Cipher>,
    visits: usize,
    errs: &mut Vec<String>,
) {
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

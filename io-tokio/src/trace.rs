//! Optional signaling trace (`--trace-signaling FILE`): every WebSocket text frame, in and out, as
//! one JSON line in the format of the captured traces in `tests/fixtures/traces/`:
//! `{"t_ms":..,"sender":"viewer"|"publisher","channel":"ws","peer":..,"msg":{..}}`.
//! We are the viewer; an incoming message is labelled with its sender's role when known (a peer
//! that announced no stream or offered as a scene is a viewer), else "publisher", and carries
//! `peer` when the sender is named. With redaction, SDPs, candidates and IVs are replaced.
//! Written by its own thread so a slow disk never delays signaling.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use serde_json::{json, Map, Value};

/// Fields whose values `--trace-redact` hides: SDPs, candidates and the IVs of sealed payloads.
pub const REDACTED_FIELDS: [&str; 4] = ["description", "candidates", "candidate", "vector"];

struct Entry {
    at: Instant,
    incoming: bool,
    text: String,
}

pub(crate) struct SignalingTrace {
    tx: mpsc::Sender<Entry>,
}

impl SignalingTrace {
    pub fn open(path: &Path, redact: bool) -> std::io::Result<SignalingTrace> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let (tx, rx) = mpsc::channel::<Entry>();
        let shown = path.display().to_string();
        std::thread::Builder::new()
            .name("roomrec-trace".into())
            .spawn(move || {
                let mut w = BufWriter::new(f);
                let mut format = TraceFormat::new(redact);
                for entry in rx.iter() {
                    let line = format.line(entry.at, entry.incoming, &entry.text);
                    let r = w
                        .write_all(line.as_bytes())
                        .and_then(|()| w.write_all(b"\n"))
                        .and_then(|()| w.flush());
                    if let Err(e) = r {
                        tracing::error!("signaling trace {shown}: {e}; tracing stopped");
                        return;
                    }
                }
            })?;
        Ok(SignalingTrace { tx })
    }

    /// `dir`: "in" or "out"; `_generation`: which WebSocket connection (not part of the format).
    pub fn record(&self, dir: &str, _generation: u64, text: &str) {
        let entry = Entry {
            at: Instant::now(),
            incoming: dir == "in",
            text: text.to_string(),
        };
        let _ = self.tx.send(entry);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Viewer,
    Publisher,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Publisher => "publisher",
        }
    }
}

/// Turns texts into trace lines; remembers the roles of the peers it has seen.
pub struct TraceFormat {
    redact: bool,
    first: Option<Instant>,
    roles: HashMap<String, Role>,
}

impl TraceFormat {
    pub fn new(redact: bool) -> TraceFormat {
        TraceFormat {
            redact,
            first: None,
            roles: HashMap::new(),
        }
    }

    /// One trace line (without newline) for a text sent (`incoming` false) or received at `at`.
    pub fn line(&mut self, at: Instant, incoming: bool, text: &str) -> String {
        let first = *self.first.get_or_insert(at);
        let t_ms = at.saturating_duration_since(first).as_millis() as u64;
        let parsed = serde_json::from_str::<Value>(text).ok();
        let mut line = Map::new();
        line.insert("t_ms".into(), json!(t_ms));
        let (sender, peer) = match (&parsed, incoming) {
            (Some(Value::Object(msg)), true) => self.sender_of(msg),
            (_, true) => (Role::Publisher, None),
            (_, false) => (Role::Viewer, None),
        };
        line.insert("sender".into(), json!(sender.name()));
        line.insert("channel".into(), json!("ws"));
        if let Some(peer) = peer {
            line.insert("peer".into(), json!(peer));
        }
        let mut msg = parsed.unwrap_or_else(|| Value::String(text.to_string()));
        if self.redact {
            redact(&mut msg);
        }
        line.insert("msg".into(), msg);
        Value::Object(line).to_string()
    }

    /// The sender's role and id of an incoming message. Relay dialect: `from`; official: `UUID`
    /// (the server rewrites it to the sender; the relay dialect uses it for the addressee).
    fn sender_of(&mut self, msg: &Map<String, Value>) -> (Role, Option<String>) {
        let text = |k: &str| msg.get(k).and_then(Value::as_str);
        let Some(peer) = text("from").or_else(|| text("UUID")).map(str::to_string) else {
            return (Role::Publisher, None);
        };
        let announces_stream = text("streamID").is_some_and(|s| !s.is_empty());
        let learned = match text("request") {
            Some("joinroom" | "videoaddedtoroom" | "someonejoined" | "seed") => {
                Some(if announces_stream {
                    Role::Publisher
                } else {
                    Role::Viewer
                })
            }
            _ if msg.contains_key("description") => match msg.get("isScene") {
                None | Some(Value::Null) | Some(Value::Bool(false)) => Some(Role::Publisher),
                Some(_) => Some(Role::Viewer),
            },
            _ => None,
        };
        if let Some(role) = learned {
            self.roles.insert(peer.clone(), role);
        }
        let role = self.roles.get(&peer).copied().unwrap_or(Role::Publisher);
        (role, Some(peer))
    }
}

/// Replaces the values of [`REDACTED_FIELDS`] at any depth with `"<redacted>"`.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(obj) => {
            for (key, v) in obj.iter_mut() {
                if REDACTED_FIELDS.contains(&key.as_str()) {
                    *v = json!("<redacted>");
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn lines_have_the_fixture_format() {
        let t0 = Instant::now();
        let mut f = TraceFormat::new(false);
        let out = parse(&f.line(
            t0,
            false,
            r#"{"request":"joinroom","roomid":"r","from":"me"}"#,
        ));
        assert_eq!(out["t_ms"], 0);
        assert_eq!(out["sender"], "viewer");
        assert_eq!(out["channel"], "ws");
        assert!(out.get("peer").is_none());
        assert_eq!(out["msg"]["request"], "joinroom");
        let joined = r#"{"request":"joinroom","roomid":"r","streamID":"cam","from":"pub1"}"#;
        let out = parse(&f.line(t0 + Duration::from_millis(1500), true, joined));
        assert_eq!(out["t_ms"], 1500);
        assert_eq!(out["sender"], "publisher");
        assert_eq!(out["peer"], "pub1");
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["channel", "msg", "peer", "sender", "t_ms"]);
    }

    #[test]
    fn roles_are_learned_per_peer() {
        let t0 = Instant::now();
        let mut f = TraceFormat::new(false);
        let scene = r#"{"request":"joinroom","roomid":"r","from":"scene1"}"#;
        assert_eq!(parse(&f.line(t0, true, scene))["sender"], "viewer");
        let cands = r#"{"UUID":"me","candidates":[],"session":"s","from":"scene1"}"#;
        assert_eq!(parse(&f.line(t0, true, cands))["sender"], "viewer");
        // Official dialect: the sender is in UUID; an offer that is not a scene's is a publisher's.
        let offer = r#"{"UUID":"p2","description":{"type":"offer","sdp":"v=0"},"session":"s","isScene":false}"#;
        let out = parse(&f.line(t0, true, offer));
        assert_eq!(
            (out["sender"].as_str(), out["peer"].as_str()),
            (Some("publisher"), Some("p2"))
        );
        let listing = r#"{"request":"listing","list":[]}"#;
        let out = parse(&f.line(t0, true, listing));
        assert_eq!(out["sender"], "publisher");
        assert!(out.get("peer").is_none());
    }

    #[test]
    fn redaction_hides_sdp_candidates_and_ivs() {
        let t0 = Instant::now();
        let mut f = TraceFormat::new(true);
        let text = r#"{"UUID":"u","description":"abcd","vector":"00ff","session":"s","nested":[{"candidate":"c"}],"candidates":[{"candidate":"candidate:1 1 udp 1 10.0.0.1 9 typ host"}]}"#;
        let out = parse(&f.line(t0, true, text));
        let msg = &out["msg"];
        for key in ["description", "vector", "candidates"] {
            assert_eq!(msg[key], "<redacted>", "{key}");
        }
        assert_eq!(msg["nested"][0]["candidate"], "<redacted>");
        assert_eq!(msg["session"], "s");
        assert!(!out.to_string().contains("10.0.0.1"));
        let plain = parse(&TraceFormat::new(false).line(t0, true, text));
        assert_eq!(plain["msg"]["vector"], "00ff");
    }

    #[test]
    fn non_json_text_is_kept_as_a_string() {
        let out = parse(&TraceFormat::new(false).line(Instant::now(), true, "not json"));
        assert_eq!(out["msg"], "not json");
        assert_eq!(out["sender"], "publisher");
    }

    #[test]
    fn writer_thread_appends_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.jsonl");
        let trace = SignalingTrace::open(&path, false).unwrap();
        trace.record("out", 0, r#"{"request":"joinroom","roomid":"r"}"#);
        trace.record("in", 0, r#"{"request":"play","streamID":"x","from":"p"}"#);
        drop(trace);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.lines().count() == 2 || Instant::now() > deadline {
                let lines: Vec<Value> = text.lines().map(parse).collect();
                assert_eq!(lines.len(), 2);
                assert_eq!(lines[0]["sender"], "viewer");
                assert_eq!(lines[1]["peer"], "p");
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

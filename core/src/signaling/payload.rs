//! Pieces shared by the WebSocket and data-channel codecs: reading (and decrypting) `description`
//! and `candidates`, writing them back, and a JSON object writer that keeps key order. Public so
//! the synthetic publisher (`roomrec-testpeer`) seals and opens exactly like the recorder.

use serde_json::{Map, Value};

use super::crypto::Cipher;
use super::message::{DecodeError, IceCandidate};

/// A JSON object (serde_json's map).
pub type Obj = Map<String, Value>;

/// A JSON value that may come encrypted: a hex string plus `vector` in the same message.
/// Returns the plaintext value and whether it was encrypted.
pub fn open(
    cipher: Option<&Cipher>,
    obj: &Obj,
    field: &'static str,
) -> Result<(Value, bool), DecodeError> {
    let Some(value) = obj.get(field) else {
        return Err(DecodeError::BadField(field));
    };
    let Value::String(hex) = value else {
        return Ok((value.clone(), false));
    };
    let vector = match obj.get("vector") {
        Some(Value::String(v)) => v,
        _ => return Err(DecodeError::BadField("vector")),
    };
    let cipher = cipher.ok_or(DecodeError::NoKey)?;
    let text = cipher
        .decrypt(hex, vector)
        .map_err(|e| DecodeError::Decrypt(format!("{field}: {e}")))?;
    let plain = serde_json::from_str(&text)
        .map_err(|_| DecodeError::Decrypt(format!("{field}: plaintext is not JSON")))?;
    Ok((plain, true))
}

/// `{"type":..,"sdp":..}` -> (type, sdp).
pub fn description(v: &Value) -> Result<(String, String), DecodeError> {
    let obj = v.as_object().ok_or(DecodeError::BadField("description"))?;
    let kind = str_field(obj, "type", "description.type")?;
    let sdp = str_field(obj, "sdp", "description.sdp")?;
    Ok((kind, sdp))
}

fn str_field(obj: &Obj, key: &str, name: &'static str) -> Result<String, DecodeError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(DecodeError::BadField(name)),
    }
}

/// Optional string field: absent or null -> None, other types -> BadField.
pub(crate) fn opt_str(obj: &Obj, key: &'static str) -> Result<Option<String>, DecodeError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(DecodeError::BadField(key)),
    }
}

/// A candidate array or a single candidate object; entries without a candidate line are dropped
/// (browsers send an empty one at the end of gathering).
pub(crate) fn candidates(v: &Value) -> Result<Vec<IceCandidate>, DecodeError> {
    let list = match v {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(v),
        _ => return Err(DecodeError::BadField("candidates")),
    };
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        if let Some(c) = candidate(item)? {
            out.push(c);
        }
    }
    Ok(out)
}

fn candidate(v: &Value) -> Result<Option<IceCandidate>, DecodeError> {
    let obj = v.as_object().ok_or(DecodeError::BadField("candidate"))?;
    let line = match opt_str(obj, "candidate")? {
        Some(line) if !line.is_empty() => line,
        _ => return Ok(None),
    };
    let sdp_mline_index = match obj.get("sdpMLineIndex") {
        None | Some(Value::Null) => None,
        Some(n) => Some(
            n.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or(DecodeError::BadField("sdpMLineIndex"))?,
        ),
    };
    Ok(Some(IceCandidate {
        candidate: line,
        sdp_mid: opt_str(obj, "sdpMid")?,
        sdp_mline_index,
        username_fragment: opt_str(obj, "usernameFragment")?,
    }))
}

/// Reads `candidates` or `candidate`, whichever is present (None when neither).
pub fn open_candidates(
    cipher: Option<&Cipher>,
    obj: &Obj,
) -> Result<Option<Vec<IceCandidate>>, DecodeError> {
    for field in ["candidates", "candidate"] {
        if obj.contains_key(field) {
            let (plain, _) = open(cipher, obj, field)?;
            return candidates(&plain).map(Some);
        }
    }
    Ok(None)
}

/// JSON text of `{"type":kind,"sdp":sdp}` with the keys in the browser's order (this exact text is
/// what gets encrypted).
pub fn description_json(kind: &str, sdp: &str) -> String {
    object(&[("type", json(kind)), ("sdp", json(sdp))])
}

/// JSON text of a candidate array, keys in RTCIceCandidate.toJSON order, absent fields left out.
pub fn candidates_json(list: &[IceCandidate]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|c| {
            let mut fields = vec![("candidate", json(c.candidate.as_str()))];
            if let Some(mid) = &c.sdp_mid {
                fields.push(("sdpMid", json(mid.as_str())));
            }
            if let Some(i) = c.sdp_mline_index {
                fields.push(("sdpMLineIndex", json(i)));
            }
            if let Some(u) = &c.username_fragment {
                fields.push(("usernameFragment", json(u.as_str())));
            }
            object(&fields)
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// A field's JSON text, sealed when a cipher is given: (hex string JSON, Some(vector)) or
/// (the text unchanged, None).
pub fn seal(cipher: Option<&Cipher>, json_text: String, iv: [u8; 16]) -> (String, Option<String>) {
    match cipher {
        Some(c) => {
            let (ct, vector) = c.encrypt(&json_text, iv);
            (json(ct), Some(vector))
        }
        None => (json_text, None),
    }
}

/// JSON text of one value.
pub fn json(v: impl Into<Value>) -> String {
    v.into().to_string()
}

/// Serializes an object from (key, JSON text) pairs, in the given order (serde_json's map would
/// sort the keys).
pub fn object(fields: &[(&str, String)]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", json(*k)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// Strategies shared by the codec tests.
#[cfg(test)]
pub(crate) mod testgen {
    use proptest::prelude::*;
    use serde_json::Value;

    pub fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
            "[0-9a-f]{0,64}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-zA-Z]{1,8}|candidate|sdp|type|label", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Objects made of the keys the codecs look at, each with an arbitrary value.
    pub fn object_with_keys(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop::collection::vec((prop::sample::select(keys), any_json()), 0..8).prop_map(|fields| {
            let map: serde_json::Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            Value::Object(map).to_string()
        })
    }
}

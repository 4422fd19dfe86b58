//! The few JavaScript value semantics `vdoninja.js` routing depends on (truthiness, `===`,
//! `String(x)`), applied to parsed JSON so the relay dialect matches the Node server exactly.

use serde_json::Value;

/// JavaScript truthiness of an optional (absent = `undefined`) JSON value.
pub(crate) fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// JavaScript `a === b` between values parsed from different frames: primitives compare by value,
/// arrays and objects are distinct references, so never equal.
pub(crate) fn strict_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(x), Value::String(y)) => x == y,
        _ => false,
    }
}

/// JavaScript `String(v)` (`None` = `undefined`).
pub(crate) fn string(v: Option<&Value>) -> String {
    match v {
        None => "undefined".to_owned(),
        Some(Value::Null) => "null".to_owned(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => number(n),
        Some(Value::String(s)) => s.clone(),
        // Array.prototype.toString: elements joined by ",", null/undefined as "".
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Null => String::new(),
                other => string(Some(other)),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Object(_)) => "[object Object]".to_owned(),
    }
}

fn number(n: &serde_json::Number) -> String {
    if n.is_f64() {
        let f = n.as_f64().unwrap_or(0.0);
        // JS prints integral doubles without a fraction ("1", not "1.0").
        if f.fract() == 0.0 && f.abs() < 1e21 {
            return format!("{f:.0}");
        }
        return f.to_string();
    }
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_follows_javascript() {
        assert!(!truthy(None));
        for falsy in [json!(null), json!(false), json!(0), json!(0.0), json!("")] {
            assert!(!truthy(Some(&falsy)), "{falsy}");
        }
        for t in [json!(true), json!(1), json!("a"), json!([]), json!({})] {
            assert!(truthy(Some(&t)), "{t}");
        }
    }

    #[test]
    fn string_follows_javascript() {
        assert_eq!(string(None), "undefined");
        assert_eq!(string(Some(&json!(null))), "null");
        assert_eq!(string(Some(&json!(12))), "12");
        assert_eq!(string(Some(&json!(12.0))), "12");
        assert_eq!(string(Some(&json!(1.5))), "1.5");
        assert_eq!(string(Some(&json!("room"))), "room");
        assert_eq!(string(Some(&json!([1, null, "a"]))), "1,,a");
        assert_eq!(string(Some(&json!({"a": 1}))), "[object Object]");
    }

    #[test]
    fn strict_equality_follows_javascript() {
        assert!(strict_eq(&json!("a"), &json!("a")));
        assert!(strict_eq(&json!(1), &json!(1.0)));
        assert!(!strict_eq(&json!("1"), &json!(1)));
        assert!(!strict_eq(&json!({}), &json!({})));
    }
}

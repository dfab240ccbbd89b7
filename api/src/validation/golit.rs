//! Go's way of printing values inside field errors.
//!
//! kube formats a bad value with `%q` for strings, `%v` for numbers and `%#v`
//! for everything else, so users see `map[string]string{"app":"web"}` or
//! `v1.LabelSelector{MatchLabels:…}` in messages. A `FieldError` carries its
//! value as JSON; values that need a Go literal carry it pre-rendered under a
//! private marker key, which `render` prints verbatim.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

const GO_MARKER: &str = "$goLiteral";

/// A value that renders as the given Go literal.
pub(crate) fn go(literal: impl Into<String>) -> Value {
    json!({ GO_MARKER: literal.into() })
}

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How a JSON bad value prints in a message.
pub(crate) fn render(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Object(m) => {
            if let (1, Some(Value::String(lit))) = (m.len(), m.get(GO_MARKER)) {
                return lit.clone();
            }
            if m.values().all(Value::is_string) {
                let sorted: BTreeMap<&String, &str> = m
                    .iter()
                    .map(|(k, v)| (k, v.as_str().unwrap_or("")))
                    .collect();
                let entries: Vec<String> = sorted
                    .iter()
                    .map(|(k, v)| format!("{}:{}", quote(k), quote(v)))
                    .collect();
                return format!("map[string]string{{{}}}", entries.join(", "));
            }
            v.to_string()
        }
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let quoted: Vec<String> = items
                .iter()
                .map(|s| quote(s.as_str().unwrap_or("")))
                .collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
        Value::Array(_) => v.to_string(),
    }
}

/// `map[string]string{"a":"b"}`, or `map[string]string(nil)` for an absent map.
pub(crate) fn string_map(m: Option<&BTreeMap<String, String>>) -> String {
    match m {
        None => "map[string]string(nil)".into(),
        Some(m) => {
            let entries: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", quote(k), quote(v)))
                .collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

/// `[]string{"a", "b"}`, or `[]string(nil)`.
pub(crate) fn string_slice(v: Option<&Vec<String>>) -> String {
    match v {
        None => "[]string(nil)".into(),
        Some(v) => {
            let quoted: Vec<String> = v.iter().map(|s| quote(s)).collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
    }
}

/// `v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}`.
pub(crate) fn label_selector(sel: &LabelSelector) -> String {
    let exprs = match &sel.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(reqs) => {
            let items: Vec<String> = reqs
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        quote(&r.key),
                        quote(&r.operator),
                        string_slice(r.values.as_ref())
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        string_map(sel.match_labels.as_ref()),
        exprs
    )
}

/// A selector as a bad value; an absent one prints as `null`, as kube's nil pointer does.
pub(crate) fn label_selector_value(sel: Option<&LabelSelector>) -> Value {
    match sel {
        Some(s) => go(label_selector(s)),
        None => Value::Null,
    }
}

/// `intstr.IntOrString{Type:1, IntVal:0, StrVal:"25%"}`; `None` is the zero value.
pub(crate) fn int_or_string(v: Option<&IntOrString>) -> String {
    match v {
        None => "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}".into(),
        Some(IntOrString::Int(i)) => {
            format!("intstr.IntOrString{{Type:0, IntVal:{i}, StrVal:\"\"}}")
        }
        Some(IntOrString::String(s)) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            quote(s)
        ),
    }
}

/// A pointer field inside a struct literal: `(*apps.RollingUpdateDeployment)(nil)` when absent.
/// A present pointer prints as an address in Go; a stable placeholder stands in for it.
pub(crate) fn pointer(type_name: &str, present: bool) -> String {
    if present {
        format!("(*{type_name})(0xc000000000)")
    } else {
        format!("(*{type_name})(nil)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    #[test]
    fn renders_like_go() {
        let cases = [
            (json!("a\"b\n"), r#""a\"b\n""#),
            (json!(70000), "70000"),
            (json!(-1), "-1"),
            (json!(true), "true"),
            (Value::Null, "null"),
            (
                json!({"b": "2", "a": "1"}),
                r#"map[string]string{"a":"1", "b":"2"}"#,
            ),
            (json!({}), "map[string]string{}"),
            (json!(["x", "y"]), r#"[]string{"x", "y"}"#),
            (json!({"a": 1}), r#"{"a":1}"#),
            (go("core.Foo{}"), "core.Foo{}"),
        ];
        for (v, want) in cases {
            assert_eq!(render(&v), want);
        }
        assert_eq!(quote("\u{1}é"), "\"\\x01é\"");
    }

    #[test]
    fn selectors_and_int_or_string() {
        let sel = LabelSelector {
            match_labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            match_expressions: None,
        };
        assert_eq!(
            label_selector(&sel),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
        let sel = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["a".into()]),
            }]),
        };
        assert_eq!(
            label_selector(&sel),
            r#"v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"tier", Operator:"In", Values:[]string{"a"}}}}"#
        );
        assert_eq!(
            int_or_string(Some(&IntOrString::Int(0))),
            "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}"
        );
        assert_eq!(
            int_or_string(Some(&IntOrString::String("25%".into()))),
            "intstr.IntOrString{Type:1, IntVal:0, StrVal:\"25%\"}"
        );
        assert_eq!(string_map(None), "map[string]string(nil)");
        assert_eq!(pointer("apps.X", false), "(*apps.X)(nil)");
    }
}

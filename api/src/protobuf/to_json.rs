//! Turns a decoded message ([`Node`]) into the Kubernetes JSON form by walking
//! it alongside the k8s-openapi schema of the same type.
//!
//! The schema supplies what the message dump cannot: each property's JSON
//! name (prost's snake_case names match them once case and underscores are
//! ignored: `pod_ip` ~ `podIP`), which byte lists are `bytes` (base64 in
//! JSON) and which numbers are integers. [`go_fields`](super::go_fields)
//! supplies Go's `omitempty`/pointer rules for zero values. Messages that
//! upstream's JSON writes as scalars (Time, Quantity, IntOrString, ...) are
//! recognised by their prost type name, which is unique across k8s-pb.

use serde_json::{Map, Number, Value};

use super::debug_tree::Node;
use super::go_fields::GO_FIELDS;

const DEFS_PREFIX: &str = "#/$defs/";

pub(super) struct Converter<'a> {
    /// Schema definitions by name (`io.k8s.api.core.v1.ConfigMap`).
    pub(super) defs: &'a Map<String, Value>,
}

impl Converter<'_> {
    /// The object for a message whose schema is the definition `def`.
    pub(super) fn object(
        &self,
        def: &str,
        node: &Node,
        out: &mut Map<String, Value>,
    ) -> Result<(), String> {
        let schema = self.defs.get(def).unwrap_or(&Value::Null);
        match node.unwrap_some() {
            Node::Struct { fields, .. } => self.fill(Some(def), schema, fields, out),
            other => Err(format!("expected a message for {def}, found {other:?}")),
        }
    }

    fn fill(
        &self,
        def: Option<&str>,
        schema: &Value,
        fields: &[(String, Node)],
        out: &mut Map<String, Value>,
    ) -> Result<(), String> {
        let go = def.and_then(|d| GO_FIELDS.iter().find(|g| g.0 == d));
        let props = schema.get("properties").and_then(Value::as_object);
        for (rust_name, node) in fields {
            let key = normalize(rust_name);
            if go.is_some_and(|g| g.3.iter().any(|i| normalize(i) == key)) {
                // An embedded Go struct: its properties belong to this object.
                if let Node::Struct { fields, .. } = node.unwrap_some() {
                    self.fill(def, schema, fields, out)?;
                }
                continue;
            }
            let (json_name, prop_schema) = props
                .and_then(|p| p.iter().find(|(k, _)| normalize(k) == key))
                .map(|(k, s)| (k.clone(), s))
                .unwrap_or_else(|| (lower_camel(rust_name), &Value::Null));
            let keep_zero = go.is_some_and(|g| {
                g.1.contains(&json_name.as_str()) || g.2.contains(&json_name.as_str())
            });
            if let Some(v) = self.field(node, prop_schema, keep_zero)? {
                out.insert(json_name, v);
            }
        }
        Ok(())
    }

    /// A field's JSON value, or `None` when Go's encoder would leave it out:
    /// unset, an empty list or map, or a zero scalar that is neither a Go
    /// pointer nor free of `omitempty`.
    fn field(&self, node: &Node, schema: &Value, keep_zero: bool) -> Result<Option<Value>, String> {
        let inner = node.unwrap_some();
        let empty = match inner {
            Node::None => true,
            Node::List(v) => v.is_empty(),
            Node::Map(v) => v.is_empty(),
            _ => !keep_zero && is_zero(inner),
        };
        if empty {
            return Ok(None);
        }
        self.value(inner, schema)
    }

    fn value(&self, node: &Node, schema: &Value) -> Result<Option<Value>, String> {
        let (def, schema) = self.resolve(schema);
        Ok(Some(match node {
            Node::None => return Ok(None),
            Node::Some(inner) => return self.value(inner, schema),
            Node::Str(s) => Value::String(s.clone()),
            Node::Bool(b) => Value::Bool(*b),
            Node::Num(n) => number(n, schema)?,
            Node::List(items) => {
                if schema.get("format").and_then(Value::as_str) == Some("byte") {
                    Value::String(base64(&bytes(items)?))
                } else {
                    let item_schema = schema.get("items").unwrap_or(&Value::Null);
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        out.push(self.value(item, item_schema)?.unwrap_or(Value::Null));
                    }
                    Value::Array(out)
                }
            }
            Node::Map(entries) => {
                let value_schema = schema.get("additionalProperties").unwrap_or(&Value::Null);
                let mut out = Map::new();
                for (k, v) in entries {
                    let key = match k {
                        Node::Str(s) => s.clone(),
                        Node::Num(n) => n.clone(),
                        other => return Err(format!("unexpected map key {other:?}")),
                    };
                    out.insert(key, self.value(v, value_schema)?.unwrap_or(Value::Null));
                }
                Value::Object(out)
            }
            Node::Struct { name, fields } => {
                if let Some(special) = special(name, node)? {
                    return Ok(special);
                }
                let mut out = Map::new();
                self.fill(def, schema, fields, &mut out)?;
                Value::Object(out)
            }
        }))
    }

    /// Follows a `$ref` to its definition, returning the definition's name.
    fn resolve<'s>(&'s self, schema: &'s Value) -> (Option<&'s str>, &'s Value) {
        match schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(DEFS_PREFIX))
        {
            Some(name) => (Some(name), self.defs.get(name).unwrap_or(&Value::Null)),
            None => (None, schema),
        }
    }
}

/// Go's zero value for a scalar: what `omitempty` drops. IntOrString counts:
/// it is a struct in Go, but Kubernetes defaulting treats its zero as unset.
fn is_zero(node: &Node) -> bool {
    match node {
        Node::Str(s) => s.is_empty(),
        Node::Bool(b) => !b,
        Node::Num(n) => n.parse::<f64>().is_ok_and(|f| f == 0.0),
        Node::Struct { name, .. } if name == "IntOrString" => match int_or_string(node) {
            Value::Number(n) => n.as_i64() == Some(0),
            Value::String(s) => s.is_empty(),
            _ => false,
        },
        _ => false,
    }
}

/// Messages that upstream's JSON writes as something other than an object.
/// `Ok(Some(None))` means the value is Go's zero, which JSON writes as null.
fn special(name: &str, node: &Node) -> Result<Option<Option<Value>>, String> {
    let int = |f: &str| -> Result<i64, String> {
        match node.field(f) {
            Some(Node::Num(n)) => n.parse().map_err(|_| format!("{name}.{f}: bad number {n}")),
            _ => Ok(0),
        }
    };
    let raw_json = || -> Result<Option<Value>, String> {
        match node.field("raw") {
            Some(Node::List(items)) if !items.is_empty() => serde_json::from_slice(&bytes(items)?)
                .map(Some)
                .map_err(|e| format!("{name}: embedded object is not JSON: {e}")),
            _ => Ok(None),
        }
    };
    // An empty Time message is Go's zero time, which JSON writes as null.
    let set = |f: &str| matches!(node.field(f), Some(Node::Num(_)));
    Ok(Some(match name {
        // Go's Time.Unmarshal keeps whole seconds only.
        "Time" if set("seconds") || set("nanos") => {
            Some(Value::String(timestamp(int("seconds")?, 0, false)?))
        }
        "MicroTime" if set("seconds") || set("nanos") => Some(Value::String(timestamp(
            int("seconds")?,
            int("nanos")?,
            true,
        )?)),
        "Time" | "MicroTime" => None,
        "Duration" => Some(Value::String(go_duration(int("duration")?))),
        "Quantity" => match node.field("string") {
            Some(Node::Str(s)) => Some(Value::String(s.clone())),
            _ => None,
        },
        "IntOrString" => Some(int_or_string(node)),
        "RawExtension" | "FieldsV1" => raw_json()?,
        _ => return Ok(None),
    }))
}

fn int_or_string(node: &Node) -> Value {
    let is_string = matches!(node.field("type"), Some(Node::Num(n)) if n == "1");
    if is_string {
        match node.field("str_val") {
            Some(Node::Str(s)) => Value::String(s.clone()),
            _ => Value::String(String::new()),
        }
    } else {
        match node.field("int_val") {
            Some(Node::Num(n)) => n.parse::<i64>().map(Value::from).unwrap_or(Value::from(0)),
            _ => Value::from(0),
        }
    }
}

fn number(text: &str, schema: &Value) -> Result<Value, String> {
    let bad = || format!("bad number {text}");
    if schema.get("type").and_then(Value::as_str) != Some("number") {
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = text.parse::<u64>() {
            return Ok(Value::from(u));
        }
    }
    let f: f64 = text.parse().map_err(|_| bad())?;
    Number::from_f64(f).map(Value::Number).ok_or_else(bad)
}

fn bytes(items: &[Node]) -> Result<Vec<u8>, String> {
    items
        .iter()
        .map(|n| match n {
            Node::Num(s) => s.parse::<u8>().map_err(|_| format!("bad byte {s}")),
            other => Err(format!("bad byte {other:?}")),
        })
        .collect()
}

/// RFC 3339 in UTC, as metav1.Time (`2024-01-02T03:04:05Z`) and
/// metav1.MicroTime (`2024-01-02T03:04:05.000000Z`) write it.
fn timestamp(seconds: i64, nanos: i64, micros: bool) -> Result<String, String> {
    let nanos = u32::try_from(nanos).map_err(|_| format!("bad nanos {nanos}"))?;
    let t = chrono::DateTime::from_timestamp(seconds, nanos)
        .ok_or_else(|| format!("bad timestamp {seconds}"))?;
    Ok(if micros {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    })
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1m0s`, `1.5ms`, `0s`.
fn go_duration(ns: i64) -> String {
    fn frac(v: u64, unit: u64) -> String {
        let (whole, rest) = (v / unit, v % unit);
        if rest == 0 {
            return whole.to_string();
        }
        let width = unit.ilog10() as usize;
        let digits = format!("{rest:0width$}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
    const S: u64 = 1_000_000_000;
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let body = match u {
        0 => return "0s".to_string(),
        u if u < 1_000 => format!("{u}ns"),
        u if u < 1_000_000 => format!("{}µs", frac(u, 1_000)),
        u if u < S => format!("{}ms", frac(u, 1_000_000)),
        u => {
            let (h, m, s) = (u / (3600 * S), u / (60 * S) % 60, u % (60 * S));
            let secs = format!("{}s", frac(s, S));
            match (h, m) {
                (0, 0) => secs,
                (0, m) => format!("{m}m{secs}"),
                (h, m) => format!("{h}h{m}m{secs}"),
            }
        }
    };
    format!("{sign}{body}")
}

/// Standard base64 with padding, the JSON form of Go's `[]byte`.
pub(super) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The form under which a Rust field name and a JSON property name agree:
/// `pod_ip`, `podIP` → `podip`; `r#type` → `type`.
fn normalize(name: &str) -> String {
    name.trim_start_matches("r#")
        .chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The JSON name for a field the schema does not know (newer than the
/// schemas): upstream's names are the proto names, lower camel case.
fn lower_camel(rust_name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in rust_name.trim_start_matches("r#").chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        for (raw, b64) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("q", "cQ=="),
        ] {
            assert_eq!(base64(raw.as_bytes()), b64);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn durations_print_as_go_does() {
        for (ns, s) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (1_500_000, "1.5ms"),
            (1_000_000_000, "1s"),
            (60_000_000_000, "1m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (-90_000_000_000, "-1m30s"),
        ] {
            assert_eq!(go_duration(ns), s, "{ns}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(
            timestamp(1_704_164_645, 0, false).unwrap(),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            timestamp(1_704_164_645, 123_456_789, true).unwrap(),
            "2024-01-02T03:04:05.123456Z"
        );
    }

    #[test]
    fn names_agree_ignoring_case_and_underscores() {
        assert_eq!(normalize("pod_ip"), normalize("podIP"));
        assert_eq!(normalize("host_ipc"), normalize("hostIPC"));
        assert_eq!(normalize("r#type"), "type");
        assert_eq!(lower_camel("new_field_name"), "newFieldName");
    }
}

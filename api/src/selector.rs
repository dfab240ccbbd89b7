//! Label and field selectors: parsing, matching, canonical strings.
//!
//! Owns the `labelSelector` and `fieldSelector` query-parameter grammars as
//! kube-apiserver implements them (apimachinery `pkg/labels` and
//! `pkg/fields`), the conversion from `metav1.LabelSelector`, and the table of
//! fields each kind can be selected on (the apiserver's field-label conversion
//! funcs and `GetAttrs`). Pure: no I/O.
//!
//! Invariants: error messages are apimachinery's word for word, because
//! kubectl prints the server's message verbatim; label requirements are kept
//! stably sorted by key, which is what makes `Display` canonical.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use serde_json::Value;

use crate::registry::RESOURCE_TYPES;

/// Why a selector was rejected. Every variant is a 400 BadRequest on the wire,
/// with `Display` as the Status message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The label selector does not parse, or names an invalid key or value.
    #[error("{0}")]
    Label(String),
    /// The field selector does not parse (syntax or escaping).
    #[error("{0}")]
    Field(String),
    /// The field selector names a field this kind cannot be selected on.
    #[error("{message}")]
    UnsupportedField { field: String, message: String },
}

// ---------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------

/// How a requirement relates a label to its values (apimachinery `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// The `selection.Operator` string, as it appears in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One `key op values` term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// Validates like apimachinery's `labels.NewRequirement`: a qualified-name
    /// key, value counts that fit the operator, integer values for Gt/Lt and
    /// valid label values.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, SelectorError> {
        let mut errs = Vec::new();
        if let Some(e) = validate_label_key(key, "key") {
            errs.push(e);
        }
        let wrong_count = match operator {
            Operator::In | Operator::NotIn if values.is_empty() => {
                Some("for 'in', 'notin' operators, values set can't be empty")
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                Some("exact-match compatibility requires one single value")
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                Some("values set must be empty for exists and does not exist")
            }
            Operator::GreaterThan | Operator::LessThan if values.len() != 1 => {
                Some("for 'Gt', 'Lt' operators, exactly one value is required")
            }
            _ => None,
        };
        if let Some(detail) = wrong_count {
            errs.push(invalid("values", &go_string_slice(&values), detail));
        }
        if matches!(operator, Operator::GreaterThan | Operator::LessThan) {
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errs.push(invalid(
                        &format!("values[{i}]"),
                        &go_quote(v),
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let e = crate::validation::is_valid_label_value(v);
            if !e.is_empty() {
                errs.push(invalid(
                    &format!("values[{i}][{key}]"),
                    &go_quote(v),
                    &e.join("; "),
                ));
            }
        }
        if errs.is_empty() {
            Ok(Requirement {
                key: key.to_string(),
                operator,
                values,
            })
        } else {
            Err(SelectorError::Label(aggregate(errs)))
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                labels.get(&self.key).is_some_and(|v| has(v))
            }
            Operator::NotIn | Operator::NotEquals => labels.get(&self.key).is_none_or(|v| !has(v)),
            Operator::Exists => labels.contains_key(&self.key),
            Operator::DoesNotExist => !labels.contains_key(&self.key),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(have)) = labels.get(&self.key).map(|v| v.parse::<i64>()) else {
                    return false;
                };
                let [want] = self.values.as_slice() else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            Operator::Exists => return f.write_str(&self.key),
            Operator::DoesNotExist => return write!(f, "!{}", self.key),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
        };
        let mut values: Vec<&str> = self.values.iter().map(String::as_str).collect();
        values.sort_unstable();
        let values = values.join(",");
        if matches!(self.operator, Operator::In | Operator::NotIn) {
            write!(f, "{}{op}({values})", self.key)
        } else {
            write!(f, "{}{op}{values}", self.key)
        }
    }
}

/// A parsed label selector: the AND of its requirements. The default value
/// selects everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// `labels.Nothing()`: what a nil `*metav1.LabelSelector` converts to.
    nothing: bool,
}

impl LabelSelector {
    /// Parses kubectl's `-l` syntax (the `labelSelector` query parameter):
    /// `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`,
    /// `a<1`, comma-separated. The empty string selects everything.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser {
            items: lex(s),
            pos: 0,
        };
        let mut requirements = parser.parse().map_err(SelectorError::Label)?;
        // Stable, like Go's insertion sort for small inputs; keeps `a=1,a!=2` in input order.
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// Converts a `metav1.LabelSelector` as `metav1.LabelSelectorAsSelector`
    /// does: matchLabels become `=` requirements, matchExpressions keep their
    /// operator; an empty selector selects everything.
    pub fn from_k8s(sel: &metav1::LabelSelector) -> Result<Self, SelectorError> {
        let labels = sel.match_labels.as_ref();
        let exprs = sel.match_expressions.as_deref().unwrap_or_default();
        let mut requirements = Vec::new();
        for (k, v) in labels.into_iter().flatten() {
            requirements.push(Requirement::new(k, Operator::Equals, vec![v.clone()])?);
        }
        for expr in exprs {
            let op = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError::Label(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    )));
                }
            };
            let values = expr.values.clone().unwrap_or_default();
            requirements.push(Requirement::new(&expr.key, op, values)?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// `from_k8s` for an optional selector: an absent one selects nothing.
    pub fn from_k8s_opt(sel: Option<&metav1::LabelSelector>) -> Result<Self, SelectorError> {
        match sel {
            Some(sel) => Self::from_k8s(sel),
            None => Ok(Self::nothing()),
        }
    }

    /// `labels.SelectorFromSet`: exact matches on every pair, unvalidated
    /// (a Service's `spec.selector`). The empty map selects everything.
    pub fn from_map(labels: &BTreeMap<String, String>) -> Self {
        let requirements = labels
            .iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                operator: Operator::Equals,
                values: vec![v.clone()],
            })
            .collect();
        LabelSelector {
            requirements,
            nothing: false,
        }
    }

    /// The selector that matches no object (`labels.Nothing()`).
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Matches an object's `metadata.labels`.
    pub fn matches_object(&self, obj: &Value) -> bool {
        let labels: BTreeMap<String, String> = obj
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        self.matches(&labels)
    }

    /// True when the selector does not restrict anything.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The single value `label` must have, if the selector pins one
    /// (`labels.Selector.RequiresExactMatch`), for index lookups.
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == label)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `metav1.FormatLabelSelector`: the string `describe` and `-o wide` print for
/// a workload's selector; `<none>` when it selects everything or nothing,
/// `<error>` when it does not convert.
pub fn format_label_selector(sel: Option<&metav1::LabelSelector>) -> String {
    match LabelSelector::from_k8s_opt(sel) {
        Err(_) => "<error>".to_string(),
        Ok(s) => {
            let s = s.to_string();
            if s.is_empty() {
                "<none>".to_string()
            } else {
                s
            }
        }
    }
}

/// `labels.FormatLabels`: `k=v` pairs sorted by key, `<none>` when empty.
pub fn format_labels(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "<none>".to_string();
    }
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}

// --- label selector lexer and parser (a port of apimachinery's) ------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn special_token(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

/// Tokenizes the whole input. Byte-oriented like Go's lexer; a NUL byte reads
/// as end of input, as it does there.
fn lex(s: &str) -> Vec<(Token, String)> {
    let bytes = s.as_bytes();
    let mut pos = 0usize;
    let read = |pos: &mut usize| -> u8 {
        if *pos < bytes.len() {
            *pos += 1;
            bytes[*pos - 1]
        } else {
            0
        }
    };
    let mut out = Vec::new();
    loop {
        let mut ch = read(&mut pos);
        while is_whitespace(ch) {
            ch = read(&mut pos);
        }
        if ch == 0 {
            out.push((Token::EndOfString, String::new()));
            return out;
        }
        pos -= 1;
        let mut buf = Vec::new();
        if is_special(ch) {
            let mut last: Option<(Token, usize)> = None;
            loop {
                let ch = read(&mut pos);
                if ch == 0 {
                    break;
                }
                if !is_special(ch) {
                    pos -= 1;
                    break;
                }
                buf.push(ch);
                if let Some(t) = special_token(&buf) {
                    last = Some((t, buf.len()));
                } else if last.is_some() {
                    pos -= 1;
                    break;
                }
            }
            match last {
                Some((t, n)) => out.push((t, String::from_utf8_lossy(&buf[..n]).into_owned())),
                None => out.push((
                    Token::Error,
                    format!(
                        "error expected: keyword found '{}'",
                        String::from_utf8_lossy(&buf)
                    ),
                )),
            }
        } else {
            loop {
                let ch = read(&mut pos);
                if ch == 0 {
                    break;
                }
                if is_special(ch) || is_whitespace(ch) {
                    pos -= 1;
                    break;
                }
                buf.push(ch);
            }
            let lit = String::from_utf8_lossy(&buf).into_owned();
            let tok = match lit.as_str() {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier,
            };
            out.push((tok, lit));
        }
    }
}

/// In the values context `in` and `notin` are ordinary identifiers
/// (`a in (in)`), in the key-and-operator context they are operators.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    pos: usize,
}

impl Parser {
    fn peek_at(&self, pos: usize, ctx: Context) -> (Token, String) {
        // The lexer always ends with EndOfString; reading past it keeps reading it.
        let (tok, lit) = self.items[pos.min(self.items.len() - 1)].clone();
        match tok {
            Token::In | Token::NotIn if ctx == Context::Values => (Token::Identifier, lit),
            _ => (tok, lit),
        }
    }

    fn lookahead(&self, ctx: Context) -> (Token, String) {
        self.peek_at(self.pos, ctx)
    }

    fn consume(&mut self, ctx: Context) -> (Token, String) {
        self.pos += 1;
        self.peek_at(self.pos - 1, ctx)
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Context::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(op) = inferred {
            return Requirement::new(&key, op, Vec::new()).map_err(|e| e.to_string());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(&key, op, values.into_iter().collect()).map_err(|e| e.to_string())
    }

    /// Returns the key and, when no binary operator follows, Exists or DoesNotExist.
    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Context::Values);
        if tok == Token::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Context::Values);
        }
        if tok != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        // The parser validates keys with a nil field path, which Go prints as "<nil>".
        if let Some(e) = validate_label_key(&lit, "<nil>") {
            return Err(e.to_string());
        }
        let (next, _) = self.lookahead(Context::Values);
        if matches!(next, Token::EndOfString | Token::Comma) && op.is_none() {
            op = Some(Operator::Exists);
        }
        // `!a=b` stays DoesNotExist; the caller then trips over the `=`.
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Context::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    fn parse_values(&mut self) -> Result<BTreeSet<String>, String> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Context::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let s = self.parse_identifiers_list()?;
                let (tok, _) = self.consume(Context::Values);
                if tok != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<String>, String> {
        let mut s = BTreeSet::new();
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Token::Identifier => {
                    s.insert(lit);
                    let (tok2, lit2) = self.lookahead(Context::Values);
                    match tok2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(s),
                        _ => return Err(format!("found '{lit2}', expected: ',' or ')'")),
                    }
                }
                // `(,a`, `a,)` and `a,,b` all stand for the empty value.
                Token::Comma => {
                    if s.is_empty() {
                        s.insert(String::new());
                    }
                    let (tok2, _) = self.lookahead(Context::Values);
                    if tok2 == Token::ClosedPar {
                        s.insert(String::new());
                        return Ok(s);
                    }
                    if tok2 == Token::Comma {
                        self.consume(Context::Values);
                        s.insert(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        let (tok, _) = self.lookahead(Context::Values);
        if matches!(tok, Token::EndOfString | Token::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        let (tok, lit) = self.consume(Context::Values);
        if tok == Token::Identifier {
            Ok(BTreeSet::from([lit]))
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

// --- validation messages (apimachinery util/validation, field.Error) -------

// Name and label-value rules are the validation module's (one source of truth).

/// A `field.Invalid` error, already rendered: `path: Invalid value: <bad>: detail`.
struct FieldError(String);

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn invalid(path: &str, bad_value: &str, detail: &str) -> FieldError {
    FieldError(format!("{path}: Invalid value: {bad_value}: {detail}"))
}

fn validate_label_key(key: &str, path: &str) -> Option<FieldError> {
    let errs = crate::validation::is_qualified_name(key);
    (!errs.is_empty()).then(|| invalid(path, &go_quote(key), &errs.join("; ")))
}

/// `utilerrors.Aggregate.Error()`: one message alone, several deduplicated in brackets.
fn aggregate(errs: Vec<FieldError>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        if !seen.contains(&e.0) {
            seen.push(e.0);
        }
    }
    if seen.len() == 1 {
        seen.remove(0)
    } else {
        format!("[{}]", seen.join(", "))
    }
}

/// Go's `%q` (strconv.Quote) for the strings selectors can contain.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%#v` of a `[]string`. Callers build the slice with
/// `append([]string(nil), values...)`, so an empty one prints as nil.
fn go_string_slice(values: &[String]) -> String {
    if values.is_empty() {
        return "[]string(nil)".to_string();
    }
    let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

// ---------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------

/// `=`/`==` (kept as one: apimachinery prints both as `=`) or `!=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

/// One `field=value` or `field!=value` term; `value` is unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

/// A parsed field selector: the AND of its terms. The default value selects
/// everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses `metadata.name=x,status.phase!=Running` (also `==`; `\,`, `\=`
    /// and `\\` escape inside values). Empty selects everything. Terms are
    /// sorted as apimachinery sorts them, which makes `Display` canonical.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(s);
        parts.sort();
        let mut terms = Vec::new();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let Some((field, operator, raw)) = split_term(part) else {
                return Err(SelectorError::Field(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let value = unescape_value(raw)?;
            terms.push(FieldRequirement {
                field: field.to_string(),
                operator,
                value,
            });
        }
        Ok(FieldSelector { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn terms(&self) -> &[FieldRequirement] {
        &self.terms
    }

    /// Checks every field is selectable on `kind`, in the words of that kind's
    /// field-label conversion (`field label not supported: spec.foo`).
    pub fn check_supported(&self, kind: &str) -> Result<(), SelectorError> {
        for t in &self.terms {
            convert_field_label(kind, &t.field)?;
        }
        Ok(())
    }

    /// Matches an object (full JSON) of kind `kind`. A field the kind lacks
    /// reads as the empty string, as in a `fields.Set`; run `check_supported`
    /// first to reject such selectors the way the apiserver does.
    pub fn matches(&self, kind: &str, obj: &Value) -> bool {
        self.terms.iter().all(|t| {
            let field = convert_field_label(kind, &t.field).unwrap_or_else(|_| t.field.clone());
            let have = field_value(kind, obj, &field).unwrap_or_default();
            match t.operator {
                FieldOperator::Equals => have == t.value,
                FieldOperator::NotEquals => have != t.value,
            }
        })
    }

    /// The value `field` must equal, if a term pins it (`fields.Selector.RequiresExactMatch`).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.operator == FieldOperator::Equals)
            .map(|t| t.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            let op = match t.operator {
                FieldOperator::Equals => "=",
                FieldOperator::NotEquals => "!=",
            };
            write!(f, "{}{op}{}", t.field, escape_value(&t.value))?;
        }
        Ok(())
    }
}

impl FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Splits on commas not escaped by a backslash.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Splits at the first operator, trying `!=`, then `==`, then `=` at each position.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, kind) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], kind, value));
            }
        }
    }
    None
}

fn unescape_value(s: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::Field(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Go prints the offending rune with %v, i.e. as its code point number.
            ',' | '=' => {
                return Err(SelectorError::Field(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            c => out.push(c),
        }
    }
    if in_slash {
        return Err(SelectorError::Field(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(out)
}

fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// How a kind's field-label conversion words its rejection.
enum Rejection {
    /// `field label not supported: X` (core/v1 kinds).
    Plain,
    /// `field label "X" not supported for Job` (batch/v1).
    Job,
}

/// The fields a kind's registered conversion func accepts; `None` for kinds
/// that fall back to `runtime.DefaultMetaV1FieldSelectorConversion`.
fn field_label_conversion(kind: &str) -> Option<(&'static [&'static str], Rejection)> {
    Some(match kind {
        "Pod" => (
            &[
                "metadata.name",
                "metadata.namespace",
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.podIPs",
                "status.nominatedNodeName",
                "spec.host",
            ],
            Rejection::Plain,
        ),
        "Node" => (&["metadata.name", "spec.unschedulable"], Rejection::Plain),
        "ReplicationController" => (
            &["metadata.name", "metadata.namespace", "status.replicas"],
            Rejection::Plain,
        ),
        "Event" => (
            &[
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
                "metadata.namespace",
                "metadata.name",
            ],
            Rejection::Plain,
        ),
        "Namespace" => (&["status.phase", "metadata.name"], Rejection::Plain),
        "Secret" => (
            &["type", "metadata.namespace", "metadata.name"],
            Rejection::Plain,
        ),
        "Service" => (
            &[
                "metadata.namespace",
                "metadata.name",
                "spec.clusterIP",
                "spec.type",
            ],
            Rejection::Plain,
        ),
        "Job" => (
            &["metadata.name", "metadata.namespace", "status.successful"],
            Rejection::Job,
        ),
        _ => return None,
    })
}

/// Applies `kind`'s field-label conversion: the field name to match on, or
/// the apiserver's rejection. `spec.host` on a Pod is the legacy name of
/// `spec.nodeName`.
pub fn convert_field_label(kind: &str, field: &str) -> Result<String, SelectorError> {
    let unsupported = |message: String| SelectorError::UnsupportedField {
        field: field.to_string(),
        message,
    };
    match field_label_conversion(kind) {
        None => match field {
            "metadata.name" | "metadata.namespace" => Ok(field.to_string()),
            _ => Err(unsupported(format!(
                "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                go_quote(field)
            ))),
        },
        Some((fields, rejection)) => {
            if !fields.contains(&field) {
                return Err(unsupported(match rejection {
                    Rejection::Plain => format!("field label not supported: {field}"),
                    Rejection::Job => {
                        format!("field label {} not supported for Job", go_quote(field))
                    }
                }));
            }
            Ok(if kind == "Pod" && field == "spec.host" {
                "spec.nodeName"
            } else {
                field
            }
            .to_string())
        }
    }
}

fn is_cluster_scoped(kind: &str) -> bool {
    RESOURCE_TYPES
        .iter()
        .any(|t| t.kind == kind && !t.namespaced)
}

/// The value of a selectable field of an object, as kube-apiserver's
/// `GetAttrs` field set for the kind defines it; `None` when the kind has no
/// such field. Numbers and booleans read as Go's `strconv` prints them.
pub fn field_value(kind: &str, obj: &Value, field: &str) -> Option<String> {
    let s = |ptr: &str| {
        obj.pointer(ptr)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let int = |ptr: &str| {
        obj.pointer(ptr)
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .to_string()
    };
    let boolean = |ptr: &str| {
        obj.pointer(ptr)
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .to_string()
    };
    match field {
        "metadata.name" => return Some(s("/metadata/name")),
        "metadata.namespace" if !is_cluster_scoped(kind) => return Some(s("/metadata/namespace")),
        _ => {}
    }
    Some(match (kind, field) {
        ("Pod", "spec.nodeName") => s("/spec/nodeName"),
        ("Pod", "spec.restartPolicy") => s("/spec/restartPolicy"),
        ("Pod", "spec.schedulerName") => s("/spec/schedulerName"),
        ("Pod", "spec.serviceAccountName") => s("/spec/serviceAccountName"),
        ("Pod", "spec.hostNetwork") => boolean("/spec/hostNetwork"),
        ("Pod", "status.phase") => s("/status/phase"),
        ("Pod", "status.podIP") => pod_ip(obj).unwrap_or_default(),
        ("Pod", "status.nominatedNodeName") => s("/status/nominatedNodeName"),
        ("Node", "spec.unschedulable") => boolean("/spec/unschedulable"),
        // Legacy keys the field sets still carry, though conversion rejects them.
        ("Namespace" | "PersistentVolume" | "PersistentVolumeClaim", "name") => s("/metadata/name"),
        ("Namespace", "status.phase") => s("/status/phase"),
        ("Secret", "type") => s("/type"),
        ("Service", "spec.clusterIP") => s("/spec/clusterIP"),
        ("Service", "spec.type") => s("/spec/type"),
        ("ReplicaSet" | "ReplicationController", "status.replicas") => int("/status/replicas"),
        ("Job", "status.successful") => int("/status/succeeded"),
        ("Event", "involvedObject.kind") => s("/involvedObject/kind"),
        ("Event", "involvedObject.namespace") => s("/involvedObject/namespace"),
        ("Event", "involvedObject.name") => s("/involvedObject/name"),
        ("Event", "involvedObject.uid") => s("/involvedObject/uid"),
        ("Event", "involvedObject.apiVersion") => s("/involvedObject/apiVersion"),
        ("Event", "involvedObject.resourceVersion") => s("/involvedObject/resourceVersion"),
        ("Event", "involvedObject.fieldPath") => s("/involvedObject/fieldPath"),
        ("Event", "reason") => s("/reason"),
        ("Event", "reportingComponent") => s("/reportingComponent"),
        ("Event", "source") => {
            let component = s("/source/component");
            if component.is_empty() {
                s("/reportingComponent")
            } else {
                component
            }
        }
        ("Event", "type") => s("/type"),
        _ => return None,
    })
}

/// The first pod IP: `status.podIPs[0].ip`, or the singular `status.podIP`
/// an older writer may have set alone (v1-to-internal conversion does the same).
pub(crate) fn pod_ip(pod: &Value) -> Option<String> {
    let first = pod.pointer("/status/podIPs/0/ip").and_then(Value::as_str);
    let single = pod.pointer("/status/podIP").and_then(Value::as_str);
    first
        .or(single)
        .filter(|ip| !ip.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parse_valid_and_canonical_form() {
        // (input, canonical Display)
        let cases = [
            ("", ""),
            ("a=b", "a=b"),
            ("a==b", "a==b"),
            ("a!=b", "a!=b"),
            ("a", "a"),
            ("!a", "!a"),
            (" !a ", "!a"),
            ("tier in (a,b)", "tier in (a,b)"),
            ("tier in (b, a)", "tier in (a,b)"),
            ("tier in(a)", "tier in (a)"),
            ("tier notin (a)", "tier notin (a)"),
            ("tier in ()", "tier in ()"),
            (
                "x in (foo,,baz),y,z notin ()",
                "x in (,baz,foo),y,z notin ()",
            ),
            ("x in (in)", "x in (in)"),
            ("a=", "a="),
            ("a==", "a=="),
            ("a=,b", "a=,b"),
            ("a>1", "a>1"),
            ("a<10", "a<10"),
            ("z=1,a=2", "a=2,z=1"),
            ("app=web, tier in (a,b)", "app=web,tier in (a,b)"),
            ("\tapp = web\n", "app=web"),
            ("example.com/app=web", "example.com/app=web"),
            ("a=1,a!=2", "a=1,a!=2"),
        ];
        for (input, want) in cases {
            let sel = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(sel.to_string(), want, "{input:?}");
            assert_eq!(
                LabelSelector::parse(want).unwrap(),
                sel,
                "round trip of {input:?}"
            );
        }
    }

    #[test]
    fn parse_errors_use_apimachinery_wording() {
        let name_part = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
        let label_value = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
        let cases: Vec<(&str, String)> = vec![
            ("a in b", "unable to parse requirement: found 'b' expected: '('".into()),
            ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'".into()),
            ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'".into()),
            ("a in (", "unable to parse requirement: found '', expected: ',', ')' or identifier".into()),
            ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier".into()),
            ("a=b,", "found '', expected: identifier after ','".into()),
            ("a=b c", "found 'c', expected: ',' or 'end of string'".into()),
            (",a", "found ',', expected: !, identifier, or 'end of string'".into()),
            ("=a", "found '=', expected: !, identifier, or 'end of string'".into()),
            ("!", "unable to parse requirement: found '', expected: identifier".into()),
            ("!a=b", "found '=', expected: ',' or 'end of string'".into()),
            ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt".into()),
            ("a=(b)", "unable to parse requirement: found '(', expected: identifier".into()),
            ("-a=b", format!("unable to parse requirement: <nil>: Invalid value: \"-a\": {name_part}")),
            (
                "a/b/c",
                "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')".into(),
            ),
            (
                "Example.com/a",
                "unable to parse requirement: <nil>: Invalid value: \"Example.com/a\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into(),
            ),
            ("a=-b", format!("unable to parse requirement: values[0][a]: Invalid value: \"-b\": {label_value}")),
            (
                "a>b",
                "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer".into(),
            ),
            (
                "a>-b",
                format!(
                    "unable to parse requirement: [values[0]: Invalid value: \"-b\": for 'Gt', 'Lt' operators, the value must be an integer, values[0][a]: Invalid value: \"-b\": {label_value}]"
                ),
            ),
            (
                "k=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
                "unable to parse requirement: values[0][k]: Invalid value: \"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\": must be no more than 63 characters".into(),
            ),
        ];
        for (input, want) in cases {
            let err = LabelSelector::parse(input).expect_err(input);
            assert!(matches!(err, SelectorError::Label(_)), "{input:?}");
            assert_eq!(err.to_string(), want, "{input:?}");
        }
    }

    #[test]
    fn matching() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        // (selector, matches l)
        let cases = [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("missing=x", false),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("tier in (front,back)", true),
            ("tier in (back)", false),
            ("missing in (a)", false),
            ("tier notin (back)", true),
            ("tier notin (front)", false),
            ("missing notin (a)", true),
            ("n>4", true),
            ("n>5", false),
            ("n<6", true),
            ("app>1", false),
            ("missing<1", false),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
        ];
        for (sel, want) in cases {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&l),
                want,
                "{sel:?}"
            );
        }
        assert!(!LabelSelector::nothing().matches(&l));
        assert!(!LabelSelector::nothing().is_empty());
        assert!(LabelSelector::default().is_empty());
        assert!(LabelSelector::parse("").unwrap().is_empty());
        assert!(!LabelSelector::parse("a").unwrap().is_empty());

        let obj = json!({"metadata": {"labels": {"app": "web"}}});
        assert!(
            LabelSelector::parse("app=web")
                .unwrap()
                .matches_object(&obj)
        );
        assert!(
            !LabelSelector::parse("app")
                .unwrap()
                .matches_object(&json!({"metadata": {}}))
        );
    }

    fn k8s_selector(v: Value) -> metav1::LabelSelector {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn from_k8s_each_operator() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        // (selector JSON, canonical string, matches l)
        let cases = [
            (json!({}), "", true),
            (
                json!({"matchLabels": {"tier": "front", "app": "web"}}),
                "app=web,tier=front",
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "front"]}]}),
                "tier in (b,front)",
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}),
                "tier notin (front)",
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]}),
                "app",
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}),
                "!app",
                false,
            ),
            (
                json!({"matchLabels": {"z": "1"}, "matchExpressions": [{"key": "app", "operator": "Exists"}]}),
                "app,z=1",
                false,
            ),
        ];
        for (v, want, m) in cases {
            let sel = LabelSelector::from_k8s(&k8s_selector(v.clone()))
                .unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(sel.to_string(), want, "{v}");
            assert_eq!(sel.matches(&l), m, "{v}");
        }
        assert_eq!(
            LabelSelector::from_k8s_opt(None).unwrap(),
            LabelSelector::nothing()
        );
    }

    #[test]
    fn from_k8s_errors() {
        let cases = [
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]}),
                "\"Foo\" is not a valid label selector operator",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
                "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]}),
                "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x", "y"]}]}),
                "values: Invalid value: []string{\"x\", \"y\"}: values set must be empty for exists and does not exist",
            ),
            (
                json!({"matchLabels": {"a b": "c"}}),
                "key: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
        ];
        for (v, want) in cases {
            let err = LabelSelector::from_k8s(&k8s_selector(v.clone())).expect_err(&v.to_string());
            assert_eq!(err.to_string(), want, "{v}");
        }
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(
            format_label_selector(Some(&k8s_selector(json!({})))),
            "<none>"
        );
        assert_eq!(
            format_label_selector(Some(&k8s_selector(json!({"matchLabels": {"app": "web"}})))),
            "app=web"
        );
        let bad = k8s_selector(json!({"matchExpressions": [{"key": "a", "operator": "Nope"}]}));
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
        assert_eq!(format_labels(&BTreeMap::new()), "<none>");
        assert_eq!(format_labels(&labels(&[("b", "2"), ("a", "1")])), "a=1,b=2");
        let from_map = LabelSelector::from_map(&labels(&[("b", "2"), ("a", "1")]));
        assert_eq!(from_map.to_string(), "a=1,b=2");
        assert_eq!(from_map.requires_exact_match("a"), Some("1"));
        assert_eq!(
            LabelSelector::parse("a in (x,y)")
                .unwrap()
                .requires_exact_match("a"),
            None
        );
    }

    #[test]
    fn field_selector_parse() {
        // (input, canonical Display)
        let cases = [
            ("", ""),
            ("metadata.name=x", "metadata.name=x"),
            ("metadata.name==x", "metadata.name=x"),
            (
                "status.phase!=Running,metadata.name=x",
                "metadata.name=x,status.phase!=Running",
            ),
            ("a=,,b=1", "a=,b=1"),
            (r"a=x\,y", r"a=x\,y"),
            (r"a=x\=y\\z", r"a=x\=y\\z"),
        ];
        for (input, want) in cases {
            let sel = FieldSelector::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(sel.to_string(), want, "{input:?}");
        }
        let sel = FieldSelector::parse(r"a=x\,y").unwrap();
        assert_eq!(sel.terms()[0].value, "x,y");
        assert_eq!(
            FieldSelector::parse("a!=b").unwrap().terms()[0].operator,
            FieldOperator::NotEquals
        );

        let errors = [
            ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
            (
                "a=b,foo",
                "invalid selector: 'a=b,foo'; can't understand 'foo'",
            ),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a!==b",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                r"a=b\x",
                r"invalid field selector: invalid escape sequence: \x",
            ),
            (
                r"a=b\",
                r"invalid field selector: invalid escape sequence: \",
            ),
        ];
        for (input, want) in errors {
            let err = FieldSelector::parse(input).expect_err(input);
            assert!(matches!(err, SelectorError::Field(_)));
            assert_eq!(err.to_string(), want, "{input:?}");
        }
    }

    #[test]
    fn field_selector_supported_fields() {
        // (kind, selector, Ok or the apiserver's message)
        let cases = [
            ("Pod", "spec.nodeName=n1,status.phase=Running", Ok(())),
            ("Pod", "spec.host=n1", Ok(())),
            (
                "Pod",
                "spec.foo=x",
                Err("field label not supported: spec.foo"),
            ),
            (
                "Event",
                "involvedObject.uid=1,involvedObject.name=a,involvedObject.namespace=d,involvedObject.kind=Pod",
                Ok(()),
            ),
            ("Event", "foo=x", Err("field label not supported: foo")),
            (
                "Node",
                "metadata.namespace=x",
                Err("field label not supported: metadata.namespace"),
            ),
            ("Node", "spec.unschedulable=false", Ok(())),
            ("Namespace", "status.phase=Active", Ok(())),
            ("Secret", "type=Opaque", Ok(())),
            ("Service", "spec.type=NodePort", Ok(())),
            ("Job", "status.successful=1", Ok(())),
            (
                "Job",
                "spec.foo=1",
                Err("field label \"spec.foo\" not supported for Job"),
            ),
            ("ConfigMap", "metadata.name=a,metadata.namespace=b", Ok(())),
            (
                "ReplicaSet",
                "status.replicas=1",
                Err(
                    "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                ),
            ),
        ];
        for (kind, sel, want) in cases {
            let got = FieldSelector::parse(sel)
                .unwrap()
                .check_supported(kind)
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_string), "{kind} {sel}");
        }
        let err = FieldSelector::parse("spec.foo=x")
            .unwrap()
            .check_supported("Pod")
            .unwrap_err();
        assert_eq!(
            err,
            SelectorError::UnsupportedField {
                field: "spec.foo".into(),
                message: "field label not supported: spec.foo".into()
            }
        );
    }

    #[test]
    fn field_selector_matching() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always"},
            "status": {"phase": "Running", "podIP": "10.0.0.5"}
        });
        let event = json!({
            "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default", "uid": "u-1"},
            "reason": "Started",
            "reportingComponent": "kubelet",
            "type": "Normal"
        });
        let node = json!({"metadata": {"name": "n1"}, "spec": {}});
        // (kind, object, selector, matches)
        let cases = [
            ("Pod", &pod, "spec.nodeName=n1", true),
            ("Pod", &pod, "spec.host=n1", true),
            ("Pod", &pod, "spec.nodeName=n2", false),
            ("Pod", &pod, "spec.nodeName!=n2", true),
            ("Pod", &pod, "status.phase=Running,metadata.name=p", true),
            ("Pod", &pod, "status.phase!=Running", false),
            ("Pod", &pod, "status.podIP=10.0.0.5", true),
            ("Pod", &pod, "spec.hostNetwork=false", true),
            ("Pod", &pod, "metadata.namespace=default", true),
            ("Pod", &pod, "spec.schedulerName=", true),
            (
                "Event",
                &event,
                "involvedObject.name=p,involvedObject.namespace=default,involvedObject.kind=Pod,involvedObject.uid=u-1",
                true,
            ),
            ("Event", &event, "involvedObject.uid=u-2", false),
            ("Event", &event, "source=kubelet", true),
            ("Event", &event, "reason=Started,type=Normal", true),
            ("Node", &node, "spec.unschedulable=false", true),
            ("Node", &node, "metadata.namespace=", true),
        ];
        for (kind, obj, sel, want) in cases {
            assert_eq!(
                FieldSelector::parse(sel).unwrap().matches(kind, obj),
                want,
                "{kind} {sel}"
            );
        }
        assert_eq!(field_value("Node", &node, "metadata.namespace"), None);
        assert_eq!(field_value("Pod", &pod, "spec.nope"), None);
        assert_eq!(
            field_value(
                "Job",
                &json!({"status": {"succeeded": 3}}),
                "status.successful"
            )
            .as_deref(),
            Some("3")
        );
        let with_ips = json!({"status": {"podIP": "10.0.0.5", "podIPs": [{"ip": "fd00::5"}]}});
        assert_eq!(
            field_value("Pod", &with_ips, "status.podIP").as_deref(),
            Some("fd00::5")
        );
        let sel = FieldSelector::parse("metadata.name=a,status.phase!=b").unwrap();
        assert_eq!(sel.requires_exact_match("metadata.name"), Some("a"));
        assert_eq!(sel.requires_exact_match("status.phase"), None);
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\x01\"");
        assert_eq!(go_quote("ü"), "\"ü\"");
    }
}

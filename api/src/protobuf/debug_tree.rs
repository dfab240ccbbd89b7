//! A parser for the `{:?}` output of prost-derived messages.
//!
//! prost generates no reflection, but its derived `Debug` prints every field
//! by name in a small, regular grammar: `Name { field: value, ... }`,
//! `Some(..)`/`None` for optional fields, `[..]` for repeated fields and
//! bytes, `{k: v, ..}` for maps, Rust-escaped strings, and bare numbers and
//! booleans. Reading that back gives a tree the JSON conversion can walk
//! without a hand-written conversion per type.

/// One value of a decoded message.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    None,
    Some(Box<Node>),
    /// A message: its Rust type name and its fields in declaration order, each
    /// by its Rust field name (`r#type` keeps its raw-identifier prefix).
    Struct {
        name: String,
        fields: Vec<(String, Node)>,
    },
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Str(String),
    /// A number as printed (`-3`, `0.5`, `1e-7`, `inf`, `NaN`).
    Num(String),
    Bool(bool),
}

impl Node {
    /// The value inside any `Some`.
    pub(super) fn unwrap_some(&self) -> &Node {
        let mut node = self;
        while let Node::Some(inner) = node {
            node = inner;
        }
        node
    }

    /// A field of a message by Rust field name.
    pub(super) fn field(&self, name: &str) -> Option<&Node> {
        match self.unwrap_some() {
            Node::Struct { fields, .. } => fields
                .iter()
                .find(|(f, _)| f.trim_start_matches("r#") == name)
                .map(|(_, v)| v.unwrap_some()),
            _ => None,
        }
    }
}

/// Parses the `{:?}` output of one message.
pub(super) fn parse(text: &str) -> Result<Node, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    let node = p.value()?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(p.error("trailing input"));
    }
    Ok(node)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        format!("unreadable message dump at offset {}: {what}", self.pos)
    }

    fn skip_ws(&mut self) {
        while self.s.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", c as char)))
        }
    }

    fn ident(&mut self) -> Result<&str, String> {
        self.skip_ws();
        let start = self.pos;
        if self.s[self.pos..].starts_with(b"r#") {
            self.pos += 2;
        }
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expected a name"));
        }
        Ok(&self.text[start..self.pos])
    }

    /// Items separated by `, ` up to `close`.
    fn seq<T>(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let mut out = Vec::new();
        if self.eat(close) {
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if self.eat(close) {
                return Ok(out);
            }
            self.expect(b',')?;
        }
    }

    fn value(&mut self) -> Result<Node, String> {
        match self.peek() {
            None => Err(self.error("unexpected end")),
            Some(b'"') => self.string().map(Node::Str),
            Some(b'[') => {
                self.pos += 1;
                self.seq(b']', Self::value).map(Node::List)
            }
            Some(b'{') => {
                self.pos += 1;
                self.seq(b'}', |p| {
                    let k = p.value()?;
                    p.expect(b':')?;
                    Ok((k, p.value()?))
                })
                .map(Node::Map)
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => Ok(Node::Num(self.number())),
            Some(_) => {
                let name = self.ident()?.to_string();
                match name.as_str() {
                    "None" => Ok(Node::None),
                    "true" => Ok(Node::Bool(true)),
                    "false" => Ok(Node::Bool(false)),
                    "inf" | "NaN" => Ok(Node::Num(name)),
                    "Some" => {
                        self.expect(b'(')?;
                        let inner = self.value()?;
                        self.expect(b')')?;
                        Ok(Node::Some(Box::new(inner)))
                    }
                    _ => {
                        // A message without fields prints as its bare name.
                        let fields = if self.eat(b'{') {
                            self.seq(b'}', |p| {
                                let f = p.ident()?.to_string();
                                p.expect(b':')?;
                                Ok((f, p.value()?))
                            })?
                        } else {
                            Vec::new()
                        };
                        Ok(Node::Struct { name, fields })
                    }
                }
            }
        }
    }

    fn number(&mut self) -> String {
        let start = self.pos;
        if self.s[self.pos..].starts_with(b"-inf") {
            self.pos += 4;
            return "-inf".to_string();
        }
        while self
            .s
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.pos += 1;
        }
        self.text[start..self.pos].to_string()
    }

    /// A string as `str::escape_debug` writes it.
    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(c) = rest.chars().next() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let e = self.s.get(self.pos).copied();
                    self.pos += 1;
                    match e {
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'0') => out.push('\0'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'"') => out.push('"'),
                        Some(b'\'') => out.push('\''),
                        Some(b'u') => {
                            self.expect(b'{')?;
                            let start = self.pos;
                            while self.s.get(self.pos).is_some_and(u8::is_ascii_hexdigit) {
                                self.pos += 1;
                            }
                            let ch = u32::from_str_radix(&self.text[start..self.pos], 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.error("bad \\u escape"))?;
                            self.expect(b'}')?;
                            out.push(ch);
                        }
                        _ => return Err(self.error("bad escape")),
                    }
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Node {
        Node::Str(v.to_string())
    }

    #[test]
    fn parses_the_shapes_prost_prints() {
        let text = r#"ConfigMap { metadata: Some(ObjectMeta { name: Some("x"), generation: Some(-3) }), immutable: None, data: {"k": "v\"\\\n\u{1b}é"}, binary_data: {"b": [1, 2]}, e: Empty, f: [], g: {}, r#type: Some(1.5e-7) }"#;
        let node = parse(text).unwrap();
        let Node::Struct { name, fields } = &node else {
            panic!("{node:?}")
        };
        assert_eq!(name, "ConfigMap");
        assert_eq!(fields.len(), 8);
        assert_eq!(node.field("metadata").unwrap().field("name"), Some(&s("x")));
        assert_eq!(
            node.field("metadata").unwrap().field("generation"),
            Some(&Node::Num("-3".into()))
        );
        assert_eq!(node.field("immutable"), Some(&Node::None));
        assert_eq!(
            node.field("data"),
            Some(&Node::Map(vec![(s("k"), s("v\"\\\n\u{1b}é"))]))
        );
        assert_eq!(
            node.field("binary_data"),
            Some(&Node::Map(vec![(
                s("b"),
                Node::List(vec![Node::Num("1".into()), Node::Num("2".into())])
            )]))
        );
        assert_eq!(
            node.field("e"),
            Some(&Node::Struct {
                name: "Empty".into(),
                fields: vec![]
            })
        );
        assert_eq!(node.field("type"), Some(&Node::Num("1.5e-7".into())));
    }

    #[test]
    fn round_trips_real_debug_strings() {
        let tricky = "a\"b\\c\nd\te\r\0f\u{7f}g\u{200b}h'i";
        let text = format!("X {{ v: Some({tricky:?}) }}");
        assert_eq!(parse(&text).unwrap().field("v"), Some(&s(tricky)));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("X { v: ").is_err());
        assert!(parse("X { v: 1 } y").is_err());
        assert!(parse("\"open").is_err());
    }
}

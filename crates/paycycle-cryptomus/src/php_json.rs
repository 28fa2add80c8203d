//! Re-encoding JSON exactly as PHP's `json_encode($data, JSON_UNESCAPED_UNICODE)` does after
//! `json_decode($body, true)`, which is what Cryptomus hashes to sign a webhook.
//!
//! The rules, each checked against PHP 8.2 in the tests:
//! - compact: no whitespace between tokens;
//! - object members in their original order;
//! - strings: non-ASCII left as raw UTF-8, `/` escaped as `\/`, `"` and `\` escaped, `\b \f \n
//!   \r \t` short escapes, other control characters and U+2028/U+2029 as lowercase `\u00XX`;
//! - numbers copied as they were written. The sender is PHP, so they already are in PHP's form;
//!   a literal PHP would rewrite (`2.50`, or an integer beyond `i64`, which PHP turns into a float)
//!   never comes from Cryptomus, and is kept as written;
//! - an empty object becomes `[]` and an object whose keys are exactly `"0"`, `"1"`, … in order
//!   becomes a list, because `json_decode(…, true)` turns both into PHP lists.
//!
//! This works on the raw text rather than on `serde_json::Value`, so numbers keep their exact
//! spelling and key order survives without enabling serde_json features for the whole build.

use std::fmt::Write as _;

/// Nesting deeper than this is refused (the input comes from the network).
const MAX_DEPTH: usize = 64;

/// Why a body could not be re-encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}: {reason}")]
pub struct PhpJsonError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

/// The PHP encoding of a JSON object with one top-level member removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reencoded {
    /// The object, PHP-encoded, without the removed member.
    pub json: String,
    /// The removed member's value when it was a string.
    pub removed: Option<String>,
}

/// Re-encodes a JSON object as PHP would, dropping the top-level member `drop` (e.g. `sign`).
///
/// # Errors
/// [`PhpJsonError`] when the input is not a single JSON object.
pub fn reencode_object_without(input: &[u8], drop: &str) -> Result<Reencoded, PhpJsonError> {
    let mut p = Parser { s: input, i: 0 };
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(p.err("the body must be a JSON object"));
    }
    let value = p.value(0)?;
    p.ws();
    if p.i != input.len() {
        return Err(p.err("trailing characters after the JSON object"));
    }
    let Node::Object(members) = value else {
        return Err(p.err("the body must be a JSON object"));
    };
    let mut removed = None;
    let kept: Vec<(String, Node)> = members
        .into_iter()
        .filter_map(|(k, v)| {
            if k == drop {
                if let Node::Str(s) = &v {
                    removed = Some(s.clone());
                }
                None
            } else {
                Some((k, v))
            }
        })
        .collect();
    let mut json = String::with_capacity(input.len());
    write_node(&mut json, &Node::Object(kept));
    Ok(Reencoded { json, removed })
}

/// Re-encodes any JSON text as PHP would.
///
/// # Errors
/// [`PhpJsonError`] when the input is not one JSON value.
pub fn reencode(input: &[u8]) -> Result<String, PhpJsonError> {
    let mut p = Parser { s: input, i: 0 };
    let value = p.value(0)?;
    p.ws();
    if p.i != input.len() {
        return Err(p.err("trailing characters after the JSON value"));
    }
    let mut out = String::with_capacity(input.len());
    write_node(&mut out, &value);
    Ok(out)
}

enum Node {
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    Str(String),
    /// A number, true, false or null, as written.
    Literal(String),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> PhpJsonError {
        PhpJsonError { offset: self.i, reason }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, b: u8, reason: &'static str) -> Result<(), PhpJsonError> {
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(reason))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, PhpJsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Node::Str(self.string()?)),
            Some(b't') => self.word("true"),
            Some(b'f') => self.word("false"),
            Some(b'n') => self.word("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Node, PhpJsonError> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Node::Object(members));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a member name"));
            }
            let key = self.string()?;
            self.ws();
            self.expect(b':', "expected `:`")?;
            let v = self.value(depth + 1)?;
            members.push((key, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Node::Object(members));
                }
                _ => return Err(self.err("expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node, PhpJsonError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Node::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Node::Array(items));
                }
                _ => return Err(self.err("expected `,` or `]`")),
            }
        }
    }

    fn word(&mut self, w: &'static str) -> Result<Node, PhpJsonError> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(Node::Literal(w.to_owned()))
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Node, PhpJsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        // Only ASCII digits, signs, '.', 'e' were consumed.
        let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        Ok(Node::Literal(text))
    }

    fn hex4(&mut self) -> Result<u32, PhpJsonError> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("truncated \\u escape"))?;
        let mut v = 0u32;
        for &c in h {
            let d = (c as char).to_digit(16).ok_or_else(|| self.err("invalid \\u escape"))?;
            v = v * 16 + d;
        }
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, PhpJsonError> {
        self.i += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            match c {
                b'"' => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| self.err("invalid UTF-8 in string"));
                }
                b'\\' => {
                    self.i += 1;
                    let e = self.peek().ok_or_else(|| self.err("unterminated escape"))?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(self.err("unpaired UTF-16 surrogate"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("unpaired UTF-16 surrogate"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(self.err("unpaired UTF-16 surrogate"));
                            } else {
                                hi
                            };
                            char::from_u32(cp).ok_or_else(|| self.err("invalid code point"))?
                        }
                        _ => return Err(self.err("invalid escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1f => return Err(self.err("control character in string")),
                _ => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// True when PHP's `json_decode(…, true)` would turn this object into a list.
fn is_php_list(members: &[(String, Node)]) -> bool {
    members.iter().enumerate().all(|(i, (k, _))| *k == i.to_string())
}

fn write_node(out: &mut String, node: &Node) {
    match node {
        Node::Literal(t) => out.push_str(t),
        Node::Str(s) => write_str(out, s),
        Node::Array(items) => write_list(out, items.iter()),
        Node::Object(members) if is_php_list(members) => write_list(out, members.iter().map(|(_, v)| v)),
        Node::Object(members) => {
            out.push('{');
            for (n, (k, v)) in members.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_node(out, v);
            }
            out.push('}');
        }
    }
}

fn write_list<'a>(out: &mut String, items: impl Iterator<Item = &'a Node>) {
    out.push('[');
    for (n, v) in items.enumerate() {
        if n > 0 {
            out.push(',');
        }
        write_node(out, v);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        key: String,
        vectors: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        input: String,
        php_json: String,
        sign: String,
    }

    /// Vectors produced by PHP 8.2 itself (tests/fixtures/gen_php_vectors.php).
    #[test]
    fn matches_php_json_encode_on_every_vector() {
        let v: Vectors = serde_json::from_str(include_str!("../tests/fixtures/php_vectors.json")).unwrap();
        assert!(v.vectors.len() >= 6);
        for vec in &v.vectors {
            assert_eq!(
                reencode(vec.input.as_bytes()).unwrap(),
                vec.php_json,
                "input {}",
                vec.input
            );
            assert_eq!(crate::sign::request_sign(vec.php_json.as_bytes(), &v.key), vec.sign);
        }
    }

    #[test]
    fn drops_only_the_top_level_member() {
        let r = reencode_object_without(br#"{"a":"x/y","sign":"abc","n":{"sign":"keep"}}"#, "sign").unwrap();
        assert_eq!(r.json, r#"{"a":"x\/y","n":{"sign":"keep"}}"#);
        assert_eq!(r.removed.as_deref(), Some("abc"));
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            &b""[..],
            b"{",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"{\"a\":01}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":1} x",
            b"[1]",
            b"{\"a\":tru}",
        ] {
            assert!(
                reencode_object_without(bad, "sign").is_err(),
                "{:?} should be refused",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(reencode_object_without(deep.as_bytes(), "sign").is_err());
    }
}

//! The one-pass PHP re-encoding and webhook verification against the tree-based encoder they
//! replaced (kept here, unchanged, as `reference`), on generated bodies in every spelling JSON
//! allows; and the `sign` edge cases where hashing the raw text as it is would be wrong.
//!
//! The verifier hashes only what PHP would write: a body whose text is already in PHP's form is
//! hashed in place, anything else (whitespace, `\u00e9`, an unescaped `/`, `"\u0073ign"`, `{}`…)
//! is re-encoded. The tests named `only_the_php_form_…` are bodies where the raw text without
//! `sign` is *not* what PHP hashes: they verify with the sign over PHP's form, and a sign over
//! the raw text is refused.
// Test code: helpers outside #[test] functions may fail loudly too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    unreachable_pub
)]

use paycycle_core::{Error, WebhookError};
use paycycle_cryptomus::CryptomusWebhookVerifier;
use paycycle_cryptomus::php_json::{reencode, reencode_object_without};
use paycycle_cryptomus::sign::{request_sign, verify_webhook_sign};
use proptest::prelude::*;
use serde_json::Value;

const KEY: &str = "test-payment-key";

/// The PHP encoder as it was before the one-pass rewrite: decode to a tree, encode it back.
#[allow(dead_code)]
mod reference {
    use std::fmt::Write as _;

    /// Nesting deeper than this is refused (the input comes from the network).
    const MAX_DEPTH: usize = 64;

    /// Why a body could not be re-encoded.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct PhpJsonError {
        /// Byte offset of the problem.
        pub(crate) offset: usize,
        /// What was wrong.
        pub(crate) reason: &'static str,
    }

    /// The PHP encoding of a JSON object with one top-level member removed.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Reencoded {
        /// The object, PHP-encoded, without the removed member.
        pub(crate) json: String,
        /// The removed member's value when it was a string.
        pub(crate) removed: Option<String>,
    }

    /// Re-encodes a JSON object as PHP would, dropping the top-level member `drop` (e.g. `sign`).
    ///
    /// # Errors
    /// [`PhpJsonError`] when the input is not a single JSON object.
    pub(crate) fn reencode_object_without(input: &[u8], drop: &str) -> Result<Reencoded, PhpJsonError> {
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
    pub(crate) fn reencode(input: &[u8]) -> Result<String, PhpJsonError> {
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
}

/// What verification must give, computed the way it was before: the tree-based re-encoding,
/// md5, then `serde_json::from_slice`.
#[derive(Debug, PartialEq)]
enum Outcome {
    Accepted(Value),
    Malformed,
    MissingSignature,
    BadSignature,
}

fn reference_outcome(body: &[u8], key: &str) -> Outcome {
    let Ok(r) = reference::reencode_object_without(body, "sign") else {
        return Outcome::Malformed;
    };
    let Some(given) = r.removed else {
        return Outcome::MissingSignature;
    };
    if request_sign(r.json.as_bytes(), key) != given {
        return Outcome::BadSignature;
    }
    match serde_json::from_slice(body) {
        Ok(v) => Outcome::Accepted(v),
        Err(_) => Outcome::Malformed,
    }
}

fn outcome(body: &[u8], key: &str) -> Outcome {
    match CryptomusWebhookVerifier::new(key.to_owned().into()).verify(body) {
        // The event keeps the body as text. What serde_json checks but cannot build (a number
        // beyond f64 in a member the mapping does not read) is accepted and kept whole there,
        // where the reference refuses it: both count as "no `Value`" here.
        Ok(e) => e.raw.value().map_or(Outcome::Malformed, Outcome::Accepted),
        Err(Error::Webhook { reason, .. }) => match reason {
            WebhookError::Malformed(_) => Outcome::Malformed,
            WebhookError::MissingSignature => Outcome::MissingSignature,
            WebhookError::BadSignature => Outcome::BadSignature,
            other => panic!("unexpected {other:?}"),
        },
        Err(other) => panic!("unexpected {other:?}"),
    }
}

/// The sign Cryptomus puts in `body` (its value does not matter: it is not hashed).
fn php_sign(body: &str) -> String {
    request_sign(
        reference::reencode_object_without(body.as_bytes(), "sign")
            .unwrap()
            .json
            .as_bytes(),
        KEY,
    )
}

/// `body` with every `SIGN` placeholder replaced by the sign of PHP's form.
fn signed(template: &str) -> String {
    template.replace("SIGN", &php_sign(template))
}

fn assert_outcome(body: &str, expected: &Outcome) {
    let got = outcome(body.as_bytes(), KEY);
    assert_eq!(&got, expected, "{body}");
    assert_eq!(
        &reference_outcome(body.as_bytes(), KEY),
        expected,
        "the reference on {body}"
    );
}

fn accepted(body: &str) -> Outcome {
    Outcome::Accepted(serde_json::from_str(body).unwrap())
}

/// `template` signed over PHP's form verifies; signed over `raw_text` (what a verifier hashing
/// the raw body without `sign` would hash) it is refused.
fn only_php_form_verifies(template: &str, raw_text: &str) {
    let php = reference::reencode_object_without(template.as_bytes(), "sign")
        .unwrap()
        .json;
    assert_ne!(php, raw_text, "the raw text must differ from PHP's form for this test");
    let good = signed(template);
    assert_outcome(&good, &accepted(&good));
    verify_webhook_sign(good.as_bytes(), KEY).unwrap();
    let raw_signed = template.replace("SIGN", &request_sign(raw_text.as_bytes(), KEY));
    assert_outcome(&raw_signed, &Outcome::BadSignature);
    assert_eq!(
        verify_webhook_sign(raw_signed.as_bytes(), KEY),
        Err(WebhookError::BadSignature)
    );
}

#[test]
fn sign_first_middle_or_last_in_php_form_verifies() {
    for template in [
        r#"{"sign":"SIGN","a":"x\/y","b":1}"#,
        r#"{"a":"x\/y","sign":"SIGN","b":1}"#,
        r#"{"a":"x\/y","b":1,"sign":"SIGN"}"#,
        r#"{"sign":"SIGN"}"#,
    ] {
        let body = signed(template);
        assert_outcome(&body, &accepted(&body));
        // Any other sign, or the same in upper case: refused.
        let upper = template.replace("SIGN", &php_sign(template).to_uppercase());
        assert_outcome(&upper, &Outcome::BadSignature);
        let other = template.replace("SIGN", &request_sign(b"{}", KEY));
        assert_outcome(&other, &Outcome::BadSignature);
    }
}

#[test]
fn only_the_php_form_verifies_with_sign_first_or_middle_and_a_stray_comma() {
    // Removing `"sign":"…"` alone from the text leaves a comma PHP does not write.
    only_php_form_verifies(r#"{"sign":"SIGN","a":1}"#, r#"{,"a":1}"#);
    only_php_form_verifies(r#"{"sign":"SIGN","a":1}"#, r#"{"a":1}x"#);
    only_php_form_verifies(r#"{"a":1,"sign":"SIGN","b":2}"#, r#"{"a":1,,"b":2}"#);
}

#[test]
fn only_the_php_form_verifies_with_whitespace_around_members() {
    only_php_form_verifies(
        "{ \"a\" : 1 ,\n  \"sign\" : \"SIGN\" , \"b\" : [ 1 , 2 ] }\n",
        "{ \"a\" : 1 , \"b\" : [ 1 , 2 ] }",
    );
    only_php_form_verifies("\n{\"a\":1,\"sign\":\"SIGN\"}\r\n", "\n{\"a\":1}\r\n");
}

#[test]
fn only_the_php_form_verifies_with_unicode_escapes_and_raw_slashes() {
    // PHP's default flags send `\u00d1`, but Cryptomus hashes JSON_UNESCAPED_UNICODE: `Ñ`.
    only_php_form_verifies(
        r#"{"name":"Ana \u00d1\u00fa\u00f1ez \ud83c\udf89","sign":"SIGN"}"#,
        r#"{"name":"Ana \u00d1\u00fa\u00f1ez \ud83c\udf89"}"#,
    );
    // Sent with JSON_UNESCAPED_SLASHES: hashed with `\/`.
    only_php_form_verifies(
        r#"{"url":"https://a.example/b","sign":"SIGN"}"#,
        r#"{"url":"https://a.example/b"}"#,
    );
    // Escapes PHP writes otherwise: `\u001F` (upper case), `\u002f`, `\u0041`, raw U+2028.
    only_php_form_verifies(
        "{\"c\":\"\\u001F \\u002f \\u0041 \u{2028}\",\"sign\":\"SIGN\"}",
        "{\"c\":\"\\u001F \\u002f \\u0041 \u{2028}\"}",
    );
}

#[test]
fn only_the_php_form_verifies_with_empty_and_list_like_objects() {
    only_php_form_verifies(
        r#"{"e":{},"l":{"0":"a","1":{"0":{}}},"sign":"SIGN"}"#,
        r#"{"e":{},"l":{"0":"a","1":{"0":{}}}}"#,
    );
    // Without `sign`, the top level itself is a list for PHP.
    only_php_form_verifies(r#"{"0":"a","sign":"SIGN","1":"b"}"#, r#"{"0":"a","1":"b"}"#);
}

#[test]
fn escaped_spellings_of_sign_are_sign() {
    // `"\u0073ign"` is `sign` once decoded, as PHP decodes it: removed, and its value checked.
    only_php_form_verifies(r#"{"a":1,"\u0073ign":"SIGN"}"#, r#"{"a":1,"\u0073ign":"SIGN"}"#);
    let body = signed(r#"{"a":1,"sig\u006e":"SIGN"}"#);
    assert_outcome(&body, &accepted(&body));
    // A sign over the text with the escaped member left in is refused.
    let template = r#"{"a":1,"\u0073ign":"SIGN"}"#;
    let kept_in = template.replace("SIGN", &request_sign(br#"{"a":1,"\u0073ign":"x"}"#, KEY));
    assert_outcome(&kept_in, &Outcome::BadSignature);
    // Names that only look like `sign` are ordinary members, so there is no sign at all.
    for template in [
        r#"{"a":1,"Sign":"SIGN"}"#,
        r#"{"a":1,"sign ":"SIGN"}"#,
        r#"{"a":1,"\u0053ign":"SIGN"}"#,
    ] {
        assert_outcome(&signed(template), &Outcome::MissingSignature);
    }
}

#[test]
fn with_two_signs_both_are_removed_and_the_last_is_checked() {
    // Every top-level `sign` is removed (PHP keeps one key; none is hashed); the last string
    // one is the sign.
    let junk = "0".repeat(32);
    let template = format!(r#"{{"a":1,"sign":"{junk}","b":2,"sign":"SIGN"}}"#);
    let body = signed(&template);
    assert_outcome(&body, &accepted(&body));
    let swapped = format!(r#"{{"a":1,"sign":"SIGN","b":2,"sign":"{junk}"}}"#);
    assert_outcome(&signed(&swapped), &Outcome::BadSignature);
    // A sign over the text with only the last `sign` removed (the first left in) is refused.
    let one_removed = format!(r#"{{"a":1,"sign":"{junk}","b":2}}"#);
    let forged = template.replace("SIGN", &request_sign(one_removed.as_bytes(), KEY));
    assert_outcome(&forged, &Outcome::BadSignature);
    // The same with an escaped spelling for one of them.
    let template = r#"{"\u0073ign":"SIGN","a":1,"sign":"SIGN"}"#;
    let body = signed(template);
    assert_outcome(&body, &accepted(&body));
    let forged = template.replace("SIGN", &request_sign(br#"{"\u0073ign":"x","a":1}"#, KEY));
    assert_outcome(&forged, &Outcome::BadSignature);
}

#[test]
fn a_nested_sign_is_data_and_is_hashed() {
    let template = r#"{"a":{"sign":"inner"},"l":[{"sign":"x"}],"sign":"SIGN"}"#;
    let body = signed(template);
    assert_outcome(&body, &accepted(&body));
    assert_eq!(
        reencode_object_without(body.as_bytes(), "sign").unwrap().json,
        r#"{"a":{"sign":"inner"},"l":[{"sign":"x"}]}"#
    );
    // Signed as if the nested one were removed too: refused.
    let forged = template.replace("SIGN", &request_sign(br#"{"a":[],"l":[[]]}"#, KEY));
    assert_outcome(&forged, &Outcome::BadSignature);
    // Only nested ones: no sign.
    assert_outcome(r#"{"a":{"sign":"inner"}}"#, &Outcome::MissingSignature);
    // A nested sign that is the right one for the body does not make it signed either.
    let nested_only = format!(r#"{{"a":{{"sign":"{}"}}}}"#, request_sign(b"{\"a\":[]}", KEY));
    assert_outcome(&nested_only, &Outcome::MissingSignature);
}

#[test]
fn a_sign_that_is_not_a_string_is_no_sign() {
    assert_outcome(r#"{"a":1,"sign":5}"#, &Outcome::MissingSignature);
    assert_outcome(r#"{"a":1,"sign":null}"#, &Outcome::MissingSignature);
    assert_outcome(r#"{"a":1,"sign":["x"]}"#, &Outcome::MissingSignature);
    // As before: the last *string* one is the sign, even with a later non-string one.
    let body = signed(r#"{"a":1,"sign":"SIGN","sign":5}"#);
    assert_eq!(outcome(body.as_bytes(), KEY), reference_outcome(body.as_bytes(), KEY));
}

#[test]
fn malformed_bodies_are_malformed_before_any_hashing() {
    for body in [
        "",
        "[]",
        "{",
        r#"{"sign":"x""#,
        r#"{"sign":"x",}"#,
        r#"{"sign":"x"} {"#,
        "{\"sign\":\"x\",\"a\":\"\u{1}\"}",
        r#"{"sign":"x","a":"\ud800"}"#,
        r#"{"sign":"x","a":01}"#,
        r#"{"sign":"x","a":"\q"}"#,
        r#"{"sign":"x","a":"\u12"}"#,
    ] {
        assert_outcome(body, &Outcome::Malformed);
    }
    // Invalid UTF-8 inside a string.
    assert_eq!(outcome(b"{\"sign\":\"x\",\"a\":\"\xff\"}", KEY), Outcome::Malformed);
    // A number serde_json cannot read: the sign is checked first, as before.
    assert_outcome(
        r#"{"a":1e400,"sign":"00000000000000000000000000000000"}"#,
        &Outcome::BadSignature,
    );
    assert_outcome(&signed(r#"{"a":1e400,"sign":"SIGN"}"#), &Outcome::Malformed);
}

#[test]
fn the_php_signed_fixtures_verify() {
    for body in [
        &include_bytes!("fixtures/webhook_payment_paid.json")[..],
        &include_bytes!("fixtures/webhook_recurrence_cancel_by_user.json")[..],
    ] {
        assert_eq!(
            outcome(body, KEY),
            Outcome::Accepted(serde_json::from_slice(body).unwrap())
        );
    }
}

#[test]
fn large_bodies_hash_across_block_boundaries() {
    // The hash is fed in blocks; bodies around the block sizes, in PHP's form and not.
    for n in [3060, 3069, 3070, 3071, 3072, 3073, 6144, 6145, 9217, 70_000] {
        for fill in ["a", "é", "\\u00e9", "/", "\\/"] {
            let template = format!(r#"{{"d":"{}","sign":"SIGN","n":1}}"#, fill.repeat(n / fill.len()));
            let body = signed(&template);
            assert_outcome(&body, &accepted(&body));
            let bad = template.replace("SIGN", &request_sign(b"x", KEY));
            assert_outcome(&bad, &Outcome::BadSignature);
        }
    }
}

#[test]
fn every_escape_at_every_alignment() {
    // Strings are read eight bytes at a time: each escape (and what follows it) at each offset
    // of a chunk, in a value and in a name, gives what the tree encoder and serde_json give.
    let parts = [
        r#"\""#,
        r#"\\"#,
        r#"\/"#,
        r#"\n"#,
        r#"\t"#,
        r#"\u00e9"#,
        r#"\u00E9"#,
        r#"\u001f"#,
        r#"\u001F"#,
        r#"\u0041"#,
        r#"\u002f"#,
        r#"\u005c"#,
        r#"\ud83c\udf89"#,
        r#"\u2028"#,
        "/",
        "é",
        "\u{2028}",
        "a",
    ];
    for pad in 0..17 {
        for a in parts {
            for b in parts {
                let text = format!("{}{a}{}{b}xyz", "p".repeat(pad), "q".repeat(pad % 3));
                for template in [
                    format!(r#"{{"v":"{text}","sign":"SIGN","n":1}}"#),
                    format!(r#"{{"{text}":1,"sign":"SIGN"}}"#),
                ] {
                    let new = reencode_object_without(template.as_bytes(), "sign").unwrap();
                    let old = reference::reencode_object_without(template.as_bytes(), "sign").unwrap();
                    assert_eq!((&new.json, &new.removed), (&old.json, &old.removed), "{template}");
                    let body = signed(&template);
                    assert_eq!(outcome(body.as_bytes(), KEY), accepted(&body), "{body}");
                }
            }
        }
    }
}

// --- generated bodies ---------------------------------------------------------------------

/// A JSON value to be written in one of its many spellings.
#[derive(Debug, Clone)]
enum J {
    Obj(Vec<(String, J)>),
    Arr(Vec<J>),
    Str(String),
    Lit(&'static str),
    /// A `sign` member's value: the member is written as is.
    Sign,
}

const LITERALS: [&str; 14] = [
    "0",
    "-5",
    "17",
    "1.50",
    "1e2",
    "-0",
    "0.1E-3",
    "true",
    "false",
    "null",
    "123456789012345678",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
];

const CHARS: [char; 16] = [
    'a', 'Z', ' ', '/', '"', '\\', '\n', '\u{1}', '\u{1f}', 'é', '☃', '🎉', '\u{2028}', '\u{2029}', '\u{7f}', '0',
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(&CHARS[..]), 0..40).prop_map(|c| c.into_iter().collect())
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(&["sign", "a", "b", "0", "1", "2", "x/y", "é"][..]).prop_map(str::to_owned),
        1 => text(),
    ]
}

fn json() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        text().prop_map(J::Str),
        prop::sample::select(&LITERALS[..]).prop_map(J::Lit),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(J::Arr),
            prop::collection::vec((key(), inner.clone()), 0..5).prop_map(J::Obj),
            // Objects PHP decodes as lists.
            prop::collection::vec(inner, 0..4)
                .prop_map(|v| J::Obj(v.into_iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect())),
        ]
    })
}

/// Writes `j` choosing each spelling from `tape` (read in a loop).
struct Writer<'t> {
    /// Write PHP's own spelling instead (no whitespace, PHP's escapes).
    php: bool,
    tape: &'t [u8],
    at: usize,
    out: String,
}

impl Writer<'_> {
    fn pick(&mut self, n: u8) -> u8 {
        let b = self.tape.get(self.at % self.tape.len().max(1)).copied().unwrap_or(0);
        self.at += 1;
        b % n
    }

    fn ws(&mut self) {
        if self.php {
            return;
        }
        let w = [" ", "", "", "", "", "", "\n  ", "\t", "\r\n"][usize::from(self.pick(9))];
        self.out.push_str(w);
    }

    fn escape_u(&mut self, c: char, upper: bool) {
        let mut units = [0u16; 2];
        for u in c.encode_utf16(&mut units) {
            if upper {
                self.out.push_str(&format!("\\u{u:04X}"));
            } else {
                self.out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }

    fn string(&mut self, s: &str) {
        if self.php {
            self.out
                .push_str(&reference::reencode(serde_json::to_string(s).unwrap().as_bytes()).unwrap());
            return;
        }
        self.out.push('"');
        for c in s.chars() {
            let how = self.pick(4);
            match c {
                '"' | '\\' | '/' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' if how < 2 => {
                    let short = match c {
                        '"' => "\\\"",
                        '\\' => "\\\\",
                        '/' => "\\/",
                        '\u{8}' => "\\b",
                        '\u{c}' => "\\f",
                        '\n' => "\\n",
                        '\r' => "\\r",
                        _ => "\\t",
                    };
                    self.out.push_str(short);
                }
                '"' | '\\' => self.escape_u(c, how == 3),
                c if (c as u32) < 0x20 => self.escape_u(c, how == 3),
                c if how == 0 => self.escape_u(c, false),
                c if how == 1 => self.escape_u(c, true),
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    fn value(&mut self, j: &J) {
        self.ws();
        match j {
            J::Lit(l) => self.out.push_str(l),
            J::Sign => self.out.push_str("\"SIGN\""),
            J::Str(s) => self.string(s),
            J::Arr(items) => {
                self.out.push('[');
                for (n, v) in items.iter().enumerate() {
                    if n > 0 {
                        self.out.push(',');
                    }
                    self.value(v);
                    self.ws();
                }
                if items.is_empty() {
                    self.ws();
                }
                self.out.push(']');
            }
            J::Obj(members) => {
                self.out.push('{');
                for (n, (k, v)) in members.iter().enumerate() {
                    if n > 0 {
                        self.out.push(',');
                    }
                    self.ws();
                    if matches!(v, J::Sign) {
                        self.out.push_str(&format!("\"{k}\""));
                    } else {
                        self.string(k);
                    }
                    self.ws();
                    self.out.push(':');
                    self.value(v);
                    self.ws();
                }
                if members.is_empty() {
                    self.ws();
                }
                self.out.push('}');
            }
        }
    }
}

/// A webhook-like body: `members` with `signs` top-level `sign` members (value `SIGN`, some
/// spelled `\u0073ign`) inserted at the given positions, in spellings chosen by `tape`.
fn body(members: Vec<(String, J)>, signs: &[usize], php: bool, tape: &[u8]) -> String {
    let mut members = members;
    for (n, &at) in signs.iter().enumerate() {
        let at = at % (members.len() + 1);
        members.insert(at, (format!("sign{n}"), J::Sign));
    }
    let mut w = Writer {
        php,
        tape,
        at: 0,
        out: String::new(),
    };
    w.value(&J::Obj(members));
    w.ws();
    // The placeholder names become `sign`, one in two spelled with an escape.
    let mut out = w.out;
    for n in 0..signs.len() {
        let name = if n % 2 == 1 { "\\u0073ign" } else { "sign" };
        out = out.replacen(&format!("\"sign{n}\""), &format!("\"{name}\""), 1);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn reencoding_matches_the_tree_encoder(
        j in json(),
        php in any::<bool>(),
        tape in prop::collection::vec(any::<u8>(), 1..64),
    ) {
        let mut w = Writer { php, tape: &tape, at: 0, out: String::new() };
        w.value(&j);
        let text = w.out;
        prop_assert_eq!(reencode(text.as_bytes()).ok(), reference::reencode(text.as_bytes()).ok(), "{}", text);
        // Cut anywhere or with a byte changed, both refuse it at the same place or agree.
        let cut = &text.as_bytes()[..tape[0] as usize % (text.len() + 1)];
        let mut changed = text.clone().into_bytes();
        if !changed.is_empty() {
            let at = tape[tape.len() - 1] as usize * 31 % changed.len();
            changed[at] = tape[0];
        }
        for t in [cut, &changed[..]] {
            prop_assert_eq!(
                reencode_object_without(t, "sign").map(|r| (r.json, r.removed)).map_err(|e| (e.offset, e.reason)),
                reference::reencode_object_without(t, "sign").map(|r| (r.json, r.removed)).map_err(|e| (e.offset, e.reason)),
                "{:?}", String::from_utf8_lossy(t)
            );
        }
        let new = reencode_object_without(text.as_bytes(), "sign");
        let old = reference::reencode_object_without(text.as_bytes(), "sign");
        prop_assert_eq!(
            new.as_ref().ok().map(|r| (&r.json, &r.removed)),
            old.as_ref().ok().map(|r| (&r.json, &r.removed)),
            "{}", text
        );
    }

    #[test]
    fn verification_matches_the_reference(
        members in prop::collection::vec((key(), json()), 0..6),
        signs in prop::collection::vec(any::<usize>(), 0..3),
        php in any::<bool>(),
        tape in prop::collection::vec(any::<u8>(), 1..64),
    ) {
        let template = body(members, &signs, php, &tape);
        if reference::reencode_object_without(template.as_bytes(), "sign").is_err() {
            // (Not an object once written: nothing to sign.)
            prop_assert_eq!(outcome(template.as_bytes(), KEY), Outcome::Malformed);
            return Ok(());
        }
        // Signed as Cryptomus signs: same outcome as the reference, and accepted when there is
        // a top-level string sign and serde_json reads the body.
        let good = signed(&template);
        let expected = reference_outcome(good.as_bytes(), KEY);
        prop_assert_eq!(outcome(good.as_bytes(), KEY), expected, "{}", good);
        // Signed over the raw text without the `sign` members, as a verifier hashing the body as it
        // is would: accepted only when that text is PHP's form, exactly like the reference.
        let php = reference::reencode_object_without(template.as_bytes(), "sign").unwrap().json;
        let raw = raw_without_sign(&template);
        let raw_signed = template.replace("SIGN", &request_sign(raw.as_bytes(), KEY));
        let expected = reference_outcome(raw_signed.as_bytes(), KEY);
        if raw != php && !signs.is_empty() {
            prop_assert_eq!(&expected, &Outcome::BadSignature);
        }
        prop_assert_eq!(outcome(raw_signed.as_bytes(), KEY), expected, "{}", raw_signed);
        // Any changed byte: never accepted with a different meaning.
        let mut bytes = good.clone().into_bytes();
        if !bytes.is_empty() {
            let at = tape[0] as usize * 7919 % bytes.len();
            bytes[at] ^= 1 << (tape[tape.len() - 1] % 7);
            let new = outcome(&bytes, KEY);
            prop_assert_eq!(new, reference_outcome(&bytes, KEY));
        }
    }
}

/// The body's text with its top-level `"sign":"…"` members cut out naively (the first member's
/// trailing comma, or each later member's leading comma).
fn raw_without_sign(body: &str) -> String {
    let mut out = body.to_owned();
    for name in ["\"sign\"", "\"\\u0073ign\""] {
        while let Some(at) = out.find(name) {
            let Some(end) = out[at..].find("\"SIGN\"").map(|e| at + e + 6) else {
                break;
            };
            let before = out[..at].trim_end();
            if before.ends_with(',') {
                let start = before.len() - 1;
                out.replace_range(start..end, "");
            } else {
                let after = out[end..].trim_start();
                let skip = if after.starts_with(',') {
                    out.len() - after.len() + 1
                } else {
                    end
                };
                out.replace_range(at..skip, "");
            }
        }
    }
    out
}

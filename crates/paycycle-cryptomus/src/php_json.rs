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
//!
//! # How
//!
//! One pass over the input. A body Cryptomus sent is already mostly in PHP's form, so the
//! output is kept as a list of *pieces*: ranges of the input that are already exactly what PHP
//! writes, and short replacements for what is not (whitespace dropped, `/` → `\/`, `\u00e9` →
//! `é`, `\u001F` → `\u001f`, the removed member, an object PHP turns into a list). Nothing is
//! copied while the input is already in PHP's form, and strings are scanned in runs between the
//! bytes that can need a change (`"`, `\`, `/`, control characters and the first byte of
//! U+2028/U+2029). Every byte of the input is checked: a range is only kept as is when it is
//! exactly what the full re-encoding writes, so the result is the same as decoding to a tree
//! and encoding it back (the tests check this against such an encoder and against PHP).
//!
//! The webhook verifier uses the same pass to build the `serde_json::Value` of the members it
//! reads, so the body is parsed once.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// Nesting deeper than this is refused (the input comes from the network).
const MAX_DEPTH: usize = 64;

/// Inputs up to this long are checked as UTF-8 whole even when their value is built.
const WHOLE_UTF8_CHECK: usize = 2048;

/// A decoded string at least this long is handed the decoding buffer instead of a copy.
const HAND_OVER: usize = 2048;

#[cfg(test)]
thread_local! {
    /// How many values took the decoding buffer.
    static HANDED_OVER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

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
/// Every top-level member whose (decoded) name is `drop` is removed; `removed` is the value of
/// the last of them that is a string.
///
/// # Errors
/// [`PhpJsonError`] when the input is not a single JSON object.
pub fn reencode_object_without(input: &[u8], drop: &str) -> Result<Reencoded, PhpJsonError> {
    let parsed = parse_object_without(input, drop, Build::Nothing)?;
    Ok(Reencoded {
        json: parsed.php.into_string()?,
        removed: parsed.removed,
    })
}

/// Re-encodes any JSON text as PHP would.
///
/// # Errors
/// [`PhpJsonError`] when the input is not one JSON value.
pub fn reencode(input: &[u8]) -> Result<String, PhpJsonError> {
    let mut p = Parser::new(input, Build::Nothing);
    p.value(0, None)?;
    p.ws();
    if p.i != input.len() {
        return Err(p.err("trailing characters after the JSON value"));
    }
    p.out.finish(input.len());
    p.out.into_string()
}

/// A webhook body parsed once: its PHP encoding without the removed member, that member's
/// value, and as much of the body as a `serde_json::Value` as was asked for ([`Build`]).
#[derive(Debug)]
pub(crate) struct ParsedObject<'a> {
    /// The PHP encoding of the object without the removed member, in pieces.
    pub(crate) php: Pieces<'a>,
    /// The removed member's value when it was a string (the last such one).
    pub(crate) removed: Option<String>,
    /// The input as text, when the parser checked it as UTF-8 whole (it does unless it builds
    /// the whole value of a long input).
    pub(crate) text: Option<&'a str>,
    /// The body (removed member included) as `serde_json::from_slice` reads it, with only the
    /// members [`Build`] asked for, or serde_json's error for one of them (a number out of
    /// range, the one thing PHP's form accepts and serde_json does not). `Null` for
    /// [`Build::Nothing`].
    pub(crate) value: Result<Value, String>,
}

/// How much of the body [`parse_object_without`] builds as a `serde_json::Value`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Build<'k> {
    /// Nothing (`Null`): the PHP encoding alone.
    Nothing,
    /// The whole body.
    #[cfg_attr(not(test), allow(dead_code))]
    All,
    /// The top-level object with these members only (and the removed one); the others are
    /// checked and written, not built.
    Members(&'k [&'k str]),
}

/// Parses a JSON object once: its PHP encoding without the top-level members named `drop`
/// and as much of its `serde_json::Value` as `build` says.
pub(crate) fn parse_object_without<'a>(
    input: &'a [u8],
    drop: &str,
    build: Build<'_>,
) -> Result<ParsedObject<'a>, PhpJsonError> {
    let mut p = Parser::new(input, build);
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(p.err("the body must be a JSON object"));
    }
    let value = p.object(0, Some(drop))?;
    p.ws();
    if p.i != input.len() {
        return Err(p.err("trailing characters after the JSON object"));
    }
    p.out.finish(input.len());
    let value = match p.value_error {
        Some(e) => Err(e),
        None => Ok(value),
    };
    Ok(ParsedObject {
        php: p.out,
        removed: p.removed,
        text: p.text,
        value,
    })
}

/// One piece of output: a range of the input, or of the owned replacement bytes.
#[derive(Debug, Clone, Copy)]
enum Piece {
    Input(usize, usize),
    Owned(usize, usize),
}

impl Piece {
    fn len(self) -> usize {
        match self {
            Piece::Input(a, b) | Piece::Owned(a, b) => b - a,
        }
    }

    /// The first `n` bytes and the rest.
    fn split(self, n: usize) -> (Piece, Piece) {
        match self {
            Piece::Input(a, b) => (Piece::Input(a, a + n), Piece::Input(a + n, b)),
            Piece::Owned(a, b) => (Piece::Owned(a, a + n), Piece::Owned(a + n, b)),
        }
    }
}

/// The output, as ranges of the input (what is already in PHP's form) and replacements.
///
/// The input is consumed left to right; `pending` is where the run of input not yet committed
/// as a piece starts: everything from there up to the parser's position is output as is unless
/// a later `skip` or `replace` says otherwise.
#[derive(Debug)]
pub(crate) struct Pieces<'a> {
    input: &'a [u8],
    pieces: Vec<Piece>,
    owned: Vec<u8>,
    /// Start of the input run not yet committed.
    pending: usize,
    /// Length of the committed pieces.
    len: usize,
    /// Above zero, nothing is written (inside a removed member, or a key read ahead).
    mute: u32,
}

impl<'a> Pieces<'a> {
    fn new(input: &'a [u8]) -> Self {
        Pieces {
            input,
            pieces: Vec::new(),
            owned: Vec::new(),
            pending: 0,
            len: 0,
            mute: 0,
        }
    }

    fn push(&mut self, piece: Piece) {
        if piece.len() == 0 {
            return;
        }
        self.len += piece.len();
        match (self.pieces.last_mut(), piece) {
            (Some(Piece::Input(_, end)), Piece::Input(a, b)) | (Some(Piece::Owned(_, end)), Piece::Owned(a, b))
                if *end == a =>
            {
                *end = b;
            }
            _ => self.pieces.push(piece),
        }
    }

    fn commit(&mut self, to: usize) {
        if to > self.pending {
            self.push(Piece::Input(self.pending, to));
            self.pending = to;
        }
    }

    /// The input `from..to` is not part of the output.
    fn skip(&mut self, from: usize, to: usize) {
        if self.mute == 0 {
            debug_assert!(from >= self.pending, "output written past {from}");
            self.commit(from);
            self.pending = self.pending.max(to);
        }
    }

    /// The input `from..to` is written as `with`.
    fn replace(&mut self, from: usize, to: usize, with: &[u8]) {
        if self.mute == 0 {
            debug_assert!(from >= self.pending, "output written past {from}");
            self.commit(from);
            self.push_owned(with);
            self.pending = self.pending.max(to);
        }
    }

    fn push_owned(&mut self, bytes: &[u8]) {
        let start = self.owned.len();
        // (Mostly a few bytes: pushed one by one rather than through a call to memcpy.)
        for &b in bytes {
            self.owned.push(b);
        }
        self.push(Piece::Owned(start, self.owned.len()));
    }

    /// The output length once the input up to `pos` (at or after `pending`) is written.
    fn len_at(&self, pos: usize) -> usize {
        self.len + pos.saturating_sub(self.pending)
    }

    /// Writes the input up to `to` and takes the output from offset `from` on out again.
    fn take_from(&mut self, to: usize, from: usize) -> Vec<u8> {
        self.commit(to);
        let mut tail = Vec::new();
        while self.len > from {
            let Some(piece) = self.pieces.pop() else { break };
            let before = self.len - piece.len();
            if before >= from {
                tail.push(piece);
                self.len = before;
            } else {
                let (keep, rest) = piece.split(from - before);
                self.pieces.push(keep);
                tail.push(rest);
                self.len = from;
            }
        }
        let mut bytes = Vec::new();
        for piece in tail.into_iter().rev() {
            bytes.extend_from_slice(self.bytes(piece));
        }
        bytes
    }

    fn bytes(&self, piece: Piece) -> &[u8] {
        match piece {
            Piece::Input(a, b) => &self.input[a..b],
            Piece::Owned(a, b) => &self.owned[a..b],
        }
    }

    fn finish(&mut self, end: usize) {
        self.commit(end);
    }

    /// The output, in order, as byte slices.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.pieces.iter().map(|p| self.bytes(*p))
    }

    fn into_string(self) -> Result<String, PhpJsonError> {
        let mut out = Vec::with_capacity(self.len);
        for chunk in self.chunks() {
            out.extend_from_slice(chunk);
        }
        // Every piece ends on a character boundary; checked anyway rather than assumed.
        String::from_utf8(out).map_err(|_| PhpJsonError {
            offset: 0,
            reason: "invalid UTF-8 in the output",
        })
    }
}

/// Bytes inside a string where the scan stops: the end, escapes, what PHP escapes (`/`,
/// control characters) and 0xE2, the first byte of U+2028 and U+2029.
const STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'/' as usize] = true;
    t[0xE2] = true;
    t
};

/// The character of each one-letter escape (`\\"` → `"`, `\\n` → newline…), which PHP writes
/// the same way; 0 for the others (`\\u`, invalid ones).
const SIMPLE_ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'/' as usize] = b'/';
    t[b'b' as usize] = 0x08;
    t[b'f' as usize] = 0x0c;
    t[b'n' as usize] = b'\n';
    t[b'r' as usize] = b'\r';
    t[b't' as usize] = b'\t';
    t
};

/// How PHP writes a character that needs an escape, or `None` when it writes it as is.
fn php_escape(c: char, buf: &mut [u8; 6]) -> Option<&[u8]> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short: &'static [u8] = match c {
        '"' => b"\\\"",
        '\\' => b"\\\\",
        '/' => b"\\/",
        '\u{8}' => b"\\b",
        '\u{c}' => b"\\f",
        '\n' => b"\\n",
        '\r' => b"\\r",
        '\t' => b"\\t",
        c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
            let v = c as u32;
            *buf = [
                b'\\',
                b'u',
                HEX[(v >> 12) as usize & 0xf],
                HEX[(v >> 8) as usize & 0xf],
                HEX[(v >> 4) as usize & 0xf],
                HEX[v as usize & 0xf],
            ];
            return Some(&buf[..]);
        }
        _ => return None,
    };
    Some(short)
}

/// True when `key` is the decimal spelling of `n` (`"0"`, `"1"`, … as PHP's list keys).
fn is_index(key: &str, n: usize) -> bool {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    key.as_bytes() == &buf[i..]
}

struct Parser<'a, 'k> {
    s: &'a [u8],
    /// The input as text when it is valid UTF-8 (then no string needs checking on its own).
    text: Option<&'a str>,
    i: usize,
    out: Pieces<'a>,
    removed: Option<String>,
    value_error: Option<String>,
    /// Whether the value being read is built.
    build: bool,
    /// The top-level members to build, when not all.
    members: Option<&'k [&'k str]>,
    /// Where strings with escapes are decoded.
    scratch: Vec<u8>,
}

impl<'a, 'k> Parser<'a, 'k> {
    fn new(s: &'a [u8], build: Build<'k>) -> Self {
        let all = matches!(build, Build::All);
        Parser {
            s,
            // Building the whole value checks every string it decodes: checking a long input
            // whole first would read the bytes of its escaped strings twice. (A short one is
            // checked whole: cheaper than a check per string.)
            text: if all && s.len() > WHOLE_UTF8_CHECK {
                None
            } else {
                std::str::from_utf8(s).ok()
            },
            i: 0,
            out: Pieces::new(s),
            removed: None,
            value_error: None,
            build: all,
            members: match build {
                Build::Members(members) => Some(members),
                Build::Nothing | Build::All => None,
            },
            scratch: Vec::new(),
        }
    }

    fn err(&self, reason: &'static str) -> PhpJsonError {
        PhpJsonError { offset: self.i, reason }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips whitespace without writing anything.
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// Skips whitespace, which PHP does not write.
    fn ws(&mut self) {
        let start = self.i;
        self.skip_ws();
        if self.i > start {
            self.out.skip(start, self.i);
        }
    }

    fn value(&mut self, depth: usize, drop: Option<&str>) -> Result<Value, PhpJsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(depth, drop),
            Some(b'[') => self.array(depth),
            Some(b'"') => {
                let s = self.string(self.build)?;
                Ok(if self.build {
                    Value::String(s.into_owned())
                } else {
                    Value::Null
                })
            }
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    /// An object; at the top level, the members named `drop` are left out of the output.
    fn object(&mut self, depth: usize, drop: Option<&str>) -> Result<Value, PhpJsonError> {
        let open = self.i;
        let muted = self.out.mute > 0;
        let out_open = self.out.len_at(open);
        self.i += 1;
        // The top level is built when some of its members are.
        let build = self.build || (depth == 0 && self.members.is_some());
        let mut map = Map::new();
        // Members written so far, and, while the keys are "0", "1", … (what PHP decodes as a
        // list), where each written member's key and value start in the output.
        let mut written = 0usize;
        let mut list: Option<Vec<(usize, usize)>> = None;
        let mut list_possible = true;
        let mut comma: Option<usize> = None;
        let after_open = self.i;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.out.skip(after_open, self.i);
            self.i += 1;
            if !muted {
                let _ = self.out.take_from(self.i, out_open);
                self.out.push_owned(b"[]");
            }
            return Ok(if build { Value::Object(map) } else { Value::Null });
        }
        // Where the whitespace before the current member's name starts.
        let mut before = after_open;
        loop {
            // Whitespace before the name is skipped once we know whether the member is kept.
            self.skip_ws();
            let key_start = self.i;
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a member name"));
            }
            self.out.mute += 1;
            let key = self.string(true);
            self.out.mute -= 1;
            let key = key?;
            let key_end = self.i;
            let dropped = drop.is_some_and(|d| d == key);
            if dropped {
                // Left out with the comma before it (there may be none when it comes first; the
                // comma after it then goes with the next written member).
                let from = comma.unwrap_or(before);
                self.out.mute += 1;
                let v = self.dropped_value(depth);
                self.out.mute -= 1;
                let v = v?;
                self.out.skip(from, self.i);
                if build {
                    map.insert(key.into_owned(), v);
                }
            } else {
                match comma {
                    // The first written member after removed ones: its comma goes too.
                    Some(c) if written == 0 => self.out.skip(c, key_start),
                    _ if before < key_start => self.out.skip(before, key_start),
                    _ => {}
                }
                let key_out = self.out.len_at(key_start);
                if self.s[key_start + 1..key_end - 1]
                    .iter()
                    .any(|&b| matches!(b, b'\\' | b'/' | 0xE2))
                {
                    // A name that may not be in PHP's form: read again, writing this time.
                    self.i = key_start;
                    self.string(false)?;
                }
                self.ws();
                self.expect(b':', "expected `:`")?;
                self.ws();
                let value_out = self.out.len_at(self.i);
                if list_possible && is_index(&key, written) {
                    if !muted {
                        list.get_or_insert_with(Vec::new).push((key_out, value_out));
                    }
                } else {
                    list_possible = false;
                }
                let kept = match (depth, self.members) {
                    // Names mostly differ in length or first byte: compared before the bytes.
                    (0, Some(members)) => members
                        .iter()
                        .any(|m| m.len() == key.len() && m.as_bytes().first() == key.as_bytes().first() && *m == key),
                    _ => build,
                };
                let outer = std::mem::replace(&mut self.build, kept);
                let v = self.value(depth + 1, None);
                self.build = outer;
                let v = v?;
                if kept {
                    map.insert(key.into_owned(), v);
                }
                written += 1;
            }
            self.ws();
            match self.peek() {
                Some(b',') => {
                    comma = Some(self.i);
                    self.i += 1;
                    before = self.i;
                }
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(self.err("expected `,` or `}`")),
            }
        }
        if !muted && (written == 0 || list_possible) {
            self.write_as_list(out_open, list.as_deref().unwrap_or_default());
        }
        Ok(if build { Value::Object(map) } else { Value::Null })
    }

    /// The value of a removed member, kept in `removed` when it is a string.
    fn dropped_value(&mut self, depth: usize) -> Result<Value, PhpJsonError> {
        self.skip_ws();
        self.expect(b':', "expected `:`")?;
        self.skip_ws();
        if self.peek() == Some(b'"') {
            let s = self.string(true)?.into_owned();
            let v = if self.build || self.members.is_some() {
                Value::String(s.clone())
            } else {
                Value::Null
            };
            self.removed = Some(s);
            Ok(v)
        } else {
            self.value(depth + 1, None)
        }
    }

    /// Rewrites the object just written (from output offset `out_open`) as PHP writes the list
    /// it decodes to: `{}` → `[]`, `{"0":a,"1":b}` → `[a,b]`.
    fn write_as_list(&mut self, out_open: usize, members: &[(usize, usize)]) {
        let object = self.out.take_from(self.i, out_open);
        let mut list = Vec::with_capacity(object.len());
        list.push(b'[');
        let end = object.len().saturating_sub(1); // the closing `}`
        for (n, &(_, value)) in members.iter().enumerate() {
            let next = members.get(n + 1).map_or(end, |&(key, _)| key - out_open);
            list.extend_from_slice(&object[value - out_open..next]);
        }
        list.push(b']');
        self.out.push_owned(&list);
    }

    fn expect(&mut self, b: u8, reason: &'static str) -> Result<(), PhpJsonError> {
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(reason))
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, PhpJsonError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(if self.build { Value::Array(items) } else { Value::Null });
        }
        loop {
            let v = self.value(depth + 1, None)?;
            if self.build {
                items.push(v);
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(if self.build { Value::Array(items) } else { Value::Null });
                }
                _ => return Err(self.err("expected `,` or `]`")),
            }
        }
    }

    fn word(&mut self, w: &'static str, v: Value) -> Result<Value, PhpJsonError> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
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

    /// A number, written as it was; its value as serde_json reads it.
    fn number(&mut self) -> Result<Value, PhpJsonError> {
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        let int_end = self.i;
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
        if !self.build {
            return Ok(Value::Null);
        }
        let digits = &self.s[start + usize::from(negative)..int_end];
        // An integer of up to 18 digits is what serde_json reads as u64 / i64 (but `-0`, which
        // it reads as a float). Anything else is read by serde_json itself.
        if self.i == int_end && digits.len() <= 18 && !(negative && digits == b"0") {
            let n = digits.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
            return Ok(Value::Number(if negative {
                Number::from(-(n as i64))
            } else {
                Number::from(n)
            }));
        }
        match serde_json::from_slice::<Value>(&self.s[start..self.i]) {
            Ok(v) => Ok(v),
            Err(e) => {
                self.value_error.get_or_insert_with(|| e.to_string());
                Ok(Value::Null)
            }
        }
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

    /// The character of a `\u` escape (after `\u`), a surrogate pair read whole.
    fn unicode_escape(&mut self) -> Result<char, PhpJsonError> {
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
        char::from_u32(cp).ok_or_else(|| self.err("invalid code point"))
    }

    /// A string (at its opening quote): writes what PHP would write for it and returns its
    /// value (empty unless `decode`).
    ///
    /// The text is checked eight bytes at a time: the bytes that need a look (see [`STOP`]) are
    /// found together and handled in order; everything between them is already what PHP
    /// writes. The value is the text itself up to the first escape, then decoded by
    /// [`Self::decode_from`].
    fn string(&mut self, decode: bool) -> Result<Cow<'a, str>, PhpJsonError> {
        let open = self.i;
        let stop = self.scan(open + 1, decode)?;
        if self.s[stop] == b'\\' {
            return self.decode_from(open, stop);
        }
        self.i = stop + 1;
        if !decode && self.text.is_some() {
            return Ok(Cow::Borrowed(""));
        }
        let text = match self.text {
            // A range between two ASCII quotes of valid UTF-8 is valid UTF-8.
            Some(t) => t.get(open + 1..stop),
            None => std::str::from_utf8(&self.s[open + 1..stop]).ok(),
        };
        let text = text.ok_or_else(|| self.err("invalid UTF-8 in string"))?;
        Ok(if decode { Cow::Borrowed(text) } else { Cow::Borrowed("") })
    }

    /// Checks a string's text from `i` on and writes what PHP writes for it, up to its closing
    /// quote, or up to its first escape when `to_escape`: returns that position.
    fn scan(&mut self, mut i: usize, to_escape: bool) -> Result<usize, PhpJsonError> {
        let s = self.s;
        loop {
            let Some(bytes) = chunk(s, i) else {
                // The last few bytes of the input, one at a time.
                let Some(&b) = s.get(i) else {
                    self.i = s.len();
                    return Err(self.err("unterminated string"));
                };
                if !STOP[usize::from(b)] {
                    i += 1;
                    continue;
                }
                match b {
                    b'"' => return Ok(i),
                    b'\\' if to_escape => return Ok(i),
                    _ => i = self.stop(i)?,
                }
                continue;
            };
            let mut m = stop_mask(bytes);
            let mut next = i + 8;
            while m != 0 {
                let at = i + (m.trailing_zeros() / 8) as usize;
                m &= m - 1;
                match s[at] {
                    b'"' => return Ok(at),
                    b'\\' if to_escape => return Ok(at),
                    b'\\' if simple_escape(s, at) != 0 => {
                        // The escaped byte (`"`, `\\`, `/`…) is not a stop itself.
                        if at + 1 < i + 8 {
                            m &= !(0x80 << (8 * (at + 1 - i)));
                        } else {
                            next = at + 2;
                        }
                    }
                    _ => {
                        let after = self.stop(at)?;
                        if after > at + 1 {
                            // A `\\u` escape: go on after it.
                            next = after;
                            break;
                        }
                    }
                }
            }
            i = next;
        }
    }

    /// Handles the byte of [`STOP`] at `at` that is not `"` or a one-letter escape; returns the
    /// position after it (after the whole escape for `\\u`).
    fn stop(&mut self, at: usize) -> Result<usize, PhpJsonError> {
        self.i = at;
        match self.s[at] {
            b'\\' => {
                self.escape()?;
            }
            b => self.special(b)?,
        }
        Ok(self.i)
    }

    /// Decodes a string whose first escape is at `first` (its opening quote at `open`): writes
    /// what PHP writes for the rest, as [`Self::scan`] does, and returns the value.
    ///
    /// The value is built in `buf` eight bytes at a time: each chunk of input is copied whole
    /// where it goes (input position `q` goes to `q - shift`), then its escapes are decoded in
    /// place and the bytes after each moved back over what it saved.
    fn decode_from(&mut self, open: usize, first: usize) -> Result<Cow<'a, str>, PhpJsonError> {
        let s = self.s;
        // One buffer for every decoded string of the input: a value is never longer than its
        // text, so this one never grows.
        // (Input position `q` goes to `q - shift` with `shift > open`: the rest of the input
        // and room for a chunk is enough.)
        let mut buf = std::mem::take(&mut self.scratch);
        if buf.len() < s.len() - open + 16 {
            buf = vec![0u8; s.len() - open + 16];
        }
        buf[..first - open - 1].copy_from_slice(&s[open + 1..first]);
        let mut shift = open + 1;
        let mut i = first;
        let close = 'text: loop {
            let Some(bytes) = chunk(s, i) else {
                // The last few bytes of the input, one at a time.
                let Some(&b) = s.get(i) else {
                    self.i = s.len();
                    return Err(self.err("unterminated string"));
                };
                match b {
                    b'"' => break 'text i,
                    b'\\' => {
                        let (after, saved) = self.decode_escape(i, &mut buf, shift)?;
                        shift += saved;
                        i = after;
                    }
                    b => {
                        if STOP[usize::from(b)] {
                            self.stop(i)?;
                        }
                        put(&mut buf, i - shift, &[b]);
                        i += 1;
                    }
                }
                continue;
            };
            put8(&mut buf, i - shift, bytes);
            let mut m = stop_mask(bytes);
            let mut next = i + 8;
            while m != 0 {
                let at = i + (m.trailing_zeros() / 8) as usize;
                m &= m - 1;
                match s[at] {
                    b'"' => break 'text at,
                    b'\\' => {
                        let Some((width, value, n)) = common_escape(s, at) else {
                            // Any other escape (or an invalid one): go on after it.
                            let (after, saved) = self.decode_escape(at, &mut buf, shift)?;
                            shift += saved;
                            next = after;
                            break;
                        };
                        if width > 2 {
                            // `\\u` of a character PHP writes as it is.
                            self.out.replace(at, at + width, &value[..n]);
                        }
                        put4(&mut buf, at - shift, value);
                        shift += width - n;
                        let after = at + width;
                        if after >= i + 8 {
                            next = after;
                            break;
                        }
                        // The rest of the chunk, moved back over what the escape saved (its
                        // escaped byte, which may be a stop itself, is not one).
                        match chunk(s, after) {
                            Some(rest) => put8(&mut buf, after - shift, rest),
                            None => put(&mut buf, after - shift, &s[after..(i + 8).min(s.len())]),
                        }
                        m &= !(0x80 << (8 * (at + 1 - i)));
                    }
                    // `/`, U+2028/U+2029: already in place; a control character: an error.
                    _ => {
                        self.stop(at)?;
                    }
                }
            }
            i = next;
        };
        self.i = close + 1;
        // The escapes are ASCII, so the raw text is valid UTF-8 exactly when the value is.
        let len = close - shift;
        if len >= HAND_OVER && len * 2 >= buf.len() {
            #[cfg(test)]
            HANDED_OVER.with(|n| n.set(n.get() + 1));
            // A long value that fills at least half of the buffer takes the buffer itself rather
            // than a copy of it (so no value holds more than twice its length, and the buffers
            // allocated again after it add up to at most twice the input).
            buf.truncate(len);
            return String::from_utf8(buf)
                .map(Cow::Owned)
                .map_err(|_| self.err("invalid UTF-8 in string"));
        }
        let value = std::str::from_utf8(&buf[..len])
            .map(|v| Cow::Owned(v.to_owned()))
            .map_err(|_| self.err("invalid UTF-8 in string"));
        self.scratch = buf;
        value
    }

    /// Decodes the escape at `at` into `buf` (at `at - shift`); returns the position after it
    /// and how many bytes shorter its value is than its text.
    fn decode_escape(&mut self, at: usize, buf: &mut Vec<u8>, shift: usize) -> Result<(usize, usize), PhpJsonError> {
        let simple = simple_escape(self.s, at);
        if simple != 0 {
            put(buf, at - shift, &[simple]);
            return Ok((at + 2, 1));
        }
        self.i = at;
        let c = self.escape()?;
        let mut utf8 = [0u8; 4];
        let value = c.encode_utf8(&mut utf8).as_bytes();
        put(buf, at - shift, value);
        Ok((self.i, self.i - at - value.len()))
    }

    /// A byte of [`STOP`] that is not `"` or `\\` (at `self.i`): `/` and U+2028/U+2029 are
    /// written as PHP escapes them, a control character is an error. Moves past the byte.
    fn special(&mut self, b: u8) -> Result<(), PhpJsonError> {
        match b {
            b'/' => self.out.replace(self.i, self.i + 1, b"\\/"),
            0xE2 => match self.s.get(self.i + 1..self.i + 3) {
                Some([0x80, 0xA8]) => self.out.replace(self.i, self.i + 3, b"\\u2028"),
                Some([0x80, 0xA9]) => self.out.replace(self.i, self.i + 3, b"\\u2029"),
                _ => {}
            },
            _ => return Err(self.err("control character in string")),
        }
        self.i += 1;
        Ok(())
    }

    /// An escape (at its `\`): its character, written as PHP would write it.
    fn escape(&mut self) -> Result<char, PhpJsonError> {
        let start = self.i;
        self.i += 1;
        let e = self.peek().ok_or_else(|| self.err("unterminated escape"))?;
        self.i += 1;
        Ok(match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let c = self.unicode_escape()?;
                let mut php = [0u8; 6];
                match php_escape(c, &mut php) {
                    Some(php) if php == &self.s[start..self.i] => {}
                    Some(php) => self.out.replace(start, self.i, php),
                    None => {
                        let mut utf8 = [0u8; 4];
                        self.out.replace(start, self.i, c.encode_utf8(&mut utf8).as_bytes());
                    }
                }
                c
            }
            _ => return Err(self.err("invalid escape")),
        })
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is below `n` (1 ≤ `n` ≤ 0x80), exactly: the low seven
/// bits plus `0x80 - n` reach the high bit when they are `n` or more, without carrying into
/// the next byte.
const fn below(x: u64, n: u8) -> u64 {
    !(((x & !HIGHS) + ONES * (0x80 - n as u64)) | x) & HIGHS
}

/// The high bit of each byte of the chunk that is in [`STOP`], exactly.
const fn stop_mask(bytes: [u8; 8]) -> u64 {
    let x = u64::from_le_bytes(bytes);
    below(x, 0x20)
        | below(x ^ (ONES * b'"' as u64), 1)
        | below(x ^ (ONES * b'\\' as u64), 1)
        | below(x ^ (ONES * b'/' as u64), 1)
        | below(x ^ (ONES * 0xE2), 1)
}

/// The eight bytes of `s` from `i` on, if there are eight.
#[inline]
fn chunk(s: &[u8], i: usize) -> Option<[u8; 8]> {
    s.get(i..i + 8)?.try_into().ok()
}

/// The escapes a Cryptomus body is full of, decoded without a detour: the one-letter ones
/// (PHP's own) and `\\uXXXX` of a character PHP writes as it is (non-ASCII, not a surrogate,
/// not U+2028/U+2029). Returns the escape's width, its value and the value's length.
#[inline]
fn common_escape(s: &[u8], at: usize) -> Option<(usize, [u8; 4], usize)> {
    let e = *s.get(at + 1)?;
    let simple = SIMPLE_ESCAPE[usize::from(e)];
    if simple != 0 {
        return Some((2, [simple, 0, 0, 0], 1));
    }
    if e != b'u' {
        return None;
    }
    let mut cp = 0u32;
    for &h in s.get(at + 2..at + 6)? {
        let d = HEX_VALUE[usize::from(h)];
        if d > 15 {
            return None;
        }
        cp = cp << 4 | u32::from(d);
    }
    if cp < 0x80 || (0xD800..0xE000).contains(&cp) || cp == 0x2028 || cp == 0x2029 {
        return None;
    }
    let c = char::from_u32(cp)?;
    let mut value = [0u8; 4];
    let n = c.encode_utf8(&mut value).len();
    Some((6, value, n))
}

/// The value of each hexadecimal digit, 0xFF for other bytes.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = d as u8;
        d += 1;
    }
    let mut d = 0;
    while d < 6 {
        t[b'a' as usize + d] = 10 + d as u8;
        t[b'A' as usize + d] = 10 + d as u8;
        d += 1;
    }
    t
};

/// Writes four bytes at `buf[at..]` (`buf` has room: see [`put8`]).
#[inline(always)]
fn put4(buf: &mut [u8], at: usize, bytes: [u8; 4]) {
    if let Some(to) = buf.get_mut(at..at + 4) {
        to.copy_from_slice(&bytes);
    }
}

/// The value of the one-letter escape at `at` (a `\\`), or 0.
#[inline]
fn simple_escape(s: &[u8], at: usize) -> u8 {
    s.get(at + 1).map_or(0, |&e| SIMPLE_ESCAPE[usize::from(e)])
}

/// Writes a chunk at `buf[at..]`, growing `buf` to keep room for the next one after it (and
/// for any byte written before it).
#[inline(always)]
fn put8(buf: &mut Vec<u8>, at: usize, bytes: [u8; 8]) {
    if buf.len() < at + 16 {
        buf.resize((at + 16).max(buf.len() * 2), 0);
    }
    if let Some(to) = buf.get_mut(at..at + 8) {
        to.copy_from_slice(&bytes);
    }
}

/// Writes `bytes` at `buf[at..]`, growing `buf` to keep room for a chunk after `at`.
#[inline]
fn put(buf: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    if buf.len() < at + 8 {
        buf.resize((at + 8).max(buf.len() * 2), 0);
    }
    if let Some(to) = buf.get_mut(at..at + bytes.len()) {
        to.copy_from_slice(bytes);
    }
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

    #[test]
    fn already_php_encoded_bodies_are_not_copied() {
        let body = br#"{"a":"x\/y","sign":"abc","n":[1,{"b":"\u001f"}]}"#;
        let p = parse_object_without(body, "sign", Build::Nothing).unwrap();
        let chunks: Vec<&[u8]> = p.php.chunks().collect();
        assert_eq!(chunks, [&br#"{"a":"x\/y""#[..], &br#","n":[1,{"b":"\u001f"}]}"#[..]]);
        assert!(p.php.owned.is_empty());
    }

    #[test]
    fn the_value_is_what_serde_json_reads() {
        let body = br#" {"a" : [1, -2, 0, -0, 1.50, 1e2, 18446744073709551615, 18446744073709551616, -9223372036854775808, 123456789012345678],
            "s":"x\/y \u00e9 \ud83c\udf89 \"q\"", "sign":"abc", "e":{}, "l":{"0":true,"1":null}, "a":"last"} "#;
        let p = parse_object_without(body, "sign", Build::All).unwrap();
        let expected: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(p.value.unwrap(), expected);
        assert_eq!(p.removed.as_deref(), Some("abc"));
        // serde_json refuses a number out of range, PHP's form does not: the error is kept.
        let p = parse_object_without(br#"{"a":1e400,"sign":"x"}"#, "sign", Build::All).unwrap();
        assert!(p.value.is_err());
    }

    #[test]
    fn only_the_members_asked_for_are_built() {
        let body = br#"{"a":{"x":[1,{"y":"z\/"}]},"b":"\u00e9","c":1e400,"sign":"s","d":[1]}"#;
        let p = parse_object_without(body, "sign", Build::Members(&["a", "d", "zz"])).unwrap();
        assert_eq!(
            p.value.unwrap(),
            serde_json::json!({"a": {"x": [1, {"y": "z/"}]}, "d": [1], "sign": "s"})
        );
        assert_eq!(p.removed.as_deref(), Some("s"));
        let whole = parse_object_without(body, "sign", Build::Nothing).unwrap();
        assert_eq!(
            p.php.chunks().collect::<Vec<_>>().concat(),
            whole.php.chunks().collect::<Vec<_>>().concat(),
            "the same PHP encoding"
        );
        // A member serde_json cannot build is an error only when it is built.
        let p = parse_object_without(body, "sign", Build::Members(&["c"])).unwrap();
        assert!(p.value.is_err());
    }

    #[test]
    fn long_bodies_read_as_serde_json_reads_them() {
        // Past the length where the input is no longer checked as UTF-8 whole and where long
        // values take the decoding buffer: long escaped strings, short ones between them.
        let long = r#"caf\u00e9 \/ \"q\" "#.repeat(300);
        let plain = "plain ".repeat(500);
        let (a, d) = (
            format!("{long}{}", plain.repeat(8)),
            format!("{long}{}", plain.repeat(2)),
        );
        for (body, handed_over) in [
            (
                format!(r#"{{"a":"{long}","b":"x\/y","c":["{long}", "{long}x"],"sign":"s","d":"{plain}"}}"#),
                0,
            ),
            // Long enough to take the buffer: `a`, then `d` (`c` is copied).
            (format!(r#"{{"a":"{a}","c":"{long}","sign":"s","d":"{d}"}}"#), 2),
        ] {
            HANDED_OVER.with(|n| n.set(0));
            let p = parse_object_without(body.as_bytes(), "sign", Build::All).unwrap();
            assert_eq!(HANDED_OVER.with(std::cell::Cell::get), handed_over);
            let expected: Value = serde_json::from_slice(body.as_bytes()).unwrap();
            assert_eq!(p.value.unwrap(), expected);
            let php = reencode_object_without(body.as_bytes(), "sign").unwrap().json;
            assert_eq!(php, reencode(body.replace(r#","sign":"s""#, "").as_bytes()).unwrap());
        }
        // Invalid UTF-8 is refused in a long input too, in an escaped string or a plain one.
        for bad in [
            format!(r#"{{"a":"{plain}","b":"x\/y éé"}}"#),
            format!(r#"{{"a":"{long}","b":"plain éé"}}"#),
        ] {
            let mut bytes = bad.into_bytes();
            let at = bytes.len() - 4; // The last byte of the last `é`.
            bytes[at] = 0xff;
            assert!(parse_object_without(&bytes, "sign", Build::All).is_err());
            assert!(parse_object_without(&bytes, "sign", Build::Nothing).is_err());
        }
    }

    #[test]
    fn is_index_is_the_decimal_spelling() {
        assert!(is_index("0", 0));
        assert!(is_index("10", 10));
        assert!(is_index("18446744073709551615", usize::MAX) || usize::BITS < 64);
        assert!(!is_index("01", 1));
        assert!(!is_index("", 0));
        assert!(!is_index("1", 0));
    }
}

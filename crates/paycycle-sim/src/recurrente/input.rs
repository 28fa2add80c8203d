//! Reading Recurrente requests: JSON bodies or Rails-style form fields (`items[][name]=…`),
//! read field by field with the documented limits, and the API's error answers.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::store::{Cur, Unit};

/// Metadata: at most this many keys…
pub(crate) const METADATA_MAX_KEYS: usize = 50;
/// …with names of at most this many characters…
pub(crate) const METADATA_KEY_MAX_CHARS: usize = 40;
/// …and values of at most this many characters.
pub(crate) const METADATA_VALUE_MAX_CHARS: usize = 500;

/// An error answer, as Recurrente's errors page documents it: `{"message": "<message>"}`, and
/// for a field also `"errors": {"<field>": ["<detail>"]}` (which the Recurrente client reads as
/// field errors). 400 for a bad parameter, 422 for a request understood that cannot be done in
/// the object's state, 401 for keys, 404 for an unknown object or route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reject {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) field: Option<(String, String)>,
}

/// The 401 body's `message` (Recurrente's own words).
pub(crate) const AUTH_MESSAGE: &str = "Autenticación Errónea 👀";
/// The 401 body's `errors.authentication` entry.
pub(crate) const AUTH_DETAIL: &str = "Las llaves de API son inválidas o no coinciden.";

impl Reject {
    /// 400 naming the field: the message is `"<field> <detail>"`.
    pub(crate) fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Reject {
        let (field, detail) = (field.into(), detail.into());
        Reject {
            status: StatusCode::BAD_REQUEST,
            message: format!("{field} {detail}"),
            field: Some((field, detail)),
        }
    }

    /// 422 naming the field: a valid request the object's state does not allow.
    pub(crate) fn conflict(field: impl Into<String>, detail: impl Into<String>) -> Reject {
        Reject {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            ..Reject::invalid(field, detail)
        }
    }

    /// 422 about the object as a whole.
    pub(crate) fn unprocessable(message: impl Into<String>) -> Reject {
        Reject {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
            field: None,
        }
    }

    pub(crate) fn not_found() -> Reject {
        Reject {
            status: StatusCode::NOT_FOUND,
            message: "Not found".into(),
            field: None,
        }
    }

    /// 401 for missing, invalid or mismatched keys (another account or mode).
    pub(crate) fn unauthorized() -> Reject {
        Reject {
            status: StatusCode::UNAUTHORIZED,
            message: AUTH_MESSAGE.into(),
            field: Some(("authentication".into(), AUTH_DETAIL.into())),
        }
    }

    /// 405 for a route that exists with other methods.
    pub(crate) fn method_not_allowed() -> Reject {
        Reject {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: "Method not allowed".into(),
            field: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Reject {
        Reject {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: None,
        }
    }

    fn unsupported(message: impl Into<String>) -> Reject {
        Reject {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: message.into(),
            field: None,
        }
    }
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        let body = match &self.field {
            Some((field, detail)) => json!({ "message": self.message, "errors": { field.as_str(): [detail] } }),
            None => json!({ "message": self.message }),
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// The request body as an object: JSON (any content type but the two form ones), or
/// `application/x-www-form-urlencoded` read the way Rails reads nested parameters. An empty
/// body is an empty object.
pub(crate) fn body_map(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Reject> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return Ok(form_to_map(body));
    }
    if content_type.starts_with("multipart/form-data") {
        return Err(Reject::unsupported(
            "multipart/form-data is not supported by the simulator: send JSON (or x-www-form-urlencoded)",
        ));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Reject::bad_request("the body must be a JSON object")),
        Err(e) => Err(Reject::bad_request(format!("the body is not valid JSON: {e}"))),
    }
}

/// The query string's parameters (the last value of a repeated name wins).
pub(crate) fn query_map(query: Option<&str>) -> Map<String, Value> {
    query.map(|q| form_to_map(q.as_bytes())).unwrap_or_default()
}

/// Rails' nested parameters: `a[b]=1` → `{"a":{"b":"1"}}`, `a[]=1&a[]=2` → `{"a":["1","2"]}`,
/// `items[][name]=x&items[][currency]=GTQ&items[][name]=y` → two hashes in `items`.
fn form_to_map(body: &[u8]) -> Map<String, Value> {
    let mut root = Value::Object(Map::new());
    for (key, value) in url::form_urlencoded::parse(body) {
        let segments = split_key(&key);
        insert(&mut root, &segments, Value::String(value.into_owned()));
    }
    match root {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `a[b][][c]` → `["a", "b", "", "c"]`. A key that does not parse is one segment.
fn split_key(key: &str) -> Vec<String> {
    const MAX_SEGMENTS: usize = 16;
    let Some(open) = key.find('[') else {
        return vec![key.to_owned()];
    };
    let (name, mut rest) = key.split_at(open);
    if name.is_empty() {
        return vec![key.to_owned()];
    }
    let mut out = vec![name.to_owned()];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return vec![key.to_owned()];
        };
        out.push(inner[..close].to_owned());
        rest = &inner[close + 1..];
        if out.len() > MAX_SEGMENTS {
            return vec![key.to_owned()];
        }
    }
    if rest.is_empty() { out } else { vec![key.to_owned()] }
}

fn has_path(v: &Value, path: &[String]) -> bool {
    match path.split_first() {
        None => true,
        Some((head, rest)) => match v {
            Value::Object(m) => m.get(head.as_str()).is_some_and(|child| has_path(child, rest)),
            _ => false,
        },
    }
}

fn insert(node: &mut Value, segments: &[String], value: Value) {
    let Some((head, rest)) = segments.split_first() else {
        return;
    };
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    let Value::Object(map) = node else { return };
    if rest.is_empty() {
        map.insert(head.clone(), value);
        return;
    }
    if rest.first().is_some_and(String::is_empty) {
        let entry = map.entry(head.clone()).or_insert_with(|| Value::Array(Vec::new()));
        if !entry.is_array() {
            *entry = Value::Array(Vec::new());
        }
        let Value::Array(items) = entry else { return };
        let after = &rest[1..];
        if after.is_empty() {
            items.push(value);
            return;
        }
        // A new hash starts when the last one already has this key (as Rack does).
        let start_new = match items.last() {
            Some(last @ Value::Object(_)) => has_path(last, after),
            _ => true,
        };
        if start_new {
            items.push(Value::Object(Map::new()));
        }
        if let Some(last) = items.last_mut() {
            insert(last, after, value);
        }
        return;
    }
    let child = map.entry(head.clone()).or_insert_with(|| Value::Object(Map::new()));
    insert(child, rest, value);
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Checks metadata limits.
pub(crate) fn check_metadata(field: &str, m: &Map<String, Value>) -> Result<(), Reject> {
    if m.len() > METADATA_MAX_KEYS {
        return Err(Reject::invalid(
            field,
            format!("has {} keys; at most {METADATA_MAX_KEYS} are allowed", m.len()),
        ));
    }
    for (k, v) in m {
        if k.is_empty() {
            return Err(Reject::invalid(field, "has an empty key"));
        }
        if chars(k) > METADATA_KEY_MAX_CHARS {
            let short: String = k.chars().take(METADATA_KEY_MAX_CHARS).collect();
            return Err(Reject::invalid(
                format!("{field}.{short}…"),
                format!("key is longer than {METADATA_KEY_MAX_CHARS} characters"),
            ));
        }
        let len = match v {
            Value::String(s) => chars(s),
            other => chars(&other.to_string()),
        };
        if len > METADATA_VALUE_MAX_CHARS {
            return Err(Reject::invalid(
                format!("{field}.{k}"),
                format!("value has {len} characters; at most {METADATA_VALUE_MAX_CHARS} are allowed"),
            ));
        }
    }
    Ok(())
}

/// The elements of a list given as an array or, as Rails forms do, as an object keyed by
/// indices (`{"0": {...}, "1": {...}}`, in numeric order).
pub(crate) fn as_list(v: &Value) -> Option<Vec<&Value>> {
    match v {
        Value::Array(items) => Some(items.iter().collect()),
        Value::Object(m) => {
            let mut keyed: Vec<(u64, &Value)> = Vec::with_capacity(m.len());
            for (k, v) in m {
                keyed.push((k.parse().ok()?, v));
            }
            keyed.sort_by_key(|(i, _)| *i);
            Some(keyed.into_iter().map(|(_, v)| v).collect())
        }
        _ => None,
    }
}

/// Parses an ISO 8601 / RFC 3339 time (`2050-05-15T13:45:30Z`, with an offset, or a bare date).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// An http(s) URL with a host.
pub(crate) fn is_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// Reads the fields of one object; errors name `prefix` + the key (`items[0].quantity`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Obj<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>, prefix: &'a str) -> Obj<'a> {
        Obj { map, prefix }
    }

    pub(crate) fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn err(&self, key: &str, detail: impl Into<String>) -> Reject {
        Reject::invalid(self.name(key), detail)
    }

    /// The value, `None` when absent or null.
    pub(crate) fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A string; an empty one (after trimming) is absent. Numbers and booleans read as text.
    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, Reject> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
            Some(_) => Err(self.err(key, "must be a string")),
        }
    }

    pub(crate) fn required_string(&self, key: &str) -> Result<String, Reject> {
        self.string(key)?.ok_or_else(|| self.err(key, "is required"))
    }

    /// An integer, as a JSON integer or a string of digits; an empty string is absent.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, Reject> {
        let bad = || self.err(key, "must be an integer");
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(bad),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => {
                let t = s.trim();
                let digits = t.strip_prefix('-').unwrap_or(t);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                t.parse().map(Some).map_err(|_| bad())
            }
            Some(_) => Err(bad()),
        }
    }

    /// An amount in cents: a positive integer (number or numeric string).
    pub(crate) fn cents(&self, key: &str) -> Result<Option<i64>, Reject> {
        let positive = || self.err(key, "must be a positive integer amount in cents");
        match self.int(key) {
            Ok(Some(n)) if n > 0 => Ok(Some(n)),
            Ok(Some(_)) | Err(_) => Err(positive()),
            Ok(None) => Ok(None),
        }
    }

    pub(crate) fn required_cents(&self, key: &str) -> Result<i64, Reject> {
        self.cents(key)?.ok_or_else(|| self.err(key, "is required"))
    }

    /// A quantity from 1 to 9 (default 1).
    pub(crate) fn quantity(&self, key: &str) -> Result<i64, Reject> {
        let range = || self.err(key, "must be an integer from 1 to 9");
        match self.int(key) {
            Ok(None) => Ok(1),
            Ok(Some(n)) if (1..=9).contains(&n) => Ok(n),
            _ => Err(range()),
        }
    }

    /// A non-negative count; `zero_is_none` reads 0 as absent.
    pub(crate) fn count(&self, key: &str, min: i64) -> Result<Option<u32>, Reject> {
        let bad = || self.err(key, format!("must be an integer of at least {min}"));
        match self.int(key) {
            Ok(None) => Ok(None),
            Ok(Some(n)) if n >= min => u32::try_from(n).map(Some).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    /// `true`/`false`, also as the strings Rails casts (`"true"`, `"1"`, `"false"`, `"0"`).
    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, Reject> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
            Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
            Some(Value::String(s)) => match s.trim() {
                "" => Ok(None),
                "true" | "1" | "t" | "on" => Ok(Some(true)),
                "false" | "0" | "f" | "off" => Ok(Some(false)),
                _ => Err(self.err(key, "must be true or false")),
            },
            Some(_) => Err(self.err(key, "must be true or false")),
        }
    }

    /// `GTQ` or `USD`.
    pub(crate) fn currency(&self, key: &str) -> Result<Option<Cur>, Reject> {
        match self.string(key)? {
            None => Ok(None),
            Some(c) => Cur::parse(c.trim())
                .map(Some)
                .ok_or_else(|| self.err(key, format!("must be GTQ or USD, not `{c}`"))),
        }
    }

    pub(crate) fn required_currency(&self, key: &str) -> Result<Cur, Reject> {
        self.currency(key)?
            .ok_or_else(|| self.err(key, "is required (GTQ or USD)"))
    }

    /// An http(s) URL.
    pub(crate) fn url(&self, key: &str) -> Result<Option<String>, Reject> {
        match self.string(key)? {
            None => Ok(None),
            Some(u) if is_url(u.trim()) => Ok(Some(u.trim().to_owned())),
            Some(_) => Err(self.err(key, "must be a valid http(s) URL")),
        }
    }

    /// An ISO 8601 time.
    pub(crate) fn time(&self, key: &str) -> Result<Option<DateTime<Utc>>, Reject> {
        match self.string(key)? {
            None => Ok(None),
            Some(t) => parse_time(&t)
                .map(Some)
                .ok_or_else(|| self.err(key, "must be an ISO 8601 time, e.g. 2050-05-15T13:45:30Z")),
        }
    }

    /// `day`, `week`, `month` or `year`.
    pub(crate) fn unit(&self, key: &str) -> Result<Option<Unit>, Reject> {
        match self.string(key)? {
            None => Ok(None),
            Some(u) => Unit::parse(u.trim())
                .map(Some)
                .ok_or_else(|| self.err(key, format!("must be day, week, month or year, not `{u}`"))),
        }
    }

    /// One of `allowed`.
    pub(crate) fn one_of(&self, key: &str, allowed: &[&'static str]) -> Result<Option<&'static str>, Reject> {
        match self.string(key)? {
            None => Ok(None),
            Some(v) => allowed
                .iter()
                .find(|a| **a == v.trim())
                .copied()
                .map(Some)
                .ok_or_else(|| self.err(key, format!("must be one of {}", allowed.join(", ")))),
        }
    }

    /// Metadata, checked (`None` when absent). A JSON object given as a string is read too.
    pub(crate) fn metadata(&self, key: &str) -> Result<Option<Map<String, Value>>, Reject> {
        let m = match self.raw(key) {
            None => return Ok(None),
            Some(Value::Object(m)) => m.clone(),
            Some(Value::String(s)) if s.trim().is_empty() => Map::new(),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => m,
                _ => return Err(self.err(key, "must be an object")),
            },
            Some(_) => return Err(self.err(key, "must be an object")),
        };
        check_metadata(&self.name(key), &m)?;
        Ok(Some(m))
    }

    /// A list (array, or an object keyed by indices).
    pub(crate) fn list(&self, key: &str) -> Result<Option<Vec<&'a Value>>, Reject> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => as_list(v).map(Some).ok_or_else(|| self.err(key, "must be a list")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rails_form_parameters() {
        let m = form_to_map(
            b"items[][name]=A&items[][currency]=GTQ&items[][amount_in_cents]=3000&items[][name]=B\
&success_url=https%3A%2F%2Fx.test&metadata[k]=v&product[prices_attributes][0][_destroy]=1&tags[]=a&tags[]=b",
        );
        assert_eq!(
            Value::Object(m),
            json!({
                "items": [{"name": "A", "currency": "GTQ", "amount_in_cents": "3000"}, {"name": "B"}],
                "success_url": "https://x.test",
                "metadata": {"k": "v"},
                "product": {"prices_attributes": {"0": {"_destroy": "1"}}},
                "tags": ["a", "b"]
            })
        );
        assert_eq!(split_key("a[b"), vec!["a[b".to_owned()]);
        assert_eq!(split_key("[x]"), vec!["[x]".to_owned()]);
        assert_eq!(split_key("a[b]c"), vec!["a[b]c".to_owned()]);
    }

    #[test]
    fn lists_from_arrays_or_indexed_objects() {
        let v = json!({"1": "b", "0": "a", "10": "c"});
        assert_eq!(as_list(&v).unwrap(), vec![&json!("a"), &json!("b"), &json!("c")]);
        assert!(as_list(&json!({"x": 1})).is_none());
        assert!(as_list(&json!("x")).is_none());
    }

    #[test]
    fn fields_accept_numbers_and_numeric_strings() {
        let m = json!({"a": 3000, "b": "3000", "c": "30.5", "d": 0, "e": "-1", "q": "9", "r": 10,
                       "t": "true", "f": "0", "u": "GTQ", "x": "usd", "w": "month", "s": ""})
        .as_object()
        .unwrap()
        .clone();
        let o = Obj::new(&m, "items[0].");
        assert_eq!(o.cents("a"), Ok(Some(3000)));
        assert_eq!(o.cents("b"), Ok(Some(3000)));
        assert_eq!(
            o.cents("c").unwrap_err().message,
            "items[0].c must be a positive integer amount in cents"
        );
        assert!(o.cents("d").is_err());
        assert!(o.cents("e").is_err());
        assert_eq!(o.cents("s"), Ok(None));
        assert_eq!(o.quantity("q"), Ok(9));
        assert_eq!(o.quantity("zz"), Ok(1));
        assert!(o.quantity("r").is_err());
        assert_eq!(o.boolean("t"), Ok(Some(true)));
        assert_eq!(o.boolean("f"), Ok(Some(false)));
        assert_eq!(o.currency("u"), Ok(Some(Cur::Gtq)));
        assert!(o.currency("x").is_err());
        assert_eq!(o.unit("w"), Ok(Some(Unit::Month)));
        assert!(o.unit("u").is_err());
    }

    #[test]
    fn metadata_limits() {
        let ok: Map<String, Value> = (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(check_metadata("metadata", &ok).is_ok());
        let many: Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert!(
            check_metadata("metadata", &many)
                .unwrap_err()
                .message
                .contains("51 keys")
        );
        let long_key: Map<String, Value> = [("k".repeat(41), json!("v"))].into_iter().collect();
        assert!(check_metadata("metadata", &long_key).is_err());
        let long_value: Map<String, Value> = [("k".to_owned(), json!("v".repeat(501)))].into_iter().collect();
        assert_eq!(
            check_metadata("metadata", &long_value).unwrap_err().field.unwrap().0,
            "metadata.k"
        );
    }

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2050-05-15T13:45:30Z").unwrap().to_rfc3339(),
            "2050-05-15T13:45:30+00:00"
        );
        assert_eq!(
            parse_time("2024-03-01T03:52:12.636-06:00").unwrap().to_rfc3339(),
            "2024-03-01T09:52:12.636+00:00"
        );
        assert!(parse_time("2050-05-15").is_some());
        assert!(parse_time("yesterday").is_none());
    }
}

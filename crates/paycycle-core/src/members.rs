//! Reading only some members of a JSON document: the tool adapters use to normalize a webhook
//! without building a [`Value`] of all of it.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// What to keep of a member's value (see [`read_members`]).
#[derive(Debug, Clone, Copy)]
pub enum Keep {
    /// The value, whole.
    Whole,
    /// When the value is an object: only the listed members, each by its own rule (the others
    /// are checked as JSON and dropped). Any other value is kept whole.
    Members(&'static [(&'static str, Keep)]),
}

/// Reads the JSON `text`, keeping of it only what `keep` says, as the same [`Value`]
/// `serde_json::from_str` gives with the other members removed.
///
/// The whole text is checked as JSON, by `serde_json`, at the same positions as
/// `serde_json::from_str::<Value>`. Two differences, both in dropped members, which are skipped
/// rather than built: a number beyond `f64`'s range and an escaped lone surrogate (`"\ud800"`)
/// are accepted there, and a syntax error may be worded differently. A member that appears twice counts once, with its last value, as in a
/// `Value`. What is dropped costs its parse only: nothing of it is allocated.
///
/// ```
/// use paycycle_core::{Keep, read_members};
/// const CHECKOUT: &[(&str, Keep)] = &[("id", Keep::Whole)];
/// const EVENT: &[(&str, Keep)] = &[("type", Keep::Whole), ("checkout", Keep::Members(CHECKOUT))];
/// let text = r#"{"type": "paid", "padding": "…", "checkout": {"id": "ch_1", "metadata": {"k": 1}}}"#;
/// let kept = read_members(text, Keep::Members(EVENT))?;
/// assert_eq!(kept, serde_json::json!({"type": "paid", "checkout": {"id": "ch_1"}}));
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// # Errors
/// `serde_json`'s error when `text` is not one JSON value.
pub fn read_members(text: &str, keep: Keep) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = keep.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A [`Keep`] rule reads one value as [`read_members`] describes, from any deserializer (for
/// [`RawPayload::read_with`](crate::RawPayload::read_with), or a member of a larger document).
impl<'de> DeserializeSeed<'de> for Keep {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self {
            Keep::Whole => serde::Deserialize::deserialize(d),
            Keep::Members(members) => d.deserialize_any(KeptVisitor(members)),
        }
    }
}

/// Builds what `Value`'s own visitor builds, except that objects keep only `.0`'s members.
struct KeptVisitor(&'static [(&'static str, Keep)]);

impl<'de> Visitor<'de> for KeptVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(found) = map.next_key_seed(Member(self.0))? {
            match found {
                Some((name, keep)) => {
                    let value = map.next_value_seed(keep)?;
                    kept.insert(name.to_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(kept))
    }
}

/// A member's name, looked up among the kept ones without allocating.
struct Member(&'static [(&'static str, Keep)]);

impl<'de> DeserializeSeed<'de> for Member {
    type Value = Option<(&'static str, Keep)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Member {
    type Value = Option<(&'static str, Keep)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        // Names differ mostly in length or first byte: those are compared before the bytes.
        Ok(self
            .0
            .iter()
            .find(|(name, _)| name.len() == v.len() && name.as_bytes().first() == v.as_bytes().first() && *name == v)
            .copied())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const INNER: &[(&str, Keep)] = &[("id", Keep::Whole)];
    const TOP: &[(&str, Keep)] = &[("a", Keep::Whole), ("o", Keep::Members(INNER)), ("n", Keep::Whole)];

    #[test]
    fn keeps_the_listed_members_as_a_value_would_hold_them() {
        let text = r#"{"a": [1, -2, 3.5, 1e300, "x\u00e9", null, true], "z": 1e400, "b": {"deep": [1]},
            "o": {"id": "i\"d", "big": "drop"}, "n": 18446744073709551615, "a": "last"}"#;
        let kept = read_members(text, Keep::Members(TOP)).unwrap();
        assert_eq!(
            kept,
            json!({"a": "last", "o": {"id": "i\"d"}, "n": 18_446_744_073_709_551_615_u64})
        );
    }

    #[test]
    fn other_shapes_are_kept_whole() {
        for text in [r#"[{"a": 1, "z": 2}]"#, "\"text\"", "12", "null"] {
            let whole: Value = serde_json::from_str(text).unwrap();
            assert_eq!(read_members(text, Keep::Members(TOP)).unwrap(), whole, "{text}");
        }
        let kept = read_members(r#"{"o": [{"id": 1, "z": 2}], "a": null}"#, Keep::Members(TOP)).unwrap();
        assert_eq!(kept, json!({"o": [{"id": 1, "z": 2}], "a": null}));
    }

    #[test]
    fn checks_the_whole_text_at_serde_jsons_positions() {
        for bad in [
            r#"{"a": 1, "z": [1,]}"#,
            r#"{"z": tru}"#,
            r#"{"a": 1} x"#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": 1e400}"#,
            "{",
        ] {
            let ours = read_members(bad, Keep::Members(TOP)).unwrap_err();
            let theirs = serde_json::from_str::<Value>(bad).unwrap_err();
            assert_eq!((ours.line(), ours.column()), (theirs.line(), theirs.column()), "{bad}");
            assert_eq!(ours.classify(), theirs.classify(), "{bad}");
        }
        // Skipped, not built: what only building refuses passes in a dropped member.
        for lenient in [r#"{"z": 1e400}"#, r#"{"z": "\ud800"}"#] {
            assert!(serde_json::from_str::<Value>(lenient).is_err());
            assert_eq!(read_members(lenient, Keep::Members(TOP)).unwrap(), json!({}));
        }
    }
}

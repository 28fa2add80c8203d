//! Verified, normalized webhook events.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ids::{CheckoutId, EventId, GatewayId, SubscriptionId};
use crate::subscription::{Payment, SubscriptionStatus};

/// What happened, the same for every gateway.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A charge succeeded (first payment or renewal).
    PaymentSucceeded,
    /// A charge failed.
    PaymentFailed,
    /// A charge started and is not settled yet (bank transfer pending, crypto confirming).
    PaymentPending,
    /// A payment was refunded.
    PaymentRefunded,
    /// The subscription started (the payer accepted or paid the first time).
    SubscriptionStarted,
    /// A renewal failed; the gateway will retry.
    SubscriptionPastDue,
    /// The subscription was paused.
    SubscriptionPaused,
    /// The subscription was resumed.
    SubscriptionResumed,
    /// The subscription ended.
    SubscriptionCancelled,
    /// A cancelled subscription came back (it is active again): cancellation is not always
    /// final.
    SubscriptionReactivated,
    /// Something about the subscription changed other than its state (its payment method, its
    /// items, a one-off charge added to the next invoice). The event implies no status: read
    /// the subscription again for the details.
    SubscriptionUpdated,
    /// A payer disputed a charge (a chargeback was opened).
    DisputeOpened,
    /// A dispute changed. Deliberately not "closed": the provider's event names only an update,
    /// and no captured payload says whether, or how, the dispute ended; read the raw payload.
    DisputeUpdated,
    /// A payment method was saved without a charge (a trial started).
    SetupSucceeded,
    /// Saving a payment method failed.
    SetupFailed,
    /// An event paycycle does not know, as the provider named it. The raw payload is on the event.
    Unknown(String),
}

/// A verified webhook, normalized. Nothing the provider sent is lost: see [`WebhookEvent::raw`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The gateway that sent it.
    pub gateway: GatewayId,
    /// Stable across redeliveries of the same event: drop events whose `(gateway, id)` you have seen.
    pub id: EventId,
    /// What happened.
    pub kind: EventKind,
    /// The provider's event or status name, as sent (`payment_intent.succeeded`, `paid`).
    pub provider_type: String,
    /// When it happened, when the provider says.
    pub occurred_at: Option<DateTime<Utc>>,
    /// The subscription concerned, when known.
    pub subscription_id: Option<SubscriptionId>,
    /// The checkout concerned, when known.
    pub checkout_id: Option<CheckoutId>,
    /// Your reference, when the payload carries it.
    pub merchant_reference: Option<String>,
    /// The subscription's state after this event, when the payload says.
    pub subscription_status: Option<SubscriptionStatus>,
    /// The payment, for payment events.
    pub payment: Option<Payment>,
    /// For events of a connected (child) account: its id.
    pub connected_account: Option<String>,
    /// The payload as received: its JSON text, whole, parsed only when asked
    /// ([`RawPayload::value`], [`RawPayload::parse`]).
    pub raw: RawPayload,
}

impl WebhookEvent {
    /// An event with the required fields; the rest start empty.
    pub fn new(
        gateway: GatewayId,
        id: EventId,
        kind: EventKind,
        provider_type: impl Into<String>,
        raw: RawPayload,
    ) -> Self {
        WebhookEvent {
            gateway,
            id,
            kind,
            provider_type: provider_type.into(),
            occurred_at: None,
            subscription_id: None,
            checkout_id: None,
            merchant_reference: None,
            subscription_status: None,
            payment: None,
            connected_account: None,
            raw,
        }
    }
}

/// A webhook's payload as received: its JSON text, kept whole and parsed only when asked.
///
/// Verifying a webhook reads the few members the normalized event needs and keeps the body
/// as it came, instead of building a [`serde_json::Value`] of all of it (most of the cost of
/// verifying, for a payload nobody may read). [`value`](Self::value) and
/// [`parse`](Self::parse) read it on demand.
///
/// The text is one JSON value, as `serde_json` checks it (every constructor checks it, but
/// [`from_checked`](Self::from_checked), for text an adapter's own parser checked), kept byte
/// for byte except for whitespace around it. Two payloads are equal when their texts are.
/// It serializes as that JSON value, verbatim, and deserializes from any JSON value (with
/// `serde_json`; other formats cannot carry raw JSON). The default is `null`.
///
/// ```
/// use paycycle_core::RawPayload;
/// let raw = RawPayload::from_json(r#"{"id": "ev_1", "metadata": {"plan": "pro"}}"#.to_owned())?;
/// assert_eq!(raw.value()?["metadata"]["plan"], "pro");
/// assert_eq!(raw.json(), r#"{"id": "ev_1", "metadata": {"plan": "pro"}}"#);
/// assert!(RawPayload::from_json("{not json".to_owned()).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RawPayload(Box<str>);

impl RawPayload {
    /// The payload `text`, checked to be one JSON value.
    ///
    /// # Errors
    /// The parser's error when `text` is not exactly one JSON value.
    pub fn from_json(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<serde::de::IgnoredAny>(&text)?;
        Ok(RawPayload::from_checked(text))
    }

    /// The payload `text` and, read from it in the same pass, what `seed` reads: for an adapter,
    /// the members it needs to normalize a webhook (a [`Keep`](crate::Keep) rule, or a seed of
    /// its own), with the body checked once.
    ///
    /// The seed reads the one value `text` holds, through `serde_json`, and nothing may follow
    /// it: so whatever the seed does, `text` is checked JSON when this succeeds.
    ///
    /// ```
    /// use paycycle_core::{Keep, RawPayload};
    /// const EVENT: &[(&str, Keep)] = &[("type", Keep::Whole)];
    /// let text = r#"{"type": "paid", "cart": [{"sku": "a", "qty": 2}]}"#;
    /// let (raw, read) = RawPayload::read_with(text, Keep::Members(EVENT))?;
    /// assert_eq!(read, serde_json::json!({"type": "paid"}));
    /// assert_eq!(raw.json(), text);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    ///
    /// # Errors
    /// `serde_json`'s error when `text` is not one JSON value, or the seed's.
    pub fn read_with<'t, S: serde::de::DeserializeSeed<'t>>(
        text: &'t str,
        seed: S,
    ) -> Result<(Self, S::Value), serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let read = seed.deserialize(&mut de)?;
        de.end()?;
        Ok((RawPayload::from_checked(text.to_owned()), read))
    }

    /// The payload `text` as an adapter received it and already checked with a JSON parser of
    /// its own, not checked again (Cryptomus's verifier parses each body anyway, to re-encode
    /// it as PHP does). Whitespace around it is dropped.
    ///
    /// Only text that is JSON belongs here; use [`from_json`](Self::from_json) otherwise. A
    /// text that is not still never panics: [`value`](Self::value), [`parse`](Self::parse) and
    /// serializing it return errors.
    pub fn from_checked(text: String) -> Self {
        let trimmed = text.trim_matches([' ', '\t', '\n', '\r']);
        if trimmed.len() == text.len() {
            RawPayload(text.into_boxed_str())
        } else {
            RawPayload(trimmed.into())
        }
    }

    /// The payload of a JSON value (its compact text).
    pub fn from_value(value: &serde_json::Value) -> Self {
        RawPayload(value.to_string().into_boxed_str())
    }

    /// The JSON text, as received.
    pub fn json(&self) -> &str {
        &self.0
    }

    /// The payload parsed into a [`serde_json::Value`].
    ///
    /// # Errors
    /// Only for JSON that `serde_json` checks but a `Value` cannot hold: nesting deeper than
    /// 128 levels, a number beyond `f64`'s range, an escaped lone surrogate (`"\ud800"`).
    pub fn value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(self.json())
    }

    /// The payload read as `T`.
    ///
    /// # Errors
    /// When the payload does not read as a `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.json())
    }
}

impl Default for RawPayload {
    fn default() -> Self {
        RawPayload("null".into())
    }
}

impl Serialize for RawPayload {
    /// The JSON value itself, verbatim (through `serde_json`'s `RawValue`).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(self.json()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawPayload {
    /// Any JSON value, kept as its text.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(RawPayload(raw.get().into()))
    }
}

impl fmt::Debug for RawPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawPayload").field(&self.json()).finish()
    }
}

impl fmt::Display for RawPayload {
    /// The JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

impl From<serde_json::Value> for RawPayload {
    fn from(value: serde_json::Value) -> Self {
        RawPayload::from_value(&value)
    }
}

#[cfg(test)]
mod raw_payload_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keeps_the_text_and_parses_on_demand() {
        let text = "{\"b\": 1, \"a\": [1.50, \"x\"]}";
        let raw = RawPayload::from_json(text.to_owned()).unwrap();
        assert_eq!(raw.json(), text, "key order, spacing and 1.50 are kept");
        assert_eq!(raw.value().unwrap(), serde_json::json!({"a": [1.5, "x"], "b": 1}));
        assert_eq!(raw.to_string(), text);
        #[derive(Deserialize)]
        struct B {
            b: u8,
        }
        assert_eq!(raw.parse::<B>().unwrap().b, 1);
    }

    #[test]
    fn rejects_text_that_is_not_one_json_value() {
        for bad in ["", "{", "{} {}", "nul", "{\"a\":}"] {
            assert!(RawPayload::from_json(bad.to_owned()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serializes_verbatim_and_round_trips() {
        let raw = RawPayload::from_json("{\"z\":1,\"a\":2}".to_owned()).unwrap();
        let out = serde_json::to_string(&raw).unwrap();
        assert_eq!(out, "{\"z\":1,\"a\":2}", "not re-ordered");
        let back: RawPayload = serde_json::from_str(&out).unwrap();
        assert_eq!(back, raw);
        assert_eq!(RawPayload::default().json(), "null");
        assert_eq!(RawPayload::from(serde_json::json!({"k": "v"})).json(), "{\"k\":\"v\"}");
        let in_event: serde_json::Value = serde_json::from_str(&format!("{{\"raw\":{out}}}")).unwrap();
        assert_eq!(in_event["raw"]["z"], 1);
    }

    #[test]
    fn read_with_checks_once_and_keeps_the_text() {
        const KEEP: &[(&str, crate::Keep)] = &[("id", crate::Keep::Whole)];
        let text = " {\"id\": \"a\", \"pad\": [1, 2, {\"x\": 1e400}]}\n";
        let (raw, members) = RawPayload::read_with(text, crate::Keep::Members(KEEP)).unwrap();
        assert_eq!(raw.json(), text.trim(), "only the whitespace around it goes");
        assert_eq!(members, serde_json::json!({"id": "a"}));
        assert!(raw.value().is_err(), "1e400 is JSON serde_json checks but cannot build");
        assert!(RawPayload::read_with("{\"id\": }", crate::Keep::Whole).is_err());
        assert!(
            RawPayload::read_with("{} {}", crate::Keep::Whole).is_err(),
            "one value only"
        );
        // A seed that reads nothing still has the text checked: nothing may be left unread.
        struct Nothing;
        impl<'de> serde::de::DeserializeSeed<'de> for Nothing {
            type Value = ();
            fn deserialize<D: serde::Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
                Ok(())
            }
        }
        assert!(RawPayload::read_with("{\"a\": 1}", Nothing).is_err());
        assert_eq!(RawPayload::from_json(" [1] ".to_owned()).unwrap().json(), "[1]");
    }

    #[test]
    fn text_vouched_for_but_not_json_fails_without_panicking() {
        let raw = RawPayload::from_checked("\n{\"a\": \n".to_owned());
        assert_eq!(raw.json(), "{\"a\":", "trimmed, kept");
        assert!(raw.value().is_err());
        assert!(raw.parse::<serde_json::Value>().is_err());
        assert!(serde_json::to_string(&raw).is_err());
    }

    #[test]
    fn equality_is_by_text() {
        let a = RawPayload::from_json("{\"a\":1}".to_owned()).unwrap();
        let b = RawPayload::from_json("{\"a\": 1}".to_owned()).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.value().unwrap(), b.value().unwrap());
    }
}

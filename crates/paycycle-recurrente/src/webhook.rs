//! Recurrente webhooks: Svix signatures, verified and made, and the mapping to
//! [`WebhookEvent`].
//!
//! Recurrente delivers webhooks through Svix. Each request carries `svix-id`, `svix-timestamp`
//! (unix seconds) and `svix-signature` (or the same values under the unbranded `webhook-id`,
//! `webhook-timestamp`, `webhook-signature`). The signature header holds space-separated
//! `v1,<base64>` entries, each `base64(HMAC-SHA256(key, "{id}.{timestamp}.{raw body}"))` where
//! the key is the base64-decoded part of the `whsec_…` secret. A message is authentic when any
//! `v1` entry matches any configured secret (compared in constant time), which is how secret
//! rotation works, and fresh when its timestamp is within 5 minutes of now in either direction.
//!
//! ```
//! use paycycle_recurrente::webhook::{sign, RecurrenteWebhookVerifier};
//! # use std::sync::Arc;
//! # use paycycle_core::{FixedClock, chrono::{TimeZone, Utc}};
//! let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
//! let body = br#"{"event_type":"subscription.cancel","id":"su_123"}"#;
//! let header = sign(secret, "msg_1", 1_700_000_000, body)?;
//! assert!(header.starts_with("v1,"));
//!
//! let mut headers = paycycle_core::http::HeaderMap::new();
//! headers.insert("svix-id", "msg_1".parse().unwrap());
//! headers.insert("svix-timestamp", "1700000000".parse().unwrap());
//! headers.insert("svix-signature", header.parse().unwrap());
//! let verifier = RecurrenteWebhookVerifier::new([secret])?
//! #   .with_clock(Arc::new(FixedClock(Utc.timestamp_opt(1_700_000_000, 0).unwrap())))
//!     ;
//! let event = verifier.verify_event(&headers, body)?;
//! assert_eq!(event.id.as_str(), "msg_1");
//! assert_eq!(event.subscription_id.unwrap().as_str(), "su_123");
//! # Ok::<(), paycycle_core::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use paycycle_core::{
    CheckoutId, Clock, Currency, Error, EventId, EventKind, GatewayId, Keep, Money, Payment, PaymentId, PaymentStatus,
    RawPayload, Result, SubscriptionId, SystemClock, WebhookError, WebhookEvent,
};
use secrecy::{ExposeSecret, SecretSlice};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use crate::convert;
use crate::wire::de;

const GATEWAY: GatewayId = GatewayId::RECURRENTE;

/// How far a timestamp may be from now, either way: 5 minutes, as Svix.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The metadata key under which the gateway stores your merchant reference on checkouts.
pub const REFERENCE_KEY: &str = "paycycle_reference";

/// The header names, branded (Svix) and unbranded (Standard Webhooks).
pub mod headers {
    /// The message id; stable across redeliveries.
    pub const SVIX_ID: &str = "svix-id";
    /// Unix seconds of the attempt.
    pub const SVIX_TIMESTAMP: &str = "svix-timestamp";
    /// `v1,<base64>` entries.
    pub const SVIX_SIGNATURE: &str = "svix-signature";
    /// The unbranded message id.
    pub const WEBHOOK_ID: &str = "webhook-id";
    /// The unbranded timestamp.
    pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
    /// The unbranded signature.
    pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
}

fn webhook_error(reason: WebhookError) -> Error {
    Error::webhook(GATEWAY, reason)
}

/// A webhook signing secret: the HMAC key decoded from `whsec_<base64>`.
#[derive(Clone)]
pub struct WebhookSecret {
    key: SecretSlice<u8>,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` (the prefix is optional, as in Svix's own libraries).
    ///
    /// # Errors
    /// [`Error::Webhook`] with [`WebhookError::InvalidSecret`] when the rest is not base64 or is
    /// empty; the message never contains the secret.
    pub fn parse(secret: &str) -> Result<WebhookSecret> {
        let s = secret.trim();
        let encoded = s.strip_prefix("whsec_").unwrap_or(s);
        let key = BASE64.decode(encoded).map_err(|_| {
            webhook_error(WebhookError::InvalidSecret(
                "the part after `whsec_` is not base64".into(),
            ))
        })?;
        if key.is_empty() {
            return Err(webhook_error(WebhookError::InvalidSecret("the key is empty".into())));
        }
        Ok(WebhookSecret { key: key.into() })
    }

    fn mac(&self, msg_id: &str, timestamp: &str, body: &[u8]) -> Result<Hmac<Sha256>> {
        // HMAC accepts keys of any length, so this error cannot happen; it is not hidden either.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose_secret())
            .map_err(|_| webhook_error(WebhookError::InvalidSecret("unusable HMAC key".into())))?;
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        Ok(mac)
    }

    /// The `v1,<base64>` signature of a message.
    ///
    /// # Errors
    /// [`Error::Webhook`] with [`WebhookError::InvalidSecret`] if the key cannot key an HMAC
    /// (never, for a parsed secret).
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String> {
        let tag = self.mac(msg_id, &timestamp.to_string(), body)?.finalize().into_bytes();
        Ok(format!("v1,{}", BASE64.encode(tag)))
    }
}

/// Signs a message as Recurrente (Svix) does: returns the `svix-signature` value `v1,<base64>`.
/// The simulator and the CLI use it to deliver test webhooks.
///
/// # Errors
/// [`Error::Webhook`] with [`WebhookError::InvalidSecret`] for a malformed secret.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String> {
    WebhookSecret::parse(secret)?.sign(msg_id, timestamp, body)
}

/// The three `svix-*` headers of a signed message, ready to send.
///
/// # Errors
/// [`Error::Webhook`] for a malformed secret, or a message id that cannot be a header value.
pub fn signed_headers(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Result<HeaderMap> {
    let signature = sign(secret, msg_id, timestamp, body)?;
    let value = |name: &str, v: &str| {
        HeaderValue::from_str(v).map_err(|_| {
            webhook_error(WebhookError::MalformedHeader {
                name: name.to_owned(),
                reason: "not a valid header value".into(),
            })
        })
    };
    let mut map = HeaderMap::new();
    map.insert(
        HeaderName::from_static(headers::SVIX_ID),
        value(headers::SVIX_ID, msg_id)?,
    );
    map.insert(
        HeaderName::from_static(headers::SVIX_TIMESTAMP),
        value(headers::SVIX_TIMESTAMP, &timestamp.to_string())?,
    );
    map.insert(
        HeaderName::from_static(headers::SVIX_SIGNATURE),
        value(headers::SVIX_SIGNATURE, &signature)?,
    );
    Ok(map)
}

/// A message whose signature and timestamp were verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedMessage {
    /// The Svix message id (`msg_…`), stable across redeliveries: dedupe on it.
    pub id: String,
    /// When this attempt was signed.
    pub timestamp: DateTime<Utc>,
}

/// Verifies Recurrente webhooks against one or more secrets (several during a rotation).
#[derive(Clone)]
pub struct RecurrenteWebhookVerifier {
    secrets: Vec<WebhookSecret>,
    clock: Arc<dyn Clock>,
    tolerance: Duration,
}

impl fmt::Debug for RecurrenteWebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecurrenteWebhookVerifier")
            .field("secrets", &format_args!("[redacted; {}]", self.secrets.len()))
            .field("clock", &self.clock)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl RecurrenteWebhookVerifier {
    /// A verifier accepting any of `secrets` (`whsec_…`), with the system clock and a 5-minute
    /// tolerance.
    ///
    /// # Errors
    /// [`Error::Webhook`] with [`WebhookError::InvalidSecret`] for a malformed secret or none.
    pub fn new<I, S>(secrets: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let secrets = secrets
            .into_iter()
            .map(|s| WebhookSecret::parse(s.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        Self::from_secrets(secrets)
    }

    /// A verifier from parsed secrets.
    ///
    /// # Errors
    /// [`Error::Webhook`] with [`WebhookError::InvalidSecret`] when `secrets` is empty.
    pub fn from_secrets(secrets: Vec<WebhookSecret>) -> Result<Self> {
        if secrets.is_empty() {
            return Err(webhook_error(WebhookError::InvalidSecret(
                "no webhook signing secret is configured".into(),
            )));
        }
        Ok(RecurrenteWebhookVerifier {
            secrets,
            clock: Arc::new(SystemClock),
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Reads "now" from `clock` (a fixed or virtual clock in tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Changes the tolerance (default 5 minutes).
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Checks the signature, then the timestamp.
    ///
    /// # Errors
    /// [`Error::Webhook`]: [`WebhookError::MissingHeader`], [`WebhookError::MalformedHeader`],
    /// [`WebhookError::BadSignature`] (tampered body, wrong secret, not from Recurrente),
    /// [`WebhookError::StaleTimestamp`] or [`WebhookError::FutureTimestamp`].
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<VerifiedMessage> {
        let (id, timestamp) = self.check(headers, body)?;
        Ok(VerifiedMessage {
            id: id.to_owned(),
            timestamp,
        })
    }

    /// [`verify`](Self::verify), with the id borrowed from the headers.
    fn check<'h>(&self, headers: &'h HeaderMap, body: &[u8]) -> Result<(&'h str, DateTime<Utc>)> {
        let id = header(headers, &names::SVIX_ID, &names::WEBHOOK_ID)?;
        let ts_text = header(headers, &names::SVIX_TIMESTAMP, &names::WEBHOOK_TIMESTAMP)?;
        let signatures = header(headers, &names::SVIX_SIGNATURE, &names::WEBHOOK_SIGNATURE)?;
        let ts: i64 = ts_text.trim().parse().map_err(|_| {
            webhook_error(WebhookError::MalformedHeader {
                name: headers::SVIX_TIMESTAMP.into(),
                reason: "not unix seconds".into(),
            })
        })?;

        // One MAC per secret, fed the parts in turn (no "{id}.{ts}.{body}" copy); each `v1`
        // entry decoded onto the stack and compared in constant time. A 32-byte tag is 44
        // base64 characters: any entry that does not fit the buffer cannot match and is skipped.
        let mut matched = Choice::from(0);
        for secret in &self.secrets {
            let expected = secret.mac(id, ts_text, body)?.finalize().into_bytes();
            for (version, sig) in signatures
                .split_ascii_whitespace()
                .filter_map(|entry| entry.split_once(','))
            {
                let mut buf = [0u8; 64];
                if version == "v1"
                    && let Ok(len) = BASE64.decode_slice(sig, &mut buf)
                {
                    matched |= expected.as_slice().ct_eq(&buf[..len]);
                }
            }
        }
        if !bool::from(matched) {
            return Err(webhook_error(WebhookError::BadSignature));
        }

        let now = self.clock.now().timestamp();
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        let age = now.saturating_sub(ts);
        if age > tolerance {
            return Err(webhook_error(WebhookError::StaleTimestamp {
                age_secs: age,
                tolerance_secs: tolerance,
            }));
        }
        if age < -tolerance {
            return Err(webhook_error(WebhookError::FutureTimestamp {
                ahead_secs: age.saturating_neg(),
                tolerance_secs: tolerance,
            }));
        }
        let timestamp = DateTime::from_timestamp(ts, 0).ok_or_else(|| {
            webhook_error(WebhookError::MalformedHeader {
                name: headers::SVIX_TIMESTAMP.into(),
                reason: "out of range".into(),
            })
        })?;
        Ok((id, timestamp))
    }

    /// Verifies a webhook and normalizes it. The event id is the `svix-id`.
    ///
    /// # Errors
    /// Those of [`RecurrenteWebhookVerifier::verify`], and [`WebhookError::Malformed`] when the
    /// verified body is not a Recurrente event (not JSON, no `event_type`, a field of the wrong
    /// type, with its JSON path).
    pub fn verify_event(&self, headers: &HeaderMap, body: &[u8]) -> Result<WebhookEvent> {
        let (id, _) = self.check(headers, body)?;
        to_event(id, body)
    }
}

/// The names [`header`] looks up, parsed once (a `&str` name is parsed on every lookup).
mod names {
    use http::HeaderName;

    use super::headers;

    pub(super) const SVIX_ID: HeaderName = HeaderName::from_static(headers::SVIX_ID);
    pub(super) const SVIX_TIMESTAMP: HeaderName = HeaderName::from_static(headers::SVIX_TIMESTAMP);
    pub(super) const SVIX_SIGNATURE: HeaderName = HeaderName::from_static(headers::SVIX_SIGNATURE);
    pub(super) const WEBHOOK_ID: HeaderName = HeaderName::from_static(headers::WEBHOOK_ID);
    pub(super) const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static(headers::WEBHOOK_TIMESTAMP);
    pub(super) const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static(headers::WEBHOOK_SIGNATURE);
}

fn header<'h>(headers: &'h HeaderMap, branded: &HeaderName, unbranded: &HeaderName) -> Result<&'h str> {
    let (name, value) = match headers.get(branded) {
        Some(v) => (branded.as_str(), v),
        None => match headers.get(unbranded) {
            Some(v) => (unbranded.as_str(), v),
            None => return Err(webhook_error(WebhookError::MissingHeader(branded.as_str().to_owned()))),
        },
    };
    value.to_str().map_err(|_| {
        webhook_error(WebhookError::MalformedHeader {
            name: name.to_owned(),
            reason: "not visible ASCII".into(),
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Payload
// ---------------------------------------------------------------------------------------------

/// The parts of an event payload the mapping reads; everything else stays in `raw`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Payload {
    #[serde(deserialize_with = "de::opt_string")]
    event_type: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    id: Option<String>,
    #[serde(deserialize_with = "de::opt_datetime")]
    created_at: Option<DateTime<Utc>>,
    checkout: Option<PayloadCheckout>,
    payment: Option<PayloadPayment>,
    #[serde(deserialize_with = "de::opt_i64")]
    amount_in_cents: Option<i64>,
    #[serde(deserialize_with = "de::opt_currency")]
    currency: Option<Currency>,
    #[serde(deserialize_with = "de::opt_string")]
    failure_reason: Option<String>,
    /// Spelled so in the reference's `setup_intent.*` payloads.
    suscription: Option<PayloadRef>,
    subscription: Option<PayloadRef>,
    #[serde(deserialize_with = "de::opt_bool")]
    connected: Option<bool>,
    #[serde(deserialize_with = "de::opt_string")]
    account_id: Option<String>,
    /// Refunds: the refunded payment, in whichever shape it comes.
    payment_intent: Option<PayloadRef>,
    #[serde(deserialize_with = "de::opt_string")]
    payment_intent_id: Option<String>,
    #[serde(deserialize_with = "de::opt_i64")]
    customer_refunded_amount_in_cents: Option<i64>,
    /// The wrapped sample's flat checkout reference (`data.checkout_id`).
    #[serde(deserialize_with = "de::opt_string")]
    checkout_id: Option<String>,
    /// The wrapped sample's metadata, beside the payment rather than in a `checkout`: only
    /// its [`REFERENCE_KEY`] entry is kept.
    #[serde(rename = "metadata", deserialize_with = "reference_entry")]
    reference: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PayloadRef {
    #[serde(deserialize_with = "de::opt_string")]
    id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PayloadCheckout {
    #[serde(deserialize_with = "de::opt_string")]
    id: Option<String>,
    /// `metadata[REFERENCE_KEY]`, whatever its type.
    #[serde(rename = "metadata", deserialize_with = "reference_entry")]
    reference: Option<Value>,
}

/// A metadata object (`null` is an empty one), reduced to its [`REFERENCE_KEY`] entry.
fn reference_entry<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Ok(de::map(d)?.remove(REFERENCE_KEY))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PayloadPayment {
    #[serde(deserialize_with = "de::opt_string")]
    id: Option<String>,
    paymentable: Option<PayloadPaymentable>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PayloadPaymentable {
    #[serde(rename = "type", deserialize_with = "de::opt_string")]
    kind: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    id: Option<String>,
}

fn malformed(reason: impl Into<String>) -> Error {
    webhook_error(WebhookError::Malformed(reason.into()))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// The event's name, by the envelope rule: `event_type`; else `type` when it contains a dot
/// (unified `intent.*` bodies use `type` for the payment kind, `payment`, `bank_transfer`…,
/// while the card-update guide's `setup_intent.succeeded` puts the name there); else, leniently,
/// `event` when it contains a dot (a third-party `{event, data}` claim).
fn event_name(obj: &serde_json::Map<String, Value>) -> Option<String> {
    event_name_by(|key| obj.get(key))
}

/// [`event_name`] over any member lookup (a map, or a wrapper's merged view).
fn event_name_by<'a>(get: impl Fn(&str) -> Option<&'a Value>) -> Option<String> {
    let text = |key: &str| {
        get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    text("event_type")
        .or_else(|| text("type").filter(|t| t.contains('.')))
        .or_else(|| text("event").filter(|t| t.contains('.')))
        .map(str::to_owned)
}

/// The resource an event describes. Flat bodies (every official source but one) are the
/// resource itself. A body with an object `data` and no top-level `id` is a wrapper
/// (`{"event_type"|"type": …, "created_at": …, "data": {…}}`): its `data` is the resource, and
/// the wrapper's other members (the name, `created_at`) fill in what `data` lacks. So a payload
/// normalizes the same wrapped or flat.
/// Returns the resource and the JSON path prefix of where it sits (`""` or `"data."`).
fn resource(obj: &serde_json::Map<String, Value>) -> (serde_json::Map<String, Value>, &'static str) {
    let has_id = obj.get("id").is_some_and(|id| !id.is_null());
    match obj.get("data") {
        Some(Value::Object(data)) if !has_id => {
            let mut merged = data.clone();
            for (k, v) in obj {
                if k != "data" && !merged.contains_key(k) {
                    merged.insert(k.clone(), v.clone());
                }
            }
            (merged, "data.")
        }
        _ => (obj.clone(), ""),
    }
}

/// [`resource`] without the copy: the members of `data` (when the body is a wrapper), else
/// the wrapper's own, looked up in place.
struct Resource<'a> {
    outer: &'a serde_json::Map<String, Value>,
    /// `Some` when the body is a wrapper.
    data: Option<&'a serde_json::Map<String, Value>>,
    /// The merged resource's members named in [`RESOURCE`], at their index there: found in one
    /// pass over each object, so that reading one is not a search by name (which compares names
    /// over and over: a tenth of the time of verifying a small webhook).
    slots: [Option<&'a Value>; RESOURCE.len()],
}

impl<'a> Resource<'a> {
    fn of(outer: &'a serde_json::Map<String, Value>) -> Self {
        let has_id = outer.get("id").is_some_and(|id| !id.is_null());
        let data = match outer.get("data") {
            Some(Value::Object(data)) if !has_id => Some(data),
            _ => None,
        };
        let mut slots = [None; RESOURCE.len()];
        // `data`'s members first; the wrapper's fill in what `data` lacks.
        for map in data.into_iter().chain([outer]) {
            for (name, value) in map {
                if let Some(i) = slot(name) {
                    slots[i].get_or_insert(value);
                }
            }
        }
        Resource { outer, data, slots }
    }

    /// The member `key` of the merged resource, as [`resource`] builds it.
    fn get(&self, key: &str) -> Option<&'a Value> {
        if let Some(i) = slot(key) {
            return self.slots[i];
        }
        match self.data {
            None => self.outer.get(key),
            Some(data) => data
                .get(key)
                .or_else(|| if key == "data" { None } else { self.outer.get(key) }),
        }
    }

    /// [`event_name`] of the merged resource.
    fn event_name(&self) -> Option<String> {
        event_name_by(|key| self.get(key))
    }
}

/// The index of `name` in [`RESOURCE`] (lengths first: most names differ there).
fn slot(name: &str) -> Option<usize> {
    RESOURCE.iter().position(|(n, _)| n.len() == name.len() && *n == name)
}

/// The fast readers: each gives `None` ("ask the typed reader") for anything but the plain
/// shapes, so that every value and error stays the typed reader's.
mod fast {
    use chrono::{DateTime, Utc};
    use paycycle_core::Currency;
    use serde_json::{Map, Value};

    use crate::wire::de;

    /// Text: a string, or nothing for absent and `null`.
    pub(super) fn string(v: Option<&Value>) -> Option<Option<String>> {
        match v {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => None,
        }
    }

    pub(super) fn i64(v: Option<&Value>) -> Option<Option<i64>> {
        match v {
            None | Some(Value::Null) => Some(None),
            Some(Value::Number(n)) => n.as_i64().map(Some),
            Some(Value::String(s)) if s.trim().is_empty() => Some(None),
            Some(Value::String(s)) => s.trim().parse().ok().map(Some),
            Some(_) => None,
        }
    }

    pub(super) fn bool(v: Option<&Value>) -> Option<Option<bool>> {
        match v {
            None | Some(Value::Null) => Some(None),
            Some(Value::Bool(b)) => Some(Some(*b)),
            Some(Value::String(s)) => match s.trim() {
                "true" => Some(Some(true)),
                "false" => Some(Some(false)),
                "" => Some(None),
                _ => None,
            },
            Some(_) => None,
        }
    }

    pub(super) fn currency(v: Option<&Value>) -> Option<Option<Currency>> {
        match v {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s.trim().is_empty() => Some(None),
            Some(Value::String(s)) => Currency::from_wire(s).ok().map(Some),
            Some(_) => None,
        }
    }

    pub(super) fn datetime(v: Option<&Value>) -> Option<Option<DateTime<Utc>>> {
        match v {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(de::parse_datetime(s)),
            Some(_) => None,
        }
    }

    /// An object member that the typed reader takes as a struct: absent or `null` is `None`.
    pub(super) fn object(v: Option<&Value>) -> Option<Option<&Map<String, Value>>> {
        match v {
            None | Some(Value::Null) => Some(None),
            Some(Value::Object(o)) => Some(Some(o)),
            Some(_) => None,
        }
    }

    /// A metadata object's reference entry (cloned: one small value), never the whole object.
    pub(super) fn reference(v: Option<&Value>, key: &str) -> Option<Option<Value>> {
        Some(object(v)?.and_then(|m| m.get(key)).cloned())
    }

    /// A member the mapping does not use but the typed reader checks is text-like.
    pub(super) fn text_like(v: Option<&Value>) -> bool {
        !matches!(v, Some(Value::Array(_) | Value::Object(_)))
    }
}

/// The [`Payload`] read from the parsed body in place; `None` to ask the typed reader.
fn fast_payload(r: &Resource<'_>) -> Option<Payload> {
    let id_ref = |v: Option<&Value>| -> Option<Option<PayloadRef>> {
        match fast::object(v)? {
            None => Some(None),
            Some(o) => Some(Some(PayloadRef {
                id: fast::string(o.get("id"))?,
            })),
        }
    };
    let checkout = match fast::object(r.get("checkout"))? {
        None => None,
        Some(c) => Some(PayloadCheckout {
            id: fast::string(c.get("id"))?,
            reference: fast::reference(c.get("metadata"), REFERENCE_KEY)?,
        }),
    };
    let payment = match fast::object(r.get("payment"))? {
        None => None,
        Some(p) => Some(PayloadPayment {
            id: fast::string(p.get("id"))?,
            paymentable: match fast::object(p.get("paymentable"))? {
                None => None,
                Some(a) => Some(PayloadPaymentable {
                    kind: fast::string(a.get("type"))?,
                    id: fast::string(a.get("id"))?,
                }),
            },
        }),
    };
    if !fast::text_like(r.get("event_type")) {
        return None;
    }
    Some(Payload {
        event_type: None,
        id: fast::string(r.get("id"))?,
        created_at: fast::datetime(r.get("created_at"))?,
        checkout,
        payment,
        amount_in_cents: fast::i64(r.get("amount_in_cents"))?,
        currency: fast::currency(r.get("currency"))?,
        failure_reason: fast::string(r.get("failure_reason"))?,
        suscription: id_ref(r.get("suscription"))?,
        subscription: id_ref(r.get("subscription"))?,
        connected: fast::bool(r.get("connected"))?,
        account_id: fast::string(r.get("account_id"))?,
        payment_intent: id_ref(r.get("payment_intent"))?,
        payment_intent_id: fast::string(r.get("payment_intent_id"))?,
        customer_refunded_amount_in_cents: fast::i64(r.get("customer_refunded_amount_in_cents"))?,
        checkout_id: fast::string(r.get("checkout_id"))?,
        reference: fast::reference(r.get("metadata"), REFERENCE_KEY)?,
    })
}

/// `{id}`: a reference to another object.
const ID_ONLY: &[(&str, Keep)] = &[("id", Keep::Whole)];
/// A metadata object: only the caller's reference.
const METADATA: &[(&str, Keep)] = &[(REFERENCE_KEY, Keep::Whole)];
const CHECKOUT: &[(&str, Keep)] = &[("id", Keep::Whole), ("metadata", Keep::Members(METADATA))];
const PAYMENTABLE: &[(&str, Keep)] = &[("type", Keep::Whole), ("id", Keep::Whole)];
const PAYMENT: &[(&str, Keep)] = &[("id", Keep::Whole), ("paymentable", Keep::Members(PAYMENTABLE))];

/// The members of a resource that the mapping reads: the event's name ([`event_name`]) and
/// every member of [`Payload`] (with what each nested struct reads).
macro_rules! resource_members {
    ($($extra:tt)*) => {
        &[
            ("event_type", Keep::Whole),
            ("type", Keep::Whole),
            ("event", Keep::Whole),
            ("id", Keep::Whole),
            ("created_at", Keep::Whole),
            ("checkout", Keep::Members(CHECKOUT)),
            ("payment", Keep::Members(PAYMENT)),
            ("amount_in_cents", Keep::Whole),
            ("currency", Keep::Whole),
            ("failure_reason", Keep::Whole),
            ("suscription", Keep::Members(ID_ONLY)),
            ("subscription", Keep::Members(ID_ONLY)),
            ("connected", Keep::Whole),
            ("account_id", Keep::Whole),
            ("payment_intent", Keep::Members(ID_ONLY)),
            ("payment_intent_id", Keep::Whole),
            ("customer_refunded_amount_in_cents", Keep::Whole),
            ("checkout_id", Keep::Whole),
            ("metadata", Keep::Members(METADATA)),
            $($extra)*
        ]
    };
}

/// A wrapper's `data`: a resource (its own `data` is never read).
const RESOURCE: &[(&str, Keep)] = resource_members!();
/// What normalizing reads of a body: a resource, or a wrapper with its resource in `data`.
const EVENT: &[(&str, Keep)] = resource_members!(("data", Keep::Members(RESOURCE)),);

/// Normalizes a verified payload. `msg_id` (the `svix-id`) becomes the event id.
///
/// The body is kept as it came ([`RawPayload`]); it is read once, keeping only the members the
/// mapping reads ([`EVENT`], by [`RawPayload::read_with`]): everything else, metadata of any size
/// included, costs its parse alone, and of a metadata object only the one key read is kept.
/// The few fields are then read from that by reference ([`Resource`], [`fast_payload`]). Only
/// a body the fast reader does not take as it is (a type error, a number where text is
/// expected…) goes through the typed reader, which gives the same values and the errors with
/// their JSON path: it reads the same members, so dropping the others changes neither.
pub(crate) fn to_event(msg_id: &str, body: &[u8]) -> Result<WebhookEvent> {
    normalize(msg_id, body, true)
}

/// [`to_event`], with the fast reader or (`fast == false`, tests) the typed reader alone.
fn normalize(msg_id: &str, body: &[u8], fast: bool) -> Result<WebhookEvent> {
    // One UTF-8 check of the whole body, then the `str` parser, which skips the per-string
    // checks of the byte parser: the same documents are accepted, 10–15% faster.
    let text = std::str::from_utf8(body).map_err(|e| malformed(format!("not JSON: not UTF-8 ({e})")))?;
    let (raw, read) =
        RawPayload::read_with(text, Keep::Members(EVENT)).map_err(|e| malformed(format!("not JSON: {e}")))?;
    let Some(outer) = read.as_object() else {
        return Err(malformed("not a JSON object"));
    };
    let view = Resource::of(outer);
    let event_type = event_name(outer)
        .or_else(|| view.data.and_then(|_| view.event_name()))
        .ok_or_else(|| malformed("no `event_type` (nor a dotted `type`)"))?;
    let payload = match fast.then(|| fast_payload(&view)).flatten() {
        Some(payload) => payload,
        None => {
            let (inner, prefix) = resource(outer);
            serde_path_to_error::deserialize(Value::Object(inner))
                .map_err(|e| malformed(format!("at `{prefix}{}`: {}", e.path(), e.inner())))?
        }
    };
    let kind = convert::event_kind(&event_type);
    // `payload` is this event's alone: its text moves into the event rather than being copied.
    let mut payload = payload;
    let payment = payment(&kind, &mut payload);
    let paid_subscription = payload
        .payment
        .as_mut()
        .and_then(|p| p.paymentable.as_mut())
        .filter(|p| p.kind.as_deref() == Some("Subscription"))
        .and_then(|p| non_empty(p.id.take()));
    let subscription_id = if event_type.starts_with("subscription.") {
        non_empty(payload.id.take()).or(paid_subscription)
    } else {
        paid_subscription.or_else(|| {
            let setup = payload.suscription.as_mut().or(payload.subscription.as_mut());
            setup.and_then(|s| non_empty(s.id.take()))
        })
    };
    let checkout_id = payload
        .checkout
        .as_mut()
        .and_then(|c| non_empty(c.id.take()))
        .or_else(|| non_empty(payload.checkout_id.take()));
    let merchant_reference = payload
        .checkout
        .as_ref()
        .and_then(|c| c.reference.as_ref())
        .or(payload.reference.as_ref())
        .and_then(Value::as_str)
        .map(str::to_owned);

    let subscription_status = convert::event_subscription_status(&kind, subscription_id.is_some());
    let mut event = WebhookEvent::new(GATEWAY, EventId::new(msg_id), kind, event_type, raw);
    event.occurred_at = payload.created_at;
    event.subscription_id = subscription_id.map(SubscriptionId::new);
    event.checkout_id = checkout_id.map(CheckoutId::new);
    event.merchant_reference = merchant_reference;
    event.subscription_status = subscription_status;
    event.connected_account = if payload.connected == Some(true) {
        non_empty(payload.account_id.take())
    } else {
        None
    };
    event.payment = payment;
    Ok(event)
}

/// The payment of a payment or refund event.
///
/// **Identity.** `Payment.id` is the `pa_…` id of Recurrente's payment record, read from the
/// body's `payment.id`, not the event's own top-level `id`, which names the per-family intent
/// (`pa_…` for cards, `ba_…` for bank transfers, `in_…` for unified `intent.*` bodies). Every
/// payment goes out twice, once in its legacy form and once as `intent.*`, as separate Svix
/// messages (so two event ids); both carry the same `payment` object, so both normalize to the
/// same `Payment.id` and an app or the ledger (which keeps payments once per
/// `(gateway, payment id)`) records the charge once. Only a body without a `payment.id` falls
/// back to its own `id`. For `refund.create`, the id is the refunded payment's
/// (`payment_intent.id` or `payment_intent_id`), so the refund lands on the same record.
fn payment(kind: &EventKind, p: &mut Payload) -> Option<Payment> {
    let status = match kind {
        EventKind::PaymentSucceeded => PaymentStatus::Succeeded,
        EventKind::PaymentFailed => PaymentStatus::Failed,
        EventKind::PaymentPending => PaymentStatus::Pending,
        EventKind::PaymentRefunded => PaymentStatus::Refunded,
        _ => return None,
    };
    let mut payment = Payment::new(status);
    let id = if *kind == EventKind::PaymentRefunded {
        non_empty(p.payment_intent.as_mut().and_then(|r| r.id.take())).or_else(|| non_empty(p.payment_intent_id.take()))
    } else {
        non_empty(p.payment.as_mut().and_then(|pay| pay.id.take())).or_else(|| non_empty(p.id.take()))
    };
    payment.id = id.map(PaymentId::new);
    let cents = if *kind == EventKind::PaymentRefunded {
        p.customer_refunded_amount_in_cents.or(p.amount_in_cents)
    } else {
        p.amount_in_cents
    };
    payment.amount = match (cents, p.currency) {
        (Some(c), Some(cur)) => Money::from_minor_units(c, cur).ok(),
        _ => None,
    };
    payment.failure_reason = if *kind == EventKind::PaymentFailed {
        non_empty(p.failure_reason.take())
    } else {
        None
    };
    Some(payment)
}

/// A bank transfer's references, as the payer's bank sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BankTransferDetails {
    /// The local interbank number (an ACH trace or SPEI reference for USD deposits, an IMAD for
    /// wires). `None` while the transfer is pending, or when the event has none.
    pub bank_reference: Option<String>,
    /// The payer's free text. `None` while pending, or when the event has none.
    pub sender_comment: Option<String>,
}

/// Reads `bank_reference` and `sender_comment` from an event's raw payload
/// ([`WebhookEvent::raw`]): top level in legacy `bank_transfer_intent.*` bodies, inside
/// `details` in unified `intent.*` bodies of type `bank_transfer` (and in
/// `GET /api/intents/{id}`), either way also inside a `data` wrapper. Both are `null` while a
/// transfer is pending; an event without them gives the default (both `None`).
pub fn bank_transfer_details(raw: &RawPayload) -> BankTransferDetails {
    let raw = raw.value().unwrap_or_default();
    let Some(obj) = raw.as_object() else {
        return BankTransferDetails::default();
    };
    let body = Resource::of(obj);
    let text = |key: &str| {
        let read = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned)
        };
        read(body.get(key)).or_else(|| {
            body.get("details")
                .and_then(Value::as_object)
                .and_then(|d| read(d.get(key)))
        })
    };
    BankTransferDetails {
        bank_reference: text("bank_reference"),
        sender_comment: text("sender_comment"),
    }
}

/// Whether an event's raw payload says it is live (`true`) or test (`false`) mode: its
/// `live_mode`, else its checkout's. `None` when the payload does not say: sources disagree on
/// whether test mode sends webhooks at all, so never require it.
pub fn live_mode(raw: &RawPayload) -> Option<bool> {
    let raw = raw.value().ok()?;
    let obj = raw.as_object()?;
    let body = Resource::of(obj);
    let flag = |v: Option<&Value>| match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    };
    flag(body.get("live_mode")).or_else(|| flag(body.get("checkout").and_then(|c| c.get("live_mode"))))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use paycycle_core::{FixedClock, SubscriptionStatus};
    use proptest::prelude::*;

    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const OTHER: &str = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldCBrZXk=";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(ts: i64) -> Arc<dyn Clock> {
        Arc::new(FixedClock(Utc.timestamp_opt(ts, 0).unwrap()))
    }

    fn verifier(secrets: &[&str], now: i64) -> RecurrenteWebhookVerifier {
        RecurrenteWebhookVerifier::new(secrets).unwrap().with_clock(at(now))
    }

    fn hdrs(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn svix(sig: &str) -> HeaderMap {
        hdrs(&[
            (headers::SVIX_ID, ID),
            (headers::SVIX_TIMESTAMP, &TS.to_string()),
            (headers::SVIX_SIGNATURE, sig),
        ])
    }

    fn reason(r: Result<VerifiedMessage>) -> WebhookError {
        match r {
            Err(Error::Webhook { gateway, reason }) => {
                assert_eq!(gateway, GatewayId::RECURRENTE);
                reason
            }
            other => panic!("expected a webhook error, got {other:?}"),
        }
    }

    #[test]
    fn svix_test_vector() {
        assert_eq!(sign(SECRET, ID, TS, BODY).unwrap(), EXPECTED);
        let m = verifier(&[SECRET], TS).verify(&svix(EXPECTED), BODY).unwrap();
        assert_eq!(m.id, ID);
        assert_eq!(m.timestamp.timestamp(), TS);
        // The prefix is optional, as in Svix's libraries.
        assert_eq!(
            sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ID, TS, BODY).unwrap(),
            EXPECTED
        );
    }

    #[test]
    fn timestamps_outside_five_minutes_are_refused_both_ways() {
        let v = |now| verifier(&[SECRET], now).verify(&svix(EXPECTED), BODY);
        assert!(v(TS + 300).is_ok());
        assert!(v(TS - 300).is_ok());
        assert_eq!(
            reason(v(TS + 301)),
            WebhookError::StaleTimestamp {
                age_secs: 301,
                tolerance_secs: 300
            }
        );
        assert_eq!(
            reason(v(TS - 301)),
            WebhookError::FutureTimestamp {
                ahead_secs: 301,
                tolerance_secs: 300
            }
        );
        let strict = verifier(&[SECRET], TS + 10).with_tolerance(Duration::from_secs(5));
        assert!(matches!(
            reason(strict.verify(&svix(EXPECTED), BODY)),
            WebhookError::StaleTimestamp { .. }
        ));
    }

    #[test]
    fn tampered_body_and_wrong_secret_are_bad_signatures() {
        assert_eq!(
            reason(verifier(&[SECRET], TS).verify(&svix(EXPECTED), br#"{"test": 2432232315}"#)),
            WebhookError::BadSignature
        );
        assert_eq!(
            reason(verifier(&[OTHER], TS).verify(&svix(EXPECTED), BODY)),
            WebhookError::BadSignature
        );
        // A signature over another id or timestamp does not carry over.
        let mut h = svix(EXPECTED);
        h.insert(headers::SVIX_ID, HeaderValue::from_static("msg_other"));
        assert_eq!(
            reason(verifier(&[SECRET], TS).verify(&h, BODY)),
            WebhookError::BadSignature
        );
        let mut h = svix(EXPECTED);
        h.insert(
            headers::SVIX_TIMESTAMP,
            HeaderValue::from_str(&(TS + 1).to_string()).unwrap(),
        );
        assert_eq!(
            reason(verifier(&[SECRET], TS).verify(&h, BODY)),
            WebhookError::BadSignature
        );
    }

    #[test]
    fn missing_and_malformed_headers() {
        let v = verifier(&[SECRET], TS);
        for missing in [headers::SVIX_ID, headers::SVIX_TIMESTAMP, headers::SVIX_SIGNATURE] {
            let mut h = svix(EXPECTED);
            h.remove(missing);
            assert_eq!(
                reason(v.verify(&h, BODY)),
                WebhookError::MissingHeader(missing.to_owned())
            );
        }
        let mut h = svix(EXPECTED);
        h.insert(headers::SVIX_TIMESTAMP, HeaderValue::from_static("yesterday"));
        assert!(matches!(
            reason(v.verify(&h, BODY)),
            WebhookError::MalformedHeader { .. }
        ));
        let mut h = svix(EXPECTED);
        h.insert(headers::SVIX_ID, HeaderValue::from_bytes(b"msg_\xff").unwrap());
        assert!(matches!(
            reason(v.verify(&h, BODY)),
            WebhookError::MalformedHeader { .. }
        ));
        // Garbage entries are ignored, not fatal; with no good entry the signature is bad.
        assert_eq!(
            reason(v.verify(&svix("v1 v1,@@@ nonsense ,"), BODY)),
            WebhookError::BadSignature
        );
    }

    #[test]
    fn any_matching_v1_entry_is_accepted_and_other_versions_ignored() {
        let v = verifier(&[SECRET], TS);
        let wrong = sign(OTHER, ID, TS, BODY).unwrap();
        assert!(v.verify(&svix(&format!("{wrong} {EXPECTED}")), BODY).is_ok());
        assert!(v.verify(&svix(&format!("v1a,abc {EXPECTED} v2,xyz")), BODY).is_ok());
        // The right signature under another version label does not count.
        let as_v2 = EXPECTED.replacen("v1,", "v2,", 1);
        assert_eq!(reason(v.verify(&svix(&as_v2), BODY)), WebhookError::BadSignature);
    }

    #[test]
    fn rotation_accepts_old_and_new_secrets() {
        let both = verifier(&[OTHER, SECRET], TS);
        assert!(both.verify(&svix(EXPECTED), BODY).is_ok());
        let by_new = sign(OTHER, ID, TS, BODY).unwrap();
        assert!(both.verify(&svix(&by_new), BODY).is_ok());
        assert_eq!(
            reason(verifier(&[SECRET], TS).verify(&svix(&by_new), BODY)),
            WebhookError::BadSignature
        );
    }

    #[test]
    fn unbranded_headers_are_accepted() {
        let h = hdrs(&[
            (headers::WEBHOOK_ID, ID),
            (headers::WEBHOOK_TIMESTAMP, &TS.to_string()),
            (headers::WEBHOOK_SIGNATURE, EXPECTED),
        ]);
        assert_eq!(verifier(&[SECRET], TS).verify(&h, BODY).unwrap().id, ID);
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        assert!(matches!(
            RecurrenteWebhookVerifier::new(Vec::<String>::new()),
            Err(Error::Webhook {
                reason: WebhookError::InvalidSecret(_),
                ..
            })
        ));
        for bad in ["whsec_", "whsec_***", ""] {
            match WebhookSecret::parse(bad) {
                Err(Error::Webhook {
                    reason: WebhookError::InvalidSecret(msg),
                    ..
                }) => assert!(!msg.contains("***")),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let v = verifier(&[SECRET], TS);
        let printed = format!("{v:?} {:?}", WebhookSecret::parse(SECRET).unwrap());
        assert!(!printed.contains("MfKQ9r8G"), "{printed}");
        let h = signed_headers(SECRET, ID, TS, BODY).unwrap();
        assert_eq!(h[headers::SVIX_SIGNATURE], EXPECTED);
        assert_eq!(h[headers::SVIX_TIMESTAMP], "1614265330");
        assert!(signed_headers(SECRET, "bad\nid", TS, BODY).is_err());
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        for ts in [i64::MIN, i64::MAX, -1] {
            let sig = sign(SECRET, ID, ts, BODY).unwrap();
            let h = hdrs(&[
                (headers::SVIX_ID, ID),
                (headers::SVIX_TIMESTAMP, &ts.to_string()),
                (headers::SVIX_SIGNATURE, &sig),
            ]);
            assert!(verifier(&[SECRET], TS).verify(&h, BODY).is_err());
        }
    }

    #[test]
    fn malformed_bodies_are_refused_after_verification() {
        let v = verifier(&[SECRET], TS);
        for body in [
            &b"not json"[..],
            b"{\"event_type\":\"refund.create\",\"id\":\"\xff\"}",
            b"[1,2]",
            br#"{"id":"x"}"#,
            br#"{"event_type":"payment_intent.succeeded","checkout":7}"#,
        ] {
            let h = signed_headers(SECRET, ID, TS, body).unwrap();
            match v.verify_event(&h, body) {
                Err(Error::Webhook {
                    reason: WebhookError::Malformed(why),
                    ..
                }) => assert!(!why.is_empty()),
                other => panic!("{other:?}"),
            }
        }
        let body = br#"{"event_type":"payment_intent.succeeded","checkout":7}"#;
        let h = signed_headers(SECRET, ID, TS, body).unwrap();
        match v.verify_event(&h, body) {
            Err(Error::Webhook {
                reason: WebhookError::Malformed(why),
                ..
            }) => assert!(why.contains("checkout"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_events_keep_their_type_and_payload() {
        let body = br#"{"event_type":"intent.weird","id":"x_1","created_at":"2024-01-01T00:00:00Z"}"#;
        let e = to_event("msg_1", body).unwrap();
        assert_eq!(e.kind, EventKind::Unknown("intent.weird".into()));
        assert_eq!(e.provider_type, "intent.weird");
        assert_eq!(e.raw.value().unwrap()["id"], "x_1");
        assert!(e.payment.is_none());
        let e = to_event("msg_2", br#"{"event_type":"subscription.update","id":"su_9"}"#).unwrap();
        assert_eq!(e.kind, EventKind::SubscriptionUpdated);
        assert_eq!(e.subscription_id.unwrap().as_str(), "su_9");
        assert_eq!(e.subscription_status, None, "an update implies no status");
        let e = to_event("msg_3", br#"{"event_type":"transfer.sent","id":"tr_1"}"#).unwrap();
        assert_eq!(e.kind, EventKind::Unknown("transfer.sent".into()));
        assert_eq!(e.raw.value().unwrap()["id"], "tr_1");
    }

    #[test]
    fn envelope_rule() {
        // The name: `event_type`, else a dotted `type`, else a dotted `event`.
        let e = to_event(
            "m",
            br#"{"type":"setup_intent.succeeded","id":"pa_1","status":"succeeded"}"#,
        )
        .unwrap();
        assert_eq!(e.kind, EventKind::SetupSucceeded);
        let e = to_event("m", br#"{"type":"payment","event_type":"intent.pending","id":"in_1"}"#).unwrap();
        assert_eq!(e.kind, EventKind::PaymentPending);
        assert_eq!(e.provider_type, "intent.pending");
        let e = to_event("m", br#"{"event":"subscription.cancel","data":{"id":"su_1"}}"#).unwrap();
        assert_eq!(e.kind, EventKind::SubscriptionCancelled);
        assert_eq!(e.subscription_id.unwrap().as_str(), "su_1");
        // An undotted `type` alone is no name.
        assert!(to_event("m", br#"{"type":"payment","id":"in_1"}"#).is_err());
        // `data` is unwrapped only when there is no top-level id; the wrapper fills in the rest.
        let e = to_event(
            "m",
            br#"{"type":"subscription.reactivate","created_at":"2026-01-02T03:04:05Z","data":{"id":"su_2"}}"#,
        )
        .unwrap();
        assert_eq!(e.kind, EventKind::SubscriptionReactivated);
        assert_eq!(e.subscription_id.unwrap().as_str(), "su_2");
        assert_eq!(e.subscription_status, Some(SubscriptionStatus::Active));
        assert_eq!(e.occurred_at.unwrap().to_rfc3339(), "2026-01-02T03:04:05+00:00");
        let e = to_event(
            "m",
            br#"{"event_type":"subscription.cancel","id":"su_3","data":{"id":"su_x"}}"#,
        )
        .unwrap();
        assert_eq!(e.subscription_id.unwrap().as_str(), "su_3");
        // A type error inside `data` names its full path.
        match to_event("m", br#"{"event_type":"intent.failed","data":{"checkout":7}}"#) {
            Err(Error::Webhook {
                reason: WebhookError::Malformed(why),
                ..
            }) => assert!(why.contains("data.checkout"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn members_not_read_are_kept_whole_even_when_serde_json_cannot_build_them() {
        let body = r#"{"event_type":"payment_intent.succeeded","id":"pa_1","product":{"n":1e400}} "#;
        let e = to_event("m", body.as_bytes()).unwrap();
        assert_eq!(e.raw.json(), body.trim_end(), "the body, but for the space after it");
        assert!(e.raw.value().is_err(), "1e400 is checked JSON that a Value cannot hold");
        // In a member the mapping reads, it is refused, with the typed reader's message.
        let body = br#"{"event_type":"payment_intent.succeeded","id":"pa_1","amount_in_cents":1e400}"#;
        assert!(matches!(
            to_event("m", body),
            Err(Error::Webhook {
                reason: WebhookError::Malformed(_),
                ..
            })
        ));
    }

    #[test]
    fn bank_references_and_live_mode_are_read_from_the_raw_payload() {
        let legacy = RawPayload::from(serde_json::json!({"event_type":"bank_transfer_intent.succeeded",
            "bank_reference":"123456789","sender_comment":"factura 7","live_mode":false}));
        let d = bank_transfer_details(&legacy);
        assert_eq!(d.bank_reference.as_deref(), Some("123456789"));
        assert_eq!(d.sender_comment.as_deref(), Some("factura 7"));
        assert_eq!(live_mode(&legacy), Some(false));
        let unified = RawPayload::from(serde_json::json!({"event_type":"intent.pending","type":"bank_transfer",
            "details":{"bank_reference":null,"sender_comment":null},"checkout":{"live_mode":true}}));
        assert_eq!(bank_transfer_details(&unified), BankTransferDetails::default());
        assert_eq!(live_mode(&unified), Some(true));
        let wrapped = RawPayload::from(
            serde_json::json!({"type":"intent.succeeded","data":{"details":{"bank_reference":"IMAD1"}}}),
        );
        assert_eq!(bank_transfer_details(&wrapped).bank_reference.as_deref(), Some("IMAD1"));
        assert_eq!(live_mode(&wrapped), None);
        assert_eq!(live_mode(&RawPayload::from(serde_json::json!([1]))), None);
    }

    #[test]
    fn connected_accounts_and_references() {
        let body = br#"{"event_type":"payment_intent.succeeded","id":"pa_1","connected":true,"account_id":"ac_123456",
            "amount_in_cents":"2500","currency":"USD",
            "checkout":{"id":"ch_1","metadata":{"paycycle_reference":"order-42"}}}"#;
        let e = to_event("msg_1", body).unwrap();
        assert_eq!(e.connected_account.as_deref(), Some("ac_123456"));
        assert_eq!(e.merchant_reference.as_deref(), Some("order-42"));
        assert_eq!(e.checkout_id.unwrap().as_str(), "ch_1");
        let p = e.payment.unwrap();
        assert_eq!(p.amount.unwrap().to_string(), "25.00 USD");
        assert_eq!(p.id.unwrap().as_str(), "pa_1");
        let e = to_event("msg_1", br#"{"event_type":"x","connected":false,"account_id":"ac_1"}"#).unwrap();
        assert_eq!(e.connected_account, None);
    }

    #[test]
    fn setup_intents_accept_both_spellings() {
        for key in ["suscription", "subscription"] {
            let body = format!(r#"{{"event_type":"setup_intent.cancelled","{key}":{{"id":"su_1"}}}}"#);
            let e = to_event("m", body.as_bytes()).unwrap();
            assert_eq!(e.kind, EventKind::SetupFailed);
            assert_eq!(e.subscription_id.unwrap().as_str(), "su_1");
            assert_eq!(e.subscription_status, Some(SubscriptionStatus::Failed));
        }
        let e = to_event("m", br#"{"event_type":"setup_intent.succeeded"}"#).unwrap();
        assert_eq!(
            e.subscription_status, None,
            "a card saved without a subscription implies no status"
        );
    }

    /// A body's members, each absent or one of the shapes a provider (or an attacker) may send.
    fn member_value() -> impl Strategy<Value = Option<Value>> {
        use serde_json::json;
        prop_oneof![
            Just(None),
            Just(Some(Value::Null)),
            Just(Some(json!("su_1"))),
            Just(Some(json!(""))),
            Just(Some(json!(" "))),
            Just(Some(json!("2500"))),
            Just(Some(json!("25.5"))),
            Just(Some(json!("true"))),
            Just(Some(json!("GTQ"))),
            Just(Some(json!("gtq"))),
            Just(Some(json!("2024-02-16T03:01:13.260Z"))),
            Just(Some(json!(2500))),
            Just(Some(json!(25.0))),
            Just(Some(json!(25.5))),
            Just(Some(json!(u64::MAX))),
            Just(Some(json!(true))),
            Just(Some(json!([1, "a"]))),
            Just(Some(
                json!({"id": "ch_1", "metadata": {"paycycle_reference": "order-1"}})
            )),
            Just(Some(json!({"id": 7, "metadata": {"paycycle_reference": 7}}))),
            Just(Some(json!({"id": null, "metadata": null}))),
            Just(Some(json!({"metadata": [1]}))),
            Just(Some(json!({"paycycle_reference": "order-2", "k": {"deep": [1, 2]}}))),
            Just(Some(
                json!({"id": "pa_1", "paymentable": {"type": "Subscription", "id": "su_2"}})
            )),
            Just(Some(
                json!({"id": "pa_1", "paymentable": {"type": "Subscription", "id": 5}})
            )),
            Just(Some(json!({"id": "pa_1", "paymentable": ["Subscription", "su_3"]}))),
        ]
    }

    const MEMBERS: [&str; 18] = [
        "id",
        "created_at",
        "checkout",
        "payment",
        "amount_in_cents",
        "currency",
        "failure_reason",
        "suscription",
        "subscription",
        "connected",
        "account_id",
        "payment_intent",
        "payment_intent_id",
        "customer_refunded_amount_in_cents",
        "checkout_id",
        "metadata",
        "data",
        "event_type",
    ];

    fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
        let names = prop_oneof![
            Just("payment_intent.succeeded"),
            Just("payment_intent.failed"),
            Just("refund.create"),
            Just("subscription.cancel"),
            Just("setup_intent.cancelled"),
        ];
        (
            names,
            proptest::collection::vec(member_value(), MEMBERS.len()),
            proptest::collection::vec(member_value(), MEMBERS.len()),
            any::<bool>(),
        )
            .prop_map(|(name, outer, inner, wrapped)| {
                let object = |values: &[Option<Value>]| {
                    let mut m = serde_json::Map::new();
                    for (key, v) in MEMBERS.iter().zip(values) {
                        if let Some(v) = v {
                            m.insert((*key).to_owned(), v.clone());
                        }
                    }
                    m
                };
                let mut outer = object(&outer);
                if !outer.contains_key("event_type") || outer["event_type"].is_null() {
                    outer.insert("type".into(), Value::from(name));
                }
                if wrapped {
                    outer.remove("id");
                    outer.insert("data".into(), Value::Object(object(&inner)));
                }
                serde_json::to_vec(&outer).unwrap()
            })
    }

    #[test]
    fn the_raw_payload_stays_whole_and_large_metadata_is_read_in_place() {
        let pad: String = (0..2000).map(|i| format!(r#","k{i}":"{}""#, "x".repeat(24))).collect();
        let body = format!(
            r#"{{"event_type":"payment_intent.succeeded","id":"pa_1","checkout":{{"id":"ch_1","metadata":{{"paycycle_reference":"order-9"{pad}}}}},"product":{{"metadata":{{"a":1{pad}}}}}}}"#
        );
        assert!(body.len() > 64 * 1024);
        let e = to_event("m", body.as_bytes()).unwrap();
        assert_eq!(e.merchant_reference.as_deref(), Some("order-9"));
        assert!(e.raw.json() == body, "raw is the whole body, byte for byte");
        let typed = normalize("m", body.as_bytes(), false).unwrap();
        assert!(
            format!("{e:?}") == format!("{typed:?}"),
            "the fast and typed readers agree"
        );
    }

    proptest! {
        #[test]
        fn the_fast_reader_agrees_with_the_typed_reader(body in body_strategy()) {
            let fast = format!("{:?}", normalize("m", &body, true));
            let typed = format!("{:?}", normalize("m", &body, false));
            prop_assert_eq!(fast, typed, "{}", String::from_utf8_lossy(&body));
        }

        #[test]
        fn sign_then_verify_round_trips(body in proptest::collection::vec(any::<u8>(), 0..512),
                                        id in "[a-zA-Z0-9_]{1,40}", skew in -300i64..=300) {
            let sig = sign(SECRET, &id, TS, &body).unwrap();
            let h = hdrs(&[(headers::SVIX_ID, &id), (headers::SVIX_TIMESTAMP, &TS.to_string()), (headers::SVIX_SIGNATURE, &sig)]);
            prop_assert!(verifier(&[SECRET], TS + skew).verify(&h, &body).is_ok());
            let mut tampered = body.clone();
            tampered.push(b' ');
            prop_assert!(verifier(&[SECRET], TS).verify(&h, &tampered).is_err());
        }
    }
}

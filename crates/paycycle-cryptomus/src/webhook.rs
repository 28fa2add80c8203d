//! Verifying and normalizing Cryptomus webhooks.
//!
//! Cryptomus signs **inside the body**: the JSON carries a `sign` member computed over the rest
//! of the body re-encoded as PHP's `json_encode` does (see [`crate::sign`]). No header is
//! involved. Webhooks are also said to come from `91.227.144.54`; an IP allow-list is optional
//! defence in depth, never a substitute for checking the sign.
//!
//! Two body shapes are accepted, because what Cryptomus sends for a recurrence's charges is not
//! documented:
//! - **payment-shaped**: `type` is `payment` or `wallet` (or, without `type`, the body has payment
//!   fields: `payment_amount`, `merchant_amount`, `is_final`, `txid`); read as a
//!   [`PaymentWebhook`];
//! - **recurrence-shaped**: a body with a string `uuid` and no `type`, or with a `type` naming a
//!   recurrence; read as a [`Recurrence`].
//!
//! Any other correctly signed body (another `type`, no `uuid`) is kept as an
//! [`EventKind::Unknown`] event with its raw JSON. Unknown statuses are never rejected: they
//! become `Unknown(status)`. What is refused, after the sign checked out, is a known shape with
//! a member that cannot be read (an amount that is not a number): money is exact or an error.

use std::fmt;

use paycycle_core::{
    CheckoutId, Currency, Error, EventId, EventKind, GatewayId, Money, Payment, PaymentId, PaymentStatus, RawPayload,
    Result, SubscriptionId, SubscriptionStatus, WebhookError, WebhookEvent,
};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize as _;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Redacted;
use crate::convert;
use crate::php_json::{self, Build};
use crate::wire::{PaymentWebhook, Recurrence, de as wire_de};

const GATEWAY: GatewayId = GatewayId::CRYPTOMUS;

/// Members only payment webhooks have.
const PAYMENT_FIELDS: [&str; 4] = ["payment_amount", "merchant_amount", "is_final", "txid"];

/// Verifies Cryptomus webhooks with the payment key and turns them into [`WebhookEvent`]s.
///
/// ```
/// use paycycle_core::EventKind;
/// use paycycle_cryptomus::{CryptomusWebhookVerifier, sign};
/// // What Cryptomus would send (here signed locally with the same key).
/// let body = sign::sign_webhook(
///     br#"{"type":"payment","uuid":"p-1","order_id":"order-42","amount":"15","currency":"USD","status":"paid"}"#,
///     "payment-key",
/// )?;
/// let verifier = CryptomusWebhookVerifier::new("payment-key".into());
/// let event = verifier.verify(body.as_bytes())?;
/// assert_eq!(event.kind, EventKind::PaymentSucceeded);
/// assert_eq!(event.merchant_reference.as_deref(), Some("order-42"));
/// assert!(verifier.verify(body.replace("15", "16").as_bytes()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CryptomusWebhookVerifier {
    payment_key: SecretString,
}

impl fmt::Debug for CryptomusWebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptomusWebhookVerifier")
            .field("payment_key", &Redacted)
            .finish()
    }
}

impl CryptomusWebhookVerifier {
    /// A verifier for webhooks signed with this **payment** key.
    pub fn new(payment_key: SecretString) -> Self {
        CryptomusWebhookVerifier { payment_key }
    }

    /// Checks the body's `sign` (in constant time) and normalizes the webhook.
    ///
    /// `body` must be the raw bytes as received. The event id is
    /// `cryptomus:` + hex SHA-256 of the body's `uuid`, `status` and `sign` (each prefixed by
    /// its length as a big-endian `u64`): the same for every redelivery of the same webhook,
    /// so it can be used to drop duplicates.
    ///
    /// # Errors
    /// [`Error::Webhook`] with [`WebhookError::BadSignature`] (tampered body, wrong key),
    /// [`WebhookError::MissingSignature`], [`WebhookError::Malformed`] (not a JSON object, or
    /// a member that cannot be read, e.g. an amount that is not a number), or
    /// [`WebhookError::InvalidSecret`] when the key is empty.
    pub fn verify(&self, body: &[u8]) -> Result<WebhookEvent> {
        let key = self.payment_key.expose_secret();
        if key.is_empty() {
            return Err(reject(WebhookError::InvalidSecret("the payment key is empty".into())));
        }
        // One pass over the body gives what Cryptomus hashed (the body without its top-level
        // `sign`, re-encoded as PHP does; the ranges already in PHP's form are hashed in place)
        // and the members the mapping reads as a `Value`. Same checks and errors as
        // `sign::verify_webhook_sign` followed by reading those members with serde_json.
        let parsed = php_json::parse_object_without(body, "sign", Build::Members(MEMBERS))
            .map_err(|e| reject(WebhookError::Malformed(e.to_string())))?;
        let given = parsed
            .removed
            .as_deref()
            .ok_or_else(|| reject(WebhookError::MissingSignature))?;
        let expected = webhook_sign(parsed.php.chunks(), key);
        // As `sign::signatures_match`: exact (lowercase hex), in constant time.
        if !(given.len() == expected.len() && bool::from(expected.ct_eq(given.as_bytes()))) {
            return Err(reject(WebhookError::BadSignature));
        }
        let read = parsed.value.map_err(|e| reject(WebhookError::Malformed(e)))?;
        // The parser accepted the body, so it is UTF-8 JSON (serde_json's too: the parser is
        // stricter, see `php_json`); the event keeps it as it came.
        let text = match parsed.text {
            Some(text) => text,
            None => std::str::from_utf8(body).map_err(|e| reject(WebhookError::Malformed(e.to_string())))?,
        };
        let raw = RawPayload::from_checked(text.to_owned());
        let Some(object) = read.as_object() else {
            return Err(reject(WebhookError::Malformed("the body is not a JSON object".into())));
        };
        let id = event_id(object);
        let status = text_of(object, "status");
        match Shape::of(object) {
            Shape::Payment => payment_event(id, status, &read, raw),
            Shape::Recurrence => recurrence_event(id, status, raw),
            Shape::Other(kind) => {
                let order_id = text_of(object, "order_id");
                let provider_type = status.unwrap_or(kind);
                let mut event = WebhookEvent::new(
                    GATEWAY,
                    id,
                    EventKind::Unknown(provider_type.clone()),
                    provider_type,
                    raw,
                );
                event.merchant_reference = order_id;
                Ok(event)
            }
        }
    }
}

/// The members normalizing reads, built by the parser: [`Shape::of`]'s, [`event_id`]'s (with
/// `sign`, the removed member, always there), `status`, `order_id`, and every member
/// [`PaymentView`] reads.
const MEMBERS: &[&str] = &[
    "type",
    "uuid",
    "status",
    "order_id",
    "payment_amount",
    "merchant_amount",
    "is_final",
    "txid",
    "amount",
    "payment_amount_usd",
    "commission",
    "from",
    "wallet_address_uuid",
    "network",
    "currency",
    "payer_currency",
];

fn reject(reason: WebhookError) -> Error {
    Error::webhook(GATEWAY, reason)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `md5_hex(base64(TEXT) + key)` (see [`crate::sign::request_sign`]) where `TEXT` is the
/// concatenation of `chunks`: base64 is written a block at a time into a buffer on the stack
/// and fed to md5 as it goes, never as a whole string.
fn webhook_sign<'a>(chunks: impl Iterator<Item = &'a [u8]>, key: &str) -> [u8; 32] {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use md5::Md5;

    /// Input bytes per block: a multiple of 3, so that blocks encode without padding.
    const BLOCK: usize = 3 * 1024;
    let mut md5 = Md5::new();
    let mut encoded = [0u8; BLOCK / 3 * 4];
    let mut encode = |md5: &mut Md5, input: &[u8]| {
        // `encoded` holds the base64 of a whole block, so this cannot fail.
        if let Ok(n) = STANDARD.encode_slice(input, &mut encoded) {
            md5.update(&encoded[..n]);
        }
    };
    let mut staged = [0u8; BLOCK];
    let mut n = 0;
    for mut chunk in chunks {
        if n > 0 {
            let take = chunk.len().min(BLOCK - n);
            staged[n..n + take].copy_from_slice(&chunk[..take]);
            n += take;
            chunk = &chunk[take..];
            if n < BLOCK {
                continue;
            }
            encode(&mut md5, &staged);
        }
        let whole = chunk.len() - chunk.len() % BLOCK;
        for block in chunk[..whole].chunks_exact(BLOCK) {
            encode(&mut md5, block);
        }
        let rest = &chunk[whole..];
        staged[..rest.len()].copy_from_slice(rest);
        n = rest.len();
    }
    encode(&mut md5, &staged[..n]);
    md5.update(key.as_bytes());
    let mut hex = [0u8; 32];
    for (i, b) in md5.finalize().iter().enumerate() {
        hex[2 * i] = HEX[usize::from(b >> 4)];
        hex[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
    hex
}

enum Shape {
    Payment,
    Recurrence,
    Other(String),
}

impl Shape {
    fn of(object: &Map<String, Value>) -> Shape {
        match object.get("type").and_then(Value::as_str) {
            Some("payment" | "wallet") => Shape::Payment,
            Some(t) if t.to_ascii_lowercase().contains("recurr") => Shape::Recurrence,
            Some(t) => Shape::Other(t.to_owned()),
            None if PAYMENT_FIELDS.iter().any(|f| object.contains_key(*f)) => Shape::Payment,
            None if object.get("uuid").is_some_and(Value::is_string) => Shape::Recurrence,
            None => Shape::Other(String::new()),
        }
    }
}

/// A member as text: strings as they are, other values as JSON, absent or `null` as `None`.
fn text_of(object: &Map<String, Value>, key: &str) -> Option<String> {
    match object.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `cryptomus:` + hex SHA-256 of the length-prefixed `uuid`, `status` and `sign`.
fn event_id(object: &Map<String, Value>) -> EventId {
    let mut h = Sha256::new();
    for key in ["uuid", "status", "sign"] {
        // As `text`, without copying the strings.
        let other;
        let v = match object.get(key) {
            None | Some(Value::Null) => "",
            Some(Value::String(s)) => s,
            Some(v) => {
                other = v.to_string();
                &other
            }
        };
        h.update((v.len() as u64).to_be_bytes());
        h.update(v.as_bytes());
    }
    let digest = h.finalize();
    let mut id = String::with_capacity(10 + 64);
    id.push_str("cryptomus:");
    for b in digest {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    EventId::new(id)
}

/// Reads the typed view of a verified body; a member that does not read is `Malformed`, with
/// its path.
fn typed<T: DeserializeOwned>(raw: &Value) -> Result<T> {
    // Read directly; only a body that does not read is read again to find the member's path
    // (the same reading, so the same outcome, at a third less of the cost).
    T::deserialize(raw).or_else(|_| {
        serde_path_to_error::deserialize(raw).map_err(|e| {
            let path = e.path().to_string();
            reject(WebhookError::Malformed(format!("`{path}`: {}", e.into_inner())))
        })
    })
}

/// `read` holds the members the mapping reads (see `MEMBERS`); `raw` the whole body.
fn payment_event(id: EventId, status: Option<String>, read: &Value, raw: RawPayload) -> Result<WebhookEvent> {
    let (uuid, amount, paid) = match PaymentView::deserialize(read) {
        Ok(view) => (view.uuid.map(PaymentId::new), view.amount_money(), view.paid_money()),
        // The same members fail to read as a `PaymentWebhook`: read the whole body as one for
        // the error (and its path).
        Err(_) => {
            let body: PaymentWebhook = typed(&whole(&raw)?)?;
            (
                body.uuid.as_deref().map(PaymentId::new),
                body.amount_money(),
                body.paid_money(),
            )
        }
    };
    let status = status.unwrap_or_default();
    let (kind, payment_status) = convert::payment_event(&status);
    let mut payment = Payment::new(payment_status);
    payment.id = uuid;
    payment.amount = amount;
    payment.paid = paid;
    if payment.status == PaymentStatus::Failed {
        payment.failure_reason = Some(status.clone());
    }
    // `order_id` as `PaymentWebhook` reads it (any value; not a string: its JSON).
    let order_id = read.as_object().and_then(|o| text_of(o, "order_id"));
    let mut event = WebhookEvent::new(GATEWAY, id, kind, status, raw);
    event.merchant_reference = order_id;
    event.payment = Some(payment);
    Ok(event)
}

/// The whole body as a `Value`, for the typed readers.
fn whole(raw: &RawPayload) -> Result<Value> {
    raw.value().map_err(|e| reject(WebhookError::Malformed(e.to_string())))
}

/// [`PaymentWebhook`] read without copying: each member it reads is read here with the same
/// type or the same reader (`Option<&str>` accepts exactly what `Option<String>` does), so a
/// body reads here exactly when it reads as a `PaymentWebhook`. The members every value passes
/// (`order_id`, `additional_data`, `convert`) are not read here; `order_id` is taken from the
/// body as `PaymentWebhook` takes it.
#[derive(serde::Deserialize)]
#[allow(dead_code)] // Most members are read for their checks only.
struct PaymentView<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<&'a str>,
    #[serde(default, borrow)]
    uuid: Option<&'a str>,
    #[serde(default, deserialize_with = "wire_de::opt_decimal")]
    amount: Option<Decimal>,
    #[serde(default, deserialize_with = "wire_de::opt_decimal")]
    payment_amount: Option<Decimal>,
    #[serde(default, deserialize_with = "wire_de::opt_decimal")]
    payment_amount_usd: Option<Decimal>,
    #[serde(default, deserialize_with = "wire_de::opt_decimal")]
    merchant_amount: Option<Decimal>,
    #[serde(default, deserialize_with = "wire_de::opt_decimal")]
    commission: Option<Decimal>,
    #[serde(default)]
    is_final: Option<bool>,
    #[serde(default, borrow)]
    status: Option<&'a str>,
    #[serde(default, borrow)]
    from: Option<&'a str>,
    #[serde(default, borrow)]
    wallet_address_uuid: Option<&'a str>,
    #[serde(default, borrow)]
    network: Option<&'a str>,
    #[serde(default, deserialize_with = "wire_de::opt_currency")]
    currency: Option<Currency>,
    #[serde(default, deserialize_with = "wire_de::opt_currency")]
    payer_currency: Option<Currency>,
    #[serde(default, borrow)]
    txid: Option<&'a str>,
}

impl PaymentView<'_> {
    /// As [`PaymentWebhook::amount_money`].
    fn amount_money(&self) -> Option<Money> {
        Some(Money::new(self.amount?, self.currency?))
    }

    /// As [`PaymentWebhook::paid_money`].
    fn paid_money(&self) -> Option<Money> {
        Some(Money::new(self.payment_amount?, self.payer_currency?))
    }
}

fn recurrence_event(id: EventId, status: Option<String>, raw: RawPayload) -> Result<WebhookEvent> {
    let rec: Recurrence = typed(&whole(&raw)?)?;
    let kind = rec
        .status
        .as_ref()
        .map_or_else(|| EventKind::Unknown(String::new()), convert::recurrence_event);
    let mut event = WebhookEvent::new(GATEWAY, id, kind, status.unwrap_or_default(), raw);
    event.subscription_id = Some(SubscriptionId::new(&rec.uuid));
    event.checkout_id = Some(CheckoutId::new(&rec.uuid));
    event.merchant_reference = rec.order_id.clone();
    event.subscription_status = rec.status.as_ref().map(SubscriptionStatus::from);
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign;
    use paycycle_core::{CancelledBy, Currency, Money};
    use proptest::prelude::any;

    const KEY: &str = "test-payment-key";

    fn verifier() -> CryptomusWebhookVerifier {
        CryptomusWebhookVerifier::new(KEY.into())
    }

    fn signed(unsigned: &str) -> String {
        sign::sign_webhook(unsigned.as_bytes(), KEY).unwrap()
    }

    fn webhook_reason(r: Result<WebhookEvent>) -> WebhookError {
        match r {
            Err(Error::Webhook { reason, gateway }) => {
                assert_eq!(gateway, GatewayId::CRYPTOMUS);
                reason
            }
            other => panic!("expected a webhook error, got {other:?}"),
        }
    }

    const PAID: &str = r#"{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"pc_0a1b/2c","amount":"15.00","payment_amount":"15.00000000","payment_amount_usd":"15.00","merchant_amount":"14.70000000","commission":"0.30000000","is_final":true,"status":"paid","from":"THgEWubVc8tPKXLJ4VZ5zbiiAK7AgqSeGH","wallet_address_uuid":null,"network":"tron","currency":"USD","payer_currency":"USDT","additional_data":"{\"customer\":{\"name\":\"Ana Ñúñez ☃\"},\"url\":\"https://shop.example/a/b\"}","convert":{"to_currency":"USDT","commission":null,"rate":"1.00000000","amount":15},"txid":"6f0d9c83","retries":3}"#;

    #[test]
    fn payment_webhooks_verify_and_map() {
        let body = signed(PAID);
        let e = verifier().verify(body.as_bytes()).unwrap();
        assert_eq!(e.gateway, GatewayId::CRYPTOMUS);
        assert_eq!(e.kind, EventKind::PaymentSucceeded);
        assert_eq!(e.provider_type, "paid");
        assert_eq!(e.merchant_reference.as_deref(), Some("pc_0a1b/2c"));
        assert_eq!(e.subscription_id, None);
        let p = e.payment.as_ref().unwrap();
        assert_eq!(
            p.id.as_ref().map(PaymentId::as_str),
            Some("62f88b36-a9d5-4fa6-aa26-e040c3dbf26d")
        );
        assert_eq!(p.status, PaymentStatus::Succeeded);
        assert_eq!(p.amount, Some(Money::parse("15", Currency::USD).unwrap()));
        assert_eq!(p.paid, Some(Money::parse("15", Currency::USDT).unwrap()));
        assert_eq!(p.paid.unwrap().amount.to_string(), "15.00000000", "exact, scale kept");
        assert_eq!(p.failure_reason, None);
        assert_eq!(e.raw.value().unwrap()["convert"]["rate"], "1.00000000");
        assert_eq!(e.raw.value().unwrap()["retries"], 3);
        assert!(e.id.as_str().starts_with("cryptomus:"));
        assert_eq!(e.id.as_str().len(), 10 + 64);
        // Redelivery of the same body: same id.
        assert_eq!(verifier().verify(body.as_bytes()).unwrap().id, e.id);
    }

    #[test]
    fn members_not_read_are_kept_whole_even_when_serde_json_cannot_build_them() {
        let body = signed(r#"{"type":"payment","uuid":"p-1","status":"paid","extra":{"n":1e400}}"#);
        let e = verifier().verify(body.as_bytes()).unwrap();
        assert_eq!(e.raw.json(), body, "the body, byte for byte");
        assert!(e.raw.value().is_err(), "1e400 is checked JSON that a Value cannot hold");
        // In a member the mapping reads, it is refused.
        let body = signed(r#"{"type":"payment","uuid":"p-1","status":"paid","amount":1e400}"#);
        assert!(matches!(
            webhook_reason(verifier().verify(body.as_bytes())),
            WebhookError::Malformed(_)
        ));
    }

    #[test]
    fn different_webhooks_get_different_ids() {
        let a = verifier().verify(signed(PAID).as_bytes()).unwrap();
        let b = verifier()
            .verify(signed(&PAID.replace("\"status\":\"paid\"", "\"status\":\"paid_over\"")).as_bytes())
            .unwrap();
        let c = verifier()
            .verify(signed(&PAID.replace("\"15.00\"", "\"15.01\"")).as_bytes())
            .unwrap();
        assert_ne!(a.id, b.id);
        assert_ne!(a.id, c.id, "same uuid and status, different content: the sign differs");
    }

    #[test]
    fn any_changed_byte_or_another_key_fails() {
        let body = signed(PAID);
        let bytes = body.as_bytes();
        for i in 0..bytes.len() {
            let mut t = bytes.to_vec();
            // (Not 0x20: that only changes the case of a hex digit of `sign`, which is accepted.)
            t[i] ^= 0x01;
            assert!(verifier().verify(&t).is_err(), "changing byte {i} must fail");
        }
        assert_eq!(
            webhook_reason(CryptomusWebhookVerifier::new("other-key".into()).verify(bytes)),
            WebhookError::BadSignature
        );
        // Signed without escaping `/` (the bug of several public verifiers): refused.
        let unescaped_sign = sign::request_sign(PAID.as_bytes(), KEY);
        let wrong = format!("{},\"sign\":\"{unescaped_sign}\"}}", &PAID[..PAID.len() - 1]);
        assert_eq!(
            webhook_reason(verifier().verify(wrong.as_bytes())),
            WebhookError::BadSignature
        );
    }

    #[test]
    fn signs_made_by_php_verify() {
        #[derive(serde::Deserialize)]
        struct Vectors {
            key: String,
            vectors: Vec<Vector>,
        }
        #[derive(serde::Deserialize)]
        struct Vector {
            input: String,
            sign: String,
        }
        let v: Vectors = serde_json::from_str(include_str!("../tests/fixtures/php_vectors.json")).unwrap();
        let verifier = CryptomusWebhookVerifier::new(v.key.clone().into());
        let other = CryptomusWebhookVerifier::new("not-the-key".into());
        assert!(v.vectors.len() >= 6);
        for vec in &v.vectors {
            let body = format!("{},\"sign\":\"{}\"}}", &vec.input[..vec.input.len() - 1], vec.sign);
            let e = verifier
                .verify(body.as_bytes())
                .unwrap_or_else(|e| panic!("{}: {e}", vec.input));
            assert_eq!(e.raw.value().unwrap()["sign"], vec.sign.as_str());
            assert_eq!(
                webhook_reason(other.verify(body.as_bytes())),
                WebhookError::BadSignature
            );
        }
    }

    #[test]
    fn recurrence_webhooks_map_to_subscription_events() {
        let rows = [
            ("active", EventKind::SubscriptionStarted, SubscriptionStatus::Active),
            (
                "cancel_by_user",
                EventKind::SubscriptionCancelled,
                SubscriptionStatus::Cancelled { by: CancelledBy::Payer },
            ),
            (
                "cancel_by_merchant",
                EventKind::SubscriptionCancelled,
                SubscriptionStatus::Cancelled {
                    by: CancelledBy::Merchant,
                },
            ),
            (
                "wait_accept",
                EventKind::Unknown("wait_accept".into()),
                SubscriptionStatus::Pending,
            ),
            (
                "frozen",
                EventKind::Unknown("frozen".into()),
                SubscriptionStatus::Unknown("frozen".into()),
            ),
        ];
        for (status, kind, sub_status) in rows {
            let body = signed(&format!(
                r#"{{"uuid":"1ee00fbd-42e7-4653-b316-1ab12f8a447b","name":"Plan ñ","order_id":"o-9","amount":"15","currency":"USD","payer_currency":null,"payer_amount_usd":"0.00","payer_amount":null,"url_callback":"https://your.site/callback","discount_days":"30","discount_amount":"1","end_of_discount":"2023-07-11T20:23:52+03:00","period":"monthly","status":"{status}","url":"https://pay.cryptomus.com/recurring/1ee00fbd-42e7-4653-b316-1ab12f8a447b","last_pay_off":null}}"#
            ));
            let e = verifier().verify(body.as_bytes()).unwrap();
            assert_eq!(e.kind, kind, "{status}");
            assert_eq!(e.subscription_status, Some(sub_status), "{status}");
            assert_eq!(e.provider_type, status);
            assert_eq!(
                e.subscription_id.as_ref().map(SubscriptionId::as_str),
                Some("1ee00fbd-42e7-4653-b316-1ab12f8a447b")
            );
            assert_eq!(e.merchant_reference.as_deref(), Some("o-9"));
            assert_eq!(e.payment, None);
            assert_eq!(e.raw.value().unwrap()["url_callback"], "https://your.site/callback");
        }
    }

    #[test]
    fn unknown_statuses_and_types_are_kept() {
        let e = verifier()
            .verify(signed(&PAID.replace("\"status\":\"paid\"", "\"status\":\"refund_process\"")).as_bytes())
            .unwrap();
        assert_eq!(e.kind, EventKind::Unknown("refund_process".into()));
        assert_eq!(
            e.payment.map(|p| p.status),
            Some(PaymentStatus::Unknown("refund_process".into()))
        );

        let e = verifier()
            .verify(signed(&PAID.replace("\"status\":\"paid\"", "\"status\":\"wrong_amount\"")).as_bytes())
            .unwrap();
        assert_eq!(e.kind, EventKind::PaymentFailed);
        assert_eq!(e.payment.unwrap().failure_reason.as_deref(), Some("wrong_amount"));

        let e = verifier()
            .verify(signed(r#"{"type":"payout","uuid":"x","order_id":"o","status":"paid"}"#).as_bytes())
            .unwrap();
        assert_eq!(e.kind, EventKind::Unknown("paid".into()));
        assert_eq!(e.merchant_reference.as_deref(), Some("o"));
        assert_eq!(e.subscription_id, None);

        // Neither shape (no `type`, no `uuid`): kept as an unknown event, not refused.
        let e = verifier()
            .verify(signed(r#"{"status":"active","order_id":"o"}"#).as_bytes())
            .unwrap();
        assert_eq!(e.kind, EventKind::Unknown("active".into()));
        assert_eq!((e.subscription_id, e.subscription_status), (None, None));
        assert_eq!(e.merchant_reference.as_deref(), Some("o"));

        // No `type`, but payment fields: payment-shaped.
        let e = verifier()
            .verify(signed(r#"{"uuid":"p","order_id":"o","payment_amount":"1","txid":"t","status":"paid"}"#).as_bytes())
            .unwrap();
        assert_eq!(e.kind, EventKind::PaymentSucceeded);
    }

    #[test]
    fn malformed_and_unsigned_bodies_are_rejected() {
        assert_eq!(
            webhook_reason(verifier().verify(br#"{"type":"payment","status":"paid"}"#)),
            WebhookError::MissingSignature
        );
        assert!(matches!(
            webhook_reason(verifier().verify(b"<html>")),
            WebhookError::Malformed(_)
        ));
        assert!(matches!(
            webhook_reason(verifier().verify(b"")),
            WebhookError::Malformed(_)
        ));
        // Correctly signed, but an amount that is not a number: refused, naming the member.
        let bad = signed(r#"{"type":"payment","uuid":"p","amount":"fifteen","status":"paid"}"#);
        match webhook_reason(verifier().verify(bad.as_bytes())) {
            WebhookError::Malformed(m) => assert!(m.contains("`amount`"), "{m}"),
            other => panic!("{other:?}"),
        }
        // A recurrence-shaped body whose uuid is not a string: refused, naming it.
        let bad_uuid = signed(r#"{"type":"recurrence","uuid":5,"status":"active"}"#);
        match webhook_reason(verifier().verify(bad_uuid.as_bytes())) {
            WebhookError::Malformed(m) => assert!(m.contains("`uuid`"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    proptest::proptest! {
        #[test]
        fn any_signed_body_verifies_and_keeps_its_reference(order_id in "\\PC{0,40}", note in any::<String>(), n in any::<i64>()) {
            let unsigned = serde_json::json!({
                "type": "payment", "uuid": "p", "order_id": order_id, "status": "paid",
                "note": note, "n": n, "url": format!("https://a.example/{note}"),
            })
            .to_string();
            let body = signed(&unsigned);
            let e = verifier().verify(body.as_bytes()).unwrap();
            proptest::prop_assert_eq!(e.merchant_reference.as_deref(), Some(order_id.as_str()));
            proptest::prop_assert_eq!(&e.raw.value().unwrap()["note"], &serde_json::json!(note));
            proptest::prop_assert!(CryptomusWebhookVerifier::new("k2".into()).verify(body.as_bytes()).is_err());
        }
    }

    #[test]
    fn payment_members_are_checked_as_payment_webhook_checks_them() {
        // The borrowed view refuses exactly what `PaymentWebhook` refuses, with its error.
        // Every member `PaymentWebhook` has (a member added to it later is checked too).
        let all = serde_json::to_value(PaymentWebhook::default()).unwrap();
        let mut members: Vec<String> = all.as_object().unwrap().keys().cloned().collect();
        assert!(members.len() >= 18, "{members:?}");
        members.push("other".into());
        let values = [
            serde_json::json!(null),
            serde_json::json!(5),
            serde_json::json!(-1.5),
            serde_json::json!(true),
            serde_json::json!("payment"),
            serde_json::json!("15.00"),
            serde_json::json!(""),
            serde_json::json!("USDT"),
            serde_json::json!([]),
            serde_json::json!({"a": 1}),
        ];
        let paid: Value = serde_json::from_str(PAID).unwrap();
        for member in &members {
            let member = member.as_str();
            for value in &values {
                let mut body = paid.clone();
                body[member] = value.clone();
                if member == "type" && value.as_str() != Some("payment") {
                    continue; // Another shape.
                }
                let expected = PaymentWebhook::deserialize(&body).map_err(|_| ());
                let got = verifier().verify(signed(&body.to_string()).as_bytes());
                match (&expected, &got) {
                    (Ok(_), Ok(e)) => {
                        let p = e.payment.as_ref().unwrap();
                        let w = expected.as_ref().unwrap();
                        assert_eq!(
                            (p.amount, p.paid),
                            (w.amount_money(), w.paid_money()),
                            "{member}: {value}"
                        );
                        assert_eq!(
                            p.id.as_ref().map(PaymentId::as_str),
                            w.uuid.as_deref(),
                            "{member}: {value}"
                        );
                        assert_eq!(e.merchant_reference, w.order_id, "{member}: {value}");
                    }
                    (
                        Err(()),
                        Err(Error::Webhook {
                            reason: WebhookError::Malformed(m),
                            ..
                        }),
                    ) => {
                        assert!(m.contains(&format!("`{member}`")), "{member}: {value}: {m}");
                    }
                    _ => panic!("{member}: {value}: expected {expected:?}, got {got:?}"),
                }
            }
        }
    }

    #[test]
    fn an_empty_key_verifies_nothing() {
        let forged = sign::sign_webhook(PAID.as_bytes(), "").unwrap();
        assert!(matches!(
            webhook_reason(CryptomusWebhookVerifier::new("".into()).verify(forged.as_bytes())),
            WebhookError::InvalidSecret(_)
        ));
    }

    #[test]
    fn debug_hides_the_key() {
        let shown = format!("{:?}", verifier());
        assert!(shown.contains("[redacted]"));
        assert!(!shown.contains(KEY));
    }
}

//! Recurrente webhook verification against what a Rust user writes by hand.
//!
//! For realistic `payment_intent.succeeded` bodies of about 0.5 KiB, 4 KiB and 64 KiB, padded
//! either inside `checkout.metadata` (which paycycle reads one key of) or inside a field paycycle
//! does not read (`product.metadata`), each measures:
//!
//! - `svix_value`: the anchor, the `svix` crate's `Webhook::verify` then
//!   `serde_json::from_slice::<Value>`. `svix` (1.84 and 2.9) does not build without a TLS
//!   feature against this workspace's hyper-util, and its `rustls-tls` feature pulls aws-lc-rs,
//!   so [`SvixWebhook`] is svix 2.9.1's `Webhook::new`/`verify`/`sign` copied line for line, with
//!   the same `hmac-sha256` crate;
//! - `hmac_value`: the floor, HMAC-SHA256 over `id.timestamp.body` (fed incrementally, one
//!   signature compared in constant time) then `serde_json::from_slice::<Value>`;
//! - `paycycle`: [`RecurrenteWebhookVerifier::verify_event`], verify and normalize, keeping the
//!   whole payload as `raw`;
//! - `hmac_bytes`: what a `raw` of bytes would allow: HMAC-SHA256, the body copied as it is,
//!   and only the fields the normalized event needs deserialized (borrowed, the rest skipped).
//!
//! ```sh
//! cargo bench -p paycycle-recurrente --bench webhook_verify
//! ```
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::borrow::Cow;
use std::hint::black_box;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use paycycle_recurrente::RecurrenteWebhookVerifier;
use paycycle_recurrente::webhook::signed_headers;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MSG_ID: &str = "msg_2Lh9KRb0pVhQYkXw3pB3x8yTq1Z";

/// A `payment_intent.succeeded` as Recurrente sends it (the seed's shape, trimmed of nulls),
/// about 0.5 KiB before padding. `{CHECKOUT_META}` and `{PRODUCT_META}` are the two places
/// padding goes.
const TEMPLATE: &str = r#"{"id":"pa_laybj3zw","event_type":"payment_intent.succeeded","api_version":"2024-04-24","checkout":{"id":"ch_5mhu2rtgwj6hdp7e","status":"paid","metadata":{"paycycle_reference":"order-42"CHECKOUT_META}},"created_at":"2024-02-16T03:01:13.260Z","failure_reason":null,"amount_in_cents":10000,"currency":"GTQ","fee":450,"customer":{"email":"hello@example.com","full_name":"Max Rodriguez","id":"us_id123"},"payment":{"id":"pa_laybj3zw","paymentable":{"id":"su_gvrxk7bt","type":"Subscription","tax_id":null}},"product":{"id":"prod_id123","metadata":{"sku":"p1"PRODUCT_META}},"invoice":{"id":"inv_123"}}"#;

/// `,"k0000":"xxxx…"` entries until the body is about `target` bytes.
fn padding(target: usize) -> String {
    let base = TEMPLATE.len() - "CHECKOUT_META".len() - "PRODUCT_META".len();
    let mut out = String::new();
    let mut i = 0;
    while base + out.len() < target {
        out.push_str(&format!(r#","k{i:04}":"{}""#, "x".repeat(48)));
        i += 1;
    }
    out
}

fn body(target: usize, in_checkout: bool) -> Vec<u8> {
    let pad = padding(target);
    let (checkout, product) = if in_checkout {
        (pad.as_str(), "")
    } else {
        ("", pad.as_str())
    };
    let text = TEMPLATE
        .replace("CHECKOUT_META", checkout)
        .replace("PRODUCT_META", product);
    serde_json::from_str::<Value>(&text).expect("valid JSON");
    text.into_bytes()
}

/// svix 2.9.1's `Webhook` (src/webhooks.rs), minus its error type: the `whsec_` key decoded
/// once; per message, the headers read, the timestamp checked against the system clock,
/// `"{id}.{ts}.{payload}"` formatted into a `String` (after a UTF-8 check), HMAC-SHA256'd by the
/// `hmac-sha256` crate, base64-encoded, and compared with each `v1,` entry of the signature header.
struct SvixWebhook {
    key: Vec<u8>,
}

impl SvixWebhook {
    fn new(secret: &str) -> Option<Self> {
        let secret = secret.strip_prefix("whsec_").unwrap_or(secret);
        let key = BASE64.decode(secret).ok()?;
        (!key.is_empty()).then_some(SvixWebhook { key })
    }

    fn header<'a>(headers: &'a http::HeaderMap, svix: &str, unbranded: &str) -> Option<&'a str> {
        headers.get(svix).or_else(|| headers.get(unbranded))?.to_str().ok()
    }

    fn verify(&self, payload: &[u8], headers: &http::HeaderMap) -> Option<()> {
        let msg_id = Self::header(headers, "svix-id", "webhook-id")?;
        let msg_signature = Self::header(headers, "svix-signature", "webhook-signature")?;
        let msg_ts: i64 = Self::header(headers, "svix-timestamp", "webhook-timestamp")?
            .parse()
            .ok()?;
        let now = chrono::Utc::now().timestamp();
        if now - msg_ts > 300 || msg_ts > now + 300 {
            return None;
        }
        let versioned_signature = self.sign(msg_id, msg_ts, payload)?;
        let expected_signature = versioned_signature.split_once(',').map(|x| x.1)?;
        msg_signature
            .split(' ')
            .filter_map(|x| x.split_once(','))
            .filter(|x| x.0 == "v1")
            .any(|x| {
                (x.1.len() == expected_signature.len())
                    && (x
                        .1
                        .bytes()
                        .zip(expected_signature.bytes())
                        .fold(0, |acc, (a, b)| acc | (a ^ b))
                        == 0)
            })
            .then_some(())
    }

    fn sign(&self, msg_id: &str, timestamp: i64, payload: &[u8]) -> Option<String> {
        let payload = std::str::from_utf8(payload).ok()?;
        let to_sign = format!("{msg_id}.{timestamp}.{payload}",);
        let signed = hmac_sha256::HMAC::mac(to_sign.as_bytes(), &self.key);
        let encoded = BASE64.encode(signed);
        Some(format!("v1,{encoded}"))
    }
}

/// The floor: HMAC-SHA256 + parse to `Value`, nothing else.
fn hmac_value(key: &[u8], id: &str, ts: &str, sig: &[u8; 32], body: &[u8]) -> Value {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("key");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    assert!(bool::from(tag.as_slice().ct_eq(sig)));
    serde_json::from_slice(body).expect("json")
}

/// The fields a normalized event needs, borrowed; everything else is skipped unparsed.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Needed<'a> {
    #[serde(borrow)]
    event_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    created_at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    checkout: Option<NeededCheckout<'a>>,
    #[serde(borrow)]
    payment: Option<NeededPayment<'a>>,
    amount_in_cents: Option<i64>,
    #[serde(borrow)]
    currency: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct NeededCheckout<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    metadata: Option<NeededMetadata<'a>>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct NeededMetadata<'a> {
    #[serde(borrow)]
    paycycle_reference: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct NeededPayment<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

/// A raw-bytes `raw`: verify, keep the bytes, read the needed fields in place.
fn hmac_bytes(key: &[u8], id: &str, ts: &str, sig: &[u8; 32], body: &[u8]) -> (Box<[u8]>, Option<String>) {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("key");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    assert!(bool::from(tag.as_slice().ct_eq(sig)));
    let needed: Needed<'_> = serde_json::from_slice(body).expect("json");
    let reference = needed
        .checkout
        .and_then(|c| c.metadata)
        .and_then(|m| m.paycycle_reference)
        .map(Cow::into_owned);
    (body.into(), reference)
}

fn verify(c: &mut Criterion) {
    let now = chrono::Utc::now().timestamp();
    let ts = now.to_string();
    let key = BASE64.decode(WHSEC.trim_start_matches("whsec_")).expect("key");
    let svix = SvixWebhook::new(WHSEC).expect("svix secret");
    let verifier = RecurrenteWebhookVerifier::new([WHSEC]).expect("secret");

    let mut g = c.benchmark_group("recurrente_verify");
    g.sample_size(30)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for (size, label) in [(512, "0.5KiB"), (4096, "4KiB"), (65536, "64KiB")] {
        for (in_checkout, place) in [(true, "checkout_meta"), (false, "unread_field")] {
            if size == 512 && !in_checkout {
                continue; // no padding at this size: the same body as checkout_meta
            }
            let body = body(size, in_checkout);
            let headers = signed_headers(WHSEC, MSG_ID, now, &body).expect("sign");
            let sig_text = headers["svix-signature"].to_str().unwrap().trim_start_matches("v1,");
            let sig: [u8; 32] = BASE64.decode(sig_text).unwrap().try_into().unwrap();
            let event = verifier.verify_event(&headers, &body).expect("valid");
            assert_eq!(event.merchant_reference.as_deref(), Some("order-42"));
            g.throughput(Throughput::Bytes(body.len() as u64));
            let id = format!("{label}/{place}");
            g.bench_function(format!("svix_value/{id}"), |b| {
                b.iter(|| {
                    svix.verify(black_box(&body), black_box(&headers)).expect("valid");
                    serde_json::from_slice::<Value>(black_box(&body)).expect("json")
                })
            });
            g.bench_function(format!("hmac_value/{id}"), |b| {
                b.iter(|| hmac_value(&key, MSG_ID, &ts, &sig, black_box(&body)))
            });
            g.bench_function(format!("hmac_bytes/{id}"), |b| {
                b.iter(|| hmac_bytes(&key, MSG_ID, &ts, &sig, black_box(&body)))
            });
            g.bench_function(format!("paycycle/{id}"), |b| {
                b.iter(|| {
                    verifier
                        .verify_event(black_box(&headers), black_box(&body))
                        .expect("valid")
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);

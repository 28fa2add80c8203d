//! The entry points of paycycle's fuzz targets.
//!
//! Each function takes the raw bytes an attacker or a broken provider controls and drives one
//! parser or verifier with them. A panic is a bug; so is a property violation, which each entry
//! point turns into a panic with a message saying which property failed. The same functions
//! serve two callers:
//! - `fuzz/fuzz_targets/*.rs` (cargo-fuzz, nightly): `scripts/fuzz.sh [seconds]` runs them all;
//! - `tests/replay.rs` (stable, part of `cargo test --workspace`): replays every corpus file and
//!   every past crash in `fuzz/corpus/<target>/` and `fuzz/artifacts/<target>/`, so CI guards
//!   against regressions without nightly.
//!
//! Inputs that need several parts (a key and a body, headers and a body) are split on NUL bytes:
//! JSON never contains a raw NUL, so seeds built from fixtures stay readable.
#![allow(clippy::panic)] // a failed property must crash the fuzzer: that is how it reports

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use paycycle_core::{Clock, Currency, Error, FixedClock, Interval, Money, WebhookError, WebhookEvent};
use paycycle_cryptomus::CryptomusWebhookVerifier;
use paycycle_cryptomus::php_json;
use paycycle_cryptomus::sign;
use paycycle_recurrente::RecurrenteWebhookVerifier;
use secrecy::SecretString;
use serde_json::Value;

mod answers;
mod sim;
pub use answers::client_answers;
pub use sim::sim_router;

/// A fuzz target: its name (the directory of its corpus) and its entry point.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The name, as in `cargo fuzz run <name>` and `fuzz/corpus/<name>/`.
    pub name: &'static str,
    /// Runs one input; panics on a bug.
    pub run: fn(&[u8]),
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "cryptomus_webhook",
        run: cryptomus_webhook,
    },
    Target {
        name: "php_json",
        run: php_json_reencode,
    },
    Target {
        name: "recurrente_webhook",
        run: recurrente_webhook,
    },
    Target {
        name: "wire_decoders",
        run: wire_decoders,
    },
    Target {
        name: "money",
        run: money,
    },
    Target {
        name: "sim_router",
        run: sim_router,
    },
    Target {
        name: "client_answers",
        run: client_answers,
    },
];

/// The Recurrente signing secret the targets sign with (the simulator's default).
const RECURRENTE_SECRET: &str = "whsec_cGF5Y3ljbGUtc2ltLW5vdC1zZWNyZXQh";
/// The Cryptomus payment key used when an input gives none.
const CRYPTOMUS_KEY: &str = "paycycle-fuzz-cryptomus-key";

/// Splits `data` into at most `n` parts on NUL bytes (the last part keeps any further NULs).
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    data.splitn(n, |b| *b == 0).collect()
}

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_225_600, 0).single().unwrap_or_default() // 2026-01-01
}

/// Cryptomus webhook verification and normalization.
///
/// Input: `mode byte`, then `key NUL body` (or just a body, with a fixed key).
/// - mode even: verify the body as received: any outcome but a panic is fine, and a verified
///   event must be well formed;
/// - mode odd: sign the body first exactly as Cryptomus does; when that succeeds (the body is a
///   JSON object), verification must not answer "bad signature": the signer and the verifier
///   must agree on every object.
pub fn cryptomus_webhook(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let p = parts(rest, 2);
    let (key, body) = match p.as_slice() {
        [key, body] => (String::from_utf8_lossy(key).into_owned(), *body),
        [body] => (CRYPTOMUS_KEY.to_owned(), *body),
        _ => return,
    };
    let verifier = CryptomusWebhookVerifier::new(SecretString::from(key.clone()));
    if mode % 2 == 0 {
        if let Ok(event) = verifier.verify(body) {
            check_event(&event, body);
        }
        return;
    }
    if key.is_empty() {
        return;
    }
    let Ok(signed) = sign::sign_webhook(body, &key) else {
        return;
    };
    match verifier.verify(signed.as_bytes()) {
        Ok(event) => check_event(&event, signed.as_bytes()),
        Err(Error::Webhook {
            reason: WebhookError::BadSignature | WebhookError::MissingSignature,
            ..
        }) => {
            panic!("a body signed by sign_webhook failed verification: {signed}")
        }
        // The signature matched; normalization may still refuse what it cannot read.
        Err(_) => {}
    }
}

/// What every verified event must be; `body` is what was verified.
fn check_event(event: &WebhookEvent, body: &[u8]) {
    assert!(!event.id.as_str().is_empty(), "a verified event has an empty id");
    // Nothing is lost: the payload is the body, byte for byte, but for whitespace around it.
    let trimmed = body.trim_ascii_start().trim_ascii_end();
    assert_eq!(event.raw.json().as_bytes(), trimmed, "the raw payload is not the body");
    // And it is JSON to serde_json: the Cryptomus verifier keeps it unchecked
    // (`RawPayload::from_checked`) because its own parser accepts less.
    assert!(
        serde_json::from_str::<Box<serde_json::value::RawValue>>(event.raw.json()).is_ok(),
        "the raw payload is not JSON to serde_json"
    );
    let payment = event.payment.as_ref();
    for money in payment.iter().flat_map(|p| [p.amount, p.paid]).flatten() {
        // Money that was read is exact; printing and parsing it back gives the same value.
        round_trip(money);
    }
}

/// PHP's `json_encode(json_decode($body, true))`, as a property: for any JSON text serde_json
/// accepts, the re-encoding parses back to the same value (seen the way PHP's arrays see it),
/// and re-encoding it again changes nothing.
pub fn php_json_reencode(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        // Not JSON: the re-encoder must refuse or accept without panicking.
        let _ = php_json::reencode(data);
        return;
    };
    let once = php_json::reencode(data)
        .unwrap_or_else(|e| panic!("serde_json accepts the input but the re-encoder refuses it: {e}"));
    let back: Value =
        serde_json::from_str(&once).unwrap_or_else(|e| panic!("the re-encoding is not JSON ({e}): {once}"));
    assert_eq!(
        php_view(back),
        php_view(value),
        "the re-encoding changed the value: {once}"
    );
    let twice = php_json::reencode(once.as_bytes())
        .unwrap_or_else(|e| panic!("the re-encoding does not re-encode: {e}: {once}"));
    assert_eq!(twice, once, "re-encoding is not stable");
}

/// A value as PHP's `json_decode(…, true)` holds it: an empty object and an object whose keys
/// are exactly `"0"`, `"1"`, … in order are lists.
fn php_view(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(php_view).collect()),
        Value::Object(map) => {
            let is_list = map.keys().enumerate().all(|(i, k)| *k == i.to_string());
            if is_list {
                Value::Array(map.into_iter().map(|(_, v)| php_view(v)).collect())
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, php_view(v))).collect())
            }
        }
        other => other,
    }
}

/// Recurrente (Svix) verification with arbitrary headers and body.
///
/// Input: `mode byte`, then `svix-id NUL svix-timestamp NUL svix-signature NUL body`.
/// - mode even: the headers as given (nearly always refused; must never panic);
/// - mode odd: the harness signs the body with the right secret at the verifier's "now", so
///   normalization runs on arbitrary bodies: a signed body is never "bad signature".
pub fn recurrente_webhook(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let p = parts(rest, 4);
    let [id, ts, sig, body] = p.as_slice() else { return };
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(now()));
    let Ok(verifier) = RecurrenteWebhookVerifier::new([RECURRENTE_SECRET]) else {
        panic!("the fixed secret must parse")
    };
    let verifier = verifier.with_clock(clock);
    let mut headers = HeaderMap::new();
    let id_text = String::from_utf8_lossy(id);
    if mode % 2 == 0 {
        for (name, value) in [("svix-id", *id), ("svix-timestamp", *ts), ("svix-signature", *sig)] {
            if let Ok(v) = HeaderValue::from_bytes(value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        }
        if let Ok(event) = verifier.verify_event(&headers, body) {
            check_event(&event, body);
        }
        return;
    }
    let Ok(id_value) = HeaderValue::from_str(&id_text) else {
        return;
    };
    if id_text.is_empty() {
        return;
    }
    let ts = now().timestamp();
    let signature = paycycle_recurrente::sign(RECURRENTE_SECRET, &id_text, ts, body)
        .unwrap_or_else(|e| panic!("signing failed: {e}"));
    headers.insert("svix-id", id_value);
    headers.insert("svix-timestamp", HeaderValue::from(ts));
    let Ok(sig_value) = HeaderValue::from_str(&signature) else {
        panic!("a signature is not a header value: {signature}")
    };
    headers.insert("svix-signature", sig_value);
    match verifier.verify_event(&headers, body) {
        Ok(event) => {
            check_event(&event, body);
            assert_eq!(event.id.as_str(), id_text, "the event id is the svix-id");
        }
        Err(Error::Webhook {
            reason: WebhookError::BadSignature,
            ..
        }) => panic!("a correctly signed body was refused"),
        Err(_) => {}
    }
}

/// Every response type of both clients, decoded from arbitrary bytes, and the accessors that
/// compute from what was decoded (amounts, intervals).
///
/// Input: `selector byte`, then the body.
pub fn wire_decoders(data: &[u8]) {
    use paycycle_cryptomus::wire as c;
    use paycycle_recurrente::wire as r;
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    fn de<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
        serde_json::from_slice(body).ok()
    }
    match which % 20 {
        0 => {
            if let Some(x) = de::<r::Checkout>(body) {
                let _ = (x.total(), x.subscription_id(), x.metadata_str("reference"));
            }
        }
        1 => {
            if let Some(x) = de::<r::Subscription>(body) {
                let _ = format!("{x:?}");
            }
        }
        2 => {
            if let Some(x) = de::<r::Product>(body) {
                for p in &x.prices {
                    let _ = (p.amount(), p.interval(), p.trial());
                }
            }
        }
        3 => {
            if let Some(x) = de::<r::PaymentIntent>(body) {
                let _ = (x.amount(), x.fee());
            }
        }
        4 => {
            if let Some(x) = de::<r::Coupon>(body) {
                let _ = x.discount();
            }
        }
        5 => {
            if let Some(x) = de::<r::Refund>(body) {
                let _ = (x.customer_refunded(), x.account_refunded());
            }
        }
        6 => drop(de::<r::CheckoutCreated>(body)),
        7 => drop(de::<r::CustomerProfile>(body)),
        8 => drop(de::<r::User>(body)),
        9 => drop(de::<r::WebhookEndpoint>(body)),
        10 => drop(de::<r::Transfer>(body)),
        11 => drop(de::<r::OneTimePayment>(body)),
        12 => drop(de::<r::Deleted>(body)),
        13 => drop(de::<r::Message>(body)),
        14 => drop(de::<Vec<r::Checkout>>(body)),
        15 => drop(de::<Vec<r::Subscription>>(body)),
        16 => drop(de::<c::Recurrence>(body)),
        17 => drop(de::<c::RecurrencePage>(body)),
        18 => drop(de::<c::PaymentWebhook>(body)),
        _ => drop(de::<c::CreateRecurrence>(body)),
    }
}

/// `Money`, `Currency` and `Interval` parsing.
///
/// Input: `selector byte`, then text. Properties: a parsed amount prints and parses back to
/// itself; when it converts to minor units, converting back gives the same money.
pub fn money(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match which % 4 {
        0 => {
            // "amount CODE", as Money's Display writes it.
            if let Ok(m) = text.parse::<Money>() {
                round_trip(m);
            }
        }
        1 => {
            let (amount, code) = text.split_once('\n').unwrap_or((&text, "GTQ"));
            if let Ok(currency) = Currency::from_wire(code) {
                let again = Currency::from_wire(currency.code())
                    .unwrap_or_else(|e| panic!("the code {} does not parse back: {e}", currency.code()));
                assert_eq!(again, currency, "a currency changed through its code");
                if let Ok(m) = Money::parse(amount, currency) {
                    round_trip(m);
                }
            }
            let _ = Currency::parse(code);
        }
        2 => {
            if let Ok(interval) = serde_json::from_slice::<Interval>(rest) {
                let at = now();
                for n in [0, 1, 2, 12, u32::MAX] {
                    if let Some(later) = interval.add_to(at, n) {
                        assert!(later >= at, "adding an interval went back in time");
                    }
                }
            }
        }
        _ => {
            if let Ok(m) = serde_json::from_slice::<Money>(rest) {
                round_trip(m);
            }
        }
    }
}

fn round_trip(m: Money) {
    let text = m.to_string();
    let back: Money = text
        .parse()
        .unwrap_or_else(|e| panic!("{text} (printed by Money) does not parse back: {e}"));
    assert_eq!(back, m, "money changed through text: {text}");
    if let Ok(units) = m.to_minor_units() {
        let again = Money::from_minor_units(units, m.currency)
            .unwrap_or_else(|e| panic!("{units} minor units of {} do not convert back: {e}", m.currency));
        assert_eq!(again.amount, m.amount, "minor units lost precision for {text}");
    }
}

//! Cryptomus webhook verification against a naive verifier and against the hash alone.
//!
//! For each body (PHP-encoded as Cryptomus sends it: `\/` and `\uXXXX` escapes; about 0.45 KiB,
//! 4 KiB and 64 KiB with a JSON cart in `additional_data`, so an escape every few bytes; 64 KiB
//! of plain text there instead; and a 4 KiB body that is not in PHP's form at all):
//! - `naive`: what a user would write: parse to `serde_json::Value`, remove `sign`, re-encode
//!   with serde_json and escape `/`, `md5(base64(…) + key)`, compare;
//! - `paycycle`: [`CryptomusWebhookVerifier::verify`], sign check and normalization (what
//!   `CryptomusGateway::verify_webhook` runs);
//! - `floor`: `md5(base64(body) + key)` alone, the hash any verifier has to compute;
//! - `sign_only`: [`verify_webhook_sign`], the sign check alone (no event), for reference;
//! - `value`: `serde_json::from_slice::<Value>` of the body alone (the event's `raw` is this
//!   value, so every verifier that returns it parses that much);
//! - `floor_value`: `floor` then `value`: what any verifier returning the event's `raw` must do,
//!   before normalizing (the lower bound of `paycycle`).
//!
//! ```sh
//! cargo bench -p paycycle-cryptomus --bench webhook_verify
//! ```
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, missing_docs)]

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use md5::{Digest, Md5};
use paycycle_cryptomus::CryptomusWebhookVerifier;
use paycycle_cryptomus::php_json::reencode_object_without;
use paycycle_cryptomus::sign::{request_sign, verify_webhook_sign};
use secrecy::SecretString;
use serde_json::Value;

const KEY: &str = "bench-payment-key";

/// A short payment webhook (about 0.45 KiB signed), as PHP's `json_encode` writes it.
const SMALL: &str = r#"{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"pc_2f1d0c3b\/9a8e","amount":"15.00","payment_amount":"15.00000000","payment_amount_usd":"15.00","merchant_amount":"14.70000000","is_final":true,"status":"paid","network":"tron","currency":"USD","payer_currency":"USDT","additional_data":"{\"name\":\"Ana \u00d1\u00fa\u00f1ez\"}","txid":"6f0d9c8374db57cac0d806251473de754f361c83a03cd805f74aa9da3193486b"}"#;

/// A payment webhook's members before `additional_data`, as PHP's `json_encode` writes them.
const HEAD: &str = r#"{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"pc_2f1d0c3b9a8e4f7d","amount":"15.00","payment_amount":"15.00000000","payment_amount_usd":"15.00","merchant_amount":"14.70000000","commission":"0.30000000","is_final":true,"status":"paid","from":"THgEWubVc8tPKXLJ4VZ5zbiiAK7AgqSeGH","wallet_address_uuid":null,"network":"tron","currency":"USD","payer_currency":"USDT","#;
const TAIL: &str = r#","convert":{"to_currency":"USDT","commission":null,"rate":"1.00000000","amount":"14.70000000"},"txid":"6f0d9c8374db57cac0d806251473de754f361c83a03cd805f74aa9da3193486b"}"#;

/// PHP's default `json_encode` of a string: `\/`, `\"`, `\\`, non-ASCII as `\uXXXX`.
fn php_default_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(out, "\\u{u:04x}").unwrap();
                }
            }
        }
    }
    out.push('"');
    out
}

/// The shop's cart as the merchant put it in `additional_data` (a JSON text), with `items` lines.
fn additional_data(items: usize) -> String {
    let mut cart = String::from(
        r#"{"customer":{"email":"ana@example.com","name":"Ana Ñúñez"},"return":"https://shop.example/ok","items":["#,
    );
    for i in 0..items {
        if i > 0 {
            cart.push(',');
        }
        write!(
            cart,
            r#"{{"sku":"SKU-{i:05}","name":"Café de Guatemala № {i} – 500 g","url":"https://shop.example/p/{i}/cafe","qty":{},"price":"{}.50"}}"#,
            i % 7 + 1,
            i % 90 + 10
        )
        .unwrap();
    }
    cart.push_str("]}");
    cart
}

/// A long free-text `additional_data` (a note with a link now and then): few escapes.
fn text_body(bytes: usize) -> String {
    let mut note = String::new();
    let mut n = 0;
    while note.len() < bytes {
        write!(
            note,
            "Order note {n}: deliver to the back door after five, call first; see https://shop.example/o/{n} for the invoice. "
        )
        .unwrap();
        n += 1;
    }
    sign_as_cryptomus(&format!(
        "{HEAD}\"additional_data\":{}{TAIL}",
        php_default_string(&note)
    ))
}

/// Appends `"sign":"…"` computed as Cryptomus does (over the PHP re-encoding without `sign`).
fn sign_as_cryptomus(unsigned: &str) -> String {
    let canonical = reencode_object_without(unsigned.as_bytes(), "sign").unwrap().json;
    let sign = request_sign(canonical.as_bytes(), KEY);
    format!("{},\"sign\":\"{sign}\"}}", &unsigned[..unsigned.len() - 1])
}

fn body(items: usize) -> String {
    let data = php_default_string(&additional_data(items));
    sign_as_cryptomus(&format!("{HEAD}\"additional_data\":{data}{TAIL}"))
}

/// The same webhook, pretty-printed with raw UTF-8 and unescaped slashes, `sign` first: nothing of
/// the raw text can be hashed as is.
fn reformatted(signed: &str) -> String {
    let canonical = reencode_object_without(signed.as_bytes(), "sign").unwrap();
    let sign = canonical.removed.unwrap();
    let inner = canonical.json.replace("\\/", "/");
    let mut out = format!("{{\n    \"sign\" : \"{sign}\",\n    ");
    // Members at the top level are separated by `,"`; only those are split (the strings inside
    // keep theirs because they are escaped as `\"`).
    out.push_str(&inner[1..inner.len() - 1].replace(",\"", ",\n    \""));
    out.push_str("\n}\n");
    out
}

fn naive_verify(body: &[u8], key: &str) -> bool {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    let Some(Value::String(given)) = v.as_object_mut().unwrap().remove("sign") else {
        return false;
    };
    let json = serde_json::to_string(&v).unwrap().replace('/', "\\/");
    let mut h = Md5::new();
    h.update(STANDARD.encode(json.as_bytes()));
    h.update(key.as_bytes());
    let expected = format!("{:x}", h.finalize());
    expected == given
}

fn floor(body: &[u8], key: &str) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(STANDARD.encode(body));
    h.update(key.as_bytes());
    h.finalize().into()
}

fn webhook_verify(c: &mut Criterion) {
    let verifier = CryptomusWebhookVerifier::new(SecretString::from(KEY.to_owned()));
    let small = sign_as_cryptomus(SMALL);
    let medium = body(21);
    let large = body(398);
    let fallback = reformatted(&medium);
    let bodies = [
        ("0.45KiB", small),
        ("4KiB", medium),
        ("64KiB", large),
        ("64KiB_text", text_body(61 * 1024)),
        ("4KiB_reformatted", fallback),
    ];
    let mut g = c.benchmark_group("cryptomus_webhook");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30);
    for (name, body) in &bodies {
        let bytes = body.as_bytes();
        verifier
            .verify(bytes)
            .unwrap_or_else(|e| panic!("{name} ({} bytes): {e}", bytes.len()));
        eprintln!("{name}: {} bytes", bytes.len());
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("naive", name), bytes, |b, bytes| {
            b.iter(|| naive_verify(black_box(bytes), KEY))
        });
        g.bench_with_input(BenchmarkId::new("paycycle", name), bytes, |b, bytes| {
            b.iter(|| verifier.verify(black_box(bytes)).expect("valid"))
        });
        g.bench_with_input(BenchmarkId::new("floor", name), bytes, |b, bytes| {
            b.iter(|| floor(black_box(bytes), KEY))
        });
        g.bench_with_input(BenchmarkId::new("sign_only", name), bytes, |b, bytes| {
            b.iter(|| verify_webhook_sign(black_box(bytes), KEY).expect("valid"))
        });
        g.bench_with_input(BenchmarkId::new("value", name), bytes, |b, bytes| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(bytes)).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("floor_value", name), bytes, |b, bytes| {
            b.iter(|| {
                let sign = floor(black_box(bytes), KEY);
                (sign, serde_json::from_slice::<Value>(black_box(bytes)).unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, webhook_verify);
criterion_main!(benches);

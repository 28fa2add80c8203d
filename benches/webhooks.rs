//! Webhook verification, the one path an app runs on every delivery: Cryptomus (PHP re-encoding
//! + md5), Recurrente (Svix HMAC-SHA256), and the fake (HMAC-SHA256), on realistic bodies.
//!
//! ```sh
//! cargo bench --bench webhooks
//! ```
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use paycycle_core::RecurringGateway;
use paycycle_cryptomus::CryptomusWebhookVerifier;
use paycycle_cryptomus::php_json::reencode_object_without;
use paycycle_cryptomus::sign::sign_webhook;
use paycycle_recurrente::RecurrenteWebhookVerifier;
use paycycle_recurrente::webhook::signed_headers;
use secrecy::SecretString;

/// A Cryptomus payment webhook as documented (with a URL, escaped slashes and non-ASCII).
const CRYPTOMUS_BODY: &str = r#"{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"order/97a75bf8eda5cca4","amount":"15.00000000","payment_amount":"15.00000000","payment_amount_usd":"15.00","merchant_amount":"14.70000000","commission":"0.30000000","is_final":true,"status":"paid","from":"THgEWubVc8tPKXLJ4VZ5zbiiAK7AgqSeGH","wallet_address_uuid":null,"network":"tron","currency":"USDT","payer_currency":"USDT","additional_data":"{\"customer\":{\"name\":\"José Núñez\"},\"return\":\"https://shop.example/ok\"}","convert":null,"txid":"6f0d9c8374db57cac0d806251473de754f361c83a03cd805f74aa9da3193486b"}"#;

/// Recurrente's payment_intent.succeeded example payload (about 1.5 KB).
const RECURRENTE_BODY: &str = r#"{"id":"pa_id123","event_type":"payment_intent.succeeded","api_version":"2024-04-24","checkout":{"id":"ch_id123","status":"paid","payment":{"id":"pa_laybj3zw","paymentable":{"type":"OneTimePayment","id":"on_arognqni","tax_name":null,"tax_id":null,"address":null,"phone_number":null}},"payment_method":{"id":"pay_m_7v5ie3pw","type":"card","card":{"last4":"0000","network":"visa"}},"transfer_setups":[],"metadata":{"paycycle_reference":"order-42"}},"created_at":"2024-02-16T03:01:13.260Z","failure_reason":null,"amount_in_cents":10000,"currency":"GTQ","fee":450,"vat_withheld":160,"vat_withheld_currency":"GTQ","customer":{"email":"hello@example.com","full_name":"Max Rodriguez","id":"us_id123"},"payment":{"id":"pa_id123","paymentable":{"id":"su_id123","tax_id":null,"tax_name":null,"type":"Subscription","address":{"address_line_1":"Plaza Obelisco","address_line_2":null,"city":"Guatemala","country":"Guatemala","zip_code":"01010"},"phone_number":"5555-5555"}},"product":{"id":"prod_id123"},"invoice":{"id":"inv_123","tax_invoice_url":null}}"#;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn cryptomus(c: &mut Criterion) {
    let key = "bench-payment-key";
    let signed = sign_webhook(CRYPTOMUS_BODY.as_bytes(), key).expect("sign");
    let verifier = CryptomusWebhookVerifier::new(SecretString::from(key.to_owned()));
    let mut g = c.benchmark_group("cryptomus");
    g.throughput(Throughput::Bytes(signed.len() as u64));
    g.bench_function("php_reencode", |b| {
        b.iter(|| reencode_object_without(black_box(signed.as_bytes()), "sign").expect("json"))
    });
    g.bench_function("verify_and_normalize", |b| {
        b.iter(|| verifier.verify(black_box(signed.as_bytes())).expect("valid"))
    });
    g.finish();
}

fn recurrente(c: &mut Criterion) {
    let now = paycycle_core::chrono::Utc::now().timestamp();
    let headers = signed_headers(WHSEC, "msg_bench", now, RECURRENTE_BODY.as_bytes()).expect("sign");
    let verifier = RecurrenteWebhookVerifier::new([WHSEC]).expect("secret");
    let mut g = c.benchmark_group("recurrente");
    g.throughput(Throughput::Bytes(RECURRENTE_BODY.len() as u64));
    g.bench_function("verify_and_normalize", |b| {
        b.iter(|| {
            verifier
                .verify_event(black_box(&headers), black_box(RECURRENTE_BODY.as_bytes()))
                .expect("valid")
        })
    });
    g.finish();
}

fn fake(c: &mut Criterion) {
    use paycycle_core::{CheckoutRequest, Currency, Interval, Money, RecurringPlan};
    use paycycle_sim::fake::{FakeGateway, Mimic};
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let fake = FakeGateway::new(Mimic::All);
    let plan = RecurringPlan::builder(
        "P",
        Money::parse("15", Currency::GTQ).expect("money"),
        Interval::monthly(),
    )
    .build()
    .expect("plan");
    let checkout = rt
        .block_on(fake.create_checkout(&CheckoutRequest::new(plan)))
        .expect("checkout");
    fake.pay(&checkout.id).expect("pay");
    let w = fake.webhooks().pop().expect("a webhook");
    c.bench_function("fake/verify_and_normalize", |b| {
        b.iter(|| {
            fake.verify_webhook(black_box(&w.headers), black_box(&w.body))
                .expect("valid")
        })
    });
}

criterion_group!(benches, cryptomus, recurrente, fake);
criterion_main!(benches);

//! Writes the fuzz corpora's seeds from the repository's JSON fixtures:
//! `cargo run -p paycycle-fuzz --bin seed` (run by `scripts/fuzz.sh`). Seeds are named by a hash
//! of their content, as libFuzzer names its own finds, so running it again adds nothing twice.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures(dir: &str) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let name = p.file_stem()?.to_string_lossy().into_owned();
            Some((name, std::fs::read(&p).ok()?))
        })
        .collect();
    out.sort();
    out
}

fn write(target: &str, data: &[u8]) -> std::io::Result<()> {
    let dir = root().join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir)?;
    let mut h = DefaultHasher::new();
    data.hash(&mut h);
    std::fs::write(dir.join(format!("seed-{:016x}", h.finish())), data)
}

fn with_prefix(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(p);
    }
    out
}

/// The `wire_decoders` selector of a fixture, from its name (see `paycycle_fuzz::wire_decoders`).
fn selector(name: &str) -> Option<u8> {
    let table: &[(&str, u8)] = &[
        ("checkouts_list", 14),
        ("checkout_created", 6),
        ("checkout", 0),
        ("subscriptions_list", 15),
        ("subscription", 1),
        ("product_deleted", 12),
        ("coupon_deleted", 12),
        ("product", 2),
        ("payment_intent", 3),
        ("coupon", 4),
        ("refund", 5),
        ("user", 8),
        ("webhook_endpoint", 9),
        ("transfer", 10),
        ("one_time_payment", 11),
        ("test_response", 13),
        ("create_response", 16),
        ("list_response", 17),
        ("webhook_payment", 18),
        ("create_request", 19),
    ];
    table.iter().find(|(p, _)| name.starts_with(p)).map(|(_, s)| *s)
}

fn main() -> std::io::Result<()> {
    let recurrente = fixtures("crates/paycycle-recurrente/tests/fixtures");
    let cryptomus = fixtures("crates/paycycle-cryptomus/tests/fixtures");
    let sim = fixtures("crates/paycycle-sim/tests/fixtures/recurrente");
    let mut written = 0;
    for (name, body) in recurrente.iter().chain(&cryptomus).chain(&sim) {
        write("php_json", body)?;
        written += 1;
        if let Some(s) = selector(name) {
            // Cryptomus answers wrap the object in {"state":0,"result":…}; the decoders read the result.
            let inner = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("result").map(Value::to_string))
                .map(String::into_bytes)
                .unwrap_or_else(|| body.clone());
            write("wire_decoders", &with_prefix(&[s], &[&inner]))?;
            written += 1;
        }
        if name.starts_with("event_") {
            for mode in [0u8, 1] {
                let seed = with_prefix(&[mode], &[b"msg_2Xk1", b"1767225600", b"v1,AAAA", body]);
                write("recurrente_webhook", &seed)?;
                written += 1;
            }
        }
        if name.starts_with("webhook_") && cryptomus.iter().any(|(n, _)| n == name) {
            for mode in [0u8, 1] {
                write("cryptomus_webhook", &with_prefix(&[mode], &[b"test-payment-key", body]))?;
                written += 1;
            }
        }
    }
    // The PHP vectors' inputs, for the re-encoder and (signed by the harness) the verifier.
    if let Some((_, vectors)) = cryptomus.iter().find(|(n, _)| n == "php_vectors") {
        let parsed: Value = serde_json::from_slice(vectors).unwrap_or(Value::Null);
        for v in parsed["vectors"].as_array().into_iter().flatten() {
            if let Some(input) = v["input"].as_str() {
                write("php_json", input.as_bytes())?;
                write(
                    "cryptomus_webhook",
                    &with_prefix(&[1], &[b"test-payment-key", input.as_bytes()]),
                )?;
                written += 2;
            }
        }
    }
    for text in [
        "15.00 GTQ",
        "0.00051495 BTC",
        "1e3 USD",
        "-0.01 USD",
        "79228162514264337593543950335 GTQ",
        "1.005 USD",
        "12 usdt",
        "0.1 XYZ",
    ] {
        write("money", &with_prefix(&[0], &[text.as_bytes()]))?;
        written += 1;
    }
    for text in ["15.00\nGTQ", "0.00000001\nBTC", "3.14159\nUSD", "10\nNEWCOIN"] {
        write("money", &with_prefix(&[1], &[text.as_bytes()]))?;
        written += 1;
    }
    for json in [
        r#"{"unit":"month","count":1}"#,
        r#"{"unit":"week","count":2}"#,
        r#"{"unit":"year","count":4294967295}"#,
        r#"{"unit":"day","count":14}"#,
    ] {
        write("money", &with_prefix(&[2], &[json.as_bytes()]))?;
        written += 1;
    }
    write(
        "money",
        &with_prefix(&[3], &[br#"{"amount":"15.00","currency":"GTQ"}"#]),
    )?;
    for (selector, status, flags, headers, body) in ANSWERS {
        let mut seed = vec![*selector];
        seed.extend_from_slice(&status.to_be_bytes());
        seed.push(*flags);
        seed.extend_from_slice(headers.as_bytes());
        seed.push(0);
        seed.extend_from_slice(body.as_bytes());
        write("client_answers", &seed)?;
        written += 1;
    }
    for (name, body) in &cryptomus {
        let op = match name.as_str() {
            n if n.starts_with("create_response") => 0u8,
            n if n.starts_with("list_response") => 2,
            _ => continue,
        };
        write(
            "client_answers",
            &[&[op << 1, 0, 200, 0][..], b"content-type: application/json\0", body].concat(),
        )?;
        written += 1;
    }
    for (name, body) in &recurrente {
        let which = match name.as_str() {
            n if n.starts_with("checkouts_list") => 2u8,
            n if n.starts_with("checkout") => 0,
            n if n.starts_with("subscription") => 1,
            n if n.starts_with("test_response") => 3,
            _ => continue,
        };
        write(
            "client_answers",
            &[
                &[(which << 1) | 1, 0, 200, 0][..],
                b"content-type: application/json\0",
                body,
            ]
            .concat(),
        )?;
        written += 1;
    }
    for sequence in SIM_SEQUENCES {
        let records: Vec<&[u8]> = sequence.iter().map(|r| r.as_bytes()).collect();
        write("sim_router", &with_prefix(&[], &records))?;
        written += 1;
    }
    println!("wrote {} seeds under fuzz/corpus/", written + 1);
    Ok(())
}

/// Request sequences for `sim_router` (see `paycycle_fuzz::sim_router` for the format): each
/// reaches a different part of the simulator, for the fuzzer to mutate from.
const SIM_SEQUENCES: &[&[&str]] = &[
    // Cryptomus: create (signed by the harness), info, list, cancel, the payer's accept.
    &[
        "POST /v1/recurrence/create\nmerchant: 5c0ffee0-0000-4000-8000-00000000c0de\nsign: auto\ncontent-type: application/json\n\n{\"amount\":\"15\",\"currency\":\"USD\",\"name\":\"Pro\",\"period\":\"monthly\",\"order_id\":\"o-1\",\"discount_days\":30,\"discount_amount\":\"1\",\"url_callback\":\"http://127.0.0.1:9/hook\"}",
        "POST /v1/recurrence/info\nmerchant: 5c0ffee0-0000-4000-8000-00000000c0de\nsign: auto\n\n{\"order_id\":\"o-1\"}",
        "POST /__sim/cryptomus/recurrences/00000000-0000-4000-8000-000000000001/accept\n\n",
        "POST /__sim/clock/advance\n\n{\"days\":31}",
        "POST /v1/recurrence/list\nmerchant: 5c0ffee0-0000-4000-8000-00000000c0de\nsign: auto\n\n{}",
        "POST /v1/recurrence/cancel\nmerchant: 5c0ffee0-0000-4000-8000-00000000c0de\nsign: auto\n\n{\"uuid\":\"00000000-0000-4000-8000-000000000001\"}",
        "GET /__sim/webhooks\n\n",
    ],
    // Recurrente: a checkout with a recurring item, paid by the payer, renewed, then listed.
    &[
        "POST /api/checkouts\nX-PUBLIC-KEY: pk_test_paycycle_sim\nX-SECRET-KEY: sk_test_paycycle_sim\ncontent-type: application/json\n\n{\"items\":[{\"name\":\"Gold\",\"currency\":\"GTQ\",\"amount_in_cents\":5000,\"charge_type\":\"recurring\",\"billing_interval\":\"month\",\"billing_interval_count\":1}],\"metadata\":{\"paycycle_reference\":\"order-42\"}}",
        "GET /api/checkouts?items=100\nX-PUBLIC-KEY: pk_test_paycycle_sim\nX-SECRET-KEY: sk_test_paycycle_sim\n\n",
        "POST /__sim/recurrente/checkouts/ch_0000000000000003/pay\ncontent-type: application/json\n\n{\"outcome\":\"card_success\"}",
        "POST /__sim/clock/advance\n\n{\"days\":31}",
        "GET /api/subscriptions?items=100\nX-PUBLIC-KEY: pk_test_paycycle_sim\nX-SECRET-KEY: sk_test_paycycle_sim\n\n",
        "DELETE /api/subscriptions/su_00000007\nX-PUBLIC-KEY: pk_test_paycycle_sim\nX-SECRET-KEY: sk_test_paycycle_sim\n\n",
    ],
    // Recurrente's other objects.
    &[
        "POST /api/products\nX-PUBLIC-KEY: pk_test_paycycle_sim\nX-SECRET-KEY: sk_test_paycycle_sim\ncontent-type: application/json\n\n{\"product\":{\"name\":\"Gold\",\"prices_attributes\":[{\"currency\":\"GTQ\",\"amount_in_cents\":5000,\"charge_type\":\"recurring\",\"billing_interval\":\"month\",\"billing_interval_count\":1}]}}",
        "GET /api/products\nX-PUBLIC-KEY: pk_test_paycycle_sim\nX-SECRET-KEY: sk_test_paycycle_sim\n\n",
        "POST /api/webhook_endpoints\nX-PUBLIC-KEY: pk_test_paycycle_sim\nX-SECRET-KEY: sk_test_paycycle_sim\ncontent-type: application/json\n\n{\"url\":\"http://127.0.0.1:9/hook\"}",
        "POST /api/refunds\nX-PUBLIC-KEY: pk_test_paycycle_sim\nX-SECRET-KEY: sk_test_paycycle_sim\ncontent-type: application/json\n\n{\"payment_intent_id\":\"pa_1\"}",
        "GET /api/test\nX-PUBLIC-KEY: pk_test_paycycle_sim\nX-SECRET-KEY: sk_test_paycycle_sim\n\n",
    ],
    // Faults, delivery modes and bulk seeding through the control API.
    &[
        "POST /__sim/faults\ncontent-type: application/json\n\n{\"path\":\"/v1/recurrence/info\",\"kind\":\"delay\",\"delay_ms\":60000}",
        "POST /v1/recurrence/info\nmerchant: 5c0ffee0-0000-4000-8000-00000000c0de\nsign: auto\n\n{\"uuid\":\"x\"}",
        "PUT /__sim/delivery\ncontent-type: application/json\n\n{\"copies\":2,\"shuffle_window\":3}",
        "POST /__sim/seed\ncontent-type: application/json\n\n{\"gateway\":\"recurrente\",\"count\":5,\"status\":\"active\"}",
        "POST /__sim/seed\ncontent-type: application/json\n\n{\"gateway\":\"cryptomus\",\"count\":5,\"status\":\"past_due\",\"amount\":\"9.99\",\"currency\":\"USDT\"}",
        "GET /__sim/stats\n\n",
        "GET /__sim/faults\n\n",
    ],
    // The dashboard's buttons (plain HTML forms).
    &[
        "POST /v1/recurrence/create\nmerchant: 5c0ffee0-0000-4000-8000-00000000c0de\nsign: auto\n\n{\"amount\":\"15\",\"currency\":\"USD\",\"name\":\"Pro\",\"period\":\"monthly\",\"order_id\":\"o-1\"}",
        "POST /subscriptions/cryptomus/00000000-0000-4000-8000-000000000001/accept\ncontent-type: application/x-www-form-urlencoded\n\nback=%2Fsubscriptions%2Fcryptomus%2F00000000-0000-4000-8000-000000000001",
        "POST /clock/advance\ncontent-type: application/x-www-form-urlencoded\n\nby=month&back=%2F%3Fgateway%3Dcryptomus",
        "POST /subscriptions/cryptomus/00000000-0000-4000-8000-000000000001/fail-next-charge\ncontent-type: application/x-www-form-urlencoded\n\nback=%2F",
        "POST /clock/set\ncontent-type: application/x-www-form-urlencoded\n\ndate=2026-06-01&back=%2Fwebhooks",
        "POST /webhooks/1/redeliver\ncontent-type: application/x-www-form-urlencoded\n\nback=%2Fwebhooks",
        "GET /subscriptions/cryptomus/00000000-0000-4000-8000-000000000001\n\n",
        "GET /webhooks?before=3\n\n",
    ],
    &[
        "POST /api/checkouts\nX-PUBLIC-KEY: pk_test_paycycle_sim\nX-SECRET-KEY: sk_test_paycycle_sim\n\n{\"items\":[{\"name\":\"Gold\",\"currency\":\"GTQ\",\"amount_in_cents\":5000,\"charge_type\":\"recurring\",\"billing_interval\":\"month\",\"billing_interval_count\":1}]}",
        "GET /checkouts/ch_0000000000000003\n\n",
        "POST /checkouts/ch_0000000000000003/pay\ncontent-type: application/x-www-form-urlencoded\n\noutcome=card_success&back=%2Fcheckouts%2Fch_0000000000000003",
        "GET /?gateway=recurrente&status=active\n\n",
    ],
    // Pages and the dashboard.
    &[
        "GET /\n\n",
        "GET /?gateway=cryptomus&status=active\n\n",
        "GET /webhooks\n\n",
        "GET /pay/cryptomus/00000000-0000-4000-8000-000000000001\n\n",
        "GET /checkout-session/ch_1\n\n",
    ],
];

/// Answers for `client_answers`: `(selector, status, flags, header lines, body)`; selector bit 0
/// is the gateway (0 Cryptomus, 1 Recurrente).
const ANSWERS: &[(u8, u16, u8, &str, &str)] = &[
    (
        0,
        200,
        0,
        "content-type: application/json",
        r#"{"state":1,"message":"Invalid Sign."}"#,
    ),
    (
        2,
        422,
        0,
        "content-type: application/json",
        r#"{"state":1,"errors":{"amount":["The amount field is required."],"currency":"bad"}}"#,
    ),
    (
        2,
        200,
        1,
        "content-type: application/json",
        r#"{"state":0,"result":{"uuid":"x"#,
    ),
    (0, 429, 0, "retry-after: 7", ""),
    (4, 429, 0, "retry-after: Wed, 21 Oct 2026 07:28:00 GMT", "slow down"),
    (0, 302, 0, "location: https://evil.example/steal", ""),
    (
        0,
        503,
        0,
        "content-type: text/html",
        "<html><body>Service Unavailable</body></html>",
    ),
    (
        6,
        404,
        0,
        "content-type: application/json",
        r#"{"state":1,"message":"Recurrence not found"}"#,
    ),
    (
        1,
        422,
        0,
        "content-type: application/json",
        r#"{"message":"Validation failed","errors":{"items":["can't be blank"]}}"#,
    ),
    (
        1,
        401,
        0,
        "content-type: application/json",
        r#"{"message":"Autenticación Errónea 👀","errors":{"authentication":["Las llaves de API son inválidas o no coinciden."]}}"#,
    ),
    (3, 429, 0, "retry-after: 2", ""),
    (1, 301, 0, "location: http://127.0.0.1:1/api", ""),
    (7, 204, 0, "", ""),
    (
        1,
        200,
        1,
        "content-type: application/json",
        r#"{"id":"ch_1","signingSecret":"whsec_c2VjcmV0"}"#,
    ),
    (
        5,
        200,
        2,
        "link: <https://app.recurrente.com/api/checkouts?page=3>; rel=\"next\", <https://app.recurrente.com/api/checkouts?page=9>; rel=\"last\"",
        "[]",
    ),
    (5, 200, 2, "current-page: 2\ntotal-pages: 5", "[]"),
    (1, 500, 0, "content-type: text/plain", "Internal Server Error"),
];

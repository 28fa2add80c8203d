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
    println!("wrote {} seeds under fuzz/corpus/", written + 1);
    Ok(())
}

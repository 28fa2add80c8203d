//! The `paycycle` binary, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_paycycle");

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("CRYPTOMUS_PAYMENT_KEY")
        .env_remove("RECURRENTE_WEBHOOK_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

const UNSIGNED: &str = r#"{"type":"payment","uuid":"9f3c","order_id":"order/1","amount":"15.00","currency":"USDT","payer_currency":"USDT","status":"paid","is_final":true,"note":"señal ☃"}"#;

#[test]
fn cryptomus_sign_then_verify_round_trips() {
    let signed = run(
        &["webhook", "sign", "--gateway", "cryptomus", "--key", "k1"],
        UNSIGNED.as_bytes(),
    );
    assert!(signed.status.success(), "{}", String::from_utf8_lossy(&signed.stderr));
    let body = String::from_utf8(signed.stdout).unwrap();
    assert!(body.contains(r#""order_id":"order\/1""#), "PHP escaping of `/`: {body}");
    assert!(body.trim_end().ends_with("\"}"));
    assert!(body.contains("\"sign\":\""));

    let verified = run(
        &["webhook", "verify", "--gateway", "cryptomus", "--key", "k1"],
        body.trim_end().as_bytes(),
    );
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let event: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(event["kind"], "payment_succeeded");
    assert_eq!(event["merchant_reference"], "order/1");
    assert_eq!(event["payment"]["amount"]["amount"], "15.00");
}

#[test]
fn a_tampered_body_or_wrong_key_is_rejected_with_one_line() {
    let signed = run(
        &["webhook", "sign", "--gateway", "cryptomus", "--key", "k1"],
        UNSIGNED.as_bytes(),
    );
    let body = String::from_utf8(signed.stdout).unwrap().replace("15.00", "15.01");
    let out = run(
        &["webhook", "verify", "--gateway", "cryptomus", "--key", "k1"],
        body.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("signature mismatch"), "{err}");
    assert!(out.stdout.is_empty());

    let good = run(
        &["webhook", "sign", "--gateway", "cryptomus", "--key", "k1"],
        UNSIGNED.as_bytes(),
    )
    .stdout;
    let out = run(&["webhook", "verify", "--gateway", "cryptomus", "--key", "k2"], &good);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("k2"), "the key must never be printed: {err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = run(&["webhook", "verify", "--gateway", "cryptomus"], b"{}");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key"));
    let out = run(&["webhook", "sign", "--gateway", "cryptomus", "--key", "k"], b"[1,2]");
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        &[
            "webhook",
            "verify",
            "--gateway",
            "cryptomus",
            "--key",
            "k",
            "--file",
            "/nonexistent/x",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["sim", "--addr", "0.0.0.0:0"], b"");
    assert_eq!(
        out.status.code(),
        Some(2),
        "the simulator refuses non-loopback addresses"
    );
}

#[test]
fn sim_serves_on_the_address_it_prints() {
    let mut child = Command::new(BIN)
        .args(["sim", "--addr", "127.0.0.1:0"])
        .env("CRYPTOMUS_MERCHANT_ID", "cli-test-merchant")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first.rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    let rest: Vec<String> = lines.by_ref().take(4).map(|l| l.unwrap()).collect();
    assert!(
        rest.iter()
            .any(|l| l.contains("CRYPTOMUS_MERCHANT_ID=cli-test-merchant")),
        "{rest:?}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let clock: serde_json::Value = rt.block_on(async { reqwest_get_json(&format!("{base}/__sim/clock")).await });
    assert!(clock["now"].as_str().unwrap().contains('T'));
    child.kill().unwrap();
    let _ = child.wait();
}

async fn reqwest_get_json(url: &str) -> serde_json::Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const RECURRENTE_BODY: &str = r#"{"id":"pa_1","event_type":"payment_intent.succeeded","amount_in_cents":1500,"currency":"GTQ","checkout":{"id":"ch_1","metadata":{"paycycle_reference":"order-7"}},"created_at":"2026-01-01T00:00:00Z"}"#;

fn headers_args(signed: &str) -> Vec<String> {
    signed
        .lines()
        .flat_map(|l| ["--header".to_owned(), l.to_owned()])
        .collect()
}

#[test]
fn recurrente_sign_prints_svix_headers_that_verify() {
    let out = run(
        &["webhook", "sign", "--gateway", "recurrente", "--secret", WHSEC],
        RECURRENTE_BODY.as_bytes(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let signed = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = signed.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(names, ["svix-id", "svix-timestamp", "svix-signature"]);
    assert!(signed.contains("svix-signature: v1,"));

    // Several secrets: any one matching is enough (rotation).
    let mut args: Vec<String> = [
        "webhook",
        "verify",
        "--gateway",
        "recurrente",
        "--secret",
        "whsec_b2xkLXNlY3JldC1vbGQ=",
        "--secret",
        WHSEC,
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(headers_args(&signed));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&refs, RECURRENTE_BODY.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(event["kind"], "payment_succeeded");
    assert_eq!(event["payment"]["amount"]["amount"], "15.00");
    assert_eq!(
        event["id"],
        signed.lines().next().unwrap().trim_start_matches("svix-id: ")
    );

    // A changed body fails with one line.
    let out = run(&refs, RECURRENTE_BODY.replace("1500", "1501").as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1);
    assert!(err.contains("signature mismatch"), "{err}");
    assert!(!err.contains("MfKQ9r8"), "the secret is never printed: {err}");
}

#[test]
fn recurrente_verify_checks_the_window_and_the_svix_test_vector() {
    // The Svix test vector (provider-facts.md): valid as of its own time, stale today.
    let body = br#"{"test": 2432232314}"#;
    let base = [
        "webhook",
        "verify",
        "--gateway",
        "recurrente",
        "--secret",
        WHSEC,
        "--header",
        "svix-id: msg_p5jXN8AQM9LWM0D4loKWxJek",
        "--header",
        "svix-timestamp: 1614265330",
        "--header",
        "svix-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ];
    let out = run(&base, body);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("old"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // As of its own time the signature and the window pass; the vector's body is not a
    // Recurrente event (no `event_type`), which is the only thing refused.
    let mut at = base.to_vec();
    at.extend(["--at", "1614265400"]);
    let out = run(&at, body);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("no `event_type`") && !err.contains("signature"), "{err}");
    // Ten minutes later it is stale again.
    let mut late = base.to_vec();
    late.extend(["--at", "1614265930"]);
    assert!(String::from_utf8_lossy(&run(&late, body).stderr).contains("old"));

    let missing = run(
        &["webhook", "verify", "--gateway", "recurrente", "--secret", WHSEC],
        body,
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("missing header"));
    let no_secret = run(&["webhook", "verify", "--gateway", "recurrente"], body);
    assert_eq!(no_secret.status.code(), Some(2));
    let bad_header = run(
        &[
            "webhook",
            "verify",
            "--gateway",
            "recurrente",
            "--secret",
            WHSEC,
            "--header",
            "nocolon",
        ],
        body,
    );
    assert_eq!(bad_header.status.code(), Some(2));
}

//! The `paycycle` binary, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_paycycle");

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("CRYPTOMUS_PAYMENT_KEY")
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

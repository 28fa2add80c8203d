//! The fault matrix: every fault the simulator injects, met by both clients on a read-only call
//! (Cryptomus `info`, Recurrente `GET /api/checkouts/{id}`), with the typed outcome,
//! `is_retryable()`, `may_have_been_sent()` and the number of attempts the simulator counted.
//! The README's "When the network fails" table is this file's expectations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use paycycle_core::chrono::Utc;
use paycycle_core::{Currency, Error, Money};
use paycycle_cryptomus::{CreateRecurrence, CryptomusClient, CryptomusConfig, Period, RecurrenceRef};
use paycycle_recurrente::wire::{CreateCheckout, CustomItem};
use paycycle_recurrente::{RecurrenteClient, RecurrenteConfig};
use paycycle_sim::{Fault, FaultKind, SimConfig, Simulator};

/// Each client's per-request timeout in these tests; slow faults wait past it.
const TIMEOUT: Duration = Duration::from_millis(400);
const SLOW: Duration = Duration::from_millis(1500);
/// Both clients retry read-only calls twice (three attempts in all).
const RETRIES: u32 = 2;
/// A path on the simulator nothing serves: the redirect target, counted like any other.
const REDIRECT_TARGET: &str = "/redirect-target";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    S500,
    S502,
    S503,
    RateLimitedSeconds,
    RateLimitedDate,
    HtmlPage,
    Empty200,
    Truncated,
    WrongContentType,
    Oversize,
    ResetBeforeAnyByte,
    SlowPastTimeout,
    Redirect,
}

/// What a call met: the outcome's name, `is_retryable()`, `may_have_been_sent()`, attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    outcome: String,
    retryable: bool,
    sent: bool,
    attempts: u64,
}

fn seen(outcome: &str, retryable: bool, sent: bool, attempts: u64) -> Seen {
    Seen {
        outcome: outcome.to_owned(),
        retryable,
        sent,
        attempts,
    }
}

fn name(e: &Error) -> String {
    match e {
        Error::Rejected { status, .. } => format!("Rejected({status})"),
        Error::Decode { status, .. } => format!("Decode({status})"),
        Error::RateLimited { .. } => "RateLimited".into(),
        Error::Transport { .. } => "Transport".into(),
        Error::NotFound { .. } => "NotFound".into(),
        Error::Authentication { .. } => "Authentication".into(),
        Error::Conflict { .. } => "Conflict".into(),
        other => format!("{other:?}"),
    }
}

fn http_date_in(secs: i64) -> String {
    (Utc::now() + paycycle_core::chrono::Duration::seconds(secs))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// The fault of `case` on `path`, for every attempt a call makes.
fn fault(case: Case, path: &str, sim: &Simulator, ok_body: &str) -> Fault {
    let json = "application/json";
    let f = match case {
        Case::S500 => Fault::respond(path, 500, json, r#"{"message":"Server Error"}"#),
        Case::S502 => Fault::html(path, 502),
        Case::S503 => Fault::respond(path, 503, json, r#"{"message":"Service Unavailable"}"#),
        Case::RateLimitedSeconds => {
            Fault::respond(path, 429, json, r#"{"message":"Too Many Attempts."}"#).header("Retry-After", "7")
        }
        Case::RateLimitedDate => Fault::respond(path, 429, json, r#"{"message":"Too Many Attempts."}"#)
            .header("Retry-After", http_date_in(120)),
        Case::HtmlPage => Fault::respond(
            path,
            200,
            "text/html",
            "<!DOCTYPE html><html><body>Checking your browser…</body></html>",
        ),
        Case::Empty200 => Fault::respond(path, 200, json, ""),
        Case::Truncated => Fault::truncate(path),
        Case::WrongContentType => Fault::respond(path, 200, "text/html; charset=utf-8", ok_body),
        Case::Oversize => Fault::oversize(path),
        Case::ResetBeforeAnyByte => Fault::reset(path),
        Case::SlowPastTimeout => Fault::delay(path, SLOW),
        Case::Redirect => Fault::redirect(
            path,
            format!("{}{}", sim.base_url().trim_end_matches('/'), REDIRECT_TARGET),
        ),
    };
    f.times(10)
}

fn check(case: Case, sim: &Simulator, result: Result<(), Error>, path: &str, expect: &Seen) {
    let attempts = sim.requests_to(path);
    let got = match &result {
        Ok(()) => seen("Ok", false, false, attempts),
        Err(e) => seen(&name(e), e.is_retryable(), e.may_have_been_sent(), attempts),
    };
    assert_eq!(&got, expect, "{case:?}: {result:?}");
    match (case, &result) {
        (Case::RateLimitedSeconds, Err(Error::RateLimited { retry_after, .. })) => {
            assert_eq!(*retry_after, Some(Duration::from_secs(7)));
        }
        (Case::RateLimitedDate, Err(Error::RateLimited { retry_after, .. })) => {
            let wait = retry_after.expect("an HTTP date is read");
            assert!(
                wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
                "{wait:?}"
            );
        }
        (Case::Redirect, Err(e)) => {
            assert!(e.to_string().contains(REDIRECT_TARGET), "{e}");
            assert_eq!(sim.requests_to(REDIRECT_TARGET), 0, "the redirect was followed");
        }
        _ => {}
    }
}

// -------------------------------------------------------------------------------------------
// Cryptomus

const CRYPTOMUS_INFO: &str = "/v1/recurrence/info";

fn cryptomus_expect(case: Case) -> Seen {
    match case {
        Case::S500 => seen("Rejected(500)", true, true, 3),
        Case::S502 => seen("Decode(502)", true, true, 3),
        Case::S503 => seen("Rejected(503)", true, true, 3),
        Case::RateLimitedSeconds | Case::RateLimitedDate => seen("RateLimited", true, false, 1),
        Case::HtmlPage | Case::Empty200 | Case::Truncated | Case::Oversize => seen("Decode(200)", false, true, 1),
        Case::WrongContentType => seen("Ok", false, false, 1),
        Case::ResetBeforeAnyByte | Case::SlowPastTimeout => seen("Transport", true, true, 3),
        Case::Redirect => seen("Rejected(302)", false, false, 1),
    }
}

async fn cryptomus(case: Case) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let config = CryptomusConfig::builder()
        .merchant_id(sim.cryptomus_merchant_id())
        .payment_key(sim.cryptomus_payment_key().to_owned())
        .base_url(sim.base_url())
        .timeout(TIMEOUT)
        .max_retries(RETRIES)
        .retry_backoff(Duration::from_millis(10))
        .build()
        .unwrap();
    let c = CryptomusClient::new(config).unwrap();
    let price = Money::parse("15", Currency::USD).unwrap();
    let rec = c
        .create_recurrence(&CreateRecurrence::new(price, "Gold plan", Period::Monthly).order_id("matrix-1"))
        .await
        .unwrap();
    let ok_body = serde_json::json!({"state": 0, "result": rec.raw}).to_string();
    sim.clear_faults();
    sim.inject_fault(fault(case, CRYPTOMUS_INFO, &sim, &ok_body));
    let result = c.recurrence(RecurrenceRef::uuid(&rec.uuid)).await.map(|r| {
        assert_eq!(r.uuid, rec.uuid);
    });
    check(case, &sim, result, CRYPTOMUS_INFO, &cryptomus_expect(case));
    sim.shutdown().await;
}

// -------------------------------------------------------------------------------------------
// Recurrente

fn recurrente_expect(case: Case) -> Seen {
    match case {
        Case::S500 => seen("Rejected(500)", true, true, 3),
        Case::S502 => seen("Rejected(502)", true, true, 3),
        Case::S503 => seen("Rejected(503)", true, true, 3),
        Case::RateLimitedSeconds | Case::RateLimitedDate => seen("RateLimited", true, false, 1),
        Case::HtmlPage | Case::Empty200 | Case::Truncated | Case::Oversize => seen("Decode(200)", false, true, 1),
        Case::WrongContentType => seen("Ok", false, false, 1),
        Case::ResetBeforeAnyByte | Case::SlowPastTimeout => seen("Transport", true, true, 3),
        Case::Redirect => seen("Rejected(302)", false, false, 1),
    }
}

async fn recurrente(case: Case) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let config = RecurrenteConfig::builder()
        .public_key(sim.recurrente_public_key())
        .secret_key(sim.recurrente_secret_key())
        .base_url(sim.base_url())
        .timeout(TIMEOUT)
        .max_retries(RETRIES)
        .build()
        .unwrap();
    let c = RecurrenteClient::new(&config).unwrap();
    let item = CustomItem::new("Banana", Money::parse("10", Currency::GTQ).unwrap());
    let created = c.create_checkout(&CreateCheckout::new([item.into()])).await.unwrap();
    let path = format!("/api/checkouts/{}", created.id);
    let ok_body = sim.recurrente_checkout(&created.id).unwrap().to_string();
    sim.clear_faults();
    sim.inject_fault(fault(case, &path, &sim, &ok_body));
    let result = c.get_checkout(&created.id).await.map(|got| {
        assert_eq!(got.id, created.id);
    });
    check(case, &sim, result, &path, &recurrente_expect(case));
    sim.shutdown().await;
}

macro_rules! matrix {
    ($($case:ident => $crypto:ident, $recur:ident;)*) => {$(
        #[tokio::test]
        async fn $crypto() {
            cryptomus(Case::$case).await;
        }
        #[tokio::test]
        async fn $recur() {
            recurrente(Case::$case).await;
        }
    )*};
}

matrix! {
    S500 => cryptomus_500, recurrente_500;
    S502 => cryptomus_502, recurrente_502;
    S503 => cryptomus_503, recurrente_503;
    RateLimitedSeconds => cryptomus_429_retry_after_seconds, recurrente_429_retry_after_seconds;
    RateLimitedDate => cryptomus_429_retry_after_http_date, recurrente_429_retry_after_http_date;
    HtmlPage => cryptomus_html_page, recurrente_html_page;
    Empty200 => cryptomus_empty_200, recurrente_empty_200;
    Truncated => cryptomus_truncated_json, recurrente_truncated_json;
    WrongContentType => cryptomus_wrong_content_type, recurrente_wrong_content_type;
    Oversize => cryptomus_body_over_the_limit, recurrente_body_over_the_limit;
    ResetBeforeAnyByte => cryptomus_reset_before_any_byte, recurrente_reset_before_any_byte;
    SlowPastTimeout => cryptomus_slow_answer_past_the_timeout, recurrente_slow_answer_past_the_timeout;
    Redirect => cryptomus_redirect_is_not_followed, recurrente_redirect_is_not_followed;
}

/// The control API takes the new kinds as JSON, and still takes the old shape.
#[tokio::test]
async fn faults_are_injectable_over_the_control_api() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    let base = sim.base_url().trim_end_matches('/').to_owned();
    for body in [
        serde_json::json!({"path": "/v1/recurrence/list", "status": 503}),
        serde_json::json!({"path": "/v1/recurrence/create", "kind": "apply_then_respond", "status": 502}),
        serde_json::json!({"path": "/api/checkouts", "kind": "apply_then_delay", "delay_ms": 1500, "times": 2}),
        serde_json::json!({"path": "/api/checkouts", "kind": "reset"}),
    ] {
        let res = http
            .post(format!("{base}/__sim/faults"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "{body}");
    }
    let listed: serde_json::Value = http
        .get(format!("{base}/__sim/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = listed["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["respond", "apply_then_respond", "apply_then_delay", "reset"]);
    let res = http
        .post(format!("{base}/__sim/faults"))
        .json(&serde_json::json!({"path": "/x", "kind": "explode"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422, "an unknown kind is refused, not guessed");
    let res = http.delete(format!("{base}/__sim/faults")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 204);
    assert!(sim.requests_to("/v1/recurrence/list") == 0);
    let _ = FaultKind::default();
    sim.shutdown().await;
}

/// `reset` sends no byte of an answer: the connection closes with nothing read.
#[tokio::test]
async fn a_reset_sends_no_byte() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.inject_fault(Fault::reset("/api/checkouts"));
    let addr = sim
        .base_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /api/checkouts HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the connection was closed");
    assert_eq!(String::from_utf8_lossy(&got), "", "no byte of an answer");
    sim.shutdown().await;
}

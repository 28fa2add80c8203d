//! `clock`, `trigger`, `seed` and `subscriptions`, run as a user would: the binary against a
//! simulator on loopback, or against a small receiver that records what it is sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::mpsc;

use paycycle_core::EventKind;
use paycycle_sim::{SimConfig, Simulator};

const BIN: &str = env!("CARGO_BIN_EXE_paycycle");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("CRYPTOMUS_PAYMENT_KEY")
        .env_remove("CRYPTOMUS_MERCHANT_ID")
        .env_remove("RECURRENTE_SECRET_KEY")
        .env_remove("RECURRENTE_WEBHOOK_SECRET")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A simulator on loopback kept running by its runtime while the test runs the binary.
fn sim() -> (tokio::runtime::Runtime, Simulator) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    (rt, sim)
}

/// A receiver that answers `status` to one request and hands over its headers and body.
/// What a receiver was sent: its headers (lowercase names) and its body.
type Received = (Vec<(String, String)>, Vec<u8>);

fn receiver(status: u16) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut headers = Vec::new();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap(); // request line
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let answer = if status == 200 {
            "{\"status\":\"ok\"}"
        } else {
            "{\"error\":\"invalid signature\"}"
        };
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
            answer.len()
        )
        .unwrap();
        tx.send((headers, body)).unwrap();
    });
    (url, rx)
}

fn header_map(headers: &[(String, String)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        map.insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    map
}

#[test]
fn trigger_sends_every_kind_signed_as_each_provider_does() {
    let recurrente =
        paycycle_recurrente::RecurrenteWebhookVerifier::new([paycycle_sim::DEFAULT_RECURRENTE_WEBHOOK_SECRET]).unwrap();
    let cryptomus = paycycle_cryptomus::CryptomusWebhookVerifier::new(
        paycycle_sim::DEFAULT_CRYPTOMUS_PAYMENT_KEY.to_owned().into(),
    );
    let kinds = [
        (
            "recurrente",
            &[
                "payment_succeeded",
                "payment_failed",
                "payment_pending",
                "payment_refunded",
                "subscription_started",
                "subscription_past_due",
                "subscription_paused",
                "subscription_resumed",
                "subscription_cancelled",
                "subscription_reactivated",
                "subscription_updated",
                "dispute_opened",
                "dispute_updated",
                "setup_succeeded",
                "setup_failed",
            ][..],
        ),
        (
            "cryptomus",
            &[
                "payment_succeeded",
                "payment_failed",
                "payment_pending",
                "payment_refunded",
                "subscription_started",
                "subscription_cancelled",
            ][..],
        ),
    ];
    for (gateway, names) in kinds {
        for name in names {
            let (url, got) = receiver(200);
            let out = run(&[
                "trigger",
                name,
                "--gateway",
                gateway,
                "--to",
                &url,
                "--reference",
                "order-77",
            ]);
            assert!(out.status.success(), "{gateway} {name}: {}", text(&out.stderr));
            assert!(text(&out.stdout).starts_with("HTTP 200"), "{}", text(&out.stdout));
            let (headers, body) = got.recv().unwrap();
            let event = match gateway {
                "recurrente" => recurrente.verify_event(&header_map(&headers), &body).unwrap(),
                _ => cryptomus.verify(&body).unwrap(),
            };
            let expected: EventKind = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(event.kind, expected, "{gateway} {name}: {}", text(&body));
            if !matches!(expected, EventKind::SetupSucceeded | EventKind::SetupFailed) {
                assert_eq!(
                    event.merchant_reference.as_deref(),
                    Some("order-77"),
                    "{gateway} {name}"
                );
            }
        }
    }
}

#[test]
fn trigger_explains_refusals_and_bad_events() {
    let (url, _got) = receiver(400);
    let out = run(&[
        "trigger",
        "payment_succeeded",
        "--gateway",
        "recurrente",
        "--to",
        &url,
        "--secret",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("invalid signature"),
        "the receiver's answer is printed"
    );
    assert_eq!(text(&out.stderr).lines().count(), 1, "{}", text(&out.stderr));

    let out = run(&[
        "trigger",
        "payment_teleported",
        "--gateway",
        "recurrente",
        "--to",
        "http://127.0.0.1:9/",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("payment_succeeded"),
        "lists the kinds: {}",
        text(&out.stderr)
    );
    let out = run(&[
        "trigger",
        "dispute_opened",
        "--gateway",
        "cryptomus",
        "--to",
        "http://127.0.0.1:9/",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cryptomus sends no"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&[
        "trigger",
        "payment_succeeded",
        "--gateway",
        "paypal",
        "--to",
        "http://127.0.0.1:9/",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn clock_shows_advances_and_sets_the_simulators_time() {
    let (_rt, sim) = sim();
    let base = sim.base_url().to_string();
    let before = sim.now();
    let out = run(&["clock", "--sim", &base]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), before.to_rfc3339());

    let out = run(&["clock", "--sim", &base, "advance", "30d", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["now"], (before + chrono::Duration::days(30)).to_rfc3339());
    assert_eq!(sim.now(), before + chrono::Duration::days(30));

    let target = (before + chrono::Duration::days(45))
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let out = run(&["clock", "set", &target, "--sim", &base]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(sim.now().date_naive().format("%Y-%m-%d").to_string(), target);

    let out = run(&["clock", "--sim", &base, "set", "2000-01-01"]);
    assert_eq!(out.status.code(), Some(1), "the clock never goes back");
    assert!(
        text(&out.stderr).contains("only moves forward"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["clock", "--sim", &base, "advance", "3x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["clock", "--sim", "http://127.0.0.1:9"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an unreachable simulator is a one-line failure"
    );
    assert_eq!(text(&out.stderr).lines().count(), 1);
}

#[test]
fn subscriptions_lists_what_the_simulator_holds() {
    let (rt, sim) = sim();
    let base = sim.base_url().to_string();
    let out = run(&["subscriptions", "--sim", &base, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );

    // One Cryptomus recurrence, created and accepted through the API and the payer's action.
    let body = br#"{"amount":"15","currency":"USD","name":"Gold plan","period":"monthly","order_id":"order-cli-1"}"#;
    let created: serde_json::Value = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/v1/recurrence/create", base.trim_end_matches('/')))
            .header("merchant", sim.cryptomus_merchant_id())
            .header(
                "sign",
                paycycle_cryptomus::sign::request_sign(body, sim.cryptomus_payment_key()),
            )
            .header("content-type", "application/json")
            .body(&body[..])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let uuid = created["result"]["uuid"].as_str().unwrap().to_owned();
    sim.cryptomus_accept(&uuid).unwrap();

    let out = run(&["subscriptions", "--sim", &base, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["gateway"], "cryptomus");
    assert_eq!(rows[0]["id"], uuid.as_str());
    assert_eq!(rows[0]["merchant_reference"], "order-cli-1");
    assert_eq!(rows[0]["status"], "active");
    assert_eq!(rows[0]["amount"], "15.00");
    assert_eq!(rows[0]["currency"], "USD");

    let out = run(&["subscriptions", "--sim", &base, "--gateway", "cryptomus"]);
    let table = text(&out.stdout);
    assert!(
        table.contains("GATEWAY") && table.contains(&uuid) && table.contains("1 subscriptions"),
        "{table}"
    );
    let out = run(&["subscriptions", "--sim", &base, "--gateway", "recurrente", "--json"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn seed_fills_the_simulator_in_bulk_in_the_asked_state() {
    let (_rt, sim) = sim();
    let base = sim.base_url().to_string();
    let out = run(&[
        "seed",
        "--sim",
        &base,
        "--gateway",
        "cryptomus",
        "--count",
        "25",
        "--status",
        "active",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["created"], 25, "{answer}");
    let out = run(&["seed", "--sim", &base, "--gateway", "recurrente", "--count", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "seeded 3 recurrente subscriptions");
    let stats = sim.stats();
    assert_eq!((stats.subscriptions.cryptomus, stats.subscriptions.recurrente), (25, 3));

    // What was seeded is real: the providers' APIs list it, in the asked state.
    let out = run(&["subscriptions", "--sim", &base, "--gateway", "cryptomus", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 25);
    assert!(rows.iter().all(|r| r["status"] == "active"), "{rows:?}");

    // A state the simulator does not know is its one-line refusal, and nothing is created.
    let out = run(&[
        "seed",
        "--sim",
        &base,
        "--gateway",
        "cryptomus",
        "--count",
        "2",
        "--status",
        "sleeping",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr).lines().count(), 1, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("sleeping"), "{}", text(&out.stderr));
    assert_eq!(sim.stats().subscriptions.cryptomus, 25);
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in ["clock", "trigger", "seed", "subscriptions"] {
        let out = run(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd}");
        let help = text(&out.stdout);
        assert!(help.contains("Example"), "{cmd} --help has no example: {help}");
    }
    let out = run(&["seed", "--gateway", "cryptomus"]);
    assert_eq!(out.status.code(), Some(2), "a missing --count is a usage error");
}

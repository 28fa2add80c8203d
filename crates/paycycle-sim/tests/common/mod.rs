//! Helpers shared by the integration tests: a started simulator, signed requests, a webhook receiver.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use paycycle_cryptomus::sign::request_sign;
use paycycle_sim::{DeliveryPolicy, SimConfig, Simulator};
use serde_json::Value;

pub mod recurrente;

pub const START: &str = "2026-01-10T09:00:00Z";

pub fn config() -> SimConfig {
    SimConfig::default()
        .start(START.parse().unwrap())
        .deterministic_ids(true)
        .delivery(
            DeliveryPolicy::default()
                .max_attempts(4)
                .initial_backoff(Duration::from_millis(10))
                .timeout(Duration::from_secs(5)),
        )
}

pub async fn sim() -> Simulator {
    Simulator::start(config()).await.unwrap()
}

/// A response: status and parsed JSON (Null when not JSON) and the raw text.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub json: Value,
    pub text: String,
}

pub async fn send(req: reqwest::RequestBuilder) -> Resp {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, json, text }
}

/// POSTs `body` exactly as given, signed with the simulator's credentials.
pub async fn signed(sim: &Simulator, path: &str, body: &str) -> Resp {
    let sign = request_sign(body.as_bytes(), sim.cryptomus_payment_key());
    send(
        reqwest::Client::new()
            .post(format!("{}{path}", sim.base_url()))
            .header("merchant", sim.cryptomus_merchant_id())
            .header("sign", sign)
            .header("content-type", "application/json")
            .body(body.to_owned()),
    )
    .await
}

/// Creates a recurrence from a JSON value; returns the result object (asserting HTTP 200).
pub async fn create(sim: &Simulator, body: Value) -> Value {
    let r = signed(sim, "/v1/recurrence/create", &body.to_string()).await;
    assert_eq!(r.status, 200, "create failed: {}", r.text);
    assert_eq!(r.json["state"], 0);
    r.json["result"].clone()
}

pub fn uuid_of(v: &Value) -> String {
    v["uuid"].as_str().unwrap().to_owned()
}

/// A webhook receiver on loopback that answers 500 to its first `fail_first` requests.
#[derive(Clone, Debug)]
pub struct Receiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    pub attempts: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct RecvState {
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    attempts: Arc<AtomicUsize>,
    fail_first: usize,
    delay: Duration,
}

async fn hook(State(s): State<RecvState>, body: Bytes) -> StatusCode {
    let n = s.attempts.fetch_add(1, Ordering::SeqCst) + 1;
    if !s.delay.is_zero() {
        tokio::time::sleep(s.delay).await;
    }
    if n <= s.fail_first {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    s.bodies.lock().unwrap().push(body.to_vec());
    StatusCode::OK
}

pub async fn receiver(fail_first: usize) -> Receiver {
    receiver_with_delay(fail_first, Duration::ZERO).await
}

pub async fn receiver_with_delay(fail_first: usize, delay: Duration) -> Receiver {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let attempts = Arc::new(AtomicUsize::new(0));
    let state = RecvState {
        bodies: bodies.clone(),
        attempts: attempts.clone(),
        fail_first,
        delay,
    };
    let app = Router::new().route("/hook", post(hook)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url: format!("http://{addr}/hook"),
        bodies,
        attempts,
    }
}

impl Receiver {
    /// The received bodies, parsed.
    pub fn json(&self) -> Vec<Value> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap())
            .collect()
    }

    pub fn raw(&self) -> Vec<Vec<u8>> {
        self.bodies.lock().unwrap().clone()
    }
}

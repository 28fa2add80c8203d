//! Recurrente helpers: authenticated requests, the reference's examples, a webhook receiver
//! that keeps every attempt with its headers, and shape comparison.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing;
use paycycle_core::WebhookEvent;
use paycycle_recurrente::webhook::RecurrenteWebhookVerifier;
use paycycle_sim::{RecurrentePaymentEvents, SimConfig, Simulator};
use reqwest::Method;
use serde_json::{Value, json};

/// An answer with its headers.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub json: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

pub fn config() -> SimConfig {
    super::config()
}

pub async fn sim_with_hook(url: &str) -> Simulator {
    Simulator::start(config().recurrente_webhook_url(url)).await.unwrap()
}

/// [`sim_with_hook`] sending the legacy payment events only (`payment_intent.*`,
/// `bank_transfer_intent.*`), for tests about the reference's lifecycle and its shapes.
pub async fn legacy_sim_with_hook(url: &str) -> Simulator {
    Simulator::start(legacy_config().recurrente_webhook_url(url))
        .await
        .unwrap()
}

/// [`config`] sending the legacy payment events only.
pub fn legacy_config() -> SimConfig {
    config().recurrente_payment_events(RecurrentePaymentEvents::Legacy)
}

pub async fn request(
    sim: &Simulator,
    method: Method,
    path: &str,
    keys: Option<(&str, &str)>,
    body: Option<&Value>,
) -> Answer {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", sim.base_url()));
    if let Some((pk, sk)) = keys {
        req = req.header("X-PUBLIC-KEY", pk).header("X-SECRET-KEY", sk);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        json,
        text,
        headers,
    }
}

/// A request with the simulator's keys.
pub async fn api(sim: &Simulator, method: Method, path: &str, body: Option<Value>) -> Answer {
    let keys = (
        sim.recurrente_public_key().to_owned(),
        sim.recurrente_secret_key().to_owned(),
    );
    request(sim, method, path, Some((&keys.0, &keys.1)), body.as_ref()).await
}

pub async fn get(sim: &Simulator, path: &str) -> Answer {
    api(sim, Method::GET, path, None).await
}

pub async fn post(sim: &Simulator, path: &str, body: Value) -> Answer {
    api(sim, Method::POST, path, Some(body)).await
}

pub async fn patch(sim: &Simulator, path: &str, body: Value) -> Answer {
    api(sim, Method::PATCH, path, Some(body)).await
}

pub async fn delete(sim: &Simulator, path: &str) -> Answer {
    api(sim, Method::DELETE, path, None).await
}

/// A control API call (no keys).
pub async fn control(sim: &Simulator, path: &str, body: Value) -> Answer {
    request(sim, Method::POST, path, None, Some(&body)).await
}

/// The reference's checkout request example, without its `user_id` (`us_123456` does not exist
/// in a fresh simulator, which refuses unknown users).
pub fn items_example() -> Value {
    let mut v = fixture("requests/checkout_items.json");
    v.as_object_mut().unwrap().remove("user_id");
    v
}

/// A JSON example of the reference (`tests/fixtures/recurrente/<name>`).
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/recurrente/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `actual` has the example's keys, recursively, with the same JSON types where neither is
/// null, and no other keys than `extra`.
pub fn assert_shape(actual: &Value, example: &Value, extra: &[&str]) {
    shape(actual, example, "$", extra);
}

fn shape(actual: &Value, example: &Value, path: &str, extra: &[&str]) {
    match (actual, example) {
        // An empty object in the example is a free-form map (metadata).
        (Value::Object(_), Value::Object(e)) if e.is_empty() => {}
        (Value::Object(a), Value::Object(e)) => {
            for (k, ev) in e {
                let av = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}.{k} is missing in {actual:#}"));
                shape(av, ev, &format!("{path}.{k}"), extra);
            }
            for k in a.keys() {
                assert!(
                    e.contains_key(k) || extra.contains(&k.as_str()),
                    "{path}.{k} is not in the reference's example"
                );
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if let (Some(af), Some(ef)) = (a.first(), e.first()) {
                shape(af, ef, &format!("{path}[0]"), extra);
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (a, e) => assert_eq!(kind(a), kind(e), "{path}: {a} is not like the example's {e}"),
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub answered: u16,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).unwrap().to_str().unwrap().to_owned()
    }
}

/// A webhook receiver on loopback keeping every attempt; answers 500 to the first `fail_first`.
#[derive(Debug, Clone)]
pub struct Hooks {
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

#[derive(Clone)]
struct HookState {
    hits: Arc<Mutex<Vec<Hit>>>,
    fail_first: usize,
}

async fn hook(State(s): State<HookState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut hits = s.hits.lock().unwrap();
    let status = if hits.len() < s.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    hits.push(Hit {
        headers,
        body: body.to_vec(),
        answered: status.as_u16(),
    });
    status
}

pub async fn hooks(fail_first: usize) -> Hooks {
    let hits = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().route("/hook", routing::post(hook)).with_state(HookState {
        hits: hits.clone(),
        fail_first,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Hooks {
        url: format!("http://{addr}/hook"),
        hits,
    }
}

impl Hooks {
    /// Every attempt, in order.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// The attempts answered 200.
    pub fn delivered(&self) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.answered == 200).collect()
    }

    /// The delivered bodies.
    pub fn events(&self) -> Vec<Value> {
        self.delivered().iter().map(Hit::json).collect()
    }

    /// The delivered `event_type`s.
    pub fn types(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["event_type"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Verifies every delivered request with `secret` (system clock, 5-minute tolerance).
    pub fn verify(&self, secret: &str) -> Vec<WebhookEvent> {
        let v = RecurrenteWebhookVerifier::new([secret]).unwrap();
        self.delivered()
            .iter()
            .map(|h| v.verify_event(&h.headers, &h.body).unwrap())
            .collect()
    }
}

/// A recurring item: `cents` GTQ every `interval`.
pub fn recurring_item(name: &str, cents: i64, interval: &str) -> Value {
    json!({"name": name, "currency": "GTQ", "amount_in_cents": cents, "charge_type": "recurring",
           "billing_interval": interval, "billing_interval_count": 1})
}

/// Creates a checkout; returns its id.
pub async fn checkout(sim: &Simulator, body: Value) -> String {
    let r = post(sim, "/api/checkouts", body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json["id"].as_str().unwrap().to_owned()
}

/// A checkout for one recurring item with `metadata`.
pub async fn subscription_checkout(sim: &Simulator, item: Value) -> String {
    checkout(
        sim,
        json!({"items": [item], "metadata": {"paycycle_reference": "order-42", "plan": "gold"}}),
    )
    .await
}

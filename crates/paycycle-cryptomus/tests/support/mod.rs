//! A recording HTTP server on 127.0.0.1:0 with canned answers, for the client and gateway tests.
//!
//! Like Cryptomus, it checks the `sign` header against the **raw bytes it received** (when a key
//! is given) and answers `{"message":"Invalid Sign."}` otherwise.
#![allow(dead_code)]
// Test scaffolding: a failure here should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use paycycle_cryptomus::{CryptomusClient, CryptomusConfig, sign};

pub(crate) const MERCHANT: &str = "8b03432e-385b-4670-8d06-064591096795";
pub(crate) const KEY: &str = "pay-key-7Hq2-Zx9";

/// One request as the server received it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the client sent JSON")
    }
}

/// A canned answer.
#[derive(Debug, Clone)]
pub(crate) struct Canned {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) delay: Duration,
}

impl Canned {
    pub(crate) fn new(status: u16, body: impl Into<String>) -> Self {
        Canned {
            status,
            body: body.into(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// `{"state":0,"result":<result>}`.
    pub(crate) fn ok(result: serde_json::Value) -> Self {
        Canned::new(200, serde_json::json!({"state": 0, "result": result}).to_string())
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

struct Inner {
    key: Option<String>,
    answers: Mutex<VecDeque<Canned>>,
    received: Mutex<Vec<Recorded>>,
}

/// The server; answers are used in order, the last one again for every further request.
pub(crate) struct MockServer {
    pub(crate) base_url: String,
    inner: Arc<Inner>,
}

impl MockServer {
    /// A server checking signs with [`KEY`].
    pub(crate) async fn start(answers: Vec<Canned>) -> MockServer {
        Self::start_with_key(Some(KEY), answers).await
    }

    pub(crate) async fn start_with_key(key: Option<&str>, answers: Vec<Canned>) -> MockServer {
        let inner = Arc::new(Inner {
            key: key.map(str::to_owned),
            answers: Mutex::new(answers.into()),
            received: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        MockServer {
            base_url: format!("http://{addr}"),
            inner,
        }
    }

    pub(crate) fn received(&self) -> Vec<Recorded> {
        self.inner.received.lock().unwrap().clone()
    }

    pub(crate) fn config(&self) -> paycycle_cryptomus::CryptomusConfigBuilder {
        CryptomusConfig::builder()
            .merchant_id(MERCHANT)
            .payment_key(KEY)
            .base_url(&self.base_url)
            .retry_backoff(Duration::from_millis(5))
    }

    pub(crate) fn client(&self) -> CryptomusClient {
        CryptomusClient::new(self.config().build().unwrap()).unwrap()
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Recorded {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers.clone(),
        body: body.to_vec(),
    };
    inner.received.lock().unwrap().push(received);
    if let Some(key) = &inner.key {
        let given = headers.get("sign").and_then(|v| v.to_str().ok()).unwrap_or("");
        if headers.get("merchant").is_none() || !sign::signatures_match(&sign::request_sign(&body, key), given) {
            return (StatusCode::UNAUTHORIZED, r#"{"message":"Invalid Sign."}"#).into_response();
        }
    }
    let canned = {
        let mut answers = inner.answers.lock().unwrap();
        if answers.len() > 1 {
            answers.pop_front()
        } else {
            answers.front().cloned()
        }
    };
    let Some(canned) = canned else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no canned answer").into_response();
    };
    if !canned.delay.is_zero() {
        tokio::time::sleep(canned.delay).await;
    }
    let mut response = (StatusCode::from_u16(canned.status).unwrap(), canned.body).into_response();
    for (name, value) in canned.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// The `result` of a seed response fixture.
pub(crate) fn result_of(fixture: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(fixture).unwrap();
    v["result"].clone()
}

//! A scripted HTTP server on 127.0.0.1:0 that records every request and answers from a closure.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use paycycle_recurrente::{RecurrenteClient, RecurrenteConfig};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `METHOD /path?query`.
    pub fn line(&self) -> String {
        match &self.query {
            Some(q) => format!("{} {}?{}", self.method, self.path, q),
            None => format!("{} {}", self.method, self.path),
        }
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.into(),
            delay: None,
        }
    }

    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "text/plain".into())],
            body: body.into(),
            delay: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }
}

type Responder = dyn Fn(&Recorded) -> Reply + Send + Sync;

struct Inner {
    seen: Mutex<Vec<Recorded>>,
    respond: Box<Responder>,
}

/// The running server.
pub struct MockServer {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default().to_vec();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    let reply = (inner.respond)(&recorded);
    inner.seen.lock().unwrap().push(recorded);
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    let mut builder = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        builder = builder.header(*k, v);
    }
    builder.body(Body::from(reply.body)).unwrap()
}

impl MockServer {
    pub async fn start(respond: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> MockServer {
        let inner = Arc::new(Inner {
            seen: Mutex::new(Vec::new()),
            respond: Box::new(respond),
        });
        let app = axum::Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        MockServer { addr, inner, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.seen.lock().unwrap().clone()
    }

    pub fn lines(&self) -> Vec<String> {
        self.requests().iter().map(Recorded::line).collect()
    }

    pub fn config(&self) -> RecurrenteConfig {
        RecurrenteConfig::builder()
            .public_key("pk_test_public")
            .secret_key("sk_test_secret")
            .webhook_secret(WEBHOOK_SECRET)
            .base_url(self.url())
            .build()
            .unwrap()
    }

    pub fn client(&self) -> RecurrenteClient {
        RecurrenteClient::new(&self.config()).unwrap()
    }
}

pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A fixture's text.
#[macro_export]
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/", $name, ".json"))
    };
}

/// Makes two JSON documents comparable the way Recurrente reads them: drops `null`, `""` and
/// `{}` members, reads `"true"`/`"false"` and numeric strings as their values, and writes URLs
/// in their normalized form (`https://www.google.com` = `https://www.google.com/`).
pub fn normalize(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| {
                    !matches!(v, Value::Null) && *v != "" && !matches!(v, Value::Object(m) if m.is_empty())
                })
                .map(|(k, v)| (k.clone(), normalize(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::String(s) => {
            if s == "true" || s == "false" {
                Value::Bool(s == "true")
            } else if let Ok(n) = s.parse::<i64>() {
                Value::from(n)
            } else if let Some(u) = url::Url::parse(s)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
            {
                Value::String(u.to_string())
            } else {
                v.clone()
            }
        }
        other => other.clone(),
    }
}

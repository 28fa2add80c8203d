//! Fault injection: the next requests to a path get a canned answer instead of the real one, so
//! a client's handling of what real providers sometimes send can be tested against the simulator:
//! a CDN's HTML error page (Cryptomus sits behind one), a 429 with `Retry-After`, a 503.
//!
//! `POST /__sim/faults` with a [`Fault`] (201), `DELETE /__sim/faults` to clear, or
//! [`Simulator::inject_fault`](crate::Simulator::inject_fault) in-process.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::server::Shared;

/// A canned answer for the next `times` requests to `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The exact request path, e.g. `/v1/recurrence/info` or `/api/subscriptions`.
    pub path: String,
    /// The HTTP status to answer.
    pub status: u16,
    /// The `Content-Type` of the answer (default `text/html; charset=utf-8`).
    #[serde(default)]
    pub content_type: Option<String>,
    /// The body, sent as is.
    #[serde(default)]
    pub body: String,
    /// Extra headers (`Retry-After`, …).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How many requests it applies to (default 1).
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A CDN-style HTML error page with `status` for the next request to `path`.
    pub fn html(path: impl Into<String>, status: u16) -> Fault {
        Fault {
            path: path.into(),
            status,
            content_type: None,
            body: "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>\
                   <hr><center>cloudflare</center></body></html>"
                .into(),
            headers: BTreeMap::new(),
            times: 1,
        }
    }

    /// Applies to the next `n` requests.
    #[must_use]
    pub fn times(mut self, n: u32) -> Fault {
        self.times = n;
        self
    }
}

/// The faults waiting to be served.
#[derive(Debug, Default)]
pub(crate) struct Faults(Mutex<Vec<Fault>>);

impl Faults {
    pub(crate) fn add(&self, fault: Fault) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(fault);
    }

    pub(crate) fn clear(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// Takes one use of the first fault for `path`, if any.
    fn take(&self, path: &str) -> Option<Fault> {
        let mut faults = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let i = faults.iter().position(|f| f.path == path && f.times > 0)?;
        faults[i].times -= 1;
        let fault = faults[i].clone();
        if faults[i].times == 0 {
            faults.remove(i);
        }
        Some(fault)
    }
}

fn answer(fault: Fault) -> Response {
    let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut res = (status, Body::from(fault.body)).into_response();
    let ct = fault.content_type.as_deref().unwrap_or("text/html; charset=utf-8");
    if let Ok(v) = HeaderValue::from_str(ct) {
        res.headers_mut().insert(axum::http::header::CONTENT_TYPE, v);
    }
    for (k, v) in fault.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            res.headers_mut().insert(k, v);
        }
    }
    res
}

/// Middleware: serves a pending fault for the request's path, else the real route.
pub(crate) async fn inject(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    match shared.faults.take(req.uri().path()) {
        Some(fault) => answer(fault),
        None => next.run(req).await,
    }
}

/// `POST /__sim/faults`.
pub(crate) async fn add(State(shared): State<Arc<Shared>>, axum::Json(fault): axum::Json<Fault>) -> StatusCode {
    shared.faults.add(fault);
    StatusCode::CREATED
}

/// `DELETE /__sim/faults`.
pub(crate) async fn clear(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.faults.clear();
    StatusCode::NO_CONTENT
}

//! Fault injection's state: the canned answers waiting to be served (the `/__sim/faults` routes
//! and the middleware that serves them belong to the shared control routes).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

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
    pub(crate) fn take(&self, path: &str) -> Option<Fault> {
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

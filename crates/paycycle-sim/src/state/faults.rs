//! Fault injection's state: the faults waiting to be served, and how many requests each path
//! received (the `/__sim/faults` routes and the middleware that serves them belong to the shared
//! control routes).
//!
//! A [`Fault`] has a [`FaultKind`]: most answer instead of the real route (the request is *not*
//! applied), the `apply_then_*` kinds run the real route first and then lose its answer (the
//! request *is* applied: the outcome a client cannot tell from the first group).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// What a fault does with the request it catches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answers `status`, `body`, `headers` instead of the real route (the default).
    #[default]
    Respond,
    /// Waits `delay_ms`, then answers like `respond` (not applied).
    Delay,
    /// Closes the connection without an answer (not applied).
    Reset,
    /// Runs the real route and sends the first half of its body (applied): a JSON text cut short.
    Truncate,
    /// Answers `status` (default 200) with a JSON body of `size` bytes (default 17 MiB, over both
    /// clients' limits) instead of the real route (not applied).
    Oversize,
    /// Answers `status` (default 302) with `Location: location` instead of the real route (not
    /// applied).
    Redirect,
    /// Runs the real route, then answers like `respond` instead (a 502 after the provider acted).
    ApplyThenRespond,
    /// Runs the real route, then closes the connection without its answer.
    ApplyThenReset,
    /// Runs the real route, then waits `delay_ms` before sending its answer (past a client's
    /// timeout: the client gives up on a request that was applied).
    ApplyThenDelay,
}

impl FaultKind {
    /// True when the real route runs before the fault acts.
    pub fn applies(self) -> bool {
        matches!(
            self,
            FaultKind::Truncate | FaultKind::ApplyThenRespond | FaultKind::ApplyThenReset | FaultKind::ApplyThenDelay
        )
    }
}

/// A fault for the next `times` requests to `path`.
///
/// JSON (`POST /__sim/faults`): `{"path": "/v1/recurrence/create", "status": 502}` as before;
/// add `"kind"` (see [`FaultKind`], `snake_case`), `"delay_ms"`, `"location"`, `"size"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The exact request path, e.g. `/v1/recurrence/info` or `/api/subscriptions`.
    pub path: String,
    /// What the fault does (default [`FaultKind::Respond`]).
    #[serde(default)]
    pub kind: FaultKind,
    /// The HTTP status to answer (`respond`, `delay`, `apply_then_respond`; `oversize` and
    /// `redirect` when given). Default 502.
    #[serde(default = "bad_gateway")]
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
    /// The wait of `delay` and `apply_then_delay`, in milliseconds (default 0).
    #[serde(default)]
    pub delay_ms: u64,
    /// The `Location` of `redirect`.
    #[serde(default)]
    pub location: Option<String>,
    /// The body size of `oversize`, in bytes.
    #[serde(default)]
    pub size: Option<usize>,
}

fn one() -> u32 {
    1
}

fn bad_gateway() -> u16 {
    502
}

/// The default body size of an `oversize` fault: above both clients' limits (Cryptomus 4 MiB,
/// Recurrente 16 MiB).
pub const DEFAULT_OVERSIZE: usize = 17 * 1024 * 1024;
/// The largest `oversize` body the simulator builds (the simulator must not exhaust memory).
pub(crate) const MAX_OVERSIZE: usize = 64 * 1024 * 1024;

const HTML_502: &str = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>\
                        <hr><center>cloudflare</center></body></html>";

impl Fault {
    /// A fault of `kind` for the next request to `path`, answering a 502 HTML page where it answers.
    pub fn new(path: impl Into<String>, kind: FaultKind) -> Fault {
        Fault {
            path: path.into(),
            kind,
            status: 502,
            content_type: None,
            body: HTML_502.into(),
            headers: BTreeMap::new(),
            times: 1,
            delay_ms: 0,
            location: None,
            size: None,
        }
    }

    /// A CDN-style HTML error page with `status` for the next request to `path`.
    pub fn html(path: impl Into<String>, status: u16) -> Fault {
        Fault {
            status,
            ..Fault::new(path, FaultKind::Respond)
        }
    }

    /// `status` with a body and its content type.
    pub fn respond(path: impl Into<String>, status: u16, content_type: &str, body: impl Into<String>) -> Fault {
        Fault {
            status,
            content_type: Some(content_type.to_owned()),
            body: body.into(),
            ..Fault::new(path, FaultKind::Respond)
        }
    }

    /// Closes the connection without answering; the request is not applied.
    pub fn reset(path: impl Into<String>) -> Fault {
        Fault::new(path, FaultKind::Reset)
    }

    /// Waits, then answers a 502 page; the request is not applied.
    pub fn delay(path: impl Into<String>, delay: std::time::Duration) -> Fault {
        Fault {
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            ..Fault::new(path, FaultKind::Delay)
        }
    }

    /// The real answer, cut in half (applied).
    pub fn truncate(path: impl Into<String>) -> Fault {
        Fault::new(path, FaultKind::Truncate)
    }

    /// A 200 JSON body of [`DEFAULT_OVERSIZE`] bytes; not applied.
    pub fn oversize(path: impl Into<String>) -> Fault {
        Fault {
            status: 200,
            ..Fault::new(path, FaultKind::Oversize)
        }
    }

    /// A 302 to `location`; not applied.
    pub fn redirect(path: impl Into<String>, location: impl Into<String>) -> Fault {
        Fault {
            status: 302,
            location: Some(location.into()),
            ..Fault::new(path, FaultKind::Redirect)
        }
    }

    /// Runs the real route, then answers a 502 page instead of its answer.
    pub fn apply_then_502(path: impl Into<String>) -> Fault {
        Fault::new(path, FaultKind::ApplyThenRespond)
    }

    /// Runs the real route, then closes the connection without its answer.
    pub fn apply_then_reset(path: impl Into<String>) -> Fault {
        Fault::new(path, FaultKind::ApplyThenReset)
    }

    /// Runs the real route, then waits `delay` before answering.
    pub fn apply_then_delay(path: impl Into<String>, delay: std::time::Duration) -> Fault {
        Fault {
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            ..Fault::new(path, FaultKind::ApplyThenDelay)
        }
    }

    /// Applies to the next `n` requests.
    #[must_use]
    pub fn times(mut self, n: u32) -> Fault {
        self.times = n;
        self
    }

    /// With a header (`Retry-After`, …).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Fault {
        self.headers.insert(name.into(), value.into());
        self
    }
}

/// The faults waiting to be served, and the number of requests each path received.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pending: Mutex<Vec<Fault>>,
    requests: Mutex<BTreeMap<String, u64>>,
}

impl Faults {
    pub(crate) fn add(&self, fault: Fault) {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).push(fault);
    }

    /// Removes every pending fault and forgets the request counts.
    pub(crate) fn clear(&self) {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).clear();
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// The faults still waiting.
    pub(crate) fn pending(&self) -> Vec<Fault> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Counts one request to `path`, under `path` and under `"{method} {path}"`.
    pub(crate) fn count(&self, method: &str, path: &str) {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        for key in [path.to_owned(), format!("{method} {path}")] {
            let n = requests.entry(key).or_insert(0);
            *n = n.saturating_add(1);
        }
    }

    /// How many requests `path` (any method) or `"{method} {path}"` (e.g. `POST /api/checkouts`)
    /// received (since the start or the last clear).
    pub(crate) fn requests_to(&self, path: &str) -> u64 {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Every path's request count.
    pub(crate) fn requests(&self) -> BTreeMap<String, u64> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Takes one use of the first fault for `path`, if any.
    pub(crate) fn take(&self, path: &str) -> Option<Fault> {
        let mut faults = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let i = faults.iter().position(|f| f.path == path && f.times > 0)?;
        faults[i].times -= 1;
        let fault = faults[i].clone();
        if faults[i].times == 0 {
            faults.remove(i);
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_json_still_reads_and_new_kinds_read_in_snake_case() {
        let old: Fault = serde_json::from_str(
            r#"{"path":"/v1/recurrence/list","status":429,"content_type":"application/json","body":"{}","headers":{"Retry-After":"7"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old.kind, FaultKind::Respond);
        assert_eq!((old.status, old.times, old.delay_ms), (429, 1, 0));
        let new: Fault =
            serde_json::from_str(r#"{"path":"/api/checkouts","kind":"apply_then_delay","delay_ms":1500,"times":2}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (new.kind, new.status, new.delay_ms, new.times),
            (FaultKind::ApplyThenDelay, 502, 1500, 2)
        );
        assert!(new.kind.applies() && !FaultKind::Reset.applies());
    }

    #[test]
    fn faults_are_used_up_and_requests_counted() {
        let f = Faults::default();
        f.add(Fault::reset("/a").times(2));
        f.count("GET", "/a");
        f.count("POST", "/a");
        assert_eq!(f.take("/a").map(|x| x.kind), Some(FaultKind::Reset));
        assert!(f.take("/a").is_some());
        assert!(f.take("/a").is_none());
        assert_eq!(f.requests_to("/a"), 2);
        assert_eq!(f.requests_to("POST /a"), 1);
        f.clear();
        assert_eq!(f.requests_to("/a"), 0);
    }
}

//! The `sim_router` target: the simulator's request handling for both providers, driven
//! in-process through its router with arbitrary methods, paths, headers and bodies.
//!
//! Properties: the simulator never panics, and never answers a server error (5xx) to input.
//! A 5xx is allowed only once the input itself has installed a fault through
//! `POST /__sim/faults`, since serving one is then what was asked for.

use std::sync::OnceLock;

use axum::body::Body;
use chrono::{TimeZone, Utc};
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use paycycle_sim::{DEFAULT_CRYPTOMUS_PAYMENT_KEY, InProcess, SimConfig};
use serde_json::Value;
use tower::ServiceExt as _;

/// Requests per input, at most.
const MAX_REQUESTS: usize = 8;
/// Subscriptions one `POST /__sim/seed` may create: more only makes the target slow.
const MAX_SEED: u64 = 50;
/// How far one `POST /__sim/clock/advance` may move the clock: farther only makes the target
/// slow (every period of every subscription is charged).
const MAX_ADVANCE_SECONDS: i64 = 3 * 366 * 86_400;
/// The largest answer body read back.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// A current-thread runtime whose clock is paused: injected delays and webhook backoffs pass
/// instantly, and nothing runs between inputs.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("cannot build the fuzz runtime: {e}"),
        }
    })
}

/// One request of an input: `METHOD PATH`, then `name: value` header lines, an empty line, and
/// the body. A header `sign: auto` is replaced by the Cryptomus request signature of the body
/// (the fuzzer cannot compute an md5), so signed routes are reachable.
struct Parsed {
    method: Method,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
}

fn parse(record: &[u8]) -> Option<Parsed> {
    let (head, body) = match record.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&record[..i], &record[i + 2..]),
        None => (record, &[][..]),
    };
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.lines();
    let (method, path) = lines.next()?.split_once(' ')?;
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let uri: Uri = path.parse().ok()?;
    // Only origin-form targets: the router never sees anything else from a real connection.
    if uri.scheme().is_some() || !path.starts_with('/') {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let Ok(name) = HeaderName::from_bytes(name.trim().as_bytes()) else {
            continue;
        };
        let value = if name == "sign" && value == "auto" {
            paycycle_cryptomus::sign::request_sign(body, DEFAULT_CRYPTOMUS_PAYMENT_KEY)
        } else {
            value.to_owned()
        };
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.push((name, value));
        }
    }
    Some(Parsed {
        method,
        uri,
        headers,
        body: body.to_vec(),
    })
}

/// Whether a request would only make the target slow (a huge seed or clock jump): skipped.
fn too_costly(p: &Parsed) -> bool {
    let path = p.uri.path();
    let json = || serde_json::from_slice::<Value>(&p.body).ok();
    if path.starts_with("/__sim/seed") {
        return json()
            .and_then(|v| v.get("count").and_then(Value::as_u64))
            .is_none_or(|n| n > MAX_SEED);
    }
    if path.starts_with("/__sim/clock") {
        let Some(v) = json() else { return false };
        let days = v.get("days").and_then(Value::as_i64).unwrap_or(0);
        let seconds = v.get("seconds").and_then(Value::as_i64).unwrap_or(0);
        return days.saturating_mul(86_400).saturating_add(seconds) > MAX_ADVANCE_SECONDS
            || v.get("to").is_some_and(|t| !t.is_null());
    }
    if path.starts_with("/clock/set") {
        // The dashboard's date field: only dates within the harness' few years are worth it.
        return url::form_urlencoded::parse(&p.body)
            .find(|(k, _)| k == "date")
            .and_then(|(_, d)| d.get(..4).and_then(|y| y.parse::<u32>().ok()))
            .is_some_and(|year| year > 2028);
    }
    false
}

/// Whether to print each request and its answer's status (`PAYCYCLE_FUZZ_TRACE=1`), to see
/// which routes an input reaches.
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("PAYCYCLE_FUZZ_TRACE").is_some_and(|v| v == "1"))
}

/// The simulator's request handling, in-process.
///
/// Input: up to eight requests separated by NUL bytes. Each is `METHOD PATH`, then
/// `name: value` header lines, an empty line, and the body; a header `sign: auto` becomes the
/// Cryptomus request signature of the body.
pub fn sim_router(data: &[u8]) {
    runtime().block_on(async {
        let start = Utc.timestamp_opt(1_767_225_600, 0).single().unwrap_or_default(); // 2026-01-01
        let config = SimConfig::default().start(start).deterministic_ids(true);
        let sim = match InProcess::new(config, "http://127.0.0.1:8787") {
            Ok(sim) => sim,
            Err(e) => panic!("the default config is refused: {e}"),
        };
        let mut faults_installed = false;
        for record in data.split(|b| *b == 0).take(MAX_REQUESTS) {
            let Some(p) = parse(record) else { continue };
            if too_costly(&p) {
                continue;
            }
            let installs_fault = p.method == Method::POST && p.uri.path().starts_with("/__sim/faults");
            let shown = format!("{} {}", p.method, p.uri);
            let mut req = Request::new(Body::from(p.body));
            *req.method_mut() = p.method;
            *req.uri_mut() = p.uri;
            for (name, value) in p.headers {
                req.headers_mut().append(name, value);
            }
            let res = match sim.router().oneshot(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            };
            let status = res.status();
            // A fault may cut the body short (reset, truncate): reading it must not panic.
            let body = axum::body::to_bytes(res.into_body(), MAX_BODY).await;
            if trace() {
                let text = body
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned());
                eprintln!("sim_router: {shown} -> {status} {}", text.unwrap_or_default());
            }
            if installs_fault && status.is_success() {
                faults_installed = true;
            }
            if status.is_server_error() && !faults_installed {
                let body = body
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                panic!("the simulator answered {status} to `{shown}`: {body}");
            }
        }
        drop(sim);
    });
}

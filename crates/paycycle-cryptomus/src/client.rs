//! The HTTP client of Cryptomus' recurrence API: create, info, list, cancel.
//!
//! Every call is a signed `POST`. The body is serialized once; those exact bytes are signed
//! (`sign = md5(base64(body) + payment_key)`) and sent, so what Cryptomus checks is what was
//! signed.
//!
//! Retries: info and list (read-only) are tried up to [`CryptomusConfig::max_retries`] more
//! times after a transport error or a 5xx, with a doubling backoff. Cancel is retried only when
//! the connection could not be opened (the request was certainly not sent). Create never charges
//! twice: with an `order_id`, a create whose outcome is unknown is sent again with the same
//! `order_id`, and Cryptomus' "duplicate order" answer is resolved by reading that `order_id`
//! (see [`CryptomusClient::create_recurrence`]); without one, it is sent once.
//!
//! Redirects are never followed (the `merchant` and `sign` headers must not reach another host):
//! a 3xx is [`Error::Rejected`] naming its `Location`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use paycycle_core::{Error, GatewayId, Page, Result, paginate};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::config::CryptomusConfig;
use crate::sign;
use crate::wire::{CreateRecurrence, Recurrence, RecurrencePage, RecurrenceRef};

/// Answers larger than this are refused (a recurrence page is a few kilobytes).
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// Characters of a response kept in errors.
const EXCERPT_CHARS: usize = 200;

const GATEWAY: GatewayId = GatewayId::CRYPTOMUS;

/// The four recurrence endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Info,
    List,
    Cancel,
}

impl Op {
    fn path(self) -> &'static str {
        match self {
            Op::Create => "v1/recurrence/create",
            Op::Info => "v1/recurrence/info",
            Op::List => "v1/recurrence/list",
            Op::Cancel => "v1/recurrence/cancel",
        }
    }

    /// Read-only calls may be repeated freely.
    fn read_only(self) -> bool {
        matches!(self, Op::Info | Op::List)
    }
}

/// A client of Cryptomus' recurrence API. Cheap to clone: clones share one connection pool.
///
/// ```no_run
/// use paycycle_core::{Currency, Money};
/// use paycycle_cryptomus::{CreateRecurrence, CryptomusClient, Period, RecurrenceRef};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = CryptomusClient::from_env()?;
/// let price = Money::parse("15", Currency::USD)?;
/// let rec = client
///     .create_recurrence(&CreateRecurrence::new(price, "Gold plan", Period::Monthly).order_id("order-42"))
///     .await?;
/// println!("send the payer to {:?}", rec.url);
/// let again = client.recurrence(RecurrenceRef::order_id("order-42")).await?;
/// assert_eq!(again.uuid, rec.uuid);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CryptomusClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: CryptomusConfig,
}

/// A response as received, before interpretation.
#[derive(Debug)]
struct RawResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    truncated: bool,
}

impl CryptomusClient {
    /// A client with its own connection pool.
    ///
    /// # Errors
    /// [`Error::Config`] (key `http_client`) when the HTTP client cannot be built (TLS setup).
    pub fn new(config: CryptomusConfig) -> Result<CryptomusClient> {
        let http = reqwest::Client::builder()
            // Never follow a redirect: reqwest would carry `merchant` and `sign` to the new host.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.timeout().min(Duration::from_secs(10)))
            .timeout(config.timeout())
            .user_agent(concat!("paycycle-cryptomus/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::config("http_client", e))?;
        Ok(Self::with_http_client(config, http))
    }

    /// A client over an existing `reqwest::Client` (to share its pool); the configured timeout
    /// is applied to every request.
    ///
    /// Build that client with `redirect(reqwest::redirect::Policy::none())`: reqwest keeps
    /// custom headers such as `merchant` and `sign` when it follows a redirect to another host.
    pub fn with_http_client(config: CryptomusConfig, http: reqwest::Client) -> CryptomusClient {
        CryptomusClient {
            inner: Arc::new(Inner { http, config }),
        }
    }

    /// A client configured from the environment (see [`CryptomusConfig::from_env`]).
    ///
    /// # Errors
    /// [`Error::Config`] naming the missing or malformed variable.
    pub fn from_env() -> Result<CryptomusClient> {
        Self::new(CryptomusConfig::from_env()?)
    }

    /// The configuration.
    pub fn config(&self) -> &CryptomusConfig {
        &self.inner.config
    }

    /// `POST /v1/recurrence/create`: creates a recurrence; send the payer to its `url`.
    ///
    /// The request is checked with [`CreateRecurrence::validate`] first.
    ///
    /// With an `order_id` (the gateway always sets one), the caller gets exactly one recurrence:
    /// - an unknown outcome (a transport error after sending, a timeout, a 5xx, an unreadable
    ///   answer: [`Error::may_have_been_sent`]) is retried with the same body, up to
    ///   [`CryptomusConfig::max_retries`] times;
    /// - a "duplicate order" answer (422 with `order_id` not unique), after such a retry or at
    ///   the first try, is resolved with `info` by that `order_id`: the existing recurrence is
    ///   returned when its terms (amount, currency, period, name, payer currency, discount)
    ///   match, else [`Error::Conflict`];
    /// - when the retries are spent, `info` by `order_id` is tried once more before the last
    ///   error is returned.
    ///
    /// Without an `order_id` it is not retried unless the connection could not be opened.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] before sending; [`Error::Conflict`] (the `order_id` exists with
    /// other terms); [`Error::Rejected`] (with `field_errors` for a 422),
    /// [`Error::Authentication`], [`Error::RateLimited`], [`Error::Transport`], [`Error::Decode`].
    pub async fn create_recurrence(&self, request: &CreateRecurrence) -> Result<Recurrence> {
        request.validate()?;
        let body = to_body(request)?;
        let Some(order_id) = request.order_id.as_deref() else {
            return self.create_once(body).await;
        };
        let config = &self.inner.config;
        let mut attempt: u32 = 0;
        loop {
            let err = match self.create_once(body.clone()).await {
                Ok(rec) => return Ok(rec),
                Err(e) => e,
            };
            if is_duplicate_order(&err) {
                tracing::info!(attempt, "cryptomus: the order_id exists; reading it");
                return match self.recurrence(RecurrenceRef::order_id(order_id)).await {
                    Ok(existing) => same_terms(request, existing),
                    // Not a recurrence (an invoice or a wallet holds the order_id): the answer stands.
                    Err(Error::NotFound { .. }) => Err(err),
                    Err(e) => Err(e),
                };
            }
            if !err.may_have_been_sent() {
                return Err(err);
            }
            if attempt >= config.max_retries() {
                tracing::warn!(attempt, error = %err, "cryptomus: create outcome unknown, retries spent; reading the order_id");
                return match self.recurrence(RecurrenceRef::order_id(order_id)).await {
                    Ok(existing) => same_terms(request, existing),
                    Err(_) => Err(err),
                };
            }
            let wait = backoff(config.retry_backoff(), attempt);
            tracing::warn!(attempt, error = %err, wait_ms = wait.as_millis() as u64, "cryptomus: create outcome unknown; sending it again with the same order_id");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One create request (retried only when the connection could not be opened).
    async fn create_once(&self, body: Vec<u8>) -> Result<Recurrence> {
        let raw = self.execute(Op::Create, None, body).await?;
        let (mut rec, json): (Recurrence, Value) = decode(Op::Create, None, raw)?;
        rec.raw = json;
        Ok(rec)
    }

    /// `POST /v1/recurrence/info`: one recurrence, by uuid or by your order id.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown recurrence; [`Error::InvalidInput`] for an empty id;
    /// the errors of [`CryptomusClient::create_recurrence`].
    pub async fn recurrence(&self, which: RecurrenceRef) -> Result<Recurrence> {
        self.one(Op::Info, which).await
    }

    /// `POST /v1/recurrence/cancel`: cancels a recurrence as the merchant and returns it as it
    /// is after the cancel (status `cancel_by_merchant`).
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Rejected`] (e.g. "Already canceled"); the errors of
    /// [`CryptomusClient::create_recurrence`].
    pub async fn cancel_recurrence(&self, which: RecurrenceRef) -> Result<Recurrence> {
        self.one(Op::Cancel, which).await
    }

    async fn one(&self, op: Op, which: RecurrenceRef) -> Result<Recurrence> {
        which.validate()?;
        let body = to_body(&which)?;
        let raw = self.execute(op, None, body).await?;
        let (mut rec, json): (Recurrence, Value) = decode(op, Some(&which), raw)?;
        rec.raw = json;
        Ok(rec)
    }

    /// `POST /v1/recurrence/list`: one page. The body is `{}`; the cursor (the previous page's
    /// `paginate.nextCursor`) goes in the query string, `?cursor=…`.
    ///
    /// # Errors
    /// The errors of [`CryptomusClient::create_recurrence`] (but not `InvalidInput`).
    pub async fn list_recurrences(&self, cursor: Option<&str>) -> Result<RecurrencePage> {
        let cursor = cursor.filter(|c| !c.is_empty());
        let raw = self.execute(Op::List, cursor, b"{}".to_vec()).await?;
        let (mut page, json): (RecurrencePage, Value) = decode(Op::List, None, raw)?;
        if let Some(items) = json.get("items").and_then(Value::as_array) {
            for (rec, item) in page.items.iter_mut().zip(items) {
                rec.raw = item.clone();
            }
        }
        Ok(page)
    }

    /// Every recurrence, page after page. Stops at the first error (which it yields), and
    /// with an error if Cryptomus repeats a cursor.
    pub fn recurrences(&self) -> BoxStream<'static, Result<Recurrence>> {
        let client = self.clone();
        paginate(move |cursor: Option<String>| {
            let client = client.clone();
            async move {
                let page = client.list_recurrences(cursor.as_deref()).await?;
                Ok(Page {
                    next_cursor: page.paginate.next_cursor,
                    items: page.items,
                })
            }
        })
    }

    fn url(&self, op: Op, cursor: Option<&str>) -> Result<Url> {
        let mut url = self
            .inner
            .config
            .base_url()
            .join(op.path())
            .map_err(|e| Error::config("base_url", e))?;
        if let Some(c) = cursor {
            url.query_pairs_mut().append_pair("cursor", c);
        }
        Ok(url)
    }

    /// Sends `body` (signed as is), retrying as the operation allows, and reads the answer.
    async fn execute(&self, op: Op, cursor: Option<&str>, body: Vec<u8>) -> Result<RawResponse> {
        let config = &self.inner.config;
        let url = self.url(op, cursor)?;
        let sign = sign::request_sign(&body, config.payment_key().expose_secret());
        // Hex digits only: always a valid header value.
        let sign = HeaderValue::from_str(&sign).map_err(|e| Error::invalid("sign", e))?;
        let max_retries = config.max_retries();
        let mut attempt: u32 = 0;
        loop {
            let sent = self
                .inner
                .http
                .post(url.clone())
                .timeout(config.timeout())
                .header("merchant", config.merchant_header().clone())
                .header("sign", sign.clone())
                .header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .header(header::ACCEPT, HeaderValue::from_static("application/json"))
                .body(body.clone())
                .send()
                .await;
            let outcome = match sent {
                Ok(response) => {
                    let status = response.status();
                    // Only an error answer's headers are read (`Retry-After`, `Location`).
                    let headers = if status.is_success() {
                        HeaderMap::new()
                    } else {
                        response.headers().clone()
                    };
                    read_limited(response)
                        .await
                        .map(|(body, truncated)| RawResponse {
                            status,
                            headers,
                            body,
                            truncated,
                        })
                        .map_err(|e| (e, true))
                }
                Err(e) => {
                    let may_have_been_sent = !(e.is_connect() || e.is_builder());
                    Err((e, may_have_been_sent))
                }
            };
            let retry = attempt < max_retries
                && match &outcome {
                    Ok(r) => r.status.is_server_error() && op.read_only(),
                    Err((_, may_have_been_sent)) => !may_have_been_sent || op.read_only(),
                };
            match &outcome {
                Ok(r) => tracing::debug!(
                    op = op.path(),
                    attempt,
                    status = r.status.as_u16(),
                    "cryptomus answered"
                ),
                Err((e, _)) => tracing::debug!(op = op.path(), attempt, error = %e, "cryptomus request failed"),
            }
            if !retry {
                return outcome.map_err(|(e, may_have_been_sent)| Error::Transport {
                    gateway: GATEWAY,
                    may_have_been_sent,
                    source: Box::new(e),
                });
            }
            let wait = backoff(config.retry_backoff(), attempt);
            tracing::warn!(
                op = op.path(),
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying cryptomus call"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// A 422 saying the `order_id` is taken (`validation.unique`, "has already been taken").
fn is_duplicate_order(e: &Error) -> bool {
    let Error::Rejected { field_errors, .. } = e else {
        return false;
    };
    field_errors.get("order_id").is_some_and(|msgs| {
        msgs.iter().any(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("unique") || m.contains("taken") || m.contains("exist")
        })
    })
}

/// `existing` when it carries the terms `request` asked for, else [`Error::Conflict`].
fn same_terms(request: &CreateRecurrence, existing: Recurrence) -> Result<Recurrence> {
    let mut differ = Vec::new();
    if existing.amount != Some(request.amount) {
        differ.push(format!("amount {:?} ≠ {}", existing.amount, request.amount));
    }
    if existing.currency.as_ref() != Some(&request.currency) {
        differ.push(format!("currency {:?} ≠ {}", existing.currency, request.currency));
    }
    if existing.period.as_ref() != Some(&request.period) {
        differ.push(format!("period {:?} ≠ {}", existing.period, request.period.as_str()));
    }
    if existing.name.as_deref().is_some_and(|n| n != request.name) {
        differ.push(format!("name {:?} ≠ {:?}", existing.name, request.name));
    }
    if let Some(to) = &request.to_currency
        && existing.payer_currency.as_ref().is_some_and(|p| p != to)
    {
        differ.push(format!("payer currency {:?} ≠ {to}", existing.payer_currency));
    }
    if request.discount_days.is_some() && existing.discount_days != request.discount_days {
        differ.push(format!(
            "discount_days {:?} ≠ {:?}",
            existing.discount_days, request.discount_days
        ));
    }
    if request.discount_amount.is_some() && existing.discount_amount != request.discount_amount {
        differ.push(format!(
            "discount_amount {:?} ≠ {:?}",
            existing.discount_amount, request.discount_amount
        ));
    }
    if differ.is_empty() {
        return Ok(existing);
    }
    Err(Error::Conflict {
        gateway: GATEWAY,
        message: format!(
            "order_id `{}` already belongs to recurrence `{}` with other terms: {}",
            existing.order_id.as_deref().unwrap_or_default(),
            existing.uuid,
            differ.join("; ")
        ),
    })
}

/// The wait before retry number `attempt + 1`: `base`, `2 × base`, `4 × base`…, at most 10 s.
fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.min(16))
        .min(Duration::from_secs(10))
}

fn to_body<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::invalid("body", e))
}

/// Reads at most [`MAX_RESPONSE_BYTES`]; the flag says the body was cut.
async fn read_limited(mut response: reqwest::Response) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            let room = MAX_RESPONSE_BYTES - body.len();
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// The start of a body, at most [`EXCERPT_CHARS`] characters, cut on a character boundary.
pub(crate) fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(EXCERPT_CHARS).collect()
}

fn decode_error(
    status: StatusCode,
    path: impl Into<String>,
    body: &[u8],
    source: impl Into<paycycle_core::BoxError>,
) -> Error {
    Error::Decode {
        gateway: GATEWAY,
        status: status.as_u16(),
        path: path.into(),
        excerpt: excerpt(body),
        source: source.into(),
    }
}

/// `errors` of a 422: `{"field": ["message", …]}`; a lone string is taken as one message.
fn field_errors(errors: &Value) -> BTreeMap<String, Vec<String>> {
    let Some(map) = errors.as_object() else {
        return BTreeMap::new();
    };
    map.iter()
        .map(|(field, msgs)| {
            let msgs = match msgs {
                Value::Array(items) => items
                    .iter()
                    .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                other => vec![other.to_string()],
            };
            (field.clone(), msgs)
        })
        .collect()
}

fn not_found(op: Op, which: Option<&RecurrenceRef>) -> Error {
    match which {
        Some(w) => Error::NotFound {
            gateway: GATEWAY,
            resource: "recurrence".into(),
            id: w.id().to_owned(),
        },
        None => Error::NotFound {
            gateway: GATEWAY,
            resource: "endpoint".into(),
            id: format!("/{}", op.path()),
        },
    }
}

/// Interprets an answer: the `result` of a success, or the error it means.
///
/// | answer | error |
/// |---|---|
/// | HTTP 429 | [`Error::RateLimited`] (with `Retry-After`) |
/// | HTTP 3xx (never followed) | [`Error::Rejected`] naming the `Location` |
/// | `{"message":"Invalid Sign."}`, HTTP 401, HTTP 403 | [`Error::Authentication`] |
/// | `{"state":1,"errors":{…}}` (HTTP 422) | [`Error::Rejected`] with `field_errors` |
/// | HTTP 404; info/cancel with a message containing "not found" | [`Error::NotFound`] |
/// | `{"state":1,"message":…}`, any other JSON error | [`Error::Rejected`] |
/// | not JSON, too large, or a `result` that does not read | [`Error::Decode`] with the path |
fn decode<T: DeserializeOwned>(op: Op, which: Option<&RecurrenceRef>, raw: RawResponse) -> Result<(T, Value)> {
    let RawResponse {
        status,
        headers,
        body,
        truncated,
    } = raw;
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(Error::RateLimited {
            gateway: GATEWAY,
            retry_after: paycycle_core::retry_after(&headers),
        });
    }
    if status.is_redirection() {
        let to = headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| "nowhere".to_owned(), |l| excerpt(l.as_bytes()));
        return Err(Error::Rejected {
            gateway: GATEWAY,
            status: status.as_u16(),
            message: Some(format!("redirected to {to}; redirects are not followed")),
            field_errors: BTreeMap::new(),
        });
    }
    let auth = |message: String| Error::Authentication {
        gateway: GATEWAY,
        status: Some(status.as_u16()),
        message,
    };
    let denied = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
    if truncated {
        if denied {
            return Err(auth(excerpt(&body)));
        }
        return Err(decode_error(
            status,
            ".",
            &body,
            format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes"),
        ));
    }
    let mut json: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            if denied {
                return Err(auth(excerpt(&body)));
            }
            if status == StatusCode::NOT_FOUND {
                return Err(not_found(op, which));
            }
            return Err(decode_error(status, ".", &body, e));
        }
    };
    let message = json.get("message").and_then(Value::as_str).map(str::to_owned);
    if denied
        || message
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().contains("invalid sign"))
    {
        return Err(auth(message.unwrap_or_else(|| excerpt(&body))));
    }
    // `state` is 0 on success, 1 on error; tolerate it as a string or missing.
    let state = json.get("state").and_then(|s| match s {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    let failed = !status.is_success() || state.is_some_and(|s| s != 0);
    let errors = json
        .get("errors")
        .filter(|e| e.as_object().is_some_and(|m| !m.is_empty()));
    if !failed {
        if let Some(result) = json.get("result") {
            // Read directly; only a `result` that does not read is read again to find the
            // member's path (the same reading, so the same outcome).
            let typed = T::deserialize(result).or_else(|_| {
                serde_path_to_error::deserialize::<_, T>(result).map_err(|e| {
                    let path = match e.path().to_string() {
                        root if root == "." => "result".to_owned(),
                        inner => format!("result.{inner}"),
                    };
                    decode_error(status, path, &body, e.into_inner())
                })
            })?;
            // The answer is not needed any more: its `result` is moved out, not copied.
            let result = json.get_mut("result").map(Value::take).unwrap_or_default();
            return Ok((typed, result));
        }
        if message.is_none() && errors.is_none() {
            return Err(decode_error(status, "result", &body, "the answer has no `result`"));
        }
    }
    if let Some(errors) = errors {
        return Err(Error::Rejected {
            gateway: GATEWAY,
            status: status.as_u16(),
            message,
            field_errors: field_errors(errors),
        });
    }
    let says_not_found = message
        .as_deref()
        .is_some_and(|m| m.to_ascii_lowercase().contains("not found"));
    if status == StatusCode::NOT_FOUND || (which.is_some() && says_not_found) {
        return Err(not_found(op, which));
    }
    Err(Error::Rejected {
        gateway: GATEWAY,
        status: status.as_u16(),
        message: message.or_else(|| Some(excerpt(&body))),
        field_errors: BTreeMap::new(),
    })
}

/// Entry points for the fuzz targets (`crates/paycycle-fuzz`): the client's private answer
/// decoding, reachable without a network. Not part of the stable API.
#[doc(hidden)]
pub mod fuzzing {
    use super::{Op, RawResponse, RecurrenceRef, decode};
    use crate::wire::{Recurrence, RecurrencePage};
    use paycycle_core::Error;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    /// Interprets one answer exactly as the client does after a call of operation `op % 4`
    /// (create, info by uuid, list, cancel by uuid), into the result type that operation reads.
    /// `None` for a status code HTTP cannot carry; else the error the answer became, if any.
    pub fn answer(op: u8, status: u16, headers: &HeaderMap, body: &[u8], truncated: bool) -> Option<Result<(), Error>> {
        let status = StatusCode::from_u16(status).ok()?;
        let raw = RawResponse {
            status,
            headers: headers.clone(),
            body: body.to_vec(),
            truncated,
        };
        let which = RecurrenceRef::uuid("00000000-0000-4000-8000-000000000001");
        Some(match op % 4 {
            0 => decode::<Recurrence>(Op::Create, None, raw).map(drop),
            1 => decode::<Recurrence>(Op::Info, Some(&which), raw).map(drop),
            2 => decode::<RecurrencePage>(Op::List, None, raw).map(drop),
            _ => decode::<Recurrence>(Op::Cancel, Some(&which), raw).map(drop),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            truncated: false,
        }
    }

    fn info(status: u16, body: &str) -> Result<(Recurrence, Value)> {
        decode(Op::Info, Some(&RecurrenceRef::uuid("u-404")), raw(status, body))
    }

    fn create(status: u16, body: &str) -> Result<(Recurrence, Value)> {
        decode(Op::Create, None, raw(status, body))
    }

    #[test]
    fn success_returns_the_result_and_its_json() {
        let (rec, json) = info(
            200,
            r#"{"state":0,"result":{"uuid":"u-1","amount":"15","status":"active"}}"#,
        )
        .unwrap();
        assert_eq!(rec.uuid, "u-1");
        assert_eq!(json, json!({"uuid":"u-1","amount":"15","status":"active"}));
    }

    #[test]
    fn validation_errors_keep_every_field() {
        let body = r#"{"state":1,"errors":{"uuid":["validation.required_without"],"order_id":["validation.required_without","x"],"name":"one"}}"#;
        match info(422, body) {
            Err(Error::Rejected {
                status: 422,
                field_errors,
                ..
            }) => {
                assert_eq!(field_errors["uuid"], vec!["validation.required_without"]);
                assert_eq!(field_errors["order_id"].len(), 2);
                assert_eq!(field_errors["name"], vec!["one"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn messages_are_rejections_unless_they_mean_not_found() {
        match create(400, r#"{"state":1,"message":"Currency not found"}"#) {
            Err(Error::Rejected {
                status: 400,
                message,
                field_errors,
                ..
            }) => {
                assert_eq!(
                    message.as_deref(),
                    Some("Currency not found"),
                    "create has no object to miss"
                );
                assert!(field_errors.is_empty());
            }
            other => panic!("{other:?}"),
        }
        match info(200, r#"{"state":1,"message":"Already canceled"}"#) {
            Err(Error::Rejected {
                status: 200, message, ..
            }) => assert_eq!(message.as_deref(), Some("Already canceled")),
            other => panic!("{other:?}"),
        }
        for (status, body) in [
            (400, r#"{"state":1,"message":"Recurrence Not Found"}"#),
            (404, r#"{"state":1,"message":"whatever"}"#),
            (404, "<html>404</html>"),
        ] {
            match info(status, body) {
                Err(Error::NotFound { resource, id, .. }) => {
                    assert_eq!(resource, "recurrence");
                    assert_eq!(id, "u-404");
                }
                other => panic!("{status} {body}: {other:?}"),
            }
        }
        assert!(matches!(create(404, "nope"), Err(Error::NotFound { resource, .. }) if resource == "endpoint"));
    }

    #[test]
    fn bad_signs_and_denials_are_authentication_errors() {
        for (status, body) in [
            (401, r#"{"message":"Invalid Sign."}"#),
            (200, r#"{"message":"Invalid Sign."}"#),
            (403, "<html>Forbidden by the CDN</html>"),
            (401, r#"{"state":1,"message":"Unauthenticated"}"#),
        ] {
            match info(status, body) {
                Err(Error::Authentication { status: s, message, .. }) => {
                    assert_eq!(s, Some(status));
                    assert!(!message.is_empty());
                }
                other => panic!("{status} {body}: {other:?}"),
            }
        }
    }

    #[test]
    fn rate_limits_carry_retry_after() {
        let mut r = raw(429, "Too Many Requests");
        r.headers.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        match decode::<Recurrence>(Op::List, None, r) {
            Err(Error::RateLimited { retry_after, .. }) => assert_eq!(retry_after, Some(Duration::from_secs(7))),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            create(429, "{}"),
            Err(Error::RateLimited { retry_after: None, .. })
        ));
    }

    #[test]
    fn undecodable_answers_name_the_path_and_show_an_excerpt() {
        let html = format!("<!DOCTYPE html><html><body>{}</body></html>", "é".repeat(500));
        match info(502, &html) {
            Err(e @ Error::Decode { .. }) => {
                assert!(e.is_retryable(), "a 502 page is worth retrying");
                let Error::Decode {
                    status, path, excerpt, ..
                } = e
                else {
                    unreachable!()
                };
                assert_eq!(status, 502);
                assert_eq!(path, ".");
                assert_eq!(excerpt.chars().count(), 200);
                assert!(excerpt.starts_with("<!DOCTYPE html>"));
            }
            other => panic!("{other:?}"),
        }
        match info(200, r#"{"state":0,"result":{"uuid":"u","amount":"fifteen"}}"#) {
            Err(Error::Decode { path, status: 200, .. }) => assert_eq!(path, "result.amount"),
            other => panic!("{other:?}"),
        }
        for body in [
            r#"{"state":0,"result":null}"#,
            r#"{"state":0,"result":{"status":"active"}}"#,
        ] {
            match info(200, body) {
                Err(Error::Decode { path, .. }) => assert_eq!(path, "result", "{body}"),
                other => panic!("{other:?}"),
            }
        }
        match decode::<RecurrencePage>(
            Op::List,
            None,
            raw(
                200,
                r#"{"state":0,"result":{"items":[{"uuid":"a"},{"uuid":"b","amount":"x"}]}}"#,
            ),
        ) {
            Err(Error::Decode { path, .. }) => assert_eq!(path, "result.items[1].amount"),
            other => panic!("{other:?}"),
        }
        match info(200, r#"{"state":0}"#) {
            Err(Error::Decode { path, .. }) => assert_eq!(path, "result"),
            other => panic!("{other:?}"),
        }
        // A 200 without `result` but with a message is the provider refusing, not garbage.
        assert!(matches!(
            info(200, r#"{"message":"Merchant blocked"}"#),
            Err(Error::Rejected { .. })
        ));
        let mut cut = raw(200, r#"{"state":0,"result":{"#);
        cut.truncated = true;
        assert!(matches!(
            decode::<Recurrence>(Op::Info, None, cut),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn other_json_errors_are_rejections_with_the_body() {
        match info(500, r#"{"error":"boom"}"#) {
            Err(e @ Error::Rejected { .. }) => {
                assert!(e.is_retryable());
                assert!(e.to_string().contains("boom"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let b = Duration::from_millis(200);
        assert_eq!(backoff(b, 0), Duration::from_millis(200));
        assert_eq!(backoff(b, 1), Duration::from_millis(400));
        assert_eq!(backoff(b, 2), Duration::from_millis(800));
        assert_eq!(backoff(b, 40), Duration::from_secs(10));
    }

    #[test]
    fn excerpts_stop_on_a_character_boundary() {
        let s = "ж".repeat(300);
        let e = excerpt(s.as_bytes());
        assert_eq!(e.chars().count(), 200);
        assert_eq!(excerpt(b"\xff\xfeabc"), "\u{fffd}\u{fffd}abc");
    }
}

//! The `/api/...` routes, authenticated by the secret key alone or both key headers; every
//! error among them (also unknown routes and wrong methods) is Recurrente's JSON error body.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, patch, post};
use paycycle_core::CancelledBy;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value, json};

use super::GATEWAY;
use super::flow::{self, DECLINE_REASON};
use super::input::{Obj, Reject, body_map, query_map};
use super::json::{self, Ctx};
use super::parse::{self, NewIds};
use super::store::{
    Checkout, CheckoutStatus, Coupon, Cur, Customer, Endpoint, Line, MethodKind, PayMethod, PayStatus, Payment,
    Paymentable, Product, Recurring, Refund, Start, State as Store, SubInfo, Transfer, TransferSetup, Unit, User,
};
use super::{Frontend, Sim};
use crate::engine::{EngineError, NewSubscription, SeedState};
use crate::{SimError, constant_time_eq};

/// Items per page when `items` is not given.
pub(crate) const DEFAULT_ITEMS: usize = 10;
/// The largest page the simulator serves (a larger `items` is cut to it).
pub(crate) const MAX_ITEMS: usize = 100;

type Shd = State<Frontend>;
type Answer = Result<Response, Reject>;

pub(super) fn routes() -> Router<Frontend> {
    // Every route answers a method it does not have with a JSON 405 (axum's own is empty).
    let m = |method: MethodRouter<Frontend>| method.fallback(wrong_method);
    // Collection routes answer with and without the trailing slash the reference's URLs show.
    let both = |r: Router<Frontend>, path: &str, method: MethodRouter<Frontend>| {
        let method = m(method);
        r.route(path, method.clone()).route(&format!("{path}/"), method)
    };
    let mut r = Router::new();
    r = both(r, "/api/test", get(test));
    r = both(r, "/api/checkouts", post(create_checkout).get(list_checkouts));
    r = both(r, "/api/products", post(create_product).get(list_products));
    r = both(r, "/api/coupons", post(create_coupon).get(list_coupons));
    r = both(r, "/api/subscriptions", get(list_subscriptions));
    r = both(r, "/api/users", post(create_user));
    r = both(r, "/api/customers", post(create_customer).get(list_customers));
    r = both(r, "/api/transfers", post(create_transfer));
    r = both(r, "/api/refunds", post(create_refund));
    r = both(r, "/api/webhook_endpoints", post(create_endpoint).get(list_endpoints));
    r = both(r, "/api/one_time_payments", post(create_one_time_payment));
    r.route(
        "/api/checkouts/{id}",
        m(get(get_checkout).patch(update_checkout).put(update_checkout)),
    )
    .route("/api/payment_intents/{id}", m(patch(update_payment_intent)))
    .route("/api/invoices/{id}", m(patch(update_payment_intent)))
    .route("/api/intents/{id}", m(get(get_intent)))
    .route(
        "/api/products/{id}",
        m(get(get_product).patch(update_product).delete(delete_product)),
    )
    .route(
        "/api/coupons/{id}",
        m(get(get_coupon).patch(update_coupon).delete(delete_coupon)),
    )
    .route(
        "/api/subscriptions/{id}",
        m(get(get_subscription)
            .put(update_subscription)
            .delete(cancel_subscription)),
    )
    .route(
        "/api/customers/{id}",
        m(get(get_customer).put(update_customer).patch(update_customer)),
    )
    .route("/api/refunds/{id}", m(get(get_refund)))
    .route("/api/webhook_endpoints/{id}", m(axum::routing::delete(delete_endpoint)))
    .route("/api/{*rest}", any(unknown))
    .route("/api", any(unknown))
    // Whatever else answers an error under `/api` (an extractor's plain-text rejection) is
    // turned into Recurrente's JSON error body.
    .layer(axum::middleware::map_response(json_errors))
}

// ---------------------------------------------------------------------------------------------
// Plumbing

/// Which keys a route accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// `X-SECRET-KEY` alone, or the pair `X-PUBLIC-KEY` + `X-SECRET-KEY` of one account and mode.
    Secret,
    /// As [`Keys::Secret`], and also `X-PUBLIC-KEY` alone (`POST /api/checkouts`, for checkouts
    /// created from a browser).
    SecretOrPublic,
}

/// The secret key alone, or both keys, must be the simulator's, compared in constant time (a
/// present public key is checked whatever the secret gives). A public key of another account
/// or mode next to the right secret key is refused, as Recurrente refuses a mismatched pair.
/// `Authorization: Bearer` is not a Recurrente scheme and authenticates nothing.
fn authenticate(s: &Sim<'_>, headers: &HeaderMap, keys: Keys) -> Result<(), Reject> {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    let public = header("x-public-key");
    let secret = header("x-secret-key");
    let public_ok = |k: &str| constant_time_eq(k.as_bytes(), s.config.recurrente_public_key.as_bytes());
    let secret_ok = |k: &str| constant_time_eq(k.as_bytes(), s.config.recurrente_secret_key.as_bytes());
    let ok = match (public, secret) {
        (Some(p), Some(k)) => public_ok(p) & secret_ok(k),
        (None, Some(k)) => secret_ok(k),
        (Some(p), None) => keys == Keys::SecretOrPublic && public_ok(p),
        (None, None) => false,
    };
    if ok { Ok(()) } else { Err(Reject::unauthorized()) }
}

/// Authenticates, brings the engine up to the clock, runs `f`.
fn handle(f: &Frontend, headers: &HeaderMap, op: impl FnOnce(&Sim<'_>) -> Answer) -> Response {
    handle_with(f, headers, Keys::Secret, op)
}

fn handle_with(f: &Frontend, headers: &HeaderMap, keys: Keys, op: impl FnOnce(&Sim<'_>) -> Answer) -> Response {
    let s = &f.sim();
    if let Err(r) = authenticate(s, headers, keys) {
        return r.into_response();
    }
    s.sync();
    match op(s) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn ok(body: Value) -> Answer {
    Ok(answer(StatusCode::OK, body))
}

fn created(body: Value) -> Answer {
    Ok(answer(StatusCode::CREATED, body))
}

/// The fields of a create or update body, read as a Rails API reads them: wrapped under the
/// resource's name (`{"checkout": {...}}`, errors then naming `checkout.<field>`) or at the top
/// level. `prefix` is `key` followed by a dot.
fn resource<'a>(input: &'a Map<String, Value>, key: &str, prefix: &'static str) -> Result<Obj<'a>, Reject> {
    match input.get(key) {
        Some(Value::Object(m)) => Ok(Obj::new(m, prefix)),
        None | Some(Value::Null) => Ok(Obj::new(input, "")),
        Some(_) => Err(Reject::invalid(key, "must be an object")),
    }
}

/// As [`resource`], for the routes whose reference wraps the body (`product`, `coupon`): an
/// empty body is `<key> is required`, as Rails' `params.require(key)` answers.
fn required_resource<'a>(input: &'a Map<String, Value>, key: &str, prefix: &'static str) -> Result<Obj<'a>, Reject> {
    if input.is_empty() {
        return Err(Reject::invalid(key, "is required"));
    }
    resource(input, key, prefix)
}

/// `page` (from 1) and `items` (default 10, at most 100); unreadable values fall back to them.
#[derive(Debug, Clone, Copy)]
struct Paging {
    page: usize,
    items: usize,
}

impl Paging {
    fn from(q: &Map<String, Value>) -> Paging {
        let read = |k: &str| {
            q.get(k)
                .and_then(Value::as_str)
                .and_then(|v| v.trim().parse::<usize>().ok())
        };
        Paging {
            page: read("page").filter(|p| *p >= 1).unwrap_or(1),
            items: read("items")
                .filter(|n| *n >= 1)
                .unwrap_or(DEFAULT_ITEMS)
                .min(MAX_ITEMS),
        }
    }
}

/// One page of `all` (newest first) as a bare array, with the pagination headers.
fn page(s: &Sim<'_>, path: &str, q: &Map<String, Value>, all: Vec<Value>) -> Answer {
    page_as(s, path, q, all, Value::Array)
}

/// One page of `all`, its items shaped by `body` (a bare array, or `{"customers": [...]}`),
/// with the five headers of Recurrente's pagination page (those of Ruby pagy's headers extra):
/// `Current-Page`, `Page-Items` (the page size asked for, not the rows on this page),
/// `Total-Pages`, `Total-Count`, and `Link` with `first`, `prev` (not on the first page), `next`
/// (not on the last) and `last`.
fn page_as(s: &Sim<'_>, path: &str, q: &Map<String, Value>, all: Vec<Value>, body: fn(Vec<Value>) -> Value) -> Answer {
    let total = all.len();
    page_of(s, path, q, total, body, |skip, take| {
        all.into_iter().skip(skip).take(take).collect()
    })
}

/// As [`page_as`] for a list of `total` rows of which only the page's are rendered:
/// `rows(skip, take)` gives the rows of the requested page, newest first.
fn page_of(
    s: &Sim<'_>,
    path: &str,
    q: &Map<String, Value>,
    total: usize,
    body: fn(Vec<Value>) -> Value,
    rows: impl FnOnce(usize, usize) -> Vec<Value>,
) -> Answer {
    let p = Paging::from(q);
    let pages = total.div_ceil(p.items).max(1);
    let skip = p.page.saturating_sub(1).saturating_mul(p.items);
    let items = rows(skip, p.items);
    let link_to = |n: usize, rel: &str| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in q {
            if k != "page" && k != "items" {
                if let Some(v) = v.as_str() {
                    query.append_pair(k, v);
                }
            }
        }
        query.append_pair("page", &n.to_string());
        query.append_pair("items", &p.items.to_string());
        format!("<{}{path}?{}>; rel=\"{rel}\"", s.base_url, query.finish())
    };
    let mut links = vec![link_to(1, "first")];
    if p.page > 1 {
        links.push(link_to(p.page.saturating_sub(1).min(pages), "prev"));
    }
    if p.page < pages {
        links.push(link_to(p.page.saturating_add(1), "next"));
    }
    links.push(link_to(pages, "last"));
    let mut response = answer(StatusCode::OK, body(items));
    let h = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    set("current-page", p.page.to_string());
    set("page-items", p.items.to_string());
    set("total-pages", pages.to_string());
    set("total-count", total.to_string());
    set("link", links.join(", "));
    Ok(response)
}

/// A route that exists, asked with a method it does not have: authenticated like the others,
/// then 405 with a JSON body.
async fn wrong_method(State(s): Shd, headers: HeaderMap) -> Response {
    handle(&s, &headers, |_| Err(Reject::method_not_allowed()))
}

/// Turns an error answer that is not JSON (an extractor's plain-text rejection, an empty body)
/// into `{"message": ...}` with the same status.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("Error").to_owned(),
        t => t.to_owned(),
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let mut out = answer(status, json!({ "message": message }));
    for (k, v) in &parts.headers {
        if k != axum::http::header::CONTENT_TYPE {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Test, users, transfers

async fn test(State(s): Shd, headers: HeaderMap) -> Response {
    handle(&s, &headers, |s| {
        ok(json!({ "message": format!("Hello {}", s.config.recurrente_account_name) }))
    })
}

fn looks_like_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

async fn create_user(State(s): Shd, headers: HeaderMap, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        let input = body_map(&headers, &body)?;
        let o = resource(&input, "user", "user.")?;
        let email = o.required_string("email")?.trim().to_owned();
        if !looks_like_email(&email) {
            return Err(Reject::invalid(o.name("email"), "must be an e-mail address"));
        }
        let full_name = o.string("full_name")?;
        let mut st = s.recurrente.lock();
        // One user per e-mail address: creating it again answers the same user.
        if let Some(u) = st.user_by_email(&email) {
            return ok(json::user(u));
        }
        let user = User {
            id: flow::new_id(s, "us_", 8),
            email,
            full_name,
        };
        let body = json::user(&user);
        st.users.insert(user);
        ok(body)
    })
}

// ---------------------------------------------------------------------------------------------
// Customers (`cus_…`): the merchant's profile of a user, found or created by e-mail address

/// A string field of an update: absent is `None`, `null` (or an empty string) clears it.
fn nullable_string(o: &Obj<'_>, key: &str) -> Result<Option<Option<String>>, Reject> {
    match o.raw(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(_) => o.string(key).map(Some),
    }
}

/// Merges `patch` into `target`: objects recursively, a `null` deletes the key, anything else
/// replaces it.
fn deep_merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match (v, target.get_mut(k)) {
            (Value::Null, _) => {
                target.remove(k);
            }
            (Value::Object(p), Some(Value::Object(t))) => deep_merge(t, p),
            (v, _) => {
                let mut v = v.clone();
                if let Value::Object(m) = &mut v {
                    // A new object is merged into nothing: its nulls are dropped too.
                    let patch = std::mem::take(m);
                    deep_merge(m, &patch);
                }
                target.insert(k.clone(), v);
            }
        }
    }
}

async fn create_customer(State(s): Shd, headers: HeaderMap, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        let input = body_map(&headers, &body)?;
        let o = resource(&input, "customer", "customer.")?;
        let email = o.required_string("email")?.trim().to_owned();
        if !looks_like_email(&email) {
            return Err(Reject::invalid(o.name("email"), "must be an e-mail address"));
        }
        let full_name = o.string("full_name")?;
        let name = o.string("name")?.or_else(|| full_name.clone());
        let phone = o.string("phone")?;
        let address = o.string("address")?;
        let nit = o.string("nit")?;
        let metadata = match o.raw("metadata") {
            Some(Value::Null) => None,
            _ => o.metadata("metadata")?,
        };
        let mut st = s.recurrente.lock();
        // Find: the customer of the user with this e-mail address, unchanged.
        let user = st.user_by_email(&email).cloned();
        if let Some(c) = user.as_ref().and_then(|u| st.customer_of_user(&u.id)) {
            return ok(json::customer_object(c));
        }
        // Or create: the user when there is none, and the customer attached to it.
        let user_id = match user {
            Some(u) => u.id,
            None => {
                let u = User {
                    id: flow::new_id(s, "us_", 8),
                    email: email.clone(),
                    full_name: full_name.or_else(|| name.clone()),
                };
                let id = u.id.clone();
                st.users.insert(u);
                id
            }
        };
        let mut md = Map::new();
        if let Some(m) = &metadata {
            deep_merge(&mut md, m);
        }
        let c = Customer {
            id: flow::new_id(s, "cus_", 8),
            user_id,
            email,
            name,
            phone,
            address,
            nit,
            metadata: md,
        };
        let body = json::customer_object(&c);
        st.customers.insert(c);
        created(body)
    })
}

/// The customer a path names: by `?user_id=` when given (the path's id is then only a
/// placeholder), else by its `cus_…` id, else by the id of its user.
fn find_customer<'a>(st: &'a Store, id: &str, q: &Map<String, Value>) -> Result<&'a Customer, Reject> {
    let by_user = Obj::new(q, "").string("user_id")?;
    match by_user {
        Some(u) => st.customer_of_user(&u),
        None => st.customers.get(id).or_else(|| st.customer_of_user(id)),
    }
    .ok_or_else(Reject::not_found)
}

async fn get_customer(State(s): Shd, headers: HeaderMap, Path(id): Path<String>, RawQuery(q): RawQuery) -> Response {
    handle(&s, &headers, |s| {
        let q = query_map(q.as_deref());
        let st = s.recurrente.lock();
        ok(json::customer_object(find_customer(&st, &id, &q)?))
    })
}

async fn list_customers(State(s): Shd, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    handle(&s, &headers, |s| {
        let q = query_map(q.as_deref());
        let user = Obj::new(&q, "").string("user_id")?;
        let st = s.recurrente.lock();
        let all = st
            .customers
            .newest_first()
            .filter(|c| user.as_ref().is_none_or(|u| &c.user_id == u))
            .map(json::customer_object)
            .collect();
        page_as(s, "/api/customers", &q, all, |items| json!({ "customers": items }))
    })
}

async fn update_customer(
    State(s): Shd,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    handle(&s, &headers, |s| {
        let q = query_map(q.as_deref());
        let input = body_map(&headers, &body)?;
        let o = resource(&input, "customer", "customer.")?;
        let mut st = s.recurrente.lock();
        let mut c = find_customer(&st, &id, &q)?.clone();
        // Read everything first: nothing changes unless all of it is valid. `email` is not
        // updatable (it is the customer's key) and is ignored, as are unknown fields.
        let name = nullable_string(&o, "name")?.or(nullable_string(&o, "full_name")?);
        let phone = nullable_string(&o, "phone")?;
        let address = nullable_string(&o, "address")?;
        let nit = nullable_string(&o, "nit")?;
        let metadata = match o.raw("metadata") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => o.metadata("metadata")?,
        };
        if let Some(v) = name {
            c.name = v;
        }
        if let Some(v) = phone {
            c.phone = v;
        }
        if let Some(v) = address {
            c.address = v;
        }
        if let Some(v) = nit {
            c.nit = v;
        }
        if let Some(m) = metadata {
            deep_merge(&mut c.metadata, &m);
            super::input::check_metadata(&o.name("metadata"), &c.metadata)?;
        }
        let body = json::customer_object(&c);
        let key = c.id.clone();
        if let Some(slot) = st.customers.get_mut(&key) {
            *slot = c;
        }
        ok(body)
    })
}

async fn create_transfer(State(s): Shd, headers: HeaderMap, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        let input = body_map(&headers, &body)?;
        let o = resource(&input, "transfer", "transfer.")?;
        o.required_currency("currency")?;
        o.required_cents("amount_in_cents")?;
        o.required_string("recipient_id")?;
        let id = flow::new_id(s, "tr_", 8);
        s.recurrente.lock().transfers.insert(Transfer { id: id.clone() });
        ok(json!({ "id": id, "status": "completed" }))
    })
}

// ---------------------------------------------------------------------------------------------
// Checkouts

/// Commits the unlisted products made for custom items.
fn commit_products(st: &mut Store, products: Vec<Product>) {
    for p in products {
        st.products.insert(p);
    }
}

/// Parses `items` into lines (and the products custom items need). `zero_ok`: inline
/// amounts of 0 are read (a setup checkout's).
fn lines(
    s: &Sim<'_>,
    st: &Store,
    o: &Obj<'_>,
    name_required: bool,
    zero_ok: bool,
) -> Result<(Vec<Line>, Vec<Product>), Reject> {
    let items = parse::objects(o, "items")?.ok_or_else(|| Reject::invalid(o.name("items"), "is required"))?;
    if items.is_empty() {
        return Err(Reject::invalid(o.name("items"), "must hold at least one item"));
    }
    let mut lines = Vec::with_capacity(items.len());
    let mut products = Vec::new();
    for (prefix, m) in &items {
        let item = Obj::new(m, prefix);
        let ids = || NewIds {
            product: flow::new_id(s, "prod_", 8),
            price: flow::new_id(s, "price_", 8),
        };
        let (line, product) = parse::item(st, &item, ids, name_required, zero_ok)?;
        lines.push(line);
        products.extend(product);
    }
    Ok((lines, products))
}

/// The smallest inline `amount_in_cents` of a checkout item: 5.00 GTQ, 1.00 USD.
fn minimum_cents(currency: Cur) -> i64 {
    match currency {
        Cur::Gtq => 500,
        Cur::Usd => 100,
    }
}

/// A checkout's items together: inline amounts at least the minimum (0 only in a setup
/// checkout); recurring items (one subscription, or an order of several) next to one-time items
/// (a sign-up fee, charged once with the first payment). The recurring items bill as one
/// subscription, so they must share one recurrence (interval, trial, end).
fn check_checkout_lines(o: &Obj<'_>, lines: &[Line], setup: bool) -> Result<(), Reject> {
    let items = o.name("items");
    for (i, l) in lines.iter().enumerate() {
        let field = format!("{items}[{i}].amount_in_cents");
        if setup {
            // A setup checkout charges nothing: its items (if any) are one-time items of 0.
            if l.recurring.is_some() || l.unit_cents != 0 {
                return Err(Reject::invalid(
                    field,
                    "must be 0 on a one-time item: a setup checkout charges nothing",
                ));
            }
            continue;
        }
        let min = minimum_cents(l.currency);
        if l.inline && l.unit_cents < min {
            return Err(Reject::invalid(
                field,
                format!(
                    "must be at least {min} in {} (0 only in a setup checkout: one one-time item)",
                    l.currency.as_str()
                ),
            ));
        }
    }
    let mut recurring = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| Some((i, l.recurring.as_ref()?)));
    if let Some((_, first)) = recurring.next() {
        if let Some((i, _)) = recurring.find(|(_, r)| *r != first) {
            return Err(Reject::invalid(
                format!("{items}[{i}]"),
                "recurs differently from the first recurring item: the simulator bills a checkout's recurring items as one subscription",
            ));
        }
    }
    Ok(())
}

/// Whether a checkout is a setup (card-saving) one: `mode: "setup"`, or exactly one one-time
/// item of 0 (the card-update guide's two spellings).
fn is_setup(mode: Option<&str>, lines: &[Line]) -> bool {
    mode == Some("setup") || matches!(lines, [l] if l.recurring.is_none() && l.unit_cents == 0)
}

async fn create_checkout(State(s): Shd, headers: HeaderMap, body: Bytes) -> Response {
    handle_with(&s, &headers, Keys::SecretOrPublic, |s| {
        let input = body_map(&headers, &body)?;
        let o = resource(&input, "checkout", "checkout.")?;
        // `mode`: only `setup` changes anything (the other values are inferred, and accepted).
        let mode = o.one_of("mode", &["payment", "subscription", "setup"])?;
        let mut st = s.recurrente.lock();
        let given_items = o.raw("items").is_some();
        let (lines, products) = if mode == Some("setup") && !given_items {
            (Vec::new(), Vec::new())
        } else {
            lines(s, &st, &o, false, true)?
        };
        let setup = is_setup(mode, &lines);
        let (currency, total) = if lines.is_empty() {
            (o.currency("currency")?.unwrap_or(Cur::Gtq), 0)
        } else {
            parse::total(&lines, &o.name("items"))?
        };
        let success_url = o.url("success_url")?;
        let cancel_url = o.url("cancel_url")?;
        let mut user_id = o.string("user_id")?;
        if let Some(u) = &user_id {
            if st.users.get(u).is_none() {
                return Err(Reject::invalid(
                    o.name("user_id"),
                    format!("`{u}` is not an existing user"),
                ));
            }
        }
        // `customer_id` (a `cus_…`, as the official plugin sends) stands for its user.
        if let Some(cus) = o.string("customer_id")? {
            let c = st.customers.get(&cus).ok_or_else(|| {
                Reject::invalid(o.name("customer_id"), format!("`{cus}` is not an existing customer"))
            })?;
            if user_id.as_ref().is_some_and(|u| u != &c.user_id) {
                return Err(Reject::invalid(
                    o.name("customer_id"),
                    "belongs to another user than user_id",
                ));
            }
            user_id = Some(c.user_id.clone());
        }
        // After the ids, so an unknown user or customer is named first.
        check_checkout_lines(&o, &lines, setup)?;
        let metadata = o.metadata("metadata")?.unwrap_or_default();
        let expires_at = o.time("expires_at")?;
        let custom_account_id = o.string("custom_account_id")?;
        let mut transfer_setups = Vec::new();
        for (prefix, m) in parse::objects(&o, "transfer_setups")?.unwrap_or_default() {
            let t = Obj::new(m, &prefix);
            transfer_setups.push(TransferSetup {
                id: String::new(),
                amount_cents: t.required_cents("amount_in_cents")?,
                recipient_id: t.string("recipient_id")?,
            });
        }
        let transferred = transfer_setups
            .iter()
            .try_fold(0i64, |acc, t| acc.checked_add(t.amount_cents))
            .unwrap_or(i64::MAX);
        if transferred > total {
            return Err(Reject::invalid(
                o.name("transfer_setups"),
                format!("send {transferred} cents, more than the checkout's total of {total}"),
            ));
        }
        let (card, bank) = lines.iter().fold((true, true), |(c, b), l| {
            let p = products
                .iter()
                .find(|p| p.id == l.product_id)
                .or_else(|| st.products.get(&l.product_id));
            let (c, b) = match p {
                Some(p) => (c && p.card_payments_enabled, b && p.bank_transfer_payments_enabled),
                None => (c, b),
            };
            // An item stating its payment methods narrows the checkout's to them.
            match &l.payment_method_types {
                Some(m) => (c && m.contains(&"card"), b && m.contains(&"bank_transfer")),
                None => (c, b),
            }
        });
        for t in &mut transfer_setups {
            t.id = flow::new_id(s, "ts_", 8);
        }
        let id = flow::new_id(s, "ch_", 16);
        commit_products(&mut st, products);
        st.checkouts.insert(Checkout {
            id: id.clone(),
            created_at: s.clock.now(),
            lines,
            currency,
            total_cents: total,
            success_url,
            cancel_url,
            user_id,
            metadata,
            expires_at,
            custom_account_id,
            transfer_setups,
            setup,
            status: CheckoutStatus::Unpaid,
            payment_id: None,
            payment_method_id: None,
            latest_intent: None,
            card_payments_enabled: card,
            bank_transfer_payments_enabled: bank,
        });
        created(json!({
            "id": id,
            "checkout_url": format!("{}/checkout-session/{id}", s.base_url),
        }))
    })
}

async fn get_checkout(State(s): Shd, headers: HeaderMap, Path(id): Path<String>) -> Response {
    handle(&s, &headers, |s| {
        let st = s.recurrente.lock();
        let co = st.checkouts.get(&id).ok_or_else(Reject::not_found)?;
        ok(json::checkout(&st, co, &Ctx::new(s)))
    })
}

async fn update_checkout(State(s): Shd, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        let input = body_map(&headers, &body)?;
        let o = resource(&input, "checkout", "checkout.")?;
        let mut st = s.recurrente.lock();
        let co = st.checkouts.get(&id).ok_or_else(Reject::not_found)?;
        if co.status == CheckoutStatus::Paid {
            return Err(Reject::unprocessable(
                "the checkout is paid: only unpaid checkouts can be updated",
            ));
        }
        // Read everything first: nothing changes unless all of it is valid.
        let success_url = o.has("success_url").then(|| o.url("success_url")).transpose()?;
        let cancel_url = o.has("cancel_url").then(|| o.url("cancel_url")).transpose()?;
        let metadata = o.metadata("metadata")?;
        let expires_at = o.has("expires_at").then(|| o.time("expires_at")).transpose()?;
        let Some(co) = st.checkouts.get_mut(&id) else {
            return Err(Reject::not_found());
        };
        if let Some(u) = success_url {
            co.success_url = u;
        }
        if let Some(u) = cancel_url {
            co.cancel_url = u;
        }
        if let Some(m) = metadata {
            co.metadata = m;
        }
        if let Some(t) = expires_at {
            co.expires_at = t;
        }
        let st = &*st;
        let co = st.checkouts.get(&id).ok_or_else(Reject::not_found)?;
        ok(json::checkout(st, co, &Ctx::new(s)))
    })
}

async fn list_checkouts(State(s): Shd, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    handle(&s, &headers, |s| {
        let q = query_map(q.as_deref());
        let o = Obj::new(&q, "");
        let from = o.time("from_time")?;
        let until = o.time("until_time")?;
        let user = o.string("user_id")?;
        let st = s.recurrente.lock();
        let cx = Ctx::new(s);
        let all: Vec<Value> = st
            .checkouts
            .newest_first()
            .filter(|c| from.is_none_or(|f| c.created_at >= f))
            .filter(|c| until.is_none_or(|u| c.created_at <= u))
            .filter(|c| user.is_none() || c.user_id == user)
            .map(|c| json::checkout(&st, c, &cx))
            .collect();
        page(s, "/api/checkouts", &q, all)
    })
}

// ---------------------------------------------------------------------------------------------
// Payment intents

async fn update_payment_intent(State(s): Shd, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        let input = body_map(&headers, &body)?;
        let (o, prefix) = match input.get("payment_intent") {
            Some(Value::Object(m)) => (Obj::new(m, "payment_intent."), true),
            _ => (Obj::new(&input, ""), false),
        };
        let url = o.url("tax_invoice_url")?.ok_or_else(|| {
            Reject::invalid(
                if prefix {
                    "payment_intent.tax_invoice_url"
                } else {
                    "payment_intent"
                },
                "is required",
            )
        })?;
        let mut st = s.recurrente.lock();
        let pa = st
            .payment_by_any_id(&id)
            .map(|p| p.id.clone())
            .ok_or_else(Reject::not_found)?;
        if let Some(p) = st.payments.get_mut(&pa) {
            p.tax_invoice_url = Some(url);
        }
        let st = &*st;
        let p = st.payments.get(&pa).ok_or_else(Reject::not_found)?;
        ok(json::payment_intent(st, p, &Ctx::new(s)))
    })
}

/// `GET /api/intents/{id}`: a payment in the unified `intent.*` shape, by its `in_…` id (or,
/// leniently, the `pa_…` / `ba_…` / `inv_…` id of the same payment).
async fn get_intent(State(s): Shd, headers: HeaderMap, Path(id): Path<String>) -> Response {
    handle(&s, &headers, |s| {
        let st = s.recurrente.lock();
        let p = match id.strip_prefix("in_") {
            Some(suffix) => st
                .payments
                .iter()
                .find(|p| p.id.split_once('_').is_some_and(|(_, rest)| rest == suffix)),
            None => st.payment_by_any_id(&id),
        }
        .ok_or_else(Reject::not_found)?;
        json::unified_intent(&st, p, &Ctx::new(s)).map_or_else(|| Err(Reject::not_found()), ok)
    })
}

// ---------------------------------------------------------------------------------------------
// Products

/// Applies `prices_attributes` entries: new ones (no `id`), changes (with `id`), removals
/// (`_destroy`).
fn apply_prices(s: &Sim<'_>, o: &Obj<'_>, p: &mut Product) -> Result<(), Reject> {
    let Some(entries) = parse::objects(o, "prices_attributes")? else {
        return Ok(());
    };
    for (prefix, m) in entries {
        let e = Obj::new(m, &prefix);
        match e.string("id")? {
            Some(price_id) => {
                let Some(i) = p.prices.iter().position(|pr| pr.id == price_id) else {
                    return Err(Reject::invalid(
                        e.name("id"),
                        format!("`{price_id}` is not a price of this product"),
                    ));
                };
                if parse::destroy(&e)? {
                    p.prices.remove(i);
                } else if let Some(old) = p.prices.get(i) {
                    let changed = parse::changed_price(&e, old)?;
                    p.prices[i] = changed;
                }
            }
            None if parse::destroy(&e)? => {}
            None => p.prices.push(parse::new_price(&e, flow::new_id(s, "price_", 8))?),
        }
    }
    Ok(())
}

async fn create_product(State(s): Shd, headers: HeaderMap, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        let input = body_map(&headers, &body)?;
        let top = Obj::new(&input, "");
        let o = required_resource(&input, "product", "product.")?;
        if o.string("name")?.is_none() {
            return Err(Reject::invalid(o.name("name"), "is required"));
        }
        let id = flow::new_id(s, "prod_", 8);
        let mut p = Product {
            id: id.clone(),
            listed: true,
            deleted: false,
            name: String::new(),
            description: None,
            image_url: None,
            success_url: None,
            cancel_url: None,
            custom_terms_and_conditions: None,
            phone_requirement: "none",
            address_requirement: "none",
            billing_info_requirement: "optional",
            adjustable_quantity: true,
            inventory_quantity: None,
            has_dynamic_pricing: false,
            card_payments_enabled: true,
            bank_transfer_payments_enabled: true,
            available_installments: Vec::new(),
            prices: Vec::new(),
            metadata: Map::new(),
            slug: String::new(),
        };
        parse::product_fields(&o, &top, &mut p)?;
        if o.raw("prices_attributes").is_none() {
            return Err(Reject::invalid(o.name("prices_attributes"), "is required"));
        }
        apply_prices(s, &o, &mut p)?;
        if p.prices.is_empty() {
            return Err(Reject::invalid(
                o.name("prices_attributes"),
                "must hold at least one price",
            ));
        }
        parse::check_product(&o, &p)?;
        let mut st = s.recurrente.lock();
        let base = json::slug(&p.name);
        p.slug = if st.products.iter().any(|other| other.slug == base) {
            format!("{base}-{}", id.trim_start_matches("prod_"))
        } else {
            base
        };
        let body = json::product_object(&p, &Ctx::new(s));
        st.products.insert(p);
        created(body)
    })
}

fn visible_product<'a>(st: &'a Store, id: &str) -> Result<&'a Product, Reject> {
    st.products.get(id).filter(|p| !p.deleted).ok_or_else(Reject::not_found)
}

async fn get_product(State(s): Shd, headers: HeaderMap, Path(id): Path<String>) -> Response {
    handle(&s, &headers, |s| {
        let st = s.recurrente.lock();
        ok(json::product_object(visible_product(&st, &id)?, &Ctx::new(s)))
    })
}

async fn list_products(State(s): Shd, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    handle(&s, &headers, |s| {
        let q = query_map(q.as_deref());
        let st = s.recurrente.lock();
        let cx = Ctx::new(s);
        let all = st
            .products
            .newest_first()
            .filter(|p| p.listed && !p.deleted)
            .map(|p| json::product_object(p, &cx))
            .collect();
        page(s, "/api/products", &q, all)
    })
}

async fn update_product(State(s): Shd, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        let input = body_map(&headers, &body)?;
        let top = Obj::new(&input, "");
        let o = required_resource(&input, "product", "product.")?;
        let mut st = s.recurrente.lock();
        let mut p = visible_product(&st, &id)?.clone();
        parse::product_fields(&o, &top, &mut p)?;
        apply_prices(s, &o, &mut p)?;
        parse::check_product(&o, &p)?;
        let body = json::product_object(&p, &Ctx::new(s));
        if let Some(slot) = st.products.get_mut(&id) {
            *slot = p;
        }
        ok(body)
    })
}

async fn delete_product(State(s): Shd, headers: HeaderMap, Path(id): Path<String>) -> Response {
    handle(&s, &headers, |s| {
        let mut st = s.recurrente.lock();
        visible_product(&st, &id)?;
        if let Some(p) = st.products.get_mut(&id) {
            p.deleted = true;
        }
        ok(json::deleted(&id))
    })
}

// ---------------------------------------------------------------------------------------------
// Coupons

async fn create_coupon(State(s): Shd, headers: HeaderMap, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        let input = body_map(&headers, &body)?;
        let o = required_resource(&input, "coupon", "coupon.")?;
        let f = parse::coupon_fields(&o)?;
        let name = f.name.ok_or_else(|| Reject::invalid(o.name("name"), "is required"))?;
        if f.amount_off_cents.is_none() && f.percent_off.is_none() {
            return Err(Reject::invalid(
                o.name("amount_off_in_cents"),
                format!("or {} is required", o.name("percent_off")),
            ));
        }
        if f.amount_off_cents.is_some() && f.currency.is_none() {
            return Err(Reject::invalid(
                o.name("currency"),
                "is required with amount_off_in_cents (GTQ or USD)",
            ));
        }
        let c = Coupon {
            id: flow::new_id(s, "coup_", 8),
            name,
            amount_off_cents: f.amount_off_cents,
            percent_off: f.percent_off,
            currency: f.amount_off_cents.and(f.currency),
            duration: f.duration.unwrap_or("once"),
            max_redemptions: f.max_redemptions.map(i64::from),
            expires_at: f.expires_at,
            deleted: false,
        };
        let body = json::coupon(&c);
        s.recurrente.lock().coupons.insert(c);
        created(body)
    })
}

fn visible_coupon<'a>(st: &'a Store, id: &str) -> Result<&'a Coupon, Reject> {
    st.coupons.get(id).filter(|c| !c.deleted).ok_or_else(Reject::not_found)
}

async fn get_coupon(State(s): Shd, headers: HeaderMap, Path(id): Path<String>) -> Response {
    handle(&s, &headers, |s| {
        ok(json::coupon(visible_coupon(&s.recurrente.lock(), &id)?))
    })
}

async fn list_coupons(State(s): Shd, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    handle(&s, &headers, |s| {
        let q = query_map(q.as_deref());
        let st = s.recurrente.lock();
        let all = st
            .coupons
            .newest_first()
            .filter(|c| !c.deleted)
            .map(json::coupon)
            .collect();
        page(s, "/api/coupons", &q, all)
    })
}

async fn update_coupon(State(s): Shd, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        let input = body_map(&headers, &body)?;
        let o = required_resource(&input, "coupon", "coupon.")?;
        let f = parse::coupon_fields(&o)?;
        let mut st = s.recurrente.lock();
        let mut c = visible_coupon(&st, &id)?.clone();
        if let Some(n) = f.name {
            c.name = n;
        }
        if let Some(a) = f.amount_off_cents {
            c.amount_off_cents = Some(a);
            c.percent_off = None;
        }
        if let Some(p) = f.percent_off {
            c.percent_off = Some(p);
            c.amount_off_cents = None;
            c.currency = None;
        }
        if let Some(cur) = f.currency {
            if c.amount_off_cents.is_some() {
                c.currency = Some(cur);
            }
        }
        if c.amount_off_cents.is_some() && c.currency.is_none() {
            return Err(Reject::invalid(
                o.name("currency"),
                "is required with amount_off_in_cents (GTQ or USD)",
            ));
        }
        if let Some(d) = f.duration {
            c.duration = d;
        }
        if let Some(m) = f.max_redemptions {
            c.max_redemptions = Some(i64::from(m));
        }
        if let Some(t) = f.expires_at {
            c.expires_at = Some(t);
        }
        let body = json::coupon(&c);
        if let Some(slot) = st.coupons.get_mut(&id) {
            *slot = c;
        }
        ok(body)
    })
}

async fn delete_coupon(State(s): Shd, headers: HeaderMap, Path(id): Path<String>) -> Response {
    handle(&s, &headers, |s| {
        let mut st = s.recurrente.lock();
        visible_coupon(&st, &id)?;
        if let Some(c) = st.coupons.get_mut(&id) {
            c.deleted = true;
        }
        ok(json::deleted(&id))
    })
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

async fn get_subscription(State(s): Shd, headers: HeaderMap, Path(id): Path<String>) -> Response {
    handle(&s, &headers, |s| {
        flow::subscription_value(s, &id).map_or_else(|| Err(Reject::not_found()), ok)
    })
}

async fn list_subscriptions(State(s): Shd, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    handle(&s, &headers, |s| {
        let q = query_map(q.as_deref());
        // Pending subscriptions (a bank transfer not yet settled) are not shown: count and
        // page over the started ones, rendering only the requested page.
        let total = s.engine.count_started(&GATEWAY);
        page_of(s, "/api/subscriptions", &q, total, Value::Array, |skip, take| {
            let subs = s.engine.newest_started(&GATEWAY, skip, take);
            let st = s.recurrente.lock();
            subs.iter()
                .filter_map(|sub| json::subscription(&st, sub, st.subs.get(&sub.id)?))
                .collect()
        })
    })
}

/// `PUT /api/subscriptions/{id}` `{"payment_method_id": "pay_m_…"}` (wrapped under
/// `subscription` or flat): the card later charges use (the body is inferred from the
/// card-update guide). A past-due subscription's failed charge is retried at once with it.
/// 400 for a missing, unknown or another subscriber's payment method; 422 for a bank transfer
/// receiver or a subscription that is cancelled or never started.
async fn update_subscription(State(s): Shd, headers: HeaderMap, Path(id): Path<String>, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        if flow::subscription_value(s, &id).is_none() {
            return Err(Reject::not_found());
        }
        let input = body_map(&headers, &body)?;
        let o = resource(&input, "subscription", "subscription.")?;
        let pm_id = o.required_string("payment_method_id")?;
        let field = o.name("payment_method_id");
        let state = s.engine.get(&id).map(|sub| sub.state).ok_or_else(Reject::not_found)?;
        {
            let mut st = s.recurrente.lock();
            let info = st.subs.get(&id).cloned().ok_or_else(Reject::not_found)?;
            let pm = st
                .payment_methods
                .get(&pm_id)
                .ok_or_else(|| Reject::invalid(&field, format!("`{pm_id}` is not a saved payment method")))?;
            if pm.user_id != info.user_id {
                return Err(Reject::invalid(&field, "belongs to another customer"));
            }
            if pm.kind != MethodKind::Card {
                return Err(Reject::conflict(
                    &field,
                    "is a bank transfer receiver, which cannot be charged",
                ));
            }
            match state {
                crate::engine::State::Cancelled { .. } => {
                    return Err(Reject::unprocessable("La suscripción está cancelada"));
                }
                crate::engine::State::Failed => {
                    return Err(Reject::unprocessable("La suscripción no pudo iniciar"));
                }
                _ => {}
            }
            if let Some(slot) = st.subs.get_mut(&id) {
                slot.payment_method_id = Some(pm_id);
            }
        }
        match flow::on_subscription(s, &id, |e| e.retry_now(&id)) {
            Ok(_) => {}
            Err(SimError::NotFound { .. }) => return Err(Reject::not_found()),
            Err(e) => {
                return Err(Reject::unprocessable(format!(
                    "La suscripción no se puede actualizar: {e}"
                )));
            }
        }
        flow::subscription_value(s, &id).map_or_else(|| Err(Reject::not_found()), ok)
    })
}

async fn cancel_subscription(State(s): Shd, headers: HeaderMap, Path(id): Path<String>) -> Response {
    handle(&s, &headers, |s| {
        match flow::on_subscription(s, &id, |e| e.cancel(&id, CancelledBy::Merchant)) {
            Ok(_) => ok(json!({ "message": "Suscripción cancelada" })),
            Err(SimError::NotFound { .. }) => Err(Reject::not_found()),
            Err(SimError::Engine(EngineError::AlreadyCancelled { .. })) => {
                Err(Reject::unprocessable("La suscripción ya está cancelada"))
            }
            Err(e) => Err(Reject::unprocessable(format!(
                "La suscripción no se puede cancelar: {e}"
            ))),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Refunds

async fn create_refund(State(s): Shd, headers: HeaderMap, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        let input = body_map(&headers, &body)?;
        let o = resource(&input, "refund", "refund.")?;
        let pa = o.required_string("payment_intent_id")?;
        let mut st = s.recurrente.lock();
        let p = st.payments.get(&pa).ok_or_else(|| {
            Reject::invalid(
                o.name("payment_intent_id"),
                format!("`{pa}` is not an existing payment"),
            )
        })?;
        if p.status != PayStatus::Succeeded || p.method == PayMethod::Setup {
            return Err(Reject::conflict(
                o.name("payment_intent_id"),
                format!("`{pa}` was not paid"),
            ));
        }
        if p.refund_id.is_some() {
            return Err(Reject::conflict(
                o.name("payment_intent_id"),
                format!("`{pa}` is already refunded"),
            ));
        }
        let refund = Refund {
            id: flow::new_id(s, "re_", 8),
            user_id: p.user_id.clone(),
            account_cents: p.amount_cents.saturating_sub(p.fee()),
            customer_cents: p.amount_cents,
            currency: p.currency,
            created_at: s.clock.now(),
        };
        if let Some(p) = st.payments.get_mut(&pa) {
            p.refund_id = Some(refund.id.clone());
        }
        let body = json::refund(&st, &refund);
        if let Some(p) = st.payments.get(&pa) {
            let event = json::refund_event(&st, &Ctx::new(s), &refund, p);
            for w in flow::emit(s, &st, "refund.create", &event) {
                s.delivery.enqueue(w);
            }
        }
        st.refunds.insert(refund);
        ok(body)
    })
}

async fn get_refund(State(s): Shd, headers: HeaderMap, Path(id): Path<String>) -> Response {
    handle(&s, &headers, |s| {
        let st = s.recurrente.lock();
        let r = st.refunds.get(&id).ok_or_else(Reject::not_found)?;
        ok(json::refund(&st, r))
    })
}

// ---------------------------------------------------------------------------------------------
// Webhook endpoints

async fn create_endpoint(State(s): Shd, headers: HeaderMap, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        let input = body_map(&headers, &body)?;
        let o = resource(&input, "webhook_endpoint", "webhook_endpoint.")?;
        let url = o
            .url("url")?
            .ok_or_else(|| Reject::invalid(o.name("url"), "is required"))?;
        let description = o.string("description")?;
        let metadata = o.metadata("metadata")?.unwrap_or_default();
        let now = s.clock.now();
        let e = Endpoint {
            id: flow::new_svix_id(s, "ep_"),
            url,
            description,
            metadata,
            disabled: false,
            created_at: now,
            updated_at: now,
            secret: flow::new_secret(s),
            revoked: Arc::default(),
        };
        let body = json::endpoint(&e, true);
        s.recurrente.lock().endpoints.insert(e);
        created(body)
    })
}

async fn list_endpoints(State(s): Shd, headers: HeaderMap) -> Response {
    handle(&s, &headers, |s| {
        let st = s.recurrente.lock();
        ok(Value::Array(
            st.endpoints.newest_first().map(|e| json::endpoint(e, false)).collect(),
        ))
    })
}

async fn delete_endpoint(State(s): Shd, headers: HeaderMap, Path(id): Path<String>) -> Response {
    handle(&s, &headers, |s| {
        let e = s
            .recurrente
            .lock()
            .endpoints
            .remove(&id)
            .ok_or_else(Reject::not_found)?;
        // What is still queued for it is not sent; its secret signs nothing more.
        e.revoked.store(true, std::sync::atomic::Ordering::SeqCst);
        ok(json::endpoint(&e, false))
    })
}

// ---------------------------------------------------------------------------------------------
// One-time payments with a saved payment method

async fn create_one_time_payment(State(s): Shd, headers: HeaderMap, body: Bytes) -> Response {
    handle(&s, &headers, |s| {
        let input = body_map(&headers, &body)?;
        let o = resource(&input, "one_time_payment", "one_time_payment.")?;
        let pm_id = o.required_string("payment_method_id")?;
        let mut st = s.recurrente.lock();
        let pm = st.payment_methods.get(&pm_id).cloned().ok_or_else(|| {
            Reject::invalid(
                o.name("payment_method_id"),
                format!("`{pm_id}` is not a saved payment method"),
            )
        })?;
        if pm.kind != MethodKind::Card {
            return Err(Reject::conflict(
                o.name("payment_method_id"),
                "is a bank transfer receiver, which cannot be charged",
            ));
        }
        let (lines, products) = lines(s, &st, &o, false, false)?;
        if let Some(i) = lines.iter().position(|l| l.recurring.is_some()) {
            return Err(Reject::invalid(
                format!("{}[{i}]", o.name("items")),
                "is recurring: one-time payments charge one-time items only",
            ));
        }
        let (currency, total) = parse::total(&lines, &o.name("items"))?;
        commit_products(&mut st, products);
        let declined = pm.fail_next > 0;
        if let Some(m) = st.payment_methods.get_mut(&pm_id) {
            m.fail_next = m.fail_next.saturating_sub(1);
        }
        let now = s.clock.now();
        let on = flow::new_id(s, "on_", 8);
        let pa = flow::new_id(s, "pa_", 8);
        let inv = flow::new_id(s, "inv_", 8);
        st.invoices.insert(inv.clone(), pa.clone());
        let payment = Payment {
            id: pa.clone(),
            invoice_id: inv,
            created_at: now,
            method: PayMethod::Card,
            status: if declined {
                PayStatus::Failed
            } else {
                PayStatus::Succeeded
            },
            failure_reason: declined.then(|| DECLINE_REASON.to_owned()),
            amount_cents: total,
            currency,
            checkout_id: None,
            paymentable: Paymentable::OneTimePayment(on.clone()),
            user_id: pm.user_id.clone(),
            product_ids: lines.iter().map(|l| l.product_id.clone()).collect(),
            tax_invoice_url: None,
            refund_id: None,
            bank_reference: None,
            sender_comment: None,
        };
        let event = if declined {
            "payment_intent.failed"
        } else {
            "payment_intent.succeeded"
        };
        s.enqueue(flow::payment_webhooks(s, &st, event, &payment, now));
        st.payments.insert(payment);
        if declined {
            return Err(Reject::unprocessable(DECLINE_REASON));
        }
        created(json!({ "id": on, "status": "paid" }))
    })
}

/// Creates `count` subscriptions at once in `state`, each with its checkout (paid; a bank
/// transfer in progress for `pending`), for one new subscriber, billing `amount` of `currency`
/// (default GTQ 50.00) monthly; no webhooks. Returns the count and the first and last `su_…` id.
///
/// # Errors
/// [`SimError::Refused`] for a currency other than GTQ or USD, or an amount below the
/// minimum or not in whole cents.
pub(crate) fn seed(
    s: &Sim<'_>,
    count: usize,
    state: SeedState,
    amount: Option<Decimal>,
    currency: Option<&str>,
) -> Result<(usize, Option<String>, Option<String>), SimError> {
    let refused = |reason: String| SimError::Refused { reason };
    let cur = Cur::parse(currency.unwrap_or("GTQ")).ok_or_else(|| refused("Recurrente charges GTQ or USD".into()))?;
    let cents = match amount {
        None => 5000,
        Some(a) => (a * Decimal::ONE_HUNDRED)
            .normalize()
            .to_i64()
            .filter(|c| Decimal::from(*c) == a * Decimal::ONE_HUNDRED)
            .ok_or_else(|| refused(format!("the amount {a} is not in whole cents")))?,
    };
    if cents < minimum_cents(cur) {
        return Err(refused(format!("the amount is below the {} minimum", cur.as_str())));
    }
    let rec = Recurring {
        unit: Unit::Month,
        count: 1,
        trial: None,
        end_after: None,
        allowed_to_cancel_after: None,
    };
    let line = Line {
        product_id: flow::new_id(s, "prod_", 8),
        price_id: flow::new_id(s, "price_", 8),
        name: "Seeded plan".to_owned(),
        unit_cents: cents,
        quantity: 1,
        currency: cur,
        recurring: Some(rec.clone()),
        payment_method_types: None,
        available_installments: None,
        has_dynamic_pricing: false,
        inline: true,
    };
    let terms = flow::terms(&line, &rec).ok_or_else(|| refused("the amount is out of range".into()))?;
    // Under the lock that orders dispatches: the outcome's transitions (others' that fell due
    // first) are rendered in engine order.
    let _serial = s.serial();
    let now = s.clock.now();
    // Recurrente's objects first (the list shows only subscriptions it knows), then the
    // engine's: never the engine's lock under the store's.
    let mut ids = Vec::with_capacity(count);
    {
        let mut st = s.recurrente.lock();
        let user_id = flow::new_id(s, "us_", 8);
        st.users.insert(User {
            id: user_id.clone(),
            email: format!("seed-{}@example.com", user_id.trim_start_matches("us_")),
            full_name: Some("Seeded Subscriber".to_owned()),
        });
        let mut taken = std::collections::HashSet::with_capacity(count);
        while ids.len() < count {
            let su = flow::new_id(s, "su_", 8);
            if st.subs.contains_key(&su) || !taken.insert(su.clone()) {
                continue;
            }
            let checkout_id = flow::new_id(s, "ch_", 16);
            st.checkouts.insert(Checkout {
                id: checkout_id.clone(),
                created_at: now,
                lines: vec![line.clone()],
                currency: cur,
                total_cents: cents,
                success_url: None,
                cancel_url: None,
                user_id: Some(user_id.clone()),
                metadata: Map::new(),
                expires_at: None,
                custom_account_id: None,
                transfer_setups: Vec::new(),
                setup: false,
                status: if state == SeedState::Pending {
                    CheckoutStatus::InProgress
                } else {
                    CheckoutStatus::Paid
                },
                payment_id: None,
                payment_method_id: None,
                latest_intent: None,
                card_payments_enabled: true,
                bank_transfer_payments_enabled: true,
            });
            st.subs.insert(
                su.clone(),
                SubInfo {
                    checkout_id,
                    line: line.clone(),
                    user_id: user_id.clone(),
                    payment_method_id: None,
                    first_payment_id: flow::new_id(s, "pa_", 8),
                    start: if state == SeedState::Pending {
                        Start::BankTransfer
                    } else {
                        Start::Card
                    },
                    last_payment_id: None,
                    signup_cents: 0,
                },
            );
            ids.push(su);
        }
    }
    let name = line.name.clone();
    let outcome = s.engine.seed(count, state, |i| {
        let id = ids.get(i).cloned().unwrap_or_default();
        NewSubscription::new(GATEWAY, name.clone(), terms.clone()).with_id(id)
    });
    let created = s.run(outcome)?;
    Ok((
        created.len(),
        created.first().map(|c| c.id.clone()),
        created.last().map(|c| c.id.clone()),
    ))
}

async fn unknown(State(s): Shd, headers: HeaderMap) -> Response {
    handle(&s, &headers, |_| Err(Reject::not_found()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_and_limits() {
        let q = |s: &str| query_map(Some(s));
        let p = Paging::from(&q(""));
        assert_eq!((p.page, p.items), (1, DEFAULT_ITEMS));
        let p = Paging::from(&q("page=3&items=20"));
        assert_eq!((p.page, p.items), (3, 20));
        let p = Paging::from(&q("page=0&items=1000"));
        assert_eq!((p.page, p.items), (1, MAX_ITEMS));
        let p = Paging::from(&q("page=x&items=-2"));
        assert_eq!((p.page, p.items), (1, DEFAULT_ITEMS));
    }

    #[test]
    fn emails() {
        assert!(looks_like_email("me@example.com"));
        for bad in ["me", "me@", "@x.com", "me@localhost", "a b@x.com", "me@.com"] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}

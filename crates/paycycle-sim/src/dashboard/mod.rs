//! The simulator's dashboard: server-rendered HTML pages at `/`, for a person with a browser.
//!
//! | route | shows or does |
//! |---|---|
//! | `GET /` (`?gateway=cryptomus\|recurrente&status=active&before=SEQ` or `&after=SEQ`) | every subscription of both providers, newest first, 100 a page, filtered; Recurrente checkouts waiting for the payer |
//! | `GET /subscriptions/{gateway}/{id}` | one subscription: its facts, its timeline (checkout, charges, status changes, each webhook delivery with its attempts) and the payer's buttons |
//! | `POST /subscriptions/{gateway}/{id}/{action}` | `accept`, `decline`, `cancel` (Cryptomus' payer), `fail-next-charge` (both) |
//! | `GET /checkouts/{id}` | a Recurrente checkout, with the payer's buttons |
//! | `POST /checkouts/{id}/pay` (`outcome=card_success\|card_declined`) | the payer pays, or has the card declined |
//! | `GET /webhooks` (`?before=ID`) | the webhook log, newest first, 50 a page: target, event, signature headers, status, attempts |
//! | `POST /webhooks/{id}/redeliver` | sends a delivery's webhook again |
//! | `POST /clock/advance` (`by=hour\|day\|month`), `POST /clock/set` (`date=YYYY-MM-DD`) | moves the clock (a month is one calendar month: Jan 31 → Feb 28) and runs what fell due |
//!
//! Every page has the clock in its header. Buttons are plain forms (no script): a `POST`
//! answers `303 See Other` back to the page (its `back` field, a local path), with a refused
//! action as a notice on it. Unknown objects are a 404 page, malformed input a 400 page with
//! the reason. The actions call the same functions as the providers' control routes
//! (`/__sim/cryptomus/...`, `/__sim/recurrente/...`) and the clock's (`/__sim/clock/advance`).

mod clock;
mod html;
mod list;
mod subscription;
mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::recurrente;
use crate::state::Shared;

/// The dashboard's state: the shared state and Recurrente's objects.
#[derive(Debug, Clone)]
pub(crate) struct Dashboard {
    shared: Arc<Shared>,
    recurrente: recurrente::Frontend,
}

/// The dashboard's routes.
pub(crate) fn router(shared: Arc<Shared>, recurrente: recurrente::Frontend) -> Router {
    Router::new()
        .route("/", get(list::page))
        .route("/subscriptions/{gateway}/{id}", get(subscription::page))
        .route("/subscriptions/{gateway}/{id}/{action}", post(subscription::act))
        .route("/checkouts/{id}", get(subscription::checkout_page))
        .route("/checkouts/{id}/pay", post(subscription::pay))
        .route("/webhooks", get(webhooks::page))
        .route("/webhooks/{id}/redeliver", post(webhooks::redeliver))
        .route("/clock/advance", post(clock::advance))
        .route("/clock/set", post(clock::set))
        .with_state(Dashboard { shared, recurrente })
}

impl Dashboard {
    /// A 404 page.
    fn not_found(&self, what: &str, id: &str) -> Response {
        html::error_page(
            StatusCode::NOT_FOUND,
            self.shared.clock.now(),
            "Not found",
            &format!("No {what} `{id}`."),
        )
    }

    /// A 400 page with the reason.
    fn bad_request(&self, reason: &str) -> Response {
        html::error_page(StatusCode::BAD_REQUEST, self.shared.clock.now(), "Bad request", reason)
    }
}

/// The fields of a form body (`application/x-www-form-urlencoded`) or a query string; the
/// first value of a repeated name wins.
fn fields(raw: &[u8]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// The page's own path and query without its `notice`: where its buttons come back to.
fn back_of(uri: &Uri) -> String {
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k != "notice")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    if query.is_empty() {
        return uri.path().to_owned();
    }
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    format!("{}?{q}", uri.path())
}

/// A form's `back` when it is a path on this server (never another site), else `fallback`.
/// Only visible ASCII is taken (a browser sends the path percent-encoded): anything else could
/// not be a `Location` header, and a control character there would end the header early.
fn local_back(fields: &HashMap<String, String>, fallback: &str) -> String {
    match fields.get("back") {
        Some(b)
            if b.starts_with('/')
                && !b.starts_with("//")
                && !b.contains('\\')
                && b.bytes().all(|c| c.is_ascii_graphic()) =>
        {
            b.clone()
        }
        _ => fallback.to_owned(),
    }
}

/// `303 See Other` to `back`, with `notice` (a refused action) added to its query.
fn see_other(back: &str, notice: Option<&str>) -> Response {
    match notice {
        None => Redirect::to(back).into_response(),
        Some(n) => {
            let sep = if back.contains('?') { '&' } else { '?' };
            Redirect::to(&format!("{back}{sep}notice={}", html::query_value(n))).into_response()
        }
    }
}

/// The `notice` of a query, shown at the top of the page.
fn notice(q: &HashMap<String, String>) -> Option<&str> {
    q.get("notice").map(String::as_str).filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_is_local_and_drops_the_notice() {
        let uri: Uri = "/?gateway=cryptomus&notice=x&status=active".parse().unwrap();
        assert_eq!(back_of(&uri), "/?gateway=cryptomus&status=active");
        assert_eq!(back_of(&"/webhooks?notice=a".parse().unwrap()), "/webhooks");
        let f = |b: &str| fields(format!("back={}", html::query_value(b)).as_bytes());
        assert_eq!(local_back(&f("/webhooks"), "/"), "/webhooks");
        assert_eq!(local_back(&f("//evil.example/"), "/"), "/");
        assert_eq!(local_back(&f("https://evil.example/"), "/"), "/");
        assert_eq!(local_back(&f("/\\evil"), "/"), "/");
        // Found by the sim_router fuzz target: a control character made the redirect a 500.
        assert_eq!(local_back(&f("/\u{1}x"), "/"), "/");
        assert_eq!(local_back(&f("/a b"), "/"), "/");
        assert_eq!(local_back(&f("/caf\u{e9}"), "/"), "/");
        assert_eq!(local_back(&HashMap::new(), "/x"), "/x");
        let r = see_other("/?a=1", Some("no & way"));
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/?a=1&notice=no+%26+way");
    }
}

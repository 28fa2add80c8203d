//! The payer page at a recurrence's `url` (`/pay/cryptomus/{uuid}`): its terms, and Accept and
//! Decline buttons (Cancel once active) posting to the control routes.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::{Recurrence, status, utc3_plain};
use crate::engine::State as SubState;
use crate::state::Shared;
use crate::web::{escape, html, not_found_page, notice_html, page, rows, url_segment};

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/pay/cryptomus/{uuid}", get(payer_page))
}

/// The path of a Cryptomus recurrence's payer page.
pub(crate) fn page_path(uuid: &str) -> String {
    format!("/pay/cryptomus/{}", url_segment(uuid))
}

async fn payer_page(State(s): State<Arc<Shared>>, Path(uuid): Path<String>, RawQuery(q): RawQuery) -> Response {
    s.sync();
    let Some(sub) = super::get(&s, &uuid) else {
        return not_found_page("Recurring payment not found", "recurrence", &uuid);
    };
    let Some(rec) = sub.extension.get::<Recurrence>() else {
        return html(
            StatusCode::NOT_FOUND,
            page("Not found", "<h1>Recurring payment not found</h1>"),
        );
    };
    let mut c = format!("<h1>{}</h1>", escape(&sub.name));
    c.push_str(&notice_html(q.as_deref()));
    let mut terms = vec![("Amount", format!("{} {}", rec.amount_raw, rec.currency))];
    if let Some(pc) = &rec.to_currency {
        terms.push(("You pay in", pc.clone()));
    }
    terms.push(("Period", rec.period.as_str().to_owned()));
    if let (Some(days), Some(amount)) = (rec.discount_days, &rec.discount_amount_raw) {
        let plural = if days == 1 { "" } else { "s" };
        terms.push((
            "Discount",
            format!("{amount} {} for the first {days} day{plural}", rec.currency),
        ));
    }
    if let Some(o) = &sub.reference {
        terms.push(("Order", o.clone()));
    }
    terms.push(("Status", status(sub.state).to_owned()));
    if let Some(t) = sub.last_paid_at {
        terms.push(("Last payment", format!("{} (UTC+3)", utc3_plain(t))));
    }
    c.push_str(&rows(&terms));

    let id = escape(&uuid);
    match sub.state {
        SubState::Pending => c.push_str(&format!(
            "<div class=\"buttons\">\
<form method=\"post\" action=\"/__sim/cryptomus/recurrences/{id}/accept?redirect=page\">\
<button class=\"accept\" type=\"submit\">Accept and pay</button></form>\
<form method=\"post\" action=\"/__sim/cryptomus/recurrences/{id}/cancel-by-user?redirect=page\">\
<button class=\"decline\" type=\"submit\">Decline</button></form></div>"
        )),
        SubState::Cancelled { .. } | SubState::Failed => {
            c.push_str("<p>This recurring payment has ended.</p>");
        }
        _ => c.push_str(&format!(
            "<p>This recurring payment is active.</p><div class=\"buttons\">\
<form method=\"post\" action=\"/__sim/cryptomus/recurrences/{id}/cancel-by-user?redirect=page\">\
<button class=\"decline\" type=\"submit\">Cancel subscription</button></form></div>"
        )),
    }
    html(
        StatusCode::OK,
        page(&format!("{} · Cryptomus (simulated)", escape(&sub.name)), &c),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_paths_are_encoded() {
        assert_eq!(page_path("a/b?c"), "/pay/cryptomus/a%2Fb%3Fc");
    }
}

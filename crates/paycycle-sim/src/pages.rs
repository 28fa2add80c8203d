//! Payer pages: what the payer sees at a Cryptomus recurrence's `url` (Accept and Decline
//! buttons) and at a Recurrente checkout's `checkout_url` (`/checkout-session/{id}`, also served
//! at `/pay/recurrente/{id}`: pay by card, have the card declined, pay by bank transfer, and for
//! a pending transfer let the bank confirm or reject it).
//!
//! Self-contained HTML (no scripts, no external assets), every value escaped. The buttons are
//! plain forms posting to the control API with `?redirect=page`, which answers `303 See Other`
//! back here.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::cryptomus::{self, Recurrence};
use crate::engine::State as SubState;
use crate::recurrente;
use crate::server::Shared;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/pay/cryptomus/{uuid}", get(cryptomus_page))
        .route("/pay/recurrente/{id}", get(recurrente_page))
        .route("/checkout-session/{id}", get(recurrente_page))
}

/// The path of a Cryptomus recurrence's payer page.
pub(crate) fn page_path(uuid: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(uuid.as_bytes()).collect();
    format!("/pay/cryptomus/{encoded}")
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem}dt{color:#666}\
dd{margin:0}.buttons{display:flex;gap:1rem;margin-top:2rem}button{font-size:1rem;padding:.6rem 1.4rem;cursor:pointer}\
.accept{background:#1a7f37;color:#fff;border:0;border-radius:4px}.decline{background:#fff;border:1px solid #999;border-radius:4px}\
.notice{background:#fff3cd;padding:.6rem;border-radius:4px}.sim{color:#888;font-size:.8rem;margin-top:3rem}";

fn page(title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body>{content}\
<p class=\"sim\">paycycle-sim: a local simulator. No real payment is made.</p></body></html>\n"
    )
}

async fn cryptomus_page(State(s): State<Arc<Shared>>, Path(uuid): Path<String>, RawQuery(q): RawQuery) -> Response {
    s.sync();
    let Some(sub) = cryptomus::get(&s, &uuid) else {
        let body = page(
            "Not found",
            &format!(
                "<h1>Recurring payment not found</h1><p>No recurrence <code>{}</code>.</p>",
                escape(&uuid)
            ),
        );
        return html(StatusCode::NOT_FOUND, body);
    };
    let Some(rec) = sub.extension.get::<Recurrence>() else {
        return html(
            StatusCode::NOT_FOUND,
            page("Not found", "<h1>Recurring payment not found</h1>"),
        );
    };
    let params: HashMap<String, String> = q
        .as_deref()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();

    let mut c = String::new();
    c.push_str(&format!("<h1>{}</h1>", escape(&sub.name)));
    if let Some(n) = params.get("notice") {
        c.push_str(&format!("<p class=\"notice\" role=\"alert\">{}</p>", escape(n)));
    }
    c.push_str("<dl>");
    let mut row = |k: &str, v: &str| c.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(v)));
    row("Amount", &format!("{} {}", rec.amount_raw, rec.currency));
    if let Some(pc) = &rec.to_currency {
        row("You pay in", pc);
    }
    row("Period", rec.period.as_str());
    if let (Some(days), Some(amount)) = (rec.discount_days, &rec.discount_amount_raw) {
        row(
            "Discount",
            &format!(
                "{amount} {} for the first {days} day{}",
                rec.currency,
                if days == 1 { "" } else { "s" }
            ),
        );
    }
    if let Some(o) = &sub.reference {
        row("Order", o);
    }
    row("Status", cryptomus::status(sub.state));
    if let Some(t) = sub.last_paid_at {
        row("Last payment", &format!("{} (UTC+3)", cryptomus::utc3_plain(t)));
    }
    c.push_str("</dl>");

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

fn notice(query: Option<&str>) -> Option<String> {
    query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "notice")
            .map(|(_, v)| v.into_owned())
    })
}

fn button(action: &str, outcome: Option<(&str, &str)>, class: &str, label: &str) -> String {
    let hidden = outcome
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .unwrap_or_default();
    format!(
        "<form method=\"post\" action=\"{}\">{hidden}<button class=\"{class}\" type=\"submit\">{}</button></form>",
        escape(action),
        escape(label)
    )
}

async fn recurrente_page(State(s): State<Arc<Shared>>, Path(id): Path<String>, RawQuery(q): RawQuery) -> Response {
    let Some(view) = recurrente::page_view(&s, &id) else {
        let body = page(
            "Not found",
            &format!(
                "<h1>Checkout not found</h1><p>No checkout <code>{}</code>.</p>",
                escape(&id)
            ),
        );
        return html(StatusCode::NOT_FOUND, body);
    };
    let mut c = String::new();
    c.push_str(&format!("<h1>{}</h1>", escape(&view.title)));
    if let Some(n) = notice(q.as_deref()) {
        c.push_str(&format!("<p class=\"notice\" role=\"alert\">{}</p>", escape(&n)));
    }
    c.push_str("<dl>");
    let mut row = |k: &str, v: &str| c.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(v)));
    for line in &view.lines {
        row("Item", line);
    }
    row("Total", &view.total);
    if let Some(r) = &view.recurring {
        row("Billed", r);
    }
    row("Status", view.status);
    if let Some((su, status)) = &view.subscription {
        row("Subscription", &format!("{su} ({status})"));
    }
    c.push_str("</dl>");
    let pay = format!("/__sim/recurrente/checkouts/{}/pay?redirect=page", url_segment(&id));
    match view.status {
        "unpaid" => {
            c.push_str("<div class=\"buttons\">");
            if view.card_enabled {
                let label = if view.trial {
                    "Start free trial with card 4242"
                } else {
                    "Pay with card 4242"
                };
                c.push_str(&button(&pay, Some(("outcome", "card_success")), "accept", label));
                c.push_str(&button(
                    &pay,
                    Some(("outcome", "card_declined")),
                    "decline",
                    "Card declined",
                ));
            }
            if view.bank_enabled && !view.trial {
                c.push_str(&button(
                    &pay,
                    Some(("outcome", "bank_transfer_pending")),
                    "decline",
                    "Pay by bank transfer",
                ));
            }
            c.push_str("</div>");
        }
        "payment_in_progress" => {
            c.push_str("<p>A bank transfer is pending. As the bank:</p><div class=\"buttons\">");
            if let Some(ba) = &view.bank_transfer_intent {
                let settle = format!(
                    "/__sim/recurrente/bank_transfers/{}/settle?redirect=page",
                    url_segment(ba)
                );
                c.push_str(&button(
                    &settle,
                    Some(("succeeded", "true")),
                    "accept",
                    "Funds received",
                ));
                c.push_str(&button(
                    &settle,
                    Some(("succeeded", "false")),
                    "decline",
                    "Transfer failed",
                ));
            }
            c.push_str("</div>");
        }
        "paid" => {
            c.push_str("<p>Paid. Thank you!</p>");
            if let Some(u) = &view.success_url {
                c.push_str(&format!("<p><a href=\"{}\">Continue</a></p>", escape(u)));
            }
        }
        _ => c.push_str("<p>This checkout has expired.</p>"),
    }
    html(
        StatusCode::OK,
        page(&format!("{} · Recurrente (simulated)", escape(&view.title)), &c),
    )
}

fn url_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(page_path("a/b?c"), "/pay/cryptomus/a%2Fb%3Fc");
    }
}

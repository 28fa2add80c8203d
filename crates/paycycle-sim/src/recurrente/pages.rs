//! The payer page at a checkout's `checkout_url` (`/checkout-session/{id}`, also served at
//! `/pay/recurrente/{id}`): pay by card, have the card declined, pay by bank transfer, and for a
//! pending transfer let the bank confirm or reject it. The buttons post to the control routes.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::store::{CheckoutStatus, Cur, PayMethod, Paymentable};
use super::{Frontend, Sim, json};
use crate::web::{button, button_with_text, escape, html, not_found_page, notice_html, page, rows, url_segment};

pub(super) fn routes() -> Router<Frontend> {
    Router::new()
        .route("/pay/recurrente/{id}", get(payer_page))
        .route("/checkout-session/{id}", get(payer_page))
}

/// The payer page's path of a checkout.
pub(super) fn page_path(checkout_id: &str) -> String {
    format!("/pay/recurrente/{}", url_segment(checkout_id))
}

/// What the payer page shows of a checkout.
#[derive(Debug)]
struct PageView {
    title: String,
    status: &'static str,
    total: String,
    lines: Vec<String>,
    recurring: Option<String>,
    success_url: Option<String>,
    bank_transfer_intent: Option<String>,
    card_enabled: bool,
    bank_enabled: bool,
    trial: bool,
    /// A setup (card-saving) checkout.
    setup: bool,
    subscription: Option<(String, &'static str)>,
}

fn money(cents: i64, currency: Cur) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}{}.{:02} {}", c / 100, c % 100, currency.as_str())
}

/// The checkout as the payer page shows it.
fn page_view(s: &Sim<'_>, checkout_id: &str) -> Option<PageView> {
    s.sync();
    let now = s.clock.now();
    let st = s.recurrente.lock();
    let co = st.checkouts.get(checkout_id)?;
    let recurring = co.recurring_line().map(|(_, r)| {
        let every = if r.count == 1 {
            format!("every {}", r.unit.as_str())
        } else {
            format!("every {} {}s", r.count, r.unit.as_str())
        };
        let trial = r
            .trial
            .map(|(u, c)| format!(", free trial of {c} {}{}", u.as_str(), if c == 1 { "" } else { "s" }))
            .unwrap_or_default();
        let end = r
            .end_after
            .map(|n| format!(", ends after {n} period{}", if n == 1 { "" } else { "s" }))
            .unwrap_or_default();
        format!("{every}{trial}{end}")
    });
    let payment = co.payment_id.as_deref().and_then(|id| st.payments.get(id));
    let bank_transfer_intent = match (co.status, payment.map(|p| &p.method)) {
        (CheckoutStatus::InProgress, Some(PayMethod::BankTransfer { intent_id })) => Some(intent_id.clone()),
        _ => None,
    };
    let subscription_id = payment.and_then(|p| match &p.paymentable {
        Paymentable::Subscription(su) => Some(su.clone()),
        Paymentable::OneTimePayment(_) => None,
    });
    let view = PageView {
        title: co.title().to_owned(),
        status: co.status_name(now),
        total: money(co.total_cents, co.currency),
        lines: co
            .lines
            .iter()
            .map(|l| format!("{} × {} — {}", l.quantity, l.name, money(l.unit_cents, l.currency)))
            .collect(),
        recurring,
        success_url: co.success_url.clone(),
        bank_transfer_intent,
        card_enabled: co.card_payments_enabled,
        bank_enabled: co.bank_transfer_payments_enabled,
        trial: co.recurring_line().is_some_and(|(_, r)| r.trial.is_some()),
        setup: co.setup,
        subscription: None,
    };
    drop(st);
    // The engine is read after the store's lock is released (lock order).
    let subscription = subscription_id.and_then(|su| {
        let status = json::status(s.engine.get(&su)?.state)?;
        Some((su, status))
    });
    Some(PageView { subscription, ..view })
}

async fn payer_page(State(f): State<Frontend>, Path(id): Path<String>, RawQuery(q): RawQuery) -> Response {
    let Some(view) = page_view(&f.sim(), &id) else {
        return not_found_page("Checkout not found", "checkout", &id);
    };
    let mut c = format!("<h1>{}</h1>", escape(&view.title));
    c.push_str(&notice_html(q.as_deref()));
    let mut facts: Vec<(&str, String)> = view.lines.iter().map(|l| ("Item", l.clone())).collect();
    facts.push(("Total", view.total.clone()));
    if let Some(r) = &view.recurring {
        facts.push(("Billed", r.clone()));
    }
    facts.push(("Status", view.status.to_owned()));
    if let Some((su, status)) = &view.subscription {
        facts.push(("Subscription", format!("{su} ({status})")));
    }
    c.push_str(&rows(&facts));
    let pay = format!("/__sim/recurrente/checkouts/{}/pay?redirect=page", url_segment(&id));
    match view.status {
        "unpaid" => {
            c.push_str("<div class=\"buttons\">");
            if view.card_enabled {
                let label = if view.setup {
                    "Save card 4242"
                } else if view.trial {
                    "Start free trial with card 4242"
                } else {
                    "Pay with card 4242"
                };
                c.push_str(&button(&pay, &[("outcome", "card_success")], "accept", label));
                c.push_str(&button(
                    &pay,
                    &[("outcome", "card_declined")],
                    "decline",
                    "Card declined",
                ));
            }
            if view.bank_enabled && !view.trial && !view.setup {
                c.push_str(&button_with_text(
                    &pay,
                    &[("outcome", "bank_transfer_pending")],
                    ("sender_comment", "Transfer comment (optional)"),
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
                c.push_str(&button(&settle, &[("succeeded", "true")], "accept", "Funds received"));
                c.push_str(&button(
                    &settle,
                    &[("succeeded", "false")],
                    "decline",
                    "Transfer failed",
                ));
            }
            c.push_str("</div>");
        }
        "paid" => {
            c.push_str(if view.setup {
                "<p>Card saved. Thank you!</p>"
            } else {
                "<p>Paid. Thank you!</p>"
            });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_printed_from_cents() {
        assert_eq!(money(5000, Cur::Gtq), "50.00 GTQ");
        assert_eq!(money(5, Cur::Usd), "0.05 USD");
        assert_eq!(money(-101, Cur::Usd), "-1.01 USD");
        assert_eq!(page_path("ch_1/x"), "/pay/recurrente/ch_1%2Fx");
    }
}

//! A subscription's page (its facts, its timeline, the payer's buttons) and a Recurrente
//! checkout's page, with the `POST` routes of their buttons.
//!
//! The buttons call what the providers' control routes call: [`cryptomus::accept`] and
//! [`cryptomus::cancel_by_user`] (`/__sim/cryptomus/recurrences/{uuid}/…`),
//! [`recurrente::pay`], [`recurrente::fail_next_charge`] and [`recurrente::set_paused`]
//! (`/__sim/recurrente/…`), and for Cryptomus' failed charges the engine's
//! `fail_next_charges`, as [`Simulator::fail_next_charges`](crate::Simulator::fail_next_charges).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use paycycle_core::{CancelledBy, GatewayId};
use rust_decimal::Decimal;

use super::html::{self, checkout_href, escape, facts, link, maybe_time, post_button, subscription_href, time};
use super::list::{amount, gateway, recurrente_references, reference};
use super::{Dashboard, back_of, fields, local_back, notice, see_other};
use crate::engine::{Subscription, TransitionKind};
use crate::state::delivery::{DeliveryOutcome, DeliveryRecord};
use crate::state::history::{Event, What};
use crate::{SimError, cryptomus, recurrente, web};

/// Who cancelled, in words.
fn by_whom(by: CancelledBy) -> &'static str {
    match by {
        CancelledBy::Merchant => "by the merchant",
        CancelledBy::Payer => "by the payer",
        CancelledBy::Gateway => "by the gateway",
        _ => "(by whom is not known)",
    }
}

/// A history event as a row class (what the browser test looks for) and a description.
fn describe(e: &Event, currency: &str) -> (&'static str, String) {
    let money = |a: &Decimal| format!("{a} {currency}");
    match &e.what {
        What::Redelivered { of } => ("redelivery", format!("Webhook #{of} sent again")),
        What::Transition(kind) => match kind {
            TransitionKind::TrialStarted { ends_at } => {
                ("trial", format!("Free trial started, ends {}", time(*ends_at)))
            }
            TransitionKind::Activated => ("status", "Activated".to_owned()),
            TransitionKind::Charged {
                period_index,
                amount,
                payment_id,
                attempt,
            } => {
                let (class, what) = if *period_index == 0 {
                    ("charge", "First charge succeeded")
                } else {
                    ("charge renewal", "Renewal charged")
                };
                let retry = if *attempt > 1 {
                    format!(", retry {}", attempt - 1)
                } else {
                    String::new()
                };
                (
                    class,
                    format!(
                        "{what}: {} (period {}{retry}; payment {payment_id})",
                        money(amount),
                        period_index + 1
                    ),
                )
            }
            TransitionKind::ChargeFailed {
                period_index,
                amount,
                payment_id,
                attempt,
            } => {
                let what = if *period_index == 0 {
                    "First charge failed"
                } else {
                    "Renewal failed"
                };
                let retry = if *attempt > 1 {
                    format!(", retry {}", attempt - 1)
                } else {
                    String::new()
                };
                (
                    "charge failed",
                    format!(
                        "{what}: {} (period {}{retry}; payment {payment_id})",
                        money(amount),
                        period_index + 1
                    ),
                )
            }
            TransitionKind::PastDue { next_retry_at } => {
                ("status", format!("Past due; next retry {}", time(*next_retry_at)))
            }
            TransitionKind::Recovered => ("status", "Recovered: active again".to_owned()),
            TransitionKind::Paused => ("status", "Paused".to_owned()),
            TransitionKind::Resumed => ("status", "Resumed".to_owned()),
            TransitionKind::Reactivated => ("status", "Reactivated".to_owned()),
            TransitionKind::Declined => ("status", "Declined by the payer".to_owned()),
            TransitionKind::StartFailed => ("status", "Never started: the first charge failed".to_owned()),
            TransitionKind::Cancelled { by } => ("status", format!("Cancelled {}", by_whom(*by))),
            TransitionKind::Ended { periods_paid } => ("status", format!("Ended after {periods_paid} paid periods")),
        },
    }
}

/// A delivery's outcome in words, and its class.
pub(super) fn outcome(o: &DeliveryOutcome) -> (&'static str, String) {
    match o {
        DeliveryOutcome::Pending => ("muted", "pending".to_owned()),
        DeliveryOutcome::Delivered { status } => ("ok", format!("delivered ({status})")),
        DeliveryOutcome::GaveUp => ("bad", "gave up".to_owned()),
        DeliveryOutcome::Refused { reason } => ("bad", format!("refused: {reason}")),
        DeliveryOutcome::Abandoned => ("bad", "abandoned (the simulator stopped)".to_owned()),
        DeliveryOutcome::Dropped => ("bad", "dropped on purpose (delivery mode)".to_owned()),
    }
}

/// The answers of a delivery's attempts (`500, 200`; `error` for no answer).
pub(super) fn answers(r: &DeliveryRecord) -> String {
    if r.attempts.is_empty() {
        return "no attempt yet".to_owned();
    }
    r.attempts
        .iter()
        .map(|a| a.status.map_or_else(|| "no answer".to_owned(), |s| s.to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a delivery is in the webhook log.
pub(super) fn delivery_href(id: u64) -> String {
    format!("/webhooks?before={}#d{id}", id.saturating_add(1))
}

/// A delivery in one line: its id, event, target, outcome and attempts.
fn delivery_line(r: &DeliveryRecord) -> String {
    let (class, text) = outcome(&r.outcome);
    let retries = r.attempts.len().saturating_sub(1);
    let retries = match retries {
        0 => String::new(),
        1 => "; 1 retry".to_owned(),
        n => format!("; {n} retries"),
    };
    format!(
        "<li class=\"delivery\">{} <code>{}</code> → <code>{}</code>: <span class=\"{class}\">{}</span> \
<span class=\"muted\">(answers: {}{})</span></li>",
        link(&delivery_href(r.id), &format!("#{}", r.id)),
        escape(&r.event),
        escape(&r.url),
        escape(&text),
        escape(&answers(r)),
        escape(&retries),
    )
}

/// The provider's own name for the subscription's status.
fn provider_status(s: &Subscription) -> Option<&'static str> {
    if s.gateway == GatewayId::CRYPTOMUS {
        Some(cryptomus::status(s.state))
    } else if s.gateway == GatewayId::RECURRENTE {
        recurrente::status(s.state)
    } else {
        None
    }
}

/// The payer's (and the simulator's) buttons for `s`.
fn buttons(s: &Subscription, back: &str) -> String {
    let action = |a: &str| format!("{}/{a}", subscription_href(s.gateway.as_str(), &s.id));
    let b = |a: &str, label: &str| post_button(&action(a), &[("back", back)], a, label);
    let mut out = Vec::new();
    let live = !s.state.is_terminal();
    if s.gateway == GatewayId::CRYPTOMUS {
        if s.state.name() == "pending" {
            out.push(post_button(
                &action("accept"),
                &[("back", back)],
                "pay",
                "Accept and pay (payer)",
            ));
            out.push(b("decline", "Decline (payer)"));
        } else if live {
            out.push(b("cancel", "Cancel (payer)"));
        }
    }
    if s.gateway == GatewayId::RECURRENTE {
        match s.state.name() {
            "active" | "trialing" => out.push(b("pause", "Pause")),
            "paused" => out.push(b("resume", "Resume")),
            _ => {}
        }
    }
    if live {
        out.push(b("fail-next-charge", "Fail the next charge"));
    }
    if out.is_empty() {
        return "<p class=\"muted\">No action: the subscription has ended.</p>".to_owned();
    }
    format!("<div class=\"actions\">{}</div>", out.concat())
}

/// `GET /subscriptions/{gateway}/{id}`.
pub(super) async fn page(
    State(d): State<Dashboard>,
    Path((gw, id)): Path<(String, String)>,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    d.shared.sync();
    let Some(s) = gateway(&gw).and_then(|g| d.shared.engine.get(&id).filter(|s| s.gateway == g)) else {
        return d.not_found(&format!("{gw} subscription"), &id);
    };
    let now = d.shared.clock.now();
    let back = back_of(&uri);
    // Recurrente: the checkout that started it.
    let checkout = (s.gateway == GatewayId::RECURRENTE)
        .then(|| {
            let sim = d.recurrente.sim();
            let st = sim.recurrente.lock();
            let info = st.subs.get(&s.id)?;
            let co = st.checkouts.get(&info.checkout_id)?;
            Some((co.id.clone(), co.created_at))
        })
        .flatten();
    let status = match provider_status(&s) {
        Some(p) if p != s.state.name() => format!(
            "{} ({} calls it <code>{}</code>)",
            escape(s.state.name()),
            escape(s.gateway.as_str()),
            escape(p)
        ),
        _ => escape(s.state.name()),
    };
    let mut rows = vec![
        ("Gateway", escape(s.gateway.as_str())),
        ("ID", format!("<code id=\"subscription-id\">{}</code>", escape(&s.id))),
        (
            "Merchant reference",
            escape(reference(&s, &recurrente_references(&d, std::slice::from_ref(&s)))),
        ),
        ("Status", format!("<span id=\"status\">{status}</span>")),
        ("Amount", escape(&format!("{} {}", amount(&s), s.terms.interval))),
        ("Created", escape(&time(s.created_at))),
        ("Accepted", escape(&maybe_time(s.accepted_at))),
        ("Next charge", escape(&maybe_time(s.next_charge_at))),
        ("Periods paid", escape(&s.periods_paid.to_string())),
        ("Last paid", escape(&maybe_time(s.last_paid_at))),
    ];
    if let Some(intro) = &s.terms.intro {
        rows.push((
            "Intro price",
            escape(&format!(
                "{} {} for {} days",
                intro.amount, s.terms.currency, intro.days
            )),
        ));
    }
    if let Some(dn) = &s.dunning {
        rows.push((
            "Retrying",
            escape(&format!(
                "period {} (attempt {}), next retry {}",
                dn.period_index + 1,
                dn.attempts,
                time(dn.next_retry_at)
            )),
        ));
    }
    if s.failures_pending > 0 {
        rows.push(("Charges set to fail", escape(&s.failures_pending.to_string())));
    }
    if let Some(ended) = s.ended_at {
        rows.push(("Ended", escape(&time(ended))));
    }
    let payer_page = if s.gateway == GatewayId::CRYPTOMUS {
        Some(cryptomus::page_path(&s.id))
    } else {
        checkout
            .as_ref()
            .map(|(c, _)| format!("/checkout-session/{}", html::segment(c)))
    };
    if let Some(p) = payer_page {
        rows.push(("Payer page", link(&p, &p)));
    }

    // The timeline: creation (or the checkout), then every recorded event with its deliveries.
    let mut timeline = String::new();
    let first = match &checkout {
        Some((co, at)) => (*at, format!("Checkout {} created", link(&checkout_href(co), co))),
        None => (s.created_at, "Created".to_owned()),
    };
    timeline.push_str(&format!(
        "<tr class=\"created\"><td>{}</td><td>{}</td><td>pending</td><td></td></tr>",
        escape(&time(first.0)),
        first.1
    ));
    let history = d.shared.history.of(&s.id);
    for e in &history {
        let (class, text) = describe(e, &s.terms.currency);
        let deliveries: String = e
            .deliveries
            .iter()
            .flat_map(|id| d.shared.delivery.with_copies(*id))
            .map(|r| delivery_line(&r))
            .collect();
        let deliveries = if deliveries.is_empty() {
            "<span class=\"muted\">none</span>".to_owned()
        } else {
            format!("<ul>{deliveries}</ul>")
        };
        timeline.push_str(&format!(
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{deliveries}</td></tr>",
            escape(&time(e.at)),
            escape(&text),
            escape(e.state.name()),
        ));
    }
    if history.is_empty() && s.state.name() != "pending" {
        timeline.push_str(
            "<tr><td></td><td class=\"muted\">Made by bulk seeding: no history before now.</td><td></td><td></td></tr>",
        );
    }
    let content = format!(
        "<h1>{}</h1>{}<h2>Act</h2>{}<h2>Timeline</h2><table id=\"timeline\"><thead><tr><th>Time (simulated)</th>\
<th>Event</th><th>Status after</th><th>Webhooks</th></tr></thead><tbody>{timeline}</tbody></table>",
        escape(&s.name),
        facts(&rows),
        buttons(&s, &back),
    );
    let q = fields(raw.unwrap_or_default().as_bytes());
    let body = html::page(&s.name, now, &back, notice(&q), &content);
    web::html(StatusCode::OK, body)
}

/// `POST /subscriptions/{gateway}/{id}/{action}`.
pub(super) async fn act(
    State(d): State<Dashboard>,
    Path((gw, id, action)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let f = fields(&body);
    let Some(g) = gateway(&gw).filter(|g| d.shared.engine.get(&id).is_some_and(|s| s.gateway == *g)) else {
        return d.not_found(&format!("{gw} subscription"), &id);
    };
    let back = local_back(&f, &subscription_href(g.as_str(), &id));
    let shared = &d.shared;
    let sim = d.recurrente.sim();
    let done: Result<(), SimError> = match (g.as_str(), action.as_str()) {
        ("cryptomus", "accept") => cryptomus::accept(shared, &id).map(drop),
        ("cryptomus", "decline" | "cancel") => cryptomus::cancel_by_user(shared, &id).map(drop),
        ("cryptomus", "fail-next-charge") => shared
            .run(shared.engine.fail_next_charges(&id, 1))
            .map(drop)
            .map_err(SimError::from),
        ("recurrente", "fail-next-charge") => recurrente::fail_next_charge(&sim, &id, 1).map(drop),
        ("recurrente", "pause") => recurrente::set_paused(&sim, &id, true).map(drop),
        ("recurrente", "resume") => recurrente::set_paused(&sim, &id, false).map(drop),
        ("recurrente", "accept" | "decline") => Err(SimError::Refused {
            reason: "a Recurrente payer pays or declines on the checkout's page".into(),
        }),
        _ => return d.not_found("action", &action),
    };
    match done {
        Ok(()) => see_other(&back, None),
        Err(e) => see_other(&back, Some(&e.to_string())),
    }
}

/// `GET /checkouts/{id}`: a Recurrente checkout, the subscriptions it started, the payer's buttons.
pub(super) async fn checkout_page(
    State(d): State<Dashboard>,
    Path(id): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    d.shared.sync();
    let now = d.shared.clock.now();
    let back = back_of(&uri);
    let sim = d.recurrente.sim();
    let (rows, items, payable, started) = {
        let st = sim.recurrente.lock();
        let Some(co) = st.checkouts.get(&id) else {
            drop(st);
            return d.not_found("Recurrente checkout", &id);
        };
        let status = co.status_name(now);
        let rows = vec![
            ("ID", format!("<code>{}</code>", escape(&co.id))),
            ("Status", format!("<span id=\"status\">{}</span>", escape(status))),
            (
                "Total",
                escape(&format!("{} {}", Decimal::new(co.total_cents, 2), co.currency.as_str())),
            ),
            ("Created", escape(&time(co.created_at))),
            ("Expires", escape(&maybe_time(co.expires_at))),
            ("Payer page", {
                let p = format!("/checkout-session/{}", html::segment(&co.id));
                link(&p, &p)
            }),
        ];
        let items: String = co
            .lines
            .iter()
            .map(|l| {
                let every = l.recurring.as_ref().map_or_else(
                    || "once".to_owned(),
                    |r| format!("every {} {}", r.count, r.unit.as_str()),
                );
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&l.name),
                    escape(&format!("{} {}", Decimal::new(l.unit_cents, 2), l.currency.as_str())),
                    escape(&l.quantity.to_string()),
                    escape(&every)
                )
            })
            .collect();
        let started: Vec<String> = st
            .subs
            .iter()
            .filter(|(_, info)| info.checkout_id == co.id)
            .map(|(su, _)| su.clone())
            .collect();
        (rows, items, status == "unpaid", started)
    };
    let buttons = if payable {
        let action = format!("{}/pay", checkout_href(&id));
        format!(
            "<div class=\"actions\">{}{}</div>",
            post_button(
                &action,
                &[("outcome", "card_success"), ("back", &back)],
                "pay",
                "Pay by card (payer)"
            ),
            post_button(
                &action,
                &[("outcome", "card_declined"), ("back", &back)],
                "decline",
                "Card declined (payer)"
            ),
        )
    } else {
        "<p class=\"muted\">Nothing to pay: see the payer page for a pending bank transfer.</p>".to_owned()
    };
    let mut subs: Vec<Subscription> = started.iter().filter_map(|su| d.shared.engine.get(su)).collect();
    subs.sort_by_key(|s| s.seq);
    let subs: String = subs
        .iter()
        .map(|s| {
            format!(
                "<li>{} ({})</li>",
                link(&subscription_href(s.gateway.as_str(), &s.id), &s.id),
                escape(s.state.name())
            )
        })
        .collect();
    let subs = if subs.is_empty() {
        "<p class=\"muted\">None yet.</p>".to_owned()
    } else {
        format!("<ul id=\"started\">{subs}</ul>")
    };
    let content = format!(
        "<h1>Recurrente checkout</h1>{}<h2>Items</h2><table><thead><tr><th>Item</th><th>Unit price</th>\
<th>Quantity</th><th>Billed</th></tr></thead><tbody>{items}</tbody></table><h2>Act</h2>{buttons}\
<h2>Subscriptions it started</h2>{subs}",
        facts(&rows),
    );
    let q = fields(raw.unwrap_or_default().as_bytes());
    web::html(
        StatusCode::OK,
        html::page("Recurrente checkout", now, &back, notice(&q), &content),
    )
}

/// `POST /checkouts/{id}/pay` (`outcome=card_success|card_declined|bank_transfer_pending`).
pub(super) async fn pay(State(d): State<Dashboard>, Path(id): Path<String>, body: Bytes) -> Response {
    let f = fields(&body);
    let Some(outcome) = f.get("outcome").and_then(|o| recurrente::Outcome::parse(o)) else {
        return d.bad_request("`outcome` must be card_success, card_declined or bank_transfer_pending");
    };
    let back = local_back(&f, &checkout_href(&id));
    match recurrente::pay(&d.recurrente.sim(), &id, outcome, &recurrente::Payer::default()) {
        Ok(a) => match a.subscription_id {
            Some(su) => see_other(&subscription_href(GatewayId::RECURRENTE.as_str(), &su), None),
            None => see_other(&back, None),
        },
        Err(SimError::NotFound { what, id }) => d.not_found(what, &id),
        Err(e) => see_other(&back, Some(&e.to_string())),
    }
}

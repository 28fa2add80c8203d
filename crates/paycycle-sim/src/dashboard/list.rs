//! `GET /`: every subscription of both providers, newest first, a page at a time, filtered by
//! gateway and status; and the Recurrente checkouts still waiting for the payer (a Recurrente
//! subscription exists only once its checkout is paid or declined).
//!
//! Pages are cut by creation order (`before`/`after` a subscription's `seq`), so a page costs
//! the same with 100 000 subscriptions as with ten: only the rows shown are copied.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use paycycle_core::GatewayId;
use rust_decimal::Decimal;

use super::html::{self, checkout_href, escape, link, maybe_time, query_value, subscription_href, time};
use super::{Dashboard, back_of, fields, notice};
use crate::engine::Subscription;
use crate::web;

/// Rows per page.
const PAGE: usize = 100;

/// Checkouts waiting for the payer shown at most (among the newest checkouts looked at).
const WAITING_SHOWN: usize = 20;
/// How many of the newest checkouts are looked at for those waiting.
const WAITING_SCANNED: usize = 2000;

/// The statuses the filter offers (the engine's state names).
pub(super) const STATUSES: [&str; 7] = [
    "pending",
    "trialing",
    "active",
    "past_due",
    "paused",
    "cancelled",
    "failed",
];

/// The gateways the dashboard shows.
pub(super) const GATEWAYS: [GatewayId; 2] = [GatewayId::CRYPTOMUS, GatewayId::RECURRENTE];

/// A gateway by name, among [`GATEWAYS`].
pub(super) fn gateway(name: &str) -> Option<GatewayId> {
    GATEWAYS.into_iter().find(|g| g.as_str() == name)
}

/// The filters and position of a list page.
#[derive(Debug, Default, PartialEq, Eq)]
struct Query {
    gateway: Option<GatewayId>,
    status: Option<&'static str>,
    before: Option<u64>,
    after: Option<u64>,
}

fn parse_query(raw: Option<&str>) -> Result<Query, String> {
    let f = fields(raw.unwrap_or_default().as_bytes());
    let mut q = Query::default();
    match f.get("gateway").map(String::as_str) {
        None | Some("") => {}
        Some(g) => {
            q.gateway =
                Some(gateway(g).ok_or_else(|| format!("`gateway` must be cryptomus or recurrente, not `{g}`"))?);
        }
    }
    match f.get("status").map(String::as_str) {
        None | Some("") => {}
        Some(s) => {
            q.status = Some(
                STATUSES
                    .into_iter()
                    .find(|n| *n == s)
                    .ok_or_else(|| format!("`status` must be one of {}, not `{s}`", STATUSES.join(", ")))?,
            );
        }
    }
    let number = |name: &str| -> Result<Option<u64>, String> {
        match f.get(name).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("`{name}` must be a whole number, not `{v}`")),
        }
    };
    q.before = number("before")?;
    q.after = number("after")?;
    if q.before.is_some() && q.after.is_some() {
        return Err("give `before` or `after`, not both".into());
    }
    Ok(q)
}

impl Query {
    fn keeps(&self, s: &Subscription) -> bool {
        self.gateway.as_ref().is_none_or(|g| *g == s.gateway)
            && self.status.is_none_or(|n| s.state.name() == n)
            && (self.gateway.is_some() || GATEWAYS.contains(&s.gateway))
    }

    /// `/?…` with these filters and `extra` (`before=N`).
    fn href(&self, extra: Option<(&str, u64)>) -> String {
        let mut parts = Vec::new();
        if let Some(g) = &self.gateway {
            parts.push(format!("gateway={}", query_value(g.as_str())));
        }
        if let Some(s) = self.status {
            parts.push(format!("status={}", query_value(s)));
        }
        if let Some((k, v)) = extra {
            parts.push(format!("{k}={v}"));
        }
        if parts.is_empty() {
            "/".to_owned()
        } else {
            format!("/?{}", parts.join("&"))
        }
    }
}

fn select(name: &str, options: &[&str], chosen: Option<&str>) -> String {
    let mut out = format!(
        "<select name=\"{0}\" id=\"filter-{0}\"><option value=\"\">all</option>",
        escape(name)
    );
    for o in options {
        let sel = if chosen == Some(*o) { " selected" } else { "" };
        out.push_str(&format!("<option value=\"{0}\"{sel}>{0}</option>", escape(o)));
    }
    out.push_str("</select>");
    out
}

/// A subscription's amount: the exact decimal and its currency.
pub(super) fn amount(s: &Subscription) -> String {
    format!("{} {}", s.terms.amount, s.terms.currency)
}

/// The merchant's reference of each Recurrente subscription among `subs`: its checkout's
/// `metadata.paycycle_reference` (what `paycycle_recurrente` sets), by subscription id.
pub(super) fn recurrente_references(d: &Dashboard, subs: &[Subscription]) -> HashMap<String, String> {
    let sim = d.recurrente.sim();
    let st = sim.recurrente.lock();
    subs.iter()
        .filter(|s| s.gateway == GatewayId::RECURRENTE)
        .filter_map(|s| {
            let info = st.subs.get(&s.id)?;
            let reference = st
                .checkouts
                .get(&info.checkout_id)?
                .metadata
                .get("paycycle_reference")?;
            Some((s.id.clone(), reference.as_str()?.to_owned()))
        })
        .collect()
}

/// A subscription's merchant reference: the engine's (Cryptomus' `order_id`), else the
/// Recurrente checkout's.
pub(super) fn reference<'a>(s: &'a Subscription, recurrente: &'a HashMap<String, String>) -> &'a str {
    s.reference
        .as_deref()
        .or_else(|| recurrente.get(&s.id).map(String::as_str))
        .unwrap_or("—")
}

fn row(s: &Subscription, references: &HashMap<String, String>) -> String {
    let gateway = s.gateway.as_str();
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"status\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        escape(gateway),
        link(&subscription_href(gateway, &s.id), &s.id),
        escape(reference(s, references)),
        escape(&s.name),
        escape(s.state.name()),
        escape(&amount(s)),
        escape(&s.terms.interval.to_string()),
        escape(&maybe_time(s.next_charge_at)),
    )
}

/// The newest Recurrente checkouts still unpaid (and not expired), as table rows.
fn waiting_checkouts(d: &Dashboard) -> String {
    let sim = d.recurrente.sim();
    let now = sim.clock.now();
    let st = sim.recurrente.lock();
    let rows: Vec<String> = st
        .checkouts
        .newest_first()
        .take(WAITING_SCANNED)
        .filter(|c| c.status_name(now) == "unpaid" && c.lines.iter().any(|l| l.recurring.is_some()))
        .take(WAITING_SHOWN)
        .map(|c| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                link(&checkout_href(&c.id), &c.id),
                escape(c.title()),
                escape(&format!("{} {}", Decimal::new(c.total_cents, 2), c.currency.as_str())),
                escape(&time(c.created_at)),
            )
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "<h2>Recurrente checkouts waiting for the payer</h2><table id=\"checkouts\"><thead><tr><th>Checkout</th>\
<th>Item</th><th>Total</th><th>Created</th></tr></thead><tbody>{}</tbody></table>",
        rows.concat()
    )
}

/// `GET /`.
pub(super) async fn page(State(d): State<Dashboard>, uri: Uri, RawQuery(raw): RawQuery) -> Response {
    let q = match parse_query(raw.as_deref()) {
        Ok(q) => q,
        Err(reason) => return d.bad_request(&reason),
    };
    d.shared.sync();
    let engine = &d.shared.engine;
    let keep = |s: &Subscription| q.keeps(s);
    let (rows, newer, older) = match q.after {
        Some(after) => {
            let (mut rows, newer) = engine.oldest_matching(after, PAGE, keep);
            rows.reverse();
            let older = rows
                .last()
                .is_some_and(|l| !engine.newest_matching(Some(l.seq), 1, keep).0.is_empty());
            (rows, newer, older)
        }
        None => {
            let (rows, older) = engine.newest_matching(q.before, PAGE, keep);
            let newer = rows
                .first()
                .is_some_and(|f| !engine.oldest_matching(f.seq, 1, keep).0.is_empty());
            (rows, newer, older)
        }
    };
    let counts: Vec<String> = GATEWAYS
        .iter()
        .map(|g| format!("{}: {}", g.as_str(), engine.count(g)))
        .collect();
    let mut content = format!(
        "<h1>Subscriptions</h1><p class=\"muted\">{}</p>\
<form method=\"get\" action=\"/\" id=\"filters\"><label>Gateway {}</label> <label>Status {}</label> \
<button type=\"submit\" id=\"filter\">Filter</button></form>",
        escape(&counts.join(" · ")),
        select(
            "gateway",
            &["cryptomus", "recurrente"],
            q.gateway.as_ref().map(GatewayId::as_str)
        ),
        select("status", &STATUSES, q.status),
    );
    if q.gateway.as_ref().is_none_or(|g| *g == GatewayId::RECURRENTE) {
        content.push_str(&waiting_checkouts(&d));
    }
    let mut pager = String::from("<p class=\"pager\">");
    if let Some(first) = rows.first().filter(|_| newer) {
        pager.push_str(&link(&q.href(Some(("after", first.seq))), "← Newer"));
    }
    if let Some(last) = rows.last().filter(|_| older) {
        pager.push_str(&link(&q.href(Some(("before", last.seq))), "Older →"));
    }
    pager.push_str("</p>");
    if !content.ends_with("</form>") {
        content.push_str("<h2>Subscriptions</h2>");
    }
    if rows.is_empty() {
        content.push_str("<p id=\"empty\">No subscription matches.</p>");
    } else {
        content.push_str(
            "<table id=\"subscriptions\"><thead><tr><th>Gateway</th><th>ID</th><th>Merchant reference</th><th>Name</th>\
<th>Status</th><th>Amount</th><th>Interval</th><th>Next charge</th></tr></thead><tbody>",
        );
        let references = recurrente_references(&d, &rows);
        for s in &rows {
            content.push_str(&row(s, &references));
        }
        content.push_str("</tbody></table>");
    }
    content.push_str(&pager);
    let f = fields(raw.unwrap_or_default().as_bytes());
    let body = html::page(
        "Subscriptions",
        d.shared.clock.now(),
        &back_of(&uri),
        notice(&f),
        &content,
    );
    web::html(StatusCode::OK, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_checked() {
        assert_eq!(parse_query(None).unwrap(), Query::default());
        let q = parse_query(Some("gateway=cryptomus&status=past_due&before=7")).unwrap();
        assert_eq!(q.gateway, Some(GatewayId::CRYPTOMUS));
        assert_eq!(q.status, Some("past_due"));
        assert_eq!(q.before, Some(7));
        assert_eq!(
            q.href(Some(("after", 3))),
            "/?gateway=cryptomus&status=past_due&after=3"
        );
        assert!(parse_query(Some("gateway=stripe")).unwrap_err().contains("`stripe`"));
        assert!(parse_query(Some("status=<b>")).unwrap_err().contains("`<b>`"));
        assert!(parse_query(Some("before=-1")).is_err());
        assert!(parse_query(Some("before=1&after=2")).is_err());
        assert_eq!(parse_query(Some("gateway=&status=")).unwrap(), Query::default());
    }
}

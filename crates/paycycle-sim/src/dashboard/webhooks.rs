//! `GET /webhooks`: the webhook log, newest first, 50 a page: each delivery's target, event,
//! signature headers (Recurrente's `svix-*`; Cryptomus signs inside the body, its `sign`
//! field), status, every attempt with its answer, and a button to send it again.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;

use super::html::{self, escape, link, post_button, subscription_href};
use super::subscription::{answers, outcome};
use super::{Dashboard, back_of, fields, local_back, notice, see_other};
use crate::state::delivery::DeliveryRecord;
use crate::web;

/// Deliveries per page.
const PAGE: usize = 50;

/// The signature of a delivery: its signature headers, or Cryptomus' `sign` in the body.
fn signature(r: &DeliveryRecord) -> String {
    let mut lines: Vec<String> = r
        .headers
        .iter()
        .map(|(k, v)| format!("<code>{}: {}</code>", escape(k), escape(v)))
        .collect();
    if let Ok(serde_json::Value::Object(body)) = serde_json::from_str::<serde_json::Value>(&r.body) {
        if let Some(serde_json::Value::String(sign)) = body.get("sign") {
            lines.push(format!("<code>sign (in the body): {}</code>", escape(sign)));
        }
    }
    if lines.is_empty() {
        return "<span class=\"muted\">unsigned</span>".to_owned();
    }
    lines.join("<br>")
}

fn row(d: &Dashboard, r: &DeliveryRecord, back: &str) -> String {
    let (class, text) = outcome(&r.outcome);
    let about = d
        .shared
        .history
        .subject(r.id)
        .or_else(|| r.copy_of.and_then(|first| d.shared.history.subject(first)))
        .map(|sub| link(&subscription_href(&r.gateway, &sub), &sub))
        .unwrap_or_else(|| "<span class=\"muted\">—</span>".to_owned());
    let mut notes = Vec::new();
    if r.copy > 1 {
        notes.push(format!("copy {} of #{}", r.copy, r.copy_of.unwrap_or(r.id)));
    }
    if let Some(of) = r.redelivery_of {
        notes.push(format!("sent again from #{of}"));
    }
    let attempts: String = r
        .attempts
        .iter()
        .map(|a| {
            let answer = match (&a.status, &a.error) {
                (Some(s), _) => s.to_string(),
                (None, Some(e)) => format!("no answer: {e}"),
                (None, None) => "no answer".to_owned(),
            };
            format!(
                "<li>{} → {}</li>",
                escape(&a.at.format("%H:%M:%S%.3f").to_string()),
                escape(&answer)
            )
        })
        .collect();
    let retries = r.attempts.len().saturating_sub(1);
    format!(
        "<tr id=\"d{id}\" class=\"delivery\"><td>#{id}<br><span class=\"muted\">{notes}</span></td><td>{gateway}<br><code>{event}</code></td>\
<td><code>{url}</code></td><td>{about}</td><td>{signature}</td><td><span class=\"{class}\">{text}</span><br>\
<span class=\"muted\">answers: {answers}; retries: {retries}</span><ul>{attempts}</ul>\
<details><summary>body</summary><pre>{body}</pre></details></td><td>{button}</td></tr>",
        id = r.id,
        notes = escape(&notes.join("; ")),
        gateway = escape(&r.gateway),
        event = escape(&r.event),
        url = escape(&r.url),
        signature = signature(r),
        text = escape(&text),
        answers = escape(&answers(r)),
        body = escape(&r.body),
        button = post_button(
            &format!("/webhooks/{}/redeliver", r.id),
            &[("back", back)],
            &format!("redeliver-{}", r.id),
            "Redeliver"
        ),
    )
}

/// `GET /webhooks` (`?before=ID`).
pub(super) async fn page(State(d): State<Dashboard>, uri: Uri, RawQuery(raw): RawQuery) -> Response {
    let q = fields(raw.unwrap_or_default().as_bytes());
    let before = match q.get("before").map(String::as_str) {
        None | Some("") => None,
        Some(b) => match b.parse::<u64>() {
            Ok(b) => Some(b),
            Err(_) => return d.bad_request(&format!("`before` must be a whole number, not `{b}`")),
        },
    };
    d.shared.sync();
    let back = back_of(&uri);
    let total = d.shared.delivery.count();
    let records = d.shared.delivery.newest(before, PAGE);
    let mut content = format!(
        "<h1>Webhooks</h1><p class=\"muted\">{total} deliveries, {} pending. Attempt times are real time; \
Recurrente's are signed again at each attempt.</p>",
        d.shared.delivery.outstanding()
    );
    if records.is_empty() {
        content.push_str("<p id=\"empty\">No webhook yet.</p>");
    } else {
        content.push_str(
            "<table id=\"webhooks\"><thead><tr><th>Delivery</th><th>Event</th><th>Target</th><th>About</th>\
<th>Signature</th><th>Status and attempts</th><th></th></tr></thead><tbody>",
        );
        for r in &records {
            content.push_str(&row(&d, r, &back));
        }
        content.push_str("</tbody></table>");
    }
    let mut pager = String::from("<p class=\"pager\">");
    if let Some(first) = records.first().filter(|f| f.id < total) {
        let newer = first.id.saturating_add(PAGE as u64).saturating_add(1);
        let href = if newer > total {
            "/webhooks".to_owned()
        } else {
            format!("/webhooks?before={newer}")
        };
        pager.push_str(&link(&href, "← Newer"));
    }
    if let Some(last) = records.last().filter(|l| l.id > 1) {
        pager.push_str(&link(&format!("/webhooks?before={}", last.id), "Older →"));
    }
    pager.push_str("</p>");
    content.push_str(&pager);
    web::html(
        StatusCode::OK,
        html::page("Webhooks", d.shared.clock.now(), &back, notice(&q), &content),
    )
}

/// `POST /webhooks/{id}/redeliver`: the same webhook again, as a new delivery.
pub(super) async fn redeliver(State(d): State<Dashboard>, Path(id): Path<String>, body: Bytes) -> Response {
    let f = fields(&body);
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| d.shared.delivery.record(*id).is_some())
    else {
        return d.not_found("webhook delivery", &id);
    };
    match d.shared.redeliver(id) {
        Some(new) => see_other(&local_back(&f, &format!("/webhooks#d{new}")), None),
        None => d.not_found("webhook delivery", &id.to_string()),
    }
}

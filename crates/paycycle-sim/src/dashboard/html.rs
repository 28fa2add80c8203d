//! The dashboard's HTML frame and small builders. Every value that reaches a page goes through
//! [`escape`] (the one escaping function of the crate's pages, in [`crate::web`]); the builders
//! here escape what they are given, so callers pass plain text.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};

pub(crate) use crate::web::escape;
use crate::web::html;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222;font-size:14px}\
main{padding:0 1.2rem 2rem}header{background:#f3f4f6;border-bottom:1px solid #ddd;padding:.6rem 1.2rem;\
display:flex;flex-wrap:wrap;gap:.6rem 1.2rem;align-items:center}header nav a{margin-right:.8rem}\
header form{display:inline}.clock{font-weight:600}h1{font-size:1.3rem}h2{font-size:1.1rem;margin-top:1.6rem}\
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e5e5e5;padding:.3rem .5rem;\
text-align:left;vertical-align:top}th{background:#fafafa}code{font-size:12px;word-break:break-all}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{color:#666}dd{margin:0}\
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0}.actions form{display:inline}\
button{cursor:pointer}.notice{background:#fff3cd;padding:.5rem;border-radius:4px}\
.ok{color:#1a7f37}.bad{color:#b42318}.muted{color:#777}.pager a{margin-right:1rem}\
details pre{white-space:pre-wrap;word-break:break-all;max-width:60rem;font-size:12px}";

/// The simulated time as the pages show it (`2026-01-10 09:00:00 UTC`).
pub(crate) fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// [`time`] of an optional time, `—` for none.
pub(crate) fn maybe_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "—".to_owned(), time)
}

/// `s` as one URL path segment: every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`)
/// percent-encoded.
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `s` as a query string value.
pub(crate) fn query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `href` of a subscription's page.
pub(crate) fn subscription_href(gateway: &str, id: &str) -> String {
    format!("/subscriptions/{}/{}", segment(gateway), segment(id))
}

/// `href` of a Recurrente checkout's page.
pub(crate) fn checkout_href(id: &str) -> String {
    format!("/checkouts/{}", segment(id))
}

/// A link: `href` and `text` escaped.
pub(crate) fn link(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", escape(href), escape(text))
}

/// A form posting to `action` with hidden `fields`, shown as one button with the element id
/// `id` (what the browser test clicks).
pub(crate) fn post_button(action: &str, fields: &[(&str, &str)], id: &str, label: &str) -> String {
    let hidden = crate::web::hidden_inputs(fields);
    format!(
        "<form method=\"post\" action=\"{}\">{hidden}<button type=\"submit\" id=\"{}\">{}</button></form>",
        escape(action),
        escape(id),
        escape(label)
    )
}

/// The header every page has: navigation and the clock with its buttons. `back` is the page's
/// own path and query, where the clock's buttons come back to.
fn header(now: DateTime<Utc>, back: &str) -> String {
    let advance = |by: &str, label: &str| {
        post_button(
            "/clock/advance",
            &[("by", by), ("back", back)],
            &format!("advance-{by}"),
            label,
        )
    };
    format!(
        "<header><nav>{}{}</nav><span class=\"clock\" id=\"clock\">Simulated time: {}</span>{}{}{}\
<form method=\"post\" action=\"/clock/set\"><input type=\"hidden\" name=\"back\" value=\"{}\">\
<label>Set to <input type=\"date\" name=\"date\" id=\"date\" required></label> \
<button type=\"submit\" id=\"set-date\">Set</button></form></header>",
        link("/", "Subscriptions"),
        link("/webhooks", "Webhooks"),
        escape(&time(now)),
        advance("hour", "+1 hour"),
        advance("day", "+1 day"),
        advance("month", "+1 month (calendar)"),
        escape(back),
    )
}

/// A whole dashboard page: `title` is plain text, `content` HTML built with escaped values.
pub(crate) fn page(title: &str, now: DateTime<Utc>, back: &str, notice: Option<&str>, content: &str) -> String {
    let notice = notice
        .map(|n| format!("<p class=\"notice\" role=\"alert\">{}</p>", escape(n)))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{} · paycycle-sim</title><style>{STYLE}</style></head><body>{}<main>{notice}{content}</main></body></html>\n",
        escape(title),
        header(now, back),
    )
}

/// An error page with `status` (404 for unknown objects, 400 for bad input).
pub(crate) fn error_page(status: StatusCode, now: DateTime<Utc>, heading: &str, reason: &str) -> Response {
    let content = format!(
        "<h1>{}</h1><p id=\"reason\">{}</p><p>{}</p>",
        escape(heading),
        escape(reason),
        link("/", "Back to the subscriptions")
    );
    html(status, page(heading, now, "/", None, &content))
}

/// A `<dl>` of label → value rows; values are HTML (escape them first).
pub(crate) fn facts(rows: &[(&str, String)]) -> String {
    let mut out = String::from("<dl>");
    for (k, v) in rows {
        out.push_str(&format!("<dt>{}</dt><dd>{v}</dd>", escape(k)));
    }
    out.push_str("</dl>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_escape() {
        let b = post_button("/x?a=<1>", &[("back", "/\"q")], "pay", "Pay <now>");
        assert!(b.contains("action=\"/x?a=&lt;1&gt;\""));
        assert!(b.contains("value=\"/&quot;q\""));
        assert!(b.contains("id=\"pay\">Pay &lt;now&gt;</button>"));
        assert_eq!(link("/a&b", "<i>"), "<a href=\"/a&amp;b\">&lt;i&gt;</a>");
        assert_eq!(
            subscription_href("cryptomus", "a/b c"),
            "/subscriptions/cryptomus/a%2Fb%20c"
        );
        let t: DateTime<Utc> = "2026-01-10T09:00:00Z".parse().unwrap();
        let p = page("<t>", t, "/?x=\"", Some("<n>"), "");
        assert!(p.contains("<title>&lt;t&gt; · paycycle-sim</title>"));
        assert!(p.contains("&lt;n&gt;"));
        assert!(p.contains("Simulated time: 2026-01-10 09:00:00 UTC"));
        assert!(!p.contains("value=\"/?x=\"\""));
    }
}

//! What the frontends share to answer over HTTP: the `/__sim` control API's JSON errors and
//! its redirect back to a payer page, and the payer pages' HTML frame.
//!
//! Payer pages are self-contained HTML (no scripts, no external assets), every value escaped.
//! Their buttons are plain forms posting to the control API with `?redirect=page`, which
//! answers `303 See Other` back to the page, with an error as a `notice`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value, json};

use crate::SimError;
use crate::engine::EngineError;

// ---------------------------------------------------------------------------------------------
// Control answers

/// `{"error": "<code>", "message": "…"}` with `status`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "error": code, "message": message }))).into_response()
}

/// A simulator error as a control answer: 404 unknown object, 409 a state that does not allow
/// it, 422 a bad time.
pub(crate) fn sim_error(e: &SimError) -> Response {
    let (status, code) = match e {
        SimError::NotFound { .. } | SimError::Engine(EngineError::NotFound { .. }) => {
            (StatusCode::NOT_FOUND, "not_found")
        }
        SimError::Engine(EngineError::AlreadyCancelled { .. }) => (StatusCode::CONFLICT, "already_cancelled"),
        SimError::Engine(_) => (StatusCode::CONFLICT, "invalid_state"),
        SimError::Refused { .. } => (StatusCode::CONFLICT, "refused"),
        SimError::Clock(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_time"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    error(status, code, &e.to_string())
}

/// 422 `invalid_request`: a malformed control request.
pub(crate) fn invalid(msg: &str) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", msg)
}

/// Whether the query asks to be sent back to the payer page (`?redirect=page`).
pub(crate) fn wants_redirect(query: Option<&str>) -> bool {
    query.is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "redirect" && v == "page"))
}

/// Redirects to `page`, with the error as a notice.
pub(crate) fn back_to(page: &str, result: Result<(), String>) -> Response {
    match result {
        Ok(()) => Redirect::to(page).into_response(),
        Err(e) => {
            let notice: String = url::form_urlencoded::byte_serialize(e.as_bytes()).collect();
            Redirect::to(&format!("{page}?notice={notice}")).into_response()
        }
    }
}

/// A field read as text (JSON strings, numbers and booleans; form values are text).
pub(crate) fn text(body: &Map<String, Value>, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::String(s) => Some(s.trim().to_owned()),
        v @ (Value::Bool(_) | Value::Number(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// `s` as one URL path segment or query value.
pub(crate) fn url_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ---------------------------------------------------------------------------------------------
// Payer pages

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

/// An HTML answer, never cached.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
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

/// A whole page: `title` (already escaped) and `content` (HTML).
pub(crate) fn page(title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title}</title><style>{STYLE}</style></head><body>{content}\
<p class=\"sim\">paycycle-sim: a local simulator. No real payment is made.</p></body></html>\n"
    )
}

/// A 404 page: `<h1>{heading}</h1>` and what was looked for.
pub(crate) fn not_found_page(heading: &str, what: &str, id: &str) -> Response {
    let body = page(
        "Not found",
        &format!(
            "<h1>{}</h1><p>No {} <code>{}</code>.</p>",
            escape(heading),
            escape(what),
            escape(id)
        ),
    );
    html(StatusCode::NOT_FOUND, body)
}

/// The `notice` of a page's query (an error the control API sent back).
pub(crate) fn notice(query: Option<&str>) -> Option<String> {
    query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "notice")
            .map(|(_, v)| v.into_owned())
    })
}

/// `<p class="notice">…</p>` for the query's notice, if any.
pub(crate) fn notice_html(query: Option<&str>) -> String {
    notice(query)
        .map(|n| format!("<p class=\"notice\" role=\"alert\">{}</p>", escape(&n)))
        .unwrap_or_default()
}

/// A form posting to `action`, with hidden `fields`, as one button.
pub(crate) fn button(action: &str, fields: &[(&str, &str)], class: &str, label: &str) -> String {
    form(action, fields, None, class, label)
}

/// As [`button`], with a visible optional text field `input` (name, label) before the button.
pub(crate) fn button_with_text(
    action: &str,
    fields: &[(&str, &str)],
    input: (&str, &str),
    class: &str,
    label: &str,
) -> String {
    form(action, fields, Some(input), class, label)
}

/// The `<input type="hidden">` of each field, escaped (every form's carried values).
pub(crate) fn hidden_inputs(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            )
        })
        .collect()
}

fn form(action: &str, fields: &[(&str, &str)], input: Option<(&str, &str)>, class: &str, label: &str) -> String {
    let hidden = hidden_inputs(fields);
    let visible = input
        .map(|(name, text)| {
            format!(
                "<label>{} <input type=\"text\" name=\"{}\" maxlength=\"140\"></label>",
                escape(text),
                escape(name)
            )
        })
        .unwrap_or_default();
    format!(
        "<form method=\"post\" action=\"{}\">{hidden}{visible}<button class=\"{class}\" type=\"submit\">{}</button></form>",
        escape(action),
        escape(label)
    )
}

/// A `<dl>` of label → value rows, escaped.
pub(crate) fn rows(rows: &[(&str, String)]) -> String {
    let mut c = String::from("<dl>");
    for (k, v) in rows {
        c.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(k), escape(v)));
    }
    c.push_str("</dl>");
    c
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
        assert_eq!(url_segment("a/b?c"), "a%2Fb%3Fc");
    }

    #[test]
    fn redirect_only_when_asked() {
        assert!(wants_redirect(Some("redirect=page")));
        assert!(!wants_redirect(Some("redirect=https://evil.example")));
        assert!(!wants_redirect(None));
    }

    #[test]
    fn buttons_carry_escaped_fields() {
        let b = button("/x?a=1&b=2", &[("outcome", "card\"")], "accept", "Pay <now>");
        assert!(b.contains("action=\"/x?a=1&amp;b=2\""));
        assert!(b.contains("value=\"card&quot;\""));
        assert!(b.contains("Pay &lt;now&gt;"));
        assert_eq!(notice(Some("notice=a%20b")).as_deref(), Some("a b"));
        let t = button_with_text("/p", &[], ("sender_comment", "Comment <x>"), "c", "Go");
        assert!(t.contains("Comment &lt;x&gt; <input type=\"text\" name=\"sender_comment\""));
        assert!(t.find("<input type=\"text\"") < t.find("<button "));
        assert!(notice_html(None).is_empty());
    }
}

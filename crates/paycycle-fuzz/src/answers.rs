//! The `client_answers` target: both clients' private answer decoding (status, headers, body
//! → result or typed error) and Recurrente's pagination headers, as a broken provider, a proxy
//! or a CDN could answer.

use http::{HeaderMap, HeaderName, HeaderValue};
use paycycle_core::Error;

/// The longest `Display` of an error made from an answer: errors quote excerpts, never whole
/// bodies, so a hostile answer cannot flood logs.
const MAX_ERROR_TEXT: usize = 4096;

/// Reads the header block as `name: value` lines; lines HTTP could not carry are skipped.
fn header_map(block: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in block.split(|b| *b == b'\n') {
        let Some(i) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let value = &line[i + 1..];
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(&line[..i]), HeaderValue::from_bytes(value)) {
            map.append(n, v);
        }
    }
    map
}

fn check_error(e: &Error, status: u16, gateway: &str) {
    let text = e.to_string();
    assert!(
        text.len() <= MAX_ERROR_TEXT,
        "{gateway}: an error made from a {status} answer is {} bytes long",
        text.len()
    );
    match status {
        429 => assert!(matches!(e, Error::RateLimited { .. }), "{gateway}: a 429 became {e:?}"),
        300..=399 => assert!(
            matches!(e, Error::Rejected { .. }),
            "{gateway}: a redirect became {e:?}"
        ),
        _ => {}
    }
}

/// Input: `[selector, status high byte, status low byte, flags]`, then `headers NUL body`
/// (headers as `name: value` lines).
/// - selector bit 0: the gateway (0 Cryptomus, 1 Recurrente); the rest picks the operation;
/// - flags bit 0: the body was cut at the size limit (Cryptomus) or holds a secret
///   (Recurrente); bit 1: also read the headers as a Recurrente page's pagination.
///
/// Properties: no panic; a 429 is `RateLimited` and a redirect `Rejected`; an error's text is
/// bounded; an answer that holds a secret is never quoted; the next page is always after the
/// current one (else listing could loop for ever).
pub fn client_answers(data: &[u8]) {
    let [selector, hi, lo, flags, rest @ ..] = data else {
        return;
    };
    let status = u16::from_be_bytes([*hi, *lo]) % 1000;
    let mut parts = rest.splitn(2, |b| *b == 0);
    let block = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let headers = header_map(block);
    let flag = flags & 1 == 1;
    if selector & 1 == 0 {
        if let Some(Err(e)) = paycycle_cryptomus::fuzzing::answer(selector >> 1, status, &headers, body, flag) {
            check_error(&e, status, "cryptomus");
        }
        return;
    }
    if let Some(Err(e)) = paycycle_recurrente::fuzzing::answer(selector >> 1, status, &headers, body, flag) {
        check_error(&e, status, "recurrente");
        if flag && (200..300).contains(&status) && body.windows(6).any(|w| w == b"whsec_") {
            let shown = format!("{e} {e:?}");
            assert!(
                !shown.contains("whsec_"),
                "an answer holding a secret is quoted: {shown}"
            );
        }
    }
    if flags & 2 == 2 {
        let page = u32::from(*hi).saturating_add(1);
        let asked = u32::from(*lo).max(1);
        let rows = body.len() % 256;
        if let Some(next) = paycycle_recurrente::fuzzing::next(&headers, page, rows, asked) {
            assert!(next > page, "page {page} is followed by page {next}");
        }
    }
    if let Ok(text) = std::str::from_utf8(body) {
        if let Ok(page) = paycycle_recurrente::fuzzing::cursor(text) {
            assert!(page >= 1, "cursor {text:?} reads as page {page}");
        }
    }
}

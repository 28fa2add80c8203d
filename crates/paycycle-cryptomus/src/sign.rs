//! Cryptomus signatures: `sign = md5_hex(base64(BODY) + KEY)`.
//!
//! Requests are signed over the exact bytes sent. Webhooks carry `sign` inside the JSON body; it
//! is computed over the body without `sign`, re-encoded as PHP's `json_encode` does
//! (see [`crate::php_json`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use paycycle_core::WebhookError;
use subtle::ConstantTimeEq;

use crate::php_json::{self, PhpJsonError};

/// The `sign` header of a request whose body is exactly `body`.
///
/// An empty body signs the empty string (`md5(key)`).
pub fn request_sign(body: &[u8], key: &str) -> String {
    let mut h = Md5::new();
    h.update(STANDARD.encode(body).as_bytes());
    h.update(key.as_bytes());
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Constant-time equality of two signatures, byte for byte.
///
/// Cryptomus writes lowercase hex (PHP's `md5()`); an upper-case or padded copy is refused, so
/// that changing any byte of a signed body fails verification.
pub fn signatures_match(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// Signs a webhook body as Cryptomus does: the body (a JSON object, any existing `sign`
/// dropped) PHP-encoded, with `"sign":"…"` appended as its last member.
///
/// # Errors
/// [`PhpJsonError`] when `unsigned` is not a JSON object, or when it is an object whose keys
/// are exactly `"0"`, `"1"`, … (PHP reads it as a list, so no signed body of that shape can be
/// verified; found by the `cryptomus_webhook` fuzz target).
pub fn sign_webhook(unsigned: &[u8], key: &str) -> Result<String, PhpJsonError> {
    let canonical = php_json::reencode_object_without(unsigned, "sign")?.json;
    let sign = request_sign(canonical.as_bytes(), key);
    // `canonical` is an object (`{…}`) or, when it had no members, PHP's `[]`.
    let body = match canonical.strip_suffix('}') {
        Some(open) => format!("{open},\"sign\":\"{sign}\"}}"),
        None if canonical == "[]" => format!("{{\"sign\":\"{sign}\"}}"),
        None => {
            return Err(PhpJsonError {
                offset: 0,
                reason: "an object with keys 0, 1, … is a list to PHP and cannot carry a sign",
            });
        }
    };
    Ok(body)
}

/// Checks the `sign` inside a webhook body against `key`, in constant time.
///
/// # Errors
/// [`WebhookError::Malformed`] when the body is not a JSON object, [`WebhookError::MissingSignature`]
/// when it has no string `sign`, [`WebhookError::BadSignature`] when it does not match.
pub fn verify_webhook_sign(body: &[u8], key: &str) -> Result<(), WebhookError> {
    let r = php_json::reencode_object_without(body, "sign").map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let given = r.removed.ok_or(WebhookError::MissingSignature)?;
    let expected = request_sign(r.json.as_bytes(), key);
    if signatures_match(&expected, &given) {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_sign_is_md5_of_base64_plus_key() {
        // Computed independently: php -r 'echo md5(base64_encode("{\"amount\":\"15\"}")."KEY");'
        assert_eq!(
            request_sign(br#"{"amount":"15"}"#, "KEY"),
            "273c6267c2de56f76f67128e32be25c6"
        );
        // No body: md5 of the key alone.
        assert_eq!(request_sign(b"", "KEY"), "3b5949e0c26b87767a4752a276de9570");
    }

    #[test]
    fn comparison_is_exact() {
        assert!(signatures_match("abcdef", "abcdef"));
        assert!(!signatures_match("abcdef", "ABCDEF"));
        assert!(!signatures_match("abcdef", " abcdef"));
        assert!(!signatures_match("abcdef", "abcde"));
        assert!(!signatures_match("abcdef", "abcdee"));
    }

    #[test]
    fn signed_webhooks_verify_and_any_changed_byte_fails() {
        let body = sign_webhook(
            r#"{"type":"payment","uuid":"u-1","order_id":"o/1","amount":"15.00","status":"paid","note":"cañón ☃","n":12,"x":null,"nested":{"a":[1,2.50,{"b":"c/d"}]}}"#.as_bytes(),
            "secret-key",
        )
        .unwrap();
        assert!(body.ends_with(&format!(",\"sign\":\"{}\"}}", &body[body.len() - 34..body.len() - 2])));
        verify_webhook_sign(body.as_bytes(), "secret-key").unwrap();
        assert_eq!(
            verify_webhook_sign(body.as_bytes(), "other-key"),
            Err(WebhookError::BadSignature)
        );
        let bytes = body.as_bytes();
        for i in 0..bytes.len() {
            let mut t = bytes.to_vec();
            t[i] ^= 0x01;
            assert!(
                verify_webhook_sign(&t, "secret-key").is_err(),
                "flipping byte {i} must fail"
            );
        }
    }

    #[test]
    fn missing_or_non_string_sign_is_reported() {
        assert_eq!(
            verify_webhook_sign(br#"{"a":1}"#, "k"),
            Err(WebhookError::MissingSignature)
        );
        assert_eq!(
            verify_webhook_sign(br#"{"a":1,"sign":5}"#, "k"),
            Err(WebhookError::MissingSignature)
        );
        assert!(matches!(
            verify_webhook_sign(b"[1]", "k"),
            Err(WebhookError::Malformed(_))
        ));
        assert!(matches!(
            verify_webhook_sign(b"<html>", "k"),
            Err(WebhookError::Malformed(_))
        ));
    }
}

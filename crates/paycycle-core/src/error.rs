//! One error type for every gateway, saying what the caller can do about it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::ids::GatewayId;

/// A boxed error kept as the source of a paycycle error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result of a paycycle operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, by what the caller can do about it.
///
/// Two questions have their own methods: [`Error::is_retryable`] (trying again may succeed) and
/// [`Error::may_have_been_sent`] (the provider may have acted on the request, so a blind retry of
/// a non-idempotent call could, say, create a second subscription).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller's input breaks a documented limit; nothing was sent.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field, as the provider or paycycle names it (`name`, `items[0].quantity`).
        field: String,
        /// Why.
        reason: String,
    },
    /// The gateway cannot do what was asked; nothing was sent.
    #[error("{gateway} does not support {feature}")]
    Unsupported {
        /// The gateway.
        gateway: GatewayId,
        /// What it cannot do.
        feature: String,
    },
    /// The provider refused the credentials or the request signature.
    #[error("{gateway} refused the credentials{}: {message}", status_suffix(*.status))]
    Authentication {
        /// The gateway.
        gateway: GatewayId,
        /// HTTP status, when there was one.
        status: Option<u16>,
        /// The provider's message.
        message: String,
    },
    /// The object does not exist.
    #[error("{gateway}: {resource} `{id}` not found")]
    NotFound {
        /// The gateway.
        gateway: GatewayId,
        /// What was looked up (`subscription`, `checkout`...).
        resource: String,
        /// The id asked for.
        id: String,
    },
    /// Too many requests; wait before trying again.
    #[error("{gateway} is rate limiting requests")]
    RateLimited {
        /// The gateway.
        gateway: GatewayId,
        /// How long the provider asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The provider answered and refused the request.
    #[error("{gateway} rejected the request (HTTP {status}){}{}", message_suffix(.message), fields_suffix(.field_errors))]
    Rejected {
        /// The gateway.
        gateway: GatewayId,
        /// HTTP status.
        status: u16,
        /// The provider's message, when it gave one.
        message: Option<String>,
        /// Per-field validation messages (Cryptomus' 422 `errors`).
        field_errors: BTreeMap<String, Vec<String>>,
    },
    /// The request did not complete: connection, TLS or timeout.
    #[error("{gateway}: the request failed{}", if *.may_have_been_sent { " (it may have reached the provider)" } else { " before it was sent" })]
    Transport {
        /// The gateway.
        gateway: GatewayId,
        /// True when the provider may have received (and acted on) the request.
        may_have_been_sent: bool,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The provider answered something paycycle could not read.
    #[error("{gateway}: undecodable response (HTTP {status}) at `{path}`: {excerpt:?}")]
    Decode {
        /// The gateway.
        gateway: GatewayId,
        /// HTTP status.
        status: u16,
        /// JSON path of the value that failed (`result.amount`), or `.` for the whole body.
        path: String,
        /// The start of the body, for diagnosis.
        excerpt: String,
        /// The decoding error.
        #[source]
        source: BoxError,
    },
    /// The object already exists with different terms: a create repeated under the same
    /// merchant reference (Cryptomus' `order_id`) that asked for something else. Nothing new was
    /// created; the existing object was left as it is.
    #[error("{gateway}: {message}")]
    Conflict {
        /// The gateway.
        gateway: GatewayId,
        /// What differs (the reference and the terms that do not match).
        message: String,
    },
    /// An incoming webhook failed verification or could not be read.
    #[error("{gateway} webhook rejected: {reason}")]
    Webhook {
        /// The gateway.
        gateway: GatewayId,
        /// Why.
        #[source]
        reason: WebhookError,
    },
    /// Configuration is missing or malformed.
    #[error("configuration {key}: {reason}")]
    Config {
        /// The variable or field (`CRYPTOMUS_MERCHANT_ID`).
        key: String,
        /// Why. Never contains a secret's value.
        reason: String,
    },
}

/// How long a `Retry-After` header asks to wait (seconds, or an HTTP date), for
/// [`Error::RateLimited`]. `None` when absent or unreadable.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().ok()
}

fn status_suffix(status: Option<u16>) -> String {
    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

/// The most characters a provider's message, or its field errors, add to an error's text: a
/// provider (or whatever answers in its place) controls them, and an error must never flood a
/// log with a whole body. The error's fields keep the full values.
const SHOWN_CHARS: usize = 1000;

/// `s` cut to [`SHOWN_CHARS`] characters, with `…` when cut.
fn shown(s: &str) -> String {
    match s.char_indices().nth(SHOWN_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn message_suffix(m: &Option<String>) -> String {
    m.as_ref().map(|m| format!(": {}", shown(m))).unwrap_or_default()
}

fn fields_suffix(f: &BTreeMap<String, Vec<String>>) -> String {
    if f.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = f.iter().map(|(k, v)| format!("{k}: {}", v.join(", "))).collect();
    format!(" [{}]", shown(&parts.join("; ")))
}

impl From<crate::money::MoneyError> for Error {
    /// A money value refused while building a request is invalid input (`field` = `money`).
    fn from(e: crate::money::MoneyError) -> Self {
        Error::invalid("money", e)
    }
}

impl Error {
    /// An [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, reason: impl fmt::Display) -> Error {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// An [`Error::Unsupported`].
    pub fn unsupported(gateway: GatewayId, feature: impl Into<String>) -> Error {
        Error::Unsupported {
            gateway,
            feature: feature.into(),
        }
    }

    /// An [`Error::Config`].
    pub fn config(key: impl Into<String>, reason: impl fmt::Display) -> Error {
        Error::Config {
            key: key.into(),
            reason: reason.to_string(),
        }
    }

    /// An [`Error::Webhook`].
    pub fn webhook(gateway: GatewayId, reason: WebhookError) -> Error {
        Error::Webhook { gateway, reason }
    }

    /// True when trying the same request again later may succeed (transport failures,
    /// rate limits, provider-side 5xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::RateLimited { .. } => true,
            Error::Rejected { status, .. } | Error::Decode { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// True when the provider may have carried out the request although no usable answer came
    /// back. Before retrying a create, look the object up (by its merchant reference) instead.
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            Error::Transport { may_have_been_sent, .. } => *may_have_been_sent,
            Error::Decode { status, .. } => *status < 400 || *status >= 500,
            Error::Rejected { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The gateway the error came from, when it came from one.
    pub fn gateway(&self) -> Option<&GatewayId> {
        match self {
            Error::Unsupported { gateway, .. }
            | Error::Authentication { gateway, .. }
            | Error::NotFound { gateway, .. }
            | Error::RateLimited { gateway, .. }
            | Error::Rejected { gateway, .. }
            | Error::Transport { gateway, .. }
            | Error::Decode { gateway, .. }
            | Error::Conflict { gateway, .. }
            | Error::Webhook { gateway, .. } => Some(gateway),
            Error::InvalidInput { .. } | Error::Config { .. } => None,
        }
    }
}

/// Why a webhook was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is absent.
    #[error("missing header `{0}`")]
    MissingHeader(String),
    /// A header is present but unreadable.
    #[error("malformed header `{name}`: {reason}")]
    MalformedHeader {
        /// The header.
        name: String,
        /// Why.
        reason: String,
    },
    /// The body carries no signature.
    #[error("the body has no `sign`")]
    MissingSignature,
    /// No signature matched: tampered body, wrong secret, or not from the provider.
    #[error("signature mismatch")]
    BadSignature,
    /// The timestamp is older than the tolerance (a replay, or a very late delivery).
    #[error("timestamp is {age_secs} s old, beyond the {tolerance_secs} s tolerance")]
    StaleTimestamp {
        /// Age in seconds.
        age_secs: i64,
        /// Allowed age in seconds.
        tolerance_secs: i64,
    },
    /// The timestamp is further in the future than the tolerance.
    #[error("timestamp is {ahead_secs} s in the future, beyond the {tolerance_secs} s tolerance")]
    FutureTimestamp {
        /// Seconds ahead.
        ahead_secs: i64,
        /// Allowed skew in seconds.
        tolerance_secs: i64,
    },
    /// The body is not the JSON the provider sends.
    #[error("malformed body: {0}")]
    Malformed(String),
    /// The configured secret is unusable (the secret itself is never printed).
    #[error("unusable webhook secret: {0}")]
    InvalidSecret(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(sent: bool) -> Error {
        Error::Transport {
            gateway: GatewayId::CRYPTOMUS,
            may_have_been_sent: sent,
            source: "boom".into(),
        }
    }

    #[test]
    fn a_providers_long_message_and_field_errors_are_cut_in_the_text_not_in_the_fields() {
        let long = "é".repeat(5000);
        let e = Error::Rejected {
            gateway: GatewayId::CRYPTOMUS,
            status: 405,
            message: Some(long.clone()),
            field_errors: BTreeMap::from([("amount".to_owned(), vec![long.clone(); 3])]),
        };
        let text = e.to_string();
        // The prefix, two cut parts of SHOWN_CHARS characters (2 bytes each) and their marks.
        assert!(
            text.chars().count() < 2 * SHOWN_CHARS + 100,
            "{} chars",
            text.chars().count()
        );
        assert_eq!(text.matches('…').count(), 2, "{text}");
        let Error::Rejected {
            message, field_errors, ..
        } = e
        else {
            unreachable!()
        };
        assert_eq!(message.as_deref(), Some(long.as_str()));
        assert_eq!(field_errors["amount"].len(), 3);
        assert_eq!(shown("short"), "short");
    }

    #[test]
    fn retry_and_sent_answers() {
        assert!(transport(false).is_retryable());
        assert!(!transport(false).may_have_been_sent());
        assert!(transport(true).may_have_been_sent());
        let rejected = |status| Error::Rejected {
            gateway: GatewayId::RECURRENTE,
            status,
            message: None,
            field_errors: BTreeMap::new(),
        };
        assert!(!rejected(422).is_retryable());
        assert!(!rejected(422).may_have_been_sent());
        assert!(rejected(503).is_retryable());
        assert!(rejected(503).may_have_been_sent());
        assert!(!Error::invalid("name", "too short").is_retryable());
        assert!(!Error::invalid("name", "too short").may_have_been_sent());
        let decode_ok = Error::Decode {
            gateway: GatewayId::CRYPTOMUS,
            status: 200,
            path: "result".into(),
            excerpt: "x".into(),
            source: "bad".into(),
        };
        assert!(decode_ok.may_have_been_sent());
        assert!(!decode_ok.is_retryable());
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        use http::{HeaderMap, HeaderValue, header};
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        h.insert(header::RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120), "{d:?}");
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn messages_name_the_field_and_status() {
        let e = Error::Rejected {
            gateway: GatewayId::CRYPTOMUS,
            status: 422,
            message: None,
            field_errors: BTreeMap::from([("name".to_owned(), vec!["validation.min".to_owned()])]),
        };
        assert_eq!(
            e.to_string(),
            "cryptomus rejected the request (HTTP 422) [name: validation.min]"
        );
        assert_eq!(
            Error::invalid("order_id", "too long").to_string(),
            "invalid order_id: too long"
        );
        assert!(std::error::Error::source(&transport(true)).is_some());
    }
}

//! The ledger's one error type.

use paycycle_core::WebhookError;

/// What went wrong in the ledger. Each variant says what the caller can do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The webhook was refused by its gateway's verification (bad or missing signature, stale
    /// timestamp, malformed body). Nothing was stored. Answer 4xx.
    #[error("webhook refused: {0}")]
    Rejected(#[source] paycycle_core::Error),
    /// No gateway is configured under this name. Nothing was stored.
    #[error("no gateway named `{0}` is configured")]
    UnknownGateway(String),
    /// The database could not be reached or refused the operation. For a webhook, nothing is
    /// acknowledged: answer 503 so the provider retries.
    #[error("the ledger's store is unavailable: {0}")]
    Store(String),
    /// A gateway call (a re-fetch or a reconcile) failed.
    #[error("gateway call failed: {0}")]
    Gateway(#[source] paycycle_core::Error),
    /// A stored value does not read back (written by something else, or a newer schema).
    #[error("stored data does not read: `{column}`: {reason}")]
    Corrupt {
        /// The column or field.
        column: String,
        /// Why.
        reason: String,
    },
    /// The ledger is configured wrongly (database URL, schema name, a feature not enabled).
    #[error("ledger configuration: {0}")]
    Config(String),
}

impl LedgerError {
    pub(crate) fn store(e: sqlx::Error) -> LedgerError {
        // sqlx's errors carry no credentials (connection URLs are not part of them), but keep the
        // message to one line.
        LedgerError::Store(e.to_string().replace('\n', " "))
    }

    pub(crate) fn corrupt(column: &str, reason: impl Into<String>) -> LedgerError {
        LedgerError::Corrupt {
            column: column.to_owned(),
            reason: reason.into(),
        }
    }

    /// True when the store could not be used: a webhook receiver answers 503 so the provider
    /// retries later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, LedgerError::Store(_))
    }

    /// The verification failure, when the webhook was refused.
    pub fn webhook_error(&self) -> Option<&WebhookError> {
        match self {
            LedgerError::Rejected(paycycle_core::Error::Webhook { reason, .. }) => Some(reason),
            _ => None,
        }
    }
}

/// The ledger's result type.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

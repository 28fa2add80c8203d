//! [`SimConfig`]: how to run a [`Simulator`](crate::Simulator), and the default credentials.

use std::fmt;
use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::delivery::DeliveryPolicy;

/// The Cryptomus merchant id used when `CRYPTOMUS_MERCHANT_ID` is not set.
pub const DEFAULT_CRYPTOMUS_MERCHANT_ID: &str = "5c0ffee0-0000-4000-8000-00000000c0de";

/// The Cryptomus payment key used when `CRYPTOMUS_PAYMENT_KEY` is not set.
pub const DEFAULT_CRYPTOMUS_PAYMENT_KEY: &str = "paycycle-sim-cryptomus-payment-key-not-a-secret";

/// The Recurrente public key (`X-PUBLIC-KEY`) used when `RECURRENTE_PUBLIC_KEY` is not set.
pub const DEFAULT_RECURRENTE_PUBLIC_KEY: &str = "pk_test_paycycle_sim";

/// The Recurrente secret key (`X-SECRET-KEY`) used when `RECURRENTE_SECRET_KEY` is not set.
pub const DEFAULT_RECURRENTE_SECRET_KEY: &str = "sk_test_paycycle_sim";

/// The secret that signs Recurrente webhooks sent to [`SimConfig::recurrente_webhook_url`] when
/// `RECURRENTE_WEBHOOK_SECRET` is not set: `whsec_` + base64 of the 24 bytes
/// `paycycle-sim-not-secret!`.
pub const DEFAULT_RECURRENTE_WEBHOOK_SECRET: &str = "whsec_cGF5Y3ljbGUtc2ltLW5vdC1zZWNyZXQh";

/// The account name `GET /api/test` greets (`{"message":"Hello paycycle-sim"}`).
pub const DEFAULT_RECURRENTE_ACCOUNT_NAME: &str = "paycycle-sim";

/// Which forms of Recurrente's payment events the simulator sends (see
/// [`SimConfig::recurrente_payment_events`]).
///
/// Recurrente sends every payment twice to an endpoint subscribed to everything: once in its
/// legacy form (`payment_intent.*`, `bank_transfer_intent.*`) and once in the unified form
/// (`intent.succeeded`, `intent.pending`, `intent.failed`), as separate Svix messages with
/// different `svix-id`s. Both carry the same `payment.id`, which is how a receiver records the
/// payment once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecurrentePaymentEvents {
    /// Only the legacy events (`payment_intent.*`, `bank_transfer_intent.*`).
    Legacy,
    /// Only the unified `intent.*` events.
    Unified,
    /// Both, legacy first, as Recurrente does for an endpoint subscribed to every event type.
    #[default]
    Both,
}

impl RecurrentePaymentEvents {
    /// `legacy`, `unified`, `both`.
    pub fn parse(s: &str) -> Option<RecurrentePaymentEvents> {
        match s {
            "legacy" => Some(RecurrentePaymentEvents::Legacy),
            "unified" => Some(RecurrentePaymentEvents::Unified),
            "both" => Some(RecurrentePaymentEvents::Both),
            _ => None,
        }
    }

    /// The name [`RecurrentePaymentEvents::parse`] reads.
    pub fn as_str(self) -> &'static str {
        match self {
            RecurrentePaymentEvents::Legacy => "legacy",
            RecurrentePaymentEvents::Unified => "unified",
            RecurrentePaymentEvents::Both => "both",
        }
    }

    /// Whether the legacy events are sent.
    pub fn legacy(self) -> bool {
        self != RecurrentePaymentEvents::Unified
    }

    /// Whether the unified `intent.*` events are sent.
    pub fn unified(self) -> bool {
        self != RecurrentePaymentEvents::Legacy
    }
}

/// How to run a [`Simulator`](crate::Simulator).
#[derive(Clone)]
#[non_exhaustive]
pub struct SimConfig {
    /// Where to listen; must be a loopback address. Default `127.0.0.1:0` (any free port).
    pub addr: SocketAddr,
    /// The virtual clock's start; `None` (the default) is the real time, truncated to the second.
    pub start: Option<DateTime<Utc>>,
    /// The Cryptomus merchant id the `merchant` header must carry.
    pub cryptomus_merchant_id: String,
    /// The Cryptomus payment key requests and webhooks are signed with.
    pub cryptomus_payment_key: String,
    /// The Recurrente `X-PUBLIC-KEY` every `/api/...` request must carry.
    pub recurrente_public_key: String,
    /// The Recurrente `X-SECRET-KEY` every `/api/...` request must carry.
    pub recurrente_secret_key: String,
    /// A URL that receives every Recurrente event (as the endpoint configured in Recurrente's
    /// dashboard would), besides the endpoints created with `POST /api/webhook_endpoints`.
    pub recurrente_webhook_url: Option<String>,
    /// The `whsec_…` secret the events sent to `recurrente_webhook_url` are signed with.
    pub recurrente_webhook_secret: String,
    /// The account name `GET /api/test` answers with.
    pub recurrente_account_name: String,
    /// Pausing a Recurrente subscription sends the legacy `subscription.paused` (the seed
    /// reference's, and the official plugin's) instead of today's `subscription.pause`.
    /// Default `false`.
    pub recurrente_legacy_pause_event: bool,
    /// Which forms of each payment event are sent: legacy, unified `intent.*`, or both (the
    /// default, as Recurrente does). Can be changed while running with
    /// [`Simulator::set_recurrente_payment_events`](crate::Simulator::set_recurrente_payment_events) or `PUT /__sim/recurrente/payment_events`.
    pub recurrente_payment_events: RecurrentePaymentEvents,
    /// Webhook retries.
    pub delivery: DeliveryPolicy,
    /// Sequential uuid-shaped ids (`00000000-0000-4000-8000-000000000001`…) for reproducible output.
    pub deterministic_ids: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            start: None,
            cryptomus_merchant_id: DEFAULT_CRYPTOMUS_MERCHANT_ID.to_owned(),
            cryptomus_payment_key: DEFAULT_CRYPTOMUS_PAYMENT_KEY.to_owned(),
            recurrente_public_key: DEFAULT_RECURRENTE_PUBLIC_KEY.to_owned(),
            recurrente_secret_key: DEFAULT_RECURRENTE_SECRET_KEY.to_owned(),
            recurrente_webhook_url: None,
            recurrente_webhook_secret: DEFAULT_RECURRENTE_WEBHOOK_SECRET.to_owned(),
            recurrente_account_name: DEFAULT_RECURRENTE_ACCOUNT_NAME.to_owned(),
            recurrente_legacy_pause_event: false,
            recurrente_payment_events: RecurrentePaymentEvents::Both,
            delivery: DeliveryPolicy::default(),
            deterministic_ids: false,
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("addr", &self.addr)
            .field("start", &self.start)
            .field("cryptomus_merchant_id", &self.cryptomus_merchant_id)
            .field("cryptomus_payment_key", &"[redacted]")
            .field("recurrente_public_key", &self.recurrente_public_key)
            .field("recurrente_secret_key", &"[redacted]")
            .field("recurrente_webhook_url", &self.recurrente_webhook_url)
            .field("recurrente_webhook_secret", &"[redacted]")
            .field("recurrente_account_name", &self.recurrente_account_name)
            .field("recurrente_legacy_pause_event", &self.recurrente_legacy_pause_event)
            .field("recurrente_payment_events", &self.recurrente_payment_events)
            .field("delivery", &self.delivery)
            .field("deterministic_ids", &self.deterministic_ids)
            .finish()
    }
}

impl SimConfig {
    /// The defaults, with the credentials the provider clients read when they are set and not
    /// empty: `CRYPTOMUS_MERCHANT_ID`, `CRYPTOMUS_PAYMENT_KEY`, `RECURRENTE_PUBLIC_KEY`,
    /// `RECURRENTE_SECRET_KEY` and `RECURRENTE_WEBHOOK_SECRET` (the first secret when it lists
    /// several, comma-separated, as the Recurrente client accepts during a rotation).
    pub fn from_env() -> SimConfig {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut c = SimConfig::default();
        if let Some(m) = var("CRYPTOMUS_MERCHANT_ID") {
            c.cryptomus_merchant_id = m;
        }
        if let Some(k) = var("CRYPTOMUS_PAYMENT_KEY") {
            c.cryptomus_payment_key = k;
        }
        if let Some(k) = var("RECURRENTE_PUBLIC_KEY") {
            c.recurrente_public_key = k;
        }
        if let Some(k) = var("RECURRENTE_SECRET_KEY") {
            c.recurrente_secret_key = k;
        }
        if let Some(first) = var("RECURRENTE_WEBHOOK_SECRET")
            .and_then(|v| v.split(',').map(str::trim).find(|s| !s.is_empty()).map(str::to_owned))
        {
            c.recurrente_webhook_secret = first;
        }
        c
    }

    /// Sets the listening address (loopback only).
    #[must_use]
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Starts the virtual clock at `start`.
    #[must_use]
    pub fn start(mut self, start: DateTime<Utc>) -> Self {
        self.start = Some(start);
        self
    }

    /// Sets the Cryptomus credentials.
    #[must_use]
    pub fn cryptomus_credentials(mut self, merchant_id: impl Into<String>, payment_key: impl Into<String>) -> Self {
        self.cryptomus_merchant_id = merchant_id.into();
        self.cryptomus_payment_key = payment_key.into();
        self
    }

    /// Sets the Recurrente API keys (`X-PUBLIC-KEY`, `X-SECRET-KEY`).
    #[must_use]
    pub fn recurrente_keys(mut self, public_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        self.recurrente_public_key = public_key.into();
        self.recurrente_secret_key = secret_key.into();
        self
    }

    /// Sends every Recurrente event to `url` too (loopback only), signed with
    /// [`SimConfig::recurrente_webhook_secret`].
    #[must_use]
    pub fn recurrente_webhook_url(mut self, url: impl Into<String>) -> Self {
        self.recurrente_webhook_url = Some(url.into());
        self
    }

    /// Sets the `whsec_…` secret of [`SimConfig::recurrente_webhook_url`].
    #[must_use]
    pub fn recurrente_webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.recurrente_webhook_secret = secret.into();
        self
    }

    /// Sets the account name `GET /api/test` greets.
    #[must_use]
    pub fn recurrente_account_name(mut self, name: impl Into<String>) -> Self {
        self.recurrente_account_name = name.into();
        self
    }

    /// Sends the legacy `subscription.paused` when a Recurrente subscription is paused, instead
    /// of today's `subscription.pause` (the default).
    #[must_use]
    pub fn recurrente_legacy_pause_event(mut self, yes: bool) -> Self {
        self.recurrente_legacy_pause_event = yes;
        self
    }

    /// Sends Recurrente's payment events in their legacy form, the unified `intent.*` form, or
    /// both (the default).
    #[must_use]
    pub fn recurrente_payment_events(mut self, events: RecurrentePaymentEvents) -> Self {
        self.recurrente_payment_events = events;
        self
    }

    /// Sets the webhook retry policy.
    #[must_use]
    pub fn delivery(mut self, policy: DeliveryPolicy) -> Self {
        self.delivery = policy;
        self
    }

    /// Makes ids sequential and reproducible.
    #[must_use]
    pub fn deterministic_ids(mut self, yes: bool) -> Self {
        self.deterministic_ids = yes;
        self
    }
}

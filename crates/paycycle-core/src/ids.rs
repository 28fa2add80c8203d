//! Identifier newtypes, so a subscription id cannot be passed where a checkout id is expected.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a provider's identifier.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The identifier as the provider spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A checkout (the page a payer is sent to): Recurrente `ch_…`, Cryptomus recurrence uuid.
    CheckoutId
);
string_id!(
    /// A subscription: Recurrente `su_…`, Cryptomus recurrence uuid.
    SubscriptionId
);
string_id!(
    /// A payment: Recurrente `pa_…`, Cryptomus payment uuid.
    PaymentId
);
string_id!(
    /// A webhook event's identity, stable across redeliveries: use it to drop duplicates.
    EventId
);

/// Names a gateway: `"recurrente"`, `"cryptomus"`, `"fake"`, or a name of your own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GatewayId(Cow<'static, str>);

impl GatewayId {
    /// Recurrente (Guatemala; cards and bank transfer).
    pub const RECURRENTE: GatewayId = GatewayId(Cow::Borrowed("recurrente"));
    /// Cryptomus (crypto recurrence).
    pub const CRYPTOMUS: GatewayId = GatewayId(Cow::Borrowed("cryptomus"));
    /// The in-memory fake gateway.
    pub const FAKE: GatewayId = GatewayId(Cow::Borrowed("fake"));

    /// A gateway id for a backend of your own.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self(name.into())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GatewayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

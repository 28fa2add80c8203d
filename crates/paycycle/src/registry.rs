//! Holding several gateways at once, and routing incoming webhooks to the right one.

use std::collections::BTreeMap;
use std::sync::Arc;

use paycycle_core::{Error, RecurringGateway, Result, WebhookEvent};

use crate::config::GatewayConfig;

/// Several gateways by name, e.g. `"cards"` → Recurrente and `"crypto"` → Cryptomus.
///
/// An app mounts one webhook route per name (`/webhooks/{name}`) and hands each request's raw
/// headers and body to [`Gateways::verify_webhook`].
#[derive(Debug, Clone, Default)]
pub struct Gateways {
    by_name: BTreeMap<String, Arc<dyn RecurringGateway>>,
}

impl Gateways {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds every gateway of a name → config map (e.g. a `[gateways]` table of your config).
    ///
    /// # Errors
    /// The first [`GatewayConfig::build`] error, with the name in the key.
    pub fn from_configs<'a>(configs: impl IntoIterator<Item = (&'a str, &'a GatewayConfig)>) -> Result<Self> {
        let mut g = Gateways::new();
        for (name, config) in configs {
            let gateway = config.build().map_err(|e| match e {
                Error::Config { key, reason } => Error::config(format!("gateways.{name}.{key}"), reason),
                other => other,
            })?;
            g.insert(name, gateway);
        }
        Ok(g)
    }

    /// Adds (or replaces) a gateway under a name.
    pub fn insert(&mut self, name: impl Into<String>, gateway: Arc<dyn RecurringGateway>) -> &mut Self {
        self.by_name.insert(name.into(), gateway);
        self
    }

    /// The gateway registered under `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn RecurringGateway>> {
        self.by_name.get(name)
    }

    /// Every gateway with its name, sorted by name (e.g. to hand them all to a ledger).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<dyn RecurringGateway>)> {
        self.by_name.iter().map(|(n, g)| (n.as_str(), g))
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Verifies an incoming webhook with the gateway registered under `name` and normalizes it.
    ///
    /// # Errors
    /// [`Error::Config`] (key `gateways.{name}`) for an unknown name; the gateway's
    /// [`Error::Webhook`] when verification fails.
    pub fn verify_webhook(
        &self,
        name: &str,
        headers: &paycycle_core::http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent> {
        let gateway = self
            .get(name)
            .ok_or_else(|| Error::config(format!("gateways.{name}"), "no gateway by this name"))?;
        gateway.verify_webhook(headers, body)
    }
}

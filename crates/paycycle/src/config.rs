//! Choosing a backend by configuration: from the environment or from your own config file.

use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;

use paycycle_core::{Error, RecurringGateway, Result};

/// The environment variable that names the backend: `recurrente`, `cryptomus` or `fake`.
pub const ENV_GATEWAY: &str = "PAYCYCLE_GATEWAY";

/// One backend's settings. Deserializable, so an app can keep it in its own TOML or JSON:
///
/// ```toml
/// gateway = "cryptomus"
/// merchant_id = "8b03432e-385b-4670-8d06-064591096795"
/// payment_key = "..."
/// ```
///
/// Every variant exists whatever the cargo features: a configuration naming a backend that was
/// not compiled in parses, and [`GatewayConfig::build`] then says which feature to enable.
#[derive(Clone, Deserialize)]
#[serde(tag = "gateway", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum GatewayConfig {
    /// Recurrente (feature `recurrente`).
    Recurrente {
        /// `pk_…`: optional, the secret key alone authenticates; sent beside it when set.
        #[serde(default)]
        public_key: Option<SecretString>,
        /// `sk_…`.
        secret_key: SecretString,
        /// `whsec_…` signing secrets of your webhook endpoints (several during a rotation).
        #[serde(default)]
        webhook_secrets: Vec<SecretString>,
        /// Overrides `https://app.recurrente.com` (the simulator, a proxy).
        #[serde(default)]
        base_url: Option<url::Url>,
    },
    /// Cryptomus (feature `cryptomus`).
    Cryptomus {
        /// The merchant uuid.
        merchant_id: String,
        /// The payment API key.
        payment_key: SecretString,
        /// Overrides `https://api.cryptomus.com`.
        #[serde(default)]
        base_url: Option<url::Url>,
    },
    /// The in-memory fake (feature `fake`).
    Fake {
        /// Which real provider's capabilities it mimics: `recurrente`, `cryptomus`, or `all`
        /// (the default: everything supported).
        #[serde(default)]
        mimic: Option<String>,
    },
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets are never printed.
        match self {
            GatewayConfig::Recurrente {
                base_url,
                webhook_secrets,
                public_key,
                ..
            } => f
                .debug_struct("Recurrente")
                .field("public_key", &public_key.as_ref().map(|_| "[redacted]"))
                .field("secret_key", &"[redacted]")
                .field("webhook_secrets", &format_args!("[{} redacted]", webhook_secrets.len()))
                .field("base_url", base_url)
                .finish(),
            GatewayConfig::Cryptomus {
                merchant_id, base_url, ..
            } => f
                .debug_struct("Cryptomus")
                .field("merchant_id", merchant_id)
                .field("payment_key", &"[redacted]")
                .field("base_url", base_url)
                .finish(),
            GatewayConfig::Fake { mimic } => f.debug_struct("Fake").field("mimic", mimic).finish(),
        }
    }
}

impl GatewayConfig {
    /// The backend's name: `recurrente`, `cryptomus` or `fake`.
    pub fn name(&self) -> &'static str {
        match self {
            GatewayConfig::Recurrente { .. } => "recurrente",
            GatewayConfig::Cryptomus { .. } => "cryptomus",
            GatewayConfig::Fake { .. } => "fake",
        }
    }

    /// Reads the backend named by `PAYCYCLE_GATEWAY` and that backend's own variables
    /// (`RECURRENTE_*`, `CRYPTOMUS_*`).
    ///
    /// # Errors
    /// [`Error::Config`] naming the missing or malformed variable.
    pub fn from_env() -> Result<GatewayConfig> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Like [`GatewayConfig::from_env`], reading variables through `lookup` (for tests, or a
    /// secrets manager).
    ///
    /// # Errors
    /// [`Error::Config`] naming the missing or malformed variable.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<GatewayConfig> {
        let required = |k: &str| -> Result<String> {
            match lookup(k) {
                Some(v) if !v.trim().is_empty() => Ok(v),
                _ => Err(Error::config(k, "is not set")),
            }
        };
        let url = |k: &str| -> Result<Option<url::Url>> {
            match lookup(k).filter(|v| !v.trim().is_empty()) {
                None => Ok(None),
                Some(v) => url::Url::parse(v.trim())
                    .map(Some)
                    .map_err(|e| Error::config(k, format!("not a URL: {e}"))),
            }
        };
        let name = required(ENV_GATEWAY)
            .map_err(|_| Error::config(ENV_GATEWAY, "is not set; use one of `recurrente`, `cryptomus`, `fake`"))?;
        match name.trim().to_ascii_lowercase().as_str() {
            "recurrente" => Ok(GatewayConfig::Recurrente {
                public_key: lookup("RECURRENTE_PUBLIC_KEY")
                    .filter(|v| !v.trim().is_empty())
                    .map(SecretString::from),
                secret_key: required("RECURRENTE_SECRET_KEY")?.into(),
                webhook_secrets: lookup("RECURRENTE_WEBHOOK_SECRET")
                    .unwrap_or_default()
                    .split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .map(|s| SecretString::from(s.to_owned()))
                    .collect(),
                base_url: url("RECURRENTE_BASE_URL")?,
            }),
            "cryptomus" => Ok(GatewayConfig::Cryptomus {
                merchant_id: required("CRYPTOMUS_MERCHANT_ID")?,
                payment_key: required("CRYPTOMUS_PAYMENT_KEY")?.into(),
                base_url: url("CRYPTOMUS_BASE_URL")?,
            }),
            "fake" => Ok(GatewayConfig::Fake {
                mimic: lookup("PAYCYCLE_FAKE_MIMIC"),
            }),
            other => Err(Error::config(
                ENV_GATEWAY,
                format!("`{other}` is not a backend; use one of `recurrente`, `cryptomus`, `fake`"),
            )),
        }
    }

    /// Builds the gateway.
    ///
    /// # Errors
    /// [`Error::Config`] when the backend's cargo feature is off (naming the feature) or a
    /// setting is invalid.
    pub fn build(&self) -> Result<Arc<dyn RecurringGateway>> {
        match self {
            #[cfg(feature = "recurrente")]
            GatewayConfig::Recurrente {
                public_key,
                secret_key,
                webhook_secrets,
                base_url,
            } => {
                use secrecy::ExposeSecret;
                let mut b = paycycle_recurrente::RecurrenteConfig::builder().secret_key(secret_key.expose_secret());
                if let Some(pk) = public_key {
                    b = b.public_key(pk.expose_secret());
                }
                for s in webhook_secrets {
                    b = b.webhook_secret(s.expose_secret());
                }
                if let Some(u) = base_url {
                    b = b.base_url(u.as_str());
                }
                Ok(Arc::new(paycycle_recurrente::RecurrenteGateway::new(&b.build()?)?))
            }
            #[cfg(feature = "cryptomus")]
            GatewayConfig::Cryptomus {
                merchant_id,
                payment_key,
                base_url,
            } => {
                let mut b = paycycle_cryptomus::CryptomusConfig::builder()
                    .merchant_id(merchant_id)
                    .payment_key(payment_key.clone());
                if let Some(u) = base_url {
                    b = b.base_url(u.as_str());
                }
                Ok(Arc::new(paycycle_cryptomus::CryptomusGateway::new(b.build()?)?))
            }
            #[cfg(feature = "fake")]
            GatewayConfig::Fake { mimic } => {
                use paycycle_sim::fake::{FakeGateway, Mimic};
                let mimic: Mimic = mimic
                    .as_deref()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e| Error::config("mimic", e))?;
                Ok(Arc::new(FakeGateway::new(mimic)))
            }
            #[allow(unreachable_patterns)]
            other => Err(Error::config(
                "gateway",
                format!(
                    "the `{name}` backend is not compiled in: enable the cargo feature `{name}` of paycycle",
                    name = other.name()
                ),
            )),
        }
    }
}

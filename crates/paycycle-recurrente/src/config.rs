//! Configuration: API keys, webhook secrets, base URL, timeouts.
//!
//! Build one with [`RecurrenteConfig::builder`] or read it from the environment with
//! [`RecurrenteConfig::from_env`]. Keys are kept in [`SecretString`]s; `Debug` never prints them,
//! and no error message ever contains a secret's value.

use std::fmt;
use std::time::Duration;

use paycycle_core::{Error, Result};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::webhook::WebhookSecret;

/// Recurrente's production API host. API paths are under `/api/`.
pub const DEFAULT_BASE_URL: &str = "https://app.recurrente.com";

/// The variable holding the public key (`pk_live_…` / `pk_test_…`); optional: the secret key
/// alone authenticates.
pub const ENV_PUBLIC_KEY: &str = "RECURRENTE_PUBLIC_KEY";
/// The variable holding the secret key (`sk_live_…` / `sk_test_…`).
pub const ENV_SECRET_KEY: &str = "RECURRENTE_SECRET_KEY";
/// The variable holding the webhook signing secret(s) (`whsec_…`), separated by spaces or commas.
pub const ENV_WEBHOOK_SECRET: &str = "RECURRENTE_WEBHOOK_SECRET";
/// The variable overriding the base URL (the simulator, a proxy).
pub const ENV_BASE_URL: &str = "RECURRENTE_BASE_URL";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_RETRIES: u32 = 2;

/// Everything the Recurrente client and gateway need.
///
/// The secret key is required and enough: it selects the account and the mode (test or live).
/// The public key is optional; when it is set, both are sent (`X-PUBLIC-KEY` and
/// `X-SECRET-KEY`, which must then belong to the same account and mode). No `Authorization`
/// header is ever sent.
///
/// ```
/// use paycycle_recurrente::RecurrenteConfig;
/// let config = RecurrenteConfig::builder()
///     .public_key("pk_test_123")
///     .secret_key("sk_test_456")
///     .webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
///     .base_url("http://127.0.0.1:8080")
///     .build()?;
/// assert_eq!(config.base_url().as_str(), "http://127.0.0.1:8080/");
/// assert!(!format!("{config:?}").contains("sk_test_456"));
/// # Ok::<(), paycycle_core::Error>(())
/// ```
#[derive(Clone)]
pub struct RecurrenteConfig {
    public_key: Option<SecretString>,
    secret_key: SecretString,
    webhook_secrets: Vec<WebhookSecret>,
    base_url: Url,
    timeout: Duration,
    connect_timeout: Duration,
    max_retries: u32,
}

impl fmt::Debug for RecurrenteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecurrenteConfig")
            .field("public_key", &self.public_key.as_ref().map(|_| "[redacted]"))
            .field("secret_key", &"[redacted]")
            .field(
                "webhook_secrets",
                &format_args!("[redacted; {}]", self.webhook_secrets.len()),
            )
            .field("base_url", &self.base_url.as_str())
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

impl RecurrenteConfig {
    /// Starts a configuration.
    pub fn builder() -> RecurrenteConfigBuilder {
        RecurrenteConfigBuilder::default()
    }

    /// Reads `RECURRENTE_SECRET_KEY`, the optional `RECURRENTE_PUBLIC_KEY` (unset or empty: only
    /// the secret key is sent), the optional
    /// `RECURRENTE_WEBHOOK_SECRET` (several secrets separated by spaces or commas, for rotation)
    /// and the optional `RECURRENTE_BASE_URL` (default `https://app.recurrente.com`).
    ///
    /// # Errors
    /// [`Error::Config`] naming the missing or malformed variable (never its value).
    pub fn from_env() -> Result<RecurrenteConfig> {
        Self::from_vars(|name| match std::env::var(name) {
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::config(name, "is not valid UTF-8")),
        })
    }

    /// As [`RecurrenteConfig::from_env`], reading the variables through `lookup` (a map of your
    /// own, a secrets manager, a test).
    ///
    /// # Errors
    /// [`Error::Config`] naming the missing or malformed variable (never its value), or the
    /// error `lookup` returned.
    pub fn from_vars<F>(mut lookup: F) -> Result<RecurrenteConfig>
    where
        F: FnMut(&str) -> Result<Option<String>>,
    {
        let mut required = |name: &'static str| -> Result<String> {
            match lookup(name)? {
                Some(v) if !v.trim().is_empty() => Ok(v),
                Some(_) => Err(Error::config(name, "is empty")),
                None => Err(Error::config(name, "is not set")),
            }
        };
        let secret_key = required(ENV_SECRET_KEY)?;
        let public_key = lookup(ENV_PUBLIC_KEY)?.filter(|v| !v.trim().is_empty());
        let secrets = lookup(ENV_WEBHOOK_SECRET)?.unwrap_or_default();
        let base_url = lookup(ENV_BASE_URL)?.filter(|v| !v.trim().is_empty());

        let mut builder = RecurrenteConfig::builder().secret_key(secret_key);
        if let Some(key) = public_key {
            builder = builder.public_key(key);
        }
        for secret in secrets.split([' ', ',', '\n', '\t']).filter(|s| !s.is_empty()) {
            builder = builder.webhook_secret(secret);
        }
        if let Some(url) = base_url {
            builder = builder.base_url(url);
        }
        builder.build_named(Names::ENV)
    }

    /// The public key, when one is configured (sent as `X-PUBLIC-KEY` next to the secret key).
    pub fn public_key(&self) -> Option<&SecretString> {
        self.public_key.as_ref()
    }

    /// The secret key.
    pub fn secret_key(&self) -> &SecretString {
        &self.secret_key
    }

    /// The webhook signing secrets, in the order given (empty when none is configured).
    pub fn webhook_secrets(&self) -> &[WebhookSecret] {
        &self.webhook_secrets
    }

    /// The base URL (the API is under its `/api/` path).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The timeout of one whole request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The timeout of establishing a connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// How many times a failed `GET` is retried (never other methods).
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }
}

/// Builds a [`RecurrenteConfig`]; [`RecurrenteConfigBuilder::build`] validates it.
#[derive(Default)]
#[must_use]
pub struct RecurrenteConfigBuilder {
    public_key: Option<SecretString>,
    secret_key: Option<SecretString>,
    webhook_secrets: Vec<SecretString>,
    base_url: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_retries: Option<u32>,
}

impl fmt::Debug for RecurrenteConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecurrenteConfigBuilder")
            .field("public_key", &self.public_key.as_ref().map(|_| "[redacted]"))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "[redacted]"))
            .field(
                "webhook_secrets",
                &format_args!("[redacted; {}]", self.webhook_secrets.len()),
            )
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

/// The names errors use for each setting: builder method names, or environment variables.
struct Names {
    public_key: &'static str,
    secret_key: &'static str,
    webhook_secret: &'static str,
    base_url: &'static str,
}

impl Names {
    const BUILDER: Names = Names {
        public_key: "public_key",
        secret_key: "secret_key",
        webhook_secret: "webhook_secret",
        base_url: "base_url",
    };
    const ENV: Names = Names {
        public_key: ENV_PUBLIC_KEY,
        secret_key: ENV_SECRET_KEY,
        webhook_secret: ENV_WEBHOOK_SECRET,
        base_url: ENV_BASE_URL,
    };
}

impl RecurrenteConfigBuilder {
    /// The public key (`X-PUBLIC-KEY`); optional: without it only `X-SECRET-KEY` is sent.
    pub fn public_key(mut self, key: impl Into<String>) -> Self {
        self.public_key = Some(SecretString::from(key.into()));
        self
    }

    /// The secret key (`X-SECRET-KEY`).
    pub fn secret_key(mut self, key: impl Into<String>) -> Self {
        self.secret_key = Some(SecretString::from(key.into()));
        self
    }

    /// Adds a webhook signing secret (`whsec_…`). Call it again to accept several at once while
    /// rotating secrets.
    pub fn webhook_secret(mut self, secret: impl Into<String>) -> Self {
        self.webhook_secrets.push(SecretString::from(secret.into()));
        self
    }

    /// Overrides the base URL (default `https://app.recurrente.com`); the simulator's address
    /// in tests.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The timeout of one whole request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The timeout of establishing a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How many times a `GET` is retried after a transport error or a 5xx (default 2). Other
    /// methods are never retried: a retried create could charge or create twice.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// Validates and returns the configuration.
    ///
    /// # Errors
    /// [`Error::Config`] naming the missing or malformed setting (`secret_key`, a malformed
    /// `public_key`,
    /// `webhook_secret`, `base_url`, `timeout`); never a secret's value.
    pub fn build(self) -> Result<RecurrenteConfig> {
        self.build_named(Names::BUILDER)
    }

    fn build_named(self, names: Names) -> Result<RecurrenteConfig> {
        let public_key = self
            .public_key
            .map(|k| check_key(Some(k), names.public_key, "pk_", "sk_"))
            .transpose()?;
        let secret_key = check_key(self.secret_key, names.secret_key, "sk_", "pk_")?;
        let webhook_secrets = self
            .webhook_secrets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                WebhookSecret::parse(s.expose_secret()).map_err(|e| {
                    let reason = match e {
                        Error::Webhook { reason, .. } => reason.to_string(),
                        other => other.to_string(),
                    };
                    Error::config(names.webhook_secret, format!("secret #{}: {reason}", i + 1))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let base_url = parse_base_url(self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL), names.base_url)?;
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let connect_timeout = self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        if timeout.is_zero() {
            return Err(Error::config("timeout", "must be longer than zero"));
        }
        if connect_timeout.is_zero() {
            return Err(Error::config("connect_timeout", "must be longer than zero"));
        }
        Ok(RecurrenteConfig {
            public_key,
            secret_key,
            webhook_secrets,
            base_url,
            timeout,
            connect_timeout,
            max_retries: self.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
        })
    }
}

/// Checks a key without ever putting its value in an error.
fn check_key(key: Option<SecretString>, name: &str, expected: &str, other: &str) -> Result<SecretString> {
    let Some(key) = key else {
        return Err(Error::config(name, "is not set"));
    };
    let value = key.expose_secret();
    if value.trim().is_empty() {
        return Err(Error::config(name, "is empty"));
    }
    if value.trim() != value {
        return Err(Error::config(name, "has leading or trailing whitespace"));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::config(
            name,
            "contains characters that cannot be sent in an HTTP header",
        ));
    }
    if value.starts_with(other) && !value.starts_with(expected) {
        return Err(Error::config(
            name,
            format!("starts with `{other}`, expected `{expected}`: are the public and secret keys swapped?"),
        ));
    }
    Ok(key)
}

fn parse_base_url(raw: &str, name: &str) -> Result<Url> {
    let url = Url::parse(raw.trim()).map_err(|e| Error::config(name, format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(name, "must be an http or https URL"));
    }
    if url.host_str().is_none() {
        return Err(Error::config(name, "has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(name, "must not have a query or fragment"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn vars(pairs: &[(&str, &str)]) -> impl FnMut(&str) -> Result<Option<String>> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| Ok(map.get(name).cloned())
    }

    fn config_key(r: Result<RecurrenteConfig>) -> (String, String) {
        match r {
            Err(Error::Config { key, reason }) => (key, reason),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn builder_sets_and_defaults() {
        let c = RecurrenteConfig::builder()
            .public_key("pk_test_a")
            .secret_key("sk_test_b")
            .timeout(Duration::from_secs(5))
            .max_retries(0)
            .build()
            .unwrap();
        assert_eq!(c.base_url().as_str(), "https://app.recurrente.com/");
        assert_eq!(c.public_key().map(|k| k.expose_secret()), Some("pk_test_a"));
        assert_eq!(c.secret_key().expose_secret(), "sk_test_b");
        assert_eq!(c.timeout(), Duration::from_secs(5));
        assert_eq!(c.connect_timeout(), DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(c.max_retries(), 0);
        assert!(c.webhook_secrets().is_empty());
    }

    #[test]
    fn debug_redacts_every_secret() {
        let c = RecurrenteConfig::builder()
            .public_key("pk_test_visible_only_to_us")
            .secret_key("sk_test_super_secret")
            .webhook_secret(SECRET)
            .build()
            .unwrap();
        let printed = format!(
            "{c:?} {:?}",
            RecurrenteConfig::builder().secret_key("sk_test_super_secret")
        );
        assert!(printed.contains("[redacted]"));
        for secret in ["pk_test_visible_only_to_us", "sk_test_super_secret", "MfKQ9r8G"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }

    #[test]
    fn from_vars_reads_everything_and_splits_secrets() {
        let other = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldA==";
        let c = RecurrenteConfig::from_vars(vars(&[
            (ENV_PUBLIC_KEY, "pk_live_1"),
            (ENV_SECRET_KEY, "sk_live_2"),
            (ENV_WEBHOOK_SECRET, &format!("{SECRET}, {other}")),
            (ENV_BASE_URL, "http://127.0.0.1:9999/recurrente"),
        ]))
        .unwrap();
        assert_eq!(c.webhook_secrets().len(), 2);
        assert_eq!(c.base_url().as_str(), "http://127.0.0.1:9999/recurrente");

        let c = RecurrenteConfig::from_vars(vars(&[(ENV_PUBLIC_KEY, "pk_1"), (ENV_SECRET_KEY, "sk_2")])).unwrap();
        assert!(c.webhook_secrets().is_empty());
        assert_eq!(c.base_url().as_str(), DEFAULT_BASE_URL.to_owned() + "/");
    }

    #[test]
    fn missing_or_bad_variables_are_named_without_their_values() {
        let (key, reason) = config_key(RecurrenteConfig::from_vars(vars(&[(ENV_PUBLIC_KEY, "pk_1")])));
        assert_eq!(key, ENV_SECRET_KEY);
        assert_eq!(reason, "is not set");

        // The secret key alone is enough; an empty public key is no public key.
        let c = RecurrenteConfig::from_vars(vars(&[(ENV_SECRET_KEY, "sk_1")])).unwrap();
        assert!(c.public_key().is_none());
        let c = RecurrenteConfig::from_vars(vars(&[(ENV_PUBLIC_KEY, " "), (ENV_SECRET_KEY, "sk_1")])).unwrap();
        assert!(c.public_key().is_none());
        let c = RecurrenteConfig::builder().secret_key("sk_test_1").build().unwrap();
        assert!(c.public_key().is_none());
        assert!(format!("{c:?}").contains("public_key: None"));
        let (key, _) = config_key(RecurrenteConfig::builder().public_key("pk_test_1").build());
        assert_eq!(key, "secret_key");

        let (key, reason) = config_key(RecurrenteConfig::from_vars(vars(&[
            (ENV_PUBLIC_KEY, "pk_1"),
            (ENV_SECRET_KEY, "sk_bad key\n"),
        ])));
        assert_eq!(key, ENV_SECRET_KEY);
        assert!(!reason.contains("bad key"));

        let (key, reason) = config_key(RecurrenteConfig::from_vars(vars(&[
            (ENV_PUBLIC_KEY, "sk_oops"),
            (ENV_SECRET_KEY, "pk_oops"),
        ])));
        assert_eq!(key, ENV_PUBLIC_KEY);
        assert!(reason.contains("swapped") && !reason.contains("oops"), "{reason}");

        let (key, reason) = config_key(RecurrenteConfig::from_vars(vars(&[
            (ENV_PUBLIC_KEY, "pk_1"),
            (ENV_SECRET_KEY, "sk_1"),
            (ENV_WEBHOOK_SECRET, "whsec_not*base64!!"),
        ])));
        assert_eq!(key, ENV_WEBHOOK_SECRET);
        assert!(!reason.contains("not*base64"), "{reason}");

        let (key, _) = config_key(RecurrenteConfig::from_vars(vars(&[
            (ENV_PUBLIC_KEY, "pk_1"),
            (ENV_SECRET_KEY, "sk_1"),
            (ENV_BASE_URL, "ftp://example.com"),
        ])));
        assert_eq!(key, ENV_BASE_URL);

        let (key, _) = config_key(RecurrenteConfig::builder().public_key("pk").secret_key("").build());
        assert_eq!(key, "secret_key");
        let (key, _) = config_key(
            RecurrenteConfig::builder()
                .public_key("pk")
                .secret_key("sk")
                .base_url("not a url")
                .build(),
        );
        assert_eq!(key, "base_url");
        let (key, _) = config_key(
            RecurrenteConfig::builder()
                .public_key("pk")
                .secret_key("sk")
                .timeout(Duration::ZERO)
                .build(),
        );
        assert_eq!(key, "timeout");
    }

    #[test]
    fn lookup_errors_propagate() {
        let r = RecurrenteConfig::from_vars(|name| Err(Error::config(name, "is not valid UTF-8")));
        assert_eq!(config_key(r).0, ENV_SECRET_KEY);
    }
}

//! Configuration: merchant id, payment key, base URL, timeouts and retries.
//!
//! The payment key lives in a [`SecretString`]: `Debug` prints `[redacted]` and no error message
//! ever contains it.

use std::fmt;
use std::time::Duration;

use http::HeaderValue;
use paycycle_core::{Error, Result};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://api.cryptomus.com";
/// The default timeout of one HTTP request (connect, send, receive).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a safe call is tried again after the first attempt, by default.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// The wait before the first retry; it doubles for each further retry.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// The environment variables [`CryptomusConfig::from_env`] reads.
pub mod env {
    /// The merchant's uuid (the `merchant` header). Required.
    pub const MERCHANT_ID: &str = "CRYPTOMUS_MERCHANT_ID";
    /// The **payment** API key (not the payout key). Required.
    pub const PAYMENT_KEY: &str = "CRYPTOMUS_PAYMENT_KEY";
    /// Overrides the base URL (e.g. a local simulator). Optional; empty means unset.
    pub const BASE_URL: &str = "CRYPTOMUS_BASE_URL";
}

/// Everything needed to talk to Cryptomus.
///
/// ```
/// use paycycle_cryptomus::CryptomusConfig;
/// let config = CryptomusConfig::builder()
///     .merchant_id("8b03432e-385b-4670-8d06-064591096795")
///     .payment_key("my-payment-key")
///     .base_url("http://127.0.0.1:8080")
///     .build()?;
/// assert!(!format!("{config:?}").contains("my-payment-key"));
/// # Ok::<(), paycycle_core::Error>(())
/// ```
#[derive(Clone)]
pub struct CryptomusConfig {
    merchant_id: String,
    merchant_header: HeaderValue,
    payment_key: SecretString,
    base_url: Url,
    timeout: Duration,
    max_retries: u32,
    retry_backoff: Duration,
}

impl CryptomusConfig {
    /// Starts a builder.
    pub fn builder() -> CryptomusConfigBuilder {
        CryptomusConfigBuilder::new()
    }

    /// Reads `CRYPTOMUS_MERCHANT_ID`, `CRYPTOMUS_PAYMENT_KEY` and, optionally,
    /// `CRYPTOMUS_BASE_URL`; the other settings keep their defaults.
    ///
    /// # Errors
    /// [`Error::Config`] whose `key` is the name of the missing or malformed variable.
    pub fn from_env() -> Result<CryptomusConfig> {
        Self::from_lookup(|name| std::env::var(name))
    }

    /// [`CryptomusConfig::from_env`] over any source of variables (tests cannot safely change
    /// the process environment).
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Result<String, std::env::VarError>) -> Result<CryptomusConfig> {
        let required = |name: &str| match lookup(name) {
            Ok(v) if v.is_empty() => Err(Error::config(name, "is set but empty")),
            Ok(v) => Ok(v),
            Err(std::env::VarError::NotPresent) => Err(Error::config(name, "is not set")),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::config(name, "is not valid UTF-8")),
        };
        let merchant_id = required(env::MERCHANT_ID)?;
        let payment_key = SecretString::from(required(env::PAYMENT_KEY)?);
        let mut builder = CryptomusConfig::builder()
            .merchant_id(merchant_id)
            .payment_key(payment_key);
        match lookup(env::BASE_URL) {
            Ok(v) if v.is_empty() => {}
            Ok(v) => builder = builder.base_url(v),
            Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::config(env::BASE_URL, "is not valid UTF-8"));
            }
        }
        builder.build().map_err(|e| match e {
            Error::Config { key, reason } => {
                let key = match key.as_str() {
                    "merchant_id" => env::MERCHANT_ID.to_owned(),
                    "payment_key" => env::PAYMENT_KEY.to_owned(),
                    "base_url" => env::BASE_URL.to_owned(),
                    _ => key,
                };
                Error::Config { key, reason }
            }
            other => other,
        })
    }

    /// The merchant's uuid, sent in the `merchant` header.
    pub fn merchant_id(&self) -> &str {
        &self.merchant_id
    }

    pub(crate) fn merchant_header(&self) -> &HeaderValue {
        &self.merchant_header
    }

    /// The payment API key (still secret: read it with [`ExposeSecret`] only to sign).
    pub fn payment_key(&self) -> &SecretString {
        &self.payment_key
    }

    /// The API's base URL; paths such as `v1/recurrence/create` are resolved against it.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The timeout of one HTTP request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many times a safe call is tried again (see [`crate::CryptomusClient`]).
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The wait before the first retry; it doubles for each further one.
    pub fn retry_backoff(&self) -> Duration {
        self.retry_backoff
    }
}

impl fmt::Debug for CryptomusConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptomusConfig")
            .field("merchant_id", &self.merchant_id)
            .field("payment_key", &Redacted)
            .field("base_url", &self.base_url.as_str())
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff", &self.retry_backoff)
            .finish()
    }
}

/// Prints `[redacted]` in place of a secret.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Builds a [`CryptomusConfig`]; [`build`](CryptomusConfigBuilder::build) validates.
#[must_use]
#[derive(Clone)]
pub struct CryptomusConfigBuilder {
    merchant_id: Option<String>,
    payment_key: Option<SecretString>,
    base_url: String,
    timeout: Duration,
    max_retries: u32,
    retry_backoff: Duration,
}

impl Default for CryptomusConfigBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CryptomusConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptomusConfigBuilder")
            .field("merchant_id", &self.merchant_id)
            .field("payment_key", &self.payment_key.as_ref().map(|_| Redacted))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff", &self.retry_backoff)
            .finish()
    }
}

impl CryptomusConfigBuilder {
    /// A builder with the defaults: production base URL, 30 s timeout, 2 retries of safe calls.
    pub fn new() -> Self {
        CryptomusConfigBuilder {
            merchant_id: None,
            payment_key: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
        }
    }

    /// The merchant's uuid (Cryptomus dashboard → business → merchant).
    pub fn merchant_id(mut self, merchant_id: impl Into<String>) -> Self {
        self.merchant_id = Some(merchant_id.into());
        self
    }

    /// The **payment** API key; recurrence calls and webhooks are signed with it.
    pub fn payment_key(mut self, key: impl Into<SecretString>) -> Self {
        self.payment_key = Some(key.into());
        self
    }

    /// Overrides the base URL (`https://api.cryptomus.com` by default); a path prefix is kept
    /// (`http://127.0.0.1:9000/cryptomus` sends to `/cryptomus/v1/recurrence/...`).
    pub fn base_url(mut self, url: impl AsRef<str>) -> Self {
        self.base_url = url.as_ref().to_owned();
        self
    }

    /// The timeout of one HTTP request, from connecting to the last byte of the answer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many more times a safe call is tried after a transport error or a 5xx (0 disables).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The wait before the first retry; it doubles for each further one.
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = backoff;
        self
    }

    /// Validates and returns the configuration.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field (`merchant_id`, `payment_key`, `base_url`, `timeout`,
    /// `max_retries`); the reason never contains the key.
    pub fn build(self) -> Result<CryptomusConfig> {
        let merchant_id = self
            .merchant_id
            .ok_or_else(|| Error::config("merchant_id", "is required"))?;
        if merchant_id.is_empty() {
            return Err(Error::config("merchant_id", "must not be empty"));
        }
        if merchant_id.len() > 100 || !merchant_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::config(
                "merchant_id",
                "must be at most 100 visible ASCII characters (a uuid), without spaces",
            ));
        }
        let merchant_header = HeaderValue::from_str(&merchant_id)
            .map_err(|_| Error::config("merchant_id", "is not a valid header value"))?;

        let payment_key = self
            .payment_key
            .ok_or_else(|| Error::config("payment_key", "is required"))?;
        let key = payment_key.expose_secret();
        if key.is_empty() {
            return Err(Error::config("payment_key", "must not be empty"));
        }
        if key.trim() != key {
            return Err(Error::config(
                "payment_key",
                "has leading or trailing whitespace (a stray newline from a file?)",
            ));
        }

        let base_url = parse_base_url(&self.base_url)?;
        if self.timeout.is_zero() {
            return Err(Error::config("timeout", "must be longer than zero"));
        }
        if self.max_retries > 10 {
            return Err(Error::config("max_retries", "must be at most 10"));
        }
        Ok(CryptomusConfig {
            merchant_id,
            merchant_header,
            payment_key,
            base_url,
            timeout: self.timeout,
            max_retries: self.max_retries,
            retry_backoff: self.retry_backoff,
        })
    }
}

/// Parses a base URL and makes its path end with `/`, so that relative endpoint paths keep it.
fn parse_base_url(text: &str) -> Result<Url> {
    let mut url = Url::parse(text.trim()).map_err(|e| Error::config("base_url", format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config("base_url", "must be an http or https URL"));
    }
    if url.host().is_none() {
        return Err(Error::config("base_url", "has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config("base_url", "must not have a query or a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config("base_url", "must not carry credentials"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::env::VarError;

    const KEY: &str = "sUpEr-SeCrEt-KeY-123";

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Result<String, VarError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned().ok_or(VarError::NotPresent)
    }

    fn config_key(r: Result<CryptomusConfig>) -> String {
        match r {
            Err(Error::Config { key, reason }) => {
                assert!(!reason.contains(KEY), "a reason leaked the key: {reason}");
                key
            }
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_overrides() {
        let c = CryptomusConfig::builder()
            .merchant_id("m-1")
            .payment_key(KEY)
            .build()
            .unwrap();
        assert_eq!(c.base_url().as_str(), "https://api.cryptomus.com/");
        assert_eq!(c.timeout(), Duration::from_secs(30));
        assert_eq!(c.max_retries(), 2);
        assert_eq!(c.payment_key().expose_secret(), KEY);
        let c = CryptomusConfig::builder()
            .merchant_id("m-1")
            .payment_key(KEY)
            .base_url("http://127.0.0.1:9000/cryptomus")
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        assert_eq!(c.base_url().as_str(), "http://127.0.0.1:9000/cryptomus/");
        assert_eq!(
            c.base_url().join("v1/recurrence/list").unwrap().as_str(),
            "http://127.0.0.1:9000/cryptomus/v1/recurrence/list"
        );
        assert_eq!(c.timeout(), Duration::from_secs(2));
    }

    #[test]
    fn build_names_the_bad_field() {
        let ok = || CryptomusConfig::builder().merchant_id("m-1").payment_key(KEY);
        assert_eq!(
            config_key(CryptomusConfig::builder().payment_key(KEY).build()),
            "merchant_id"
        );
        assert_eq!(config_key(ok().merchant_id("").build()), "merchant_id");
        assert_eq!(config_key(ok().merchant_id("a b").build()), "merchant_id");
        assert_eq!(config_key(ok().merchant_id("m\n").build()), "merchant_id");
        assert_eq!(
            config_key(CryptomusConfig::builder().merchant_id("m").build()),
            "payment_key"
        );
        assert_eq!(config_key(ok().payment_key("").build()), "payment_key");
        assert_eq!(config_key(ok().payment_key(format!("{KEY}\n")).build()), "payment_key");
        assert_eq!(config_key(ok().base_url("not a url").build()), "base_url");
        assert_eq!(config_key(ok().base_url("ftp://x.example").build()), "base_url");
        assert_eq!(config_key(ok().base_url("https://x.example/?a=1").build()), "base_url");
        assert_eq!(config_key(ok().base_url("https://u:p@x.example/").build()), "base_url");
        assert_eq!(config_key(ok().timeout(Duration::ZERO).build()), "timeout");
        assert_eq!(config_key(ok().max_retries(11).build()), "max_retries");
    }

    #[test]
    fn from_env_names_the_variable() {
        let all = [(env::MERCHANT_ID, "m-1"), (env::PAYMENT_KEY, KEY)];
        let c = CryptomusConfig::from_lookup(lookup(&all)).unwrap();
        assert_eq!(c.merchant_id(), "m-1");
        assert_eq!(c.base_url().as_str(), "https://api.cryptomus.com/");

        let with_url = [
            (env::MERCHANT_ID, "m-1"),
            (env::PAYMENT_KEY, KEY),
            (env::BASE_URL, "http://127.0.0.1:1"),
        ];
        let c = CryptomusConfig::from_lookup(lookup(&with_url)).unwrap();
        assert_eq!(c.base_url().as_str(), "http://127.0.0.1:1/");
        let empty_url = [(env::MERCHANT_ID, "m-1"), (env::PAYMENT_KEY, KEY), (env::BASE_URL, "")];
        assert!(CryptomusConfig::from_lookup(lookup(&empty_url)).is_ok());

        assert_eq!(
            config_key(CryptomusConfig::from_lookup(lookup(&[(env::PAYMENT_KEY, KEY)]))),
            env::MERCHANT_ID
        );
        assert_eq!(
            config_key(CryptomusConfig::from_lookup(lookup(&[(env::MERCHANT_ID, "m")]))),
            env::PAYMENT_KEY
        );
        assert_eq!(
            config_key(CryptomusConfig::from_lookup(lookup(&[
                (env::MERCHANT_ID, "m"),
                (env::PAYMENT_KEY, "")
            ]))),
            env::PAYMENT_KEY
        );
        assert_eq!(
            config_key(CryptomusConfig::from_lookup(lookup(&[
                (env::MERCHANT_ID, "m"),
                (env::PAYMENT_KEY, " padded ")
            ]))),
            env::PAYMENT_KEY
        );
        assert_eq!(
            config_key(CryptomusConfig::from_lookup(lookup(&[
                (env::MERCHANT_ID, "has space"),
                (env::PAYMENT_KEY, KEY)
            ]))),
            env::MERCHANT_ID
        );
        assert_eq!(
            config_key(CryptomusConfig::from_lookup(lookup(&[
                (env::MERCHANT_ID, "m"),
                (env::PAYMENT_KEY, KEY),
                (env::BASE_URL, "nope")
            ]))),
            env::BASE_URL
        );
        let not_unicode = |name: &str| {
            if name == env::MERCHANT_ID {
                Err(VarError::NotUnicode(std::ffi::OsString::from("x")))
            } else {
                Ok(KEY.to_owned())
            }
        };
        assert_eq!(config_key(CryptomusConfig::from_lookup(not_unicode)), env::MERCHANT_ID);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let b = CryptomusConfig::builder().merchant_id("m-1").payment_key(KEY);
        let shown = format!("{b:?}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains(KEY));
        let c = b.build().unwrap();
        let shown = format!("{c:?} {c:#?}");
        assert!(shown.contains("payment_key: [redacted]"), "{shown}");
        assert!(shown.contains("m-1"));
        assert!(!shown.contains(KEY));
    }
}

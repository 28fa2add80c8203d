//! Commands that talk to a running simulator (`--sim URL`) or to any webhook receiver:
//! `clock`, `seed`, `subscriptions` and `trigger`.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use paycycle_core::{RecurringGateway, RecurringGatewayExt, Subscription};
use paycycle_cryptomus::{CryptomusConfig, CryptomusGateway};
use paycycle_recurrente::{RecurrenteConfig, RecurrenteGateway};
use serde_json::{Value, json};
use url::Url;

use crate::{Failure, Gateway, failed, usage};

/// The address `paycycle sim` listens on by default.
pub(crate) const DEFAULT_SIM: &str = "http://127.0.0.1:8787";

fn http() -> Result<reqwest::Client, Failure> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| failed(format!("cannot build an HTTP client: {e}")))
}

fn endpoint(sim: &Url, path: &str) -> Result<Url, Failure> {
    sim.join(path).map_err(|e| usage(format!("--sim {sim}: {e}")))
}

/// Sends a request to the simulator; answers its JSON, or a one-line failure.
async fn call(request: reqwest::RequestBuilder, what: &str) -> Result<Value, Failure> {
    let response = request.send().await.map_err(|e| {
        failed(format!(
            "cannot reach the simulator ({what}): {e}; is `paycycle sim` running?"
        ))
    })?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        let message = json["message"]
            .as_str()
            .map_or_else(|| body.trim().to_owned(), str::to_owned);
        return Err(failed(format!(
            "the simulator refused {what}: HTTP {status}: {message}"
        )));
    }
    Ok(json)
}

/// A duration like `30d`, `12h`, `90m`, `45s` or `2w`.
pub(crate) fn parse_duration(text: &str) -> Result<i64, Failure> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| {
        usage(format!(
            "`{text}` is not a duration: write e.g. 30d, 12h, 90m, 45s or 2w"
        ))
    })?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" | "" => 86_400,
        "w" => 7 * 86_400,
        other => {
            return Err(usage(format!(
                "unknown unit `{other}` in `{text}`: use s, m, h, d or w"
            )));
        }
    };
    n.checked_mul(seconds)
        .filter(|s| *s > 0)
        .ok_or_else(|| usage(format!("`{text}` must be a positive duration")))
}

/// A date (`2026-03-01`, midnight UTC) or an RFC 3339 time.
pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, Failure> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| usage(format!("`{text}` is not a date (2026-03-01) or an RFC 3339 time")))
}

fn clock_now(json: &Value) -> Result<DateTime<Utc>, Failure> {
    json["now"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| failed(format!("the simulator's clock answer has no time: {json}")))
}

/// What `clock` does.
#[derive(Debug, Clone)]
pub(crate) enum ClockAction {
    Show,
    Advance(i64),
    Set(DateTime<Utc>),
}

/// `paycycle clock`: prints the simulator's time (after moving it).
pub(crate) async fn clock(sim: &Url, action: ClockAction, as_json: bool) -> Result<String, Failure> {
    let http = http()?;
    let seconds = match action {
        ClockAction::Show => None,
        ClockAction::Advance(s) => Some(s),
        ClockAction::Set(at) => {
            let now = clock_now(&call(http.get(endpoint(sim, "/__sim/clock")?), "reading the clock").await?)?;
            let delta = (at - now).num_seconds();
            if delta < 0 {
                return Err(failed(format!(
                    "the simulator's clock only moves forward: it is already {}",
                    now.to_rfc3339()
                )));
            }
            (delta > 0).then_some(delta)
        }
    };
    let (json, transitions) = match seconds {
        None => (
            call(http.get(endpoint(sim, "/__sim/clock")?), "reading the clock").await?,
            0,
        ),
        Some(s) => {
            let json = call(
                http.post(endpoint(sim, "/__sim/clock/advance")?)
                    .json(&json!({ "seconds": s })),
                "moving the clock",
            )
            .await?;
            let n = json["transitions"].as_array().map_or(0, Vec::len);
            (json, n)
        }
    };
    let now = clock_now(&json)?;
    Ok(if as_json {
        json!({ "now": now.to_rfc3339(), "transitions": transitions }).to_string()
    } else if seconds.is_some() {
        format!("{} ({transitions} transitions ran)", now.to_rfc3339())
    } else {
        now.to_rfc3339()
    })
}

/// `paycycle seed`: asks the simulator to create `count` subscriptions in bulk.
pub(crate) async fn seed(
    sim: &Url,
    gateway: Gateway,
    count: u32,
    status: Option<&str>,
    as_json: bool,
) -> Result<String, Failure> {
    let mut body = json!({ "gateway": gateway.name(), "count": count });
    if let Some(s) = status {
        body["status"] = json!(s);
    }
    let json = call(http()?.post(endpoint(sim, "/__sim/seed")?).json(&body), "seeding").await?;
    Ok(if as_json {
        json.to_string()
    } else {
        let created = json["created"].as_u64().unwrap_or(0);
        format!("seeded {created} {} subscriptions", gateway.name())
    })
}

/// A credential from the environment (as `paycycle sim` reads it), else the simulator's default.
fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn cryptomus(sim: &Url) -> Result<CryptomusGateway, Failure> {
    let config = CryptomusConfig::builder()
        .merchant_id(env_or(
            "CRYPTOMUS_MERCHANT_ID",
            paycycle_sim::DEFAULT_CRYPTOMUS_MERCHANT_ID,
        ))
        .payment_key(env_or(
            "CRYPTOMUS_PAYMENT_KEY",
            paycycle_sim::DEFAULT_CRYPTOMUS_PAYMENT_KEY,
        ))
        .base_url(sim.as_str())
        .build()
        .map_err(|e| usage(e.to_string()))?;
    CryptomusGateway::new(config).map_err(|e| usage(e.to_string()))
}

fn recurrente(sim: &Url) -> Result<RecurrenteGateway, Failure> {
    let config = RecurrenteConfig::builder()
        .secret_key(env_or(
            "RECURRENTE_SECRET_KEY",
            paycycle_sim::DEFAULT_RECURRENTE_SECRET_KEY,
        ))
        .base_url(sim.as_str())
        .build()
        .map_err(|e| usage(e.to_string()))?;
    RecurrenteGateway::new(&config).map_err(|e| usage(e.to_string()))
}

/// `paycycle subscriptions`: every subscription the simulator holds, read through the providers'
/// own APIs with the credentials `paycycle sim` uses (its defaults, or the same environment
/// variables), as a table or a JSON array.
pub(crate) async fn subscriptions(sim: &Url, only: Option<Gateway>, as_json: bool) -> Result<String, Failure> {
    let mut all: Vec<Subscription> = Vec::new();
    for gateway in [Gateway::Cryptomus, Gateway::Recurrente] {
        if only.is_some_and(|g| g != gateway) {
            continue;
        }
        let gw: Box<dyn RecurringGateway> = match gateway {
            Gateway::Cryptomus => Box::new(cryptomus(sim)?),
            Gateway::Recurrente => Box::new(recurrente(sim)?),
        };
        let mut list: Vec<Subscription> = gw
            .all_subscriptions()
            .try_collect()
            .await
            .map_err(|e| failed(format!("cannot list {} subscriptions: {e}", gateway.name())))?;
        all.append(&mut list);
    }
    if as_json {
        let rows: Vec<Value> = all
            .iter()
            .map(|s| {
                json!({
                    "gateway": s.gateway.as_str(),
                    "id": s.id.as_str(),
                    "merchant_reference": s.merchant_reference,
                    "status": s.status.to_string(),
                    "amount": s.price.map(|m| m.amount_string()),
                    "currency": s.price.map(|m| m.currency.code().to_owned()),
                    "next_charge": s.current_period_end.map(|t| t.to_rfc3339()),
                })
            })
            .collect();
        return Ok(Value::Array(rows).to_string());
    }
    let mut out = format!(
        "{:<11} {:<38} {:<24} {:<28} {:>18} {}\n",
        "GATEWAY", "ID", "REFERENCE", "STATUS", "AMOUNT", "NEXT CHARGE"
    );
    for s in &all {
        out.push_str(&format!(
            "{:<11} {:<38} {:<24} {:<28} {:>18} {}\n",
            s.gateway.as_str(),
            s.id.as_str(),
            s.merchant_reference.as_deref().unwrap_or("-"),
            s.status.to_string(),
            s.price.map_or_else(|| "-".to_owned(), |m| m.to_string()),
            s.current_period_end
                .map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d").to_string()),
        ));
    }
    out.push_str(&format!("{} subscriptions", all.len()));
    Ok(out)
}

/// `paycycle trigger`: signs `body` as `gateway` does and posts it to `to`; answers the
/// receiver's status and body.
pub(crate) async fn send_webhook(
    gateway: Gateway,
    to: &Url,
    body: &Value,
    credential: &str,
) -> Result<(u16, String), Failure> {
    let http = http()?;
    let request = match gateway {
        Gateway::Cryptomus => {
            let unsigned = body.to_string();
            let signed = paycycle_cryptomus::sign::sign_webhook(unsigned.as_bytes(), credential)
                .map_err(|e| failed(format!("cannot sign the sample: {e}")))?;
            http.post(to.clone())
                .header("content-type", "application/json")
                .body(signed)
        }
        Gateway::Recurrente => {
            let bytes = body.to_string().into_bytes();
            let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
            let headers = paycycle_recurrente::webhook::signed_headers(credential, &id, Utc::now().timestamp(), &bytes)
                .map_err(|e| usage(format!("--secret: {e}")))?;
            http.post(to.clone())
                .headers(headers)
                .header("content-type", "application/json")
                .body(bytes)
        }
    };
    let response = request
        .send()
        .await
        .map_err(|e| failed(format!("cannot reach {to}: {e}")))?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    Ok((status, text))
}

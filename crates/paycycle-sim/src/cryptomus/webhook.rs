//! The webhooks Cryptomus sends for engine transitions, signed inside the body as Cryptomus
//! does it (PHP-encoded).

use paycycle_core::Currency;
use paycycle_cryptomus::sign::sign_webhook;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{GATEWAY, Recurrence, RecurrenceJson, convert, ext, fixed, status, usd_rate};
use crate::engine::{Subscription, Transition, TransitionKind};
use crate::state::Shared;
use crate::state::delivery::Webhook;

/// The merchant's commission taken from each payment, in percent (shown in `merchant_amount`).
const COMMISSION_PERCENT: u32 = 2;

/// The currency a simulated payer pays a fiat-priced recurrence in when no `to_currency` was set
/// (on the real payment page the payer picks one).
const DEFAULT_PAYER_CURRENCY: &str = "USDT";

/// The network shown in payment webhooks for each payer currency (others: the code, lower-cased).
const NETWORKS: &[(&str, &str)] = &[
    ("BNB", "bsc"),
    ("BUSD", "bsc"),
    ("CGPT", "bsc"),
    ("DAI", "eth"),
    ("DOGS", "ton"),
    ("HMSTR", "ton"),
    ("MATIC", "polygon"),
    ("NOT", "ton"),
    ("POL", "polygon"),
    ("SHIB", "eth"),
    ("TRX", "tron"),
    ("USDC", "eth"),
    ("USDT", "tron"),
    ("VERSE", "eth"),
    ("ARB", "arbitrum"),
    ("OP", "optimism"),
    ("AVAX", "avalanche"),
];

fn network(code: &str) -> String {
    NETWORKS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| (*n).to_owned())
        .unwrap_or_else(|| code.to_ascii_lowercase())
}

/// The payment-shaped webhook of a charge.
#[derive(Debug, Serialize)]
struct PaymentWebhook<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    uuid: &'a str,
    order_id: Option<&'a str>,
    amount: String,
    payment_amount: String,
    payment_amount_usd: String,
    merchant_amount: String,
    commission: String,
    is_final: bool,
    status: &'static str,
    from: Option<&'a str>,
    wallet_address_uuid: Option<&'a str>,
    network: String,
    currency: &'a str,
    payer_currency: &'a str,
    additional_data: Option<&'a str>,
    convert: Option<&'a str>,
    txid: Option<String>,
}

fn payment_body(
    sub: &Subscription,
    rec: &Recurrence,
    payment_id: &str,
    amount: Decimal,
    paid: bool,
) -> Option<Vec<u8>> {
    let currency = rec.currency.as_str();
    let crypto_priced = Currency::parse(currency).is_ok_and(|c| c.is_crypto());
    // The payer pays in `to_currency`, else in the price's crypto, else (fiat price, payer's
    // choice on the real page) in USDT.
    let payer = match (rec.to_currency.as_deref(), crypto_priced) {
        (Some(to), _) => to,
        (None, true) => currency,
        (None, false) => DEFAULT_PAYER_CURRENCY,
    };
    let payment_amount =
        convert(amount, currency, payer)?.round_dp_with_strategy(8, RoundingStrategy::MidpointAwayFromZero);
    let merchant_amount = (payment_amount * Decimal::from(100 - COMMISSION_PERCENT) / Decimal::from(100))
        .round_dp_with_strategy(8, RoundingStrategy::MidpointAwayFromZero);
    let commission = payment_amount - merchant_amount;
    let usd = amount.checked_mul(usd_rate(currency)?)?;
    let txid = paid.then(|| {
        let digest = Sha256::digest(payment_id.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect::<String>()
    });
    let body = PaymentWebhook {
        kind: "payment",
        uuid: payment_id,
        order_id: sub.reference.as_deref(),
        amount: fixed(amount, if crypto_priced { 8 } else { 2 }),
        payment_amount: fixed(payment_amount, 8),
        payment_amount_usd: fixed(usd, 2),
        merchant_amount: fixed(merchant_amount, 8),
        commission: fixed(commission, 8),
        is_final: true,
        status: if paid { "paid" } else { "fail" },
        from: None,
        wallet_address_uuid: None,
        network: network(payer),
        currency,
        payer_currency: payer,
        additional_data: rec.additional_data.as_deref(),
        convert: None,
        txid,
    };
    serde_json::to_vec(&body).ok()
}

/// The webhooks Cryptomus would send for one transition (none without `url_callback`).
pub(crate) fn render(s: &Shared, t: &Transition) -> Vec<Webhook> {
    let sub = &t.subscription;
    let Some(rec) = ext(sub) else { return Vec::new() };
    let Some(url) = rec.url_callback.as_deref() else {
        return Vec::new();
    };
    let (event, body) = match &t.kind {
        TransitionKind::Activated | TransitionKind::Cancelled { .. } | TransitionKind::Ended { .. } => {
            let body = serde_json::to_vec(&RecurrenceJson::new(sub, rec, &s.base_url)).ok();
            (format!("recurrence {}", status(sub.state)), body)
        }
        TransitionKind::Charged { amount, payment_id, .. } => (
            "payment paid".to_owned(),
            payment_body(sub, rec, payment_id, *amount, true),
        ),
        TransitionKind::ChargeFailed { amount, payment_id, .. } => (
            "payment fail".to_owned(),
            payment_body(sub, rec, payment_id, *amount, false),
        ),
        _ => return Vec::new(),
    };
    let Some(body) = body else {
        tracing::error!(uuid = %sub.id, "paycycle-sim could not render a Cryptomus webhook");
        return Vec::new();
    };
    match sign_webhook(&body, &s.config.cryptomus_payment_key) {
        Ok(signed) => vec![Webhook::new(GATEWAY, event, url, signed.into_bytes())],
        Err(e) => {
            tracing::error!(error = %e, "paycycle-sim could not sign a Cryptomus webhook");
            Vec::new()
        }
    }
}

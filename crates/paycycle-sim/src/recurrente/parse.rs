//! Request objects of the API: checkout items, prices, products, coupons, checked against the
//! documented limits. Nothing is stored here; the handlers commit what parsed.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value};

use super::input::{Obj, Reject};
use super::json::slug;
use super::store::{Cur, Line, PAYMENT_METHOD_TYPES, Price, Product, Recurring, State};

/// `required`, `optional`, `none`.
const REQUIREMENTS: &[&str] = &["required", "optional", "none"];

/// The recurrence fields of an item or price (`billing_interval`…), when it is recurring:
/// `charge_type: recurring`, or no `charge_type` and a `billing_interval`.
pub(crate) fn recurring(o: &Obj<'_>, base: Option<&Recurring>) -> Result<Option<Recurring>, Reject> {
    let charge_type = o.one_of("charge_type", &["one_time", "recurring"])?;
    let is_recurring = match charge_type {
        Some(c) => c == "recurring",
        None => base.is_some() || o.string("billing_interval")?.is_some(),
    };
    if !is_recurring {
        return Ok(None);
    }
    let unit = match (o.unit("billing_interval")?, base) {
        (Some(u), _) => u,
        (None, Some(b)) => b.unit,
        (None, None) => {
            return Err(Reject::invalid(
                o.name("billing_interval"),
                "is required for a recurring charge (day, week, month or year)",
            ));
        }
    };
    let count = o
        .count("billing_interval_count", 1)?
        .or(base.map(|b| b.count))
        .unwrap_or(1);
    if unit.times(count).is_none() {
        return Err(Reject::invalid(o.name("billing_interval_count"), "is out of range"));
    }
    let trial_unit = o.unit("free_trial_interval")?;
    let trial_count = o.count("free_trial_interval_count", 0)?;
    let trial = match (trial_unit, trial_count) {
        (None, None) => base.and_then(|b| b.trial),
        (_, Some(0)) => None,
        (Some(u), c) => Some((u, c.unwrap_or(1))),
        (None, Some(c)) => match base.and_then(|b| b.trial) {
            Some((u, _)) => Some((u, c)),
            None => {
                return Err(Reject::invalid(
                    o.name("free_trial_interval"),
                    "is required with free_trial_interval_count (day, week, month or year)",
                ));
            }
        },
    };
    if let Some((u, c)) = trial {
        if u.times(c).is_none() {
            return Err(Reject::invalid(o.name("free_trial_interval_count"), "is out of range"));
        }
    }
    let end_after = if o.has("periods_before_automatic_cancellation") {
        o.count("periods_before_automatic_cancellation", 1)?
    } else {
        base.and_then(|b| b.end_after)
    };
    let allowed_to_cancel_after = if o.has("periods_before_allowed_to_cancel") {
        o.count("periods_before_allowed_to_cancel", 0)?
    } else {
        base.and_then(|b| b.allowed_to_cancel_after)
    };
    Ok(Some(Recurring {
        unit,
        count,
        trial,
        end_after,
        allowed_to_cancel_after,
    }))
}

fn check_dynamic(o: &Obj<'_>, dynamic: bool, rec: Option<&Recurring>) -> Result<(), Reject> {
    if dynamic && rec.is_some() {
        return Err(Reject::invalid(
            o.name("has_dynamic_pricing"),
            "is available for one-time payments only",
        ));
    }
    Ok(())
}

/// `amount_as_decimal` (`"5.99"` → 599), read exactly: a decimal string (or a JSON integer),
/// above zero, with at most two decimals. Given with `amount_in_cents`, both must agree.
fn price_cents(o: &Obj<'_>) -> Result<Option<i64>, Reject> {
    let cents = o.cents("amount_in_cents")?;
    let key = "amount_as_decimal";
    let bad = |detail: &str| Reject::invalid(o.name(key), detail);
    let text = match o.raw(key) {
        None => return Ok(cents),
        Some(Value::String(t)) if t.trim().is_empty() => return Ok(cents),
        Some(Value::String(t)) => t.trim().to_owned(),
        // A fractional JSON number has already been through a float: only integers are exact.
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        Some(_) => return Err(bad("must be a decimal string, e.g. \"5.99\"")),
    };
    let d = Decimal::from_str_exact(&text).map_err(|_| bad("must be a decimal amount, e.g. \"5.99\""))?;
    if d <= Decimal::ZERO {
        return Err(bad("must be above zero"));
    }
    if d.normalize().scale() > 2 {
        return Err(bad("has more than 2 decimals"));
    }
    let from_decimal = (d * Decimal::ONE_HUNDRED).to_i64().ok_or_else(|| bad("is too large"))?;
    match cents {
        Some(c) if c != from_decimal => Err(Reject::invalid(
            o.name("amount_in_cents"),
            format!("does not match {} ({from_decimal} cents)", o.name(key)),
        )),
        _ => Ok(Some(from_decimal)),
    }
}

/// A new price (`prices_attributes[i]`); `id` is the id it will get.
pub(crate) fn new_price(o: &Obj<'_>, id: String) -> Result<Price, Reject> {
    let currency = o.required_currency("currency")?;
    let amount_cents = price_cents(o)?.ok_or_else(|| {
        Reject::invalid(
            o.name("amount_in_cents"),
            format!("is required (or {})", o.name("amount_as_decimal")),
        )
    })?;
    let recurring = recurring(o, None)?;
    Ok(Price {
        id,
        amount_cents,
        currency,
        recurring,
    })
}

/// A price with the fields given changed.
pub(crate) fn changed_price(o: &Obj<'_>, old: &Price) -> Result<Price, Reject> {
    let charge_type = o.one_of("charge_type", &["one_time", "recurring"])?;
    let base = match charge_type {
        Some("one_time") => None,
        _ => old.recurring.as_ref(),
    };
    Ok(Price {
        id: old.id.clone(),
        amount_cents: price_cents(o)?.unwrap_or(old.amount_cents),
        currency: o.currency("currency")?.unwrap_or(old.currency),
        recurring: match charge_type {
            Some("one_time") => None,
            _ => recurring(o, base)?,
        },
    })
}

/// Ids to give the objects an item creates.
pub(crate) struct NewIds {
    pub(crate) product: String,
    pub(crate) price: String,
}

/// An item's `payment_method_types` (`None` when not given: the account's defaults).
pub(crate) fn payment_method_types(o: &Obj<'_>) -> Result<Option<Vec<&'static str>>, Reject> {
    let key = "payment_method_types";
    let Some(list) = o.list(key)? else {
        return Ok(None);
    };
    let mut out: Vec<&'static str> = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let field = format!("{}[{i}]", o.name(key));
        let t = v
            .as_str()
            .and_then(|t| PAYMENT_METHOD_TYPES.iter().find(|a| **a == t.trim()))
            .ok_or_else(|| Reject::invalid(&field, format!("must be one of {}", PAYMENT_METHOD_TYPES.join(", "))))?;
        if !out.contains(t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        return Err(Reject::invalid(o.name(key), "must name at least one payment method"));
    }
    Ok(Some(out))
}

/// The catalogue price an item names: `price_id` (with `product_id`, it must be that
/// product's), or `product_id` alone (its single price; ambiguous when it has several).
fn catalogue_price<'s>(st: &'s State, o: &Obj<'_>) -> Result<Option<(&'s Product, &'s Price)>, Reject> {
    let product_id = o.string("product_id")?;
    if let Some(price_id) = o.string("price_id")? {
        let field = o.name("price_id");
        let found = st
            .products
            .iter()
            .filter(|p| !p.deleted)
            .find_map(|p| p.prices.iter().find(|pr| pr.id == price_id).map(|pr| (p, pr)))
            .ok_or_else(|| Reject::invalid(&field, format!("`{price_id}` is not an existing price")))?;
        if product_id.as_ref().is_some_and(|id| id != &found.0.id) {
            return Err(Reject::invalid(
                o.name("product_id"),
                format!("is not the product of price `{price_id}`"),
            ));
        }
        return Ok(Some(found));
    }
    let Some(product_id) = product_id else {
        return Ok(None);
    };
    let field = o.name("product_id");
    let p = st
        .products
        .get(&product_id)
        .filter(|p| !p.deleted)
        .ok_or_else(|| Reject::invalid(&field, format!("`{product_id}` is not an existing product")))?;
    match p.prices.as_slice() {
        [] => Err(Reject::invalid(&field, format!("`{product_id}` has no price"))),
        [price] => Ok(Some((p, price))),
        _ => Err(Reject::invalid(
            &field,
            format!("`{product_id}` has several prices: name one with price_id"),
        )),
    }
}

/// The months an item's `available_installments` may list.
pub(crate) const INSTALLMENT_MONTHS: &[u32] = &[3, 6, 12, 18];

/// An item's `available_installments` (`None` when not given): months among 3, 6, 12 and 18,
/// on a one-time item in GTQ only (installments are a GTQ card feature).
fn installments(o: &Obj<'_>, currency: Cur, rec: Option<&Recurring>) -> Result<Option<Vec<u32>>, Reject> {
    let key = "available_installments";
    let Some(list) = o.list(key)? else {
        return Ok(None);
    };
    if rec.is_some() {
        return Err(Reject::invalid(o.name(key), "is available on one-time items only"));
    }
    if currency != Cur::Gtq {
        return Err(Reject::invalid(o.name(key), "is available in GTQ only"));
    }
    let mut months = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let n = match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| INSTALLMENT_MONTHS.contains(n))
        .ok_or_else(|| Reject::invalid(format!("{}[{i}]", o.name(key)), "must be 3, 6, 12 or 18 (months)"))?;
        if !months.contains(&n) {
            months.push(n);
        }
    }
    Ok(Some(months))
}

/// One checkout item: a `price_id`, a `product_id` (its single price), or the item's details,
/// with its options (`payment_method_types`, `available_installments`,
/// `has_dynamic_pricing`). `zero_ok`: an inline amount of 0 is read (a setup checkout's item;
/// the caller decides whether the checkout is one).
pub(crate) fn item(
    st: &State,
    o: &Obj<'_>,
    ids: impl FnOnce() -> NewIds,
    name_required: bool,
    zero_ok: bool,
) -> Result<(Line, Option<Product>), Reject> {
    let methods = payment_method_types(o)?;
    let dynamic = o.boolean("has_dynamic_pricing")?;
    if let Some((p, price)) = catalogue_price(st, o)? {
        let quantity = o.quantity("quantity")?;
        let dynamic = dynamic.unwrap_or(false);
        check_dynamic(o, dynamic, price.recurring.as_ref())?;
        let available_installments = installments(o, price.currency, price.recurring.as_ref())?;
        return Ok((
            Line {
                product_id: p.id.clone(),
                price_id: price.id.clone(),
                name: p.name.clone(),
                unit_cents: price.amount_cents,
                quantity,
                currency: price.currency,
                recurring: price.recurring.clone(),
                payment_method_types: methods,
                available_installments,
                has_dynamic_pricing: dynamic,
                inline: false,
            },
            None,
        ));
    }
    let name = match o.string("name")? {
        Some(n) => n,
        None if name_required => return Err(Reject::invalid(o.name("name"), "is required")),
        None => "Pago".to_owned(),
    };
    let currency = o.required_currency("currency")?;
    let unit_cents = match o.int("amount_in_cents") {
        Ok(Some(0)) if zero_ok => 0,
        _ => o.required_cents("amount_in_cents")?,
    };
    let quantity = o.quantity("quantity")?;
    // `image_url` (the seed), `image` (one integration) or `images` (an older guide's list).
    let image_url = match o.url("image_url")? {
        Some(u) => Some(u),
        None => match o.url("image")? {
            Some(u) => Some(u),
            None => first_image(o)?,
        },
    };
    let description = o.string("description")?;
    let terms = o.string("custom_terms_and_conditions")?;
    let dynamic = dynamic.unwrap_or(false);
    let metadata = o.metadata("metadata")?.unwrap_or_default();
    let rec = recurring(o, None)?;
    check_dynamic(o, dynamic, rec.as_ref())?;
    let available_installments = installments(o, currency, rec.as_ref())?;
    let ids = ids();
    let price = Price {
        id: ids.price.clone(),
        amount_cents: unit_cents,
        currency,
        recurring: rec.clone(),
    };
    let product = Product {
        id: ids.product.clone(),
        listed: false,
        deleted: false,
        slug: slug(&name),
        name: name.clone(),
        description,
        image_url,
        success_url: None,
        cancel_url: None,
        custom_terms_and_conditions: terms,
        phone_requirement: "none",
        address_requirement: "none",
        billing_info_requirement: "optional",
        adjustable_quantity: true,
        inventory_quantity: None,
        has_dynamic_pricing: dynamic,
        card_payments_enabled: true,
        bank_transfer_payments_enabled: true,
        available_installments: Vec::new(),
        prices: vec![price],
        metadata,
    };
    let line = Line {
        product_id: ids.product,
        price_id: ids.price,
        name,
        unit_cents,
        quantity,
        currency,
        recurring: rec,
        payment_method_types: methods,
        available_installments,
        has_dynamic_pricing: dynamic,
        inline: true,
    };
    Ok((line, Some(product)))
}

/// The first URL of `images` (a list of URLs), checked.
fn first_image(o: &Obj<'_>) -> Result<Option<String>, Reject> {
    let Some(list) = o.list("images")? else {
        return Ok(None);
    };
    let mut first = None;
    for (i, v) in list.iter().enumerate() {
        match v.as_str().map(str::trim) {
            Some(u) if super::input::is_url(u) => {
                first.get_or_insert_with(|| u.to_owned());
            }
            _ => {
                return Err(Reject::invalid(
                    format!("{}[{i}]", o.name("images")),
                    "must be a valid http(s) URL",
                ));
            }
        }
    }
    Ok(first)
}

/// The lines' currency and total, checking that they share one currency.
pub(crate) fn total(lines: &[Line], prefix: &str) -> Result<(Cur, i64), Reject> {
    let Some(first) = lines.first() else {
        return Err(Reject::invalid(prefix, "must hold at least one item"));
    };
    let mut total: i64 = 0;
    for (i, l) in lines.iter().enumerate() {
        if l.currency != first.currency {
            return Err(Reject::invalid(
                format!("{prefix}[{i}].currency"),
                format!("must be the currency of the other items ({})", first.currency.as_str()),
            ));
        }
        total = l
            .unit_cents
            .checked_mul(l.quantity)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(|| Reject::invalid(prefix, "add up to too large an amount"))?;
    }
    Ok((first.currency, total))
}

/// The product fields of a create or update (`product[...]`); on update only what is given
/// changes. Prices are handled by the caller.
pub(crate) fn product_fields(o: &Obj<'_>, top: &Obj<'_>, p: &mut Product) -> Result<(), Reject> {
    if let Some(name) = o.string("name")? {
        p.name = name;
    }
    let text = |key: &str, slot: &mut Option<String>| -> Result<(), Reject> {
        if o.has(key) {
            *slot = o.string(key)?;
        }
        Ok(())
    };
    text("description", &mut p.description)?;
    text("custom_terms_and_conditions", &mut p.custom_terms_and_conditions)?;
    // `image_url` (the seed), or `image` / `images` (a list; its first URL) as others send.
    if o.has("image_url") {
        p.image_url = o.url("image_url")?;
    } else if o.has("image") {
        p.image_url = o.url("image")?;
    } else if o.has("images") {
        p.image_url = first_image(o)?;
    }
    for (key, slot) in [("success_url", &mut p.success_url), ("cancel_url", &mut p.cancel_url)] {
        if o.has(key) {
            *slot = o.url(key)?;
        }
    }
    if let Some(r) = o.one_of("phone_requirement", REQUIREMENTS)? {
        p.phone_requirement = r;
    }
    if let Some(r) = o.one_of("address_requirement", REQUIREMENTS)? {
        p.address_requirement = r;
    }
    if let Some(r) = o.one_of("billing_info_requirement", REQUIREMENTS)? {
        p.billing_info_requirement = r;
    }
    // The reference's example sends these three beside `product`, its table inside it.
    let either = |key: &str| if o.has(key) { *o } else { *top };
    if let Some(b) = either("adjustable_quantity").boolean("adjustable_quantity")? {
        p.adjustable_quantity = b;
    }
    let inv = either("inventory_quantity");
    if inv.has("inventory_quantity") {
        p.inventory_quantity = inv.count("inventory_quantity", 0)?.map(i64::from);
    }
    if let Some(m) = either("metadata").metadata("metadata")? {
        p.metadata = m;
    }
    if let Some(b) = o.boolean("has_dynamic_pricing")? {
        p.has_dynamic_pricing = b;
    }
    if let Some(custom) = o.boolean("custom_payment_method_settings")? {
        if custom {
            p.card_payments_enabled = o.boolean("card_payments_enabled")?.unwrap_or(true);
            p.bank_transfer_payments_enabled = o.boolean("bank_transfer_payments_enabled")?.unwrap_or(true);
            if let Some(list) = o.list("available_installments")? {
                let mut months = Vec::with_capacity(list.len());
                for (i, v) in list.iter().enumerate() {
                    let field = format!("{}[{i}]", o.name("available_installments"));
                    let n = match v {
                        Value::Number(n) => n.as_i64(),
                        Value::String(s) => s.trim().parse().ok(),
                        _ => None,
                    }
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| Reject::invalid(&field, "must be a positive number of months"))?;
                    months.push(n);
                }
                p.available_installments = months;
            }
        } else {
            p.card_payments_enabled = true;
            p.bank_transfer_payments_enabled = true;
            p.available_installments = Vec::new();
        }
    }
    if p.name.trim().is_empty() {
        return Err(Reject::invalid(o.name("name"), "is required"));
    }
    if !p.card_payments_enabled && !p.bank_transfer_payments_enabled {
        return Err(Reject::invalid(
            o.name("card_payments_enabled"),
            "and bank_transfer_payments_enabled cannot both be false",
        ));
    }
    Ok(())
}

/// The dynamic-pricing rule over a product's prices.
pub(crate) fn check_product(o: &Obj<'_>, p: &Product) -> Result<(), Reject> {
    check_dynamic(
        o,
        p.has_dynamic_pricing,
        p.prices.iter().find_map(|pr| pr.recurring.as_ref()),
    )
}

/// Whether a `_destroy` flag is set.
pub(crate) fn destroy(o: &Obj<'_>) -> Result<bool, Reject> {
    Ok(o.boolean("_destroy")?.unwrap_or(false))
}

/// A coupon's fields; `None` fields were not given.
#[derive(Debug, Default)]
pub(crate) struct CouponFields {
    pub(crate) name: Option<String>,
    pub(crate) amount_off_cents: Option<i64>,
    pub(crate) percent_off: Option<Decimal>,
    pub(crate) currency: Option<Cur>,
    pub(crate) duration: Option<&'static str>,
    pub(crate) max_redemptions: Option<u32>,
    pub(crate) expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A percentage in (0, 100], as a JSON number or a decimal string (`10`, `"12.5"`).
fn percent(o: &Obj<'_>, key: &str) -> Result<Option<Decimal>, Reject> {
    let text = match o.raw(key) {
        None => return Ok(None),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(_) => String::new(),
    };
    Decimal::from_str_exact(&text)
        .ok()
        .filter(|p| *p > Decimal::ZERO && *p <= Decimal::ONE_HUNDRED)
        .map(|p| Some(p.normalize()))
        .ok_or_else(|| Reject::invalid(o.name(key), "must be a percentage above 0 and at most 100"))
}

pub(crate) fn coupon_fields(o: &Obj<'_>) -> Result<CouponFields, Reject> {
    let percent_off = percent(o, "percent_off")?;
    let f = CouponFields {
        name: o.string("name")?,
        amount_off_cents: o.cents("amount_off_in_cents")?,
        percent_off,
        currency: o.currency("currency")?,
        duration: o.one_of("duration", &["once", "forever"])?,
        max_redemptions: o.count("max_redemptions", 1)?,
        expires_at: o.time("expires_at")?,
    };
    if f.amount_off_cents.is_some() && f.percent_off.is_some() {
        return Err(Reject::invalid(
            o.name("percent_off"),
            "cannot be given with amount_off_in_cents: a coupon is either an amount or a percentage off",
        ));
    }
    Ok(f)
}

/// Objects of a list, each with the prefix naming its fields (`items[0].`).
pub(crate) type Objects<'a> = Vec<(String, &'a Map<String, Value>)>;

/// Lists `o[key]` as objects, naming each `prefix[i].`.
pub(crate) fn objects<'a>(o: &Obj<'a>, key: &str) -> Result<Option<Objects<'a>>, Reject> {
    let Some(list) = o.list(key)? else {
        return Ok(None);
    };
    let base = o.name(key);
    list.into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(m) => Ok((format!("{base}[{i}]."), m)),
            _ => Err(Reject::invalid(format!("{base}[{i}]"), "must be an object")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

//! A local simulator of the payment providers paycycle supports (Cryptomus and Recurrente),
//! for tests and examples.
//!
//! [`Simulator::start`] runs a real HTTP server on loopback that speaks the providers' wire
//! protocols at their real paths, checks credentials and signatures as they do, validates with
//! the documented limits and error shapes, and keeps state. Subscriptions live on a
//! [`VirtualClock`] that moves only when you advance it; every renewal that falls due is charged
//! in time order and announced by a webhook signed like the provider's, delivered to loopback
//! with retries. Nothing ever leaves the machine: the server binds loopback only, and webhooks to
//! any host other than `127.0.0.0/8`, `::1` or `localhost` are refused (logged, never dialed).
//!
//! ```
//! use paycycle_sim::{SimConfig, Simulator};
//! use paycycle_cryptomus::sign::request_sign;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::start(SimConfig::default()).await?;
//! let body = br#"{"amount":"15","currency":"USD","name":"Gold plan","period":"monthly"}"#;
//! let created: serde_json::Value = reqwest::Client::new()
//!     .post(format!("{}/v1/recurrence/create", sim.base_url()))
//!     .header("merchant", sim.cryptomus_merchant_id())
//!     .header("sign", request_sign(body, sim.cryptomus_payment_key()))
//!     .header("content-type", "application/json")
//!     .body(&body[..])
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! let uuid = created["result"]["uuid"].as_str().unwrap_or_default();
//! assert_eq!(created["result"]["status"], "wait_accept");
//!
//! sim.cryptomus_accept(uuid)?; // the payer accepts and pays the first month
//! let advanced = sim.advance(chrono::Duration::days(62))?; // two renewals, in order
//! assert_eq!(advanced.transitions.len(), 2);
//! assert_eq!(sim.cryptomus_recurrence(uuid).unwrap_or_default()["status"], "active");
//! sim.flush_webhooks().await; // every webhook delivered (or refused, or given up)
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Cryptomus
//! - Routes (all `POST`, all signed): `/v1/recurrence/create`, `/v1/recurrence/info`,
//!   `/v1/recurrence/list` (cursor in the query string: `?cursor=`), `/v1/recurrence/cancel`.
//! - Authentication: the `merchant` header must be the configured merchant id and `sign` must be
//!   `md5(base64(raw body) + payment key)` over the **bytes received**. Otherwise HTTP 401
//!   `{"message":"Invalid Sign."}`, the same for a wrong merchant and a wrong sign.
//! - Success: HTTP 200 `{"state":0,"result":…}`; validation: HTTP 422
//!   `{"state":1,"errors":{"field":["validation.<rule>"]}}` (Laravel rule keys; one rule per
//!   field, the first that fails); not found: HTTP 404 `{"state":1,"message":"Recurrence not found"}`;
//!   cancelling twice: HTTP 422 `{"state":1,"message":"Already canceled"}`.
//! - Validation: `amount` required, a plain decimal (`validation.numeric`), above 0
//!   (`validation.gt.numeric`); `currency` required, a code the simulator has a rate for
//!   (`validation.in`); `name` 3..60 characters; `period` one of `weekly`, `monthly`,
//!   `three_month`; `to_currency` a crypto code (`validation.in` for fiat or unknown codes);
//!   `order_id` 1..100 characters and unique (`validation.unique`); `url_callback` an http(s)
//!   URL; `discount_days` an integer 1..365 (`validation.between.numeric`) and `discount_amount`
//!   a decimal above 0, each `validation.required_with` the other; `additional_data` at most 255
//!   characters (the invoice API's limit). Strings are trimmed and empty ones count as absent,
//!   as Laravel does; a body that is not a JSON object reads as no input.
//! - Recurrence objects follow the reference document's field order; `amount` and
//!   `discount_amount` are echoed as sent, `discount_days` as a string, `end_of_discount` in ISO
//!   8601 with `+03:00` (acceptance, or creation before it, plus the discount days) and
//!   `last_pay_off` as `YYYY-MM-DD HH:MM:SS` in UTC+3. `url` is `{base_url}/pay/cryptomus/{uuid}`.
//! - Statuses: `wait_accept` until accepted, `active`, then `cancel_by_user` (payer cancel or
//!   decline) or `cancel_by_merchant` (the API's cancel).
//! - Payer amounts use a fixed rate table (US dollars per unit; e.g. BTC 29129, so 15 USD is
//!   `0.00051495` BTC as in the reference; ETH 2000; USDT, USDC, DAI 1; EUR 1.08; GTQ 0.13),
//!   rounded half away from zero to 8 decimals (`payer_amount_usd` to 2).
//! - List: newest first, 15 per page, `paginate` as Laravel's cursor paginator (`count` is the
//!   number of items on the page; cursors are Laravel's base64url JSON
//!   `{"id":N,"_pointsToNextItems":bool}`; an unreadable cursor shows the first page).
//! - Webhooks go to `url_callback` (none without it), the `sign` inside the body as Cryptomus
//!   does it ([`paycycle_cryptomus::sign::sign_webhook`]: PHP-encoded, `/` as `\/`):
//!   on acceptance the recurrence object (status `active`) then a payment for the first charge;
//!   a payment for each renewal; the recurrence object on cancellation (`cancel_by_user`,
//!   `cancel_by_merchant`). **The payload of a recurring charge is not public**: the payment
//!   webhook here follows the one public integration that handles it (`type: payment`,
//!   `status: paid`, correlated by `order_id`), with the fields of Cryptomus' documented payment
//!   webhook: a new payment `uuid`, `amount` (8 decimals for crypto prices, 2 for fiat),
//!   `payment_amount` in the payer currency (`to_currency`, else the crypto price currency, else
//!   USDT), `merchant_amount` minus a 2 % `commission`, `network`, `txid` (64 hex).
//!
//! # Recurrente
//! On the same address, every endpoint of Recurrente's API reference, at its real path
//! (collection paths also with the reference's trailing slash):
//!
//! | route | answers |
//! |---|---|
//! | `GET /api/test` | 200 `{"message":"Hello <account name>"}` ([`SimConfig::recurrente_account_name`]) |
//! | `POST /api/checkouts` | 201 `{"id":"ch_…","checkout_url":"{base}/checkout-session/ch_…"}` |
//! | `GET /api/checkouts` (`from_time`, `until_time`, `user_id`, `page`, `items`), `GET`/`PATCH`/`PUT /api/checkouts/{id}` | 200, the checkout |
//! | `PATCH /api/payment_intents/{id}` (also `/api/invoices/{inv_ or pa_}`, as the reference's code sends it) | 200, the payment intent |
//! | `GET /api/intents/{id}` (`in_…`, or the `pa_…`/`ba_…` of the same payment) | 200, the payment in the unified `intent.*` shape |
//! | `POST /api/products` (201), `GET /api/products`, `GET`/`PATCH`/`DELETE /api/products/{id}` | the product; delete: `{"id","status":"deleted"}` |
//! | `POST /api/coupons` (201), `GET /api/coupons`, `GET`/`PATCH`/`DELETE /api/coupons/{id}` | the coupon; delete: `{"id","status":"deleted"}` |
//! | `GET /api/subscriptions`, `GET`/`PUT /api/subscriptions/{id}` (`{"payment_method_id": "pay_m_…"}`), `DELETE /api/subscriptions/{id}` | the subscription; delete: `{"message":"Suscripción cancelada"}` |
//! | `POST /api/users`, `POST /api/transfers`, `POST /api/refunds`, `GET /api/refunds/{id}` | 200 |
//! | `POST /api/customers` (find-or-create by e-mail: 201 created, 200 found), `GET /api/customers` (`{"customers":[…]}`), `GET`/`PUT`/`PATCH /api/customers/{id}` (or `?user_id=`) | the customer `{"id":"cus_…","user_id","email","name","phone","address","nit","metadata"}` |
//! | `POST /api/webhook_endpoints` (201, with `signingSecret`), `GET /api/webhook_endpoints`, `DELETE /api/webhook_endpoints/{id}` | the endpoint(s) |
//! | `POST /api/one_time_payments` | 201 `{"id":"on_…","status":"paid"}` |
//!
//! ```
//! use paycycle_sim::{RecurrenteOutcome, SimConfig, Simulator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::start(SimConfig::default()).await?;
//! let item = serde_json::json!({"name": "Gold", "currency": "GTQ", "amount_in_cents": 5000,
//!                               "charge_type": "recurring", "billing_interval": "month"});
//! let created: serde_json::Value = reqwest::Client::new()
//!     .post(format!("{}/api/checkouts", sim.base_url()))
//!     .header("X-PUBLIC-KEY", sim.recurrente_public_key())
//!     .header("X-SECRET-KEY", sim.recurrente_secret_key())
//!     .json(&serde_json::json!({ "items": [item] }))
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! let checkout = created["id"].as_str().unwrap_or_default();
//!
//! let paid = sim.recurrente_pay(checkout, RecurrenteOutcome::CardSuccess)?; // the payer pays
//! let subscription = paid.subscription_id.unwrap_or_default();
//! let advanced = sim.advance(chrono::Duration::days(31))?; // one renewal
//! assert_eq!(advanced.transitions.len(), 1);
//! let sub = sim.recurrente_subscription(&subscription).unwrap_or_default();
//! assert_eq!(sub["status"], "active");
//! assert!(matches!(advanced.transitions[0].kind, paycycle_sim::TransitionKind::Charged { .. }));
//! sim.flush_webhooks().await; // nothing is registered here: endpoints get every event
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! - Authentication: `X-SECRET-KEY` alone, or the pair `X-PUBLIC-KEY` + `X-SECRET-KEY`, must
//!   equal the configured keys ([`DEFAULT_RECURRENTE_PUBLIC_KEY`],
//!   [`DEFAULT_RECURRENTE_SECRET_KEY`], or `RECURRENTE_PUBLIC_KEY`/`RECURRENTE_SECRET_KEY`
//!   through [`SimConfig::from_env`]), compared in constant time; a pair whose halves differ in
//!   account or mode is refused; `X-PUBLIC-KEY` alone is accepted only by `POST /api/checkouts`
//!   (browser-side checkouts); `Authorization: Bearer` is not accepted. Otherwise HTTP 401
//!   `{"message":"Autenticación Errónea 👀","errors":{"authentication":["Las llaves de API son
//!   inválidas o no coinciden."]}}`, before anything else.
//! - Errors: every error under `/api` is JSON `{"message":"<message>"}`, for a field also
//!   `"errors":{"<field>":["<detail>"]}`. Bad parameters are HTTP 400 whose message starts with
//!   the field (`items[0].currency must be GTQ or USD, not `EUR``), also for ids named in a body
//!   (`product_id`, `user_id`, `customer_id`, `payment_method_id`, `payment_intent_id`, a price
//!   `id`) that do not exist; a request understood that the object's state does not allow is
//!   422 (a paid checkout updated, a refund of an unpaid or refunded payment, a subscription
//!   cancelled twice, a declined charge); unknown ids in the path and unknown routes are 404
//!   `{"message":"Not found"}`; a method a route does not have is 405 with a JSON message;
//!   a body that is not JSON is 400; `multipart/form-data` is 415 (JSON and Rails-style
//!   `x-www-form-urlencoded` fields such as `items[][name]` are read); any other refusal
//!   (e.g. a body over 2 MiB, 413) carries a JSON `message` too.
//! - Customers: `POST /api/customers` (`email` required; `full_name`, `name`, `phone`,
//!   `address`, `nit`, `metadata`; top level or under `customer`) answers the customer of the
//!   user with that e-mail address when there is one (200, unchanged), else creates it, and the
//!   user too when none exists (201). `PUT` (and `PATCH`, its alias) changes `name`, `phone`,
//!   `address`, `nit` (`null` clears) and deep-merges `metadata` (a key sent as `null` is
//!   deleted); `email` cannot change and is ignored. `?user_id=` on `/api/customers/{id}` looks
//!   the customer up by its user (the path's id is then a placeholder); a user's id in the path
//!   works too. Checkouts take `customer_id` (`cus_…`) as well as `user_id`.
//! - Validation: currency `GTQ`/`USD`; `amount_in_cents` a positive integer, as a number or a
//!   numeric string (the reference sends both); `quantity` 1..9; metadata at most 50 keys, names
//!   ≤ 40 and values ≤ 500 characters; URLs http(s); `billing_interval` and
//!   `free_trial_interval` `day`/`week`/`month`/`year` (days are exact days: a 10-day trial ends
//!   10 days later); counts integers (`periods_before_automatic_cancellation`
//!   ≥ 1, `""` is none); coupons: an
//!   `amount_off_in_cents` with its `currency`, or a `percent_off` in (0, 100], not both;
//!   `duration` `once`/`forever`.
//! - Checkout items: by `price_id`, by `product_id` (its single price) or inline; inline amounts
//!   at least 500 cents in GTQ, 100 in USD. Per-item options, as the official plugin sends them,
//!   echoed on the checkout's `items`: `payment_method_types` (among `card`, `bank_transfer`,
//!   `balance`, `stablecoins`; the payer can pay only with a method every item that states them
//!   allows: another is refused, 409 from the control route); `available_installments` (months
//!   among 3, 6, 12, 18; one-time items in GTQ only); `has_dynamic_pricing: true` (one-time items
//!   only). Otherwise 400 naming the field (`items[0].available_installments`).
//! - Setup (card-saving) checkouts: `mode: "setup"` (items optional), or a single one-time item
//!   of `amount_in_cents: 0` (the only place 0 is allowed). Paying one by card charges nothing:
//!   it saves a card (`pay_m_…`), the checkout is `paid` with it as its `payment_method` and
//!   `setup_intent.succeeded` is sent (flat, the name under `event_type`, with
//!   `payment_method {id, type: "card", card {last4, network}}` and `checkout {id, metadata}`);
//!   a declined card sends `setup_intent.cancelled`; a bank transfer is refused. The saved card
//!   then goes on a subscription with `PUT /api/subscriptions/{id}` (the card-update guide).
//! - Shapes: the reference's examples' keys and types (`total_in_cents` a string, ids
//!   `ch_`, `prod_`, `price_`, `coup_`, `su_`, `us_`, `pa_`, `ba_`, `inv_`, `re_`, `tr_`, `ep_`,
//!   `pay_m_`, `on_`, `msg_`; times as each example prints them: checkouts in UTC seconds,
//!   subscriptions, payments and refunds in `-06:00` with milliseconds, endpoints in UTC
//!   microseconds, events in UTC milliseconds). Checkouts also have the newer fields: `live_mode`
//!   (false unless the public key is `pk_live_…`), `subtotal_in_cents`, `discount` (null: no
//!   coupon is applied to checkouts here), `custom_fields` (`[]`), `transfer_setups`
//!   (`[{id "ts_…", status, amount_in_cents, currency, recipient_id}]`, `pending` until paid, then
//!   `completed`), and `items` and `payment_method_types` (above). Key order is not kept (JSON
//!   objects are unordered).
//! - Lists: `page` (from 1) and `items` (default 10, at most 100), bare arrays (customers:
//!   `{"customers":[…]}`), newest first, with the five headers of Recurrente's pagination page:
//!   `Current-Page`, `Page-Items` (the page size, as in Ruby pagy, not the rows on the page),
//!   `Total-Pages` (at least 1), `Total-Count` and `Link` (`rel="first"`, `"prev"` except on the
//!   first page, `"next"` except on the last, `"last"`). `GET /api/webhook_endpoints` is not
//!   paginated.
//!
//! The payer acts on the checkout page (`checkout_url`, also at `/pay/recurrente/{id}`) or
//! through `POST /__sim/recurrente/checkouts/{id}/pay` (see [`RecurrenteOutcome`]):
//!
//! - Card success: a recurring checkout becomes `paid`, its `payment.paymentable` the new
//!   subscription (`Subscription`, `su_…`) with a saved card (`pay_m_…`, 4242, visa), and sends
//!   `payment_intent.succeeded` then `subscription.create`; a one-time checkout's paymentable is a
//!   `OneTimePayment` (`on_…`), with `payment_intent.succeeded` only. With a free trial, the card
//!   is saved, `setup_intent.succeeded` (with the reference's `suscription` key) and
//!   `subscription.create` are sent, the subscription is `active` in its trial and its first
//!   charge is at the trial's end.
//! - Card declined: `payment_intent.failed`; the checkout stays `unpaid` (the payer may pay
//!   again). A recurring checkout's attempt leaves a subscription `unable_to_start` (the
//!   reference's status "the first payment failed"); in a trial, `setup_intent.cancelled`.
//! - Bank transfer: the checkout is `payment_in_progress`, `bank_transfer_intent.pending` (id
//!   `ba_…`); `POST /__sim/recurrente/bank_transfers/{ba_ or pa_}/settle` `{"succeeded": …}`
//!   sends `bank_transfer_intent.succeeded` (and starts the subscription as above) or
//!   `bank_transfer_intent.failed` (the checkout is `unpaid` again). A free trial cannot start
//!   with a transfer. A settled transfer gets a `bank_reference` (nine digits) from the bank and
//!   shows the payer's `sender_comment` (given with `"sender_comment"` to the pay route or the
//!   page's form, or to the settle route); both are `null` while pending and on a failed
//!   transfer: top level in `bank_transfer_intent.*`, in `details` in `intent.*` and
//!   `GET /api/intents/{id}`.
//! - Each period renews with `payment_intent.succeeded` (the subscription as paymentable, a new
//!   `pa_…`). After `POST /__sim/recurrente/subscriptions/{id}/fail_next_charge` (`{"count": N}`)
//!   the next renewal fails: `payment_intent.failed` and `subscription.past_due`; it is retried 3
//!   and 5 days after its due time (`payment_intent.succeeded` and `active` again on success);
//!   when both retries fail, `payment_intent.failed` and `subscription.cancel`, status
//!   `cancelled`. With `periods_before_automatic_cancellation = N`, `subscription.cancel` at the
//!   end of the N-th period. The merchant's `DELETE` cancels with `subscription.cancel`.
//!   Pausing and resuming (`…/pause`, `…/resume`, no API endpoint exists) send
//!   `subscription.pause` (the legacy `subscription.paused` with
//!   [`SimConfig::recurrente_legacy_pause_event`]) and `subscription.unpause`.
//! - `POST /api/refunds` sends `refund.create`: the refund (`re_…`) with the refunded payment as
//!   `payment_intent {id}`, `amount_in_cents` (the customer's refunded amount), `currency` and
//!   `checkout` (with its `metadata`).
//! - Every payment event goes out twice by default, as Recurrente does for an endpoint
//!   subscribed to everything: in its legacy form (`payment_intent.*`, `bank_transfer_intent.*`)
//!   and then as the unified `intent.succeeded` / `intent.pending` / `intent.failed`, as separate
//!   Svix messages (different `svix-id`s). The unified body is the one `GET /api/intents/{id}`
//!   serves (`type` `payment` or `bank_transfer`, `id` `in_…`, `status`, `raw_status`,
//!   `amount_in_cents`, `currency`, `customer {id (the `cus_…`, else the user's id), email, nit}`,
//!   `product {id}`, `checkout {id, metadata, …}`, `details`) with `event_type`, and
//!   `payment {id, paymentable}` equal to the legacy event's: a receiver normalizes both to one
//!   payment (and subscription) through `payment.id`. [`SimConfig::recurrente_payment_events`]
//!   ([`RecurrentePaymentEvents`]: `Legacy`, `Unified`, `Both`), or while running
//!   [`Simulator::set_recurrente_payment_events`] and `PUT /__sim/recurrente/payment_events`
//!   `{"events": "legacy"}`, chooses. Refunds, setups and subscriptions have one form only.
//!
//! Every event goes to every enabled endpoint created with `POST /api/webhook_endpoints` (each
//! signed with its own `signingSecret`, `whsec_` + base64 of 24 random bytes) and to
//! [`SimConfig::recurrente_webhook_url`] (signed with
//! [`SimConfig::recurrente_webhook_secret`], by default [`DEFAULT_RECURRENTE_WEBHOOK_SECRET`] or
//! `RECURRENTE_WEBHOOK_SECRET`), with Svix headers made by
//! [`paycycle_recurrente::webhook::signed_headers`]: one `svix-id` (`msg_…`) per event, the same
//! at every endpoint and on every retry; `svix-timestamp` the **real** time of each attempt,
//! signed again for each retry, because receivers check it against their own clock within 5
//! minutes (the payload's `created_at` is the virtual time). Payloads have the reference's
//! fields, plus `checkout` (with its `metadata`) on `subscription.*` and `setup_intent.*` events
//! so that apps can correlate, `connected: true` with `account_id` for a checkout of a
//! `custom_account_id`, and `live_mode` (`false` unless the public key is a `pk_live_…` one: the
//! simulator sends test-mode webhooks, as the official plugin describes them).
//!
//! **Inferred, where the reference is silent:** the retry schedule (the webhook section says 3
//! and 5 days later, cancelled after both fail; the subscription section says "3 retries in the
//! next 5 days": the simulator follows the former, as provider-facts does); `subscription.cancel`
//! on the merchant's `DELETE` and at the automatic end (the reference describes it only after
//! failed retries); `subscription.create` at a trial's start; `unable_to_start` subscriptions
//! from declined first payments; a second `DELETE` is 422 `{"message":"La suscripción ya está
//! cancelada"}`; a user is unique by e-mail (`POST /api/users` again answers the same user);
//! checkout items given by their details become products readable by id but not listed; a
//! checkout's recurring items share one recurrence and bill as one subscription (one-time items
//! beside them are charged once, with the first payment), in one currency; unknown `user_id`s
//! are refused; the fee is 4.5 % (the
//! reference's `payment_intent.succeeded` example), `vat_withheld` 0, and a refund gives the
//! customer everything and takes the amount less the fee from the account; transfers check no
//! balance; renewals of a subscription started by bank transfer are ordinary payment intents;
//! fractional `percent_off` comes back as a decimal string; the unified bodies' `payment` object
//! and everything of them beyond the migration guide's common core; a setup checkout's
//! `setup_intent` id is a `pa_…`, and its checkout becomes `paid`; transfer setup ids (`ts_…`)
//! and statuses; `mode` values other than `setup` (`payment`, `subscription`) change nothing.
//! Test-mode keys do send webhooks here (the reference says test checkouts do not; the
//! simulator exists to test them).
//!
//! # Control API, payer pages
//! `GET /pay/cryptomus/{uuid}` is a small HTML page with Accept and Decline buttons;
//! `GET /checkout-session/{id}` (= `/pay/recurrente/{id}`) one with Recurrente's card, declined
//! card and bank transfer buttons (only those the checkout's items allow; the transfer's with a
//! comment field; "Save card" on a setup checkout), and the bank's for a pending transfer. The
//! `/__sim/...` JSON routes act as the payer and move the clock. Each provider has its own
//! (`POST /__sim/cryptomus/recurrences/{uuid}/accept`, `…/cancel-by-user`;
//! `POST /__sim/recurrente/checkouts/{id}/pay`, `POST /__sim/recurrente/bank_transfers/{id}/settle`,
//! `POST /__sim/recurrente/subscriptions/{id}/fail_next_charge`, `…/pause`, `…/resume`,
//! `…/reactivate`, `POST /__sim/recurrente/payment_methods/{id}/fail_next_charge`,
//! `POST /__sim/recurrente/webhook_endpoints/{id}/disable`, `…/enable`,
//! `PUT`/`GET /__sim/recurrente/payment_events`), and some are shared
//! (`POST /__sim/clock/advance` with `{"days": N}` or `{"seconds": N}` (renewals of both
//! providers), `GET /__sim/clock`, `GET /__sim/webhooks`, `PUT`/`GET`/`DELETE /__sim/delivery`,
//! `POST`/`GET`/`DELETE /__sim/faults` (every [`FaultKind`], and per-path request counts), `POST /__sim/seed` (N subscriptions of one provider at once,
//! real objects the API lists, no webhooks: [`Seed`]), `GET /__sim/stats` (TCP connections
//! accepted, subscriptions per provider, webhooks queued: [`Stats`])). The [`Simulator`] handle
//! has in-process equivalents ([`Simulator::seed`], [`Simulator::stats`]).
//!
//! # Dashboard
//! Open the base URL in a browser: `GET /` lists every subscription of both providers (filters
//! by gateway and status, 100 a page), `/subscriptions/{gateway}/{id}` shows one's timeline
//! (checkout, charges, status changes, each webhook delivery with its attempts) with the payer's
//! buttons, `/checkouts/{id}` a Recurrente checkout, `/webhooks` the webhook log with a
//! Redeliver button, and every page's header the clock with +1 hour, +1 day, +1 month (one
//! calendar month) and a date field. Server-rendered HTML without script; the buttons are forms
//! that call what the control routes call and answer `303 See Other` back to the page.
//! `cargo run -p paycycle-sim --example dashboard` starts a simulator holding a few subscriptions.
//!
//! # Webhook delivery modes
//! By default webhooks go through one queue, in order, each delivered once (with retries) before
//! the next. To show that a receiver (a webhook ledger, say) is right under what real providers
//! do, [`Simulator::set_delivery_mode`] (or `PUT /__sim/delivery`, body
//! `{"url_prefix": "http://127.0.0.1:1234/webhooks/", "copies": 10, "concurrent": true,
//! "shuffle_window": 5, "drop_per_mille": 300, "seed": 7}`, every field optional) sets a
//! [`DeliveryMode`] for the URLs starting with a prefix (`None`/absent: every URL; the longest
//! matching prefix wins), for the webhooks queued from then on:
//!
//! - `copies(n)`: every webhook is delivered `n` times (1..=[`MAX_COPIES`]), each copy a full
//!   delivery with its own retries and its own [`DeliveryRecord`] (`copy`, `copy_of`).
//!   Recurrente's copies keep the same `svix-id`, as a redelivery does; Cryptomus' are
//!   byte-identical bodies.
//! - `concurrent(true)`: deliveries start without waiting for the previous one (at most
//!   [`MAX_CONCURRENT_DELIVERIES`] in flight), so copies race each other at the receiver.
//! - `shuffle_window(w)`: up to `w` consecutive webhooks of that rule are held and delivered in a
//!   random order; a window that does not fill is released after [`SHUFFLE_IDLE`] without a new
//!   webhook, or at once by [`Simulator::flush_webhooks`].
//! - `drop_per_mille(p)`: `p` webhooks in a thousand are never sent, and logged as
//!   [`DeliveryOutcome::Dropped`].
//! - `seed(s)`: drops and shuffles come from a PRNG seeded with `s` when the mode is set, drawn
//!   in queue order: the same seed and the same webhooks give the same drops and order.
//!
//! [`Simulator::flush_webhooks`] still waits for everything (held windows, concurrent
//! deliveries, every copy); [`Simulator::pending_webhooks`] counts copies.
//! [`Simulator::clear_delivery_modes`] (`DELETE /__sim/delivery`) goes back to the default;
//! [`Simulator::delivery_modes`] (`GET /__sim/delivery`) lists them. A mode out of range
//! (`copies` 0, `drop_per_mille` above 1000) is [`SimError::InvalidConfig`], or HTTP 400
//! `{"error": "invalid_delivery_mode", "message": "…"}`.
//!
//! ```
//! use paycycle_sim::{DeliveryMode, SimConfig, Simulator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::start(SimConfig::default()).await?;
//! let chaos = DeliveryMode::default().copies(3).concurrent(true).shuffle_window(4).drop_per_mille(100).seed(7);
//! sim.set_delivery_mode(Some("http://127.0.0.1:8080/webhooks/"), chaos)?;
//! // … drive subscriptions; the receiver at that prefix sees duplicates, races, reordering, losses …
//! sim.flush_webhooks().await;
//! let dropped = sim.deliveries().iter().filter(|r| r.outcome == paycycle_sim::DeliveryOutcome::Dropped).count();
//! assert_eq!(dropped, 0); // nothing was sent in this example
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # The engine
//! [`Engine`] is the provider-neutral lifecycle (pending → active → renewals; past due and
//! retries; trials; intro prices; ending after N periods; pause), with no HTTP: frontends and
//! in-memory fakes drive it and render what it returns ([`Transition`]s) as webhooks.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::missing_errors_doc
)]

mod state;
pub use state::engine;
// The in-memory fake reaches the clock by this path.
#[cfg(feature = "fake")]
use state::clock;
#[cfg(feature = "fake")]
pub mod fake;

#[cfg(feature = "server")]
mod control;
#[cfg(feature = "server")]
mod cryptomus;
#[cfg(feature = "server")]
mod dashboard;
#[cfg(feature = "server")]
mod recurrente;
#[cfg(feature = "server")]
mod seed;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod web;

use std::net::SocketAddr;

use chrono::{DateTime, SecondsFormat, Utc};

pub use engine::SeedState;
pub use engine::{Engine, EngineError, Transition, TransitionKind};
#[cfg(feature = "server")]
pub use recurrente::{Attempt as RecurrenteAttempt, Outcome as RecurrenteOutcome};
#[cfg(feature = "server")]
pub use seed::{MAX_SEED, Seed, Seeded, Stats, SubscriptionCounts};
#[cfg(feature = "server")]
#[doc(hidden)]
pub use server::InProcess;
#[cfg(feature = "server")]
pub use server::Simulator;
pub use state::clock::{ClockError, VirtualClock};
#[cfg(feature = "server")]
pub use state::delivery::{
    Attempt, DeliveryMode, DeliveryOutcome, DeliveryPolicy, DeliveryRecord, MAX_CONCURRENT_DELIVERIES, MAX_COPIES,
    SHUFFLE_IDLE,
};
#[cfg(feature = "server")]
pub use state::faults::{DEFAULT_OVERSIZE, Fault, FaultKind};
#[cfg(feature = "server")]
pub use state::{
    Advanced, DEFAULT_CRYPTOMUS_MERCHANT_ID, DEFAULT_CRYPTOMUS_PAYMENT_KEY, DEFAULT_RECURRENTE_ACCOUNT_NAME,
    DEFAULT_RECURRENTE_PUBLIC_KEY, DEFAULT_RECURRENTE_SECRET_KEY, DEFAULT_RECURRENTE_WEBHOOK_SECRET,
    RecurrentePaymentEvents, SimConfig,
};

/// What went wrong in the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The listening address is not loopback: the simulator never listens on the network.
    #[error("{addr} is not a loopback address; the simulator only listens on 127.0.0.0/8 or ::1")]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No such object.
    #[error("no {what} `{id}`")]
    NotFound {
        /// What was looked up.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The engine refused the operation.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The object is not in a state that allows the operation (a paid checkout paid again).
    #[error("{reason}")]
    Refused {
        /// Why, for people.
        reason: String,
    },
    /// A setting cannot be used.
    #[error("invalid simulator setting `{field}`: {reason}")]
    InvalidConfig {
        /// The [`SimConfig`] field (or the `DeliveryMode` field, for a delivery mode).
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The clock refused to move.
    #[error(transparent)]
    Clock(#[from] ClockError),
}

/// Compares two byte strings in time independent of where they differ (a different length
/// returns at once: lengths are not secret).
#[cfg(feature = "server")]
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// RFC 3339 in UTC with whole seconds (`2026-01-01T00:00:00Z`).
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

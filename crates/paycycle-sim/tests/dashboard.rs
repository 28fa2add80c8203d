//! The dashboard over plain HTTP: the list and its filters and pages, a subscription's timeline
//! and buttons, a Recurrente checkout's page, the webhook log and its redelivery, the clock,
//! escaping, and the 404 and 400 pages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::recurrente as rc;
use paycycle_core::GatewayId;
use paycycle_sim::{RecurrenteOutcome, Seed, SeedState, Simulator};
use serde_json::json;

/// A client that does not follow redirects (to see the 303s).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `GET path`: the status and the HTML.
async fn get(sim: &Simulator, path: &str) -> (u16, String) {
    let r = client().get(format!("{}{path}", sim.base_url())).send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/html"), "{path}: {ct}");
    (status, r.text().await.unwrap())
}

/// `POST path` with a form: the status and the `Location`.
async fn post(sim: &Simulator, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let r = client()
        .post(format!("{}{path}", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// A Cryptomus recurrence made through the API; its uuid.
async fn recurrence(sim: &Simulator, order_id: &str, callback: Option<&str>) -> String {
    let mut body =
        json!({"amount": "15", "currency": "USD", "name": "Gold plan", "period": "monthly", "order_id": order_id});
    if let Some(url) = callback {
        body["url_callback"] = json!(url);
    }
    common::uuid_of(&common::create(sim, body).await)
}

/// How many subscription rows a list page has.
fn rows(html: &str) -> usize {
    html.matches("<td class=\"status\">").count()
}

/// The `href` of the link labelled `label`.
fn href_of(html: &str, label: &str) -> Option<String> {
    let end = html.find(&format!("\">{label}</a>"))?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].replace("&amp;", "&"))
}

#[tokio::test]
async fn the_list_shows_both_providers_filters_them_and_escapes() {
    let sim = common::sim().await;
    let pending = recurrence(&sim, "<script>alert(1)</script>", None).await;
    let active = recurrence(&sim, "order-2", None).await;
    sim.cryptomus_accept(&active).unwrap();
    let checkout = rc::subscription_checkout(&sim, rc::recurring_item("Pro", 25_000, "month")).await;
    let paid = sim.recurrente_pay(&checkout, RecurrenteOutcome::CardSuccess).unwrap();
    let su = paid.subscription_id.unwrap();
    let waiting = rc::subscription_checkout(&sim, rc::recurring_item("Later", 5_000, "month")).await;

    let (status, html) = get(&sim, "/").await;
    assert_eq!(status, 200);
    for id in [&pending, &active, &su] {
        assert!(html.contains(id.as_str()), "{id} missing");
    }
    assert!(html.contains("250.00 GTQ"), "exact amounts");
    assert!(
        html.contains("<td>order-42</td>"),
        "Recurrente's reference: the checkout's paycycle_reference"
    );
    assert!(html.contains("15 USD"));
    assert!(html.contains("Simulated time: 2026-01-10 09:00:00 UTC"));
    // The merchant reference is shown, escaped.
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert"));
    // The unpaid checkout waits for the payer (the paid one does not).
    assert!(html.contains(&format!("/checkouts/{waiting}")));
    assert!(!html.contains(&format!("/checkouts/{checkout}\"")));
    assert_eq!(rows(&html), 3);

    let (_, html) = get(&sim, "/?gateway=cryptomus").await;
    assert_eq!(rows(&html), 2);
    assert!(!html.contains(su.as_str()));
    assert!(html.contains("<option value=\"cryptomus\" selected>"));
    let (_, html) = get(&sim, "/?gateway=recurrente&status=active").await;
    assert_eq!(rows(&html), 1);
    assert!(html.contains(su.as_str()));
    let (_, html) = get(&sim, "/?status=pending").await;
    assert_eq!(rows(&html), 1);
    assert!(html.contains(pending.as_str()));
    let (_, html) = get(&sim, "/?status=past_due").await;
    assert!(html.contains("No subscription matches."));

    for bad in [
        "/?gateway=stripe",
        "/?status=%3Cb%3E",
        "/?before=x",
        "/?before=1&after=2",
    ] {
        let (status, html) = get(&sim, bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(html.contains("id=\"reason\""), "{bad}");
        assert!(!html.contains("<b>"), "{bad}: escaped");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_list_pages_through_many_subscriptions_quickly() {
    let sim = common::sim().await;
    sim.seed(&Seed::new(GatewayId::CRYPTOMUS, 100_000).state(SeedState::Active))
        .unwrap();
    sim.seed(&Seed::new(GatewayId::RECURRENTE, 150).state(SeedState::Paused))
        .unwrap();
    let started = Instant::now();
    let (status, first) = get(&sim, "/").await;
    assert_eq!(status, 200);
    assert_eq!(rows(&first), 100);
    assert!(first.contains("recurrente"));
    assert!(href_of(&first, "← Newer").is_none());
    let older = href_of(&first, "Older →").unwrap();
    let (_, second) = get(&sim, &older).await;
    assert_eq!(rows(&second), 100);
    assert_ne!(first, second);
    // Back to the first page.
    let newer = href_of(&second, "← Newer").unwrap();
    assert!(newer.starts_with("/?after="), "{newer}");
    let (_, again) = get(&sim, &newer).await;
    assert_eq!(rows(&again), 100);
    // Filters page too: 150 paused Recurrente ones, in two pages.
    let (_, paused) = get(&sim, "/?gateway=recurrente&status=paused").await;
    assert_eq!(rows(&paused), 100);
    let (_, rest) = get(&sim, &href_of(&paused, "Older →").unwrap()).await;
    assert_eq!(rows(&rest), 50);
    assert!(href_of(&rest, "Older →").is_none());
    // A status nobody has scans without copying.
    let (_, none) = get(&sim, "/?status=failed").await;
    assert_eq!(rows(&none), 0);
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(5),
        "six pages over 100 150 subscriptions took {elapsed:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_cryptomus_subscription_is_driven_from_its_page() {
    let sim = common::sim().await;
    let hooks = common::receiver(1).await;
    let uuid = recurrence(&sim, "order-7", Some(&hooks.url)).await;
    let page = format!("/subscriptions/cryptomus/{uuid}");

    let (status, html) = get(&sim, &page).await;
    assert_eq!(status, 200);
    assert!(html.contains("order-7"));
    assert!(html.contains("id=\"pay\""));
    assert!(html.contains("id=\"decline\""));
    assert!(html.contains("<span id=\"status\">pending (cryptomus calls it <code>wait_accept</code>)</span>"));

    // The payer accepts and pays: 303 back to the page.
    let (status, location, _) = post(&sim, &format!("{page}/accept"), &[("back", &page)]).await;
    assert_eq!((status, location.as_str()), (303, page.as_str()));
    assert_eq!(sim.cryptomus_recurrence(&uuid).unwrap()["status"], "active");
    // Accepting twice is refused, shown as a notice on the page.
    let (status, location, _) = post(&sim, &format!("{page}/accept"), &[("back", &page)]).await;
    assert_eq!(status, 303);
    assert!(location.starts_with(&format!("{page}?notice=")), "{location}");
    let (_, html) = get(&sim, &location).await;
    assert!(html.contains("class=\"notice\""));

    // A month on the clock: the renewal, its webhook delivered after a retry of the first.
    let (status, location, _) = post(&sim, "/clock/advance", &[("by", "month"), ("back", &page)]).await;
    assert_eq!((status, location.as_str()), (303, page.as_str()));
    sim.flush_webhooks().await;
    let (_, html) = get(&sim, &page).await;
    assert!(
        html.contains("Simulated time: 2026-02-10 09:00:00 UTC"),
        "a calendar month"
    );
    assert!(html.contains("First charge succeeded: 15 USD"));
    assert!(html.contains("Renewal charged: 15 USD (period 2"));
    assert!(html.contains("recurrence active"));
    assert!(html.contains("payment paid"));
    assert!(html.contains("delivered (200)"));
    assert!(html.contains("(answers: 500, 200; 1 retry)"));
    assert_eq!(html.matches("class=\"delivery\"").count(), 3);

    // The next charge fails: Cryptomus cancels the recurrence.
    let (status, _, _) = post(&sim, &format!("{page}/fail-next-charge"), &[]).await;
    assert_eq!(status, 303);
    let (_, html) = get(&sim, &page).await;
    assert!(html.contains("Charges set to fail"));
    post(&sim, "/clock/advance", &[("by", "month")]).await;
    let (_, html) = get(&sim, &page).await;
    assert!(html.contains("Renewal failed: 15 USD (period 3"));
    assert!(html.contains("Cancelled by the gateway"));
    assert!(html.contains("No action: the subscription has ended."));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_recurrente_checkout_is_paid_from_its_page() {
    let hooks = rc::hooks(0).await;
    let sim = rc::sim_with_hook(&hooks.url).await;
    let checkout = rc::subscription_checkout(&sim, rc::recurring_item("Pro <b>", 25_000, "month")).await;
    let page = format!("/checkouts/{checkout}");
    let (status, html) = get(&sim, &page).await;
    assert_eq!(status, 200);
    assert!(html.contains("Pro &lt;b&gt;"));
    assert!(html.contains("<span id=\"status\">unpaid</span>"));
    assert!(html.contains("250.00 GTQ"));

    let (status, _, html) = post(&sim, &format!("{page}/pay"), &[("outcome", "bogus")]).await;
    assert_eq!(status, 400);
    assert!(html.contains("`outcome` must be"));
    let (status, location, _) = post(
        &sim,
        &format!("{page}/pay"),
        &[("outcome", "card_success"), ("back", &page)],
    )
    .await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/subscriptions/recurrente/su_"), "{location}");
    let (_, html) = get(&sim, &location).await;
    assert!(html.contains(&format!("Checkout <a href=\"/checkouts/{checkout}\">")));
    assert!(html.contains("First charge succeeded: 250.00 GTQ"));
    assert!(html.contains("id=\"pause\""));
    // Paying again is refused, as a notice.
    let (status, again, _) = post(
        &sim,
        &format!("{page}/pay"),
        &[("outcome", "card_success"), ("back", &page)],
    )
    .await;
    assert_eq!(status, 303);
    assert!(again.contains("notice="), "{again}");
    let (_, html) = get(&sim, &page).await;
    assert!(html.contains("<span id=\"status\">paid</span>"));
    assert!(html.contains(location.trim_start_matches("/subscriptions/recurrente/")));

    // The next renewal fails: past due, retried.
    let (status, _, _) = post(&sim, &format!("{location}/fail-next-charge"), &[("back", &location)]).await;
    assert_eq!(status, 303);
    post(&sim, "/clock/advance", &[("by", "month")]).await;
    sim.flush_webhooks().await;
    let (_, html) = get(&sim, &location).await;
    assert!(html.contains("Renewal failed: 250.00 GTQ (period 2"));
    assert!(html.contains("Past due; next retry 2026-02-13 09:00:00 UTC"));
    assert!(html.contains("payment_intent.failed"));
    assert!(html.contains("subscription.past_due"));
    // Pause is refused while past due; the page says why.
    let (_, notice, _) = post(&sim, &format!("{location}/pause"), &[("back", &location)]).await;
    assert!(notice.contains("notice="), "{notice}");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_webhook_log_shows_signatures_and_redelivers() {
    let hooks = rc::hooks(0).await;
    let sim = rc::sim_with_hook(&hooks.url).await;
    let receiver = common::receiver(0).await;
    let uuid = recurrence(&sim, "order-9", Some(&receiver.url)).await;
    sim.cryptomus_accept(&uuid).unwrap();
    let checkout = rc::subscription_checkout(&sim, rc::recurring_item("Pro", 25_000, "month")).await;
    sim.recurrente_pay(&checkout, RecurrenteOutcome::CardSuccess).unwrap();
    sim.flush_webhooks().await;

    let (status, html) = get(&sim, "/webhooks").await;
    assert_eq!(status, 200);
    assert!(html.contains(&receiver.url));
    assert!(html.contains(&hooks.url));
    assert!(html.contains("sign (in the body): "));
    assert!(html.contains("svix-signature: v1,"));
    assert!(html.contains("svix-id: msg_"));
    assert!(html.contains("payment_intent.succeeded"));
    assert!(html.contains("delivered (200)"));
    assert!(html.contains(&format!("/subscriptions/cryptomus/{uuid}")));
    assert!(html.contains("id=\"redeliver-1\""));

    // Redeliver the first (Cryptomus' recurrence webhook): the same body again.
    let before = receiver.raw();
    assert_eq!(before.len(), 2);
    let (status, location, _) = post(&sim, "/webhooks/1/redeliver", &[("back", "/webhooks")]).await;
    assert_eq!((status, location.as_str()), (303, "/webhooks"));
    sim.flush_webhooks().await;
    let after = receiver.raw();
    assert_eq!(after.len(), 3);
    assert_eq!(after[2], before[0]);
    let (_, html) = get(&sim, "/webhooks").await;
    assert!(html.contains("sent again from #1"));
    let (_, html) = get(&sim, &format!("/subscriptions/cryptomus/{uuid}")).await;
    assert!(html.contains("Webhook #1 sent again"));

    // A Recurrente one: signed again, the same message id.
    let last = sim
        .deliveries()
        .iter()
        .rev()
        .find(|r| r.gateway == "recurrente")
        .unwrap()
        .id;
    let (status, _, _) = post(&sim, &format!("/webhooks/{last}/redeliver"), &[]).await;
    assert_eq!(status, 303);
    sim.flush_webhooks().await;
    let hits = hooks.delivered();
    let (a, b) = (&hits[hits.len() - 2], &hits[hits.len() - 1]);
    assert_eq!(a.header("svix-id"), b.header("svix-id"));
    assert_eq!(a.body, b.body);
    assert_eq!(hooks.verify(sim.recurrente_webhook_secret()).len(), hits.len());

    for bad in [
        "/webhooks/999/redeliver",
        "/webhooks/abc/redeliver",
        "/webhooks/0/redeliver",
    ] {
        let (status, _, html) = post(&sim, bad, &[]).await;
        assert_eq!(status, 404, "{bad}");
        assert!(html.contains("No webhook delivery"), "{bad}");
    }
    let (status, _) = get(&sim, "/webhooks?before=x").await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_clock_moves_only_forward() {
    let sim = common::sim().await;
    let (status, location, _) = post(&sim, "/clock/advance", &[("by", "hour"), ("back", "/webhooks")]).await;
    assert_eq!((status, location.as_str()), (303, "/webhooks"));
    post(&sim, "/clock/advance", &[("by", "day")]).await;
    assert_eq!(
        sim.now(),
        "2026-01-11T10:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap()
    );
    let (status, location, _) = post(
        &sim,
        "/clock/set",
        &[("date", "2026-03-01"), ("back", "//evil.example/")],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/"), "never another site");
    assert_eq!(
        sim.now(),
        "2026-03-01T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap()
    );

    let (status, _, html) = post(&sim, "/clock/set", &[("date", "2026-01-01")]).await;
    assert_eq!(status, 400);
    assert!(html.contains("the clock cannot go back"));
    for form in [&[("by", "week")][..], &[][..], &[("date", "soon")][..]] {
        let path = if form.first().is_some_and(|(k, _)| *k == "by") || form.is_empty() {
            "/clock/advance"
        } else {
            "/clock/set"
        };
        let (status, _, html) = post(&sim, path, form).await;
        assert_eq!(status, 400, "{form:?}");
        assert!(html.contains("id=\"reason\""));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_objects_are_404_pages() {
    let sim = common::sim().await;
    let uuid = recurrence(&sim, "order-1", None).await;
    for path in [
        "/subscriptions/cryptomus/nope".to_owned(),
        format!("/subscriptions/recurrente/{uuid}"),
        format!("/subscriptions/stripe/{uuid}"),
        "/checkouts/ch_nope".to_owned(),
        "/subscriptions/cryptomus/%3Cscript%3E".to_owned(),
    ] {
        let (status, html) = get(&sim, &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("Not found"), "{path}");
        assert!(!html.contains("<script>"), "{path}");
    }
    for path in [
        format!("/subscriptions/cryptomus/{uuid}/explode"),
        "/subscriptions/cryptomus/nope/accept".to_owned(),
        "/checkouts/ch_nope/pay".to_owned(),
    ] {
        let (status, _, _) = post(&sim, &path, &[("outcome", "card_success")]).await;
        assert_eq!(status, 404, "{path}");
    }
    // Nothing changed.
    assert_eq!(sim.cryptomus_recurrence(&uuid).unwrap()["status"], "wait_accept");
    sim.shutdown().await;
}

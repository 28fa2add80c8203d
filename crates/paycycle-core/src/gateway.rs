//! The gateway trait every backend implements, and conveniences built once on top of it.

use std::fmt::Debug;
use std::future::Future;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use crate::capabilities::Capabilities;
use crate::checkout::{Checkout, CheckoutRequest};
use crate::error::{Error, Result};
use crate::ids::{CheckoutId, GatewayId, SubscriptionId};
use crate::subscription::Subscription;
use crate::webhook::WebhookEvent;

/// Which page of a list to fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// `None` for the first page, else the `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, when the gateway lets the caller choose.
    pub limit: Option<u32>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One recurring-payments gateway. Object-safe: hold it as `Arc<dyn RecurringGateway>`.
///
/// Contract, for every implementation:
/// - Nothing a caller passes makes it panic; bad input is [`Error::InvalidInput`] and an option
///   the gateway cannot honour is [`Error::Unsupported`], both before any request is sent.
/// - Unknown provider statuses and event types come back as `Unknown(raw)` variants; they never
///   fail a whole call.
/// - Every returned object keeps the provider's raw JSON.
#[async_trait]
pub trait RecurringGateway: Send + Sync + Debug + 'static {
    /// This gateway's id (`cryptomus`, `recurrente`, `fake`).
    fn id(&self) -> GatewayId;

    /// What it can do.
    fn capabilities(&self) -> &Capabilities;

    /// Creates the checkout a payer opens to start a subscription to `request.plan`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`], [`Error::Unsupported`] before sending; any provider error after.
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout>;

    /// A checkout's current state, including the subscription it started.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown id; provider errors.
    async fn checkout(&self, id: &CheckoutId) -> Result<Checkout>;

    /// One subscription.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown id; provider errors.
    async fn subscription(&self, id: &SubscriptionId) -> Result<Subscription>;

    /// One page of subscriptions; see [`RecurringGatewayExt::all_subscriptions`] for all of them.
    ///
    /// # Errors
    /// Provider errors; [`Error::Unsupported`] where listing is not possible.
    async fn subscriptions(&self, page: PageRequest) -> Result<Page<Subscription>>;

    /// Cancels a subscription as the merchant and returns it as it is after the cancel.
    ///
    /// # Errors
    /// [`Error::NotFound`]; provider errors (cancelling twice may be [`Error::Rejected`]).
    async fn cancel_subscription(&self, id: &SubscriptionId) -> Result<Subscription>;

    /// Authenticates a webhook (headers and the raw body bytes, exactly as received) and
    /// normalizes it. Pure CPU, no I/O.
    ///
    /// # Errors
    /// [`Error::Webhook`] when the signature, timestamp or body is wrong.
    fn verify_webhook(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<WebhookEvent>;
}

/// Conveniences for every [`RecurringGateway`], implemented once.
#[async_trait]
pub trait RecurringGatewayExt: RecurringGateway {
    /// Every subscription, page after page, as a stream.
    fn all_subscriptions(&self) -> BoxStream<'_, Result<Subscription>> {
        paginate(move |cursor| self.subscriptions(PageRequest { cursor, limit: None }))
    }

    /// The subscription a checkout started, once the payer has completed it.
    ///
    /// # Errors
    /// Those of [`RecurringGateway::checkout`] and [`RecurringGateway::subscription`].
    async fn subscription_for_checkout(&self, id: &CheckoutId) -> Result<Option<Subscription>> {
        let checkout = self.checkout(id).await?;
        match checkout.subscription_id {
            Some(sid) => Ok(Some(self.subscription(&sid).await?)),
            None => Ok(None),
        }
    }
}

impl<G: RecurringGateway + ?Sized> RecurringGatewayExt for G {}

/// Turns a page-fetching function into a stream of items. Stops after the page with no
/// `next_cursor`, and with an error if the provider repeats a cursor (it would loop forever).
pub fn paginate<'a, T, F, Fut>(mut fetch: F) -> BoxStream<'a, Result<T>>
where
    T: Send + 'a,
    F: FnMut(Option<String>) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T>>> + Send + 'a,
{
    enum State {
        Next(Option<String>),
        Done,
    }
    let pages = stream::unfold(State::Next(None), move |state| {
        let cursor = match state {
            State::Next(c) => c,
            State::Done => return futures::future::Either::Left(futures::future::ready(None)),
        };
        let fut = fetch(cursor.clone());
        futures::future::Either::Right(async move {
            match fut.await {
                Ok(page) => {
                    let next = match page.next_cursor {
                        Some(n) if Some(&n) == cursor.as_ref() => {
                            return Some((
                                Err(Error::Decode {
                                    gateway: GatewayId::new("paginate"),
                                    status: 200,
                                    path: "next_cursor".into(),
                                    excerpt: n,
                                    source: "the provider returned the same cursor again".into(),
                                }),
                                State::Done,
                            ));
                        }
                        Some(n) => State::Next(Some(n)),
                        None => State::Done,
                    };
                    Some((Ok(page.items), next))
                }
                Err(e) => Some((Err(e), State::Done)),
            }
        })
    });
    pages
        .flat_map(|page| match page {
            Ok(items) => stream::iter(items.into_iter().map(Ok)).left_stream(),
            Err(e) => stream::once(futures::future::ready(Err(e))).right_stream(),
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    #[tokio::test]
    async fn paginate_follows_cursors_to_the_end() {
        let s = paginate(|cursor: Option<String>| async move {
            let n: u32 = cursor.as_deref().map_or(0, |c| c.parse().unwrap());
            Ok(Page {
                items: vec![n * 10, n * 10 + 1],
                next_cursor: (n < 2).then(|| (n + 1).to_string()),
            })
        });
        let all: Vec<u32> = s.try_collect().await.unwrap();
        assert_eq!(all, vec![0, 1, 10, 11, 20, 21]);
    }

    #[tokio::test]
    async fn paginate_stops_on_a_repeated_cursor_and_on_errors() {
        let s = paginate(|_c: Option<String>| async {
            Ok(Page {
                items: vec![1u8],
                next_cursor: Some("same".into()),
            })
        });
        let got: Vec<Result<u8>> = s.collect().await;
        assert_eq!(got.len(), 2, "the first page's item, then the error instead of a loop");
        assert!(got[0].is_ok());
        assert!(got[1].is_err());

        let s = paginate(|_c: Option<String>| async { Err::<Page<u8>, _>(Error::invalid("x", "y")) });
        let got: Vec<Result<u8>> = s.collect().await;
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
    }
}

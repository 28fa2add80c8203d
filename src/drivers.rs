//! [`Driver`]s that act as the payer and as time on the in-process simulator.

use std::sync::Arc;

use async_trait::async_trait;
use paycycle_core::chrono::{DateTime, Utc};
use paycycle_core::{Checkout, Currency};
use paycycle_sim::Simulator;

use crate::story::{BoxError, Driver};

fn advance(sim: &Simulator, to: DateTime<Utc>) -> Result<(), BoxError> {
    let by = to - sim.now();
    if by > paycycle_core::chrono::Duration::zero() {
        sim.advance(by)?;
    }
    Ok(())
}

/// Cryptomus on the simulator: the payer accepts the recurrence on its payer page.
#[derive(Debug, Clone)]
pub struct CryptomusSimDriver {
    /// The simulator.
    pub sim: Arc<Simulator>,
}

#[async_trait]
impl Driver for CryptomusSimDriver {
    async fn complete_checkout(&self, checkout: &Checkout) -> Result<(), BoxError> {
        self.sim.cryptomus_accept(checkout.id.as_str())?;
        Ok(())
    }

    async fn advance_to(&self, to: DateTime<Utc>) -> Result<(), BoxError> {
        advance(&self.sim, to)
    }

    fn now(&self) -> DateTime<Utc> {
        self.sim.now()
    }

    async fn flush(&self) {
        self.sim.flush_webhooks().await;
    }

    fn currency(&self) -> Currency {
        Currency::USDT
    }
}

//! Cryptomus' control routes: the payer accepts (and pays the first period) or cancels.
//!
//! | route | does |
//! |---|---|
//! | `POST /__sim/cryptomus/recurrences/{uuid}/accept` | the payer accepts and pays the first period |
//! | `POST /__sim/cryptomus/recurrences/{uuid}/cancel-by-user` | the payer cancels |
//!
//! They answer `{"recurrence": …, "transitions": […]}`, or with `?redirect=page` (the payer
//! page's buttons) `303 See Other` back to the page.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;

use super::{Applied, RecurrenceJson, page_path, recurrence_json};
use crate::SimError;
use crate::engine::Transition;
use crate::state::Shared;
use crate::web::{back_to, sim_error, wants_redirect};

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/__sim/cryptomus/recurrences/{uuid}/accept", post(accept))
        .route(
            "/__sim/cryptomus/recurrences/{uuid}/cancel-by-user",
            post(cancel_by_user),
        )
}

fn payer_action(
    s: &Shared,
    uuid: &str,
    query: Option<&str>,
    op: fn(&Shared, &str) -> Result<Applied, SimError>,
) -> Response {
    let result = op(s, uuid);
    if wants_redirect(query) {
        return back_to(&page_path(uuid), result.map(|_| ()).map_err(|e| e.to_string()));
    }
    match result {
        Ok((sub, transitions)) => {
            #[derive(Serialize)]
            struct Body<'a> {
                recurrence: Option<RecurrenceJson<'a>>,
                transitions: Vec<Transition>,
            }
            let recurrence = recurrence_json(&sub, &s.base_url);
            axum::Json(Body {
                recurrence,
                transitions,
            })
            .into_response()
        }
        Err(e) => sim_error(&e),
    }
}

async fn accept(State(s): State<Arc<Shared>>, Path(uuid): Path<String>, RawQuery(q): RawQuery) -> Response {
    payer_action(&s, &uuid, q.as_deref(), super::accept)
}

async fn cancel_by_user(State(s): State<Arc<Shared>>, Path(uuid): Path<String>, RawQuery(q): RawQuery) -> Response {
    payer_action(&s, &uuid, q.as_deref(), super::cancel_by_user)
}

//! The admin HTTP API: JSON views of the node and Prometheus metrics.
//!
//! `GET /node` (everything, with the first 100 bundles), `/links`, `/contacts`, `/queues`,
//! `/bundles?after=ID&limit=N` (a page, in id order: at most 1000, ids above `after`),
//! `/counters`, `/metrics` (Prometheus text format). `DELETE /bundles/ID` deletes a bundle;
//! like every request that changes state, it needs `Authorization: Bearer <[admin] token>`
//! (without a configured token, such requests are refused). GETs stay open on the admin
//! address.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use super::agent::Command;
use super::metrics::Counters;
use super::snapshot::Snapshot;

#[derive(Debug, Clone)]
struct Admin {
    commands: mpsc::Sender<Command>,
    counters: Arc<Counters>,
    node: u64,
    token: Option<Arc<str>>,
}

/// Most bundles in a `/bundles` page.
const PAGE_MAX: usize = 1000;

impl Admin {
    /// Sends the agent the command `make` builds around a reply channel, and waits for the
    /// reply; 503 when the agent is not running.
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Response> {
        let (tx, rx) = oneshot::channel();
        let unavailable = || (StatusCode::SERVICE_UNAVAILABLE, "the agent is not running").into_response();
        self.commands.send(make(tx)).await.map_err(|_| unavailable())?;
        rx.await.map_err(|_| unavailable())
    }

    async fn snapshot(&self) -> Result<Snapshot, Response> {
        self.ask(Command::Snapshot).await
    }

    /// Whether a state-changing request carries the configured token; the refusal if not.
    fn authorised(&self, headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
        let Some(token) = &self.token else {
            return Err((StatusCode::FORBIDDEN, "no [admin] token is configured: changes are refused"));
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        // Compared in constant time: the admin address may be reachable by others.
        let ok = given.is_some_and(|g| {
            g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        });
        if ok { Ok(()) } else { Err((StatusCode::UNAUTHORIZED, "a valid bearer token is needed")) }
    }
}

/// `after` and `limit` from a query string (`after=12&limit=50`); bad values are an error.
fn page_of(query: Option<&str>) -> Result<(u64, usize), (StatusCode, String)> {
    let (mut after, mut limit) = (0u64, PAGE_MAX);
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = || (StatusCode::BAD_REQUEST, format!("{key}={value:?}: not a number"));
        match key {
            "after" => after = value.parse().map_err(|_| bad())?,
            "limit" => limit = value.parse::<usize>().map_err(|_| bad())?.clamp(1, PAGE_MAX),
            _ => return Err((StatusCode::BAD_REQUEST, format!("unknown parameter {key:?}"))),
        }
    }
    Ok((after, limit))
}

async fn bundles(State(a): State<Admin>, RawQuery(query): RawQuery) -> Response {
    let (after, limit) = match page_of(query.as_deref()) {
        Ok(page) => page,
        Err(refused) => return refused.into_response(),
    };
    match a.ask(|reply| Command::Bundles { after, limit, reply }).await {
        Ok(page) => Json(page).into_response(),
        Err(unavailable) => unavailable,
    }
}

async fn delete_bundle(State(a): State<Admin>, headers: HeaderMap, Path(id): Path<u64>) -> Response {
    if let Err(refused) = a.authorised(&headers) {
        return refused.into_response();
    }
    match a.ask(|reply| Command::Delete { bundle: id, reply }).await {
        Ok(true) => (StatusCode::OK, format!("bundle {id} deleted")).into_response(),
        Ok(false) => (StatusCode::NOT_FOUND, format!("no bundle {id}")).into_response(),
        Err(unavailable) => unavailable,
    }
}

/// Serves the API on `listener` until shutdown.
pub async fn serve(
    listener: TcpListener,
    commands: mpsc::Sender<Command>,
    counters: Arc<Counters>,
    node: u64,
    token: Option<String>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let state = Admin { commands, counters, node, token: token.map(Arc::from) };
    let app = Router::new()
        .route("/node", get(|State(a): State<Admin>| async move { a.snapshot().await.map(Json) }))
        .route("/links", get(|State(a): State<Admin>| async move { a.snapshot().await.map(|s| Json(s.links)) }))
        .route("/contacts", get(|State(a): State<Admin>| async move { a.snapshot().await.map(|s| Json(s.contacts)) }))
        .route("/queues", get(|State(a): State<Admin>| async move { a.snapshot().await.map(|s| Json(s.queues)) }))
        .route("/bundles", get(bundles))
        .route("/bundles/{id}", delete(delete_bundle))
        .route("/counters", get(|State(a): State<Admin>| async move { a.snapshot().await.map(|s| Json(s.counters)) }))
        .route("/metrics", get(metrics))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.changed().await;
        })
        .await
}

async fn metrics(State(a): State<Admin>) -> Response {
    match a.snapshot().await {
        Ok(s) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            super::metrics::render(&a.counters, &s.gauges, a.node),
        )
            .into_response(),
        Err(r) => r,
    }
}

//! The admin HTTP API: JSON views of the node and Prometheus metrics.
//!
//! `GET /node` (everything), `/links`, `/contacts`, `/queues`, `/bundles`, `/counters`,
//! `/metrics` (Prometheus text format).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
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
}

impl Admin {
    async fn snapshot(&self) -> Result<Snapshot, Response> {
        let (tx, rx) = oneshot::channel();
        let unavailable = || (StatusCode::SERVICE_UNAVAILABLE, "the agent is not running").into_response();
        self.commands.send(Command::Snapshot(tx)).await.map_err(|_| unavailable())?;
        rx.await.map_err(|_| unavailable())
    }
}

/// Serves the API on `listener` until shutdown.
pub async fn serve(
    listener: TcpListener,
    commands: mpsc::Sender<Command>,
    counters: Arc<Counters>,
    node: u64,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let state = Admin { commands, counters, node };
    let app = Router::new()
        .route("/node", get(|State(a): State<Admin>| async move { a.snapshot().await.map(Json) }))
        .route("/links", get(|State(a): State<Admin>| async move { a.snapshot().await.map(|s| Json(s.links)) }))
        .route("/contacts", get(|State(a): State<Admin>| async move { a.snapshot().await.map(|s| Json(s.contacts)) }))
        .route("/queues", get(|State(a): State<Admin>| async move { a.snapshot().await.map(|s| Json(s.queues)) }))
        .route("/bundles", get(|State(a): State<Admin>| async move { a.snapshot().await.map(|s| Json(s.bundles)) }))
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

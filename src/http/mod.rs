//! The HTTP listener (`milena.http.listener`): Prometheus `/metrics`, and the web console's pages
//! beside it ([`console`]; [`router`] is one axum `Router`). It serves HTTPS when the listener
//! is `https://host:port` (keystore from `milena.http.ssl.*`, loaded by `server::tls` as the
//! Kafka SSL listeners' are). When the broker has password users (SASL) every path, `/metrics`
//! too, asks for a login as one of them (HTTP Basic; see [`auth`]), and the console acts as
//! that user under the broker's ACLs; without them it acts as `User:ANONYMOUS`, as a PLAINTEXT
//! Kafka client would. Bind a listener without login to localhost.
//!
//! It shares the broker's runtime with the Kafka listeners, so it is bounded so that no HTTP
//! client can slow a produce or a fetch down:
//! - at most [`MAX_CONNECTIONS`] connections; one more is closed at accept;
//! - a request head (line and headers) larger than [`MAX_REQUEST_HEAD_BYTES`] is answered 431,
//!   one that takes longer than [`HEADER_READ_TIMEOUT`] to arrive closes the connection, and a
//!   connection lives at most [`CONNECTION_LIFETIME`] (a keep-alive scraper reconnects);
//! - a body larger than [`MAX_BODY_BYTES`] is refused (413) before it is read;
//! - a scrape is rendered on a blocking thread, one at a time, never on the async workers that
//!   serve Kafka requests; one that waits longer than [`SCRAPE_TIMEOUT`] for its turn gets 503.
//!
//! Malformed request lines get hyper's 400, unknown paths 404 and other methods 405, each with
//! a line of text; nothing a client sends can panic the broker.

mod auth;
mod console;
pub mod metrics;
mod process;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::broker::Broker;
use crate::server::tls::TlsListener;

/// Open HTTP connections at once; Prometheus needs one per scraper.
pub const MAX_CONNECTIONS: usize = 64;
/// Request line plus headers (hyper's read buffer; 8 KiB is its floor).
pub const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;
/// Request bodies (the console's forms).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the routes share.
struct HttpState {
    broker: Arc<Broker>,
    /// One scrape renders at a time: many scrapers cost queueing, not CPU.
    scrapes: Arc<Semaphore>,
    /// The login checks (see [`auth`]).
    logins: auth::Logins,
}

/// The routes of the listener.
pub fn router(broker: Arc<Broker>) -> Router {
    let state = Arc::new(HttpState {
        broker,
        scrapes: Arc::new(Semaphore::new(1)),
        logins: auth::Logins::default(),
    });
    Router::new()
        .route("/metrics", get(scrape))
        .merge(console::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The address of the client of a request (inserted by [`serve`] into every request), for
/// the host of ACL checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub SocketAddr);

/// Serves HTTP on `listener` until `shutdown` turns true; HTTPS when `tls` is given
/// (`milena.http.listener=https://…`). A TLS handshake is bounded by
/// [`crate::server::tls::HANDSHAKE_TIMEOUT`] and holds one of the [`MAX_CONNECTIONS`] slots; a
/// failed one (plain HTTP on the HTTPS port, an untrusted certificate at the client) closes
/// that connection with a log line.
pub async fn serve(
    broker: Arc<Broker>,
    listener: TcpListener,
    tls: Option<Arc<TlsListener>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let router = router(broker);
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(error) => {
                // EMFILE and the like: back off, keep listening.
                tracing::debug!(%error, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "closing HTTP connection: {MAX_CONNECTIONS} already open");
            continue;
        };
        let router = router.clone();
        let tls = tls.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, peer, router, stop).await,
                Some(tls) => {
                    // The handshake logs why it failed; the client is already gone then.
                    let handshake = tokio::select! {
                        done = tls.handshake(stream, peer) => done,
                        _ = wait_for_stop(stop.clone()) => None,
                    };
                    if let Some((stream, _)) = handshake {
                        serve_connection(stream, peer, router, stop).await;
                    }
                }
            }
            drop(permit);
        });
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn wait_for_stop(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Serves the requests of one connection (plain or TLS) with the bounds of the module docs.
async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let inner = hyper_util::service::TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ClientAddr(peer));
        hyper::service::Service::call(&inner, request)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::pin!(connection);
    let finished = tokio::select! {
        result = connection.as_mut() => Some(result),
        _ = tokio::time::sleep(CONNECTION_LIFETIME) => None,
        _ = stop.changed() => None,
    };
    if finished.is_none() {
        // Let a request in progress finish, then close; a stuck one is dropped.
        connection.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
    } else if let Some(Err(error)) = finished {
        tracing::debug!(%peer, %error, "HTTP connection ended");
    }
}

async fn not_found(uri: Uri) -> Response {
    let path: String = uri.path().chars().take(200).collect();
    (
        StatusCode::NOT_FOUND,
        format!("no such page: {path} (see / for what is served)\n"),
    )
        .into_response()
}

/// `/metrics`: the Prometheus text (OpenMetrics 1.0) exposition.
async fn scrape(State(state): State<Arc<HttpState>>) -> Response {
    let turn = tokio::time::timeout(SCRAPE_TIMEOUT, state.scrapes.clone().acquire_owned()).await;
    let Ok(Ok(turn)) = turn else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "another scrape is still being rendered; try again\n",
        )
            .into_response();
    };
    let broker = state.broker.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        let text = metrics::render(broker);
        drop(turn);
        text
    })
    .await;
    match rendered {
        Ok(Ok(text)) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the metrics could not be rendered\n",
        )
            .into_response(),
    }
}

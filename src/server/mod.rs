//! The network edge: the accept loop and one task per connection.
//!
//! Knows bytes, not Kafka semantics. Limits enforced here: `max.connections` (excess connections
//! are closed at accept), `socket.request.max.bytes` (a larger size prefix closes the connection
//! before any allocation), and `connections.max.idle.ms`. Requests on one connection are served
//! one at a time, in order, as Kafka does, so responses keep their order even when an acks=0
//! Produce gets none.

mod connection;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::broker::Broker;

/// Accepts connections until `shutdown` turns true.
pub async fn serve(
    broker: Arc<Broker>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let limit = broker.limits.max_connections;
    let permits = Arc::new(Semaphore::new(limit));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Usually EMFILE: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit, "closing connection: max.connections reached");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let broker = broker.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            connection::run(broker, stream, peer, shutdown).await;
            drop(permit);
        });
    }
}

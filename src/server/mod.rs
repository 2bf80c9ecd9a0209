//! The network edge: the accept loop and one task per connection.
//!
//! Knows bytes, not Kafka semantics. Limits enforced here: `max.connections` (excess connections
//! are closed at accept), `socket.request.max.bytes` (a larger size prefix closes the connection
//! before any allocation), and `connections.max.idle.ms`. Requests on one connection are served
//! one at a time, in order, as Kafka does, so responses keep their order even when an acks=0
//! Produce gets none.

mod connection;
pub mod tls;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::broker::Broker;
use crate::security::{ListenerInfo, Session};

/// What carries a listener's bytes: plain TCP, or TLS over it. What runs inside (the Kafka
/// protocol, and SASL on SASL_* listeners) is the same over both.
#[derive(Clone)]
pub enum ListenerTransport {
    Plaintext,
    Tls(Arc<tls::TlsListener>),
}

/// Accepts connections on one listener until `shutdown` turns true. Every listener of a broker
/// shares `permits` (`max.connections`).
pub async fn serve(
    broker: Arc<Broker>,
    listener: TcpListener,
    info: Arc<ListenerInfo>,
    transport: ListenerTransport,
    permits: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let limit = broker.limits.max_connections;
    let connections = broker.metrics.listener(&info.name);
    let mut failures = AcceptFailures::default();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Usually EMFILE (the open-file budget is spent): the connection waits in the
                // backlog; back off briefly instead of spinning, and never stop listening.
                failures.note(&e);
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
        let info = info.clone();
        let transport = transport.clone();
        let open = connections.opened();
        tokio::spawn(async move {
            let mut session = Session::new(info, peer);
            match transport {
                ListenerTransport::Plaintext => {
                    connection::run(broker, stream, session, shutdown).await
                }
                ListenerTransport::Tls(tls) => {
                    let mut stop = shutdown.clone();
                    let accepted = tokio::select! {
                        accepted = tls.handshake(stream, peer) => accepted,
                        _ = stop.changed() => None,
                    };
                    if let Some((stream, principal)) = accepted {
                        session.principal = Arc::new(principal);
                        connection::run(broker, stream, session, shutdown).await;
                    }
                }
            }
            drop(permit);
            drop(open);
        });
    }
}

/// Logs accept failures at most once a second (with how many there were meanwhile), so a long
/// exhaustion of file descriptors does not flood the log.
#[derive(Default)]
struct AcceptFailures {
    last_logged: Option<std::time::Instant>,
    since: u64,
}

impl AcceptFailures {
    fn note(&mut self, error: &std::io::Error) {
        self.since += 1;
        let due = self
            .last_logged
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1));
        if due {
            tracing::warn!(%error, failures = self.since, "accept failed; retrying");
            self.last_logged = Some(std::time::Instant::now());
            self.since = 0;
        }
    }
}

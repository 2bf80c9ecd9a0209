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
        set_send_buffer(&stream, &broker.limits);
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

/// `socket.send.buffer.bytes` on an accepted connection, as Kafka's acceptor sets it. The bounded
/// send buffer is also the cheaper one for a Fetch sent with sendfile: on loopback, 100 KiB moved
/// a 2 GiB catch-up 15–30% faster, with a third less broker CPU, than the autotuned buffer (up to
/// `tcp_wmem`'s 4 MiB); see bench/README.md. `socket.receive.buffer.bytes` is not applied: a
/// 100 KiB receive buffer slowed produce (a 1 MiB request then arrives in five reads or more).
fn set_send_buffer(stream: &tokio::net::TcpStream, limits: &crate::broker::Limits) {
    if let Some(n) = limits.socket_send_buffer_bytes {
        if let Err(e) = socket2::SockRef::from(stream).set_send_buffer_size(n) {
            tracing::debug!(error = %e, "SO_SNDBUF not set");
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::Limits;

    fn limits(send: Option<usize>) -> Limits {
        Limits {
            max_connections: 1,
            socket_request_max_bytes: 1 << 20,
            connections_max_idle_ms: 600_000,
            socket_send_buffer_bytes: send,
        }
    }

    async fn accepted(limits: &Limits) -> usize {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        set_send_buffer(&stream, limits);
        socket2::SockRef::from(&stream).send_buffer_size().unwrap()
    }

    #[tokio::test]
    async fn socket_send_buffer_bytes_reaches_the_accepted_socket() {
        // Linux doubles what is asked (for its bookkeeping) and reports the doubled size.
        assert_eq!(accepted(&limits(Some(100_000))).await, 200_000);
        // -1: the OS default stays, whatever it is on this machine.
        assert_ne!(accepted(&limits(None)).await, 200_000);
    }
}

//! The controller listener's protocol: what nodes of a cluster say to each other.
//!
//! A frame is a 4-byte big-endian length and that many bytes of JSON. The length is checked
//! against [`MAX_FRAME`] before anything is allocated; a frame that does not decode closes the
//! connection with a log line, and other connections carry on. Clients (Kafka tools) never use
//! this listener: they reach the controller through any broker, which forwards.
//!
//! Each request gets exactly one response, in order, on the same connection.
//!
//! Security: a controller listener mapped to `SSL` runs the TLS server handshake first (with
//! `ssl.client.auth=required`, only nodes with a trusted certificate get in), and outgoing
//! connections run the TLS client (`channel`). With an authorizer configured, only super users
//! may talk to the quorum (Kafka asks CLUSTER_ACTION of every controller request): the
//! principal of a certificate-less or plaintext connection is `User:ANONYMOUS`, which is
//! refused with a log line unless it is itself in `super.users`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
#[cfg(test)]
use tokio::net::TcpStream;

use super::channel::{AuthBackoff, ChannelBuilder};
use crate::security::acl::Authorizer;
use crate::security::KafkaPrincipal;
use crate::server::tls::TlsListener;

use crate::metadata::controller::{ControllerOp, OpOutcome};
use crate::metadata::{BrokerEndpoint, MetadataError};

/// Raft snapshots are the largest messages: the whole metadata image.
pub const MAX_FRAME: usize = 64 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// The first message on a connection: who is calling, and what it believes the cluster is.
    Hello {
        cluster_id: String,
        voters: String,
        from: i32,
        /// The node id the caller expects at this address.
        to: i32,
    },
    /// A Raft message; its body is openraft's, kept opaque outside `cluster::raft`.
    Raft {
        kind: RaftKind,
        body: serde_json::Value,
    },
    RegisterBroker {
        broker_id: i32,
        incarnation_id: uuid::Uuid,
        endpoints: Vec<BrokerEndpoint>,
        rack: Option<String>,
        /// The broker epoch written at the last clean shutdown (Kafka's PreviousBrokerEpoch);
        /// `None` after a crash or from a node that does not say.
        #[serde(default)]
        previous_broker_epoch: Option<i64>,
    },
    BrokerHeartbeat {
        broker_id: i32,
        broker_epoch: i64,
        /// How far this broker has applied the metadata log.
        applied_index: u64,
        /// Controlled shutdown: the broker is stopping and asks to be fenced now, so that its
        /// leaderships move and Metadata stops listing it without waiting for its session.
        #[serde(default)]
        want_shutdown: bool,
    },
    /// A client's change, forwarded to the active controller.
    Op(ControllerOp),
    /// DescribeQuorum, answered by the leader, which knows every voter's progress.
    DescribeQuorum,
    /// A partition leader asks to change its ISR (Kafka's AlterPartition).
    AlterPartition(crate::metadata::controller::alter_partition::AlterPartitionRequest),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum RaftKind {
    AppendEntries,
    Vote,
    InstallSnapshot,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    Hello,
    Raft(serde_json::Value),
    Registered {
        broker_epoch: i64,
    },
    Heartbeat {
        fenced: bool,
    },
    Op(OpOutcome),
    Quorum(crate::cluster::raft::QuorumStatus),
    /// This node is not the active controller; `leader` is, if known.
    NotController {
        leader: Option<i32>,
    },
    /// The broker epoch in a heartbeat is not the registered one: register again.
    StaleBrokerEpoch,
    /// AlterPartition's answer: committed (`changed` false when the ISR was already that), or
    /// refused with Kafka's reason.
    AlterPartition {
        changed: bool,
        refused: Option<String>,
    },
    /// The request was refused; `kind` names a [`MetadataError`] variant.
    Error {
        kind: String,
        message: String,
    },
}

impl Response {
    pub fn from_error(e: &MetadataError) -> Self {
        use MetadataError::*;
        let (kind, message) = match e {
            TopicAlreadyExists(m) => ("TopicAlreadyExists", m.clone()),
            UnknownTopic(m) => ("UnknownTopic", m.clone()),
            InvalidTopic(m) => ("InvalidTopic", m.clone()),
            InvalidPartitions(m) => ("InvalidPartitions", m.clone()),
            InvalidReplicationFactor(m) => ("InvalidReplicationFactor", m.clone()),
            InvalidReplicaAssignment(m) => ("InvalidReplicaAssignment", m.clone()),
            InvalidRequest(m) => ("InvalidRequest", m.clone()),
            InvalidConfig(m) => ("InvalidConfig", m.clone()),
            InvalidUpdateVersion(m) => ("InvalidUpdateVersion", m.clone()),
            other => ("Unavailable", other.to_string()),
        };
        Response::Error {
            kind: kind.to_string(),
            message,
        }
    }

    pub fn into_error(kind: &str, message: String) -> MetadataError {
        use MetadataError::*;
        match kind {
            "TopicAlreadyExists" => TopicAlreadyExists(message),
            "UnknownTopic" => UnknownTopic(message),
            "InvalidUpdateVersion" => InvalidUpdateVersion(message),
            "InvalidTopic" => InvalidTopic(message),
            "InvalidPartitions" => InvalidPartitions(message),
            "InvalidReplicationFactor" => InvalidReplicationFactor(message),
            "InvalidReplicaAssignment" => InvalidReplicaAssignment(message),
            "InvalidRequest" => InvalidRequest(message),
            "InvalidConfig" => InvalidConfig(message),
            _ => Unavailable(message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {0} bytes is over the limit")]
    FrameTooLarge(usize),
    #[error("undecodable frame: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("timed out")]
    Timeout,
    /// The peer refused our hello: its configuration contradicts ours (the message names the key).
    #[error("{0}")]
    Refused(String),
}

pub async fn read_frame<T: for<'de> Deserialize<'de>>(
    stream: &mut (impl AsyncRead + Unpin + ?Sized),
) -> Result<T, RpcError> {
    let len = stream.read_u32().await? as usize;
    if len > MAX_FRAME {
        return Err(RpcError::FrameTooLarge(len));
    }
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).await?;
    Ok(serde_json::from_slice(&buf)?)
}

pub async fn write_frame<T: Serialize>(
    stream: &mut (impl AsyncWrite + Unpin + ?Sized),
    value: &T,
) -> Result<(), RpcError> {
    let bytes = serde_json::to_vec(value)?;
    if bytes.len() > MAX_FRAME {
        return Err(RpcError::FrameTooLarge(bytes.len()));
    }
    let mut out = Vec::with_capacity(4 + bytes.len());
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(&bytes);
    stream.write_all(&out).await?;
    Ok(())
}

/// Who may use the controller listener: its TLS server (for `SSL`), and with an authorizer,
/// the super users.
#[derive(Default, Clone)]
pub struct ListenerSecurity {
    pub tls: Option<Arc<TlsListener>>,
    pub authorizer: Option<Arc<Authorizer>>,
}

/// Answers requests on the controller listener until `shutdown` changes.
pub async fn serve<H, F>(
    listener: TcpListener,
    security: ListenerSecurity,
    handler: Arc<H>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = Response> + Send,
{
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "controller listener accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let handler = handler.clone();
        let security = security.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = secure_connection(stream, peer, security, handler) => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

/// The TLS handshake and the principal check, then the connection's requests.
async fn secure_connection<H, F>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    security: ListenerSecurity,
    handler: Arc<H>,
) where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = Response> + Send,
{
    let _ = stream.set_nodelay(true);
    let admitted = |principal: &KafkaPrincipal| match &security.authorizer {
        Some(authorizer) if !authorizer.is_super_user(principal) => {
            tracing::warn!(%peer, %principal, "closing a controller connection: only super.users may talk to the controller quorum when an authorizer is set");
            false
        }
        _ => true,
    };
    match &security.tls {
        None => {
            if admitted(&KafkaPrincipal::anonymous()) {
                connection(stream, peer, handler).await
            }
        }
        Some(tls) => {
            // The handshake logs its own failures.
            if let Some((stream, principal)) = tls.handshake(stream, peer).await {
                if admitted(&principal) {
                    connection(stream, peer, handler).await
                }
            }
        }
    }
}

async fn connection<S, H, F>(mut stream: S, peer: SocketAddr, handler: Arc<H>)
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = Response> + Send,
{
    loop {
        let request: Request = match read_frame(&mut stream).await {
            Ok(r) => r,
            Err(RpcError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing a controller connection: bad frame");
                return;
            }
        };
        let response = handler(request).await;
        if let Err(e) = write_frame(&mut stream, &response).await {
            tracing::debug!(%peer, error = %e, "controller connection closed while answering");
            return;
        }
    }
}

/// A connection to one peer's controller listener, opened on first use and after failures.
pub struct Client {
    address: String,
    hello: Request,
    channel: Arc<ChannelBuilder>,
    stream: tokio::sync::Mutex<Option<super::channel::PeerStream>>,
    /// Failed connection attempts in a row, and when the next may be made.
    backoff: std::sync::Mutex<(AuthBackoff, Option<tokio::time::Instant>)>,
}

impl Client {
    pub fn new(address: String, hello: Request, channel: Arc<ChannelBuilder>) -> Self {
        Self {
            address,
            hello,
            channel,
            stream: tokio::sync::Mutex::new(None),
            backoff: std::sync::Mutex::new((AuthBackoff::new(), None)),
        }
    }

    /// Sends `request` and waits for its answer for at most `timeout`. A failed call drops the
    /// connection; the next call opens a new one. After a failed TLS handshake (the peer
    /// refuses our certificate, or we refuse its), calls fail at once until a backoff that
    /// grows to [`AuthBackoff::MAX`] has passed, and the failure is logged (the first, then
    /// every power of two), so a misconfigured node neither spins nor floods its log.
    pub async fn call(&self, request: &Request, timeout: Duration) -> Result<Response, RpcError> {
        let mut slot = self.stream.lock().await;
        if slot.is_none() {
            let retry_at = self.backoff.lock().map(|b| b.1).unwrap_or(None);
            if retry_at.is_some_and(|at| tokio::time::Instant::now() < at) {
                return Err(RpcError::Io(std::io::Error::other(
                    "not reconnecting yet after a failed connection",
                )));
            }
            let opened = tokio::time::timeout(timeout, self.open())
                .await
                .unwrap_or(Err(RpcError::Timeout));
            let Ok(mut backoff) = self.backoff.lock() else {
                return Err(RpcError::Io(std::io::Error::other(
                    "backoff state poisoned",
                )));
            };
            match opened {
                Ok(stream) => {
                    backoff.0.succeeded();
                    backoff.1 = None;
                    *slot = Some(stream);
                }
                Err(e) => {
                    // A TLS failure does not fix itself: back off. A peer that is down or
                    // frozen is retried at once, as before, so it is back in the quorum as
                    // soon as it answers.
                    let tls_failure = matches!(&e, RpcError::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied);
                    if tls_failure {
                        let (wait, failures) = backoff.0.failed();
                        backoff.1 = Some(tokio::time::Instant::now() + wait);
                        if failures.is_power_of_two() {
                            tracing::warn!(address = %self.address, listener = %self.channel.listener(), error = %e, failures, retry_in = ?wait, "cannot connect to a controller listener");
                        }
                    }
                    return Err(e);
                }
            }
        }
        let result = tokio::time::timeout(timeout, async {
            let Some(stream) = slot.as_mut() else {
                return Err(RpcError::Io(std::io::Error::other("no connection")));
            };
            write_frame(stream, request).await?;
            read_frame::<Response>(stream).await
        })
        .await
        .unwrap_or(Err(RpcError::Timeout));
        if result.is_err() {
            *slot = None;
        }
        result
    }

    /// A new connection (TCP, TLS if the listener uses it) that our hello was accepted on.
    async fn open(&self) -> Result<super::channel::PeerStream, RpcError> {
        let mut stream = self.channel.connect_transport(&self.address).await?;
        write_frame(&mut stream, &self.hello).await?;
        match read_frame::<Response>(&mut stream).await? {
            Response::Hello => Ok(stream),
            Response::Error { message, .. } => Err(RpcError::Refused(message)),
            other => Err(RpcError::Io(std::io::Error::other(format!(
                "unexpected answer to hello: {other:?}"
            )))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn server() -> (String, tokio::sync::watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let handler = Arc::new(|request: Request| async move {
            match request {
                Request::Hello { .. } => Response::Hello,
                _ => Response::NotController { leader: Some(7) },
            }
        });
        tokio::spawn(serve(
            listener,
            ListenerSecurity::default(),
            handler,
            stopped,
        ));
        (address, stop)
    }

    fn hello() -> Request {
        Request::Hello {
            cluster_id: "c".into(),
            voters: "v".into(),
            from: 1,
            to: 2,
        }
    }

    /// An impossible length or undecodable JSON closes that connection only; the listener
    /// keeps answering others, and nothing is allocated for the claimed length.
    #[tokio::test]
    async fn garbage_closes_only_its_connection() {
        let (address, _stop) = server().await;
        for garbage in [
            vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3],
            vec![0, 0, 0, 3, b'{', b'x', b'}'],
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        ] {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            stream.write_all(&garbage).await.unwrap();
            let mut buf = [0u8; 16];
            let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
                .await
                .expect("the server closes the connection");
            assert!(matches!(read, Ok(0) | Err(_)), "answered garbage: {read:?}");
        }
        let client = Client::new(address, hello(), Arc::new(ChannelBuilder::plaintext()));
        let answer = client
            .call(
                &Request::Op(crate::metadata::controller::ControllerOp::DeleteTopic {
                    name: "t".into(),
                }),
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert!(matches!(
            answer,
            Response::NotController { leader: Some(7) }
        ));
    }

    #[tokio::test]
    async fn a_refused_hello_is_reported_as_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let handler = Arc::new(|_request: Request| async move {
            Response::Error {
                kind: "InvalidRequest".into(),
                message: "controller.quorum.voters differ".into(),
            }
        });
        tokio::spawn(serve(
            listener,
            ListenerSecurity::default(),
            handler,
            stopped,
        ));
        let client = Client::new(address, hello(), Arc::new(ChannelBuilder::plaintext()));
        let err = client
            .call(&Request::DescribeQuorum, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(err, RpcError::Refused(m) if m.contains("controller.quorum.voters")));
    }
}

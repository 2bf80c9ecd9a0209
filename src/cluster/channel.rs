//! Connections from this node to its peers, with the security protocol of the listener they
//! go to (Kafka's ChannelBuilders on a broker's client side):
//! - `PLAINTEXT`: TCP;
//! - `SSL`: TCP, then the TLS client handshake (`server::tls::client`);
//! - `SASL_PLAINTEXT` / `SASL_SSL` (Kafka protocol listeners only): then SaslHandshake and
//!   SaslAuthenticate with this node's login, as Kafka's SaslClientAuthenticator does. When the
//!   server gives the session a lifetime (`connections.max.reauth.ms`), the connection is
//!   retired before 85% of it has passed and the next call opens a new, freshly authenticated
//!   one.
//!
//! Every step is bounded in time. A refused login is an `io::Error` of kind
//! `PermissionDenied` naming the listener, the user and the server's reason, never the
//! password; callers back off before trying again ([`AuthBackoff`]).

use std::io;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::kafka_client;
use crate::config::peer::{PeerSecurity, SaslLogin};
use crate::security::sasl::client::SaslClient;
use crate::server::tls::client::TlsClient;
use crate::server::tls::TlsSetupError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for one SASL answer.
const SASL_TIMEOUT: Duration = Duration::from_secs(10);
/// SaslAuthenticate v1+ carries the session lifetime; v2 is the flexible version.
const SASL_AUTHENTICATE_VERSION: i16 = 2;
const SASL_HANDSHAKE_VERSION: i16 = 1;
/// PLAIN takes one round, SCRAM two; a server asking for more is refused.
const MAX_SASL_ROUNDS: usize = 3;

/// A byte stream to a peer: TCP or TLS over TCP.
pub trait PeerIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> PeerIo for T {}
pub type PeerStream = Box<dyn PeerIo>;

/// How this node opens connections to one listener of its peers.
pub struct ChannelBuilder {
    listener: String,
    tls: Option<TlsClient>,
    sasl: Option<SaslLogin>,
}

impl std::fmt::Debug for ChannelBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelBuilder")
            .field("listener", &self.listener)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl.as_ref().map(|l| l.mechanism))
            .finish()
    }
}

/// A Kafka protocol connection, authenticated when the listener uses SASL.
pub struct KafkaConnection {
    pub stream: PeerStream,
    /// When to stop using it: before the server's session lifetime ends.
    retire_at: Option<Instant>,
}

impl KafkaConnection {
    /// Whether the connection may carry another request.
    pub fn fresh(&self) -> bool {
        self.retire_at.is_none_or(|at| Instant::now() < at)
    }
}

impl ChannelBuilder {
    /// Reads the trust and key stores a TLS listener needs (a start-up error if they are
    /// missing or unreadable).
    pub fn new(peer: &PeerSecurity) -> Result<Self, TlsSetupError> {
        let tls = match &peer.ssl {
            Some(settings) => Some(TlsClient::new(settings, peer.check_host_name)?),
            None => None,
        };
        Ok(Self {
            listener: peer.listener.clone(),
            tls,
            sasl: peer.sasl.clone(),
        })
    }

    /// Plain TCP (unit tests, single nodes).
    pub fn plaintext() -> Self {
        Self {
            listener: "PLAINTEXT".into(),
            tls: None,
            sasl: None,
        }
    }

    /// The listener these connections go to.
    pub fn listener(&self) -> &str {
        &self.listener
    }

    /// TCP to `address` (`host:port`), then TLS if the listener uses it.
    pub async fn connect_transport(&self, address: &str) -> io::Result<PeerStream> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        stream.set_nodelay(true)?;
        match &self.tls {
            None => Ok(Box::new(stream)),
            Some(tls) => Ok(Box::new(tls.handshake(stream, host_of(address)).await?)),
        }
    }

    /// A Kafka protocol connection to `address`, logged in when the listener uses SASL.
    pub async fn connect_kafka(&self, address: &str) -> io::Result<KafkaConnection> {
        let mut stream = self.connect_transport(address).await?;
        let retire_at = match &self.sasl {
            None => None,
            Some(login) => self.authenticate(&mut stream, address, login).await?,
        };
        Ok(KafkaConnection { stream, retire_at })
    }

    /// SaslHandshake then SaslAuthenticate rounds; returns when to retire the connection.
    async fn authenticate(
        &self,
        stream: &mut PeerStream,
        address: &str,
        login: &SaslLogin,
    ) -> io::Result<Option<Instant>> {
        let denied = |why: String| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "SASL {} login as {} to {address} (listener {}) failed: {why}",
                    login.mechanism, login.username, self.listener
                ),
            )
        };
        let mut correlation_id = 0;
        let handshake: SaslHandshakeResponse = kafka_client::call(
            stream,
            ApiKey::SaslHandshake,
            SASL_HANDSHAKE_VERSION,
            &SaslHandshakeRequest::default()
                .with_mechanism(StrBytes::from_static_str(login.mechanism.name())),
            correlation_id,
            SASL_TIMEOUT,
        )
        .await?;
        if handshake.error_code != 0 {
            let offered: Vec<&str> = handshake.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(denied(format!(
                "the listener does not offer it (it offers {})",
                offered.join(", ")
            )));
        }
        let mut client = SaslClient::new(login.mechanism, &login.username, login.password.expose());
        let mut message = client.initial().map_err(|e| denied(format!("{e:?}")))?;
        for _ in 0..MAX_SASL_ROUNDS {
            correlation_id += 1;
            let answer: SaslAuthenticateResponse = kafka_client::call(
                stream,
                ApiKey::SaslAuthenticate,
                SASL_AUTHENTICATE_VERSION,
                &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message)),
                correlation_id,
                SASL_TIMEOUT,
            )
            .await?;
            if answer.error_code != 0 {
                let why = answer
                    .error_message
                    .as_ref()
                    .map(|m| m.chars().take(300).collect::<String>())
                    .unwrap_or_else(|| format!("error code {}", answer.error_code));
                return Err(denied(why));
            }
            match client
                .evaluate(&answer.auth_bytes)
                .map_err(|e| denied(format!("{e:?}")))?
            {
                Some(next) => message = next,
                None => {
                    let lifetime = answer.session_lifetime_ms;
                    return Ok((lifetime > 0).then(|| {
                        Instant::now() + Duration::from_millis(lifetime as u64 * 85 / 100)
                    }));
                }
            }
        }
        Err(denied(
            "the server asked for more rounds than the mechanism has".into(),
        ))
    }
}

/// The host part of `host:port` (`[v6]:port` too), for the TLS server name.
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The pause after a failed connection, growing while failures repeat (a wrong password does not
/// fix itself), and reset by a success. Kafka's reconnect.backoff.ms / reconnect.backoff.max.ms.
#[derive(Debug)]
pub struct AuthBackoff {
    next: Duration,
    failures: u32,
}

impl AuthBackoff {
    pub const FIRST: Duration = Duration::from_millis(200);
    pub const MAX: Duration = Duration::from_secs(10);

    pub fn new() -> Self {
        Self {
            next: Self::FIRST,
            failures: 0,
        }
    }

    /// Records a failure; returns how long to wait and how many failures in a row this makes.
    pub fn failed(&mut self) -> (Duration, u32) {
        let wait = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        (wait, self.failures)
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn succeeded(&mut self) {
        self.next = Self::FIRST;
        self.failures = 0;
    }
}

impl Default for AuthBackoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_for_tls() {
        assert_eq!(host_of("localhost:9092"), "localhost");
        assert_eq!(host_of("127.0.0.1:9092"), "127.0.0.1");
        assert_eq!(host_of("[::1]:9092"), "::1");
    }

    #[test]
    fn backoff_grows_to_its_bound_and_resets() {
        let mut b = AuthBackoff::new();
        let waits: Vec<Duration> = (0..10).map(|_| b.failed().0).collect();
        assert_eq!(waits[0], AuthBackoff::FIRST);
        assert!(waits.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*waits.last().unwrap(), AuthBackoff::MAX);
        b.succeeded();
        assert_eq!(b.failed(), (AuthBackoff::FIRST, 1));
    }
}

//! Who is asking: the listener a connection came in on, its security protocol, and the
//! authenticated principal (`User:ANONYMOUS` until TLS client authentication or SASL says
//! otherwise), as Kafka's `KafkaPrincipal` and `RequestContext` carry them.

pub mod acl;
pub mod principal_mapping;
pub mod sasl;
pub mod x500;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::SecurityProtocol;

/// `type:name`, for example `User:alice`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KafkaPrincipal {
    pub principal_type: String,
    pub name: String,
}

impl KafkaPrincipal {
    pub fn user(name: impl Into<String>) -> Self {
        Self {
            principal_type: "User".into(),
            name: name.into(),
        }
    }

    /// Kafka's principal of an unauthenticated connection.
    pub fn anonymous() -> Self {
        Self::user("ANONYMOUS")
    }
}

impl std::fmt::Display for KafkaPrincipal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.principal_type, self.name)
    }
}

/// The listener a connection was accepted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    /// Upper-case listener name (`PLAINTEXT`, `SASL_SSL`, `EXTERNAL`…).
    pub name: String,
    pub protocol: SecurityProtocol,
}

impl ListenerInfo {
    pub fn plaintext() -> Arc<Self> {
        Arc::new(Self {
            name: "PLAINTEXT".into(),
            protocol: SecurityProtocol::Plaintext,
        })
    }
}

/// One connection's security state. The connection task owns it; requests see it read-only
/// except the SASL exchange, which authenticates it.
#[derive(Debug, Clone)]
pub struct Session {
    pub listener: Arc<ListenerInfo>,
    pub peer: SocketAddr,
    pub principal: Arc<KafkaPrincipal>,
    /// The SASL exchange of a SASL_PLAINTEXT or SASL_SSL listener; `None` on the others.
    pub sasl: Option<sasl::SaslSession>,
    /// Set by a failed authentication: the response goes out after this delay
    /// (`connection.failed.authentication.delay.ms`), then the connection closes.
    pub close_after_response: Option<Duration>,
}

impl Session {
    pub fn new(listener: Arc<ListenerInfo>, peer: SocketAddr) -> Self {
        let sasl = listener
            .protocol
            .uses_sasl()
            .then(sasl::SaslSession::default);
        Self {
            listener,
            peer,
            principal: Arc::new(KafkaPrincipal::anonymous()),
            sasl,
            close_after_response: None,
        }
    }

    /// The largest request frame this connection may send now: until SASL completes,
    /// `sasl.server.max.receive.size` also bounds it (a huge token closes the connection).
    pub fn max_request_size(&self, socket_request_max_bytes: usize, sasl_max: usize) -> usize {
        match &self.sasl {
            Some(s) if !s.is_complete() => socket_request_max_bytes.min(sasl_max),
            _ => socket_request_max_bytes,
        }
    }

    /// A PLAINTEXT connection from `peer` (tests, fuzzing).
    pub fn plaintext(peer: SocketAddr) -> Self {
        Self::new(ListenerInfo::plaintext(), peer)
    }
}

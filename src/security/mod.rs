//! Who is asking: the listener a connection came in on, its security protocol, and the
//! authenticated principal (`User:ANONYMOUS` until TLS client authentication or SASL says
//! otherwise), as Kafka's `KafkaPrincipal` and `RequestContext` carry them.

pub mod acl;

use std::net::SocketAddr;
use std::sync::Arc;

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
}

impl Session {
    pub fn new(listener: Arc<ListenerInfo>, peer: SocketAddr) -> Self {
        Self {
            listener,
            peer,
            principal: Arc::new(KafkaPrincipal::anonymous()),
        }
    }

    /// A PLAINTEXT connection from `peer` (tests, fuzzing).
    pub fn plaintext(peer: SocketAddr) -> Self {
        Self::new(ListenerInfo::plaintext(), peer)
    }
}

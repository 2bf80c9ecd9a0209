//! SASL on a connection, as Kafka's SaslServerAuthenticator runs it: the state machine of
//! SaslHandshake and SaslAuthenticate (KIP-43, KIP-152), which requests each state admits, and
//! the mechanisms PLAIN ([`plain`]) and SCRAM-SHA-256/512 ([`scram`]).
//!
//! Independent of the transport: the same state serves SASL_PLAINTEXT and SASL_SSL. The state
//! lives in the connection's [`super::Session`]; `handlers::sasl` drives it.
//!
//! States (Kafka's names): INITIAL_REQUEST admits ApiVersions or SaslHandshake;
//! HANDSHAKE_REQUEST (after ApiVersions) admits SaslHandshake; AUTHENTICATE admits
//! SaslAuthenticate (or raw tokens after SaslHandshake v0); COMPLETE admits everything, and a
//! SaslHandshake there starts re-authentication (KIP-368) when the session has a lifetime.
//! Anything else closes the connection, after the failure response and the
//! `connection.failed.authentication.delay.ms` delay where Kafka sends one.

pub mod client;
pub mod jaas;
pub mod plain;
pub mod scram;

use std::time::Instant;

use kafka_protocol::messages::ApiKey;

pub use plain::PlainUsers;
pub use scram::{ScramCredential, ScramMechanism, ScramServer};

/// Why an exchange failed; decides what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslError {
    /// Kafka's SaslAuthenticationException: the message goes to the client as it is.
    Authentication(String),
    /// Kafka's SaslException: the client gets the generic "invalid credentials" message (the
    /// detail could tell whether a user exists); the detail is only logged.
    Credentials(String),
    /// A message in the wrong state.
    IllegalState(String),
}

/// A mechanism Milena serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SaslMechanism {
    Plain,
    Scram(ScramMechanism),
}

impl SaslMechanism {
    pub const SERVED: [SaslMechanism; 3] = [
        SaslMechanism::Plain,
        SaslMechanism::Scram(ScramMechanism::Sha256),
        SaslMechanism::Scram(ScramMechanism::Sha512),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::Scram(m) => m.name(),
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::SERVED.into_iter().find(|m| m.name() == name)
    }
}

impl std::fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The server side of the mechanism being run.
#[derive(Debug, Clone)]
pub enum Exchange {
    Plain,
    /// Boxed: a SCRAM exchange in flight holds its messages and the credential.
    Scram(Box<ScramServer>),
}

impl Exchange {
    pub fn new(mechanism: SaslMechanism) -> Self {
        match mechanism {
            SaslMechanism::Plain => Exchange::Plain,
            SaslMechanism::Scram(m) => Exchange::Scram(Box::new(ScramServer::new(m))),
        }
    }
}

/// Kafka's SaslState, less the transitions that need no state of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslState {
    /// Nothing received yet: ApiVersions or SaslHandshake.
    InitialRequest,
    /// ApiVersions answered: SaslHandshake only.
    HandshakeRequest,
    /// Mechanism chosen: tokens in SaslAuthenticate requests, or raw after SaslHandshake v0.
    Authenticate {
        raw_tokens: bool,
    },
    Complete,
    Failed,
}

/// What the gate decides for a request on a SASL connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    Pass,
    /// Answer with ILLEGAL_SASL_STATE, then close (after the failure delay).
    IllegalState,
    /// Close without an answer; the reason is logged.
    Close(String),
}

/// One connection's SASL state.
#[derive(Debug, Clone)]
pub struct SaslSession {
    pub state: SaslState,
    /// The mechanism of the current (or last completed) exchange.
    pub mechanism: Option<SaslMechanism>,
    pub exchange: Option<Exchange>,
    /// Set while a COMPLETE session re-authenticates (KIP-368): its principal must not change.
    pub reauthenticating: bool,
    /// A re-authentication asked for another mechanism: the next token fails with this.
    pub bad_reauth_mechanism: Option<String>,
    /// The client sent SaslAuthenticate v1+, so it can re-authenticate.
    pub client_supports_reauthentication: bool,
    /// When the authenticated session ends (`connections.max.reauth.ms`); `None`: never.
    pub expires_at: Option<Instant>,
}

impl Default for SaslSession {
    fn default() -> Self {
        Self {
            state: SaslState::InitialRequest,
            mechanism: None,
            exchange: None,
            reauthenticating: false,
            bad_reauth_mechanism: None,
            client_supports_reauthentication: false,
            expires_at: None,
        }
    }
}

impl SaslSession {
    pub fn is_complete(&self) -> bool {
        self.state == SaslState::Complete
    }

    pub fn expects_raw_token(&self) -> bool {
        self.state == (SaslState::Authenticate { raw_tokens: true })
    }

    pub fn expired(&self, now: Instant) -> bool {
        self.is_complete() && self.expires_at.is_some_and(|at| now >= at)
    }

    /// Which requests the current state admits (SaslServerAuthenticator's checks, and KIP-368's
    /// close of an expired session).
    pub fn gate(&self, key: ApiKey, now: Instant) -> Gate {
        match self.state {
            SaslState::Complete if self.expired(now) && key != ApiKey::SaslHandshake => {
                Gate::Close("the authenticated session expired (connections.max.reauth.ms) and the client did not re-authenticate".into())
            }
            SaslState::Complete => Gate::Pass,
            SaslState::InitialRequest
                if matches!(key, ApiKey::ApiVersions | ApiKey::SaslHandshake) =>
            {
                Gate::Pass
            }
            SaslState::HandshakeRequest if key == ApiKey::SaslHandshake => Gate::Pass,
            SaslState::InitialRequest | SaslState::HandshakeRequest => Gate::Close(format!(
                "Unexpected Kafka request of type {key:?} during SASL handshake"
            )),
            SaslState::Authenticate { .. } => match key {
                ApiKey::SaslAuthenticate | ApiKey::SaslHandshake => Gate::Pass,
                ApiKey::ApiVersions => Gate::IllegalState,
                _ => Gate::Close(format!(
                    "Unexpected Kafka request of type {key:?} during SASL authentication"
                )),
            },
            SaslState::Failed => Gate::Close("SASL authentication failed".into()),
        }
    }

    /// ApiVersions was answered (not its KIP-511 retry answer): the handshake must follow.
    pub fn api_versions_answered(&mut self) {
        if self.state == SaslState::InitialRequest {
            self.state = SaslState::HandshakeRequest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_follows_kafkas_states() {
        let now = Instant::now();
        let mut s = SaslSession::default();
        assert_eq!(s.gate(ApiKey::ApiVersions, now), Gate::Pass);
        assert!(matches!(s.gate(ApiKey::Metadata, now), Gate::Close(_)));
        assert!(matches!(
            s.gate(ApiKey::SaslAuthenticate, now),
            Gate::Close(_)
        ));
        s.api_versions_answered();
        assert!(matches!(s.gate(ApiKey::ApiVersions, now), Gate::Close(_)));
        assert_eq!(s.gate(ApiKey::SaslHandshake, now), Gate::Pass);
        s.state = SaslState::Authenticate { raw_tokens: false };
        assert_eq!(s.gate(ApiKey::ApiVersions, now), Gate::IllegalState);
        assert!(matches!(s.gate(ApiKey::Produce, now), Gate::Close(_)));
        s.state = SaslState::Complete;
        assert_eq!(s.gate(ApiKey::Produce, now), Gate::Pass);
        s.expires_at = Some(now);
        assert!(matches!(s.gate(ApiKey::Produce, now), Gate::Close(_)));
        assert_eq!(s.gate(ApiKey::SaslHandshake, now), Gate::Pass);
    }
}

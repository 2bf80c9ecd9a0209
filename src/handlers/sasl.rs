//! SaslHandshake (v0–v1) and SaslAuthenticate (v0–v2): the SASL exchange that authenticates a
//! connection on a SASL listener, as Kafka's SaslServerAuthenticator runs it, and KafkaApis'
//! answers on a connection that is already authenticated (or not SASL at all).
//!
//! Unlike the other handlers these take the connection's [`Session`]: authenticating it is
//! their purpose. They still never touch the socket: a failure sets
//! `session.close_after_response`, and the connection sends the answer after
//! `connection.failed.authentication.delay.ms` and closes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiVersionsResponse, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::broker::Broker;
use crate::config::SaslListenerConfig;
use crate::protocol::errors::sasl_error;
use crate::protocol::RequestContext;
use crate::security::sasl::{plain, Exchange, SaslError, SaslMechanism, SaslState};
use crate::security::{KafkaPrincipal, Session};

fn listener_config<'a>(broker: &'a Broker, session: &Session) -> Option<&'a SaslListenerConfig> {
    broker.config.sasl.listeners.get(&session.listener.name)
}

fn mechanism_names(config: Option<&SaslListenerConfig>) -> Vec<kafka_protocol::protocol::StrBytes> {
    config
        .map(|c| {
            c.enabled_mechanisms
                .iter()
                .map(|m| str_bytes(m.name()))
                .collect()
        })
        .unwrap_or_default()
}

/// Marks the session failed: the answer is delayed, then the connection closes.
fn fail(broker: &Broker, session: &mut Session, mechanism: Option<SaslMechanism>, reason: &str) {
    if let Some(sasl) = session.sasl.as_mut() {
        sasl.state = SaslState::Failed;
        sasl.exchange = None;
    }
    session.close_after_response = Some(Duration::from_millis(
        broker.config.sasl.failed_authentication_delay_ms,
    ));
    // Never the token or a password: only what failed.
    tracing::info!(
        peer = %session.peer,
        listener = %session.listener.name,
        mechanism = mechanism.map_or("-", SaslMechanism::name),
        reason,
        "Failed authentication"
    );
}

pub fn sasl_handshake(
    ctx: &RequestContext,
    session: &mut Session,
    request: SaslHandshakeRequest,
) -> SaslHandshakeResponse {
    let broker = &ctx.broker;
    let config = listener_config(broker, session);
    let requested = request.mechanism.as_str().to_string();
    let illegal =
        SaslHandshakeResponse::default().with_error_code(ResponseError::IllegalSaslState.code());
    let Some(sasl) = session.sasl.as_mut() else {
        // Not a SASL listener: KafkaApis' answer.
        return illegal;
    };
    let mechanisms = mechanism_names(config);
    let enabled = SaslMechanism::from_name(&requested)
        .filter(|m| config.is_some_and(|c| c.enabled_mechanisms.contains(m)));
    match sasl.state {
        SaslState::Complete => {
            let can_reauthenticate = ctx.api_version >= 1
                && sasl.expires_at.is_some()
                && sasl.client_supports_reauthentication;
            if !can_reauthenticate {
                return illegal;
            }
            let Some(m) = enabled else {
                fail(
                    broker,
                    session,
                    None,
                    "unsupported mechanism for re-authentication",
                );
                return SaslHandshakeResponse::default()
                    .with_error_code(ResponseError::UnsupportedSaslMechanism.code())
                    .with_mechanisms(mechanisms);
            };
            let previous = sasl.mechanism;
            sasl.reauthenticating = true;
            sasl.bad_reauth_mechanism = (previous != Some(m)).then(|| {
                format!(
                    "SASL mechanism '{}' requested by client is not supported for re-authentication of mechanism '{}'",
                    m.name(),
                    previous.map_or("-", SaslMechanism::name)
                )
            });
            if previous == Some(m) {
                sasl.exchange = Some(Exchange::new(m));
            }
            sasl.state = SaslState::Authenticate { raw_tokens: false };
            SaslHandshakeResponse::default().with_mechanisms(mechanisms)
        }
        SaslState::InitialRequest | SaslState::HandshakeRequest => match enabled {
            Some(m) => {
                sasl.mechanism = Some(m);
                sasl.exchange = Some(Exchange::new(m));
                sasl.state = SaslState::Authenticate {
                    raw_tokens: ctx.api_version == 0,
                };
                SaslHandshakeResponse::default().with_mechanisms(mechanisms)
            }
            None => {
                fail(
                    broker,
                    session,
                    None,
                    "unsupported SASL mechanism requested",
                );
                SaslHandshakeResponse::default()
                    .with_error_code(ResponseError::UnsupportedSaslMechanism.code())
                    .with_mechanisms(mechanisms)
            }
        },
        SaslState::Authenticate { .. } | SaslState::Failed => {
            let mechanism = sasl.mechanism;
            fail(
                broker,
                session,
                mechanism,
                "Unexpected Kafka request of type SaslHandshake during SASL authentication",
            );
            illegal
        }
    }
}

/// The answer to ApiVersions in the middle of an exchange: ILLEGAL_SASL_STATE, then close.
pub fn api_versions_in_wrong_state(broker: &Broker, session: &mut Session) -> ApiVersionsResponse {
    let mechanism = session.sasl.as_ref().and_then(|s| s.mechanism);
    fail(
        broker,
        session,
        mechanism,
        "Unexpected Kafka request of type ApiVersions during SASL authentication",
    );
    ApiVersionsResponse::default().with_error_code(ResponseError::IllegalSaslState.code())
}

/// What one client token led to.
enum Step {
    Continue(Vec<u8>),
    Complete { user: String, token: Vec<u8> },
}

fn evaluate(broker: &Broker, session: &mut Session, token: &[u8]) -> Result<Step, SaslError> {
    let config = listener_config(broker, session);
    let Some(sasl) = session.sasl.as_mut() else {
        return Err(SaslError::IllegalState("not a SASL listener".into()));
    };
    if let Some(message) = sasl.bad_reauth_mechanism.take() {
        return Err(SaslError::Authentication(message));
    }
    match sasl.exchange.as_mut() {
        Some(Exchange::Plain) => {
            let users = config.map(|c| &c.plain_users);
            let user = plain::authenticate(users.unwrap_or(&Default::default()), token)?;
            Ok(Step::Complete {
                user,
                token: Vec::new(),
            })
        }
        Some(Exchange::Scram(server)) => {
            let mechanism = match sasl.mechanism {
                Some(SaslMechanism::Scram(m)) => m,
                _ => return Err(SaslError::IllegalState("no SCRAM mechanism".into())),
            };
            let image = broker.controller.image();
            match server.evaluate(token, |user| {
                image.scram_credential(user, mechanism).cloned()
            })? {
                crate::security::sasl::scram::ScramStep::Challenge(c) => Ok(Step::Continue(c)),
                crate::security::sasl::scram::ScramStep::Complete { username, message } => {
                    Ok(Step::Complete {
                        user: username,
                        token: message,
                    })
                }
            }
        }
        None => Err(SaslError::IllegalState(
            "no SASL exchange in progress".into(),
        )),
    }
}

/// Authenticates the session as `user`; the session lifetime (0: none) on success.
fn complete(broker: &Broker, session: &mut Session, user: String) -> Result<i64, SaslError> {
    let config = listener_config(broker, session);
    let principal = KafkaPrincipal::user(user);
    let Some(sasl) = session.sasl.as_mut() else {
        return Err(SaslError::IllegalState("not a SASL listener".into()));
    };
    if sasl.reauthenticating && *session.principal != principal {
        return Err(SaslError::Authentication(format!(
            "Cannot change principals during re-authentication from {}.{}: {}.{}",
            session.principal.principal_type,
            session.principal.name,
            principal.principal_type,
            principal.name
        )));
    }
    let lifetime = match (sasl.mechanism, config) {
        (Some(m), Some(c)) => c.max_reauth_ms.get(&m).copied().unwrap_or(0).max(0),
        _ => 0,
    };
    sasl.state = SaslState::Complete;
    sasl.exchange = None;
    sasl.reauthenticating = false;
    sasl.expires_at =
        (lifetime > 0).then(|| Instant::now() + Duration::from_millis(lifetime as u64));
    tracing::debug!(peer = %session.peer, %principal, lifetime_ms = lifetime, "authenticated");
    session.principal = Arc::new(principal);
    Ok(lifetime)
}

pub fn sasl_authenticate(
    ctx: &RequestContext,
    session: &mut Session,
    request: SaslAuthenticateRequest,
) -> SaslAuthenticateResponse {
    let broker = &ctx.broker;
    let in_exchange = session
        .sasl
        .as_ref()
        .is_some_and(|s| matches!(s.state, SaslState::Authenticate { raw_tokens: false }));
    if !in_exchange {
        // KafkaApis' answer on an authenticated (or non-SASL) connection; it stays open.
        return SaslAuthenticateResponse::default()
            .with_error_code(ResponseError::IllegalSaslState.code())
            .with_error_message(Some(str_bytes(
                "SaslAuthenticate request received after successful authentication",
            )));
    }
    if let Some(sasl) = session.sasl.as_mut() {
        sasl.client_supports_reauthentication |= ctx.api_version > 0;
    }
    let mechanism = session.sasl.as_ref().and_then(|s| s.mechanism);
    let outcome = evaluate(broker, session, &request.auth_bytes).and_then(|step| match step {
        Step::Continue(token) => Ok((token, 0)),
        Step::Complete { user, token } => complete(broker, session, user).map(|l| (token, l)),
    });
    match outcome {
        Ok((token, lifetime)) => {
            let mut response =
                SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(token));
            if ctx.api_version >= 1 {
                response.session_lifetime_ms = lifetime;
            }
            response
        }
        Err(e) => {
            let reauthenticating = session.sasl.as_ref().is_some_and(|s| s.reauthenticating);
            let error = sasl_error(&e, mechanism, reauthenticating);
            let detail = match &e {
                SaslError::Authentication(m)
                | SaslError::Credentials(m)
                | SaslError::IllegalState(m) => m.clone(),
            };
            fail(broker, session, mechanism, &detail);
            SaslAuthenticateResponse::default()
                .with_error_code(error.code)
                .with_error_message(error.message.map(str_bytes))
        }
    }
}

/// A raw token after SaslHandshake v0 (no SaslAuthenticate framing): the answer token, or why
/// the connection must close (Kafka sends nothing on failure in this mode).
pub fn raw_token(broker: &Broker, session: &mut Session, token: &[u8]) -> Result<Vec<u8>, String> {
    let mechanism = session.sasl.as_ref().and_then(|s| s.mechanism);
    let outcome = evaluate(broker, session, token).and_then(|step| match step {
        Step::Continue(token) => Ok(token),
        Step::Complete { user, token } => complete(broker, session, user).map(|_| token),
    });
    outcome.map_err(|e| {
        let detail = match e {
            SaslError::Authentication(m)
            | SaslError::Credentials(m)
            | SaslError::IllegalState(m) => m,
        };
        fail(broker, session, mechanism, &detail);
        format!("SASL authentication failed: {detail}")
    })
}

//! Who is asking: the login of the HTTP listener (console and `/metrics`), and the principal
//! every request then carries to the authorizer.
//!
//! A login is required when the broker has password users: a SASL listener (its PLAIN users from
//! the JAAS config, SCRAM users from the broker's credential store) or any stored SCRAM
//! credential (`kafka-configs.sh --alter --add-config 'SCRAM-SHA-256=[password=…]'`). A user
//! logs in with the name and password a Kafka client would use, checked against the same
//! stores: PLAIN users by constant-time comparison, SCRAM users by deriving the salted password
//! from the stored salt and iterations and comparing the stored key (the broker has no
//! password to compare with). The request then runs as `User:<name>`. Without password users,
//! a request runs as `User:ANONYMOUS`, as a PLAINTEXT Kafka client does, so that under an
//! authorizer the ACLs decide what an anonymous console may see and do.
//!
//! The login is HTTP Basic authentication (RFC 7617), chosen over a form and a session cookie:
//! it needs no session store and no login or logout page, and Prometheus (`basic_auth` in a
//! scrape config), curl and browsers speak it as is. Its costs: the password travels with every
//! request, so serve the listener over HTTPS (`milena.http.listener=https://…`) whenever it is
//! not bound to localhost; and a browser sends cached Basic credentials with cross-site requests
//! as it sends cookies, which is why the console refuses forms another site sent (`Origin`,
//! `Sec-Fetch-Site`, in `console`) whatever the login.
//!
//! Bounds: a SCRAM check costs one PBKDF2 of up to 16384 rounds, so checks run on blocking
//! threads, at most [`CONCURRENT_CHECKS`] at once; one that waits longer than [`CHECK_WAIT`] for
//! its turn is answered 503. A verified login is remembered for [`VERIFIED_FOR`] (at most
//! [`VERIFIED_ENTRIES`] of them), keyed by an HMAC of the name, password and stored key under a
//! key drawn at start, so a browser's many requests cost one derivation and a changed or
//! deleted credential is checked again. A failed login is answered after
//! `connection.failed.authentication.delay.ms`, as the Kafka listeners do. Passwords are never
//! logged.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use tokio::sync::Semaphore;

use super::{ClientAddr, HttpState};
use crate::broker::Broker;
use crate::security::sasl::ScramMechanism;
use crate::security::KafkaPrincipal;

/// SCRAM derivations at once (the HTTP listener shares the broker's cores).
pub const CONCURRENT_CHECKS: usize = 2;
/// Longest wait for a derivation's turn.
pub const CHECK_WAIT: Duration = Duration::from_secs(5);
/// How long a verified name and password are trusted without a new derivation.
pub const VERIFIED_FOR: Duration = Duration::from_secs(300);
/// Verified logins remembered at most.
pub const VERIFIED_ENTRIES: usize = 256;
/// Longest user name looked up (Kafka's own tools refuse nothing shorter).
const MAX_USER_BYTES: usize = 1024;

/// The realm the browser shows in its login prompt.
const CHALLENGE: &str = "Basic realm=\"Milena\", charset=\"UTF-8\"";

/// Who a request runs as, and from where: inserted by [`authenticate`] into every request.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub principal: Arc<KafkaPrincipal>,
    pub peer: SocketAddr,
    /// Whether the principal logged in (a login is required on this broker).
    pub logged_in: bool,
}

/// The login checks of the listener: the remembered verifications and the derivation slots.
pub(crate) struct Logins {
    /// HMAC key of the remembered verifications, drawn at start.
    key: [u8; 32],
    verified: Mutex<HashMap<[u8; 32], Instant>>,
    checks: Arc<Semaphore>,
}

impl Default for Logins {
    fn default() -> Self {
        Self {
            key: rand::thread_rng().gen(),
            verified: Mutex::new(HashMap::new()),
            checks: Arc::new(Semaphore::new(CONCURRENT_CHECKS)),
        }
    }
}

/// Whether the broker has password users, and so the HTTP listener asks for a login.
pub(crate) fn login_required(broker: &Broker) -> bool {
    !broker.config.sasl.listeners.is_empty() || !broker.image().scram_credentials.is_empty()
}

/// Why a login was refused.
enum Refusal {
    /// No credentials, malformed ones, or a wrong name or password: 401.
    Unauthorized,
    /// No derivation slot in time: 503.
    Busy,
}

/// The middleware in front of every route: sets the request's [`Viewer`], or answers 401 (with
/// the Basic challenge) or 503.
pub(crate) async fn authenticate(
    State(state): State<Arc<HttpState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ClientAddr>()
        .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |a| a.0);
    let viewer = if login_required(&state.broker) {
        let credentials = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| basic_credentials(v.as_bytes()));
        let Some((user, password)) = credentials else {
            return refused(Refusal::Unauthorized);
        };
        if let Err(refusal) = check(&state, &user, password.as_bytes()).await {
            if matches!(refusal, Refusal::Unauthorized) {
                tracing::info!(%peer, user = %user.escape_debug(), "HTTP login failed: wrong user name or password");
                let delay = state.broker.config.sasl.failed_authentication_delay_ms;
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            return refused(refusal);
        }
        Viewer {
            principal: Arc::new(KafkaPrincipal::user(user)),
            peer,
            logged_in: true,
        }
    } else {
        Viewer {
            principal: Arc::new(KafkaPrincipal::anonymous()),
            peer,
            logged_in: false,
        }
    };
    request.extensions_mut().insert(viewer);
    next.run(request).await
}

fn refused(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Unauthorized => {
            let mut response = (
                StatusCode::UNAUTHORIZED,
                "Log in with a SASL user of this broker (the user name and password a Kafka client uses).\n",
            )
                .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(CHALLENGE),
            );
            response
        }
        Refusal::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many logins are being checked; try again\n",
        )
            .into_response(),
    }
}

/// The user name and password of an `Authorization: Basic …` header; `None` if it is not one.
fn basic_credentials(value: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = B64.decode(token.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    if user.is_empty() || user.len() > MAX_USER_BYTES || password.is_empty() {
        return None;
    }
    Some((user.to_string(), password.to_string()))
}

/// Checks `user`'s `password` against the PLAIN users of every SASL listener, then the user's
/// stored SCRAM credentials.
async fn check(state: &HttpState, user: &str, password: &[u8]) -> Result<(), Refusal> {
    let broker = &state.broker;
    let plain = broker
        .config
        .sasl
        .listeners
        .values()
        .any(|l| l.plain_users.verify(user, password));
    if plain {
        return Ok(());
    }
    let image = broker.image();
    let Some(credentials) = image.scram_credentials.get(user) else {
        return Err(Refusal::Unauthorized);
    };
    let logins = &state.logins;
    for mechanism in ScramMechanism::ALL {
        let Some(credential) = credentials.get(&mechanism) else {
            continue;
        };
        let remembered = logins.fingerprint(user, password, mechanism, &credential.stored_key);
        if logins.remembers(&remembered) {
            return Ok(());
        }
        let turn = tokio::time::timeout(CHECK_WAIT, logins.checks.clone().acquire_owned()).await;
        let Ok(Ok(turn)) = turn else {
            return Err(Refusal::Busy);
        };
        let credential = credential.clone();
        let secret = password.to_vec();
        let verified = tokio::task::spawn_blocking(move || {
            let ok = credential.verify_password(mechanism, &secret);
            drop(turn);
            ok
        })
        .await
        .unwrap_or(false);
        if verified {
            logins.remember(remembered);
            return Ok(());
        }
    }
    Err(Refusal::Unauthorized)
}

impl Logins {
    /// The key a verification is remembered under: an HMAC, under this process's key, of what
    /// was checked (so neither the password nor a fast hash of it is kept).
    fn fingerprint(
        &self,
        user: &str,
        password: &[u8],
        mechanism: ScramMechanism,
        stored_key: &[u8],
    ) -> [u8; 32] {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return [0; 32];
        };
        for part in [
            user.as_bytes(),
            password,
            mechanism.name().as_bytes(),
            stored_key,
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    fn remembers(&self, fingerprint: &[u8; 32]) -> bool {
        let Ok(verified) = self.verified.lock() else {
            return false;
        };
        verified
            .get(fingerprint)
            .is_some_and(|at| at.elapsed() < VERIFIED_FOR)
    }

    fn remember(&self, fingerprint: [u8; 32]) {
        let Ok(mut verified) = self.verified.lock() else {
            return;
        };
        if verified.len() >= VERIFIED_ENTRIES {
            verified.retain(|_, at| at.elapsed() < VERIFIED_FOR);
            if verified.len() >= VERIFIED_ENTRIES {
                verified.clear();
            }
        }
        verified.insert(fingerprint, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user_password: &str) -> Vec<u8> {
        format!("Basic {}", B64.encode(user_password)).into_bytes()
    }

    #[test]
    fn basic_credentials_parse_and_malformed_ones_do_not() {
        assert_eq!(
            basic_credentials(&header("alice:pa:ss")),
            Some(("alice".into(), "pa:ss".into()))
        );
        assert_eq!(
            basic_credentials(b"basic YWxpY2U6cHc="),
            Some(("alice".into(), "pw".into()))
        );
        for bad in [
            b"Bearer abc".to_vec(),
            b"Basic".to_vec(),
            b"Basic !!!".to_vec(),
            header("no-colon"),
            header(":pw"),
            header("alice:"),
            b"Basic \xff\xfe".to_vec(),
        ] {
            assert_eq!(basic_credentials(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn remembered_logins_are_keyed_by_everything_checked_and_bounded() {
        let logins = Logins::default();
        let m = ScramMechanism::Sha256;
        let f = logins.fingerprint("alice", b"pw", m, b"key");
        assert!(!logins.remembers(&f));
        logins.remember(f);
        assert!(logins.remembers(&f));
        assert!(!logins.remembers(&logins.fingerprint("alice", b"pw2", m, b"key")));
        assert!(!logins.remembers(&logins.fingerprint("alice", b"pw", m, b"key2")));
        // "al" + "ice…" must not collide with "alice" + "…".
        assert_ne!(f, logins.fingerprint("al", b"icepw", m, b"key"));
        for i in 0..(VERIFIED_ENTRIES * 2) {
            logins.remember(logins.fingerprint(&i.to_string(), b"pw", m, b"key"));
        }
        assert!(logins.verified.lock().unwrap().len() <= VERIFIED_ENTRIES);
    }
}

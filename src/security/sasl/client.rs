//! The client side of SASL PLAIN and SCRAM-SHA-256/512, as a broker logs in to another broker
//! (Kafka's SaslClientAuthenticator with PlainSaslClient / ScramSaslClient). Transport-free: the
//! caller carries the messages in SaslAuthenticate requests.
//!
//! - PLAIN (RFC 4616): one message, `\0username\0password`; the server's empty answer ends it.
//! - SCRAM (RFC 5802, RFC 7677): client-first `n,,n=user,r=cnonce`; the server-first message
//!   must extend our nonce and carry a salt and an iteration count within Kafka's bounds (at
//!   least 4096, and at most [`MAX_ITERATIONS`] so a hostile server cannot make us spin); the
//!   client-final message proves the password; the server-final signature is checked in
//!   constant time, so a server that does not know the credential is not trusted either.
//!
//! The primitives are the server side's ([`super::scram`]). Nothing here logs or formats the
//! password; errors name what was wrong with the server's message, never a secret.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::scram::{printable_nonce, server_nonce, MAX_ITERATIONS, MIN_ITERATIONS};
use super::{SaslError, SaslMechanism, ScramMechanism};

/// One login's client side.
pub struct SaslClient {
    state: State,
}

impl std::fmt::Debug for SaslClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaslClient")
    }
}

enum State {
    /// PLAIN: the single message, until sent.
    Plain {
        message: Vec<u8>,
    },
    /// PLAIN: sent; the next answer ends the exchange.
    PlainSent,
    ScramFirst {
        mechanism: ScramMechanism,
        username: String,
        password: String,
        nonce: String,
    },
    ScramFirstSent {
        mechanism: ScramMechanism,
        password: String,
        client_first_bare: String,
        nonce: String,
    },
    ScramFinalSent {
        mechanism: ScramMechanism,
        server_signature: Vec<u8>,
    },
    Done,
}

fn bad(what: &str) -> SaslError {
    SaslError::Authentication(format!("invalid SCRAM {what} from the server"))
}

/// A `saslname` of RFC 5802: ',' and '=' are written `=2C` and `=3D`.
fn encode_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

impl SaslClient {
    pub fn new(mechanism: SaslMechanism, username: &str, password: &str) -> Self {
        let state = match mechanism {
            SaslMechanism::Plain => {
                let mut message = Vec::with_capacity(2 + username.len() + password.len());
                message.push(0);
                message.extend_from_slice(username.as_bytes());
                message.push(0);
                message.extend_from_slice(password.as_bytes());
                State::Plain { message }
            }
            SaslMechanism::Scram(mechanism) => State::ScramFirst {
                mechanism,
                username: username.to_string(),
                password: password.to_string(),
                nonce: server_nonce(),
            },
        };
        Self { state }
    }

    /// The first message to send.
    pub fn initial(&mut self) -> Result<Vec<u8>, SaslError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Plain { message } => {
                self.state = State::PlainSent;
                Ok(message)
            }
            State::ScramFirst {
                mechanism,
                username,
                password,
                nonce,
            } => {
                let client_first_bare = format!("n={},r={nonce}", encode_saslname(&username));
                let message = format!("n,,{client_first_bare}").into_bytes();
                self.state = State::ScramFirstSent {
                    mechanism,
                    password,
                    client_first_bare,
                    nonce,
                };
                Ok(message)
            }
            _ => Err(SaslError::IllegalState(
                "the first SASL message was already sent".into(),
            )),
        }
    }

    /// Takes the server's answer to our last message: `Some(next message)`, or `None` when the
    /// exchange is complete and the server proved itself (SCRAM).
    pub fn evaluate(&mut self, challenge: &[u8]) -> Result<Option<Vec<u8>>, SaslError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::PlainSent => Ok(None),
            State::ScramFirstSent {
                mechanism,
                password,
                client_first_bare,
                nonce,
            } => {
                let server_first = std::str::from_utf8(challenge)
                    .map_err(|_| bad("server-first message (not UTF-8)"))?;
                let (message, server_signature) = client_final(
                    mechanism,
                    &password,
                    &client_first_bare,
                    &nonce,
                    server_first,
                )?;
                self.state = State::ScramFinalSent {
                    mechanism,
                    server_signature,
                };
                Ok(Some(message))
            }
            State::ScramFinalSent {
                mechanism,
                server_signature,
            } => {
                let text = std::str::from_utf8(challenge)
                    .map_err(|_| bad("server-final message (not UTF-8)"))?;
                if let Some(error) = text.strip_prefix("e=") {
                    return Err(SaslError::Authentication(format!(
                        "{} refused: {}",
                        mechanism.name(),
                        error.chars().take(200).collect::<String>()
                    )));
                }
                let verifier = text
                    .strip_prefix("v=")
                    .and_then(|v| B64.decode(v.split(',').next().unwrap_or("")).ok())
                    .ok_or_else(|| bad("server-final message"))?;
                if !bool::from(verifier.ct_eq(&server_signature)) {
                    return Err(SaslError::Authentication(
                        "the server's SCRAM signature is wrong: it does not know this credential"
                            .into(),
                    ));
                }
                Ok(None)
            }
            State::Done | State::Plain { .. } | State::ScramFirst { .. } => Err(
                SaslError::IllegalState("a SASL answer came in the wrong state".into()),
            ),
        }
    }
}

/// The client-final message for `server_first`, and the server signature to expect.
fn client_final(
    m: ScramMechanism,
    password: &str,
    client_first_bare: &str,
    client_nonce: &str,
    server_first: &str,
) -> Result<(Vec<u8>, Vec<u8>), SaslError> {
    if server_first.starts_with("m=") {
        return Err(bad("server-first message (mandatory extension)"));
    }
    let mut fields = server_first.split(',');
    let nonce = fields
        .next()
        .and_then(|f| f.strip_prefix("r="))
        .filter(|n| n.len() > client_nonce.len() && n.starts_with(client_nonce))
        .filter(|n| printable_nonce(n))
        .ok_or_else(|| bad("server-first message (nonce)"))?;
    let salt = fields
        .next()
        .and_then(|f| f.strip_prefix("s="))
        .and_then(|s| B64.decode(s).ok())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("server-first message (salt)"))?;
    let iterations = fields
        .next()
        .and_then(|f| f.strip_prefix("i="))
        .and_then(|i| i.parse::<i32>().ok())
        .ok_or_else(|| bad("server-first message (iterations)"))?;
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        return Err(SaslError::Authentication(format!(
            "the server asks for {iterations} {} iterations; Milena accepts {MIN_ITERATIONS} to {MAX_ITERATIONS}",
            m.name()
        )));
    }
    let salted = m.salted_password(password.as_bytes(), &salt, iterations as u32);
    let client_key = m.hmac(&salted, b"Client Key");
    let stored_key = m.hash(&client_key);
    // c=biws is base64 of the gs2 header "n,,": no channel binding, no authzid.
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = m.hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let server_key = m.hmac(&salted, b"Server Key");
    let server_signature = m.hmac(&server_key, auth_message.as_bytes());
    Ok((
        format!("{without_proof},p={}", B64.encode(proof)).into_bytes(),
        server_signature,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::scram::{ScramCredential, ScramServer, ScramStep};
    use super::*;

    /// Runs our client against the broker's own SCRAM server.
    fn login(m: ScramMechanism, stored: &ScramCredential, password: &str) -> Result<(), SaslError> {
        let mut client = SaslClient::new(SaslMechanism::Scram(m), "bro,ker=1", password);
        let mut server = ScramServer::new(m);
        let first = client.initial()?;
        let ScramStep::Challenge(challenge) =
            server.evaluate(&first, |u| (u == "bro,ker=1").then(|| stored.clone()))?
        else {
            panic!("expected a challenge")
        };
        let last = client.evaluate(&challenge)?.expect("client-final");
        match server.evaluate(&last, |_| None)? {
            ScramStep::Complete { username, message } => {
                assert_eq!(username, "bro,ker=1");
                assert_eq!(client.evaluate(&message)?, None);
                Ok(())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scram_client_logs_in_to_the_scram_server() {
        for m in ScramMechanism::ALL {
            let stored = ScramCredential::new(m, "broker-secret", 4096);
            login(m, &stored, "broker-secret").unwrap();
            let err = login(m, &stored, "wrong").unwrap_err();
            assert!(!format!("{err:?}").contains("wrong"), "{err:?}");
        }
    }

    #[test]
    fn plain_sends_one_message() {
        let mut c = SaslClient::new(SaslMechanism::Plain, "broker", "pw");
        assert_eq!(c.initial().unwrap(), b"\0broker\0pw");
        assert_eq!(c.evaluate(b"").unwrap(), None);
        assert!(c.evaluate(b"").is_err());
    }

    #[test]
    fn hostile_server_messages_fail_without_panicking() {
        for challenge in [
            &b"r=other,s=c2FsdA==,i=4096"[..],
            b"r=",
            b"",
            b"\xff\xfe",
            b"m=ext,r=x",
            b"r=NONCEx,s=,i=4096",
            b"r=NONCEx,s=c2FsdA==,i=100000000",
            b"r=NONCEx,s=c2FsdA==,i=12",
        ] {
            let mut c = SaslClient::new(
                SaslMechanism::Scram(ScramMechanism::Sha256),
                "broker",
                "broker-secret",
            );
            let first = String::from_utf8(c.initial().unwrap()).unwrap();
            let nonce = first.rsplit("r=").next().unwrap().to_string();
            let challenge = String::from_utf8_lossy(challenge).replace("NONCE", &nonce);
            assert!(c.evaluate(challenge.as_bytes()).is_err(), "{challenge}");
        }
    }
}

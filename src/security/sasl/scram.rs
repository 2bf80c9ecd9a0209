//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka's ScramSaslServer serves them:
//! client-first (`n,,n=user,r=cnonce`), server-first (`r=cnonce+snonce,s=salt,i=iterations`),
//! client-final (`c=biws,r=nonce,p=proof`), server-final (`v=signature`). The broker keeps only
//! the salt, stored key, server key and iteration count of a credential (Kafka's
//! UserScramCredentialRecord), never the password. Primitives are RustCrypto's.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::SaslError;

/// Kafka's ScramMechanism, with its wire type (AlterUserScramCredentials, the metadata record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

/// Kafka's bounds on a credential's iteration count (ScramMechanism.minIterations and
/// ScramControlManager's MAX_ITERATIONS).
pub const MIN_ITERATIONS: i32 = 4096;
pub const MAX_ITERATIONS: i32 = 16384;

impl ScramMechanism {
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SCRAM-SHA-256",
            Self::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The wire type: 1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512 (0 is Kafka's UNKNOWN).
    pub fn wire_type(self) -> i8 {
        match self {
            Self::Sha256 => 1,
            Self::Sha512 => 2,
        }
    }

    pub fn from_wire_type(t: i8) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.wire_type() == t)
    }

    pub(crate) fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    pub(crate) fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length; new_from_slice cannot fail.
        match self {
            Self::Sha256 => match Hmac::<Sha256>::new_from_slice(key) {
                Ok(mut mac) => {
                    mac.update(data);
                    mac.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
            Self::Sha512 => match Hmac::<Sha512>::new_from_slice(key) {
                Ok(mut mac) => {
                    mac.update(data);
                    mac.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
        }
    }

    /// Hi() of RFC 5802: PBKDF2 with HMAC of this mechanism's hash.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Self::Sha256 => {
                pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec()
            }
            Self::Sha512 => {
                pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password, salt, iterations).to_vec()
            }
        }
    }
}

/// What the broker stores of a SCRAM credential.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    #[serde(with = "base64_bytes")]
    pub salt: Vec<u8>,
    #[serde(with = "base64_bytes")]
    pub stored_key: Vec<u8>,
    #[serde(with = "base64_bytes")]
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ScramCredential(iterations={}, keys hidden)",
            self.iterations
        )
    }
}

impl ScramCredential {
    /// The stored credential of a salted password (what AlterUserScramCredentials carries):
    /// StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword,
    /// "Server Key").
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salt: &[u8],
        salted_password: &[u8],
        iterations: i32,
    ) -> Self {
        let client_key = mechanism.hmac(salted_password, b"Client Key");
        Self {
            salt: salt.to_vec(),
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, b"Server Key"),
            iterations,
        }
    }

    /// Whether `password` is the one this credential was made from: SaltedPassword from the
    /// stored salt and iterations, then StoredKey compared in constant time. For logins that
    /// carry the password itself (the web console's); costs one PBKDF2, up to
    /// [`MAX_ITERATIONS`] rounds. A credential outside Kafka's iteration bounds never verifies.
    pub fn verify_password(&self, mechanism: ScramMechanism, password: &[u8]) -> bool {
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&self.iterations) {
            return false;
        }
        let salted = mechanism.salted_password(password, &self.salt, self.iterations as u32);
        let stored_key = mechanism.hash(&mechanism.hmac(&salted, b"Client Key"));
        stored_key.ct_eq(&self.stored_key).into()
    }

    /// A credential for `password` with a fresh random salt (tests and tools).
    pub fn new(mechanism: ScramMechanism, password: &str, iterations: i32) -> Self {
        let salt: [u8; 16] = rand::thread_rng().gen();
        let salted =
            mechanism.salted_password(password.as_bytes(), &salt, iterations.max(1) as u32);
        Self::from_salted_password(mechanism, &salt, &salted, iterations)
    }
}

mod base64_bytes {
    use super::{Engine, B64};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        B64.decode(text).map_err(serde::de::Error::custom)
    }
}

/// Where the exchange stands.
#[derive(Clone)]
enum State {
    ReceiveClientFirst,
    ReceiveClientFinal {
        username: String,
        gs2_header: String,
        client_first_bare: String,
        server_first: String,
        nonce: String,
        credential: ScramCredential,
    },
    Done,
}

/// One server side of a SCRAM exchange.
#[derive(Clone)]
pub struct ScramServer {
    mechanism: ScramMechanism,
    state: State,
}

impl std::fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScramServer({})", self.mechanism.name())
    }
}

/// The next step of an exchange.
#[derive(Debug)]
pub enum ScramStep {
    /// Send this challenge and wait for the client's next message.
    Challenge(Vec<u8>),
    /// Authenticated as this user; send the final message.
    Complete { username: String, message: Vec<u8> },
}

fn invalid(what: &str) -> SaslError {
    SaslError::Credentials(format!("Invalid SCRAM {what} format"))
}

/// A `saslname` of RFC 5802: `=2C` and `=3D` stand for ',' and '='; no other '='.
fn decode_saslname(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return None,
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

pub(crate) fn printable_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// A nonce: 32 random alphanumeric characters (the server's, and the client's in `client`).
pub(crate) fn server_nonce() -> String {
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

impl ScramServer {
    pub fn new(mechanism: ScramMechanism) -> Self {
        Self {
            mechanism,
            state: State::ReceiveClientFirst,
        }
    }

    /// Evaluates the client's next message. `lookup` finds a user's credential for this
    /// mechanism. Any error ends the exchange.
    pub fn evaluate(
        &mut self,
        message: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> Result<ScramStep, SaslError> {
        let state = std::mem::replace(&mut self.state, State::Done);
        let text = std::str::from_utf8(message).map_err(|_| invalid("message (not UTF-8)"))?;
        match state {
            State::ReceiveClientFirst => self.client_first(text, lookup),
            State::ReceiveClientFinal {
                username,
                gs2_header,
                client_first_bare,
                server_first,
                nonce,
                credential,
            } => {
                let final_message = self.client_final(
                    text,
                    &gs2_header,
                    &client_first_bare,
                    &server_first,
                    &nonce,
                    &credential,
                )?;
                Ok(ScramStep::Complete {
                    username,
                    message: final_message,
                })
            }
            State::Done => Err(SaslError::IllegalState(format!(
                "Unexpected challenge in Sasl server state {}",
                "COMPLETE"
            ))),
        }
    }

    fn client_first(
        &mut self,
        text: &str,
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
    ) -> Result<ScramStep, SaslError> {
        // gs2-header: "n," then an optional "a=authzid", then ",". Channel binding is not
        // supported ("y" or "p=" are refused, as Kafka's pattern refuses them).
        let rest = text
            .strip_prefix("n,")
            .ok_or_else(|| invalid("client first message"))?;
        let (authzid, bare) = rest
            .split_once(',')
            .ok_or_else(|| invalid("client first message"))?;
        let authzid = match authzid {
            "" => String::new(),
            a => a
                .strip_prefix("a=")
                .and_then(decode_saslname)
                .ok_or_else(|| invalid("client first message"))?,
        };
        let gs2_header = text[..text.len() - bare.len()].to_string();
        let mut fields = bare.split(',');
        let saslname = fields
            .next()
            .and_then(|f| f.strip_prefix("n="))
            .ok_or_else(|| invalid("client first message"))?;
        let client_nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .filter(|n| printable_nonce(n))
            .ok_or_else(|| invalid("client first message"))?;
        // Extensions (k=v); Kafka knows only tokenauth, which Milena does not serve.
        for ext in fields {
            let ok = ext.len() > 2
                && ext.as_bytes()[0].is_ascii_alphabetic()
                && ext.as_bytes()[1] == b'=';
            if !ok {
                return Err(invalid("client first message"));
            }
        }
        let username = decode_saslname(saslname)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| invalid("client first message"))?;
        let credential = lookup(&username).ok_or_else(|| {
            SaslError::Credentials("Authentication failed: Invalid user credentials".into())
        })?;
        if !authzid.is_empty() && authzid != username {
            return Err(SaslError::Authentication(
                "Authentication failed: Client requested an authorization id that is different from username".into(),
            ));
        }
        if credential.iterations < MIN_ITERATIONS {
            return Err(SaslError::Credentials(format!(
                "Iterations {} is less than the minimum {} for {}",
                credential.iterations,
                MIN_ITERATIONS,
                self.mechanism.name()
            )));
        }
        let nonce = format!("{client_nonce}{}", server_nonce());
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credential.salt),
            credential.iterations
        );
        let challenge = server_first.clone().into_bytes();
        self.state = State::ReceiveClientFinal {
            username,
            gs2_header,
            client_first_bare: bare.to_string(),
            server_first,
            nonce,
            credential,
        };
        Ok(ScramStep::Challenge(challenge))
    }

    fn client_final(
        &self,
        text: &str,
        gs2_header: &str,
        client_first_bare: &str,
        server_first: &str,
        nonce: &str,
        credential: &ScramCredential,
    ) -> Result<Vec<u8>, SaslError> {
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or_else(|| invalid("client final message"))?;
        let mut fields = without_proof.split(',');
        let channel_binding = fields
            .next()
            .and_then(|f| f.strip_prefix("c="))
            .and_then(|c| B64.decode(c).ok())
            .ok_or_else(|| invalid("client final message"))?;
        let final_nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .ok_or_else(|| invalid("client final message"))?;
        if channel_binding != gs2_header.as_bytes() {
            return Err(SaslError::Credentials(
                "Invalid channel binding in the final client message.".into(),
            ));
        }
        if final_nonce != nonce {
            return Err(SaslError::Credentials(
                "Invalid client nonce in the final client message.".into(),
            ));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| invalid("client final message"))?;
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let m = self.mechanism;
        let client_signature = m.hmac(&credential.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(SaslError::Credentials("Invalid client credentials".into()));
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let computed = m.hash(&client_key);
        if !bool::from(computed.ct_eq(&credential.stored_key)) {
            return Err(SaslError::Credentials("Invalid client credentials".into()));
        }
        let server_signature = m.hmac(&credential.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client side written from RFC 5802, to drive the server.
    fn client_final(
        m: ScramMechanism,
        password: &str,
        client_first_bare: &str,
        server_first: &str,
    ) -> (String, Vec<u8>) {
        let fields: Vec<&str> = server_first.split(',').collect();
        let nonce = fields[0].strip_prefix("r=").unwrap();
        let salt = B64.decode(fields[1].strip_prefix("s=").unwrap()).unwrap();
        let iterations: u32 = fields[2].strip_prefix("i=").unwrap().parse().unwrap();
        let salted = m.salted_password(password.as_bytes(), &salt, iterations);
        let client_key = m.hmac(&salted, b"Client Key");
        let stored_key = m.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{client_first_bare},{server_first},{without_proof}");
        let sig = m.hmac(&stored_key, auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        let server_key = m.hmac(&salted, b"Server Key");
        (
            format!("{without_proof},p={}", B64.encode(proof)),
            m.hmac(&server_key, auth.as_bytes()),
        )
    }

    fn exchange(
        m: ScramMechanism,
        stored: &ScramCredential,
        user: &str,
        password: &str,
    ) -> Result<String, SaslError> {
        let mut server = ScramServer::new(m);
        let bare = format!("n={user},r=fyko+d2lbbFgONRv9qkxdawL");
        let ScramStep::Challenge(first) = server
            .evaluate(format!("n,,{bare}").as_bytes(), |u| {
                (u == "alice").then(|| stored.clone())
            })?
        else {
            panic!("expected a challenge")
        };
        let first = String::from_utf8(first).unwrap();
        assert!(first.starts_with("r=fyko+d2lbbFgONRv9qkxdawL"));
        let (final_msg, expected_sig) = client_final(m, password, &bare, &first);
        match server.evaluate(final_msg.as_bytes(), |_| None)? {
            ScramStep::Complete { username, message } => {
                assert_eq!(
                    message,
                    format!("v={}", B64.encode(expected_sig)).into_bytes()
                );
                Ok(username)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn both_mechanisms_authenticate_the_right_password_only() {
        for m in ScramMechanism::ALL {
            let stored = ScramCredential::new(m, "alice-secret", 4096);
            assert_eq!(
                exchange(m, &stored, "alice", "alice-secret").unwrap(),
                "alice"
            );
            assert!(matches!(
                exchange(m, &stored, "alice", "wrong"),
                Err(SaslError::Credentials(_))
            ));
            assert!(matches!(
                exchange(m, &stored, "bob", "alice-secret"),
                Err(SaslError::Credentials(_))
            ));
        }
    }

    /// RFC 7677's SCRAM-SHA-256 example: the stored keys derived from its password verify its
    /// client proof.
    #[test]
    fn a_password_verifies_against_its_stored_credential_only() {
        for mechanism in ScramMechanism::ALL {
            let credential = ScramCredential::new(mechanism, "pencil", 4096);
            assert!(credential.verify_password(mechanism, b"pencil"));
            assert!(!credential.verify_password(mechanism, b"pencil "));
            assert!(!credential.verify_password(mechanism, b""));
        }
        let weak = ScramCredential::new(ScramMechanism::Sha256, "pencil", 1);
        assert!(!weak.verify_password(ScramMechanism::Sha256, b"pencil"));
    }

    #[test]
    fn rfc7677_example_verifies() {
        let m = ScramMechanism::Sha256;
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = m.salted_password(b"pencil", &salt, 4096);
        let stored = ScramCredential::from_salted_password(m, &salt, &salted, 4096);
        let bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server_first =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let mut server = ScramServer {
            mechanism: m,
            state: State::ReceiveClientFinal {
                username: "user".into(),
                gs2_header: "n,,".into(),
                client_first_bare: bare.into(),
                server_first: server_first.into(),
                nonce: "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into(),
                credential: stored,
            },
        };
        let step = server
            .evaluate(
                b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                |_| None,
            )
            .unwrap();
        let ScramStep::Complete { message, .. } = step else {
            panic!()
        };
        assert_eq!(
            message,
            b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec()
        );
    }

    #[test]
    fn malformed_messages_fail_without_panicking() {
        let stored = ScramCredential::new(ScramMechanism::Sha512, "x", 4096);
        for bad in [
            &b""[..],
            b"n,,",
            b"y,,n=alice,r=abc",
            b"p=tls-unique,,n=alice,r=abc",
            b"n,,n=al=ice,r=abc",
            b"n,,n=alice",
            b"n,,n=alice,r=",
            b"n,,n=,r=abc",
            b"n,x,n=alice,r=abc",
            b"\xff\xfe",
        ] {
            let mut s = ScramServer::new(ScramMechanism::Sha512);
            assert!(
                s.evaluate(bad, |_| Some(stored.clone())).is_err(),
                "{bad:?}"
            );
        }
        let mut s = ScramServer::new(ScramMechanism::Sha512);
        s.evaluate(b"n,,n=alice,r=abc", |_| Some(stored.clone()))
            .unwrap();
        assert!(s.evaluate(b"c=biws,r=abc,p=AAAA", |_| None).is_err());
        assert!(s.evaluate(b"again", |_| None).is_err());
        assert_eq!(decode_saslname("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
    }
}

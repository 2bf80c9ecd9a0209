//! SASL/PLAIN (RFC 4616) as Kafka's PlainSaslServer serves it: one client message
//! `authzid NUL authcid NUL password`, checked against the `user_<name>="<password>"` options of
//! the listener's PlainLoginModule. Its failure messages are Kafka's; they reach the client.

use std::collections::BTreeMap;

use subtle::ConstantTimeEq;

use super::SaslError;

/// The PLAIN users of a listener: name → password. Never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PlainUsers(BTreeMap<String, String>);

impl std::fmt::Debug for PlainUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PlainUsers({} users)", self.0.len())
    }
}

impl PlainUsers {
    /// The users of a PlainLoginModule's options (`user_<name>`).
    pub fn from_options(options: &BTreeMap<String, String>) -> Self {
        Self(
            options
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("user_")?.to_string(), v.clone())))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `password` is `user`'s, in time that does not depend on where they differ.
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        match self.0.get(user) {
            Some(expected) => expected.as_bytes().ct_eq(password).into(),
            None => {
                // Same work for an unknown user, so that timing does not tell users apart.
                let _ = b"unknown-user-placeholder".ct_eq(password);
                false
            }
        }
    }
}

/// Checks a client's PLAIN message; the authenticated user name on success.
pub fn authenticate(users: &PlainUsers, token: &[u8]) -> Result<String, SaslError> {
    let parts: Vec<&[u8]> = token.split(|b| *b == 0).collect();
    if parts.len() != 3 {
        return Err(SaslError::Authentication(format!(
            "Invalid SASL/PLAIN response: expected 3 tokens, got {}",
            parts.len()
        )));
    }
    let text = |b: &[u8]| {
        String::from_utf8(b.to_vec())
            .map_err(|_| SaslError::Authentication("Invalid SASL/PLAIN response: not UTF-8".into()))
    };
    let authorization_id = text(parts[0])?;
    let username = text(parts[1])?;
    let password = parts[2];
    if username.is_empty() {
        return Err(SaslError::Authentication(
            "Authentication failed: username not specified".into(),
        ));
    }
    if password.is_empty() {
        return Err(SaslError::Authentication(
            "Authentication failed: password not specified".into(),
        ));
    }
    if !users.verify(&username, password) {
        return Err(SaslError::Authentication(
            "Authentication failed: Invalid username or password".into(),
        ));
    }
    if !authorization_id.is_empty() && authorization_id != username {
        return Err(SaslError::Authentication(
            "Authentication failed: Client requested an authorization id that is different from username".into(),
        ));
    }
    Ok(username)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> PlainUsers {
        let mut o = BTreeMap::new();
        o.insert("username".into(), "admin".into());
        o.insert("user_alice".into(), "alice-secret".into());
        PlainUsers::from_options(&o)
    }

    #[test]
    fn accepts_the_right_password_only() {
        let u = users();
        assert_eq!(authenticate(&u, b"\0alice\0alice-secret").unwrap(), "alice");
        assert_eq!(
            authenticate(&u, b"alice\0alice\0alice-secret").unwrap(),
            "alice"
        );
        let msg = |t: &[u8]| match authenticate(&u, t) {
            Err(SaslError::Authentication(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            msg(b"\0alice\0wrong"),
            "Authentication failed: Invalid username or password"
        );
        assert_eq!(
            msg(b"\0admin\0admin"),
            "Authentication failed: Invalid username or password"
        );
        assert!(msg(b"\0alice").contains("expected 3 tokens, got 2"));
        assert!(msg(b"\0\0x").contains("username not specified"));
        assert!(msg(b"\0alice\0").contains("password not specified"));
        assert!(msg(b"bob\0alice\0alice-secret").contains("authorization id"));
        assert!(!format!("{u:?}").contains("secret"));
    }
}

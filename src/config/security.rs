//! Security protocols of listeners (`listener.security.protocol.map`) and the fail-closed rule
//! for security keys: a key that asks for protection Milena cannot give stops start-up with a
//! message naming it, so that an operator who configured security never runs without it.

use std::collections::BTreeMap;

use super::listener::Listener;
use super::ConfigError;

/// Kafka's security protocols, as named in `listener.security.protocol.map`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Self::Plaintext,
            "SSL" => Self::Ssl,
            "SASL_PLAINTEXT" => Self::SaslPlaintext,
            "SASL_SSL" => Self::SaslSsl,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    /// Kafka's wire id (BrokerRegistration endpoints, DescribeCluster).
    pub fn id(self) -> i16 {
        match self {
            Self::Plaintext => 0,
            Self::Ssl => 1,
            Self::SaslPlaintext => 2,
            Self::SaslSsl => 3,
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

impl std::fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const MAP_KEY: &str = "listener.security.protocol.map";

/// Parses `NAME:PROTOCOL,...` (names upper-cased, as listener names are).
pub fn parse_protocol_map(text: &str) -> Result<BTreeMap<String, SecurityProtocol>, ConfigError> {
    let mut map = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = |why: String| ConfigError::invalid(MAP_KEY, text, why);
        let (name, protocol) = item
            .split_once(':')
            .ok_or_else(|| bad(format!("'{item}' is not NAME:PROTOCOL")))?;
        let protocol = SecurityProtocol::parse(protocol).ok_or_else(|| {
            bad(format!(
                "'{}' is not a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)",
                protocol.trim()
            ))
        })?;
        if map
            .insert(name.trim().to_ascii_uppercase(), protocol)
            .is_some()
        {
            return Err(bad(format!("listener {} is mapped twice", name.trim())));
        }
    }
    Ok(map)
}

/// Gives every listener its security protocol. As in Kafka, a listener missing from the map is
/// an error, except a controller listener while the map is Kafka's default (it is PLAINTEXT).
pub fn resolve_protocols(
    listeners: &mut [Listener],
    map_text: Option<&str>,
    controller_names: &[String],
) -> Result<(), ConfigError> {
    let explicit = map_text.is_some();
    let text = map_text.unwrap_or(DEFAULT_MAP);
    let map = parse_protocol_map(text)?;
    for l in listeners {
        l.protocol = match map.get(&l.name) {
            Some(p) => *p,
            None if !explicit && controller_names.contains(&l.name) => SecurityProtocol::Plaintext,
            None => {
                return Err(ConfigError::invalid(
                    MAP_KEY,
                    text,
                    format!(
                        "no security protocol is defined for the listener {}",
                        l.name
                    ),
                ))
            }
        };
    }
    Ok(())
}

pub const DEFAULT_MAP: &str =
    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

/// Security keys (exact names, or prefixes ending in '.') that Milena cannot honour yet. Setting
/// one stops start-up: running without the protection they ask for would be silent and unsafe.
/// The `ssl.*` keys of [`super::ssl::HONOURED`] (broker-wide or per listener) and the SASL keys
/// Milena serves (`super::sasl::is_honoured`) are exempt.
const NOT_HONOURED: &[&str] = &[
    "ssl.",
    "sasl.",
    "listener.name.",
    "principal.builder.class",
    "delegation.token.",
    "security.providers",
];

/// Whether `authorizer.class.name` turns authorization on. Kafka's StandardAuthorizer (and the
/// ZooKeeper-era AclAuthorizer, whose decisions it kept) is what Milena implements; any other
/// class is custom code Milena cannot run, so it stops start-up rather than run without it.
pub fn authorizer_enabled(class: Option<&str>) -> Result<bool, ConfigError> {
    use crate::security::acl::authorizer::{LEGACY_ACL_AUTHORIZER, STANDARD_AUTHORIZER};
    match class.map(str::trim) {
        None | Some("") => Ok(false),
        Some(STANDARD_AUTHORIZER | LEGACY_ACL_AUTHORIZER) => Ok(true),
        Some(other) => Err(ConfigError::invalid(
            "authorizer.class.name",
            other,
            format!("Milena implements only {STANDARD_AUTHORIZER} and will not run without the authorizer asked for"),
        )),
    }
}

/// Refuses the first key of `raw` that asks for security Milena cannot give.
pub fn check_honoured(raw: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for key in raw
        .keys()
        .filter(|k| !super::ssl::is_honoured(k) && !super::sasl::is_honoured(k))
    {
        let matched = NOT_HONOURED.iter().any(|k| {
            if k.ends_with('.') {
                key.starts_with(k)
            } else {
                key == k
            }
        });
        if matched {
            return Err(ConfigError::invalid(
                key,
                &raw[key],
                "Milena does not implement this security setting yet and will not run without it",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_listeners;

    #[test]
    fn map_resolves_listeners_and_refuses_unknown_names() {
        let mut ls = parse_listeners(
            "listeners",
            "PLAINTEXT://:9092,SASL_SSL://:9093,CONTROLLER://:9094",
        )
        .unwrap();
        resolve_protocols(&mut ls, None, &["CONTROLLER".into()]).unwrap();
        assert_eq!(ls[1].protocol, SecurityProtocol::SaslSsl);
        assert_eq!(ls[2].protocol, SecurityProtocol::Plaintext);
        let err = resolve_protocols(
            &mut ls,
            Some("PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL"),
            &["CONTROLLER".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("CONTROLLER"), "{err}");
        let mut ext = parse_listeners("listeners", "EXTERNAL://:9092").unwrap();
        resolve_protocols(&mut ext, Some("EXTERNAL:SSL"), &[]).unwrap();
        assert_eq!(ext[0].protocol, SecurityProtocol::Ssl);
        assert!(parse_protocol_map("A:TLS").is_err());
    }

    #[test]
    fn honoured_ssl_keys_pass_and_the_rest_stop_start_up() {
        let mut ls = parse_listeners("listeners", "PLAINTEXT://:9092,SSL://:9093").unwrap();
        resolve_protocols(&mut ls, None, &[]).unwrap();
        let raw = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        check_honoured(&raw(&[
            ("ssl.keystore.location", "/k.p12"),
            ("listener.name.ssl.ssl.client.auth", "required"),
            ("sasl.enabled.mechanisms", "PLAIN"),
        ]))
        .unwrap();
        for key in [
            "ssl.provider",
            "ssl.engine.factory.class",
            "listener.name.ssl.ssl.provider",
            "sasl.kerberos.service.name",
            "delegation.token.secret.key",
        ] {
            let err = check_honoured(&raw(&[(key, "x")])).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
        assert!(parse_protocol_map("A:SSL,a:SSL").is_err());
    }

    #[test]
    fn only_kafkas_acl_authorizers_are_accepted() {
        assert!(!authorizer_enabled(None).unwrap());
        assert!(!authorizer_enabled(Some(" ")).unwrap());
        assert!(authorizer_enabled(Some(
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
        ))
        .unwrap());
        assert!(authorizer_enabled(Some("kafka.security.authorizer.AclAuthorizer")).unwrap());
        let err = authorizer_enabled(Some("com.example.Custom"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("authorizer.class.name"), "{err}");
    }
}

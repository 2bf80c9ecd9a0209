//! How this node connects to its peers in a cluster, as Kafka's ChannelBuilders set up a
//! broker's client side: the inter-broker listener (`inter.broker.listener.name`, else the
//! listener named by `security.inter.broker.protocol`, else the first listener that is not a
//! controller listener) and the controller listener (`controller.listener.names`), each with
//! its security protocol from `listener.security.protocol.map`:
//! - TLS (`SSL`, `SASL_SSL`): the listener's `ssl.*` keys (trust, our keystore for mutual TLS)
//!   and `ssl.endpoint.identification.algorithm` (`https`, Kafka's default, checks host names;
//!   empty does not);
//! - SASL (`SASL_PLAINTEXT`, `SASL_SSL`): `sasl.mechanism.inter.broker.protocol` (or
//!   `sasl.mechanism.controller.protocol`), Kafka's default GSSAPI being refused, and the login
//!   `username` / `password` options of `listener.name.<l>.<mechanism>.sasl.jaas.config`, the
//!   same module whose `user_*` options the listener serves.
//!
//! Errors never quote a JAAS value or a password.

use std::collections::BTreeMap;

use super::ssl::{Secret, SslSettings};
use super::{ConfigError, Listener, SaslSettings, SecurityProtocol};
use crate::security::sasl::{jaas, SaslMechanism};

const HIDDEN: &str = "[hidden]";

/// A SASL login: who this node says it is to its peers.
#[derive(Debug, Clone, PartialEq)]
pub struct SaslLogin {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: Secret,
}

/// How to reach one listener of the other nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerSecurity {
    /// Upper-case listener name.
    pub listener: String,
    pub protocol: SecurityProtocol,
    /// TLS settings when `protocol` uses TLS.
    pub ssl: Option<SslSettings>,
    /// `ssl.endpoint.identification.algorithm=https`.
    pub check_host_name: bool,
    /// The login when `protocol` uses SASL.
    pub sasl: Option<SaslLogin>,
}

impl PeerSecurity {
    /// Plaintext to `listener` (a single node, or tests).
    pub fn plaintext(listener: &str) -> Self {
        Self {
            listener: listener.to_string(),
            protocol: SecurityProtocol::Plaintext,
            ssl: None,
            check_host_name: true,
            sasl: None,
        }
    }
}

/// The inter-broker listener's name: `inter.broker.listener.name`, else a listener named as
/// `security.inter.broker.protocol` (default PLAINTEXT), else the first non-controller listener.
pub fn inter_broker_listener(
    raw: &BTreeMap<String, String>,
    listeners: &[Listener],
    controller_names: &[String],
) -> Result<Option<String>, ConfigError> {
    let clients = || {
        listeners
            .iter()
            .filter(|l| !controller_names.contains(&l.name))
    };
    if let Some(name) = raw.get("inter.broker.listener.name") {
        let name = name.trim().to_ascii_uppercase();
        if !clients().any(|l| l.name == name) {
            return Err(ConfigError::invalid(
                "inter.broker.listener.name",
                &name,
                "names no listener of listeners (other than a controller listener)",
            ));
        }
        return Ok(Some(name));
    }
    let by_protocol = raw
        .get("security.inter.broker.protocol")
        .map(|p| p.trim().to_ascii_uppercase())
        .unwrap_or_else(|| "PLAINTEXT".into());
    Ok(clients()
        .find(|l| l.name == by_protocol)
        .or_else(|| clients().next())
        .map(|l| l.name.clone()))
}

/// How to connect to `listener` (of `listeners`), logging in with the mechanism named by
/// `mechanism_key` when it uses SASL.
pub fn peer_security(
    raw: &BTreeMap<String, String>,
    listeners: &[Listener],
    sasl: &SaslSettings,
    ssl: &BTreeMap<String, SslSettings>,
    listener: &str,
    mechanism_key: &str,
) -> Result<PeerSecurity, ConfigError> {
    let protocol = listeners
        .iter()
        .find(|l| l.name == listener)
        .map(|l| l.protocol)
        .unwrap_or(SecurityProtocol::Plaintext);
    let mut peer = PeerSecurity::plaintext(listener);
    peer.protocol = protocol;
    if protocol.uses_tls() {
        let settings = match ssl.get(listener) {
            Some(s) => s.clone(),
            None => SslSettings::for_listener(raw, listener)?,
        };
        let prefixed = format!(
            "listener.name.{}.ssl.endpoint.identification.algorithm",
            listener.to_ascii_lowercase()
        );
        let (key, algorithm) = match raw.get(&prefixed) {
            Some(v) => (prefixed.as_str(), Some(v.trim())),
            None => (
                "ssl.endpoint.identification.algorithm",
                raw.get("ssl.endpoint.identification.algorithm")
                    .map(|v| v.trim()),
            ),
        };
        peer.check_host_name = match algorithm {
            None => true,
            Some(a) if a.eq_ignore_ascii_case("https") => true,
            Some("") => false,
            Some(other) => {
                return Err(ConfigError::invalid(
                    key,
                    other,
                    "Milena checks host names with https (the default) or not at all (empty)",
                ))
            }
        };
        peer.ssl = Some(settings);
    }
    if protocol.uses_sasl() {
        let name = raw
            .get(mechanism_key)
            .map(|m| m.trim().to_string())
            .unwrap_or_else(|| "GSSAPI".into());
        let mechanism = SaslMechanism::from_name(&name).ok_or_else(|| {
            ConfigError::invalid(
                mechanism_key,
                &name,
                format!(
                    "the listener {listener} uses {protocol} and Milena's brokers log in to each other with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 only{}",
                    if raw.contains_key(mechanism_key) { "" } else { " (Kafka's default is GSSAPI): set it" }
                ),
            )
        })?;
        let enabled = sasl
            .listeners
            .get(listener)
            .is_some_and(|l| l.enabled_mechanisms.contains(&mechanism));
        if !enabled {
            return Err(ConfigError::invalid(
                mechanism_key,
                &name,
                format!("{name} must be among the listener {listener}'s sasl.enabled.mechanisms"),
            ));
        }
        let key = format!(
            "listener.name.{}.{}.sasl.jaas.config",
            listener.to_ascii_lowercase(),
            mechanism.name().to_ascii_lowercase()
        );
        let Some(text) = raw.get(&key) else {
            return Err(ConfigError::invalid(
                &key,
                "",
                format!("brokers log in to the listener {listener} with {name}: its JAAS config must give the broker's username and password"),
            ));
        };
        let module = jaas::parse(text).map_err(|why| ConfigError::invalid(&key, HIDDEN, why))?;
        let (Some(username), Some(password)) = (
            module.options.get("username").filter(|u| !u.is_empty()),
            module.options.get("password"),
        ) else {
            return Err(ConfigError::invalid(
                &key,
                HIDDEN,
                format!("brokers log in to the listener {listener} with {name}: the login module needs username=\"...\" and password=\"...\" options"),
            ));
        };
        peer.sasl = Some(SaslLogin {
            mechanism,
            username: username.clone(),
            password: Secret::new(password.clone()),
        });
    }
    Ok(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_listeners;

    fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"broker\" password=\"broker-secret\" user_broker=\"broker-secret\";";

    fn setup(pairs: &[(&str, &str)]) -> Result<PeerSecurity, ConfigError> {
        let r = raw(pairs);
        let mut ls = parse_listeners("listeners", "INTERNAL://:9092,CONTROLLER://:9093").unwrap();
        crate::config::security::resolve_protocols(
            &mut ls,
            Some("INTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"),
            &["CONTROLLER".into()],
        )
        .unwrap();
        let sasl = crate::config::sasl::sasl_settings(&r, &ls)?;
        peer_security(
            &r,
            &ls,
            &sasl,
            &BTreeMap::new(),
            "INTERNAL",
            "sasl.mechanism.inter.broker.protocol",
        )
    }

    #[test]
    fn reads_the_login_and_refuses_gssapi_without_quoting_secrets() {
        let ok = setup(&[
            ("sasl.enabled.mechanisms", "PLAIN"),
            ("sasl.mechanism.inter.broker.protocol", "PLAIN"),
            ("listener.name.internal.plain.sasl.jaas.config", JAAS),
        ])
        .unwrap();
        let login = ok.sasl.unwrap();
        assert_eq!(login.username, "broker");
        assert_eq!(login.password.expose(), "broker-secret");
        assert!(!format!("{login:?}").contains("broker-secret"));

        let e = setup(&[
            ("sasl.enabled.mechanisms", "PLAIN"),
            ("listener.name.internal.plain.sasl.jaas.config", JAAS),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("sasl.mechanism.inter.broker.protocol") && e.contains("GSSAPI"),
            "{e}"
        );
        let e = setup(&[
            ("sasl.enabled.mechanisms", "PLAIN"),
            ("sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-512"),
            ("listener.name.internal.plain.sasl.jaas.config", JAAS),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("sasl.enabled.mechanisms"), "{e}");
        let e = setup(&[
            ("sasl.enabled.mechanisms", "PLAIN"),
            ("sasl.mechanism.inter.broker.protocol", "PLAIN"),
            (
                "listener.name.internal.plain.sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required user_broker=\"broker-secret\";",
            ),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("username") && !e.contains("broker-secret"),
            "{e}"
        );
    }

    #[test]
    fn inter_broker_listener_follows_kafkas_keys() {
        let mut ls =
            parse_listeners("listeners", "EXT://:1,PLAINTEXT://:2,CONTROLLER://:3").unwrap();
        crate::config::security::resolve_protocols(
            &mut ls,
            Some("EXT:SSL,PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"),
            &["CONTROLLER".into()],
        )
        .unwrap();
        let c = ["CONTROLLER".to_string()];
        let pick = |pairs: &[(&str, &str)]| inter_broker_listener(&raw(pairs), &ls, &c);
        assert_eq!(pick(&[]).unwrap().as_deref(), Some("PLAINTEXT"));
        assert_eq!(
            pick(&[("inter.broker.listener.name", "ext")])
                .unwrap()
                .as_deref(),
            Some("EXT")
        );
        assert!(pick(&[("inter.broker.listener.name", "CONTROLLER")]).is_err());
    }
}

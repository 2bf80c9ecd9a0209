//! SASL settings of the SASL_PLAINTEXT / SASL_SSL listeners, read from Kafka's keys:
//!
//! - `sasl.enabled.mechanisms` (default GSSAPI) or `listener.name.<l>.sasl.enabled.mechanisms`;
//!   Milena serves PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, and any other mechanism stops
//!   start-up naming it;
//! - `listener.name.<l>.<mechanism>.sasl.jaas.config`: PLAIN's users (`user_<name>="<pw>"`)
//!   from a PlainLoginModule, required for PLAIN as on Kafka; a ScramLoginModule for SCRAM;
//! - `connections.max.reauth.ms` (default 0: sessions never expire), also with the
//!   `listener.name.<l>.` and `listener.name.<l>.<mechanism>.` prefixes (KIP-368);
//! - `connection.failed.authentication.delay.ms` (default 100) and
//!   `sasl.server.max.receive.size` (default 524288).
//!
//! Errors about a JAAS value never quote it: it holds passwords.

use std::collections::BTreeMap;

use super::listener::Listener;
use super::ConfigError;
use crate::security::sasl::{jaas, PlainUsers, SaslMechanism};

const HIDDEN: &str = "[hidden]";
const ENABLED_MECHANISMS: &str = "sasl.enabled.mechanisms";
const MAX_REAUTH: &str = "connections.max.reauth.ms";
const JAAS: &str = "sasl.jaas.config";
const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
const SCRAM_LOGIN_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";

/// The SASL side of one listener.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SaslListenerConfig {
    pub enabled_mechanisms: Vec<SaslMechanism>,
    pub plain_users: PlainUsers,
    /// `connections.max.reauth.ms` for each enabled mechanism; 0: the session never expires.
    pub max_reauth_ms: BTreeMap<SaslMechanism, i64>,
}

/// Every SASL listener's settings and the limits shared by them.
#[derive(Debug, Clone, PartialEq)]
pub struct SaslSettings {
    /// By upper-case listener name.
    pub listeners: BTreeMap<String, SaslListenerConfig>,
    pub failed_authentication_delay_ms: u64,
    pub max_receive_size: usize,
}

impl Default for SaslSettings {
    fn default() -> Self {
        Self {
            listeners: BTreeMap::new(),
            failed_authentication_delay_ms: 100,
            max_receive_size: 524_288,
        }
    }
}

/// Broker-wide SASL keys Milena honours (the listener-prefixed ones are [`listener_key`]).
const BROKER_WIDE: &[&str] = &[
    ENABLED_MECHANISMS,
    "sasl.mechanism.inter.broker.protocol",
    "sasl.mechanism.controller.protocol",
    "sasl.server.max.receive.size",
    MAX_REAUTH,
    "connection.failed.authentication.delay.ms",
];

/// What a `listener.name.<l>.…` SASL key sets.
#[derive(Debug, PartialEq, Eq)]
enum ListenerKey {
    EnabledMechanisms,
    MaxReauth(Option<SaslMechanism>),
    Jaas(SaslMechanism),
}

/// Splits `listener.name.<l>.<rest>` into the listener (upper case) and what it sets.
fn listener_key(key: &str) -> Option<(String, ListenerKey)> {
    let rest = key.strip_prefix("listener.name.")?;
    let (listener, rest) = rest.split_once('.')?;
    if listener.is_empty() {
        return None;
    }
    let what = match rest {
        ENABLED_MECHANISMS => ListenerKey::EnabledMechanisms,
        MAX_REAUTH => ListenerKey::MaxReauth(None),
        _ => {
            let mechanism = SaslMechanism::SERVED
                .into_iter()
                .find(|m| rest.starts_with(&format!("{}.", m.name().to_ascii_lowercase())))?;
            let setting = &rest[mechanism.name().len() + 1..];
            match setting {
                JAAS => ListenerKey::Jaas(mechanism),
                MAX_REAUTH => ListenerKey::MaxReauth(Some(mechanism)),
                _ => return None,
            }
        }
    };
    Some((listener.to_ascii_uppercase(), what))
}

/// Whether Milena honours this SASL key (exempt from the fail-closed rule).
pub(crate) fn is_honoured(key: &str) -> bool {
    BROKER_WIDE.contains(&key) || listener_key(key).is_some()
}

/// Whether `key` is a listener-prefixed SASL key Milena knows (so it is not "unknown").
pub(crate) fn is_listener_key(key: &str) -> bool {
    listener_key(key).is_some()
}

fn parse_mechanisms(key: &str, text: &str) -> Result<Vec<SaslMechanism>, ConfigError> {
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let m = SaslMechanism::from_name(name).ok_or_else(|| {
            ConfigError::invalid(
                key,
                text,
                format!("Milena serves the SASL mechanisms PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, not {name}"),
            )
        })?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

fn parse_ms(key: &str, text: &str) -> Result<i64, ConfigError> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| ConfigError::invalid(key, text, "not a number of milliseconds"))
}

/// Reads the SASL settings of every listener that uses SASL. Keys for a listener that does not
/// exist or does not use SASL stop start-up (a typo would otherwise leave a listener open).
pub fn sasl_settings(
    raw: &BTreeMap<String, String>,
    listeners: &[Listener],
) -> Result<SaslSettings, ConfigError> {
    let mut settings = SaslSettings::default();
    if let Some(v) = raw.get("connection.failed.authentication.delay.ms") {
        settings.failed_authentication_delay_ms =
            parse_ms("connection.failed.authentication.delay.ms", v)?.max(0) as u64;
    }
    if let Some(v) = raw.get("sasl.server.max.receive.size") {
        settings.max_receive_size = v.trim().parse::<usize>().map_err(|_| {
            ConfigError::invalid("sasl.server.max.receive.size", v, "not a size in bytes")
        })?;
    }
    for key in ["sasl.jaas.config"] {
        if raw.contains_key(key) {
            return Err(ConfigError::invalid(
                key,
                HIDDEN,
                "a broker's JAAS config must be prefixed with the listener and the SASL mechanism, e.g. listener.name.sasl_plaintext.plain.sasl.jaas.config",
            ));
        }
    }
    let default_mechanisms = match raw.get(ENABLED_MECHANISMS) {
        Some(text) => parse_mechanisms(ENABLED_MECHANISMS, text)?,
        None => Vec::new(), // Kafka's default, GSSAPI, which Milena does not serve.
    };
    let default_reauth = match raw.get(MAX_REAUTH) {
        Some(v) => parse_ms(MAX_REAUTH, v)?,
        None => 0,
    };
    // Group the listener-prefixed keys by listener.
    let mut by_listener: BTreeMap<String, Vec<(&str, ListenerKey, &str)>> = BTreeMap::new();
    for (key, value) in raw {
        if key.starts_with("listener.name.")
            && key.ends_with(".sasl.jaas.config")
            && listener_key(key).is_none()
        {
            return Err(ConfigError::invalid(
                key,
                HIDDEN,
                "a broker's JAAS config must name the SASL mechanism too, e.g. listener.name.sasl_plaintext.plain.sasl.jaas.config (Milena serves plain, scram-sha-256, scram-sha-512)",
            ));
        }
        if let Some((listener, what)) = listener_key(key) {
            if !listeners
                .iter()
                .any(|l| l.name == listener && l.protocol.uses_sasl())
            {
                let shown = if matches!(what, ListenerKey::Jaas(_)) {
                    HIDDEN
                } else {
                    value
                };
                return Err(ConfigError::invalid(
                    key,
                    shown,
                    format!("there is no SASL listener named {listener} in listeners"),
                ));
            }
            by_listener
                .entry(listener)
                .or_default()
                .push((key.as_str(), what, value.as_str()));
        }
    }
    for l in listeners.iter().filter(|l| l.protocol.uses_sasl()) {
        let keys = by_listener.remove(&l.name).unwrap_or_default();
        let mut config = SaslListenerConfig {
            enabled_mechanisms: default_mechanisms.clone(),
            ..Default::default()
        };
        let mut jaas_modules = BTreeMap::new();
        let mut listener_reauth = default_reauth;
        let mut mechanism_reauth = BTreeMap::new();
        for (key, what, value) in keys {
            match what {
                ListenerKey::EnabledMechanisms => {
                    config.enabled_mechanisms = parse_mechanisms(key, value)?
                }
                ListenerKey::MaxReauth(None) => listener_reauth = parse_ms(key, value)?,
                ListenerKey::MaxReauth(Some(m)) => {
                    mechanism_reauth.insert(m, parse_ms(key, value)?);
                }
                ListenerKey::Jaas(m) => {
                    let module =
                        jaas::parse(value).map_err(|why| ConfigError::invalid(key, HIDDEN, why))?;
                    let expected = match m {
                        SaslMechanism::Plain => PLAIN_LOGIN_MODULE,
                        SaslMechanism::Scram(_) => SCRAM_LOGIN_MODULE,
                    };
                    if module.class_name != expected {
                        return Err(ConfigError::invalid(
                            key,
                            HIDDEN,
                            format!(
                                "the login module for {m} must be {expected}, not {}",
                                module.class_name
                            ),
                        ));
                    }
                    jaas_modules.insert(m, (key, module));
                }
            }
        }
        if config.enabled_mechanisms.is_empty() {
            return Err(ConfigError::invalid(
                ENABLED_MECHANISMS,
                raw.get(ENABLED_MECHANISMS).map_or("GSSAPI", String::as_str),
                format!(
                    "the listener {} uses {} and needs SASL mechanisms Milena serves (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); Kafka's default GSSAPI is not served",
                    l.name, l.protocol
                ),
            ));
        }
        if config.enabled_mechanisms.contains(&SaslMechanism::Plain) {
            let key = format!(
                "listener.name.{}.plain.sasl.jaas.config",
                l.name.to_ascii_lowercase()
            );
            match jaas_modules.get(&SaslMechanism::Plain) {
                Some((_, module)) => {
                    config.plain_users = PlainUsers::from_options(&module.options);
                }
                None => {
                    return Err(ConfigError::invalid(
                        &key,
                        "",
                        format!("PLAIN is enabled on the listener {} but its JAAS config (a PlainLoginModule with user_<name>=\"<password>\" options) is missing", l.name),
                    ))
                }
            }
        }
        for m in &config.enabled_mechanisms {
            let ms = mechanism_reauth.get(m).copied().unwrap_or(listener_reauth);
            config.max_reauth_ms.insert(*m, ms);
        }
        settings.listeners.insert(l.name.clone(), config);
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_listeners;
    use crate::config::SecurityProtocol;

    fn listeners() -> Vec<Listener> {
        let mut ls =
            parse_listeners("listeners", "PLAINTEXT://:9092,SASL_PLAINTEXT://:9093").unwrap();
        ls[1].protocol = SecurityProtocol::SaslPlaintext;
        ls
    }

    fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const PLAIN_JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\";";

    #[test]
    fn reads_mechanisms_users_and_reauth() {
        let s = sasl_settings(
            &raw(&[
                ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256"),
                (
                    "listener.name.sasl_plaintext.plain.sasl.jaas.config",
                    PLAIN_JAAS,
                ),
                ("connections.max.reauth.ms", "5000"),
                (
                    "listener.name.sasl_plaintext.scram-sha-256.connections.max.reauth.ms",
                    "7000",
                ),
            ]),
            &listeners(),
        )
        .unwrap();
        let l = &s.listeners["SASL_PLAINTEXT"];
        assert_eq!(l.enabled_mechanisms.len(), 2);
        assert!(!l.plain_users.is_empty());
        assert_eq!(l.max_reauth_ms[&SaslMechanism::Plain], 5000);
        assert_eq!(
            l.max_reauth_ms[&SaslMechanism::Scram(crate::security::sasl::ScramMechanism::Sha256)],
            7000
        );
        assert!(!format!("{s:?}").contains("secret"));
    }

    #[test]
    fn refuses_what_it_cannot_serve_without_quoting_secrets() {
        let err = |pairs: &[(&str, &str)]| {
            sasl_settings(&raw(pairs), &listeners())
                .unwrap_err()
                .to_string()
        };
        let e = err(&[]);
        assert!(e.contains("GSSAPI") && e.contains("SASL_PLAINTEXT"), "{e}");
        let e = err(&[("sasl.enabled.mechanisms", "PLAIN,OAUTHBEARER")]);
        assert!(e.contains("OAUTHBEARER"), "{e}");
        let e = err(&[("sasl.enabled.mechanisms", "PLAIN")]);
        assert!(
            e.contains("listener.name.sasl_plaintext.plain.sasl.jaas.config"),
            "{e}"
        );
        let e = err(&[
            ("sasl.enabled.mechanisms", "PLAIN"),
            (
                "listener.name.sasl_plaintext.plain.sasl.jaas.config",
                "Bad required user_a=\"top-secret\";",
            ),
        ]);
        assert!(
            e.contains("PlainLoginModule") && !e.contains("top-secret"),
            "{e}"
        );
        let e = err(&[
            ("sasl.enabled.mechanisms", "PLAIN"),
            ("listener.name.other.plain.sasl.jaas.config", PLAIN_JAAS),
        ]);
        assert!(e.contains("OTHER") && !e.contains("admin-secret"), "{e}");
        let e = err(&[("sasl.jaas.config", PLAIN_JAAS)]);
        assert!(!e.contains("admin-secret"), "{e}");
        assert!(is_honoured(
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"
        ));
        assert!(!is_honoured(
            "listener.name.sasl_plaintext.gssapi.sasl.jaas.config"
        ));
        assert!(!is_honoured("listener.name.ssl.ssl.keystore.location"));
        assert!(!is_honoured("sasl.kerberos.service.name"));
    }
}

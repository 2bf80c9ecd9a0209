//! The TLS settings of one listener, from Kafka's `ssl.*` keys.
//!
//! As in Kafka, `listener.name.<listener>.ssl.<key>` (listener name in lower case) wins over the
//! broker-wide `ssl.<key>` for that listener. Only the keys in [`HONOURED`] are read; any other
//! `ssl.*` key stops start-up (see `security::check_honoured`), since it asks for something
//! Milena does not do. This module only reads and checks the text; loading the keystores and
//! building the TLS server is `server::tls`'s job, so start-up errors about files and
//! certificates come from there.
//!
//! Secrets stay in [`Secret`], whose `Debug` hides them, and no error message here quotes them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::broker_keys::broker_key;
use super::value::{canonical, split_list, ConfigType};
use super::ConfigError;
use crate::security::principal_mapping::PrincipalMapper;

/// The `ssl.*` keys Milena honours (as broker keys and per listener).
pub(crate) const HONOURED: &[&str] = &[
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.client.auth",
    "ssl.enabled.protocols",
    "ssl.protocol",
    "ssl.cipher.suites",
    "ssl.endpoint.identification.algorithm",
    "ssl.principal.mapping.rules",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
];

/// If `key` is `listener.name.<listener>.ssl.…`, the `ssl.…` part.
pub(crate) fn listener_ssl_key(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("listener.name.")?;
    let at = rest.find(".ssl.")?;
    Some(&rest[at + 1..])
}

/// Whether `key` is an `ssl.*` key Milena honours, broker-wide or for one listener.
pub(crate) fn is_honoured(key: &str) -> bool {
    let base = listener_ssl_key(key).unwrap_or(key);
    HONOURED.contains(&base)
}

/// A password or private key from the configuration. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub(crate) fn new(text: String) -> Self {
        Self(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[hidden]")
    }
}

/// `ssl.keystore.type` / `ssl.truststore.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    /// Kafka's default. Java's keytool has written PKCS12 by default since Java 9, so a file of
    /// this type is read as PKCS12; a real JKS file is refused with a clear error.
    Jks,
    Pkcs12,
    Pem,
}

impl StoreType {
    fn parse(key: &str, text: &str) -> Result<Self, ConfigError> {
        match text.to_ascii_uppercase().as_str() {
            "JKS" => Ok(Self::Jks),
            "PKCS12" => Ok(Self::Pkcs12),
            "PEM" => Ok(Self::Pem),
            _ => Err(ConfigError::invalid(
                key,
                text,
                "Milena reads PKCS12 and PEM stores (and PKCS12 files typed JKS)",
            )),
        }
    }
}

/// Where the listener's private key and certificate chain come from.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyStoreSettings {
    pub store_type: StoreType,
    pub location: Option<PathBuf>,
    pub password: Option<Secret>,
    pub key_password: Option<Secret>,
    /// `ssl.keystore.key` (PEM text).
    pub key: Option<Secret>,
    /// `ssl.keystore.certificate.chain` (PEM text).
    pub certificate_chain: Option<Secret>,
}

/// The CA certificates client certificates are checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustStoreSettings {
    pub store_type: StoreType,
    pub location: Option<PathBuf>,
    pub password: Option<Secret>,
    /// `ssl.truststore.certificates` (PEM text).
    pub certificates: Option<Secret>,
}

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

/// The TLS versions rustls speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// Everything a TLS listener needs, checked for form; files are read by `server::tls`.
#[derive(Debug, Clone, PartialEq)]
pub struct SslSettings {
    /// Upper-case listener name, for messages.
    pub listener: String,
    pub keystore: KeyStoreSettings,
    /// `None` when no truststore is configured.
    pub truststore: Option<TrustStoreSettings>,
    pub client_auth: ClientAuth,
    /// `ssl.enabled.protocols`, capped by `ssl.protocol`; never empty.
    pub protocols: Vec<TlsVersion>,
    /// `ssl.cipher.suites` as given (IANA names); empty allows every suite rustls offers.
    pub cipher_suites: Vec<String>,
    /// `ssl.principal.mapping.rules`: a client certificate's subject to a principal name.
    pub principal_mapping: PrincipalMapper,
}

impl SslSettings {
    /// The settings of `listener` from the raw broker keys (as written in the file).
    pub fn for_listener(
        raw: &BTreeMap<String, String>,
        listener: &str,
    ) -> Result<SslSettings, ConfigError> {
        let keys = ListenerKeys {
            raw,
            prefix: format!("listener.name.{}.", listener.to_ascii_lowercase()),
            broker_wide: true,
        };
        Self::from_keys(&keys, listener)
    }

    /// The settings of the HTTPS listener (`milena.http.listener=https://…`), from
    /// `milena.http.ssl.*` only ([`HTTP_KEYS`]): the Kafka listeners' `ssl.*` keys are not
    /// inherited, so that the console's certificate is always chosen on purpose. The other TLS
    /// settings take their defaults (TLSv1.2 and TLSv1.3, every suite, no client certificate).
    pub fn for_http(raw: &BTreeMap<String, String>) -> Result<SslSettings, ConfigError> {
        let keys = ListenerKeys {
            raw,
            prefix: HTTP_PREFIX.to_string(),
            broker_wide: false,
        };
        Self::from_keys(&keys, "HTTPS (milena.http.ssl.*)")
    }

    fn from_keys(keys: &ListenerKeys<'_>, listener: &str) -> Result<SslSettings, ConfigError> {
        let store_type = |key: &str| -> Result<StoreType, ConfigError> {
            let (name, text) = keys.text(key)?;
            StoreType::parse(&name, text.as_deref().unwrap_or("JKS"))
        };
        // A keystore location given empty is still given, as on Kafka (a string key's "" is not
        // null): beside an inline key it is refused as Kafka refuses it ("Both SSL key store
        // location and separate private key are specified"), alone it names no file. Kafka has
        // no way to unset a broker-wide key for one listener, and neither has Milena.
        let keystore_location = match keys.text("ssl.keystore.location")? {
            (_, Some(text)) => Some(PathBuf::from(text)),
            (name, None) => keys.raw.contains_key(&name).then(PathBuf::new),
        };
        let keystore = KeyStoreSettings {
            store_type: store_type("ssl.keystore.type")?,
            location: keystore_location,
            password: keys.secret("ssl.keystore.password"),
            key_password: keys.secret("ssl.key.password"),
            key: keys.secret("ssl.keystore.key"),
            certificate_chain: keys.secret("ssl.keystore.certificate.chain"),
        };
        let truststore = TrustStoreSettings {
            store_type: store_type("ssl.truststore.type")?,
            location: keys.text("ssl.truststore.location")?.1.map(PathBuf::from),
            password: keys.secret("ssl.truststore.password"),
            certificates: keys.secret("ssl.truststore.certificates"),
        };
        let truststore = (truststore.location.is_some() || truststore.certificates.is_some())
            .then_some(truststore);
        let client_auth = match keys.text("ssl.client.auth")?.1.as_deref() {
            Some("required") => ClientAuth::Required,
            Some("requested") => ClientAuth::Requested,
            _ => ClientAuth::None,
        };
        let (protocols_key, enabled) = keys.text("ssl.enabled.protocols")?;
        let enabled = split_list(enabled.as_deref().unwrap_or("TLSv1.2,TLSv1.3"));
        let (protocol_key, protocol) = keys.text("ssl.protocol")?;
        let ceiling = match protocol.as_deref().unwrap_or("TLSv1.3") {
            "TLSv1.3" | "TLS" => TlsVersion::Tls13,
            "TLSv1.2" => TlsVersion::Tls12,
            other => {
                return Err(ConfigError::invalid(
                    &protocol_key,
                    other,
                    "Milena speaks TLSv1.2 and TLSv1.3 only",
                ))
            }
        };
        let mut protocols = Vec::new();
        for name in &enabled {
            let version = match name.as_str() {
                "TLSv1.2" => TlsVersion::Tls12,
                "TLSv1.3" => TlsVersion::Tls13,
                _ => {
                    return Err(ConfigError::invalid(
                        &protocols_key,
                        &enabled.join(","),
                        format!("{name} is not available: Milena speaks TLSv1.2 and TLSv1.3 only"),
                    ))
                }
            };
            if version <= ceiling && !protocols.contains(&version) {
                protocols.push(version);
            }
        }
        if protocols.is_empty() {
            return Err(ConfigError::invalid(
                &protocols_key,
                &enabled.join(","),
                format!("no TLS version is left for listener {listener} (ssl.protocol caps it)"),
            ));
        }
        let cipher_suites = split_list(keys.text("ssl.cipher.suites")?.1.as_deref().unwrap_or(""));
        let (rules_key, rules) = keys.text("ssl.principal.mapping.rules")?;
        let principal_mapping = match rules {
            Some(rules) => PrincipalMapper::parse(&rules)
                .map_err(|why| ConfigError::invalid(&rules_key, &rules, why))?,
            None => PrincipalMapper::default(),
        };
        Ok(SslSettings {
            listener: listener.to_string(),
            keystore,
            truststore,
            client_auth,
            protocols,
            cipher_suites,
            principal_mapping,
        })
    }
}

/// The prefix of the HTTPS listener's keys: `milena.http.ssl.keystore.location` and so on.
pub(crate) const HTTP_PREFIX: &str = "milena.http.";

/// The `ssl.*` keys the HTTPS listener reads (under [`HTTP_PREFIX`]).
pub(crate) const HTTP_KEYS: &[&str] = &[
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
];

/// Looks keys up for one listener: the listener-prefixed spelling first, then (when
/// `broker_wide`) the broker-wide one.
struct ListenerKeys<'a> {
    raw: &'a BTreeMap<String, String>,
    prefix: String,
    broker_wide: bool,
}

impl ListenerKeys<'_> {
    /// The key that is set (prefixed or not; the prefixed name if neither) and its raw text.
    fn find(&self, key: &str) -> (String, Option<&str>) {
        let prefixed = format!("{}{key}", self.prefix);
        match self.raw.get(&prefixed) {
            Some(v) => (prefixed, Some(v.as_str())),
            None if !self.broker_wide => (prefixed, None),
            None => (key.to_string(), self.raw.get(key).map(String::as_str)),
        }
    }

    /// The canonical text of a non-secret key (validated by its broker key type), `None` when
    /// unset or empty; plus the name it was found under, for messages.
    fn text(&self, key: &str) -> Result<(String, Option<String>), ConfigError> {
        let (name, raw) = self.find(key);
        let Some(raw) = raw else {
            return Ok((name, None));
        };
        let text = match broker_key(key) {
            Some(k) => canonical(&name, k.kind, k.check, raw)?,
            None => raw.trim().to_string(),
        };
        Ok((name, Some(text).filter(|t| !t.is_empty())))
    }

    /// A secret key's value (trimmed as Kafka trims passwords), `None` when unset or empty.
    fn secret(&self, key: &str) -> Option<Secret> {
        debug_assert_eq!(broker_key(key).map(|k| k.kind), Some(ConfigType::Password));
        let (_, raw) = self.find(key);
        raw.map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| Secret(t.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_listener_overrides() {
        let r = raw(&[
            ("ssl.keystore.location", "/a.p12"),
            ("ssl.keystore.password", " secret "),
            ("listener.name.external.ssl.keystore.location", "/b.p12"),
            ("listener.name.external.ssl.client.auth", "required"),
            ("ssl.truststore.certificates", "-----BEGIN CERTIFICATE-----"),
        ]);
        let internal = SslSettings::for_listener(&r, "SSL").unwrap();
        assert_eq!(internal.keystore.location, Some(PathBuf::from("/a.p12")));
        assert_eq!(internal.keystore.store_type, StoreType::Jks);
        assert_eq!(
            internal.keystore.password.as_ref().map(Secret::expose),
            Some("secret")
        );
        assert_eq!(internal.client_auth, ClientAuth::None);
        assert_eq!(
            internal.protocols,
            vec![TlsVersion::Tls12, TlsVersion::Tls13]
        );
        assert!(internal.truststore.is_some());
        let external = SslSettings::for_listener(&r, "EXTERNAL").unwrap();
        assert_eq!(external.keystore.location, Some(PathBuf::from("/b.p12")));
        assert_eq!(external.client_auth, ClientAuth::Required);
        assert!(!format!("{external:?}").contains("secret"));
    }

    #[test]
    fn an_empty_keystore_location_is_given_as_on_kafka() {
        let r = raw(&[
            ("ssl.keystore.location", "/a.pem"),
            ("listener.name.inline.ssl.keystore.location", ""),
        ]);
        let inline = SslSettings::for_listener(&r, "INLINE").unwrap();
        assert_eq!(inline.keystore.location, Some(PathBuf::new()));
        let other = SslSettings::for_listener(&raw(&[]), "SSL").unwrap();
        assert_eq!(other.keystore.location, None);
    }

    #[test]
    fn protocols_are_capped_and_old_ones_refused() {
        let capped =
            SslSettings::for_listener(&raw(&[("ssl.protocol", "TLSv1.2")]), "SSL").unwrap();
        assert_eq!(capped.protocols, vec![TlsVersion::Tls12]);
        for (key, value) in [
            ("ssl.enabled.protocols", "TLSv1.1,TLSv1.2"),
            ("ssl.protocol", "SSLv3"),
            ("ssl.client.auth", "always"),
            ("ssl.keystore.type", "BKS"),
            ("ssl.principal.mapping.rules", "RULE:^CN=(.*?),.*$/$1"),
        ] {
            let err = SslSettings::for_listener(&raw(&[(key, value)]), "SSL")
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err}");
        }
        let none_left = SslSettings::for_listener(
            &raw(&[
                ("ssl.enabled.protocols", "TLSv1.3"),
                ("ssl.protocol", "TLSv1.2"),
            ]),
            "SSL",
        );
        assert!(none_left.is_err());
    }

    #[test]
    fn honoured_keys() {
        assert!(is_honoured("ssl.keystore.location"));
        assert!(is_honoured("listener.name.ssl.ssl.keystore.location"));
        assert!(is_honoured("listener.name.external.ssl.cipher.suites"));
        assert!(!is_honoured("ssl.provider"));
        assert!(!is_honoured("ssl.engine.factory.class"));
        assert!(!is_honoured("listener.name.external.ssl.provider"));
        assert!(!is_honoured(
            "listener.name.external.sasl.enabled.mechanisms"
        ));
        assert_eq!(
            listener_ssl_key("listener.name.ssl.ssl.client.auth"),
            Some("ssl.client.auth")
        );
    }
}

//! Start-up loading: defaults, then the properties file, then the environment.
//!
//! Unknown keys do not stop the broker: each produces a warning string for the caller to log, the
//! way Kafka logs "supplied but not used" configs. Recognised Kafka keys Milena does not act on
//! (KRaft quorum settings, thread counts, socket buffers…) and keys Kafka itself has retired
//! (`zookeeper.connect`…) are accepted in silence and kept in the raw map.

use std::collections::BTreeMap;
use std::path::Path;

use super::broker::BrokerConfig;
use super::broker_keys::{broker_key, LEGACY_KEYS};
use super::env::properties_from_env;
use super::{properties, ConfigError};

impl BrokerConfig {
    /// Loads the broker configuration: Kafka's defaults, then `path` (a `server.properties`), then
    /// `KAFKA_*` variables from `env` (see [`super::env`]). Returns the config and the warnings
    /// (unknown keys) for the caller to log; invalid values of known keys are errors.
    pub fn load(
        path: Option<&Path>,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
        let mut raw = BTreeMap::new();
        let mut warnings = Vec::new();
        if let Some(path) = path {
            let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            for (key, value) in properties::parse(&properties::decode(&bytes))? {
                if !is_recognised(&key) {
                    warnings.push(format!(
                        "unknown configuration {key} in {} is ignored",
                        path.display()
                    ));
                }
                raw.insert(key, value);
            }
        }
        for p in properties_from_env(env) {
            if !is_recognised(&p.key) {
                warnings.push(format!(
                    "unknown configuration {} (from environment variable {}) is ignored",
                    p.key, p.variable
                ));
            }
            raw.insert(p.key, p.value);
        }
        Ok((BrokerConfig::from_raw(raw)?, warnings))
    }
}

fn is_recognised(key: &str) -> bool {
    let base = super::ssl::listener_ssl_key(key).unwrap_or(key);
    broker_key(base).is_some() || LEGACY_KEYS.contains(&key) || super::sasl::is_listener_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn no_env() -> std::iter::Empty<(String, String)> {
        std::iter::empty()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    #[test]
    fn loading_nothing_gives_defaults() {
        let (c, warnings) = BrokerConfig::load(None, no_env()).expect("ok");
        assert_eq!(c, BrokerConfig::default());
        assert!(warnings.is_empty());
    }

    #[test]
    fn env_overrides_file() {
        let f = file("num.partitions=2\nlog.retention.hours=24\n");
        let env = vec![
            ("KAFKA_NUM_PARTITIONS".to_string(), "5".to_string()),
            ("KAFKA_HEAP_OPTS".to_string(), "-Xmx1G".to_string()),
        ];
        let (c, warnings) = BrokerConfig::load(Some(f.path()), env.into_iter()).expect("ok");
        assert_eq!(c.num_partitions, 5);
        assert_eq!(c.log_retention_ms, 24 * 3_600_000);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn unknown_keys_warn_and_harmless_kafka_keys_are_silent() {
        let f = file(
            "process.roles=broker,controller\n\
             controller.quorum.voters=1@localhost:9093\n\
             zookeeper.connect=localhost:2181\n\
             num.io.threads=8\n\
             log.retention.check.interval.ms=1000\n\
             no.such.key=1\n",
        );
        let env = vec![("KAFKA_BOGUS_SETTING".to_string(), "x".to_string())];
        let (c, warnings) = BrokerConfig::load(Some(f.path()), env.into_iter()).expect("ok");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("no.such.key"));
        assert!(
            warnings[1].contains("bogus.setting") && warnings[1].contains("KAFKA_BOGUS_SETTING")
        );
        assert_eq!(c.raw_value("zookeeper.connect"), Some("localhost:2181"));
        assert_eq!(c.raw_value("no.such.key"), Some("1"));
        assert_eq!(c.log_retention_check_interval_ms, 1000);
    }

    #[test]
    fn invalid_value_in_env_is_an_error() {
        let env = vec![("KAFKA_MESSAGE_MAX_BYTES".to_string(), "big".to_string())];
        let err = BrokerConfig::load(None, env.into_iter()).expect_err("invalid");
        assert!(err.to_string().contains("message.max.bytes"));
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = BrokerConfig::load(Some(Path::new("/nonexistent/server.properties")), no_env())
            .expect_err("missing");
        assert!(matches!(err, ConfigError::Io { .. }));
    }

    #[test]
    fn shipped_sample_loads_without_warnings() {
        // The sample lives at config/server.properties of the crate; the scratch crate keeps a copy.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/server.properties");
        let (c, warnings) = BrokerConfig::load(Some(&path), no_env()).expect("sample loads");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.node_id, 1);
        assert_eq!(c.listeners[0].port, 9092);
        let adv = c.advertised_listeners.first().map(|l| l.host.as_str());
        assert_eq!(adv, Some("localhost"));
        assert_eq!(c.log_dirs, vec![std::path::PathBuf::from("./data")]);
        assert_eq!(c.log_retention_ms, 168 * 3_600_000);
    }
}

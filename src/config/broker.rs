//! `BrokerConfig`: the typed broker settings Milena acts on, plus the raw keys as they were given.
//!
//! Values start from Kafka's defaults (see `broker_keys.rs`, which also notes where Milena chose a
//! different default), then `server.properties`, then `KAFKA_*` environment variables (see
//! [`BrokerConfig::load`]). Every recognised key is validated by its Kafka type and range even when
//! Milena ignores it, so a typo'd number fails at start-up exactly as it would on Kafka. The raw map
//! keeps what the operator wrote, because DescribeConfigs reports those keys as
//! `STATIC_BROKER_CONFIG` with their text as given.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::broker_keys::broker_key;
use super::entry::{ConfigSource, ConfigSynonym};
use super::listener::{parse_listeners, Listener};
use super::log_types::{CleanupPolicy, CompressionType, TimestampType};
use super::value::canonical;
use super::ConfigError;

const HOUR_MS: i64 = 3_600_000;

/// Broker settings, typed. Field docs give the Kafka key and its default.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerConfig {
    /// `node.id`, else `broker.id`; default 1 (Milena's choice: Kafka has none).
    pub node_id: i32,
    /// `cluster.id` (Milena-specific; the Docker image's `CLUSTER_ID` also sets it). `None`: the
    /// server generates one on first start and stores it with the data.
    pub cluster_id: Option<String>,
    /// `listeners`; default `PLAINTEXT://:9092` (empty host = all interfaces).
    pub listeners: Vec<Listener>,
    /// `advertised.listeners`; empty when not set, which lets the server derive the addresses
    /// clients get from `listeners` and the address they connected to.
    pub advertised_listeners: Vec<Listener>,
    /// `log.dirs`, else `log.dir`; default `./data` (Milena's choice, Kafka's is `/tmp/kafka-logs`).
    pub log_dirs: Vec<PathBuf>,
    /// `metadata.log.dir`: where the Raft metadata log lives (cluster mode); `None` puts it in
    /// the first log dir, as Kafka does. A separate disk keeps the quorum writing when the
    /// partition data's disk is full.
    pub metadata_log_dir: Option<PathBuf>,
    /// `num.partitions`; default 1.
    pub num_partitions: i32,
    /// `default.replication.factor`; default 1.
    pub default_replication_factor: i16,
    /// `auto.create.topics.enable`; default true.
    pub auto_create_topics_enable: bool,
    /// `delete.topic.enable`; default true.
    pub delete_topic_enable: bool,
    /// `message.max.bytes`; default 1048588.
    pub message_max_bytes: i32,
    /// `socket.request.max.bytes`; default 104857600.
    pub socket_request_max_bytes: i32,
    /// `log.segment.bytes`; default 1 GiB.
    pub log_segment_bytes: i32,
    /// `log.roll.ms`, else `log.roll.hours` (168).
    pub log_roll_ms: i64,
    /// `log.retention.ms`, else `.minutes`, else `.hours` (168); -1 keeps data forever.
    pub log_retention_ms: i64,
    /// `log.retention.bytes`; default -1 (no limit).
    pub log_retention_bytes: i64,
    /// `log.retention.check.interval.ms`; default 300000.
    pub log_retention_check_interval_ms: i64,
    /// `log.flush.interval.messages`; default `i64::MAX` (leave flushing to the OS).
    pub log_flush_interval_messages: i64,
    /// `log.flush.interval.ms`, else `log.flush.scheduler.interval.ms`; default `i64::MAX`.
    pub log_flush_interval_ms: i64,
    /// `log.index.interval.bytes`; default 4096.
    pub log_index_interval_bytes: i32,
    /// `log.message.timestamp.type`; default CreateTime.
    pub log_message_timestamp_type: TimestampType,
    /// `log.cleanup.policy`; default delete.
    pub log_cleanup_policy: CleanupPolicy,
    /// `min.insync.replicas`; default 1.
    pub min_insync_replicas: i32,
    /// `compression.type`; default producer.
    pub compression_type: CompressionType,
    /// `max.connections`; default `i32::MAX`.
    pub max_connections: i32,
    /// `socket.send.buffer.bytes`: SO_SNDBUF of client connections, -1 the OS default; default
    /// 102400.
    pub socket_send_buffer_bytes: i32,
    /// `connections.max.idle.ms`; default 600000.
    pub connections_max_idle_ms: i64,
    /// `group.initial.rebalance.delay.ms`; default 3000.
    pub group_initial_rebalance_delay_ms: i32,
    /// `offsets.topic.num.partitions`; default 50.
    pub offsets_topic_num_partitions: i32,
    /// `transaction.state.log.num.partitions`; default 50.
    pub transaction_state_log_num_partitions: i32,
    /// `producer.id.expiration.ms`; default 86400000 (one day).
    pub producer_id_expiration_ms: i64,
    /// `num.recovery.threads.per.data.dir`; default 2: threads opening (and recovering) logs.
    pub num_recovery_threads_per_data_dir: i32,
    /// `producer.id.expiration.check.interval.ms` (internal in Kafka); default 600000.
    pub producer_id_expiration_check_interval_ms: i64,
    /// `transactional.id.expiration.ms`; default 604800000 (seven days).
    pub transactional_id_expiration_ms: i64,
    /// `transaction.remove.expired.transaction.cleanup.interval.ms`; default 3600000.
    pub transaction_remove_expired_interval_ms: i64,
    /// `log.cleaner.enable`; default true.
    pub log_cleaner_enable: bool,
    /// `log.cleaner.backoff.ms`; default 15000.
    pub log_cleaner_backoff_ms: i64,
    /// `log.cleaner.dedupe.buffer.size`; default 128 MiB.
    pub log_cleaner_dedupe_buffer_size: i64,
    /// `log.cleaner.io.max.bytes.per.second`; default unlimited.
    pub log_cleaner_io_max_bytes_per_second: f64,
    /// `milena.flush.on.ack`; default false. When true a produce is acknowledged only after its
    /// data is fsynced; the fsyncs of concurrent appends are grouped into one.
    pub flush_on_ack: bool,
    /// `milena.http.listener`: host and port of the HTTP listener (`/metrics`); `None` (the
    /// default, an empty value) runs none. An empty host binds every interface.
    pub http_listener: Option<(String, u16)>,
    /// `milena.http.listener=https://…`: the TLS settings of the HTTP listener, from
    /// `milena.http.ssl.*` (checked for form; the keystore is read when the listener is set up).
    /// `None`: plain HTTP.
    pub http_tls: Option<super::ssl::SslSettings>,
    /// `milena.log.format`: text (default), json or kafka (see `crate::logging`).
    pub log_format: crate::logging::LogFormat,
    /// `milena.metrics.partition.series.enable`; default true.
    pub metrics_partition_series: bool,
    /// `max.incremental.fetch.session.cache.slots`; default 1000.
    pub max_incremental_fetch_session_cache_slots: i32,
    /// Cluster mode: `controller.quorum.voters` and the keys that go with it. `None` on a
    /// single node.
    pub quorum: Option<super::QuorumConfig>,
    /// The TLS settings of each SSL listener, by listener name (checked for form at load; the
    /// keystores are read when the listener is set up).
    pub ssl: BTreeMap<String, super::ssl::SslSettings>,
    /// SASL settings of the SASL_PLAINTEXT / SASL_SSL listeners (mechanisms, PLAIN users,
    /// re-authentication), `connection.failed.authentication.delay.ms` and
    /// `sasl.server.max.receive.size`.
    pub sasl: super::SaslSettings,
    /// Cluster mode: how this node connects to the other brokers' inter-broker listener.
    pub inter_broker_peer: Option<super::peer::PeerSecurity>,
    /// Cluster mode: how this node connects to the other nodes' controller listener.
    pub controller_peer: Option<super::peer::PeerSecurity>,
    /// `authorizer.class.name` set to Kafka's StandardAuthorizer (or its ZooKeeper-era
    /// AclAuthorizer): every request is authorized against the ACLs. Default: off.
    pub authorizer_enabled: bool,
    /// `super.users`: `User:name` principals separated by ';', allowed everything.
    pub super_users: Vec<String>,
    /// `allow.everyone.if.no.acl.found`; default false.
    pub allow_everyone_if_no_acl_found: bool,
    /// Every key set in the file or environment, value as written (later sources win).
    raw: BTreeMap<String, String>,
}

impl Default for BrokerConfig {
    /// Kafka's defaults with Milena's documented exceptions; equal to loading nothing.
    fn default() -> Self {
        BrokerConfig {
            node_id: 1,
            cluster_id: None,
            listeners: vec![Listener {
                name: "PLAINTEXT".into(),
                host: String::new(),
                port: 9092,
                protocol: super::SecurityProtocol::Plaintext,
            }],
            advertised_listeners: Vec::new(),
            log_dirs: vec![PathBuf::from("./data")],
            metadata_log_dir: None,
            num_partitions: 1,
            default_replication_factor: 1,
            auto_create_topics_enable: true,
            delete_topic_enable: true,
            message_max_bytes: 1_048_588,
            socket_request_max_bytes: 104_857_600,
            log_segment_bytes: 1_073_741_824,
            log_roll_ms: 168 * HOUR_MS,
            log_retention_ms: 168 * HOUR_MS,
            log_retention_bytes: -1,
            log_retention_check_interval_ms: 300_000,
            log_flush_interval_messages: i64::MAX,
            log_flush_interval_ms: i64::MAX,
            log_index_interval_bytes: 4096,
            log_message_timestamp_type: TimestampType::CreateTime,
            log_cleanup_policy: CleanupPolicy::default(),
            min_insync_replicas: 1,
            compression_type: CompressionType::Producer,
            max_connections: i32::MAX,
            socket_send_buffer_bytes: 102_400,
            connections_max_idle_ms: 600_000,
            group_initial_rebalance_delay_ms: 3000,
            offsets_topic_num_partitions: 50,
            transaction_state_log_num_partitions: 50,
            producer_id_expiration_ms: 86_400_000,
            num_recovery_threads_per_data_dir: 2,
            producer_id_expiration_check_interval_ms: 600_000,
            transactional_id_expiration_ms: 604_800_000,
            transaction_remove_expired_interval_ms: 3_600_000,
            log_cleaner_enable: true,
            log_cleaner_backoff_ms: 15_000,
            log_cleaner_dedupe_buffer_size: 134_217_728,
            log_cleaner_io_max_bytes_per_second: f64::MAX,
            flush_on_ack: false,
            http_listener: None,
            log_format: crate::logging::LogFormat::Text,
            metrics_partition_series: true,
            max_incremental_fetch_session_cache_slots: 1000,
            quorum: None,
            ssl: BTreeMap::new(),
            http_tls: None,
            sasl: super::SaslSettings::default(),
            inter_broker_peer: None,
            controller_peer: None,
            authorizer_enabled: false,
            super_users: Vec::new(),
            allow_everyone_if_no_acl_found: false,
            raw: BTreeMap::new(),
        }
    }
}

impl BrokerConfig {
    /// Builds the config from raw keys (already merged from file and environment). Unknown keys
    /// must have been filtered or warned about by the caller; they are kept but not interpreted.
    pub fn from_raw(raw: BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut canon = BTreeMap::new();
        for (key, value) in &raw {
            if let Some(k) = broker_key(key) {
                canon.insert(key.as_str(), canonical(key, k.kind, k.check, value)?);
            }
        }
        let v = Values {
            raw: &raw,
            canon: &canon,
        };
        let mut c = BrokerConfig::default();

        c.node_id = match (v.num::<i32>("node.id")?, v.num::<i32>("broker.id")?) {
            (Some(node), Some(broker)) if node != broker => {
                return Err(ConfigError::invalid(
                    "broker.id",
                    &broker.to_string(),
                    format!("must equal node.id ({node}) when both are set"),
                ))
            }
            (Some(id), _) | (None, Some(id)) => id,
            (None, None) => c.node_id,
        };
        if let Some(id) = v.text("cluster.id") {
            check_cluster_id(id)?;
            c.cluster_id = Some(id.to_string());
        }
        if let Some(text) = v.canonical("listeners") {
            c.listeners = parse_listeners("listeners", text)?;
            if c.listeners.is_empty() {
                return Err(ConfigError::invalid(
                    "listeners",
                    text,
                    "at least one listener is needed",
                ));
            }
        }
        if let Some(text) = v.text("advertised.listeners") {
            c.advertised_listeners = check_advertised(text, &c.listeners)?;
        }
        if let Some(dirs) = v.text("log.dirs").or_else(|| v.text("log.dir")) {
            c.log_dirs = dirs.split(',').map(PathBuf::from).collect();
        }
        if let Some(dir) = v.text("metadata.log.dir") {
            c.metadata_log_dir = Some(PathBuf::from(dir));
        }
        v.set(&mut c.num_partitions, "num.partitions")?;
        if let Some(rf) = v.num::<i32>("default.replication.factor")? {
            c.default_replication_factor = i16::try_from(rf).map_err(|_| {
                ConfigError::invalid(
                    "default.replication.factor",
                    &rf.to_string(),
                    "must be at most 32767",
                )
            })?;
        }
        v.set(
            &mut c.auto_create_topics_enable,
            "auto.create.topics.enable",
        )?;
        v.set(&mut c.delete_topic_enable, "delete.topic.enable")?;
        v.set(&mut c.message_max_bytes, "message.max.bytes")?;
        v.set(&mut c.socket_request_max_bytes, "socket.request.max.bytes")?;
        v.set(&mut c.log_segment_bytes, "log.segment.bytes")?;
        c.log_roll_ms = match v.num::<i64>("log.roll.ms")? {
            Some(ms) => ms,
            None => v
                .num::<i64>("log.roll.hours")?
                .map_or(c.log_roll_ms, |h| h * HOUR_MS),
        };
        c.log_retention_ms = retention_ms(&v)?.unwrap_or(c.log_retention_ms);
        v.set(&mut c.log_retention_bytes, "log.retention.bytes")?;
        v.set(
            &mut c.log_retention_check_interval_ms,
            "log.retention.check.interval.ms",
        )?;
        v.set(
            &mut c.log_flush_interval_messages,
            "log.flush.interval.messages",
        )?;
        v.set(
            &mut c.log_flush_interval_ms,
            "log.flush.scheduler.interval.ms",
        )?;
        v.set(&mut c.log_flush_interval_ms, "log.flush.interval.ms")?;
        v.set(&mut c.log_index_interval_bytes, "log.index.interval.bytes")?;
        if let Some(t) = v.canonical("log.message.timestamp.type") {
            c.log_message_timestamp_type = TimestampType::from_canonical(t);
        }
        if let Some(p) = v.canonical("log.cleanup.policy") {
            c.log_cleanup_policy = CleanupPolicy::from_canonical(p);
        }
        v.set(&mut c.min_insync_replicas, "min.insync.replicas")?;
        if let Some(t) = v.canonical("compression.type") {
            c.compression_type = CompressionType::from_canonical(t);
        }
        v.set(&mut c.max_connections, "max.connections")?;
        v.set(&mut c.socket_send_buffer_bytes, "socket.send.buffer.bytes")?;
        v.set(&mut c.connections_max_idle_ms, "connections.max.idle.ms")?;
        v.set(
            &mut c.group_initial_rebalance_delay_ms,
            "group.initial.rebalance.delay.ms",
        )?;
        v.set(
            &mut c.offsets_topic_num_partitions,
            "offsets.topic.num.partitions",
        )?;
        v.set(
            &mut c.transaction_state_log_num_partitions,
            "transaction.state.log.num.partitions",
        )?;
        v.set(
            &mut c.producer_id_expiration_ms,
            "producer.id.expiration.ms",
        )?;
        v.set(
            &mut c.num_recovery_threads_per_data_dir,
            "num.recovery.threads.per.data.dir",
        )?;
        v.set(
            &mut c.producer_id_expiration_check_interval_ms,
            "producer.id.expiration.check.interval.ms",
        )?;
        v.set(
            &mut c.transactional_id_expiration_ms,
            "transactional.id.expiration.ms",
        )?;
        v.set(
            &mut c.transaction_remove_expired_interval_ms,
            "transaction.remove.expired.transaction.cleanup.interval.ms",
        )?;
        v.set(&mut c.log_cleaner_enable, "log.cleaner.enable")?;
        v.set(&mut c.log_cleaner_backoff_ms, "log.cleaner.backoff.ms")?;
        v.set(
            &mut c.log_cleaner_dedupe_buffer_size,
            "log.cleaner.dedupe.buffer.size",
        )?;
        v.set(
            &mut c.log_cleaner_io_max_bytes_per_second,
            "log.cleaner.io.max.bytes.per.second",
        )?;
        v.set(&mut c.flush_on_ack, "milena.flush.on.ack")?;
        let mut https = false;
        if let Some(text) = v.text("milena.http.listener") {
            (c.http_listener, https) = match http_listener(text)? {
                Some((host, port, https)) => (Some((host, port)), https),
                None => (None, false),
            };
        }
        c.http_tls = http_tls(&raw, https)?;
        v.set(&mut c.log_format, "milena.log.format")?;
        v.set(
            &mut c.metrics_partition_series,
            "milena.metrics.partition.series.enable",
        )?;
        v.set(
            &mut c.max_incremental_fetch_session_cache_slots,
            "max.incremental.fetch.session.cache.slots",
        )?;
        c.quorum = super::quorum::quorum_config(
            c.node_id,
            v.text("controller.quorum.voters"),
            v.text("process.roles"),
            v.text("controller.listener.names"),
            &c.listeners,
            v.num::<i64>("broker.heartbeat.interval.ms")?
                .unwrap_or(2000),
            v.num::<i64>("broker.session.timeout.ms")?.unwrap_or(9000),
        )?;
        let controller_names: Vec<String> = v
            .text("controller.listener.names")
            .unwrap_or("")
            .split(',')
            .map(|n| n.trim().to_ascii_uppercase())
            .filter(|n| !n.is_empty())
            .collect();
        let map = v.text("listener.security.protocol.map");
        super::security::resolve_protocols(&mut c.listeners, map, &controller_names)?;
        for a in &mut c.advertised_listeners {
            if let Some(l) = c.listeners.iter().find(|l| l.name == a.name) {
                a.protocol = l.protocol;
            }
        }
        c.authorizer_enabled =
            super::security::authorizer_enabled(v.text("authorizer.class.name"))?;
        c.super_users = v
            .text("super.users")
            .map(crate::security::acl::Authorizer::parse_super_users)
            .unwrap_or_default();
        v.set(
            &mut c.allow_everyone_if_no_acl_found,
            "allow.everyone.if.no.acl.found",
        )?;
        super::security::check_honoured(&raw)?;
        for l in &c.listeners {
            if !l.protocol.uses_tls() {
                continue;
            }
            let settings = super::ssl::SslSettings::for_listener(&raw, &l.name)?;
            c.ssl.insert(l.name.clone(), settings);
        }
        // The controller quorum speaks Milena's own RPC, which has no SASL exchange: a SASL
        // controller listener would run unauthenticated. Mutual TLS authenticates the nodes.
        if let Some(l) = c
            .listeners
            .iter()
            .find(|l| controller_names.contains(&l.name) && l.protocol.uses_sasl())
        {
            return Err(ConfigError::invalid(
                "listener.security.protocol.map",
                map.unwrap_or(super::security::DEFAULT_MAP),
                format!(
                    "the controller listener {} uses {}, which Milena's controller quorum does not serve: use SSL with ssl.client.auth=required to authenticate the nodes to each other",
                    l.name, l.protocol
                ),
            ));
        }
        c.sasl = super::sasl::sasl_settings(&raw, &c.listeners)?;
        if let Some(quorum) = c.quorum.as_mut() {
            // Brokers fetch from each other and send transaction markers on the inter-broker
            // listener, and talk to the controllers on the controller listener, each with its
            // security protocol and this node's login.
            if let Some(l) = c
                .listeners
                .iter()
                .find(|l| l.name == quorum.controller_listener.name)
            {
                quorum.controller_listener.protocol = l.protocol;
            }
            let inter = super::peer::inter_broker_listener(&raw, &c.listeners, &controller_names)?;
            if let Some(inter) = inter {
                c.inter_broker_peer = Some(super::peer::peer_security(
                    &raw,
                    &c.listeners,
                    &c.sasl,
                    &c.ssl,
                    &inter,
                    "sasl.mechanism.inter.broker.protocol",
                )?);
            }
            c.controller_peer = Some(super::peer::peer_security(
                &raw,
                &c.listeners,
                &c.sasl,
                &c.ssl,
                &quorum.controller_listener.name,
                "sasl.mechanism.controller.protocol",
            )?);
        }
        c.raw = raw;
        Ok(c)
    }

    /// The keys set in the file or environment, with their text as written.
    pub fn raw(&self) -> &BTreeMap<String, String> {
        &self.raw
    }

    /// The text of `key` as written, if it was set.
    pub fn raw_value(&self, key: &str) -> Option<&str> {
        self.raw.get(key).map(String::as_str)
    }

    /// Where a broker key's value comes from: the file/environment, or the built-in default.
    pub fn source_of(&self, key: &str) -> ConfigSource {
        if self.raw.contains_key(key) {
            ConfigSource::StaticBroker
        } else {
            ConfigSource::Default
        }
    }

    /// Kafka's synonym chain for a broker key group (`keys[0]` is the key being described, the
    /// rest are lower-precedence spellings such as `log.retention.hours`): static values first,
    /// then defaults, each in key order; like Kafka, everything before the first entry named
    /// `keys[0]` is dropped, so a group whose main key is unset reports no synonyms.
    pub(crate) fn synonym_chain(&self, keys: &[&str]) -> Vec<ConfigSynonym> {
        let mut chain = Vec::new();
        for &key in keys {
            if let Some(value) = self.raw.get(key) {
                chain.push(ConfigSynonym {
                    name: key.to_string(),
                    value: Some(value.clone()),
                    source: ConfigSource::StaticBroker,
                });
            }
        }
        for &key in keys {
            if let Some(default) = broker_key(key).and_then(|k| k.default) {
                chain.push(ConfigSynonym {
                    name: key.to_string(),
                    value: Some(default.to_string()),
                    source: ConfigSource::Default,
                });
            }
        }
        let first = keys.first().copied().unwrap_or_default();
        match chain.iter().position(|s| s.name == first) {
            Some(start) => chain.split_off(start),
            None => Vec::new(),
        }
    }
}

/// Validated values by key: canonical text for recognised keys that were set.
struct Values<'a> {
    raw: &'a BTreeMap<String, String>,
    canon: &'a BTreeMap<&'a str, String>,
}

impl Values<'_> {
    fn canonical(&self, key: &str) -> Option<&str> {
        self.canon.get(key).map(String::as_str)
    }

    /// The trimmed text if not empty, for keys whose structure is parsed here (ids, paths); an
    /// empty value means "not set" for these, as Kafka treats an empty optional string.
    fn text(&self, key: &str) -> Option<&str> {
        self.canonical(key).filter(|s| !s.is_empty())
    }

    fn num<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        match self.canonical(key) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                let raw = self.raw.get(key).map(String::as_str).unwrap_or_default();
                ConfigError::invalid(key, raw, "out of range for this setting")
            }),
        }
    }

    fn set<T: std::str::FromStr>(&self, field: &mut T, key: &str) -> Result<(), ConfigError> {
        if let Some(value) = self.num(key)? {
            *field = value;
        }
        Ok(())
    }
}

/// `log.retention.ms`, else minutes, else hours; any negative result means forever (-1) and 0 is
/// refused, as Kafka does.
fn retention_ms(v: &Values<'_>) -> Result<Option<i64>, ConfigError> {
    let picked = if let Some(ms) = v.num::<i64>("log.retention.ms")? {
        Some(("log.retention.ms", ms))
    } else if let Some(m) = v.num::<i64>("log.retention.minutes")? {
        Some(("log.retention.minutes", m * 60_000))
    } else {
        v.num::<i64>("log.retention.hours")?
            .map(|h| ("log.retention.hours", h * HOUR_MS))
    };
    match picked {
        Some((key, 0)) => Err(ConfigError::invalid(
            key,
            "0",
            "must be -1 (forever) or positive",
        )),
        Some((_, ms)) => Ok(Some(if ms < 0 { -1 } else { ms })),
        None => Ok(None),
    }
}

fn check_advertised(text: &str, listeners: &[Listener]) -> Result<Vec<Listener>, ConfigError> {
    let key = "advertised.listeners";
    let advertised = parse_listeners(key, text)?;
    for l in &advertised {
        if !listeners.iter().any(|b| b.name == l.name) {
            return Err(ConfigError::invalid(
                key,
                text,
                format!("{} is not in listeners", l.name),
            ));
        }
        if matches!(l.host.as_str(), "0.0.0.0" | "::") {
            return Err(ConfigError::invalid(
                key,
                text,
                format!("{l} is a wildcard address clients cannot connect to"),
            ));
        }
    }
    Ok(advertised)
}

/// Kafka cluster ids are 16-byte UUIDs in unpadded URL-safe base64: 22 characters. Keeping that
/// form lets Milena's data directory carry an id Kafka's tools accept.
fn check_cluster_id(id: &str) -> Result<(), ConfigError> {
    let ok = id.len() == 22
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "cluster.id",
            id,
            "must be a 22-character base64 UUID such as the output of kafka-storage.sh random-uuid",
        ))
    }
}

/// `milena.http.listener`: `host:port` (`[v6]:port` for IPv6, an empty host for every
/// interface), optionally after `http://` or `https://`; an empty value turns the listener off.
/// The host, the port and whether it serves HTTPS.
fn http_listener(text: &str) -> Result<Option<(String, u16, bool)>, ConfigError> {
    const KEY: &str = "milena.http.listener";
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (https, address) = match text.split_once("://") {
        None => (false, text),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
        Some(_) => {
            return Err(ConfigError::invalid(
                KEY,
                text,
                "the scheme must be http:// or https://",
            ))
        }
    };
    let text = address;
    let (host, port) = text.rsplit_once(':').ok_or_else(|| {
        ConfigError::invalid(KEY, text, "expected host:port, e.g. 127.0.0.1:9644")
    })?;
    let port: u16 = port.parse().map_err(|_| {
        ConfigError::invalid(KEY, text, "the port must be a number from 0 to 65535")
    })?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.contains(['/', ' '])
        || (host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err())
    {
        return Err(ConfigError::invalid(
            KEY,
            text,
            "the host must be a name or an IP address",
        ));
    }
    Ok(Some((host.to_string(), port, https)))
}

/// The HTTPS settings when `milena.http.listener` is `https://…`. `milena.http.ssl.*` keys on
/// a plain HTTP listener stop start-up (the operator meant HTTPS and would not get it), and so
/// does an HTTPS listener without a keystore.
fn http_tls(
    raw: &BTreeMap<String, String>,
    https: bool,
) -> Result<Option<super::ssl::SslSettings>, ConfigError> {
    use super::ssl::{HTTP_KEYS, HTTP_PREFIX};
    let set: Vec<String> = HTTP_KEYS
        .iter()
        .map(|k| format!("{HTTP_PREFIX}{k}"))
        .filter(|k| raw.get(k).is_some_and(|v| !v.trim().is_empty()))
        .collect();
    if !https {
        return match set.first() {
            Some(key) => Err(ConfigError::invalid(
                key,
                "[not shown]",
                "the HTTP listener serves plain HTTP: set milena.http.listener=https://host:port to serve HTTPS with this keystore",
            )),
            None => Ok(None),
        };
    }
    let has_keystore = set.iter().any(|k| {
        k.ends_with(".ssl.keystore.location")
            || k.ends_with(".ssl.keystore.key")
            || k.ends_with(".ssl.keystore.certificate.chain")
    });
    if !has_keystore {
        let text = raw
            .get("milena.http.listener")
            .map(String::as_str)
            .unwrap_or("");
        return Err(ConfigError::invalid(
            "milena.http.listener",
            text,
            "an https:// listener needs a keystore: set milena.http.ssl.keystore.location (PKCS12, or PEM with milena.http.ssl.keystore.type=PEM) or milena.http.ssl.keystore.key and milena.http.ssl.keystore.certificate.chain",
        ));
    }
    super::ssl::SslSettings::for_http(raw).map(Some)
}

#[cfg(test)]
#[path = "broker_tests.rs"]
mod tests;

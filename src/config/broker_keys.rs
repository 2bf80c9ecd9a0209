//! The table of broker-level keys Milena recognises: Kafka 4.1's names, types and defaults, and two
//! keys of Milena's own (`cluster.id`, `milena.flush.on.ack`, `milena.http.listener`,
//! `milena.log.format`, `milena.metrics.partition.series.enable`).
//!
//! A key in this table is accepted from the file or environment and validated by its type; whether
//! Milena acts on it is up to [`super::BrokerConfig`] (keys such as `num.io.threads` or
//! `num.network.threads` are accepted so that a stock Kafka `server.properties` loads
//! without noise, and ignored). Defaults are Kafka's text except where the comment says Milena
//! chose otherwise (`listener.security.protocol.map` is Kafka's default in the order Kafka prints
//! it). `dynamic` marks keys Kafka lets AlterConfigs change on a running broker; Kafka reports all
//! the others as read-only, whatever their source. Both were checked key by key against Kafka
//! 4.1's DescribeConfigs answer (tests/config_fidelity.rs).

use super::value::ConfigType::{Boolean, Double, Int, List, Long, Password, Short, String as Str};
use super::value::{Check, ConfigType};

/// One broker-level key.
#[derive(Debug)]
pub(crate) struct BrokerKey {
    pub name: &'static str,
    pub kind: ConfigType,
    /// Kafka's default as text; `None` where Kafka has no default (the key is then absent).
    pub default: Option<&'static str>,
    pub check: Check,
    pub dynamic: bool,
    pub doc: &'static str,
}

const fn key(
    name: &'static str,
    kind: ConfigType,
    default: Option<&'static str>,
    check: Check,
    dynamic: bool,
    doc: &'static str,
) -> BrokerKey {
    BrokerKey {
        name,
        kind,
        default,
        check,
        dynamic,
        doc,
    }
}

pub(crate) const LONG_MAX: &str = "9223372036854775807";
pub(crate) const INT_MAX: &str = "2147483647";
const CLEANUP_POLICIES: &[&str] = &["compact", "delete"];
pub(crate) const COMPRESSION_TYPES: &[&str] =
    &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
pub(crate) const TIMESTAMP_TYPES: &[&str] = &["CreateTime", "LogAppendTime"];
/// zstd accepts negative "fast" levels down to -(1 << 17).
pub(crate) const ZSTD_LEVELS: Check = Check::Between(-131072, 22);
pub(crate) const LZ4_LEVELS: Check = Check::Between(1, 17);

use Check::{Any, AtLeast};

/// Every broker key Milena recognises, grouped as in Kafka's documentation.
pub(crate) static BROKER_KEYS: &[BrokerKey] = &[
    // Identity and KRaft roles. Milena runs as a combined broker+controller. With
    // controller.quorum.voters set the node joins that cluster (config/quorum.rs).
    // Milena default: node 1 (Kafka has no default and refuses to start without one).
    key("node.id", Int, Some("1"), AtLeast(0), false, "Identifier of this node in the cluster."),
    key("broker.id", Int, None, AtLeast(0), false, "Older name of node.id; used only when node.id is absent."),
    key("cluster.id", Str, None, Any, false, "Milena: fixed cluster id (22-character base64 UUID); generated and stored on first start when absent."),
    key("process.roles", List, Some(""), Check::ListOf(&["broker", "controller"]), false, "KRaft roles of this process; Milena nodes are always broker,controller (combined mode)."),
    key("controller.quorum.voters", List, Some(""), Any, false, "The controller quorum as id@host:port,...; set: cluster mode, every node a voter. Empty: a single node."),
    key("controller.quorum.bootstrap.servers", List, Some(""), Any, false, "Controller endpoints to bootstrap from (accepted, ignored)."),
    key("controller.listener.names", Str, None, Any, false, "The listener (of listeners) the controller quorum uses; required with controller.quorum.voters."),
    key("metadata.log.dir", Str, None, Any, false, "Directory of the Raft metadata log (cluster mode); default: the first log dir."),
    key("broker.heartbeat.interval.ms", Int, Some("2000"), AtLeast(1), false, "How often a broker heartbeats to the active controller (cluster mode)."),
    key("broker.session.timeout.ms", Int, Some("9000"), AtLeast(1), false, "A broker that has not heartbeated for this long is fenced: it leaves every ISR and loses its leaderships."),
    key("broker.rack", Str, None, Any, false, "Rack of this broker, for rack-aware placement."),
    // Network.
    key("listeners", Str, Some("PLAINTEXT://:9092"), Any, true, "Comma-separated NAME://host:port addresses to listen on; an empty host means all interfaces."),
    key("advertised.listeners", Str, None, Any, false, "Addresses given to clients in metadata; defaults to the listeners."),
    key("listener.security.protocol.map", Str, Some("SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"), Any, true, "Security protocol of each listener name; a listener missing from it is an error (a controller listener is PLAINTEXT while the map is the default)."),
    key("authorizer.class.name", Str, Some(""), Any, false, "The authorizer: empty (none), or org.apache.kafka.metadata.authorizer.StandardAuthorizer to check every request against the ACLs."),
    key("super.users", Str, None, Any, false, "Principals (User:name, separated by ';') the authorizer allows everything."),
    key("allow.everyone.if.no.acl.found", Boolean, Some("false"), Any, false, "With an authorizer: allow an action on a resource that has no ACL at all."),
    key("inter.broker.listener.name", Str, None, Any, false, "Listener whose endpoint other brokers use (replication, transaction markers); default: the one named by security.inter.broker.protocol, else the first."),
    key("num.network.threads", Int, Some("3"), AtLeast(1), true, "Network thread count (accepted, ignored: Milena uses async tasks)."),
    key("num.io.threads", Int, Some("8"), AtLeast(1), true, "Request handler thread count (accepted, ignored)."),
    key("background.threads", Int, Some("10"), AtLeast(1), true, "Background thread count (accepted, ignored)."),
    key("queued.max.requests", Int, Some("500"), AtLeast(1), false, "Queued request bound (accepted, ignored)."),
    key("socket.send.buffer.bytes", Int, Some("102400"), Any, false, "SO_SNDBUF of client connections; -1 leaves the OS default (autotuned)."),
    key("socket.receive.buffer.bytes", Int, Some("102400"), Any, false, "SO_RCVBUF for client sockets (accepted, ignored: the autotuned receive buffer is kept; at 100 KiB it slowed produce, see bench/README.md)."),
    key("socket.request.max.bytes", Int, Some("104857600"), AtLeast(1), false, "Largest request frame accepted; bigger frames close the connection."),
    key("max.connections", Int, Some(INT_MAX), AtLeast(0), true, "Most client connections open at once."),
    key("connections.max.idle.ms", Long, Some("600000"), Any, false, "Idle connections are closed after this long."),
    // TLS (SSL and SASL_SSL listeners; see config/ssl.rs). Each may also be given for one listener
    // as listener.name.<listener>.<key>. Passwords are Password keys: DescribeConfigs hides them.
    key("ssl.keystore.type", Str, Some("JKS"), Any, true, "Keystore format: PKCS12 or PEM (a JKS-typed file that is PKCS12 inside, as keytool writes, is read too)."),
    key("ssl.keystore.location", Str, None, Any, true, "Keystore file with the listener's private key and certificate chain."),
    key("ssl.keystore.password", Password, None, Any, true, "Password of the keystore file."),
    key("ssl.key.password", Password, None, Any, true, "Password of the private key (PKCS12: defaults to the keystore password; PEM: decrypts an encrypted PKCS#8 key)."),
    key("ssl.keystore.key", Password, None, Any, true, "PEM private key given inline (ssl.keystore.type=PEM)."),
    key("ssl.keystore.certificate.chain", Password, None, Any, true, "PEM certificate chain given inline (ssl.keystore.type=PEM)."),
    key("ssl.truststore.type", Str, Some("JKS"), Any, true, "Truststore format: PKCS12 or PEM."),
    key("ssl.truststore.location", Str, None, Any, true, "Truststore file with the CA certificates client certificates are checked against."),
    key("ssl.truststore.password", Password, None, Any, true, "Password of the truststore file."),
    key("ssl.truststore.certificates", Password, None, Any, true, "PEM CA certificates given inline (ssl.truststore.type=PEM)."),
    key("ssl.client.auth", Str, Some("none"), Check::OneOf(&["required", "requested", "none"]), true, "Client certificates: required (mutual TLS), requested (checked when sent), or none."),
    key("ssl.enabled.protocols", List, Some("TLSv1.2,TLSv1.3"), Any, true, "TLS versions accepted: TLSv1.2 and TLSv1.3 (older ones stop start-up)."),
    key("ssl.protocol", Str, Some("TLSv1.3"), Any, true, "Highest TLS version the SSL context is made for (TLSv1.2, TLSv1.3 or TLS)."),
    key("ssl.cipher.suites", List, Some(""), Any, true, "Cipher suites allowed, by their IANA names; empty allows all that rustls offers."),
    key("ssl.endpoint.identification.algorithm", Str, Some("https"), Any, true, "Host name check of the peer certificate on client connections (a broker does not check client host names)."),
    key("ssl.principal.mapping.rules", Str, Some("DEFAULT"), Any, false, "Rules mapping a client certificate's RFC 2253 subject to a principal name: DEFAULT (the whole subject) or RULE:pattern/replacement/[LU], tried in order."),
    key("ssl.keymanager.algorithm", Str, Some("SunX509"), Any, true, "Java key manager algorithm (accepted, ignored: Milena has one key manager)."),
    key("ssl.trustmanager.algorithm", Str, Some("PKIX"), Any, true, "Java trust manager algorithm (accepted, ignored: Milena checks chains as PKIX does)."),
    key("ssl.secure.random.implementation", Str, None, Any, true, "Java SecureRandom algorithm (accepted, ignored: rustls draws from the operating system)."),
    // SASL (config/sasl.rs). GSSAPI, Kafka's default, is not served: a SASL listener needs these set.
    key("sasl.enabled.mechanisms", List, Some("GSSAPI"), Any, true, "SASL mechanisms the SASL listeners offer; Milena serves PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512."),
    key("sasl.mechanism.inter.broker.protocol", Str, Some("GSSAPI"), Any, true, "SASL mechanism a broker logs in to other brokers' SASL inter-broker listener with: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."),
    key("sasl.mechanism.controller.protocol", Str, Some("GSSAPI"), Any, false, "SASL mechanism for the controller listener (Milena's controller listener serves PLAINTEXT or SSL, not SASL)."),
    key("connections.max.reauth.ms", Long, Some("0"), Any, false, "Lifetime of an authenticated SASL session (KIP-368); a client must re-authenticate before it ends. 0: no limit."),
    key("connection.failed.authentication.delay.ms", Int, Some("100"), AtLeast(0), false, "Delay of the answer to a failed authentication, before the connection closes."),
    // Log directories and topic defaults.
    // Milena default: ./data (Kafka's is /tmp/kafka-logs, which many systems wipe at boot).
    key("log.dir", List, Some("./data"), Check::NonEmptyUniqueList, false, "Data directory, used when log.dirs is absent."),
    key("log.dirs", List, None, Check::NonEmptyUniqueList, false, "Comma-separated data directories."),
    key("num.partitions", Int, Some("1"), AtLeast(1), false, "Partition count of auto-created topics and of CreateTopics without a count."),
    key("default.replication.factor", Int, Some("1"), AtLeast(1), false, "Replication factor of auto-created topics and of CreateTopics without one."),
    key("auto.create.topics.enable", Boolean, Some("true"), Any, false, "Create a topic when a client asks for metadata of or produces to an unknown one."),
    key("delete.topic.enable", Boolean, Some("true"), Any, false, "Allow DeleteTopics."),
    key("message.max.bytes", Int, Some("1048588"), AtLeast(0), true, "Largest record batch accepted; default of max.message.bytes."),
    key("log.segment.bytes", Int, Some("1073741824"), AtLeast(1048576), true, "Segment size before rolling; default of segment.bytes."),
    key("log.roll.ms", Long, None, AtLeast(1), true, "Segment age before rolling; wins over log.roll.hours."),
    key("log.roll.hours", Int, Some("168"), AtLeast(1), false, "Segment age before rolling, in hours."),
    key("log.roll.jitter.ms", Long, None, AtLeast(0), true, "Random slack subtracted from the roll time; wins over log.roll.jitter.hours."),
    key("log.roll.jitter.hours", Int, Some("0"), AtLeast(0), false, "Random roll slack, in hours."),
    key("log.retention.ms", Long, None, Any, true, "How long to keep data; -1 keeps it forever. Wins over minutes and hours."),
    key("log.retention.minutes", Int, None, Any, false, "Retention in minutes; wins over log.retention.hours."),
    key("log.retention.hours", Int, Some("168"), Any, false, "Retention in hours."),
    key("log.retention.bytes", Long, Some("-1"), Any, true, "Size a partition may reach before old segments go; -1 means no limit."),
    key("log.retention.check.interval.ms", Long, Some("300000"), AtLeast(1), false, "How often retention is enforced."),
    key("log.cleanup.policy", List, Some("delete"), Check::ListOf(CLEANUP_POLICIES), true, "Default cleanup policy: delete, compact, or both."),
    key("log.index.size.max.bytes", Int, Some("10485760"), AtLeast(4), true, "Largest offset index file; default of segment.index.bytes."),
    key("log.index.interval.bytes", Int, Some("4096"), AtLeast(0), true, "Bytes of log between offset index entries."),
    key("log.flush.interval.messages", Long, Some(LONG_MAX), AtLeast(1), true, "Messages appended before a forced fsync."),
    key("log.flush.interval.ms", Long, None, Any, true, "Time data may wait before a forced fsync; falls back to log.flush.scheduler.interval.ms."),
    key("log.flush.scheduler.interval.ms", Long, Some(LONG_MAX), Any, false, "How often the flusher checks for logs to fsync."),
    key("log.flush.offset.checkpoint.interval.ms", Int, Some("60000"), AtLeast(0), false, "How often recovery points are checkpointed."),
    key("log.flush.start.offset.checkpoint.interval.ms", Int, Some("60000"), AtLeast(0), false, "How often log start offsets are checkpointed."),
    key("log.segment.delete.delay.ms", Long, Some("60000"), AtLeast(0), true, "Delay before a deleted segment's files are removed."),
    key("log.preallocate", Boolean, Some("false"), Any, true, "Preallocate segment files."),
    key("log.message.timestamp.type", Str, Some("CreateTime"), Check::OneOf(TIMESTAMP_TYPES), true, "Default timestamp type of records: producer's CreateTime or broker's LogAppendTime."),
    key("log.message.timestamp.before.max.ms", Long, Some(LONG_MAX), AtLeast(0), true, "How far in the past a CreateTime timestamp may be."),
    key("log.message.timestamp.after.max.ms", Long, Some("3600000"), AtLeast(0), true, "How far in the future a CreateTime timestamp may be."),
    key("log.local.retention.ms", Long, Some("-2"), AtLeast(-2), true, "Local retention with tiered storage; -2 means use retention.ms."),
    key("log.local.retention.bytes", Long, Some("-2"), AtLeast(-2), true, "Local size limit with tiered storage; -2 means use retention.bytes."),
    key("num.recovery.threads.per.data.dir", Int, Some("2"), AtLeast(1), true, "Threads opening and recovering partition logs at start and at topic creation."),
    key("compression.type", Str, Some("producer"), Check::OneOf(COMPRESSION_TYPES), true, "Default final compression of topics; producer keeps the producer's codec."),
    key("compression.gzip.level", Int, Some("-1"), Check::GzipLevel, true, "gzip level when the broker compresses."),
    key("compression.lz4.level", Int, Some("9"), LZ4_LEVELS, true, "lz4 level when the broker compresses."),
    key("compression.zstd.level", Int, Some("3"), ZSTD_LEVELS, true, "zstd level when the broker compresses."),
    key("min.insync.replicas", Int, Some("1"), AtLeast(1), true, "Replicas that must have a write before acks=all succeeds."),
    key("unclean.leader.election.enable", Boolean, Some("false"), Any, true, "Allow an out-of-sync replica to become leader."),
    key("auto.leader.rebalance.enable", Boolean, Some("true"), Any, false, "Move leadership back to preferred replicas."),
    key("replica.lag.time.max.ms", Long, Some("30000"), Any, false, "A follower silent this long leaves the ISR."),
    key("num.replica.fetchers", Int, Some("1"), Any, true, "Fetcher threads per source broker (accepted, ignored)."),
    key("max.incremental.fetch.session.cache.slots", Int, Some("1000"), AtLeast(0), false, "Fetch sessions (KIP-227) the broker keeps; 0 serves every fetch sessionless."),
    // Log cleaner (compaction).
    key("log.cleaner.enable", Boolean, Some("true"), Any, false, "Run the log cleaner (accepted; compaction follows cleanup.policy)."),
    key("log.cleaner.threads", Int, Some("1"), AtLeast(0), true, "Cleaner thread count."),
    key("log.cleaner.dedupe.buffer.size", Long, Some("134217728"), Any, true, "Memory for compaction deduplication."),
    key("log.cleaner.backoff.ms", Long, Some("15000"), AtLeast(0), true, "Cleaner sleep when there is nothing to clean."),
    key("log.cleaner.io.max.bytes.per.second", Double, Some("1.7976931348623157E308"), Any, true, "I/O the cleaner may do per second, reads and writes together."),
    key("log.cleaner.delete.retention.ms", Long, Some("86400000"), AtLeast(0), true, "How long tombstones survive compaction."),
    key("log.cleaner.min.compaction.lag.ms", Long, Some("0"), AtLeast(0), true, "Minimum age before a record may be compacted."),
    key("log.cleaner.max.compaction.lag.ms", Long, Some(LONG_MAX), AtLeast(1), true, "Maximum age before a record must be eligible for compaction."),
    key("log.cleaner.min.cleanable.ratio", Double, Some("0.5"), Check::Fraction(0.0, 1.0), true, "Dirty share of a log that triggers compaction."),
    // Group and transaction coordinators.
    key("group.initial.rebalance.delay.ms", Int, Some("3000"), Any, false, "Wait for more members before the first rebalance of an empty group."),
    key("group.min.session.timeout.ms", Int, Some("6000"), Any, false, "Smallest session timeout a member may ask for."),
    key("group.max.session.timeout.ms", Int, Some("1800000"), Any, false, "Largest session timeout a member may ask for."),
    key("group.consumer.session.timeout.ms", Int, Some("45000"), AtLeast(1), false, "Session timeout of consumer-protocol (KIP-848) group members, within the min/max bounds."),
    key("group.consumer.min.session.timeout.ms", Int, Some("45000"), AtLeast(1), false, "Lower bound of group.consumer.session.timeout.ms."),
    key("group.consumer.max.session.timeout.ms", Int, Some("60000"), AtLeast(1), false, "Upper bound of group.consumer.session.timeout.ms."),
    key("group.consumer.heartbeat.interval.ms", Int, Some("5000"), AtLeast(1), false, "Heartbeat interval given to consumer-protocol group members, within the min/max bounds."),
    key("group.consumer.min.heartbeat.interval.ms", Int, Some("5000"), AtLeast(1), false, "Lower bound of group.consumer.heartbeat.interval.ms."),
    key("group.consumer.max.heartbeat.interval.ms", Int, Some("15000"), AtLeast(1), false, "Upper bound of group.consumer.heartbeat.interval.ms."),
    key("group.consumer.max.size", Int, Some(INT_MAX), AtLeast(1), false, "Most members of one consumer-protocol group."),
    key("offsets.topic.num.partitions", Int, Some("50"), AtLeast(1), false, "Partitions of __consumer_offsets."),
    key("offsets.topic.replication.factor", Short, Some("3"), AtLeast(1), false, "Replication factor of __consumer_offsets (1 on a single node; a cluster creates it once that many brokers are live)."),
    key("offsets.retention.minutes", Int, Some("10080"), AtLeast(1), false, "How long committed offsets of an empty group are kept."),
    key("transaction.state.log.num.partitions", Int, Some("50"), AtLeast(1), false, "Partitions of __transaction_state."),
    key("transaction.state.log.replication.factor", Short, Some("3"), AtLeast(1), false, "Replication factor of __transaction_state (1 in Milena until its coordinator moves with leadership)."),
    key("transaction.state.log.min.isr", Int, Some("2"), AtLeast(1), false, "min.insync.replicas of __transaction_state."),
    key("transaction.max.timeout.ms", Int, Some("900000"), AtLeast(1), false, "Largest transaction timeout a producer may ask for."),
    key("transaction.abort.timed.out.transaction.cleanup.interval.ms", Int, Some("10000"), AtLeast(1), false, "How often transactions past their timeout are looked for and aborted."),
    key("transactional.id.expiration.ms", Int, Some("604800000"), AtLeast(1), false, "Idle time after which a transactional id is forgotten."),
    key("transaction.remove.expired.transaction.cleanup.interval.ms", Int, Some("3600000"), AtLeast(1), false, "How often transactional ids idle past transactional.id.expiration.ms are looked for and removed."),
    key("producer.id.expiration.ms", Int, Some("86400000"), AtLeast(1), true, "Idle time after which a partition forgets an idempotent producer with no open transaction."),
    key("share.coordinator.state.topic.replication.factor", Short, Some("3"), AtLeast(1), false, "Replication factor of __share_group_state (accepted, ignored)."),
    key("share.coordinator.state.topic.min.isr", Short, Some("2"), AtLeast(1), false, "min.insync.replicas of __share_group_state (accepted, ignored)."),
    // Milena's own.
    key("milena.flush.on.ack", Boolean, Some("false"), Any, false, "Milena: fsync before acknowledging a produce; fsyncs of concurrent appends are grouped."),
    // Off by default: several brokers on one host (tests, config/server-1..3) would fight over
    // one port, and an HTTP port is something an operator opens on purpose.
    key("milena.http.listener", Str, Some(""), Any, false, "Milena: host:port (or http://host:port, https://host:port) of the HTTP listener serving Prometheus /metrics and the web console (empty host: every interface); empty: no HTTP listener."),
    // HTTPS on the HTTP listener (milena.http.listener=https://host:port): the keystore keys
    // of an SSL listener under milena.http. (config/ssl.rs reads them; no default, so unset
    // ones are not reported).
    key("milena.http.ssl.keystore.type", Str, None, Any, false, "Milena: keystore format of the HTTPS listener: PKCS12 (default; JKS-typed PKCS12 files too) or PEM."),
    key("milena.http.ssl.keystore.location", Str, None, Any, false, "Milena: keystore file with the HTTPS listener's private key and certificate chain."),
    key("milena.http.ssl.keystore.password", Password, None, Any, false, "Milena: password of the HTTPS listener's keystore file."),
    key("milena.http.ssl.key.password", Password, None, Any, false, "Milena: password of the HTTPS listener's private key (PKCS12: defaults to the keystore password; PEM: decrypts an encrypted PKCS#8 key)."),
    key("milena.http.ssl.keystore.key", Password, None, Any, false, "Milena: PEM private key of the HTTPS listener given inline (milena.http.ssl.keystore.type=PEM)."),
    key("milena.http.ssl.keystore.certificate.chain", Password, None, Any, false, "Milena: PEM certificate chain of the HTTPS listener given inline (milena.http.ssl.keystore.type=PEM)."),
    key("milena.log.format", Str, Some("text"), Check::OneOf(crate::logging::LOG_FORMATS), false, "Milena: the broker's log on stderr: text (human), json (one object a line, for log shippers) or kafka (Kafka's log4j layout)."),
    key("milena.metrics.partition.series.enable", Boolean, Some("true"), Any, false, "Milena: /metrics has per-partition series (log size, start and end offsets, consumer lag); false keeps only per-topic and per-group totals."),
];

/// Kafka's internal broker keys (`defineInternal`): accepted and validated like the others, but
/// DescribeConfigs does not report them, as Kafka does not.
pub(crate) static INTERNAL_KEYS: &[BrokerKey] = &[
    key(
        "producer.id.expiration.check.interval.ms",
        Int,
        Some("600000"),
        AtLeast(1),
        false,
        "How often producers idle past producer.id.expiration.ms are looked for and forgotten.",
    ),
    key(
        "sasl.server.max.receive.size",
        Int,
        Some("524288"),
        AtLeast(1),
        false,
        "Largest request accepted before SASL authentication completes.",
    ),
];

/// Keys Kafka 4.1 no longer defines that old files still carry; harmless, so accepted in silence,
/// kept in the raw map, and not reported by DescribeConfigs (Kafka would not report them either).
pub(crate) static LEGACY_KEYS: &[&str] = &[
    "zookeeper.connect",
    "zookeeper.connection.timeout.ms",
    "zookeeper.session.timeout.ms",
    "inter.broker.protocol.version",
    "log.message.format.version",
    "log.message.downconversion.enable",
    "log.message.timestamp.difference.max.ms",
];

/// Looks up a broker key.
pub(crate) fn broker_key(name: &str) -> Option<&'static BrokerKey> {
    BROKER_KEYS
        .iter()
        .chain(INTERNAL_KEYS)
        .find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::value::canonical;

    #[test]
    fn names_are_unique() {
        let all: Vec<&BrokerKey> = BROKER_KEYS.iter().chain(INTERNAL_KEYS).collect();
        for (n, k) in all.iter().enumerate() {
            assert!(
                all[..n].iter().all(|o| o.name != k.name),
                "{} twice",
                k.name
            );
            assert!(!LEGACY_KEYS.contains(&k.name), "{} is also legacy", k.name);
        }
    }

    #[test]
    fn defaults_pass_their_own_validation_and_are_canonical() {
        for k in BROKER_KEYS.iter().chain(INTERNAL_KEYS) {
            if let Some(default) = k.default {
                let canon = canonical(k.name, k.kind, k.check, default)
                    .unwrap_or_else(|e| panic!("default of {}: {e}", k.name));
                assert_eq!(canon, default, "default of {} is not canonical", k.name);
            }
        }
    }
}

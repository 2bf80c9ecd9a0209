//! The table of topic-level configs of Apache Kafka 4.1 (its `LogConfig`), with types, defaults,
//! validators and broker-level synonyms.
//!
//! Synonyms are listed in Kafka's precedence order: when a topic has no override, the first synonym
//! set on the broker gives the value (converted from minutes or hours where the key says so), and
//! the first synonym is also the name Kafka's documentation gives as "server default property".
//! `message.downconversion.enable` and `message.format.version` are gone from 4.x topic configs, so a
//! request naming them is refused as unknown, as Kafka does.

use super::broker_keys::{COMPRESSION_TYPES, LONG_MAX, LZ4_LEVELS, TIMESTAMP_TYPES, ZSTD_LEVELS};
use super::value::ConfigType::{Boolean, Double, Int, List, Long, String as Str};
use super::value::{Check, ConfigType};

/// How a broker synonym's value converts to the topic config's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Same,
    MinutesToMs,
    HoursToMs,
}

/// A broker key that supplies a topic config's value when the topic has no override.
#[derive(Debug)]
pub(crate) struct Synonym {
    pub key: &'static str,
    pub unit: Unit,
}

/// One topic-level config.
#[derive(Debug)]
pub(crate) struct TopicDef {
    pub name: &'static str,
    pub kind: ConfigType,
    pub default: &'static str,
    pub check: Check,
    pub synonyms: &'static [Synonym],
    pub doc: &'static str,
}

const fn same(key: &'static str) -> Synonym {
    Synonym {
        key,
        unit: Unit::Same,
    }
}

const fn def(
    name: &'static str,
    kind: ConfigType,
    default: &'static str,
    check: Check,
    synonyms: &'static [Synonym],
    doc: &'static str,
) -> TopicDef {
    TopicDef {
        name,
        kind,
        default,
        check,
        synonyms,
        doc,
    }
}

use Check::{Any, AtLeast};

/// Every Kafka 4.1 topic config, sorted by name (the order DescribeConfigs answers use).
pub(crate) static TOPIC_DEFS: &[TopicDef] = &[
    def("cleanup.policy", List, "delete", Check::ListOf(&["compact", "delete"]), &[same("log.cleanup.policy")],
        "What happens to old segments: delete drops them by time or size, compact keeps the latest record per key; both may be listed."),
    def("compression.gzip.level", Int, "-1", Check::GzipLevel, &[same("compression.gzip.level")],
        "gzip level used when compression.type is gzip."),
    def("compression.lz4.level", Int, "9", LZ4_LEVELS, &[same("compression.lz4.level")],
        "lz4 level used when compression.type is lz4."),
    def("compression.type", Str, "producer", Check::OneOf(COMPRESSION_TYPES), &[same("compression.type")],
        "Codec of batches as stored; producer keeps whatever the producer sent, uncompressed stores them plain."),
    def("compression.zstd.level", Int, "3", ZSTD_LEVELS, &[same("compression.zstd.level")],
        "zstd level used when compression.type is zstd."),
    def("delete.retention.ms", Long, "86400000", AtLeast(0), &[same("log.cleaner.delete.retention.ms")],
        "How long tombstones stay readable in a compacted topic, so slow readers still see deletions."),
    def("file.delete.delay.ms", Long, "60000", AtLeast(0), &[same("log.segment.delete.delay.ms")],
        "Delay between dropping a segment from the log and removing its files."),
    def("flush.messages", Long, LONG_MAX, AtLeast(1), &[same("log.flush.interval.messages")],
        "Force an fsync after this many appended messages; the default leaves flushing to the OS."),
    def("flush.ms", Long, LONG_MAX, AtLeast(0), &[same("log.flush.interval.ms"), same("log.flush.scheduler.interval.ms")],
        "Force an fsync when unflushed data is this old; the default leaves flushing to the OS."),
    def("follower.replication.throttled.replicas", List, "", Check::ThrottledReplicas, &[],
        "Replicas (partition:broker, or *) whose follower-side replication is throttled."),
    def("index.interval.bytes", Int, "4096", AtLeast(0), &[same("log.index.interval.bytes")],
        "Bytes of log between two offset index entries."),
    def("leader.replication.throttled.replicas", List, "", Check::ThrottledReplicas, &[],
        "Replicas (partition:broker, or *) whose leader-side replication is throttled."),
    def("local.retention.bytes", Long, "-2", AtLeast(-2), &[same("log.local.retention.bytes")],
        "With tiered storage, size kept on local disk; -2 means retention.bytes."),
    def("local.retention.ms", Long, "-2", AtLeast(-2), &[same("log.local.retention.ms")],
        "With tiered storage, time kept on local disk; -2 means retention.ms."),
    def("max.compaction.lag.ms", Long, LONG_MAX, AtLeast(1), &[same("log.cleaner.max.compaction.lag.ms")],
        "Longest a record may stay uncompacted."),
    def("max.message.bytes", Int, "1048588", AtLeast(0), &[same("message.max.bytes")],
        "Largest record batch the topic accepts, after compression."),
    def("message.timestamp.after.max.ms", Long, "3600000", AtLeast(0), &[same("log.message.timestamp.after.max.ms")],
        "With CreateTime, how far ahead of the broker clock a batch timestamp may be."),
    def("message.timestamp.before.max.ms", Long, LONG_MAX, AtLeast(0), &[same("log.message.timestamp.before.max.ms")],
        "With CreateTime, how far behind the broker clock a batch timestamp may be."),
    def("message.timestamp.type", Str, "CreateTime", Check::OneOf(TIMESTAMP_TYPES), &[same("log.message.timestamp.type")],
        "Whether record timestamps are the producer's (CreateTime) or the broker's append time (LogAppendTime)."),
    def("min.cleanable.dirty.ratio", Double, "0.5", Check::Fraction(0.0, 1.0), &[same("log.cleaner.min.cleanable.ratio")],
        "Share of uncompacted log that makes the cleaner compact a partition."),
    def("min.compaction.lag.ms", Long, "0", AtLeast(0), &[same("log.cleaner.min.compaction.lag.ms")],
        "Shortest time a record stays uncompacted."),
    def("min.insync.replicas", Int, "1", AtLeast(1), &[same("min.insync.replicas")],
        "In-sync replicas needed before an acks=all write succeeds."),
    def("preallocate", Boolean, "false", Any, &[same("log.preallocate")],
        "Reserve a segment's full size on disk when it is created."),
    def("remote.log.copy.disable", Boolean, "false", Any, &[],
        "With tiered storage, stop copying new segments to remote storage."),
    def("remote.log.delete.on.disable", Boolean, "false", Any, &[],
        "With tiered storage, delete remote data when tiering is turned off."),
    def("remote.storage.enable", Boolean, "false", Any, &[],
        "Tier old segments to remote storage (not supported by Milena)."),
    def("retention.bytes", Long, "-1", Any, &[same("log.retention.bytes")],
        "Size a partition may reach before its oldest segments are deleted; -1 means no limit."),
    def("retention.ms", Long, "604800000", AtLeast(-1), &[
            same("log.retention.ms"),
            Synonym { key: "log.retention.minutes", unit: Unit::MinutesToMs },
            Synonym { key: "log.retention.hours", unit: Unit::HoursToMs },
        ],
        "How long a segment is kept after its newest record; -1 keeps data forever."),
    def("segment.bytes", Int, "1073741824", AtLeast(1048576), &[same("log.segment.bytes")],
        "Size at which the active segment is rolled."),
    def("segment.index.bytes", Int, "10485760", AtLeast(4), &[same("log.index.size.max.bytes")],
        "Size of a segment's offset index; the segment rolls when it fills."),
    def("segment.jitter.ms", Long, "0", AtLeast(0), &[
            same("log.roll.jitter.ms"),
            Synonym { key: "log.roll.jitter.hours", unit: Unit::HoursToMs },
        ],
        "Random amount taken off segment.ms so that segments do not all roll at once."),
    def("segment.ms", Long, "604800000", AtLeast(1), &[
            same("log.roll.ms"),
            Synonym { key: "log.roll.hours", unit: Unit::HoursToMs },
        ],
        "Age at which the active segment is rolled even if not full."),
    def("unclean.leader.election.enable", Boolean, "false", Any, &[same("unclean.leader.election.enable")],
        "Let an out-of-sync replica become leader, trading lost data for availability."),
];

/// Looks up a topic config by name.
pub(crate) fn topic_def(name: &str) -> Option<&'static TopicDef> {
    TOPIC_DEFS.iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::broker_keys::broker_key;
    use crate::config::value::canonical;

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in TOPIC_DEFS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} before {}",
                pair[0].name,
                pair[1].name
            );
        }
        assert_eq!(TOPIC_DEFS.len(), 33);
    }

    #[test]
    fn defaults_are_valid_and_canonical() {
        for d in TOPIC_DEFS {
            let canon = canonical(d.name, d.kind, d.check, d.default)
                .unwrap_or_else(|e| panic!("default of {}: {e}", d.name));
            assert_eq!(canon, d.default, "{}", d.name);
        }
    }

    #[test]
    fn every_synonym_is_a_known_broker_key_whose_default_agrees() {
        for d in TOPIC_DEFS {
            for s in d.synonyms {
                let key = broker_key(s.key)
                    .unwrap_or_else(|| panic!("{} synonym {} unknown", d.name, s.key));
                if s.unit == Unit::Same {
                    if let Some(default) = key.default {
                        assert_eq!(default, d.default, "{} vs {}", d.name, s.key);
                    }
                }
            }
        }
    }
}

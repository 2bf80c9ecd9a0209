//! Kafka's onPartitionsDeleted: committed offsets go with their topic.

use super::records::GroupRecord;
use super::GroupCoordinator;
use crate::broker::Broker;
use crate::partition::manager::now_ms;

impl GroupCoordinator {
    /// Kafka's onPartitionsDeleted: the committed offsets of topics no longer in the metadata are
    /// deleted (tombstones in `__consumer_offsets`) from every group this broker coordinates, so
    /// a topic created again under the same name is read from `auto.offset.reset`, not from the
    /// old topic's positions. Called after each metadata change is applied; it walks the offsets
    /// only when a topic was removed or a partition loaded since the last walk that left none.
    pub fn remove_offsets_of_deleted_topics(&self, broker: &Broker) {
        let image = broker.image();
        let state = (
            image.topics_removed,
            self.loads.load(std::sync::atomic::Ordering::Acquire),
        );
        let checked = || {
            self.deleted_topics_checked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
        };
        if *checked() == state {
            return;
        }
        let mut all_written = true;
        for mut inner in self.each_shard() {
            if !inner.loaded {
                continue;
            }
            let gone: Vec<(String, Vec<GroupRecord>)> = inner
                .offsets
                .iter()
                .filter_map(|(group, offsets)| {
                    let records: Vec<GroupRecord> = offsets
                        .keys()
                        .filter(|(topic, _)| image.topic(topic).is_none())
                        .map(|(topic, partition)| GroupRecord::Offset {
                            group: group.clone(),
                            topic: topic.clone(),
                            partition: *partition,
                            value: None,
                        })
                        .collect();
                    (!records.is_empty()).then(|| (group.clone(), records))
                })
                .collect();
            for (group, records) in gone {
                if let Err(code) = self.write(broker, &group, &records) {
                    tracing::warn!(%group, error_code = code, "cannot delete the committed offsets of deleted topics; tried again at the next metadata change");
                    all_written = false;
                    continue;
                }
                let now = now_ms();
                for record in records {
                    inner.apply(record, now);
                }
            }
        }
        if all_written {
            *checked() = state;
        }
    }
}

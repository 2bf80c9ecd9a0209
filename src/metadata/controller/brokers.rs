//! Broker registration, fencing and leader election as pure functions of the image, in the
//! manner of Kafka's ClusterControlManager and ReplicationControlManager. Each returns the
//! records of one atomic change; the active controller commits them as one batch. Every
//! partition change goes through [`PartitionChangeBuilder`] (ELR and election order there).
//!
//! Invariants kept for every partition (checked by the randomized test below):
//! - the ISR is a subset of the replicas; it is empty only with no leader (the ELR or
//!   LastKnownElr then say who may lead; both are empty once the last member shut down
//!   uncleanly, and only an unclean election brings such a partition back);
//! - the ISR and the ELR never share a member;
//! - the leader is a member of the ISR, or there is no leader; it is live unless it was
//!   elected as the last known leader (Kafka elects that one without asking);
//! - leader and partition epochs only grow; a leader change bumps the leader epoch.

use uuid::Uuid;

use super::partition_change::{ElectionPolicy, PartitionChangeBuilder};
use crate::metadata::image::NO_LEADER;
use crate::metadata::record::BrokerEndpoint;
use crate::metadata::{MetadataImage, MetadataRecord, TopicImage};

/// A topic's election settings, resolved by the caller from the topic's configs and the
/// cluster's defaults.
pub type Policies<'a> = &'a dyn Fn(&TopicImage) -> ElectionPolicy;

/// A (re)registration. A broker that registers again (a restart) gets a new broker epoch and
/// is fenced until it has caught up. `previous_broker_epoch` is the epoch it wrote when it last
/// shut down cleanly; if that is not the epoch registered now, it stopped uncleanly (kill -9, a
/// power loss) and may have lost records it had acknowledged as a follower: it leaves every ISR
/// and ELR (Kafka's handleBrokerUncleanShutdown). After a clean stop it only leaves what it led
/// or was in sync for, as if its session had expired.
pub fn register(
    image: &MetadataImage,
    broker_id: i32,
    incarnation_id: Uuid,
    endpoints: Vec<BrokerEndpoint>,
    rack: Option<String>,
    previous_broker_epoch: Option<i64>,
    policies: Policies<'_>,
) -> Vec<MetadataRecord> {
    let mut records = match image.brokers.get(&broker_id) {
        Some(existing) if previous_broker_epoch != Some(existing.epoch) => {
            leave_partitions(image, broker_id, true, policies)
        }
        Some(_) => leave_partitions(image, broker_id, false, policies),
        None => Vec::new(),
    };
    records.push(MetadataRecord::RegisterBroker {
        broker_id,
        incarnation_id,
        broker_epoch: image.next_broker_epoch.max(1),
        endpoints,
        rack,
    });
    records
}

/// Fences a broker whose session expired: it leaves every ISR it is in (into the ELR where the
/// ISR falls below min ISR), partitions it led get a new leader, and the broker is marked
/// fenced — all in one batch.
pub fn fence(image: &MetadataImage, broker_id: i32, policies: Policies<'_>) -> Vec<MetadataRecord> {
    let Some(broker) = image.brokers.get(&broker_id) else {
        return Vec::new();
    };
    if broker.fenced {
        return Vec::new();
    }
    let mut records = leave_partitions(image, broker_id, false, policies);
    records.push(MetadataRecord::BrokerRegistrationChange {
        broker_id,
        broker_epoch: broker.epoch,
        fenced: true,
    });
    records
}

/// Unfences a caught-up broker and runs an election in every partition without a leader (a
/// node that comes back to an offline partition leads it again if it is in its ISR or ELR).
pub fn unfence(
    image: &MetadataImage,
    broker_id: i32,
    policies: Policies<'_>,
) -> Vec<MetadataRecord> {
    let Some(broker) = image.brokers.get(&broker_id) else {
        return Vec::new();
    };
    if !broker.fenced {
        return Vec::new();
    }
    let mut records = vec![MetadataRecord::BrokerRegistrationChange {
        broker_id,
        broker_epoch: broker.epoch,
        fenced: false,
    }];
    let acceptable = |b: i32| b == broker_id || image.is_live(b);
    for topic in image.topics.values() {
        let policy = policies(topic);
        for (index, state) in &topic.placement {
            if state.leader != NO_LEADER {
                continue;
            }
            let change = PartitionChangeBuilder::new(state, policy, &acceptable).build();
            if !change.is_empty() {
                records.push(change.into_record(topic.id, *index));
            }
        }
    }
    records
}

/// The changes that take `broker_id` out of every partition's leadership and ISR, and with an
/// unclean shutdown out of every ELR too.
fn leave_partitions(
    image: &MetadataImage,
    broker_id: i32,
    unclean_shutdown: bool,
    policies: Policies<'_>,
) -> Vec<MetadataRecord> {
    let acceptable = |b: i32| b != broker_id && image.is_live(b);
    let mut records = Vec::new();
    for topic in image.topics.values() {
        let policy = policies(topic);
        for (index, state) in &topic.placement {
            let involved = state.isr.contains(&broker_id)
                || state.leader == broker_id
                || (unclean_shutdown && state.elr.contains(&broker_id));
            if !involved {
                continue;
            }
            let builder = PartitionChangeBuilder::new(state, policy, &acceptable);
            let builder = if unclean_shutdown {
                builder.unclean_shutdown(broker_id)
            } else {
                let isr = state
                    .isr
                    .iter()
                    .copied()
                    .filter(|&b| b != broker_id)
                    .collect();
                builder.target_isr(isr)
            };
            let change = builder.build();
            if !change.is_empty() {
                records.push(change.into_record(topic.id, *index));
            }
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::controller::topics::{create_topic, Brokers, NewTopic};
    use crate::metadata::record::LeaderRecoveryState;
    use std::collections::{BTreeMap, HashMap};

    /// Kafka's defaults: min ISR 1, no unclean election.
    fn defaults(_: &TopicImage) -> ElectionPolicy {
        ElectionPolicy::default()
    }

    fn fence(image: &MetadataImage, id: i32) -> Vec<MetadataRecord> {
        super::fence(image, id, &defaults)
    }

    fn unfence(image: &MetadataImage, id: i32) -> Vec<MetadataRecord> {
        super::unfence(image, id, &defaults)
    }

    /// A registration after kill -9 (no clean-shutdown epoch).
    fn register(
        image: &MetadataImage,
        id: i32,
        incarnation: Uuid,
        endpoints: Vec<BrokerEndpoint>,
        rack: Option<String>,
    ) -> Vec<MetadataRecord> {
        super::register(image, id, incarnation, endpoints, rack, None, &defaults)
    }

    fn endpoint(port: i32) -> Vec<BrokerEndpoint> {
        vec![BrokerEndpoint {
            listener: "PLAINTEXT".into(),
            host: "127.0.0.1".into(),
            port,
        }]
    }

    fn apply(image: &mut MetadataImage, records: &[MetadataRecord]) {
        for r in records {
            image.replay(r);
        }
    }

    fn cluster(n: i32) -> MetadataImage {
        let mut image = MetadataImage::default();
        for id in 1..=n {
            let r = register(&image, id, Uuid::new_v4(), endpoint(9091 + id), None);
            apply(&mut image, &r);
            let r = unfence(&image, id);
            apply(&mut image, &r);
        }
        image
    }

    fn create(
        image: &MetadataImage,
        name: &str,
        partitions: i32,
        rf: i16,
    ) -> Result<Vec<MetadataRecord>, crate::metadata::MetadataError> {
        let registered: Vec<i32> = image.brokers.keys().copied().collect();
        let live = image.live_brokers();
        let brokers = Brokers {
            registered: &registered,
            live: &live,
        };
        let topic = NewTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: rf,
            assignments: vec![],
            configs: BTreeMap::new(),
        };
        create_topic(image, topic, &brokers).map(|(records, _)| records)
    }

    fn topic(image: &mut MetadataImage, name: &str, partitions: i32, rf: i16) {
        let records = create(image, name, partitions, rf).expect("create");
        apply(image, &records);
    }

    /// What the leaders' AlterPartition will do once followers replicate: every live replica
    /// joins the ISR.
    fn expand_isrs(image: &MetadataImage) -> Vec<MetadataRecord> {
        let mut records = Vec::new();
        for topic in image.topics.values() {
            for (index, s) in &topic.placement {
                if s.leader == NO_LEADER {
                    continue;
                }
                let isr: Vec<i32> = s
                    .replicas
                    .iter()
                    .copied()
                    .filter(|b| s.isr.contains(b) || image.is_live(*b))
                    .collect();
                if isr != s.isr {
                    let change =
                        crate::metadata::controller::partition_change::PartitionChangeFields {
                            isr: Some(isr),
                            ..Default::default()
                        };
                    records.push(change.into_record(topic.id, *index));
                }
            }
        }
        records
    }

    #[test]
    fn fencing_a_leader_elects_from_the_isr_with_a_new_epoch() {
        let mut image = cluster(3);
        topic(&mut image, "t", 3, 3);
        // Every live replica starts in sync.
        assert!(image.topics["t"]
            .placement
            .values()
            .all(|s| s.isr == s.replicas));
        let led_by_1: Vec<i32> = image.topics["t"]
            .placement
            .iter()
            .filter(|(_, s)| s.leader == 1)
            .map(|(i, _)| *i)
            .collect();
        assert_eq!(led_by_1.len(), 1);
        let records = fence(&image, 1);
        assert!(matches!(
            records.last(),
            Some(MetadataRecord::BrokerRegistrationChange { fenced: true, .. })
        ));
        apply(&mut image, &records);
        assert_eq!(image.live_brokers(), vec![2, 3]);
        for (index, state) in &image.topics["t"].placement {
            assert!(!state.isr.contains(&1), "{index}: {state:?}");
            assert_ne!(state.leader, 1);
            assert!(state.isr.contains(&state.leader));
            if led_by_1.contains(index) {
                assert_eq!(state.leader_epoch, 1);
            } else {
                assert_eq!(state.leader_epoch, 0);
            }
            assert_eq!(state.partition_epoch, 1);
        }
    }

    #[test]
    fn a_partition_whose_only_in_sync_replica_dies_waits_for_it() {
        let mut image = cluster(3);
        topic(&mut image, "t", 1, 3);
        let state = image.topics["t"].placement[&0].clone();
        let leader = state.leader;
        // The followers die first: each leaves the ISR and the leader stays.
        for follower in state.replicas.iter().filter(|&&b| b != leader) {
            let r = fence(&image, *follower);
            apply(&mut image, &r);
        }
        assert_eq!(image.topics["t"].placement[&0].isr, vec![leader]);
        let r = fence(&image, leader);
        apply(&mut image, &r);
        let state = &image.topics["t"].placement[&0];
        assert_eq!(state.leader, NO_LEADER, "no out-of-sync replica may lead");
        assert_eq!(state.isr, Vec::<i32>::new());
        assert_eq!(state.elr, vec![leader]);
        assert_eq!(state.last_known_elr, vec![leader]);
        let r = register(&image, leader, Uuid::new_v4(), endpoint(1), None);
        apply(&mut image, &r);
        let state = &image.topics["t"].placement[&0];
        assert_eq!(state.leader, leader, "the last known leader");
        assert_eq!(state.leader_recovery_state, LeaderRecoveryState::Recovering);
        let r = unfence(&image, leader);
        apply(&mut image, &r);
        assert_eq!(image.topics["t"].placement[&0].leader, leader);
    }

    #[test]
    fn last_replica_stays_in_isr_without_leader_and_returns_as_leader() {
        let mut image = cluster(3);
        topic(&mut image, "one", 3, 1);
        let on_2 = *image.topics["one"]
            .placement
            .iter()
            .find(|(_, s)| s.replicas == vec![2])
            .expect("a partition on broker 2")
            .0;
        let r = fence(&image, 2);
        apply(&mut image, &r);
        let state = &image.topics["one"].placement[&on_2];
        assert_eq!(state.leader, NO_LEADER);
        assert!(state.isr.is_empty());
        assert_eq!(
            (state.elr.clone(), state.last_known_elr.clone()),
            (vec![2], vec![2])
        );
        // Restart: a new epoch, fenced, then unfenced once caught up — and leader again.
        let before = image.brokers[&2].epoch;
        let r = register(&image, 2, Uuid::new_v4(), endpoint(9093), None);
        apply(&mut image, &r);
        assert!(image.brokers[&2].epoch > before);
        assert!(image.brokers[&2].fenced);
        let r = unfence(&image, 2);
        apply(&mut image, &r);
        let state = &image.topics["one"].placement[&on_2];
        assert_eq!(state.leader, 2);
        assert_eq!(state.leader_epoch, 2);
    }

    /// Random registrations, fences, unfences and topic creations; after every step the
    /// invariants of the module docs hold, and epochs never go back.
    #[test]
    fn random_operations_keep_the_invariants() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _run in 0..50 {
            let mut image = cluster(4);
            let mut seen: HashMap<(String, i32), (i32, i32)> = HashMap::new();
            let mut topics = 0;
            for _step in 0..200 {
                let broker = next(4) as i32 + 1;
                let records = match next(6) {
                    0 => fence(&image, broker),
                    1 => unfence(&image, broker),
                    2 => register(&image, broker, Uuid::new_v4(), endpoint(1), None),
                    3 if topics < 20 => {
                        let rf = (next(3) + 1) as i16;
                        topics += 1;
                        let partitions = (next(4) + 1) as i32;
                        match create(&image, &format!("t{topics}"), partitions, rf) {
                            Ok(r) => r,
                            Err(_) => {
                                assert!((rf as usize) > image.brokers.len());
                                Vec::new()
                            }
                        }
                    }
                    4 => expand_isrs(&image),
                    _ => Vec::new(),
                };
                apply(&mut image, &records);
                for topic in image.topics.values() {
                    for (index, s) in &topic.placement {
                        assert!(!s.isr.is_empty() || s.leader == NO_LEADER, "{s:?}");
                        assert!(s.isr.iter().all(|b| s.replicas.contains(b)), "{s:?}");
                        assert!(s.elr.iter().all(|b| !s.isr.contains(b)), "{s:?}");
                        if s.leader != NO_LEADER {
                            assert!(s.isr.contains(&s.leader), "{s:?}");
                            assert!(
                                image.is_live(s.leader)
                                    || s.leader_recovery_state == LeaderRecoveryState::Recovering,
                                "leader not live: {s:?}"
                            );
                        }
                        let key = (topic.name.clone(), *index);
                        if let Some(&(le, pe)) = seen.get(&key) {
                            assert!(s.leader_epoch >= le && s.partition_epoch >= pe);
                        }
                        seen.insert(key, (s.leader_epoch, s.partition_epoch));
                    }
                }
            }
        }
    }
}

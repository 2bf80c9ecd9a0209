//! AlterPartition validation (Kafka's `ReplicationControlManager.validateAlterPartitionData`):
//! a partition leader asks the controller to change its ISR. The leader epoch and the partition
//! epoch act as a compare-and-set: a request built on a stale view is refused, so a zombie
//! leader or a delayed request can never shrink or grow the ISR behind the controller's back.
//! Pure: (image, request) → the change record, or the error Kafka answers.

use uuid::Uuid;

use super::brokers::Policies;
use super::partition_change::PartitionChangeBuilder;
use crate::metadata::record::LeaderRecoveryState;
use crate::metadata::{MetadataImage, MetadataRecord};

/// One partition's change as the leader asks for it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AlterPartitionRequest {
    /// The leader sending the request, and its broker epoch.
    pub broker_id: i32,
    pub broker_epoch: i64,
    pub topic_id: Uuid,
    pub partition: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// The ISR the leader wants, each member with the broker epoch it fetched with (KIP-903).
    pub new_isr: Vec<(i32, i64)>,
}

/// Kafka's answers, checked in Kafka's order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlterPartitionError {
    #[error("the sender's broker epoch is stale")]
    StaleBrokerEpoch,
    #[error("unknown topic or partition")]
    UnknownTopicOrPartition,
    /// The request's leader epoch is newer than the controller's: it is behind, not the leader.
    #[error("the controller has not seen this leader epoch")]
    NotController,
    #[error("the leader epoch is stale")]
    FencedLeaderEpoch,
    #[error("the sender is not the leader")]
    InvalidRequest(String),
    #[error("the partition epoch is stale")]
    InvalidUpdateVersion,
    #[error("a proposed ISR member is not eligible")]
    IneligibleReplica,
}

pub fn alter_partition(
    image: &MetadataImage,
    request: &AlterPartitionRequest,
    policies: Policies<'_>,
) -> Result<Vec<MetadataRecord>, AlterPartitionError> {
    use AlterPartitionError::*;
    match image.brokers.get(&request.broker_id) {
        Some(b) if b.epoch == request.broker_epoch => {}
        _ => return Err(StaleBrokerEpoch),
    }
    let topic = image
        .topic_by_id(&request.topic_id)
        .ok_or(UnknownTopicOrPartition)?;
    let state = topic
        .placement
        .get(&request.partition)
        .ok_or(UnknownTopicOrPartition)?;
    if request.leader_epoch > state.leader_epoch {
        return Err(NotController);
    }
    if request.leader_epoch < state.leader_epoch {
        return Err(FencedLeaderEpoch);
    }
    if request.broker_id != state.leader {
        return Err(InvalidRequest(format!(
            "broker {} is not the leader of the partition",
            request.broker_id
        )));
    }
    if request.partition_epoch != state.partition_epoch {
        return Err(InvalidUpdateVersion);
    }
    let isr: Vec<i32> = request.new_isr.iter().map(|(id, _)| *id).collect();
    if isr.iter().any(|b| !state.replicas.contains(b)) {
        return Err(InvalidRequest(
            "the ISR holds a broker that is not a replica".into(),
        ));
    }
    if !isr.contains(&state.leader) {
        return Err(InvalidRequest("the ISR must hold the leader".into()));
    }
    let mut distinct = isr.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != isr.len() {
        return Err(InvalidRequest("the ISR lists a broker twice".into()));
    }
    for (id, epoch) in &request.new_isr {
        let eligible = image
            .brokers
            .get(id)
            .is_some_and(|b| !b.fenced && (*epoch == -1 || b.epoch == *epoch));
        if !eligible && !state.isr.contains(id) {
            // A member already in the ISR may stay; a new one must be live with a current epoch.
            return Err(IneligibleReplica);
        }
    }
    // The leader asks only once it leads, that is once it has recovered from an unclean
    // election (Kafka's leader says RECOVERED in this same request).
    // The sender stays leader: it is valid, and may still be fenced after a restart (a last
    // known leader is elected at its registration).
    let acceptable = |b: i32| b == request.broker_id || image.is_live(b);
    let change = PartitionChangeBuilder::new(state, policies(topic), &acceptable)
        .target_isr(isr)
        .target_recovery(LeaderRecoveryState::Recovered)
        .build();
    if change.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![change.into_record(request.topic_id, request.partition)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::controller::partition_change::ElectionPolicy;
    use crate::metadata::TopicImage;

    fn defaults(_: &TopicImage) -> ElectionPolicy {
        ElectionPolicy::default()
    }

    fn alter_partition(
        image: &MetadataImage,
        request: &AlterPartitionRequest,
    ) -> Result<Vec<MetadataRecord>, AlterPartitionError> {
        super::alter_partition(image, request, &defaults)
    }

    fn fence(image: &MetadataImage, id: i32) -> Vec<MetadataRecord> {
        crate::metadata::controller::brokers::fence(image, id, &defaults)
    }

    fn unfence(image: &MetadataImage, id: i32) -> Vec<MetadataRecord> {
        crate::metadata::controller::brokers::unfence(image, id, &defaults)
    }

    fn register(
        image: &MetadataImage,
        id: i32,
        incarnation: Uuid,
        endpoints: Vec<crate::metadata::BrokerEndpoint>,
        rack: Option<String>,
    ) -> Vec<MetadataRecord> {
        crate::metadata::controller::brokers::register(
            image,
            id,
            incarnation,
            endpoints,
            rack,
            None,
            &defaults,
        )
    }
    use crate::metadata::controller::topics::{create_topic, Brokers, NewTopic};
    use crate::metadata::BrokerEndpoint;
    use std::collections::BTreeMap;

    fn apply(image: &mut MetadataImage, records: &[MetadataRecord]) {
        for r in records {
            image.replay(r);
        }
    }

    /// Three live brokers and a topic "t" with one partition on [1, 2, 3], led by 1, its ISR
    /// shrunk by the leader to [1].
    fn setup() -> (MetadataImage, Uuid) {
        let mut image = MetadataImage::default();
        for id in 1..=3 {
            let endpoints = vec![BrokerEndpoint {
                listener: "PLAINTEXT".into(),
                host: "h".into(),
                port: id,
            }];
            let r = register(&image, id, Uuid::new_v4(), endpoints, None);
            apply(&mut image, &r);
            let r = unfence(&image, id);
            apply(&mut image, &r);
        }
        let topic = NewTopic {
            name: "t".into(),
            num_partitions: -1,
            replication_factor: -1,
            assignments: vec![(0, vec![1, 2, 3])],
            configs: BTreeMap::new(),
        };
        let brokers = Brokers {
            registered: &[1, 2, 3],
            live: &[1, 2, 3],
        };
        let (records, created) = create_topic(&image, topic, &brokers).unwrap();
        apply(&mut image, &records);
        let state = &image.topic_by_id(&created.id).unwrap().placement[&0];
        assert_eq!(
            state.isr,
            vec![1, 2, 3],
            "every live replica starts in sync"
        );
        let shrink = alter_partition(&image, &request(&image, created.id, &[1])).unwrap();
        apply(&mut image, &shrink);
        (image, created.id)
    }

    fn request(image: &MetadataImage, id: Uuid, isr: &[i32]) -> AlterPartitionRequest {
        let state = &image.topic_by_id(&id).unwrap().placement[&0];
        AlterPartitionRequest {
            broker_id: 1,
            broker_epoch: image.brokers[&1].epoch,
            topic_id: id,
            partition: 0,
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            new_isr: isr.iter().map(|b| (*b, image.brokers[b].epoch)).collect(),
        }
    }

    #[test]
    fn the_leader_grows_the_isr_and_a_replayed_request_is_stale() {
        let (mut image, id) = setup();
        let req = request(&image, id, &[1, 2]);
        let records = alter_partition(&image, &req).unwrap();
        apply(&mut image, &records);
        assert_eq!(
            image.topic_by_id(&id).unwrap().placement[&0].isr,
            vec![1, 2]
        );
        // The same request again carries the old partition epoch: compare-and-set fails.
        assert_eq!(
            alter_partition(&image, &req),
            Err(AlterPartitionError::InvalidUpdateVersion)
        );
    }

    #[test]
    fn kafka_checks_in_kafka_order() {
        use AlterPartitionError::*;
        let (image, id) = setup();
        let ok = request(&image, id, &[1, 2]);
        let with = |f: &dyn Fn(&mut AlterPartitionRequest)| {
            let mut r = ok.clone();
            f(&mut r);
            alter_partition(&image, &r)
        };
        assert_eq!(with(&|r| r.broker_epoch -= 1), Err(StaleBrokerEpoch));
        assert_eq!(with(&|r| r.partition = 9), Err(UnknownTopicOrPartition));
        assert_eq!(with(&|r| r.leader_epoch += 1), Err(NotController));
        assert!(matches!(
            with(&|r| {
                r.broker_id = 2;
                r.broker_epoch = image.brokers[&2].epoch;
            }),
            Err(InvalidRequest(_))
        ));
        assert_eq!(with(&|r| r.partition_epoch += 1), Err(InvalidUpdateVersion));
        assert!(matches!(
            with(&|r| r.new_isr = vec![(2, image.brokers[&2].epoch)]),
            Err(InvalidRequest(_))
        ));
        assert!(matches!(
            with(&|r| r.new_isr.push((4, 1))),
            Err(InvalidRequest(_))
        ));
        assert_eq!(with(&|r| r.new_isr[1].1 -= 1), Err(IneligibleReplica));
    }

    /// The last known leader is elected while it is still fenced (at its registration after
    /// kill -9); its first ISR change must not hand the leadership to the replica it adds.
    #[test]
    fn a_last_known_leader_still_fenced_keeps_leading_when_it_grows_the_isr() {
        let (mut image, id) = setup();
        for b in [2, 3, 1] {
            let r = fence(&image, b);
            apply(&mut image, &r);
        }
        let state = &image.topic_by_id(&id).unwrap().placement[&0];
        assert_eq!((state.leader, state.last_known_elr.clone()), (-1, vec![1]));
        let r = register(&image, 1, Uuid::new_v4(), vec![], None);
        apply(&mut image, &r);
        let state = image.topic_by_id(&id).unwrap().placement[&0].clone();
        assert_eq!((state.leader, state.isr.clone()), (1, vec![1]));
        assert_eq!(state.leader_recovery_state, LeaderRecoveryState::Recovering);
        let r = register(&image, 2, Uuid::new_v4(), vec![], None);
        apply(&mut image, &r);
        let r = unfence(&image, 2);
        apply(&mut image, &r);
        assert!(image.brokers[&1].fenced);
        let records = alter_partition(&image, &request(&image, id, &[1, 2])).unwrap();
        apply(&mut image, &records);
        let state = &image.topic_by_id(&id).unwrap().placement[&0];
        assert_eq!((state.leader, state.isr.clone()), (1, vec![1, 2]));
        assert_eq!(state.leader_recovery_state, LeaderRecoveryState::Recovered);
    }

    #[test]
    fn a_fenced_broker_cannot_join_and_an_old_leader_epoch_is_fenced() {
        use AlterPartitionError::*;
        let (mut image, id) = setup();
        let r = fence(&image, 3);
        apply(&mut image, &r);
        let mut req = request(&image, id, &[1]);
        req.new_isr.push((3, image.brokers[&3].epoch));
        assert_eq!(alter_partition(&image, &req), Err(IneligibleReplica));
        // Leader 1 is fenced (the partition goes offline: 1 is its only in-sync replica) and
        // comes back as leader with a bumped epoch; a request built before carries the old one.
        let stale = request(&image, id, &[1]);
        let r = fence(&image, 1);
        apply(&mut image, &r);
        let r = register(&image, 1, Uuid::new_v4(), vec![], None);
        apply(&mut image, &r);
        let r = unfence(&image, 1);
        apply(&mut image, &r);
        let mut stale = stale;
        stale.broker_epoch = image.brokers[&1].epoch;
        assert_eq!(alter_partition(&image, &stale), Err(FencedLeaderEpoch));
    }
}

//! The controller: turns topic, config and producer-ID requests into metadata records.
//!
//! The decisions are pure functions of the image ([`topics`], [`placement`], [`brokers`]); this
//! module runs them as [`ControllerOp`]s one at a time against the latest image and commits the
//! records. On a single node that happens here, under one mutex, on the local metadata log. In a
//! cluster the op goes to the active controller (the Raft leader), which runs the same functions
//! and commits through the quorum; [`Controller`] hides which of the two it is.

pub mod acls;
pub mod alter_partition;
pub mod brokers;
pub mod partition_change;
pub mod placement;
pub mod scram;
pub mod topics;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

pub use topics::{
    validate_topic_name, Brokers, ConfigChange, NewTopic, TopicDefaults, MAX_PARTITIONS_PER_TOPIC,
};

use super::bootstrap::Bootstrap;
use super::features::{self, FeatureUpdate};
use crate::security::acl::{AclBindingFilter, StandardAcl};

use super::{
    LocalMetadataStore, MetadataError, MetadataImage, MetadataRecord, MetadataStore, TopicImage,
};

/// Producer IDs are reserved in blocks so that handing one out rarely touches the metadata log.
const PRODUCER_ID_BLOCK: i64 = 1000;

/// A change a client asked for, as it travels to the active controller.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ControllerOp {
    /// Counts already resolved with the receiving broker's defaults.
    CreateTopic {
        topic: NewTopic,
        validate_only: bool,
    },
    DeleteTopic {
        name: String,
    },
    CreatePartitions {
        name: String,
        count: i32,
        validate_only: bool,
    },
    AlterTopicConfigs {
        name: String,
        changes: Vec<ConfigChange>,
        replace_all: bool,
        validate_only: bool,
    },
    /// Reserves a block of producer IDs (Kafka's AllocateProducerIds).
    AllocateProducerIds {
        count: i64,
    },
    /// AlterUserScramCredentials, with the salted passwords already turned into stored keys.
    AlterUserScramCredentials {
        deletions: Vec<scram::ScramDeletion>,
        upsertions: Vec<scram::ScramUpsertion>,
    },
    /// Stores validated ACLs (CreateAcls).
    CreateAcls {
        acls: Vec<StandardAcl>,
    },
    /// Removes the ACLs each filter matches (DeleteAcls).
    DeleteAcls {
        filters: Vec<AclBindingFilter>,
    },
    /// Changes finalized feature levels (UpdateFeatures), all or none.
    UpdateFeatures {
        updates: Vec<FeatureUpdate>,
        validate_only: bool,
    },
    /// Applies node `node_id`'s `bootstrap.checkpoint` unless one was applied before.
    Bootstrap {
        node_id: i32,
        bootstrap: Bootstrap,
    },
}

/// The answer to a [`ControllerOp`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum OpOutcome {
    Done,
    Topic(TopicImage),
    /// The first ID of the reserved block.
    ProducerIds {
        first: i64,
    },
    /// One result per user of an AlterUserScramCredentials request.
    ScramResults(Vec<scram::ScramAlterResult>),
    /// Per DeleteAcls filter, the ACLs it removed.
    DeletedAcls(Vec<Vec<StandardAcl>>),
    /// Whether a Bootstrap op was applied (false: the metadata had been bootstrapped before).
    Bootstrapped(bool),
}

/// Runs `op` against `image`: the records to commit (none for validate-only) and the answer.
/// `brokers` are where new replicas may go; `default_node` hosts partitions that predate
/// placement (single node).
pub fn plan(
    image: &MetadataImage,
    op: ControllerOp,
    brokers: &Brokers<'_>,
    default_node: i32,
) -> Result<(Vec<MetadataRecord>, OpOutcome), MetadataError> {
    let only_if = |validate_only: bool, records: Vec<MetadataRecord>| {
        if validate_only {
            Vec::new()
        } else {
            records
        }
    };
    Ok(match op {
        ControllerOp::CreateTopic {
            topic,
            validate_only,
        } => {
            let (records, created) = topics::create_topic(image, topic, brokers)?;
            (only_if(validate_only, records), OpOutcome::Topic(created))
        }
        ControllerOp::DeleteTopic { name } => {
            (topics::delete_topic(image, &name)?, OpOutcome::Done)
        }
        ControllerOp::CreatePartitions {
            name,
            count,
            validate_only,
        } => {
            let records = topics::create_partitions(image, &name, count, brokers, default_node)?;
            (only_if(validate_only, records), OpOutcome::Done)
        }
        ControllerOp::AlterTopicConfigs {
            name,
            changes,
            replace_all,
            validate_only,
        } => {
            let records = topics::alter_topic_configs(image, &name, &changes, replace_all)?;
            (only_if(validate_only, records), OpOutcome::Done)
        }
        ControllerOp::AllocateProducerIds { count } => {
            let first = image.next_producer_id;
            (
                vec![MetadataRecord::ProducerIds {
                    next: first + count.max(1),
                }],
                OpOutcome::ProducerIds { first },
            )
        }
        ControllerOp::AlterUserScramCredentials {
            deletions,
            upsertions,
        } => {
            let (records, results) = scram::alter_credentials(image, &deletions, &upsertions);
            (records, OpOutcome::ScramResults(results))
        }
        ControllerOp::CreateAcls { acls } => (acls::create_acls(image, acls), OpOutcome::Done),
        ControllerOp::DeleteAcls { filters } => {
            let (records, removed) = acls::delete_acls(image, &filters);
            (records, OpOutcome::DeletedAcls(removed))
        }
        ControllerOp::UpdateFeatures {
            updates,
            validate_only,
        } => {
            let records = features::update_features(image, &updates, default_node)
                .map_err(|e| MetadataError::InvalidUpdateVersion(e.to_string()))?;
            (only_if(validate_only, records), OpOutcome::Done)
        }
        ControllerOp::Bootstrap { node_id, bootstrap } => {
            if image.bootstrapped {
                return Ok((Vec::new(), OpOutcome::Bootstrapped(false)));
            }
            let credentials = bootstrap
                .scram
                .into_iter()
                .map(
                    |(name, mechanism, credential)| MetadataRecord::UserScramCredential {
                        name,
                        mechanism,
                        credential,
                    },
                );
            let levels = bootstrap
                .features
                .into_iter()
                .map(|(name, level)| MetadataRecord::FeatureLevel { name, level });
            let records = credentials
                .chain(levels)
                .chain([MetadataRecord::Bootstrapped { node_id }])
                .collect();
            (records, OpOutcome::Bootstrapped(true))
        }
    })
}

/// Where ops are committed in cluster mode: the cluster module implements it by forwarding to
/// the active controller.
pub trait QuorumClient: Send + Sync {
    fn image(&self) -> Arc<MetadataImage>;
    /// Blocks until the active controller answered or the request timed out.
    fn submit(&self, op: ControllerOp) -> Result<OpOutcome, MetadataError>;
}

enum Backend {
    Local {
        store: Arc<LocalMetadataStore>,
        node_id: i32,
        /// Serialises validate-then-commit.
        lock: Mutex<()>,
    },
    Quorum(Arc<dyn QuorumClient>),
}

/// What handlers and coordinators use to read and change metadata.
pub struct Controller {
    backend: Backend,
    producer_ids: Mutex<ProducerIdBlock>,
}

struct ProducerIdBlock {
    next: i64,
    end: i64,
}

impl Controller {
    /// A single node: every partition is placed on `node_id`.
    pub fn local(store: Arc<LocalMetadataStore>, node_id: i32) -> Self {
        Self::with(Backend::Local {
            store,
            node_id,
            lock: Mutex::new(()),
        })
    }

    pub fn quorum(client: Arc<dyn QuorumClient>) -> Self {
        Self::with(Backend::Quorum(client))
    }

    fn with(backend: Backend) -> Self {
        Self {
            backend,
            producer_ids: Mutex::new(ProducerIdBlock { next: 0, end: 0 }),
        }
    }

    pub fn image(&self) -> Arc<MetadataImage> {
        match &self.backend {
            Backend::Local { store, .. } => store.image(),
            Backend::Quorum(client) => client.image(),
        }
    }

    pub fn submit(&self, op: ControllerOp) -> Result<OpOutcome, MetadataError> {
        match &self.backend {
            Backend::Local {
                store,
                node_id,
                lock,
            } => {
                let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                let node = [*node_id];
                let brokers = Brokers {
                    registered: &node,
                    live: &node,
                };
                let (records, outcome) = plan(&store.image(), op, &brokers, *node_id)?;
                if !records.is_empty() {
                    store.commit(&records)?;
                }
                Ok(outcome)
            }
            Backend::Quorum(client) => client.submit(op),
        }
    }

    pub fn create_topic(
        &self,
        topic: NewTopic,
        validate_only: bool,
    ) -> Result<TopicImage, MetadataError> {
        match self.submit(ControllerOp::CreateTopic {
            topic,
            validate_only,
        })? {
            OpOutcome::Topic(t) => Ok(t),
            other => Err(unexpected(other)),
        }
    }

    /// Creates several topics: on a single node with one metadata commit (one fsync) for all of
    /// them, each planned against the image with the earlier ones applied. In a cluster each is
    /// its own op. The results are in the order of `topics`.
    pub fn create_topics(
        &self,
        topics: Vec<NewTopic>,
        validate_only: bool,
    ) -> Vec<Result<TopicImage, MetadataError>> {
        let Backend::Local {
            store,
            node_id,
            lock,
        } = &self.backend
        else {
            return topics
                .into_iter()
                .map(|topic| self.create_topic(topic, validate_only))
                .collect();
        };
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let node = [*node_id];
        let brokers = Brokers {
            registered: &node,
            live: &node,
        };
        let mut image = (*store.image()).clone();
        let mut records = Vec::new();
        let mut results: Vec<_> = topics
            .into_iter()
            .map(|topic| {
                let (planned, created) = topics::create_topic(&image, topic, &brokers)?;
                if !validate_only {
                    for record in &planned {
                        image.replay(record);
                    }
                    records.extend(planned);
                }
                Ok(created)
            })
            .collect();
        if !records.is_empty() {
            if let Err(e) = store.commit(&records) {
                let failed = e.to_string();
                for result in results.iter_mut().filter(|r| r.is_ok()) {
                    *result = Err(MetadataError::Io(std::io::Error::other(failed.clone())));
                }
            }
        }
        results
    }

    /// UpdateFeatures: every update applied, or none (the first refused one is the error).
    pub fn update_features(
        &self,
        updates: Vec<FeatureUpdate>,
        validate_only: bool,
    ) -> Result<(), MetadataError> {
        self.submit(ControllerOp::UpdateFeatures {
            updates,
            validate_only,
        })
        .map(drop)
    }

    pub fn delete_topic(&self, name: &str) -> Result<(), MetadataError> {
        self.submit(ControllerOp::DeleteTopic {
            name: name.to_string(),
        })
        .map(drop)
    }

    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), MetadataError> {
        self.submit(ControllerOp::CreatePartitions {
            name: name.to_string(),
            count,
            validate_only,
        })
        .map(drop)
    }

    pub fn alter_topic_configs(
        &self,
        name: &str,
        changes: &[ConfigChange],
        replace_all: bool,
        validate_only: bool,
    ) -> Result<(), MetadataError> {
        self.submit(ControllerOp::AlterTopicConfigs {
            name: name.to_string(),
            changes: changes.to_vec(),
            replace_all,
            validate_only,
        })
        .map(drop)
    }

    /// Applies an AlterUserScramCredentials request; one result per user.
    pub fn alter_scram_credentials(
        &self,
        deletions: Vec<scram::ScramDeletion>,
        upsertions: Vec<scram::ScramUpsertion>,
    ) -> Result<Vec<scram::ScramAlterResult>, MetadataError> {
        match self.submit(ControllerOp::AlterUserScramCredentials {
            deletions,
            upsertions,
        })? {
            OpOutcome::ScramResults(results) => Ok(results),
            other => Err(unexpected(other)),
        }
    }

    /// Applies this node's `bootstrap.checkpoint` if the metadata was never bootstrapped;
    /// whether it was.
    pub fn apply_bootstrap(
        &self,
        node_id: i32,
        bootstrap: Bootstrap,
    ) -> Result<bool, MetadataError> {
        match self.submit(ControllerOp::Bootstrap { node_id, bootstrap })? {
            OpOutcome::Bootstrapped(applied) => Ok(applied),
            other => Err(unexpected(other)),
        }
    }

    /// Stores ACLs (already validated); those already stored are left as they are.
    pub fn create_acls(&self, acls: Vec<StandardAcl>) -> Result<(), MetadataError> {
        self.submit(ControllerOp::CreateAcls { acls }).map(drop)
    }

    /// Removes the ACLs each filter matches; per filter, those it removed.
    pub fn delete_acls(
        &self,
        filters: Vec<AclBindingFilter>,
    ) -> Result<Vec<Vec<StandardAcl>>, MetadataError> {
        match self.submit(ControllerOp::DeleteAcls { filters })? {
            OpOutcome::DeletedAcls(removed) => Ok(removed),
            other => Err(unexpected(other)),
        }
    }

    /// Hands out a producer ID never used before in this cluster, across restarts.
    pub fn allocate_producer_id(&self) -> Result<i64, MetadataError> {
        let mut block = self.producer_ids.lock().unwrap_or_else(|p| p.into_inner());
        if block.next >= block.end {
            match self.submit(ControllerOp::AllocateProducerIds {
                count: PRODUCER_ID_BLOCK,
            })? {
                OpOutcome::ProducerIds { first } => {
                    block.next = first;
                    block.end = first + PRODUCER_ID_BLOCK;
                }
                other => return Err(unexpected(other)),
            }
        }
        let id = block.next;
        block.next += 1;
        Ok(id)
    }
}

fn unexpected(outcome: OpOutcome) -> MetadataError {
    MetadataError::Unavailable(format!("unexpected controller answer {outcome:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn controller(dir: &std::path::Path) -> Controller {
        let store = LocalMetadataStore::open(&dir.join("m.log")).unwrap();
        Controller::local(Arc::new(store), 1)
    }

    fn new_topic(name: &str, partitions: i32, rf: i16) -> NewTopic {
        NewTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: rf,
            assignments: vec![],
            configs: BTreeMap::new(),
        }
    }

    const DEFAULTS: TopicDefaults = TopicDefaults {
        num_partitions: 1,
        replication_factor: 1,
    };

    #[test]
    fn create_topics_commits_a_request_at_once_and_sees_earlier_topics() {
        let dir = tempfile::tempdir().unwrap();
        let c = controller(dir.path());
        let topics = vec![
            new_topic("x.y", 2, 1),
            new_topic("x_y", 2, 1), // collides with the first, planned just before it
            new_topic("bad name", 1, 1),
            new_topic("z", 3, 1),
        ];
        let results = c.create_topics(topics.clone(), true);
        assert!(results[0].is_ok() && results[3].is_ok());
        assert!(c.image().topics.is_empty());
        let results = c.create_topics(topics, false);
        assert_eq!(results[0].as_ref().unwrap().partitions, 2);
        assert!(matches!(results[1], Err(MetadataError::InvalidTopic(_))));
        assert!(matches!(results[2], Err(MetadataError::InvalidTopic(_))));
        assert_eq!(results[3].as_ref().unwrap().partitions, 3);
        let names: Vec<_> = c.image().topics.keys().cloned().collect();
        assert_eq!(names, ["x.y", "z"]);
        // Reopened from the log, the store holds both.
        drop(c);
        let names: Vec<_> = controller(dir.path())
            .image()
            .topics
            .keys()
            .cloned()
            .collect();
        assert_eq!(names, ["x.y", "z"]);
    }

    #[test]
    fn create_validates_names_counts_and_collisions() {
        let dir = tempfile::tempdir().unwrap();
        let c = controller(dir.path());
        let created = c
            .create_topic(new_topic("a.b", -1, -1).with_defaults(&DEFAULTS), false)
            .unwrap();
        assert_eq!(created.partitions, 1);
        assert_eq!(created.partition(0, 9).unwrap().replicas, vec![1]);
        assert!(matches!(
            c.create_topic(new_topic("a.b", 3, 1), false),
            Err(MetadataError::TopicAlreadyExists(_))
        ));
        assert!(matches!(
            c.create_topic(new_topic("a_b", 3, 1), false),
            Err(MetadataError::InvalidTopic(_))
        ));
        assert!(matches!(
            c.create_topic(new_topic("bad name", 3, 1), false),
            Err(MetadataError::InvalidTopic(_))
        ));
        assert!(matches!(
            c.create_topic(new_topic("t", 0, 1), false),
            Err(MetadataError::InvalidPartitions(_))
        ));
        assert!(matches!(
            c.create_topic(new_topic("t", 3, 3), false),
            Err(MetadataError::InvalidReplicationFactor(_))
        ));
        c.create_topic(new_topic("v", 3, 1), true).unwrap();
        assert!(
            c.image().topic("v").is_none(),
            "validate_only must not create"
        );
    }

    #[test]
    fn producer_ids_are_unique_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let c = controller(dir.path());
            (
                c.allocate_producer_id().unwrap(),
                c.allocate_producer_id().unwrap(),
            )
        };
        assert_eq!(first.1, first.0 + 1);
        let c = controller(dir.path());
        assert!(c.allocate_producer_id().unwrap() > first.1);
    }

    #[test]
    fn partitions_only_grow() {
        let dir = tempfile::tempdir().unwrap();
        let c = controller(dir.path());
        c.create_topic(new_topic("t", 3, 1), false).unwrap();
        assert!(c.create_partitions("t", 2, false).is_err());
        assert!(c.create_partitions("t", 3, false).is_err());
        c.create_partitions("t", 6, false).unwrap();
        let image = c.image();
        let t = image.topic("t").unwrap();
        assert_eq!(t.partitions, 6);
        assert_eq!(t.partition(5, 9).unwrap().leader, 1);
    }

    #[test]
    fn manual_assignment_is_honoured_and_checked() {
        let image = MetadataImage::default();
        let topic = NewTopic {
            assignments: vec![(0, vec![2, 3]), (1, vec![3, 1])],
            ..new_topic("m", -1, -1)
        };
        let all = Brokers {
            registered: &[1, 2, 3],
            live: &[1, 2, 3],
        };
        let (_, created) = topics::create_topic(&image, topic.clone(), &all).unwrap();
        assert_eq!(created.placement[&1].replicas, vec![3, 1]);
        assert_eq!(created.placement[&1].leader, 3);
        let dup = NewTopic {
            assignments: vec![(0, vec![2, 2])],
            ..topic.clone()
        };
        assert!(matches!(
            topics::create_topic(&image, dup, &all),
            Err(MetadataError::InvalidReplicaAssignment(_))
        ));
        assert!(matches!(
            topics::create_topic(
                &image,
                topic,
                &Brokers {
                    registered: &[1, 2],
                    live: &[1, 2]
                }
            ),
            Err(MetadataError::InvalidReplicaAssignment(_))
        ));
    }
}

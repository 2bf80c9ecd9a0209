//! The state machine of the metadata quorum: the [`MetadataImage`] that committed entries
//! replay into. It lives in memory and is rebuilt at start by openraft, which re-applies the
//! committed entries of the log; the snapshot is the serialized image.
//!
//! Every applied batch is published as a [`Published`] on a watch channel: the broker side of
//! the node (partitions, handlers) only ever sees committed metadata.

use std::io::Cursor;
use std::sync::{Arc, Mutex};

use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{EntryPayload, LogId, StorageError, StorageIOError, StoredMembership};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{Entry, Node, NodeId, TypeConfig};
use crate::metadata::MetadataImage;

/// The image after the entries up to `applied_index` (0: nothing yet).
#[derive(Clone, Debug)]
pub struct Published {
    pub applied_index: u64,
    pub image: Arc<MetadataImage>,
}

#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    published: watch::Sender<Published>,
}

#[derive(Clone, Default, Serialize, Deserialize)]
struct State {
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, Node>,
    image: Arc<MetadataImage>,
}

struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, Node>,
    data: Vec<u8>,
}

impl StateMachine {
    pub fn new() -> (Self, watch::Receiver<Published>) {
        let (tx, rx) = watch::channel(Published {
            applied_index: 0,
            image: Arc::new(MetadataImage::default()),
        });
        let shared = Shared {
            state: Mutex::new(State::default()),
            published: tx,
        };
        (
            Self {
                shared: Arc::new(shared),
            },
            rx,
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, state: &State) {
        self.shared.published.send_replace(Published {
            applied_index: state.last_applied.map_or(0, |l| l.index),
            image: state.image.clone(),
        });
    }

    // openraft's own error type, as its traits return it.
    #[allow(clippy::result_large_err)]
    fn snapshot_of(state: &State) -> Result<StoredSnapshot, StorageError<NodeId>> {
        let data = serde_json::to_vec(state).map_err(|e| {
            StorageError::from(StorageIOError::write_state_machine(&std::io::Error::other(
                e,
            )))
        })?;
        let snapshot_id = format!(
            "{}-{}",
            state.last_applied.map_or(0, |l| l.leader_id.term),
            state.last_applied.map_or(0, |l| l.index)
        );
        Ok(StoredSnapshot {
            meta: SnapshotMeta {
                last_log_id: state.last_applied,
                last_membership: state.membership.clone(),
                snapshot_id,
            },
            data,
        })
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let state = self.lock().clone();
        let stored = Self::snapshot_of(&state)?;
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, Node>), StorageError<NodeId>> {
        let state = self.lock();
        Ok((state.last_applied, state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let mut state = self.lock();
        let mut image = (*state.image).clone();
        let mut answers = Vec::new();
        for entry in entries {
            state.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(batch) => {
                    for record in &batch {
                        image.replay(record);
                    }
                }
                EntryPayload::Membership(m) => {
                    state.membership = StoredMembership::new(Some(entry.log_id), m);
                }
            }
            answers.push(());
        }
        state.image = Arc::new(image);
        self.publish(&state);
        Ok(answers)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, Node>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let restored: State = serde_json::from_slice(snapshot.get_ref()).map_err(|e| {
            StorageError::from(StorageIOError::read_snapshot(
                Some(meta.signature()),
                &std::io::Error::other(e),
            ))
        })?;
        let mut state = self.lock();
        *state = State {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
            image: restored.image,
        };
        self.publish(&state);
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let state = self.lock().clone();
        if state.last_applied.is_none() {
            return Ok(None);
        }
        let stored = Self::snapshot_of(&state)?;
        Ok(Some(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }
}

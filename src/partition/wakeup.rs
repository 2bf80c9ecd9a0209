//! Wake-ups of requests parked on partitions: long-poll Fetch, and leader writes (acks=all
//! produce, transaction markers, coordinator records) waiting for their followers.
//!
//! Each partition keeps the waiters registered on it ([`Waiters`]). A change of that partition
//! (log end, high watermark, last stable offset, leader role or epoch, deletion) wakes those
//! waiters and no others, so an append costs the same whatever is parked on other partitions.
//!
//! A request parked on several partitions holds one [`Wakeup`]: a single [`Notify`] registered
//! with each of them. A change of any one stores a permit in it, so the order that loses no
//! wake-up is: register ([`Wakeup::watch`]), then check the condition, then wait
//! ([`Wakeup::changed`]); a change between the check and the wait finds the permit already there.
//! Dropping the `Wakeup` unregisters it everywhere.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::Partition;

/// The requests parked on one partition, by [`Wakeup`] id.
#[derive(Default)]
pub struct Waiters {
    parked: Mutex<HashMap<u64, Arc<Notify>>>,
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Notify>>> {
        self.parked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes every request parked here. Cheap when none is: one uncontended lock.
    pub fn wake(&self) {
        for notify in self.lock().values() {
            notify.notify_one();
        }
    }

    /// How many requests are parked here.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Distinguishes the registrations of concurrent requests on one partition.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// One parked request's registrations: woken by a change of any partition it watches.
pub struct Wakeup {
    id: u64,
    notify: Arc<Notify>,
    /// The partitions' waiter lists, not the partitions: a parked request must not keep a
    /// partition open (a clean shutdown closes every log it can take back).
    watched: Vec<Arc<Waiters>>,
    /// Addresses of the lists in `watched` (each held alive there), so that watching a
    /// partition twice registers it once.
    seen: HashSet<usize>,
}

impl Default for Wakeup {
    fn default() -> Self {
        Self::new()
    }
}

impl Wakeup {
    pub fn new() -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            notify: Arc::new(Notify::new()),
            watched: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// Registers with `partition`: from now on its changes wake this request. Check the
    /// condition waited for only after this.
    pub fn watch(&mut self, partition: &Arc<Partition>) {
        let waiters = &partition.waiters;
        if !self.seen.insert(Arc::as_ptr(waiters) as usize) {
            return;
        }
        waiters.lock().insert(self.id, self.notify.clone());
        self.watched.push(waiters.clone());
    }

    /// Returns once a watched partition has changed since it was registered or since the last
    /// return (at once if it already has).
    pub async fn changed(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Wakeup {
    fn drop(&mut self) {
        for waiters in &self.watched {
            waiters.lock().remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use bytes::Bytes;
    use uuid::Uuid;

    use super::*;
    use crate::log::builder::{build_batch, NewRecord};
    use crate::log::{Log, LogConfig};
    use crate::metadata::PartitionState;

    fn partition(dir: &std::path::Path, index: i32) -> Arc<Partition> {
        let log = Log::open(dir, LogConfig::default(), 0).expect("open log");
        let p = Partition::new(Arc::from("t"), index, Uuid::nil(), log, false);
        p.apply_state(1, &PartitionState::local(1), 0)
            .expect("lead");
        Arc::new(p)
    }

    fn batch() -> Bytes {
        build_batch(
            &[NewRecord {
                key: None,
                value: Some(Bytes::from_static(b"v")),
            }],
            0,
        )
    }

    /// Whether `changed` would return without waiting (it consumes the wake-up if so).
    fn fired(wakeup: &Wakeup) -> bool {
        let mut changed = pin!(wakeup.changed());
        matches!(
            changed
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop())),
            Poll::Ready(())
        )
    }

    #[test]
    fn an_append_wakes_only_the_requests_parked_on_its_partition() {
        let (dp, dq) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (p, q) = (partition(dp.path(), 0), partition(dq.path(), 1));
        let (mut on_p, mut on_q, mut on_both) = (Wakeup::new(), Wakeup::new(), Wakeup::new());
        on_p.watch(&p);
        on_q.watch(&q);
        on_both.watch(&p);
        on_both.watch(&q);
        on_both.watch(&q); // registered once
        assert_eq!((p.parked(), q.parked()), (2, 2));
        assert!(!fired(&on_p) && !fired(&on_q) && !fired(&on_both));

        p.append(batch(), 0).expect("append");
        assert!(fired(&on_p));
        assert!(
            !fired(&on_q),
            "a change of p must not wake a request parked on q only"
        );
        assert!(fired(&on_both));
        // Consumed: no second wake-up without a second change.
        assert!(!fired(&on_p) && !fired(&on_both));

        drop(on_both);
        assert_eq!((p.parked(), q.parked()), (1, 1));
    }

    #[test]
    fn a_change_between_registering_and_waiting_is_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let p = partition(dir.path(), 0);
        let mut wakeup = Wakeup::new();
        wakeup.watch(&p);
        // The condition is checked (nothing there), then data lands before the wait starts.
        p.append(batch(), 0).expect("append");
        p.append(batch(), 0).expect("append");
        assert!(fired(&wakeup));
    }

    #[test]
    fn losing_leadership_wakes_the_parked_requests_but_a_metadata_repeat_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let p = partition(dir.path(), 0);
        let mut wakeup = Wakeup::new();
        wakeup.watch(&p);
        p.apply_state(1, &PartitionState::local(1), 0)
            .expect("same");
        assert!(!fired(&wakeup));
        let follower = PartitionState {
            replicas: vec![1, 2],
            isr: vec![1, 2],
            leader: 2,
            leader_epoch: 1,
            ..PartitionState::default()
        };
        p.apply_state(1, &follower, 0).expect("follow");
        assert!(fired(&wakeup));
    }
}

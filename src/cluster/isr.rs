//! The leader's ISR duty (Kafka's isr-expiration task and `maybeExpandIsr`): a few times a
//! second, every partition this node leads is asked whether a member should leave its ISR
//! (behind for longer than `replica.lag.time.max.ms`) or a replica should join (caught up),
//! and the change goes to the active controller as an AlterPartition. Only the controller
//! commits it; the partition learns the outcome from the metadata, as every broker does.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::ClusterNode;
use crate::broker::Broker;
use crate::metadata::controller::alter_partition::AlterPartitionRequest;
use crate::partition::manager::now_ms;

const CHECK_EVERY: Duration = Duration::from_millis(250);

pub async fn run(broker: Arc<Broker>, node: Arc<ClusterNode>, mut shutdown: watch::Receiver<bool>) {
    let max_lag_ms: i64 = broker
        .config
        .raw_value("replica.lag.time.max.ms")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(30_000);
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let broker_epoch = node.broker_epoch();
        if broker_epoch <= 0 {
            continue;
        }
        let image = broker.image();
        let now = now_ms();
        // A joining replica must be registered with the epoch it fetched with, and unfenced.
        let eligible = |id: i32, epoch: i64| {
            image
                .brokers
                .get(&id)
                .is_some_and(|b| !b.fenced && b.epoch == epoch)
        };
        for partition in broker.replicas.all() {
            let Some(change) = partition.isr_change(now, max_lag_ms, eligible) else {
                continue;
            };
            // Shrink or expand, for IsrShrinksPerSec / IsrExpandsPerSec once committed.
            let isr_before = image
                .topic(&partition.topic)
                .and_then(|t| t.placement.get(&partition.index))
                .map_or(0, |s| s.isr.len());
            let shrinks = change.new_isr.len() < isr_before;
            let request = AlterPartitionRequest {
                broker_id: broker.node_id,
                broker_epoch,
                topic_id: partition.topic_id,
                partition: partition.index,
                leader_epoch: change.leader_epoch,
                partition_epoch: change.partition_epoch,
                new_isr: change.new_isr,
            };
            let node = node.clone();
            let broker = broker.clone();
            tokio::spawn(async move {
                match node.alter_partition(request).await {
                    // The metadata brings the new ISR.
                    Ok(true) => {
                        let counter = if shrinks {
                            &broker.metrics.isr_shrinks
                        } else {
                            &broker.metrics.isr_expands
                        };
                        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(false) => partition.isr_change_failed(),
                    Err(reason) => {
                        tracing::info!(topic = %partition.topic, partition = partition.index, %reason, "ISR change not made");
                        partition.isr_change_failed();
                    }
                }
            });
        }
    }
}

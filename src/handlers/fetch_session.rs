//! Fetch sessions (KIP-227): the broker remembers what a consumer or follower fetches, so that
//! each later fetch names only the partitions whose fetch position changed, and each answer
//! carries only the partitions with something new.
//!
//! The request's `session_id` and `session_epoch` pick the kind of fetch:
//! - epoch -1: a full fetch without a session (closing `session_id` if one is named);
//! - epoch 0: a full fetch that opens a new session (closing `session_id` if one is named); the
//!   answer carries the new session's ID, or 0 when the cache has no slot for it;
//! - epoch > 0: an incremental fetch in session `session_id`, whose epoch must be the one the
//!   broker expects (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH otherwise). Its
//!   partitions add to or update the session, its forgotten topics leave it, and the fetch reads
//!   every partition of the session.
//!
//! An incremental answer includes a partition only if it has records, an error, a diverging
//! epoch, or a high watermark, last stable offset or log start offset other than last sent.
//! A partition that returned records moves to the end of the session, so that a small
//! `max_bytes` serves every partition in turn.
//!
//! The cache holds at most `max.incremental.fetch.session.cache.slots` sessions. When full, a
//! new session may take the slot of one unused for two minutes; else a follower's (privileged)
//! session may take that of a consumer's, and any session that of a smaller one older than two
//! minutes (Kafka's FetchSessionCache rules). All sessions together hold at most
//! [`MAX_CACHED_PARTITIONS`] partitions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use indexmap::IndexMap;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::ResponseError;
use uuid::Uuid;

use crate::protocol::FetchAnswer;

/// A session unused this long may be evicted for a new one; a session younger than this can be
/// evicted only for a privileged one (Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS).
pub const EVICTION_MS: i64 = 120_000;

/// The most partitions all sessions together may hold (some 200 MiB), so that clients adding
/// partitions to their sessions cannot exhaust the broker's memory (invariant 5). Kafka has no
/// such bound; a session that would pass it is dropped, and its client starts a new one.
pub const MAX_CACHED_PARTITIONS: usize = 1 << 20;

/// A partition of a session: the topic as the client names it (by ID from Fetch v13, by name
/// before) and the partition index.
type PartitionKey = (TopicName, Uuid, i32);

/// What the session remembers of one partition: the client's last request for it, and what the
/// broker last told the client about it.
struct CachedPartition {
    request: FetchPartition,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
}

struct Session {
    /// The epoch the next request must carry.
    epoch: i32,
    /// Opened by Fetch v13 or later, which names topics by ID.
    uses_topic_ids: bool,
    /// In fetch order.
    partitions: IndexMap<PartitionKey, CachedPartition>,
}

/// The cache's bookkeeping of one session, for eviction without locking every session.
struct Slot {
    session: Arc<Mutex<Session>>,
    /// Opened by a follower.
    privileged: bool,
    created_ms: i64,
    last_used_ms: i64,
    size: usize,
}

/// How a Fetch request is to be served (see the module docs).
pub enum Begin {
    /// A full fetch; the answer goes out with session ID 0.
    Sessionless,
    /// A full fetch; a session is opened from its answer with [`FetchSessions::open`].
    Open,
    /// An incremental fetch in an existing session: serve `request` (every partition of the
    /// session), then pass its answer to [`Incremental::finish`].
    Incremental(Box<Incremental>),
}

/// An incremental fetch under way.
pub struct Incremental {
    id: i32,
    session: Arc<Mutex<Session>>,
    /// The epoch the session expects next; a later request of the session changes it.
    next_epoch: i32,
    /// The session's partitions in the order of `request`'s.
    keys: Vec<PartitionKey>,
    pub request: FetchRequest,
}

/// The fetch sessions of this broker.
pub struct FetchSessions {
    max_slots: usize,
    slots: Mutex<HashMap<i32, Slot>>,
}

fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FetchSessions {
    pub fn new(max_slots: i32) -> Self {
        Self {
            max_slots: usize::try_from(max_slots).unwrap_or(0),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        lock(&self.slots).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decides how `request` is served, and for an incremental fetch brings its session up to
    /// date. `version` is the request's; `now_ms` the wall clock.
    pub fn begin(
        &self,
        request: &FetchRequest,
        version: i16,
        now_ms: i64,
    ) -> Result<Begin, ResponseError> {
        if request.session_epoch == -1 || request.session_epoch == 0 {
            if request.session_id != 0 {
                lock(&self.slots).remove(&request.session_id);
            }
            if request.session_epoch == -1 || self.max_slots == 0 || version < 7 {
                return Ok(Begin::Sessionless);
            }
            return Ok(Begin::Open);
        }
        let mut slots = lock(&self.slots);
        let slot = slots
            .get_mut(&request.session_id)
            .ok_or(ResponseError::FetchSessionIdNotFound)?;
        let session_arc = slot.session.clone();
        let mut session = lock(&session_arc);
        if session.epoch != request.session_epoch {
            tracing::debug!(
                session = request.session_id,
                expected = session.epoch,
                got = request.session_epoch,
                "fetch session epoch mismatch"
            );
            return Err(ResponseError::InvalidFetchSessionEpoch);
        }
        if session.uses_topic_ids != (version >= 13) {
            return Err(ResponseError::FetchSessionTopicIdError);
        }
        for topic in &request.topics {
            for p in &topic.partitions {
                let key = (topic.topic.clone(), topic.topic_id, p.partition);
                match session.partitions.get_mut(&key) {
                    Some(cached) => cached.request = p.clone(),
                    None => {
                        session.partitions.insert(
                            key,
                            CachedPartition {
                                request: p.clone(),
                                // Never sent: the first answer includes it.
                                high_watermark: -1,
                                last_stable_offset: -1,
                                log_start_offset: -1,
                            },
                        );
                    }
                }
            }
        }
        for topic in &request.forgotten_topics_data {
            for &p in &topic.partitions {
                session
                    .partitions
                    .shift_remove(&(topic.topic.clone(), topic.topic_id, p));
            }
        }
        session.epoch = next_epoch(session.epoch);
        slot.last_used_ms = now_ms;
        let grew = session.partitions.len() > slot.size;
        slot.size = session.partitions.len();
        if grew && slots.values().map(|s| s.size).sum::<usize>() > MAX_CACHED_PARTITIONS {
            // The client goes on with a full fetch, as after an eviction.
            slots.remove(&request.session_id);
            return Err(ResponseError::FetchSessionIdNotFound);
        }
        let keys: Vec<PartitionKey> = session.partitions.keys().cloned().collect();
        let mut topics: Vec<FetchTopic> = Vec::new();
        for ((topic, topic_id, _), cached) in &session.partitions {
            match topics.last_mut() {
                Some(t) if t.topic == *topic && t.topic_id == *topic_id => {
                    t.partitions.push(cached.request.clone())
                }
                _ => topics.push(
                    FetchTopic::default()
                        .with_topic(topic.clone())
                        .with_topic_id(*topic_id)
                        .with_partitions(vec![cached.request.clone()]),
                ),
            }
        }
        let mut full = request.clone();
        full.topics = topics;
        full.forgotten_topics_data = Vec::new();
        Ok(Begin::Incremental(Box::new(Incremental {
            id: request.session_id,
            next_epoch: session.epoch,
            session: session_arc.clone(),
            keys,
            request: full,
        })))
    }

    /// Opens a session for a full fetch (`request`, answered with `response`) if the cache has,
    /// or can make, room for it; returns its ID, or 0 if it has none.
    pub fn open(
        &self,
        request: &FetchRequest,
        response: &FetchResponse,
        version: i16,
        privileged: bool,
        now_ms: i64,
    ) -> i32 {
        let size = request.topics.iter().map(|t| t.partitions.len()).sum();
        let mut slots = lock(&self.slots);
        if slots.values().map(|s| s.size).sum::<usize>() + size > MAX_CACHED_PARTITIONS {
            return 0;
        }
        if slots.len() >= self.max_slots && !evict(&mut slots, privileged, size, now_ms) {
            return 0;
        }
        let mut partitions = IndexMap::with_capacity(size);
        for (topic, answered) in request.topics.iter().zip(&response.responses) {
            for (p, data) in topic.partitions.iter().zip(&answered.partitions) {
                let error = data.error_code != 0;
                partitions.insert(
                    (topic.topic.clone(), topic.topic_id, p.partition),
                    CachedPartition {
                        request: p.clone(),
                        // After an error, the next answer includes the partition again.
                        high_watermark: if error { -1 } else { data.high_watermark },
                        last_stable_offset: data.last_stable_offset,
                        log_start_offset: data.log_start_offset,
                    },
                );
            }
        }
        let id = loop {
            let id = (Uuid::new_v4().as_u128() as u32 & 0x7fff_ffff) as i32;
            if id != 0 && !slots.contains_key(&id) {
                break id;
            }
        };
        let session = Session {
            epoch: 1,
            uses_topic_ids: version >= 13,
            partitions,
        };
        tracing::debug!(
            session = id,
            partitions = size,
            privileged,
            "fetch session opened"
        );
        slots.insert(
            id,
            Slot {
                session: Arc::new(Mutex::new(session)),
                privileged,
                created_ms: now_ms,
                last_used_ms: now_ms,
                size,
            },
        );
        id
    }
}

/// Frees a slot for a new session of `size` partitions, if the rules allow (module docs).
fn evict(slots: &mut HashMap<i32, Slot>, privileged: bool, size: usize, now_ms: i64) -> bool {
    let stale = slots
        .iter()
        .min_by_key(|(id, s)| (s.last_used_ms, **id))
        .filter(|(_, s)| now_ms - s.last_used_ms > EVICTION_MS)
        .map(|(id, _)| *id);
    if let Some(id) = stale {
        slots.remove(&id);
        return true;
    }
    let old = |s: &Slot| now_ms - s.created_ms > EVICTION_MS;
    let least_valuable = slots
        .iter()
        .filter(|(_, s)| old(s) || (privileged && !s.privileged))
        .min_by_key(|(id, s)| (s.privileged, s.size, **id))
        .filter(|(_, s)| (privileged, size) >= (s.privileged, s.size))
        .map(|(id, _)| *id);
    match least_valuable {
        Some(id) => {
            slots.remove(&id);
            true
        }
        None => false,
    }
}

impl Incremental {
    /// Turns the answer to the session's full partition list into the incremental answer:
    /// only partitions with something new, and remembers what was sent.
    pub fn finish(self, answer: FetchAnswer) -> FetchAnswer {
        let mut session = lock(&self.session);
        if session.epoch != self.next_epoch {
            // Another request of this session came meanwhile (a client's bug).
            return error(ResponseError::InvalidFetchSessionEpoch);
        }
        let FetchAnswer {
            mut response,
            from_files,
        } = answer;
        let mut from_files = from_files.into_iter().peekable();
        let mut kept_files = Vec::new();
        let mut responses = Vec::with_capacity(response.responses.len());
        let mut keys = self.keys.iter();
        let mut to_end = Vec::new();
        for (t, mut topic) in std::mem::take(&mut response.responses)
            .into_iter()
            .enumerate()
        {
            let mut kept = Vec::new();
            for (i, data) in std::mem::take(&mut topic.partitions)
                .into_iter()
                .enumerate()
            {
                let file = from_files.next_if(|f| (f.topic, f.partition) == (t, i));
                let Some(key) = keys.next() else { break };
                let Some(cached) = session.partitions.get_mut(key) else {
                    continue;
                };
                let has_records =
                    file.is_some() || data.records.as_ref().is_some_and(|r| !r.is_empty());
                let error = data.error_code != 0;
                let include = has_records
                    || error
                    || data.diverging_epoch.epoch >= 0
                    || data.preferred_read_replica.0 >= 0
                    || cached.high_watermark != data.high_watermark
                    || cached.last_stable_offset != data.last_stable_offset
                    || cached.log_start_offset != data.log_start_offset;
                cached.high_watermark = if error { -1 } else { data.high_watermark };
                cached.last_stable_offset = data.last_stable_offset;
                cached.log_start_offset = data.log_start_offset;
                if has_records {
                    to_end.push(key.clone());
                }
                if include {
                    if let Some(mut file) = file {
                        file.topic = responses.len();
                        file.partition = kept.len();
                        kept_files.push(file);
                    }
                    kept.push(data);
                }
            }
            if !kept.is_empty() {
                topic.partitions = kept;
                responses.push(topic);
            }
        }
        for key in to_end {
            if let Some(cached) = session.partitions.shift_remove(&key) {
                session.partitions.insert(key, cached);
            }
        }
        response.responses = responses;
        response.session_id = self.id;
        FetchAnswer {
            response,
            from_files: kept_files,
        }
    }
}

/// A whole-request answer with a session error.
pub fn error(e: ResponseError) -> FetchAnswer {
    FetchAnswer {
        response: FetchResponse::default().with_error_code(e.code()),
        from_files: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};

    use super::*;

    fn request(id: i32, epoch: i32, partitions: &[(i32, i64)]) -> FetchRequest {
        let mut r = FetchRequest::default()
            .with_session_id(id)
            .with_session_epoch(epoch);
        if !partitions.is_empty() {
            r.topics = vec![FetchTopic::default()
                .with_topic(crate::handlers::topic_name("t"))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|&(p, o)| {
                            FetchPartition::default()
                                .with_partition(p)
                                .with_fetch_offset(o)
                        })
                        .collect(),
                )];
        }
        r
    }

    /// An answer to `request` in which partitions `with_records` have records; every high
    /// watermark is `hw`.
    fn answer(request: &FetchRequest, with_records: &[i32], hw: i64) -> FetchAnswer {
        let responses = request
            .topics
            .iter()
            .map(|t| {
                FetchableTopicResponse::default()
                    .with_topic(t.topic.clone())
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                let records = if with_records.contains(&p.partition) {
                                    Bytes::from_static(b"records")
                                } else {
                                    Bytes::new()
                                };
                                PartitionData::default()
                                    .with_partition_index(p.partition)
                                    .with_high_watermark(hw)
                                    .with_last_stable_offset(hw)
                                    .with_log_start_offset(0)
                                    .with_preferred_read_replica(
                                        kafka_protocol::messages::BrokerId(-1),
                                    )
                                    .with_records(Some(records))
                            })
                            .collect(),
                    )
            })
            .collect();
        FetchAnswer {
            response: FetchResponse::default().with_responses(responses),
            from_files: Vec::new(),
        }
    }

    fn open(cache: &FetchSessions, partitions: &[(i32, i64)], privileged: bool, now: i64) -> i32 {
        let r = request(0, 0, partitions);
        assert!(matches!(cache.begin(&r, 12, now), Ok(Begin::Open)));
        cache.open(&r, &answer(&r, &[], 5).response, 12, privileged, now)
    }

    fn incremental(cache: &FetchSessions, id: i32, epoch: i32, now: i64) -> Incremental {
        match cache.begin(&request(id, epoch, &[]), 12, now) {
            Ok(Begin::Incremental(i)) => *i,
            Ok(_) => panic!("not incremental"),
            Err(e) => panic!("{e:?}"),
        }
    }

    fn order(i: &Incremental) -> Vec<i32> {
        i.keys.iter().map(|k| k.2).collect()
    }

    #[test]
    fn partitions_that_returned_records_move_to_the_end_of_the_session() {
        let cache = FetchSessions::new(10);
        let id = open(&cache, &[(0, 0), (1, 0), (2, 0)], false, 0);
        let first = incremental(&cache, id, 1, 0);
        assert_eq!(order(&first), [0, 1, 2]);
        let answered = first.finish(answer(&incremental_request(&cache, id), &[0], 5));
        let parts: Vec<i32> = answered.response.responses[0]
            .partitions
            .iter()
            .map(|p| p.partition_index)
            .collect();
        assert_eq!(parts, [0], "unchanged partitions are left out");
        assert_eq!(order(&incremental(&cache, id, 2, 0)), [1, 2, 0]);
    }

    /// The full request an incremental fetch of session `id` would read (peeked at epoch 1).
    fn incremental_request(cache: &FetchSessions, id: i32) -> FetchRequest {
        let slots = lock(&cache.slots);
        let session = lock(&slots[&id].session);
        let mut r = FetchRequest::default();
        r.topics = vec![FetchTopic::default()
            .with_topic(crate::handlers::topic_name("t"))
            .with_partitions(
                session
                    .partitions
                    .values()
                    .map(|c| c.request.clone())
                    .collect(),
            )];
        r
    }

    #[test]
    fn a_full_cache_makes_room_only_as_kafka_allows() {
        let cache = FetchSessions::new(2);
        let small = open(&cache, &[(0, 0)], false, 0);
        let big = open(&cache, &[(0, 0), (1, 0), (2, 0)], false, 0);
        assert!(small != 0 && big != 0);
        // Both young: a consumer's new session finds no room.
        assert_eq!(
            open(&cache, &[(0, 0), (1, 0), (2, 0), (3, 0)], false, 1_000),
            0
        );
        // A follower's takes the slot of the smallest consumer session.
        let follower = open(&cache, &[(0, 0)], true, 1_000);
        assert_ne!(follower, 0);
        assert!(matches!(
            cache.begin(&request(small, 1, &[]), 12, 1_000),
            Err(ResponseError::FetchSessionIdNotFound)
        ));
        // Once old, a session gives way to a larger one; a stale one to anyone.
        drop(incremental(&cache, follower, 1, 100_000));
        drop(incremental(&cache, big, 1, 100_000));
        let later = 1_000 + EVICTION_MS + 1;
        assert_eq!(
            open(&cache, &[(0, 0)], false, later),
            0,
            "smaller than either"
        );
        assert_ne!(
            open(&cache, &[(0, 0), (1, 0), (2, 0), (3, 0)], false, later),
            0
        );
        assert_eq!(cache.len(), 2);
        let stale = 100_000 + EVICTION_MS + 1;
        assert_ne!(
            open(&cache, &[], false, stale),
            0,
            "the follower's, unused since 100 s"
        );
    }

    #[test]
    fn a_session_closes_with_epoch_minus_one_and_checks_its_epoch() {
        let cache = FetchSessions::new(10);
        let id = open(&cache, &[(0, 0)], false, 0);
        assert!(matches!(
            cache.begin(&request(id, 2, &[]), 12, 0),
            Err(ResponseError::InvalidFetchSessionEpoch)
        ));
        assert!(matches!(
            cache.begin(&request(id, 1, &[]), 13, 0),
            Err(ResponseError::FetchSessionTopicIdError)
        ));
        drop(incremental(&cache, id, 1, 0));
        assert!(matches!(
            cache.begin(&request(id, -1, &[(0, 0)]), 12, 0),
            Ok(Begin::Sessionless)
        ));
        assert!(cache.is_empty());
    }
}

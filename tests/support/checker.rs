//! Jepsen-style analyses of a queue history (issue 13): what producers were told, what consumers
//! polled while faults happened, and what every node serves once the cluster is healed. Plus a
//! reader of Kafka log segments (`<log.dirs>/<topic>-<p>/*.log`) to compare replicas batch by
//! batch.
//!
//! The history model (std only, no client types):
//! - `attempted`: every value a producer handed to its client. Values are unique per history.
//! - `acked`: delivery reports that acknowledged a write, with the (partition, offset) the broker
//!   gave. An acknowledged record must survive. A negative offset means "acknowledged, offset
//!   unknown": librdkafka reports RD_KAFKA_OFFSET_INVALID (-1001) for a retried idempotent batch
//!   the broker answers DUPLICATE_SEQUENCE_NUMBER ("previous send succeeded but was not
//!   acknowledged"), as Kafka did once in a chaos run. Such a record must be in the partition
//!   exactly once, at whatever offset.
//! - `indeterminate`: writes that failed or never completed. Their outcome is unknown: they may or
//!   may not be in the log, and neither is a violation.
//! - `sessions`: what consumers polled, one vector per consumer session, in poll order.
//! - `final_reads`: after healing, every partition read from offset 0 up to `end_offsets`, once per
//!   way of reading (e.g. once through each node as bootstrap).
//!
//! Offsets are assumed dense from 0 (no transactions, compaction or retention in these tests), so
//! a final read must hold exactly the offsets `0..end`.
//!
//! `check` runs every analysis and returns a `Report`; `Report::violations() == 0` means none
//! found. The analyses never give up early: the report lists (a bounded number of) examples of
//! each kind.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Examples kept per kind of violation (the count is exact).
const EXAMPLES: usize = 20;

/// One record at one place in the log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub value: String,
}

impl Record {
    pub fn new(partition: i32, offset: i64, value: impl Into<String>) -> Record {
        Record {
            partition,
            offset,
            value: value.into(),
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}={:?}", self.partition, self.offset, self.value)
    }
}

/// What happened, as the clients saw it. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub attempted: BTreeSet<String>,
    pub acked: Vec<Record>,
    /// value -> why its outcome is unknown (the client's error, "not delivered at the end", ...).
    pub indeterminate: BTreeMap<String, String>,
    pub sessions: Vec<Vec<Record>>,
    /// (how it was read, every record read in that read).
    pub final_reads: Vec<(String, Vec<Record>)>,
    /// partition -> the end offset (high watermark) of the healed partition.
    pub end_offsets: BTreeMap<i32, i64>,
}

/// One kind of violation: how many were found and the first few.
#[derive(Clone, Debug, Default)]
pub struct Violations {
    pub count: usize,
    pub examples: Vec<String>,
}

impl Violations {
    fn push(&mut self, what: String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(what);
        }
    }
}

/// The result of `check`.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Values handed to a producer.
    pub attempted: usize,
    /// Acknowledged writes.
    pub acked: usize,
    /// ... of which the acknowledgement carried no offset (see the module documentation).
    pub acked_unknown_offset: usize,
    /// Writes with an unknown outcome.
    pub indeterminate: usize,
    /// ... of which the final log holds (they happened after all).
    pub indeterminate_present: usize,
    /// Attempted values that were neither acknowledged nor reported indeterminate (the history
    /// builder should have put them in `indeterminate`; counted, not a violation).
    pub unaccounted: usize,
    /// Records polled over all sessions.
    pub polled: usize,
    pub sessions: usize,
    pub final_reads: usize,
    /// Records in the first final read.
    pub final_records: usize,
    /// (a) An acknowledged record is missing from a final read, or another value is at its offset.
    pub lost: Violations,
    /// (b) One (partition, offset) seen with two different values (acks, polls, final reads).
    pub offset_conflicts: Violations,
    /// (c) One value seen at two different (partition, offset)s.
    pub duplicates: Violations,
    /// (d) A polled or finally read offset at or past the partition's final end offset.
    pub beyond_end: Violations,
    /// (d) A value read or acknowledged that no producer ever sent.
    pub never_sent: Violations,
    /// (e) Within one consumer session, a partition's offsets did not strictly increase.
    pub non_monotonic: Violations,
    /// A final read is not exactly the offsets 0..end of each partition (or there is none).
    pub incomplete: Violations,
}

impl Report {
    /// Violations of every kind, summed.
    pub fn violations(&self) -> usize {
        self.kinds().iter().map(|(_, v)| v.count).sum()
    }

    pub fn is_ok(&self) -> bool {
        self.violations() == 0
    }

    fn kinds(&self) -> [(&'static str, &Violations); 7] {
        [
            ("lost", &self.lost),
            ("offset-conflicts", &self.offset_conflicts),
            ("duplicates", &self.duplicates),
            ("beyond-end", &self.beyond_end),
            ("never-sent", &self.never_sent),
            ("non-monotonic", &self.non_monotonic),
            ("incomplete", &self.incomplete),
        ]
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "attempted {} acked {} (offset unknown: {}) indeterminate {} (present in the log: {}) \
             unaccounted {} polled {} in {} session(s) final reads {} of {} record(s)",
            self.attempted,
            self.acked,
            self.acked_unknown_offset,
            self.indeterminate,
            self.indeterminate_present,
            self.unaccounted,
            self.polled,
            self.sessions,
            self.final_reads,
            self.final_records
        )?;
        let counts: Vec<String> = self
            .kinds()
            .iter()
            .map(|(name, v)| format!("{name} {}", v.count))
            .collect();
        write!(f, "violations: {}", counts.join(", "))?;
        for (name, v) in self.kinds() {
            for e in &v.examples {
                write!(f, "\n  {name}: {e}")?;
            }
            if v.count > v.examples.len() {
                write!(f, "\n  {name}: ... {} more", v.count - v.examples.len())?;
            }
        }
        Ok(())
    }
}

/// Runs every analysis over `h`.
pub fn check(h: &History) -> Report {
    let mut r = Report {
        attempted: h.attempted.len(),
        acked: h.acked.len(),
        acked_unknown_offset: h.acked.iter().filter(|a| a.offset < 0).count(),
        indeterminate: h.indeterminate.len(),
        polled: h.sessions.iter().map(Vec::len).sum(),
        sessions: h.sessions.len(),
        final_reads: h.final_reads.len(),
        final_records: h.final_reads.first().map_or(0, |(_, recs)| recs.len()),
        ..Report::default()
    };
    let acked_values: BTreeSet<&str> = h.acked.iter().map(|a| a.value.as_str()).collect();
    r.unaccounted = h
        .attempted
        .iter()
        .filter(|v| !acked_values.contains(v.as_str()) && !h.indeterminate.contains_key(*v))
        .count();

    // Every observation of a record at an offset, with where it came from.
    let mut observations: Vec<(&Record, String)> = Vec::new();
    observations.extend(
        h.acked
            .iter()
            .filter(|a| a.offset >= 0)
            .map(|a| (a, "ack".to_string())),
    );
    for (i, s) in h.sessions.iter().enumerate() {
        observations.extend(s.iter().map(|rec| (rec, format!("poll session {i}"))));
    }
    for (label, recs) in &h.final_reads {
        observations.extend(recs.iter().map(|rec| (rec, format!("final read {label}"))));
    }

    // (a) Lost writes: each acknowledged record is in every final read, at its offset.
    if h.final_reads.is_empty() && !h.acked.is_empty() {
        r.incomplete
            .push("no final read to check the acknowledged records against".to_string());
    }
    for (label, recs) in &h.final_reads {
        let at: BTreeMap<(i32, i64), &str> = recs
            .iter()
            .map(|rec| ((rec.partition, rec.offset), rec.value.as_str()))
            .collect();
        let partition_of: BTreeMap<&str, i32> = recs
            .iter()
            .map(|rec| (rec.value.as_str(), rec.partition))
            .collect();
        for a in &h.acked {
            if a.offset < 0 {
                // Offset unknown: the value must be in its partition (once: see duplicates).
                if partition_of.get(a.value.as_str()) != Some(&a.partition) {
                    r.lost.push(format!(
                        "acked {a} (offset unknown) not in partition {} of final read {label}",
                        a.partition
                    ));
                }
                continue;
            }
            match at.get(&(a.partition, a.offset)) {
                Some(v) if *v == a.value => {}
                Some(v) => r.lost.push(format!(
                    "acked {a} but final read {label} has {v:?} at {}@{}",
                    a.partition, a.offset
                )),
                None => r.lost.push(format!(
                    "acked {a} missing from final read {label} (end offset {:?})",
                    h.end_offsets.get(&a.partition)
                )),
            }
        }
    }

    // (b) Offset uniqueness: one value per (partition, offset) over everything observed.
    let mut by_offset: BTreeMap<(i32, i64), BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for (rec, source) in &observations {
        by_offset
            .entry((rec.partition, rec.offset))
            .or_default()
            .entry(rec.value.as_str())
            .or_default()
            .insert(source.as_str());
    }
    for ((p, o), values) in &by_offset {
        if values.len() > 1 {
            r.offset_conflicts.push(format!(
                "{p}@{o} seen with {} values: {values:?}",
                values.len()
            ));
        }
    }

    // (c) Duplicates: one (partition, offset) per value.
    let mut by_value: BTreeMap<&str, BTreeMap<(i32, i64), BTreeSet<&str>>> = BTreeMap::new();
    for (rec, source) in &observations {
        by_value
            .entry(rec.value.as_str())
            .or_default()
            .entry((rec.partition, rec.offset))
            .or_default()
            .insert(source.as_str());
    }
    for (value, places) in &by_value {
        if places.len() > 1 {
            r.duplicates
                .push(format!("{value:?} at {} places: {places:?}", places.len()));
        }
    }

    // (d) Nothing read at or past the final end offset, nothing that was never sent.
    let mut beyond = |rec: &Record, source: &str| match h.end_offsets.get(&rec.partition) {
        Some(&end) if rec.offset < end => {}
        end => r
            .beyond_end
            .push(format!("{source} saw {rec}, final end offset {end:?}")),
    };
    for (i, s) in h.sessions.iter().enumerate() {
        for rec in s {
            beyond(rec, &format!("poll session {i}"));
        }
    }
    for (label, recs) in &h.final_reads {
        for rec in recs {
            beyond(rec, &format!("final read {label}"));
        }
    }
    let mut reported = BTreeSet::new();
    let unknown_offset_acks = h
        .acked
        .iter()
        .filter(|a| a.offset < 0)
        .map(|a| (a, "ack".to_string()));
    for (rec, source) in observations.iter().cloned().chain(unknown_offset_acks) {
        if !h.attempted.contains(&rec.value) && reported.insert(rec.value.as_str()) {
            r.never_sent
                .push(format!("{source} saw {rec}, a value no producer sent"));
        }
    }

    // (e) Monotonic polls: within a session, each partition's offsets strictly increase.
    for (i, s) in h.sessions.iter().enumerate() {
        let mut last: BTreeMap<i32, i64> = BTreeMap::new();
        for rec in s {
            if let Some(&prev) = last.get(&rec.partition) {
                if rec.offset <= prev {
                    r.non_monotonic.push(format!(
                        "poll session {i}: {rec} after offset {prev} of partition {}",
                        rec.partition
                    ));
                }
            }
            last.insert(rec.partition, rec.offset);
        }
    }

    // Completeness: every final read holds exactly 0..end of every partition, in order.
    for (label, recs) in &h.final_reads {
        let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for rec in recs {
            offsets.entry(rec.partition).or_default().push(rec.offset);
        }
        for (&p, &end) in &h.end_offsets {
            let got = offsets.remove(&p).unwrap_or_default();
            if got.len() as i64 != end || got.iter().enumerate().any(|(i, &o)| o != i as i64) {
                let first_gap = got
                    .iter()
                    .enumerate()
                    .find(|(i, &o)| o != *i as i64)
                    .map(|(i, &o)| format!("; offset {o} where {i} was due"));
                r.incomplete.push(format!(
                    "final read {label}: partition {p} has {} record(s), expected 0..{end}{}",
                    got.len(),
                    first_gap.unwrap_or_default()
                ));
            }
        }
        for (p, got) in offsets {
            r.incomplete.push(format!(
                "final read {label}: partition {p} ({} record(s)) has no end offset",
                got.len()
            ));
        }
    }

    // Unknown outcomes that happened after all (informational).
    if let Some((_, recs)) = h.final_reads.first() {
        let present: BTreeSet<&str> = recs.iter().map(|rec| rec.value.as_str()).collect();
        r.indeterminate_present = h
            .indeterminate
            .keys()
            .filter(|v| present.contains(v.as_str()))
            .count();
    }
    r
}

// ------------------------------------------------------------------------------------------------
// Log segments

/// The size of a record batch header (magic 2), up to and including the record count.
pub const BATCH_HEADER: usize = 61;

/// One record batch as stored in a `.log` segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub base_offset: i64,
    /// base offset + lastOffsetDelta.
    pub last_offset: i64,
    pub leader_epoch: i32,
    pub crc: u32,
    /// The whole batch: 12 + batchLength bytes.
    pub bytes: Vec<u8>,
}

/// The record batches of one segment's bytes, in file order. Stops at the first batch that is
/// incomplete (a write in progress, or a zero-filled tail) or malformed.
pub fn parse_batches(bytes: &[u8]) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + BATCH_HEADER <= bytes.len() {
        let b = &bytes[pos..];
        let base_offset = i64::from_be_bytes(b[0..8].try_into().unwrap());
        let length = i32::from_be_bytes(b[8..12].try_into().unwrap());
        let leader_epoch = i32::from_be_bytes(b[12..16].try_into().unwrap());
        let magic = b[16];
        let crc = u32::from_be_bytes(b[17..21].try_into().unwrap());
        let last_delta = i32::from_be_bytes(b[23..27].try_into().unwrap());
        if length < (BATCH_HEADER - 12) as i32 || magic != 2 || base_offset < 0 || last_delta < 0 {
            break;
        }
        let total = 12 + length as usize;
        if pos + total > bytes.len() {
            break;
        }
        out.push(Batch {
            base_offset,
            last_offset: base_offset + last_delta as i64,
            leader_epoch,
            crc,
            bytes: b[..total].to_vec(),
        });
        pos += total;
    }
    out
}

/// The `.log` segment files of a partition directory, sorted by the base offset in their names.
pub fn segment_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<(i64, PathBuf)> = fs::read_dir(dir)?
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.to_string();
            let base: i64 = name.strip_suffix(".log")?.parse().ok()?;
            Some((base, path))
        })
        .collect();
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

/// Every batch of a partition directory: its segments' batches, in offset order.
pub fn partition_batches(dir: &Path) -> io::Result<Vec<Batch>> {
    let mut out = Vec::new();
    for file in segment_files(dir)? {
        out.extend(parse_batches(&fs::read(&file)?));
    }
    Ok(out)
}

/// Compares the logs of the replicas of one partition, `(label, batches)` each: the batches that
/// end below `below` (all of them when `None`) must be byte-identical, and when `below` is given
/// they must reach it (the last one ends at `below - 1`). Ok((batches, bytes)) compared; Err says
/// which replica differs from the first and where (base offset, CRC, leader epoch).
pub fn compare_replicas(
    replicas: &[(String, Vec<Batch>)],
    below: Option<i64>,
) -> Result<(usize, usize), String> {
    let prefix = |batches: &[Batch]| -> Vec<Batch> {
        batches
            .iter()
            .filter(|b| below.is_none_or(|hw| b.last_offset < hw))
            .cloned()
            .collect()
    };
    let Some((first_label, first)) = replicas.first() else {
        return Err("no replica to compare".to_string());
    };
    let reference = prefix(first);
    for (label, batches) in replicas {
        let mine = prefix(batches);
        if let Some(hw) = below {
            let end = mine.last().map_or(0, |b| b.last_offset + 1);
            if end != hw {
                return Err(format!(
                    "replica {label}: its batches below {hw} end at offset {end} ({} batch(es))",
                    mine.len()
                ));
            }
        }
        let describe = |b: Option<&Batch>| {
            b.map_or("nothing".to_string(), |b| {
                format!(
                    "batch {}..={} (epoch {}, crc {:08x}, {} bytes)",
                    b.base_offset,
                    b.last_offset,
                    b.leader_epoch,
                    b.crc,
                    b.bytes.len()
                )
            })
        };
        for i in 0..mine.len().max(reference.len()) {
            let (a, b) = (reference.get(i), mine.get(i));
            if a != b {
                return Err(format!(
                    "replica {label} differs from replica {first_label} at batch #{i}: \
                     {} there, {} here",
                    describe(a),
                    describe(b)
                ));
            }
        }
    }
    let bytes = reference.iter().map(|b| b.bytes.len()).sum();
    Ok((reference.len(), bytes))
}

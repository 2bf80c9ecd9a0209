//! What the newest Apache Kafka client sees Milena advertise: `kafka-broker-api-versions.sh` of
//! Kafka 4.4.0 (compat-tests/api-versions.sh) against Milena, compared API by API with what the
//! same tool printed for the Apache Kafka 4.4.0 broker
//! (compat-tests/expected/api-versions/kafka-4.4.0.txt; `compat-tests/api-versions.sh record`
//! records it again).
//!
//! Every row must be the same as Kafka's, or be listed in compat-tests/FINDINGS.md as
//! `api-versions: ROW` (the row as Milena shows it) with the reason; a listed row that is no longer
//! what Milena shows fails too, so the list stays true. Milena never advertises a version newer
//! than Kafka 4.4's; it advertises older ones only where FINDINGS.md says so (Fetch v0-v3 and
//! ListOffsets v0 for the old message formats' clients, which Kafka 3.x still served).

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::*;

/// One row of the tool's output: `Name(key)` -> what follows the colon, without `[usable: N]`
/// (that part is the client's own maximum, not the broker's).
fn rows(output: &str) -> BTreeMap<String, String> {
    output
        .lines()
        .filter_map(|line| {
            let line = line.trim().trim_end_matches(',');
            let (api, rest) = line.split_once("): ")?;
            let ranges = rest.split(" [usable:").next().unwrap_or(rest).trim();
            Some((format!("{api})"), ranges.to_owned()))
        })
        .collect()
}

/// `0 to 12` -> (0, 12), `0` -> (0, 0), `UNSUPPORTED` -> None.
fn range(text: &str) -> Option<(i16, i16)> {
    let mut parts = text.split(" to ");
    let min = parts.next()?.trim().parse().ok()?;
    let max = match parts.next() {
        Some(max) => max.trim().parse().ok()?,
        None => min,
    };
    Some((min, max))
}

/// The `api-versions: ROW` lines of FINDINGS.md, as `Name(key): ranges`.
fn listed_differences(root: &Path) -> Vec<String> {
    let findings = std::fs::read_to_string(root.join("compat-tests/FINDINGS.md"))
        .expect("compat-tests/FINDINGS.md");
    findings
        .lines()
        .filter_map(|l| l.strip_prefix("api-versions: "))
        .map(|l| l.split(" — ").next().unwrap_or(l).trim().to_owned())
        .collect()
}

#[test]
fn newest_kafka_client_sees_kafka_4_4_ranges_or_a_listed_difference() {
    let broker = Broker::start();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("compat-tests/api-versions.sh"))
        .args(["show", &broker.bootstrap()]);
    let out = match run_with_timeout(&mut cmd, None, Duration::from_secs(180)) {
        Ok(o) => o,
        Err(e) => panic!("compat-tests/api-versions.sh show: {e}"),
    };
    let shown = assert_success(&out, "kafka-broker-api-versions.sh (Kafka 4.4.0)");
    let kafka_text =
        std::fs::read_to_string(root.join("compat-tests/expected/api-versions/kafka-4.4.0.txt"))
            .expect("compat-tests/expected/api-versions/kafka-4.4.0.txt");
    let kafka = rows(&kafka_text);
    let ours = rows(&shown);
    assert!(
        kafka.contains_key("Produce(0)") && ours.contains_key("Produce(0)"),
        "no Produce row:\n{shown}"
    );
    assert_eq!(
        kafka.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>(),
        "the same client lists the same APIs for both brokers:\n{shown}"
    );

    let listed = listed_differences(root);
    let mut problems = Vec::new();
    for (api, theirs) in &kafka {
        let mine = &ours[api];
        // Never newer than Kafka 4.4 serves; older only where FINDINGS.md explains it.
        let older_listed = listed.contains(&format!("{api}: {mine}"));
        if let Some((min, max)) = range(mine) {
            match range(theirs) {
                Some((kmin, kmax)) if (kmin <= min || older_listed) && max <= kmax => {}
                _ => problems.push(format!(
                    "{api}: advertises {mine}, outside Kafka 4.4's {theirs}"
                )),
            }
        }
    }
    if broker.is_reference() {
        // The reference broker is Kafka 4.1: its rows differ from 4.4's where 4.4 added versions,
        // and the listed differences are Milena's; only the containment above applies.
        assert!(problems.is_empty(), "{}\n{shown}", problems.join("\n"));
        return;
    }

    let mut differences = Vec::new();
    for (api, theirs) in &kafka {
        let mine = &ours[api];
        if mine != theirs {
            let row = format!("{api}: {mine}");
            if !listed.contains(&row) {
                problems.push(format!(
                    "{api}: Milena {mine}, Kafka 4.4 {theirs}: not in FINDINGS.md (`api-versions: {row}`)"
                ));
            }
            differences.push(row);
        }
    }
    for row in &listed {
        if !differences.contains(row) {
            problems.push(format!(
                "FINDINGS.md lists `api-versions: {row}`, but Milena shows {}",
                row.split_once(": ")
                    .and_then(|(api, _)| ours.get(api))
                    .map_or("no such API", |s| s.as_str())
            ));
        }
    }
    println!(
        "{} APIs, {} listed differences",
        kafka.len(),
        differences.len()
    );
    assert!(
        problems.is_empty(),
        "{}\n--- Milena, as Kafka 4.4.0's kafka-broker-api-versions.sh shows it\n{shown}",
        problems.join("\n")
    );
}

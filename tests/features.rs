//! Feature levels as `kafka-features.sh` shows and changes them (KIP-584): `describe` reads
//! ApiVersions' supported and finalized features, `upgrade`/`downgrade` send UpdateFeatures.
//!
//! What Apache Kafka 4.1.2 printed for a new single-node cluster (`kafka-storage format
//! --standalone` with defaults; run through scripts/reference-kafka.sh):
//!
//! ```text
//! Feature: eligible.leader.replicas.version  SupportedMinVersion: 0        SupportedMaxVersion: 1        FinalizedVersionLevel: 1        Epoch: 62
//! Feature: group.version                     SupportedMinVersion: 0        SupportedMaxVersion: 1        FinalizedVersionLevel: 1        Epoch: 62
//! Feature: kraft.version                     SupportedMinVersion: 0        SupportedMaxVersion: 1        FinalizedVersionLevel: 1        Epoch: 62
//! Feature: metadata.version                  SupportedMinVersion: 3.3-IV3  SupportedMaxVersion: 4.1-IV1  FinalizedVersionLevel: 4.1-IV1  Epoch: 62
//! Feature: share.version                     SupportedMinVersion: 0        SupportedMaxVersion: 1        FinalizedVersionLevel: 0        Epoch: 62
//! Feature: transaction.version               SupportedMinVersion: 0        SupportedMaxVersion: 2        FinalizedVersionLevel: 2        Epoch: 62
//! ```
//!
//! Milena finalizes the same levels for the features it has, except `kraft.version` 0 (its quorum
//! is static; Kafka's 1 comes from `--standalone`), and supports only the level it always runs at
//! for the features it cannot turn off (metadata.version 4.1-IV1, group.version 1,
//! eligible.leader.replicas.version 1); it does not list share.version (no share groups). The
//! epoch is the metadata log's offset in both. The upgrade, downgrade and refusal messages below
//! are Kafka's, word for word.

use crate::support;

use support::*;

fn features(broker: &Broker, args: &[&str]) -> std::process::Output {
    let bootstrap = broker.bootstrap();
    let mut all = vec!["--bootstrap-server", bootstrap.as_str()];
    all.extend_from_slice(args);
    kafka_tool("kafka-features.sh", &all)
}

/// `describe`: (feature, supported min, supported max, finalized level) per line; the epoch is
/// checked to be a number.
#[track_caller]
fn describe(broker: &Broker) -> Vec<(String, String, String, String)> {
    let out = features(broker, &["describe"]);
    let text = assert_success(&out, "kafka-features.sh describe");
    text.lines()
        .filter(|l| l.starts_with("Feature:"))
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').map(str::trim).collect();
            let value = |i: usize, key: &str| -> String {
                cells
                    .get(i)
                    .and_then(|c| c.strip_prefix(key))
                    .unwrap_or_else(|| panic!("{key} in {l:?}"))
                    .trim()
                    .to_string()
            };
            let epoch = value(4, "Epoch:");
            assert!(epoch.parse::<i64>().is_ok(), "epoch in {l:?}");
            (
                value(0, "Feature:"),
                value(1, "SupportedMinVersion:"),
                value(2, "SupportedMaxVersion:"),
                value(3, "FinalizedVersionLevel:"),
            )
        })
        .collect()
}

fn row(name: &str, min: &str, max: &str, level: &str) -> (String, String, String, String) {
    (name.into(), min.into(), max.into(), level.into())
}

fn transaction_version(broker: &Broker) -> String {
    describe(broker)
        .into_iter()
        .find(|r| r.0 == "transaction.version")
        .map(|r| r.3)
        .expect("transaction.version is described")
}

#[test]
fn describe_shows_the_finalized_levels_of_a_new_cluster() {
    let broker = Broker::start();
    let rows = describe(&broker);
    if reference_mode() {
        assert!(
            rows.contains(&row("transaction.version", "0", "2", "2")),
            "{rows:?}"
        );
        return;
    }
    assert_eq!(
        rows,
        vec![
            row("eligible.leader.replicas.version", "1", "1", "1"),
            row("group.version", "1", "1", "1"),
            row("kraft.version", "0", "0", "0"),
            row("metadata.version", "4.1-IV1", "4.1-IV1", "4.1-IV1"),
            row("transaction.version", "0", "2", "2"),
        ]
    );
}

#[test]
fn upgrade_and_downgrade_transaction_version_as_on_kafka_and_it_survives_a_restart() {
    let mut broker = Broker::start();
    // Refusals: nothing changes, the tool fails with Kafka's words.
    let refused = |args: &[&str], expected: &str| {
        let out = features(&broker, args);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(!out.status.success(), "{args:?} must fail: {stdout}");
        assert!(stdout.contains(expected), "{args:?}: {stdout}");
    };
    refused(
        &["upgrade", "--feature", "transaction.version=3"],
        "Could not upgrade transaction.version to 3. The update failed for all features since \
         the following feature had an error: Invalid update version 3 for feature \
         transaction.version. Local controller 1 only supports versions 0-2",
    );
    refused(
        &["upgrade", "--feature", "foo.version=1"],
        "Could not upgrade foo.version to 1. The update failed for all features since the \
         following feature had an error: Invalid update version 1 for feature foo.version. \
         Local controller 1 does not support this feature.",
    );
    let out = features(
        &broker,
        &["downgrade", "--feature", "transaction.version=1"],
    );
    let text = assert_success(&out, "downgrade");
    assert!(
        text.contains("transaction.version was downgraded to 1."),
        "{text}"
    );
    assert_eq!(transaction_version(&broker), "1");
    let out = features(
        &broker,
        &["upgrade", "--feature", "transaction.version=2", "--dry-run"],
    );
    let text = assert_success(&out, "upgrade --dry-run");
    assert!(
        text.contains("transaction.version can be upgraded to 2."),
        "{text}"
    );
    assert_eq!(
        transaction_version(&broker),
        "1",
        "a dry run changes nothing"
    );

    // The level is in the metadata log.
    broker.restart();
    assert_eq!(transaction_version(&broker), "1");

    let out = features(&broker, &["upgrade", "--feature", "transaction.version=2"]);
    let text = assert_success(&out, "upgrade");
    assert!(
        text.contains("transaction.version was upgraded to 2."),
        "{text}"
    );
    assert_eq!(transaction_version(&broker), "2");
}

//! Feature levels (KIP-584): the versioned cluster-wide features Milena supports, the levels
//! finalized for the cluster, and the rules of UpdateFeatures (`kafka-features.sh`).
//!
//! A finalized level lives in the metadata log as a `FeatureLevel` record (Kafka's
//! FeatureLevelRecord), so it survives restarts and replicates with the rest of the metadata.
//! Kafka writes a bootstrap level for every feature when `kafka-storage format` runs; Milena has no
//! format step, so a feature without a record is at its bootstrap level, the one a Kafka 4.1
//! cluster formatted with defaults gets: `metadata.version` 4.1-IV1, `transaction.version` 2,
//! `group.version` 1, `eligible.leader.replicas.version` 1. `kraft.version` is 0: Milena's quorum
//! is the static `controller.quorum.voters` (Kafka's level 1 is the dynamic quorum of KIP-853).
//! `share.version` and `streams.version` are not listed: Milena serves neither share groups nor
//! the streams rebalance protocol.
//!
//! A level 0 means the feature is off: it is left out of the finalized features ApiVersions
//! returns, as Kafka does.

use std::collections::BTreeMap;

use super::{MetadataImage, MetadataRecord};

pub const METADATA_VERSION: &str = "metadata.version";
pub const TRANSACTION_VERSION: &str = "transaction.version";
pub const GROUP_VERSION: &str = "group.version";
pub const KRAFT_VERSION: &str = "kraft.version";
pub const ELR_VERSION: &str = "eligible.leader.replicas.version";

/// One feature Milena supports: the levels it can run at, and the level of a new cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedFeature {
    pub name: &'static str,
    pub min: i16,
    pub max: i16,
    pub bootstrap: i16,
}

/// Only `transaction.version` can move: it decides what clients do (V1 or V2 transactions) and
/// how `__transaction_state` values are written (v0 at level 0, v1 above). The others describe
/// what Milena always does, so each supports exactly its one level: `metadata.version` 27
/// (4.1-IV1; Kafka supports down to 3.3-IV3 = 7, whose differences are in KRaft record formats
/// Milena does not write), `group.version` 1 (the consumer rebalance protocol, KIP-848, always
/// served), `eligible.leader.replicas.version` 1 (KIP-966, always on).
pub const SUPPORTED: &[SupportedFeature] = &[
    SupportedFeature {
        name: ELR_VERSION,
        min: 1,
        max: 1,
        bootstrap: 1,
    },
    SupportedFeature {
        name: GROUP_VERSION,
        min: 1,
        max: 1,
        bootstrap: 1,
    },
    SupportedFeature {
        name: KRAFT_VERSION,
        min: 0,
        max: 0,
        bootstrap: 0,
    },
    SupportedFeature {
        name: METADATA_VERSION,
        min: 27,
        max: 27,
        bootstrap: 27,
    },
    SupportedFeature {
        name: TRANSACTION_VERSION,
        min: 0,
        max: 2,
        bootstrap: 2,
    },
];

pub fn supported(name: &str) -> Option<&'static SupportedFeature> {
    SUPPORTED.iter().find(|f| f.name == name)
}

/// How a level may move (UpdateFeatures v1+ `upgrade_type`; v0's `allow_downgrade` is safe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeType {
    Upgrade,
    SafeDowngrade,
    UnsafeDowngrade,
}

impl UpgradeType {
    pub fn from_wire(value: i8) -> Option<Self> {
        match value {
            1 => Some(UpgradeType::Upgrade),
            2 => Some(UpgradeType::SafeDowngrade),
            3 => Some(UpgradeType::UnsafeDowngrade),
            _ => None,
        }
    }
}

/// One requested change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureUpdate {
    pub name: String,
    pub level: i16,
    /// Kafka's upgrade type id: 1 upgrade, 2 safe downgrade, 3 unsafe downgrade.
    pub upgrade_type: i8,
}

/// Why an update is refused: Kafka answers INVALID_UPDATE_VERSION with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid update version {level} for feature {name}. {reason}")]
pub struct InvalidUpdate {
    pub name: String,
    pub level: i16,
    pub reason: String,
}

impl MetadataImage {
    /// The finalized level of `name`: its record's, or its bootstrap level.
    pub fn feature_level(&self, name: &str) -> i16 {
        self.features
            .get(name)
            .copied()
            .or_else(|| supported(name).map(|f| f.bootstrap))
            .unwrap_or(0)
    }

    /// Every finalized feature with a level above 0, by name.
    pub fn finalized_features(&self) -> BTreeMap<&'static str, i16> {
        SUPPORTED
            .iter()
            .map(|f| (f.name, self.feature_level(f.name)))
            .filter(|(_, level)| *level > 0)
            .collect()
    }

    /// `transaction.version` ≥ 2: clients may use transactions V2 (KIP-890 part 2).
    pub fn transaction_v2(&self) -> bool {
        self.feature_level(TRANSACTION_VERSION) >= 2
    }
}

/// The records UpdateFeatures writes, or the first update that is refused (then nothing
/// changes, as in Kafka). `controller_id` names this controller in Kafka's messages.
pub fn update_features(
    image: &MetadataImage,
    updates: &[FeatureUpdate],
    controller_id: i32,
) -> Result<Vec<MetadataRecord>, InvalidUpdate> {
    let mut records = Vec::new();
    for update in updates {
        let refuse = |reason: String| InvalidUpdate {
            name: update.name.clone(),
            level: update.level,
            reason,
        };
        let Some(feature) = supported(&update.name) else {
            return Err(refuse(format!(
                "Local controller {controller_id} does not support this feature."
            )));
        };
        let Some(upgrade_type) = UpgradeType::from_wire(update.upgrade_type) else {
            return Err(refuse(format!(
                "Unknown upgrade type {}.",
                update.upgrade_type
            )));
        };
        let current = image.feature_level(feature.name);
        if !(feature.min..=feature.max).contains(&update.level) {
            return Err(refuse(format!(
                "Local controller {controller_id} only supports versions {}-{}",
                feature.min, feature.max
            )));
        }
        if update.level < current && upgrade_type == UpgradeType::Upgrade {
            return Err(refuse(
                "Can't downgrade the version of this feature without setting the upgrade type \
                 to either safe or unsafe downgrade."
                    .into(),
            ));
        }
        if update.level != current {
            records.push(MetadataRecord::FeatureLevel {
                name: feature.name.to_string(),
                level: update.level,
            });
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(name: &str, level: i16, upgrade_type: i8) -> FeatureUpdate {
        FeatureUpdate {
            name: name.into(),
            level,
            upgrade_type,
        }
    }

    #[test]
    fn a_new_cluster_finalizes_what_kafka_4_1_formats_by_default() {
        let image = MetadataImage::default();
        let finalized = image.finalized_features();
        assert_eq!(finalized.get(TRANSACTION_VERSION), Some(&2));
        assert_eq!(finalized.get(METADATA_VERSION), Some(&27));
        assert_eq!(finalized.get(GROUP_VERSION), Some(&1));
        assert_eq!(
            finalized.get(KRAFT_VERSION),
            None,
            "level 0 is not finalized"
        );
        assert!(image.transaction_v2());
    }

    #[test]
    fn downgrade_needs_a_downgrade_type_and_replays_into_the_image() {
        let mut image = MetadataImage::default();
        let err = update_features(&image, &[update(TRANSACTION_VERSION, 1, 1)], 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid update version 1 for feature transaction.version. Can't downgrade the \
             version of this feature without setting the upgrade type to either safe or unsafe \
             downgrade."
        );
        let records = update_features(&image, &[update(TRANSACTION_VERSION, 1, 2)], 1).unwrap();
        for r in &records {
            image.replay(r);
        }
        assert_eq!(image.feature_level(TRANSACTION_VERSION), 1);
        assert!(!image.transaction_v2());
        // Back to the current level: nothing to write.
        let same = update_features(&image, &[update(TRANSACTION_VERSION, 1, 1)], 1).unwrap();
        assert!(same.is_empty());
    }

    #[test]
    fn unknown_features_and_levels_out_of_range_are_refused_as_kafka_words_it() {
        let image = MetadataImage::default();
        let err = update_features(&image, &[update("foo.version", 1, 1)], 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid update version 1 for feature foo.version. Local controller 1 does not \
             support this feature."
        );
        let err = update_features(&image, &[update(TRANSACTION_VERSION, 3, 1)], 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid update version 3 for feature transaction.version. Local controller 1 only \
             supports versions 0-2"
        );
        assert!(update_features(&image, &[update(METADATA_VERSION, 0, 2)], 1).is_err());
        assert!(update_features(&image, &[update(KRAFT_VERSION, 1, 1)], 1).is_err());
        assert!(update_features(&image, &[update(GROUP_VERSION, 0, 2)], 1).is_err());
        // One bad update refuses them all.
        assert!(update_features(
            &image,
            &[
                update(TRANSACTION_VERSION, 1, 2),
                update(TRANSACTION_VERSION, 9, 1)
            ],
            1
        )
        .is_err());
    }
}

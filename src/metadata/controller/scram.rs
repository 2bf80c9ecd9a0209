//! AlterUserScramCredentials as Kafka's ScramControlManager decides it: each user may appear
//! once per request (deletions and upsertions together), the mechanism must be a SCRAM one, the
//! iteration count within Kafka's bounds, and a deleted credential must exist. Valid changes
//! become UserScramCredentialRecord / RemoveUserScramCredentialRecord records; invalid users get
//! their error and change nothing.
//!
//! The receiving broker turns the client's salted password into the stored and server keys
//! before the op travels to the active controller, so no password-equivalent crosses the
//! cluster or reaches the log.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::metadata::{MetadataImage, MetadataRecord};
use crate::security::sasl::scram::{MAX_ITERATIONS, MIN_ITERATIONS};
use crate::security::sasl::{ScramCredential, ScramMechanism};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScramDeletion {
    pub name: String,
    /// Kafka's wire type; 0 or anything unknown is refused.
    pub mechanism: i8,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScramUpsertion {
    pub name: String,
    pub mechanism: i8,
    /// `None` when the mechanism is unknown (nothing could be derived).
    pub credential: Option<ScramCredential>,
    pub iterations: i32,
}

/// Why one user's change was refused (Kafka's ApiError of ScramControlManager).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScramAlterError {
    /// DUPLICATE_RESOURCE.
    Duplicate,
    /// RESOURCE_NOT_FOUND.
    NotFound,
    /// UNSUPPORTED_SASL_MECHANISM.
    UnknownMechanism,
    /// UNACCEPTABLE_CREDENTIAL, with Kafka's message.
    Unacceptable(String),
}

impl ScramAlterError {
    pub fn message(&self) -> &str {
        match self {
            Self::Duplicate => "A user credential cannot be altered twice in the same request",
            Self::NotFound => "Attempt to delete a user credential that does not exist",
            Self::UnknownMechanism => "Unknown SCRAM mechanism",
            Self::Unacceptable(m) => m,
        }
    }
}

/// One user's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScramAlterResult {
    pub user: String,
    pub error: Option<ScramAlterError>,
}

fn validate_name_and_mechanism(
    name: &str,
    mechanism: i8,
) -> Result<ScramMechanism, ScramAlterError> {
    if name.is_empty() {
        return Err(ScramAlterError::Unacceptable(
            "Username must not be empty".into(),
        ));
    }
    ScramMechanism::from_wire_type(mechanism).ok_or(ScramAlterError::UnknownMechanism)
}

/// The records and per-user results of one AlterUserScramCredentials request.
pub fn alter_credentials(
    image: &MetadataImage,
    deletions: &[ScramDeletion],
    upsertions: &[ScramUpsertion],
) -> (Vec<MetadataRecord>, Vec<ScramAlterResult>) {
    let mut errors: BTreeMap<String, ScramAlterError> = BTreeMap::new();
    let mut deletes: BTreeMap<String, ScramMechanism> = BTreeMap::new();
    let mut upserts: BTreeMap<String, (ScramMechanism, ScramCredential)> = BTreeMap::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for d in deletions {
        if errors.contains_key(&d.name) {
            continue;
        }
        if !seen.insert(d.name.clone()) {
            deletes.remove(&d.name);
            errors.insert(d.name.clone(), ScramAlterError::Duplicate);
            continue;
        }
        match validate_name_and_mechanism(&d.name, d.mechanism) {
            Err(e) => {
                errors.insert(d.name.clone(), e);
            }
            Ok(m) if image.scram_credential(&d.name, m).is_none() => {
                errors.insert(d.name.clone(), ScramAlterError::NotFound);
            }
            Ok(m) => {
                deletes.insert(d.name.clone(), m);
            }
        }
    }
    for u in upsertions {
        if errors.contains_key(&u.name) {
            continue;
        }
        if !seen.insert(u.name.clone()) {
            deletes.remove(&u.name);
            upserts.remove(&u.name);
            errors.insert(u.name.clone(), ScramAlterError::Duplicate);
            continue;
        }
        let checked = validate_name_and_mechanism(&u.name, u.mechanism).and_then(|m| {
            if u.iterations < MIN_ITERATIONS {
                Err(ScramAlterError::Unacceptable("Too few iterations".into()))
            } else if u.iterations > MAX_ITERATIONS {
                Err(ScramAlterError::Unacceptable("Too many iterations".into()))
            } else {
                u.credential
                    .clone()
                    .map(|c| (m, c))
                    .ok_or(ScramAlterError::UnknownMechanism)
            }
        });
        match checked {
            Ok(v) => {
                upserts.insert(u.name.clone(), v);
            }
            Err(e) => {
                errors.insert(u.name.clone(), e);
            }
        }
    }
    let mut records = Vec::new();
    let mut results = Vec::new();
    for (name, m) in deletes {
        records.push(MetadataRecord::RemoveUserScramCredential {
            name: name.clone(),
            mechanism: m.wire_type(),
        });
        results.push(ScramAlterResult {
            user: name,
            error: None,
        });
    }
    for (name, (m, credential)) in upserts {
        records.push(MetadataRecord::UserScramCredential {
            name: name.clone(),
            mechanism: m.wire_type(),
            credential,
        });
        results.push(ScramAlterResult {
            user: name,
            error: None,
        });
    }
    for (user, e) in errors {
        results.push(ScramAlterResult {
            user,
            error: Some(e),
        });
    }
    (records, results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(name: &str, mechanism: i8, iterations: i32) -> ScramUpsertion {
        ScramUpsertion {
            name: name.into(),
            mechanism,
            credential: ScramMechanism::from_wire_type(mechanism)
                .map(|m| ScramCredential::new(m, "pw", iterations)),
            iterations,
        }
    }

    fn error_of(results: &[ScramAlterResult], user: &str) -> Option<ScramAlterError> {
        results
            .iter()
            .find(|r| r.user == user)
            .unwrap()
            .error
            .clone()
    }

    #[test]
    fn validates_as_kafka_and_replays() {
        let mut image = MetadataImage::default();
        let (records, results) = alter_credentials(
            &image,
            &[ScramDeletion {
                name: "gone".into(),
                mechanism: 1,
            }],
            &[
                upsert("alice", 1, 8192),
                upsert("few", 1, 4095),
                upsert("many", 2, 16385),
                upsert("odd", 0, 8192),
                upsert("", 1, 8192),
                upsert("twice", 1, 8192),
                upsert("twice", 2, 8192),
            ],
        );
        assert_eq!(records.len(), 1);
        assert_eq!(error_of(&results, "alice"), None);
        assert_eq!(error_of(&results, "gone"), Some(ScramAlterError::NotFound));
        assert_eq!(
            error_of(&results, "few"),
            Some(ScramAlterError::Unacceptable("Too few iterations".into()))
        );
        assert_eq!(
            error_of(&results, "many"),
            Some(ScramAlterError::Unacceptable("Too many iterations".into()))
        );
        assert_eq!(
            error_of(&results, "odd"),
            Some(ScramAlterError::UnknownMechanism)
        );
        assert!(matches!(
            error_of(&results, ""),
            Some(ScramAlterError::Unacceptable(_))
        ));
        assert_eq!(
            error_of(&results, "twice"),
            Some(ScramAlterError::Duplicate)
        );
        for r in &records {
            image.replay(r);
        }
        assert!(image
            .scram_credential("alice", ScramMechanism::Sha256)
            .is_some());
        let (records, results) = alter_credentials(
            &image,
            &[ScramDeletion {
                name: "alice".into(),
                mechanism: 1,
            }],
            &[],
        );
        assert_eq!(error_of(&results, "alice"), None);
        for r in &records {
            image.replay(r);
        }
        assert!(image.scram_credentials.is_empty());
    }
}

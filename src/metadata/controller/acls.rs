//! ACL changes (Kafka's AclControlManager): CreateAcls adds an AccessControlEntry record per
//! ACL not already stored; DeleteAcls removes every ACL a filter matches. Validation of the
//! values happened when the request was read ([`StandardAcl::from_wire`]).

use std::collections::HashSet;

use uuid::Uuid;

use crate::metadata::{MetadataImage, MetadataRecord};
use crate::security::acl::{AclBindingFilter, StandardAcl};

/// The records that store `acls`; an ACL equal to a stored one (or to an earlier one of the
/// request) is already there and adds nothing, as in Kafka.
pub fn create_acls(image: &MetadataImage, acls: Vec<StandardAcl>) -> Vec<MetadataRecord> {
    let mut seen = HashSet::new();
    acls.into_iter()
        .filter(|acl| image.acls.find(acl).is_none() && seen.insert(acl.clone()))
        .map(|acl| MetadataRecord::AccessControlEntry {
            id: Uuid::new_v4(),
            acl,
        })
        .collect()
}

/// For each filter, the ACLs it removes (an ACL matched by an earlier filter of the request is
/// reported there only), and the records that remove them.
pub fn delete_acls(
    image: &MetadataImage,
    filters: &[AclBindingFilter],
) -> (Vec<MetadataRecord>, Vec<Vec<StandardAcl>>) {
    let mut removed = HashSet::new();
    let mut records = Vec::new();
    let results = filters
        .iter()
        .map(|filter| {
            image
                .acls
                .matching(filter)
                .filter(|(id, _)| removed.insert(**id))
                .map(|(id, acl)| {
                    records.push(MetadataRecord::RemoveAccessControlEntry { id: *id });
                    acl.clone()
                })
                .collect()
        })
        .collect();
    (records, results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::acl::{AclOperation, AclPermissionType, PatternType, ResourceType};

    fn read(topic: &str) -> StandardAcl {
        StandardAcl {
            resource_type: ResourceType::Topic,
            resource_name: topic.into(),
            pattern_type: PatternType::Literal,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermissionType::Allow,
        }
    }

    #[test]
    fn create_is_idempotent_and_delete_reports_each_acl_once() {
        let mut image = MetadataImage::default();
        let records = create_acls(&image, vec![read("a"), read("b"), read("a")]);
        assert_eq!(records.len(), 2);
        records.iter().for_each(|r| image.replay(r));
        assert!(create_acls(&image, vec![read("a")]).is_empty());
        let mut only_a = AclBindingFilter::any();
        only_a.resource_name = Some("a".into());
        let (records, results) = delete_acls(&image, &[only_a, AclBindingFilter::any()]);
        assert_eq!(results, vec![vec![read("a")], vec![read("b")]]);
        records.iter().for_each(|r| image.replay(r));
        assert!(image.acls.is_empty());
        // Through the log's JSON and back.
        let line = serde_json::to_string(&create_acls(&image, vec![read("c")])[0]).unwrap();
        let back: MetadataRecord = serde_json::from_str(&line).unwrap();
        image.replay(&back);
        assert_eq!(image.acls.len(), 1);
        let snapshot: MetadataImage =
            serde_json::from_str(&serde_json::to_string(&image).unwrap()).unwrap();
        assert!(snapshot.acls.find(&read("c")).is_some());
    }
}

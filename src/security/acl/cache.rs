//! The ACLs of the metadata image, by id (as the records name them) and by resource (for
//! decisions). It serializes as the list of `(id, acl)` pairs and rebuilds its index on load,
//! so the cluster's image snapshot carries it unchanged.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::binding::{AclBindingFilter, PatternType, ResourceType, StandardAcl, WILDCARD};

/// Resource name → the ACLs on it (with their ids), for one resource and pattern type.
type AclsByName = BTreeMap<String, Vec<(Uuid, StandardAcl)>>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<(Uuid, StandardAcl)>", into = "Vec<(Uuid, StandardAcl)>")]
pub struct AclCache {
    by_id: BTreeMap<Uuid, StandardAcl>,
    /// (resource type, LITERAL or PREFIXED) → resource name → the ACLs on it.
    by_resource: HashMap<(ResourceType, PatternType), AclsByName>,
}

impl From<Vec<(Uuid, StandardAcl)>> for AclCache {
    fn from(list: Vec<(Uuid, StandardAcl)>) -> Self {
        let mut cache = Self::default();
        for (id, acl) in list {
            cache.add(id, acl);
        }
        cache
    }
}

impl From<AclCache> for Vec<(Uuid, StandardAcl)> {
    fn from(cache: AclCache) -> Self {
        cache.by_id.into_iter().collect()
    }
}

impl AclCache {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Adds (replay of an AccessControlEntryRecord). An id already present is replaced.
    pub fn add(&mut self, id: Uuid, acl: StandardAcl) {
        self.remove(&id);
        self.by_resource
            .entry((acl.resource_type, acl.pattern_type))
            .or_default()
            .entry(acl.resource_name.clone())
            .or_default()
            .push((id, acl.clone()));
        self.by_id.insert(id, acl);
    }

    /// Removes (replay of a RemoveAccessControlEntryRecord); an unknown id is ignored.
    pub fn remove(&mut self, id: &Uuid) {
        let Some(acl) = self.by_id.remove(id) else {
            return;
        };
        let key = (acl.resource_type, acl.pattern_type);
        if let Some(names) = self.by_resource.get_mut(&key) {
            if let Some(list) = names.get_mut(&acl.resource_name) {
                list.retain(|(i, _)| i != id);
                if list.is_empty() {
                    names.remove(&acl.resource_name);
                }
            }
            if names.is_empty() {
                self.by_resource.remove(&key);
            }
        }
    }

    /// The id of an ACL equal to `acl`, if one is stored (creating it again is a no-op).
    pub fn find(&self, acl: &StandardAcl) -> Option<Uuid> {
        self.by_resource
            .get(&(acl.resource_type, acl.pattern_type))?
            .get(&acl.resource_name)?
            .iter()
            .find(|(_, a)| a == acl)
            .map(|(id, _)| *id)
    }

    /// Every ACL a filter selects, in a stable order.
    pub fn matching<'a>(
        &'a self,
        filter: &'a AclBindingFilter,
    ) -> impl Iterator<Item = (&'a Uuid, &'a StandardAcl)> + 'a {
        self.by_id.iter().filter(|(_, acl)| filter.matches(acl))
    }

    /// Every stored ACL.
    pub fn iter(&self) -> impl Iterator<Item = (&Uuid, &StandardAcl)> {
        self.by_id.iter()
    }

    /// The ACLs that apply to the resource `name` of type `resource_type`: LITERAL on the name,
    /// LITERAL on `*`, and PREFIXED on every prefix of the name.
    pub fn for_resource<'a>(
        &'a self,
        resource_type: ResourceType,
        name: &'a str,
    ) -> impl Iterator<Item = &'a StandardAcl> + 'a {
        let literal = self.by_resource.get(&(resource_type, PatternType::Literal));
        let exact = literal.and_then(|m| m.get(name));
        let wildcard = if name == WILDCARD {
            None
        } else {
            literal.and_then(|m| m.get(WILDCARD))
        };
        let prefixed = self
            .by_resource
            .get(&(resource_type, PatternType::Prefixed))
            .into_iter()
            .flat_map(move |m| {
                name.char_indices()
                    .map(|(i, c)| &name[..i + c.len_utf8()])
                    .filter_map(move |prefix| m.get(prefix))
            });
        exact
            .into_iter()
            .chain(wildcard)
            .chain(prefixed)
            .flatten()
            .map(|(_, acl)| acl)
    }

    /// Every ACL of a resource type (authorizing "on any resource of this type").
    pub fn of_type(&self, resource_type: ResourceType) -> impl Iterator<Item = &StandardAcl> {
        [PatternType::Literal, PatternType::Prefixed]
            .into_iter()
            .filter_map(move |p| self.by_resource.get(&(resource_type, p)))
            .flat_map(|m| m.values().flatten().map(|(_, acl)| acl))
    }
}

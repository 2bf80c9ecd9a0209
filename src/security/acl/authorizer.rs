//! The decision, as Kafka's `StandardAuthorizer` makes it:
//!
//! 1. A super user (`super.users`) may do anything.
//! 2. Otherwise the ACLs on the resource are those on its exact name, on `*`, and PREFIXED on
//!    any prefix of its name. Among them, those naming the principal (or `User:*`) and the
//!    client's host (or `*`) apply.
//! 3. An applying DENY for the operation (or ALL) refuses, whatever ALLOWs exist.
//! 4. An applying ALLOW for the operation (or ALL, or one that implies it: READ, WRITE, DELETE
//!    and ALTER imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS) grants.
//! 5. No ALLOW: refused, unless the resource has no ACL at all (for anyone) and
//!    `allow.everyone.if.no.acl.found` is true.

use std::collections::HashSet;

use super::binding::{AclOperation, AclPermissionType, PatternType, ResourceType, WILDCARD};
use super::cache::AclCache;
use crate::security::KafkaPrincipal;

/// Kafka's authorizer class, and the class of Kafka's ZooKeeper-era authorizer, which made the
/// same decisions.
pub const STANDARD_AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";
pub const LEGACY_ACL_AUTHORIZER: &str = "kafka.security.authorizer.AclAuthorizer";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Denied,
}

/// The configured authorizer: its settings. The ACLs are the metadata image's.
#[derive(Debug, Clone, Default)]
pub struct Authorizer {
    /// `super.users`, as `Type:name`.
    super_users: HashSet<String>,
    allow_everyone_if_no_acl_found: bool,
}

impl Authorizer {
    pub fn new(super_users: impl IntoIterator<Item = String>, allow_everyone: bool) -> Self {
        Self {
            super_users: super_users.into_iter().collect(),
            allow_everyone_if_no_acl_found: allow_everyone,
        }
    }

    /// Parses `super.users`: principals separated by ';' (as Kafka splits it), blanks trimmed.
    pub fn parse_super_users(text: &str) -> Vec<String> {
        text.split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn is_super_user(&self, principal: &KafkaPrincipal) -> bool {
        !self.super_users.is_empty()
            && self
                .super_users
                .iter()
                .any(|s| s.split_once(':') == Some((&principal.principal_type, &principal.name)))
    }

    /// May `principal` from `host` do `operation` on the resource `name` of `resource_type`?
    pub fn authorize(
        &self,
        acls: &AclCache,
        principal: &KafkaPrincipal,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> Decision {
        if self.is_super_user(principal) {
            return Decision::Allowed;
        }
        let mut has_resource_acls = false;
        let mut allowed = false;
        for acl in acls.for_resource(resource_type, name) {
            has_resource_acls = true;
            if !acl.matches_principal(&principal.principal_type, &principal.name)
                || (acl.host != WILDCARD && acl.host != host)
            {
                continue;
            }
            match acl.permission {
                AclPermissionType::Deny => {
                    if acl.operation == AclOperation::All || acl.operation == operation {
                        return Decision::Denied;
                    }
                }
                AclPermissionType::Allow => {
                    if implies(acl.operation, operation) {
                        allowed = true;
                    }
                }
                AclPermissionType::Any => {}
            }
        }
        if allowed || (!has_resource_acls && self.allow_everyone_if_no_acl_found) {
            Decision::Allowed
        } else {
            Decision::Denied
        }
    }

    /// May `principal` do `operation` on at least one resource of `resource_type` (Kafka's
    /// `authorizeByResourceType`, used for idempotent producers without IDEMPOTENT_WRITE)?
    /// Allowed when some ALLOW for exactly that operation (or ALL) applies and is not covered by
    /// an applying DENY.
    pub fn authorize_by_resource_type(
        &self,
        acls: &AclCache,
        principal: &KafkaPrincipal,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> Decision {
        // A made-up name: super users, and `allow.everyone…` with no wildcard ACL, pass here.
        if self.authorize(acls, principal, host, operation, resource_type, "hardcode")
            == Decision::Allowed
        {
            return Decision::Allowed;
        }
        let applies = |acl: &&super::binding::StandardAcl, permission| {
            acl.permission == permission
                && acl.matches_principal(&principal.principal_type, &principal.name)
                && (acl.host == WILDCARD || acl.host == host)
                && (acl.operation == operation || acl.operation == AclOperation::All)
        };
        let denies: Vec<_> = acls
            .of_type(resource_type)
            .filter(|a| applies(a, AclPermissionType::Deny))
            .collect();
        let denied_literal = |name: &str| {
            denies
                .iter()
                .any(|d| d.pattern_type == PatternType::Literal && d.resource_name == name)
        };
        let denied_prefix = |name: &str| {
            denies.iter().any(|d| {
                d.pattern_type == PatternType::Prefixed && name.starts_with(&d.resource_name)
            })
        };
        if denied_literal(WILDCARD) {
            return Decision::Denied;
        }
        for allow in acls
            .of_type(resource_type)
            .filter(|a| applies(a, AclPermissionType::Allow))
        {
            let name = allow.resource_name.as_str();
            let open = match allow.pattern_type {
                PatternType::Literal => {
                    name == WILDCARD || (!denied_literal(name) && !denied_prefix(name))
                }
                _ => !denied_prefix(name),
            };
            if open {
                return Decision::Allowed;
            }
        }
        Decision::Denied
    }
}

/// Whether an ALLOW for `granted` covers `wanted`.
fn implies(granted: AclOperation, wanted: AclOperation) -> bool {
    use AclOperation::*;
    granted == All
        || granted == wanted
        || (wanted == Describe && matches!(granted, Read | Write | Delete | Alter))
        || (wanted == DescribeConfigs && granted == AlterConfigs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::acl::StandardAcl;
    use uuid::Uuid;

    use AclOperation as Op;
    use AclPermissionType::{Allow, Deny};
    use PatternType::{Literal, Prefixed};
    use ResourceType::{Cluster, Group, Topic};

    fn acl(
        rt: ResourceType,
        name: &str,
        pt: PatternType,
        principal: &str,
        host: &str,
        op: Op,
        perm: AclPermissionType,
    ) -> StandardAcl {
        StandardAcl {
            resource_type: rt,
            resource_name: name.into(),
            pattern_type: pt,
            principal: principal.into(),
            host: host.into(),
            operation: op,
            permission: perm,
        }
    }

    fn cache(acls: Vec<StandardAcl>) -> AclCache {
        let mut c = AclCache::default();
        for a in acls {
            c.add(Uuid::new_v4(), a);
        }
        c
    }

    /// Why, the ACLs, the request (principal, host, operation, resource type, name), allowed.
    type Row = (
        &'static str,
        Vec<StandardAcl>,
        (&'static str, &'static str, Op, ResourceType, &'static str),
        bool,
    );

    /// One row: the ACLs, then (principal, host, operation, resource type, name) and whether
    /// Kafka's StandardAuthorizer allows it.
    #[test]
    fn decisions_follow_kafkas_rules() {
        let alice = "User:alice";
        let rows: Vec<Row> = vec![
            (
                "no ACL at all: denied by default",
                vec![],
                (alice, "1.1.1.1", Op::Read, Topic, "t"),
                false,
            ),
            (
                "literal allow",
                vec![acl(Topic, "t", Literal, alice, "*", Op::Read, Allow)],
                (alice, "1.1.1.1", Op::Read, Topic, "t"),
                true,
            ),
            (
                "other topic",
                vec![acl(Topic, "t", Literal, alice, "*", Op::Read, Allow)],
                (alice, "1.1.1.1", Op::Read, Topic, "u"),
                false,
            ),
            (
                "other principal",
                vec![acl(Topic, "t", Literal, "User:bob", "*", Op::Read, Allow)],
                (alice, "1.1.1.1", Op::Read, Topic, "t"),
                false,
            ),
            (
                "principal type matters",
                vec![acl(
                    Topic,
                    "t",
                    Literal,
                    "Group:alice",
                    "*",
                    Op::Read,
                    Allow,
                )],
                (alice, "1.1.1.1", Op::Read, Topic, "t"),
                false,
            ),
            (
                "wildcard principal",
                vec![acl(Topic, "t", Literal, "User:*", "*", Op::Read, Allow)],
                (alice, "1.1.1.1", Op::Read, Topic, "t"),
                true,
            ),
            (
                "host must match",
                vec![acl(
                    Topic,
                    "t",
                    Literal,
                    alice,
                    "127.0.0.1",
                    Op::Read,
                    Allow,
                )],
                (alice, "127.0.0.2", Op::Read, Topic, "t"),
                false,
            ),
            (
                "host matches",
                vec![acl(
                    Topic,
                    "t",
                    Literal,
                    alice,
                    "127.0.0.1",
                    Op::Read,
                    Allow,
                )],
                (alice, "127.0.0.1", Op::Read, Topic, "t"),
                true,
            ),
            (
                "wildcard resource",
                vec![acl(Topic, "*", Literal, alice, "*", Op::Write, Allow)],
                (alice, "h", Op::Write, Topic, "any"),
                true,
            ),
            (
                "resource type matters",
                vec![acl(Group, "t", Literal, alice, "*", Op::Read, Allow)],
                (alice, "h", Op::Read, Topic, "t"),
                false,
            ),
            (
                "prefixed",
                vec![acl(Topic, "ord", Prefixed, alice, "*", Op::Read, Allow)],
                (alice, "h", Op::Read, Topic, "orders"),
                true,
            ),
            (
                "prefixed is not literal",
                vec![acl(Topic, "ord", Prefixed, alice, "*", Op::Read, Allow)],
                (alice, "h", Op::Read, Topic, "or"),
                false,
            ),
            (
                "literal is not a prefix",
                vec![acl(Topic, "ord", Literal, alice, "*", Op::Read, Allow)],
                (alice, "h", Op::Read, Topic, "orders"),
                false,
            ),
            (
                "read implies describe",
                vec![acl(Topic, "t", Literal, alice, "*", Op::Read, Allow)],
                (alice, "h", Op::Describe, Topic, "t"),
                true,
            ),
            (
                "write implies describe",
                vec![acl(Topic, "t", Literal, alice, "*", Op::Write, Allow)],
                (alice, "h", Op::Describe, Topic, "t"),
                true,
            ),
            (
                "delete implies describe",
                vec![acl(Topic, "t", Literal, alice, "*", Op::Delete, Allow)],
                (alice, "h", Op::Describe, Topic, "t"),
                true,
            ),
            (
                "alter implies describe",
                vec![acl(Topic, "t", Literal, alice, "*", Op::Alter, Allow)],
                (alice, "h", Op::Describe, Topic, "t"),
                true,
            ),
            (
                "create does not imply describe",
                vec![acl(Topic, "t", Literal, alice, "*", Op::Create, Allow)],
                (alice, "h", Op::Describe, Topic, "t"),
                false,
            ),
            (
                "describe does not imply read",
                vec![acl(Topic, "t", Literal, alice, "*", Op::Describe, Allow)],
                (alice, "h", Op::Read, Topic, "t"),
                false,
            ),
            (
                "alter_configs implies describe_configs",
                vec![acl(
                    Topic,
                    "t",
                    Literal,
                    alice,
                    "*",
                    Op::AlterConfigs,
                    Allow,
                )],
                (alice, "h", Op::DescribeConfigs, Topic, "t"),
                true,
            ),
            (
                "all implies everything",
                vec![acl(
                    Cluster,
                    "kafka-cluster",
                    Literal,
                    alice,
                    "*",
                    Op::All,
                    Allow,
                )],
                (alice, "h", Op::ClusterAction, Cluster, "kafka-cluster"),
                true,
            ),
            (
                "deny beats allow",
                vec![
                    acl(Topic, "t", Literal, alice, "*", Op::Read, Allow),
                    acl(Topic, "t", Literal, alice, "*", Op::Read, Deny),
                ],
                (alice, "h", Op::Read, Topic, "t"),
                false,
            ),
            (
                "wildcard deny beats literal allow",
                vec![
                    acl(Topic, "t", Literal, alice, "*", Op::Read, Allow),
                    acl(Topic, "*", Literal, "User:*", "*", Op::All, Deny),
                ],
                (alice, "h", Op::Read, Topic, "t"),
                false,
            ),
            (
                "prefixed deny beats literal allow",
                vec![
                    acl(Topic, "orders", Literal, alice, "*", Op::Read, Allow),
                    acl(Topic, "ord", Prefixed, alice, "*", Op::Read, Deny),
                ],
                (alice, "h", Op::Read, Topic, "orders"),
                false,
            ),
            (
                "deny of another host leaves allow",
                vec![
                    acl(Topic, "t", Literal, alice, "*", Op::Read, Allow),
                    acl(Topic, "t", Literal, alice, "10.0.0.1", Op::Read, Deny),
                ],
                (alice, "h", Op::Read, Topic, "t"),
                true,
            ),
            (
                "deny read does not deny describe",
                vec![
                    acl(Topic, "t", Literal, alice, "*", Op::Write, Allow),
                    acl(Topic, "t", Literal, alice, "*", Op::Read, Deny),
                ],
                (alice, "h", Op::Describe, Topic, "t"),
                true,
            ),
            (
                "deny all denies describe",
                vec![
                    acl(Topic, "t", Literal, alice, "*", Op::Write, Allow),
                    acl(Topic, "t", Literal, alice, "*", Op::All, Deny),
                ],
                (alice, "h", Op::Describe, Topic, "t"),
                false,
            ),
        ];
        let authorizer = Authorizer::default();
        for (why, acls, (principal, host, op, rt, name), want) in rows {
            let (kind, pname) = principal.split_once(':').unwrap();
            let p = KafkaPrincipal {
                principal_type: kind.into(),
                name: pname.into(),
            };
            let got = authorizer.authorize(&cache(acls), &p, host, op, rt, name);
            assert_eq!(got == Decision::Allowed, want, "{why}");
        }
    }

    #[test]
    fn super_users_and_allow_everyone() {
        let alice = KafkaPrincipal::user("alice");
        let deny_all = cache(vec![acl(Topic, "*", Literal, "User:*", "*", Op::All, Deny)]);
        let supers = Authorizer::new(Authorizer::parse_super_users("User:bob; User:alice"), false);
        assert_eq!(
            supers.authorize(&deny_all, &alice, "h", Op::Write, Topic, "t"),
            Decision::Allowed
        );
        let open = Authorizer::new(Vec::new(), true);
        let empty = AclCache::default();
        assert_eq!(
            open.authorize(&empty, &alice, "h", Op::Write, Topic, "t"),
            Decision::Allowed
        );
        // An ACL on the resource for someone else: no longer "no ACL found".
        let bobs = cache(vec![acl(
            Topic,
            "t",
            Literal,
            "User:bob",
            "*",
            Op::Read,
            Allow,
        )]);
        assert_eq!(
            open.authorize(&bobs, &alice, "h", Op::Read, Topic, "t"),
            Decision::Denied
        );
        assert_eq!(
            open.authorize(&bobs, &alice, "h", Op::Read, Topic, "u"),
            Decision::Allowed
        );
    }

    #[test]
    fn by_resource_type_needs_an_allow_not_covered_by_a_deny() {
        let alice = KafkaPrincipal::user("alice");
        let a = Authorizer::default();
        let write = |name: &str, pt| acl(Topic, name, pt, "User:alice", "*", Op::Write, Allow);
        let deny = |name: &str, pt| acl(Topic, name, pt, "User:alice", "*", Op::Write, Deny);
        let check =
            |acls| a.authorize_by_resource_type(&cache(acls), &alice, "h", Op::Write, Topic);
        assert_eq!(check(vec![]), Decision::Denied);
        assert_eq!(check(vec![write("t", Literal)]), Decision::Allowed);
        assert_eq!(
            check(vec![write("t", Literal), deny("t", Literal)]),
            Decision::Denied
        );
        assert_eq!(
            check(vec![write("tx", Literal), deny("t", Prefixed)]),
            Decision::Denied
        );
        assert_eq!(
            check(vec![write("t", Prefixed), deny("tx", Literal)]),
            Decision::Allowed
        );
        assert_eq!(
            check(vec![write("t", Literal), deny("*", Literal)]),
            Decision::Denied
        );
        // READ does not count for WRITE.
        let read = acl(Topic, "t", Literal, "User:alice", "*", Op::Read, Allow);
        assert_eq!(check(vec![read]), Decision::Denied);
    }
}

//! The words of an ACL and their Kafka wire codes (`ResourceType`, `PatternType`, `AclOperation`,
//! `AclPermissionType` in Kafka's clients), one stored ACL, and the filters that select ACLs.

use serde::{Deserialize, Serialize};

/// The wildcard resource name, principal name and host.
pub const WILDCARD: &str = "*";
/// The name of the one cluster resource.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// The principal that matches every user.
pub const WILDCARD_PRINCIPAL: &str = "User:*";

macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:expr, $text:expr;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($variant),* }

        impl $name {
            /// Every variant, in code order.
            pub const ALL_VALUES: &'static [$name] = &[$($name::$variant),*];

            /// Kafka's wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code),* }
            }

            /// `None` for UNKNOWN (0) and codes Kafka does not define.
            pub fn from_code(code: i8) -> Option<Self> {
                match code { $($code => Some($name::$variant),)* _ => None }
            }

            /// Kafka's upper-case name.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

coded_enum!(
    /// What an ACL protects. `Any` only appears in filters.
    ResourceType {
        Any = 1, "ANY";
        Topic = 2, "TOPIC";
        Group = 3, "GROUP";
        Cluster = 4, "CLUSTER";
        TransactionalId = 5, "TRANSACTIONAL_ID";
        DelegationToken = 6, "DELEGATION_TOKEN";
        User = 7, "USER";
    }
);

coded_enum!(
    /// How an ACL's resource name matches. `Any` and `Match` only appear in filters.
    PatternType {
        Any = 1, "ANY";
        Match = 2, "MATCH";
        Literal = 3, "LITERAL";
        Prefixed = 4, "PREFIXED";
    }
);

coded_enum!(
    /// What a request does to a resource. `Any` only appears in filters; `All` in an ACL
    /// covers every operation.
    AclOperation {
        Any = 1, "ANY";
        All = 2, "ALL";
        Read = 3, "READ";
        Write = 4, "WRITE";
        Create = 5, "CREATE";
        Delete = 6, "DELETE";
        Alter = 7, "ALTER";
        Describe = 8, "DESCRIBE";
        ClusterAction = 9, "CLUSTER_ACTION";
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        AlterConfigs = 11, "ALTER_CONFIGS";
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        CreateTokens = 13, "CREATE_TOKENS";
        DescribeTokens = 14, "DESCRIBE_TOKENS";
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
);

coded_enum!(
    /// Whether an ACL grants or refuses. `Any` only appears in filters.
    AclPermissionType {
        Any = 1, "ANY";
        Deny = 2, "DENY";
        Allow = 3, "ALLOW";
    }
);

impl AclOperation {
    /// The bit of this operation in an `authorized_operations` field (Metadata,
    /// DescribeGroups…): bit `code`.
    pub fn bit(self) -> i32 {
        1 << self.code()
    }
}

/// One ACL as the metadata log stores it (Kafka's AccessControlEntryRecord without the id):
/// concrete values only, no ANY/MATCH.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StandardAcl {
    pub resource_type: ResourceType,
    pub resource_name: String,
    pub pattern_type: PatternType,
    /// `Type:name`, for example `User:alice` or `User:*`.
    pub principal: String,
    /// An IP address as the broker sees the peer, or `*`.
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermissionType,
}

/// Why an ACL cannot be stored (Kafka answers INVALID_REQUEST with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidAcl(pub String);

impl StandardAcl {
    /// Validates a CreateAcls entry from its wire codes, as Kafka's controller does.
    pub fn from_wire(
        resource_type: i8,
        resource_name: &str,
        pattern_type: i8,
        principal: &str,
        host: &str,
        operation: i8,
        permission: i8,
    ) -> Result<Self, InvalidAcl> {
        let bad = |what: &str| InvalidAcl(what.to_string());
        let resource_type = match ResourceType::from_code(resource_type) {
            Some(ResourceType::Any) | None => return Err(bad("Invalid resourceType")),
            Some(t) => t,
        };
        let pattern_type = match PatternType::from_code(pattern_type) {
            Some(p @ (PatternType::Literal | PatternType::Prefixed)) => p,
            _ => return Err(bad("Invalid patternType")),
        };
        let operation = match AclOperation::from_code(operation) {
            Some(AclOperation::Any) | None => return Err(bad("Invalid operation")),
            Some(o) => o,
        };
        let permission = match AclPermissionType::from_code(permission) {
            Some(AclPermissionType::Any) | None => return Err(bad("Invalid permissionType")),
            Some(p) => p,
        };
        if resource_name.is_empty() {
            return Err(bad("Resource name should not be empty"));
        }
        if resource_type == ResourceType::Cluster && resource_name != CLUSTER_NAME {
            return Err(bad(
                "The only valid name for the CLUSTER resource is kafka-cluster",
            ));
        }
        if pattern_type == PatternType::Prefixed && resource_name == WILDCARD {
            // Kafka's ResourcePattern refuses a prefixed wildcard.
            return Err(bad("Wildcard is only supported for LITERAL patterns"));
        }
        match principal.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {}
            _ => {
                return Err(InvalidAcl(format!(
                    "Could not parse principal from `{principal}` (no colon is present separating the principal type from the principal name)"
                )))
            }
        }
        if host.is_empty() {
            return Err(bad("Invalid host"));
        }
        Ok(Self {
            resource_type,
            resource_name: resource_name.to_string(),
            pattern_type,
            principal: principal.to_string(),
            host: host.to_string(),
            operation,
            permission,
        })
    }

    /// Whether the principal `kind:name` is the one this ACL names, or it names `User:*`.
    pub fn matches_principal(&self, kind: &str, name: &str) -> bool {
        if self.principal == WILDCARD_PRINCIPAL {
            return true;
        }
        self.principal
            .split_once(':')
            .is_some_and(|(k, n)| k == kind && n == name)
    }
}

/// A DescribeAcls / DeleteAcls filter (Kafka's AclBindingFilter). `None` text matches any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclBindingFilter {
    pub resource_type: ResourceType,
    pub resource_name: Option<String>,
    pub pattern_type: PatternType,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission: AclPermissionType,
}

impl AclBindingFilter {
    /// Validates a filter from its wire codes; UNKNOWN (0) or undefined codes are refused.
    pub fn from_wire(
        resource_type: i8,
        resource_name: Option<&str>,
        pattern_type: i8,
        principal: Option<&str>,
        host: Option<&str>,
        operation: i8,
        permission: i8,
    ) -> Result<Self, InvalidAcl> {
        let bad = |what: &str| InvalidAcl(what.to_string());
        Ok(Self {
            resource_type: ResourceType::from_code(resource_type)
                .ok_or_else(|| bad("Invalid resourceType"))?,
            resource_name: resource_name.map(str::to_string),
            pattern_type: PatternType::from_code(pattern_type)
                .ok_or_else(|| bad("Invalid patternType"))?,
            principal: principal.map(str::to_string),
            host: host.map(str::to_string),
            operation: AclOperation::from_code(operation)
                .ok_or_else(|| bad("Invalid operation"))?,
            permission: AclPermissionType::from_code(permission)
                .ok_or_else(|| bad("Invalid permissionType"))?,
        })
    }

    /// The filter that matches every ACL.
    pub fn any() -> Self {
        Self {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermissionType::Any,
        }
    }

    /// Kafka's `AclBindingFilter.matches`: the resource pattern part (with MATCH meaning "every
    /// ACL that would apply to this resource") and the entry part.
    pub fn matches(&self, acl: &StandardAcl) -> bool {
        self.matches_resource(acl) && self.matches_entry(acl)
    }

    fn matches_resource(&self, acl: &StandardAcl) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != acl.resource_type {
            return false;
        }
        if !matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            && self.pattern_type != acl.pattern_type
        {
            return false;
        }
        let Some(name) = &self.resource_name else {
            return true;
        };
        if self.pattern_type == PatternType::Any || self.pattern_type == acl.pattern_type {
            return *name == acl.resource_name;
        }
        match acl.pattern_type {
            PatternType::Literal => *name == acl.resource_name || acl.resource_name == WILDCARD,
            PatternType::Prefixed => name.starts_with(&acl.resource_name),
            PatternType::Any | PatternType::Match => false,
        }
    }

    fn matches_entry(&self, acl: &StandardAcl) -> bool {
        self.principal.as_ref().is_none_or(|p| *p == acl.principal)
            && self.host.as_ref().is_none_or(|h| *h == acl.host)
            && (self.operation == AclOperation::Any || self.operation == acl.operation)
            && (self.permission == AclPermissionType::Any || self.permission == acl.permission)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(rt: ResourceType, name: &str, pt: PatternType) -> StandardAcl {
        StandardAcl {
            resource_type: rt,
            resource_name: name.into(),
            pattern_type: pt,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermissionType::Allow,
        }
    }

    #[test]
    fn codes_round_trip_and_unknown_is_refused() {
        for op in AclOperation::ALL_VALUES {
            assert_eq!(AclOperation::from_code(op.code()), Some(*op));
        }
        assert_eq!(AclOperation::from_code(0), None);
        assert_eq!(ResourceType::from_code(8), None);
        assert_eq!(AclOperation::Describe.bit(), 256);
    }

    #[test]
    fn creation_validation_follows_kafka() {
        let ok = StandardAcl::from_wire(2, "t", 3, "User:alice", "*", 3, 3).unwrap();
        assert_eq!(ok.operation, AclOperation::Read);
        for (rt, pt, op, perm, principal) in [
            (1, 3, 3, 3, "User:a"),
            (0, 3, 3, 3, "User:a"),
            (2, 2, 3, 3, "User:a"),
            (2, 1, 3, 3, "User:a"),
            (2, 3, 1, 3, "User:a"),
            (2, 3, 3, 1, "User:a"),
            (2, 3, 3, 3, "alice"),
        ] {
            assert!(StandardAcl::from_wire(rt, "t", pt, principal, "*", op, perm).is_err());
        }
        assert!(StandardAcl::from_wire(4, "other", 3, "User:a", "*", 3, 3).is_err());
    }

    #[test]
    fn filters_match_as_kafka_does() {
        let literal = acl(ResourceType::Topic, "orders", PatternType::Literal);
        let wildcard = acl(ResourceType::Topic, "*", PatternType::Literal);
        let prefixed = acl(ResourceType::Topic, "ord", PatternType::Prefixed);
        let group = acl(ResourceType::Group, "orders", PatternType::Literal);
        let mut f = AclBindingFilter::any();
        assert!([&literal, &wildcard, &prefixed, &group]
            .iter()
            .all(|a| f.matches(a)));
        f.resource_type = ResourceType::Topic;
        f.resource_name = Some("orders".into());
        // ANY: exact name, any pattern type.
        assert!(f.matches(&literal) && !f.matches(&wildcard) && !f.matches(&prefixed));
        assert!(!f.matches(&group));
        // MATCH: every ACL that applies to the topic `orders`.
        f.pattern_type = PatternType::Match;
        assert!(f.matches(&literal) && f.matches(&wildcard) && f.matches(&prefixed));
        f.pattern_type = PatternType::Prefixed;
        assert!(!f.matches(&prefixed));
        f.resource_name = Some("ord".into());
        assert!(f.matches(&prefixed) && !f.matches(&literal));
        f.principal = Some("User:bob".into());
        assert!(!f.matches(&prefixed));
    }
}

//! Access control lists, as Kafka's `StandardAuthorizer` keeps and decides them.
//!
//! - [`binding`]: the vocabulary (resource types, pattern types, operations, permissions) with
//!   Kafka's wire codes, one stored ACL ([`StandardAcl`]) and the filters of DescribeAcls and
//!   DeleteAcls.
//! - [`cache`]: the ACLs of the metadata image, indexed by resource so that one decision is a
//!   few map lookups (exact name, the wildcard `*`, and each prefix of the name).
//! - [`authorizer`]: the decision itself: super users, DENY before ALLOW, implied operations,
//!   `allow.everyone.if.no.acl.found`.
//!
//! Pure code: no I/O, no wire types. ACLs change only by replaying metadata records.

pub mod authorizer;
pub mod binding;
pub mod cache;

pub use authorizer::{Authorizer, Decision};
pub use binding::{
    AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType, StandardAcl,
    CLUSTER_NAME, WILDCARD,
};
pub use cache::AclCache;

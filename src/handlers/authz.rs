//! The one way handlers authorize: `ctx.authz()` takes the ACLs of the current metadata image
//! once per request, and each check is then a few map lookups. Without `authorizer.class.name`
//! every check is `true` at the cost of a branch, so the produce and fetch paths are unchanged.

use std::sync::Arc;

use crate::metadata::MetadataImage;
use crate::protocol::RequestContext;
use crate::security::acl::{AclOperation, Authorizer, Decision, ResourceType, CLUSTER_NAME};
use crate::security::KafkaPrincipal;

/// Kafka's value of an `authorized_operations` field that was not asked for.
pub const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;

/// The operations Kafka reports in `authorized_operations`, per resource type.
pub const TOPIC_OPERATIONS: &[AclOperation] = &[
    AclOperation::Read,
    AclOperation::Write,
    AclOperation::Create,
    AclOperation::Delete,
    AclOperation::Alter,
    AclOperation::Describe,
    AclOperation::DescribeConfigs,
    AclOperation::AlterConfigs,
];
pub const GROUP_OPERATIONS: &[AclOperation] = &[
    AclOperation::Read,
    AclOperation::Describe,
    AclOperation::Delete,
    AclOperation::DescribeConfigs,
    AclOperation::AlterConfigs,
];
pub const CLUSTER_OPERATIONS: &[AclOperation] = &[
    AclOperation::Create,
    AclOperation::ClusterAction,
    AclOperation::DescribeConfigs,
    AclOperation::AlterConfigs,
    AclOperation::IdempotentWrite,
    AclOperation::Alter,
    AclOperation::Describe,
];

/// A request's view of the authorizer.
pub struct Authz<'a> {
    /// `None`: no authorizer configured.
    checker: Option<(&'a Authorizer, Arc<MetadataImage>)>,
    principal: &'a KafkaPrincipal,
    /// The client's address as Kafka prints it (an IPv4-mapped IPv6 address as IPv4).
    host: String,
}

impl RequestContext {
    /// The authorizer as this request sees it.
    pub fn authz(&self) -> Authz<'_> {
        match &self.broker.authorizer {
            None => Authz {
                checker: None,
                principal: &self.principal,
                host: String::new(),
            },
            Some(a) => Authz {
                checker: Some((a, self.broker.image())),
                principal: &self.principal,
                host: self.peer.ip().to_canonical().to_string(),
            },
        }
    }

    /// One check, for handlers that make only one.
    pub fn authorize(
        &self,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        self.broker.authorizer.is_none() || self.authz().allows(operation, resource_type, name)
    }
}

impl Authz<'_> {
    pub fn enabled(&self) -> bool {
        self.checker.is_some()
    }

    pub fn allows(&self, operation: AclOperation, resource_type: ResourceType, name: &str) -> bool {
        match &self.checker {
            None => true,
            Some((authorizer, image)) => {
                let decision = authorizer.authorize(
                    &image.acls,
                    self.principal,
                    &self.host,
                    operation,
                    resource_type,
                    name,
                );
                if decision == Decision::Denied {
                    tracing::debug!(
                        principal = %self.principal,
                        host = %self.host,
                        %operation,
                        %resource_type,
                        name,
                        "authorization denied"
                    );
                }
                decision == Decision::Allowed
            }
        }
    }

    pub fn topic(&self, operation: AclOperation, name: &str) -> bool {
        self.allows(operation, ResourceType::Topic, name)
    }

    pub fn group(&self, operation: AclOperation, name: &str) -> bool {
        self.allows(operation, ResourceType::Group, name)
    }

    pub fn cluster(&self, operation: AclOperation) -> bool {
        self.allows(operation, ResourceType::Cluster, CLUSTER_NAME)
    }

    pub fn transactional_id(&self, operation: AclOperation, name: &str) -> bool {
        self.allows(operation, ResourceType::TransactionalId, name)
    }

    /// May the principal do `operation` on some resource of the type (Kafka's
    /// `authorizeByResourceType`)?
    pub fn allows_any(&self, operation: AclOperation, resource_type: ResourceType) -> bool {
        match &self.checker {
            None => true,
            Some((authorizer, image)) => {
                authorizer.authorize_by_resource_type(
                    &image.acls,
                    self.principal,
                    &self.host,
                    operation,
                    resource_type,
                ) == Decision::Allowed
            }
        }
    }

    /// The `authorized_operations` bit set of a resource: each of `operations` allowed.
    pub fn authorized_operations(
        &self,
        resource_type: ResourceType,
        name: &str,
        operations: &[AclOperation],
    ) -> i32 {
        operations
            .iter()
            .filter(|op| self.allows(**op, resource_type, name))
            .fold(0, |bits, op| bits | op.bit())
    }
}

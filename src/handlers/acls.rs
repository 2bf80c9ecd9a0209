//! CreateAcls, DescribeAcls and DeleteAcls (`kafka-acls.sh`). The ACLs live in the metadata
//! log: creation and deletion go through the controller, description reads the image.
//!
//! As in Kafka: without an authorizer the answer is SECURITY_DISABLED; changing ACLs needs
//! ALTER on the cluster and listing them DESCRIBE; an invalid entry or filter fails alone with
//! INVALID_REQUEST while the others of the request go ahead.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::protocol::errors::{self, KafkaError};
use crate::protocol::RequestContext;
use crate::security::acl::binding::InvalidAcl;
use crate::security::acl::{AclBindingFilter, AclOperation, StandardAcl};

const NO_AUTHORIZER: &str = "No Authorizer is configured.";

fn security_disabled() -> KafkaError {
    KafkaError::with_message(ResponseError::SecurityDisabled, NO_AUTHORIZER)
}

fn invalid(e: InvalidAcl) -> KafkaError {
    KafkaError::with_message(ResponseError::InvalidRequest, e.0)
}

fn cluster_denied() -> KafkaError {
    KafkaError::new(ResponseError::ClusterAuthorizationFailed)
}

pub async fn create_acls(ctx: &RequestContext, request: CreateAclsRequest) -> CreateAclsResponse {
    let refuse_all = if ctx.broker.authorizer.is_none() {
        Some(security_disabled())
    } else if !ctx.authz().cluster(AclOperation::Alter) {
        Some(cluster_denied())
    } else {
        None
    };
    let mut outcomes: Vec<Result<(), KafkaError>> = Vec::new();
    let mut valid = Vec::new();
    for c in &request.creations {
        let outcome = match &refuse_all {
            Some(e) => Err(KafkaError {
                code: e.code,
                message: e.message.clone(),
            }),
            None => StandardAcl::from_wire(
                c.resource_type,
                &c.resource_name,
                c.resource_pattern_type,
                &c.principal,
                &c.host,
                c.operation,
                c.permission_type,
            )
            .map(|acl| valid.push(acl))
            .map_err(invalid),
        };
        outcomes.push(outcome);
    }
    if !valid.is_empty() {
        let broker = ctx.broker.clone();
        if let Err(e) = crate::cluster::off_async_workers(|| broker.controller.create_acls(valid)) {
            let e = errors::metadata_error(&e);
            for o in outcomes.iter_mut().filter(|o| o.is_ok()) {
                *o = Err(KafkaError {
                    code: e.code,
                    message: e.message.clone(),
                });
            }
        }
    }
    let results = outcomes
        .into_iter()
        .map(|o| match o {
            Ok(()) => AclCreationResult::default(),
            Err(e) => AclCreationResult::default()
                .with_error_code(e.code)
                .with_error_message(e.message.map(str_bytes)),
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

pub async fn describe_acls(
    ctx: &RequestContext,
    request: DescribeAclsRequest,
) -> DescribeAclsResponse {
    let fail = |e: KafkaError| {
        DescribeAclsResponse::default()
            .with_error_code(e.code)
            .with_error_message(e.message.map(str_bytes))
    };
    if ctx.broker.authorizer.is_none() {
        return fail(security_disabled());
    }
    if !ctx.authz().cluster(AclOperation::Describe) {
        return fail(cluster_denied());
    }
    let filter = match AclBindingFilter::from_wire(
        request.resource_type_filter,
        request.resource_name_filter.as_deref(),
        request.pattern_type_filter,
        request.principal_filter.as_deref(),
        request.host_filter.as_deref(),
        request.operation,
        request.permission_type,
    ) {
        Ok(f) => f,
        Err(e) => return fail(invalid(e)),
    };
    let image = ctx.broker.image();
    let mut by_resource: BTreeMap<_, Vec<AclDescription>> = BTreeMap::new();
    for (_, acl) in image.acls.matching(&filter) {
        by_resource
            .entry((
                acl.resource_type,
                acl.resource_name.clone(),
                acl.pattern_type,
            ))
            .or_default()
            .push(
                AclDescription::default()
                    .with_principal(str_bytes(acl.principal.clone()))
                    .with_host(str_bytes(acl.host.clone()))
                    .with_operation(acl.operation.code())
                    .with_permission_type(acl.permission.code()),
            );
    }
    let resources = by_resource
        .into_iter()
        .map(|((resource_type, name, pattern_type), acls)| {
            DescribeAclsResource::default()
                .with_resource_type(resource_type.code())
                .with_resource_name(str_bytes(name))
                .with_pattern_type(pattern_type.code())
                .with_acls(acls)
        })
        .collect();
    DescribeAclsResponse::default().with_resources(resources)
}

pub async fn delete_acls(ctx: &RequestContext, request: DeleteAclsRequest) -> DeleteAclsResponse {
    let failed = |e: &KafkaError| {
        DeleteAclsFilterResult::default()
            .with_error_code(e.code)
            .with_error_message(e.message.clone().map(str_bytes))
    };
    let refuse_all = if ctx.broker.authorizer.is_none() {
        Some(security_disabled())
    } else if !ctx.authz().cluster(AclOperation::Alter) {
        Some(cluster_denied())
    } else {
        None
    };
    if let Some(e) = refuse_all {
        let results = request.filters.iter().map(|_| failed(&e)).collect();
        return DeleteAclsResponse::default().with_filter_results(results);
    }
    // Filters in request order; the invalid ones answer alone, the others go in one op.
    let parsed: Vec<Result<AclBindingFilter, KafkaError>> = request
        .filters
        .iter()
        .map(|f| {
            AclBindingFilter::from_wire(
                f.resource_type_filter,
                f.resource_name_filter.as_deref(),
                f.pattern_type_filter,
                f.principal_filter.as_deref(),
                f.host_filter.as_deref(),
                f.operation,
                f.permission_type,
            )
            .map_err(invalid)
        })
        .collect();
    let valid: Vec<AclBindingFilter> = parsed.iter().flatten().cloned().collect();
    let removed = if valid.is_empty() {
        Ok(Vec::new())
    } else {
        let broker = ctx.broker.clone();
        crate::cluster::off_async_workers(|| broker.controller.delete_acls(valid))
            .map_err(|e| errors::metadata_error(&e))
    };
    let mut removed_per_filter = match &removed {
        Ok(lists) => lists.clone().into_iter(),
        Err(_) => Vec::new().into_iter(),
    };
    let results = parsed
        .into_iter()
        .map(|p| match (p, &removed) {
            (Err(e), _) => failed(&e),
            (Ok(_), Err(e)) => failed(e),
            (Ok(_), Ok(_)) => {
                let matching = removed_per_filter
                    .next()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|acl| {
                        DeleteAclsMatchingAcl::default()
                            .with_resource_type(acl.resource_type.code())
                            .with_resource_name(str_bytes(acl.resource_name))
                            .with_pattern_type(acl.pattern_type.code())
                            .with_principal(str_bytes(acl.principal))
                            .with_host(str_bytes(acl.host))
                            .with_operation(acl.operation.code())
                            .with_permission_type(acl.permission.code())
                    })
                    .collect();
                DeleteAclsFilterResult::default().with_matching_acls(matching)
            }
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}

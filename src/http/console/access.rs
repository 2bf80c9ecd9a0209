//! The viewer's rights: each page and action asks the broker's authorizer what Kafka would ask
//! for the equivalent request, with the viewer's principal and address:
//!
//! | Console | Kafka request | ACL |
//! |---|---|---|
//! | topic lists and counts, a topic's page | Metadata | DESCRIBE on the TOPIC (others hidden; a named one is a 403) |
//! | a topic's configs | DescribeConfigs | DESCRIBE_CONFIGS on the TOPIC |
//! | the message browser | Fetch | READ on the TOPIC |
//! | produce a test message | Produce | WRITE on the TOPIC |
//! | create a topic | CreateTopics | CREATE on the CLUSTER or the TOPIC |
//! | delete a topic | DeleteTopics | DELETE on the TOPIC |
//! | change a config | IncrementalAlterConfigs | ALTER_CONFIGS on the TOPIC |
//! | group lists, a group's page | ListGroups, DescribeGroups, OffsetFetch | DESCRIBE on the GROUP (offsets of topics without DESCRIBE hidden) |
//! | reset offsets | OffsetCommit | READ on the GROUP (and READ on each TOPIC, checked by the handler) |
//! | delete a group | DeleteGroups | DELETE on the GROUP |
//!
//! A super user (`super.users`) may do everything; without an authorizer everyone may. The
//! actions' handlers check again, as they do for a Kafka client; the check here comes first so
//! that the 403 page names what was denied.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;

use super::ConsoleError;
use crate::broker::Broker;
use crate::handlers::authz::Authz;
use crate::http::auth::Viewer;
use crate::http::HttpState;
use crate::protocol::RequestContext;
use crate::security::acl::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::security::{KafkaPrincipal, ListenerInfo};

/// The broker as the viewer of one request sees it.
pub(in crate::http) struct Access {
    pub broker: Arc<Broker>,
    /// The viewer's request context (its principal and address), for checks and for the
    /// handlers of actions.
    context: RequestContext,
    logged_in: bool,
}

impl FromRequestParts<Arc<HttpState>> for Access {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<HttpState>,
    ) -> Result<Self, ConsoleError> {
        // The login middleware sets the viewer on every request; without it, nothing is shown.
        let viewer = parts.extensions.get::<Viewer>().cloned().ok_or_else(|| {
            ConsoleError::new(StatusCode::UNAUTHORIZED, "no login on this request")
        })?;
        Ok(Access::new(state.broker.clone(), viewer))
    }
}

impl Access {
    pub fn new(broker: Arc<Broker>, viewer: Viewer) -> Self {
        let context = RequestContext {
            broker: broker.clone(),
            api_version: 0,
            client_id: Some("milena-console".into()),
            peer: viewer.peer,
            listener: ListenerInfo::plaintext(),
            principal: viewer.principal,
            remote_ns: Default::default(),
        };
        Access {
            broker,
            context,
            logged_in: viewer.logged_in,
        }
    }

    /// The logged-in principal, for the page header; `None` without a login.
    pub fn login(&self) -> Option<&KafkaPrincipal> {
        self.logged_in.then_some(&*self.context.principal)
    }

    /// Who the viewer is to the authorizer.
    pub fn principal(&self) -> &KafkaPrincipal {
        &self.context.principal
    }

    /// The authorizer as the viewer sees it (the ACLs of the current image).
    pub fn authz(&self) -> Authz<'_> {
        self.context.authz()
    }

    /// A request context for calling a Kafka handler as the viewer.
    pub fn context(&self, api_version: i16) -> RequestContext {
        RequestContext {
            broker: self.broker.clone(),
            api_version,
            client_id: self.context.client_id.clone(),
            peer: self.context.peer,
            listener: self.context.listener.clone(),
            principal: self.context.principal.clone(),
            remote_ns: Default::default(),
        }
    }

    pub fn allows(&self, operation: AclOperation, resource_type: ResourceType, name: &str) -> bool {
        self.context.authorize(operation, resource_type, name)
    }

    /// `Ok` if the viewer may do `operation` on the resource, else the 403 page naming it.
    pub fn require(
        &self,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> Result<(), ConsoleError> {
        if self.allows(operation, resource_type, name) {
            return Ok(());
        }
        Err(self.denied(operation, resource_type, name))
    }

    /// CreateTopics' check: CREATE on the cluster, or on the topic.
    pub fn require_create_topic(&self, name: &str) -> Result<(), ConsoleError> {
        if self.allows(AclOperation::Create, ResourceType::Cluster, CLUSTER_NAME) {
            return Ok(());
        }
        self.require(AclOperation::Create, ResourceType::Topic, name)
    }

    /// Whether the viewer may create some topic (to offer the form at all).
    pub fn may_create_topics(&self) -> bool {
        let authz = self.authz();
        authz.cluster(AclOperation::Create)
            || authz.allows_any(AclOperation::Create, ResourceType::Topic)
    }

    /// The 403 page of a denied operation.
    pub fn denied(
        &self,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> ConsoleError {
        let principal = &self.context.principal;
        let resource = resource_type.name().to_ascii_lowercase();
        let hint = if self.logged_in {
            String::new()
        } else {
            " The console has no login on this broker (it has no SASL users), so it acts as \
             User:ANONYMOUS."
                .to_string()
        };
        ConsoleError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Denied: {principal} is not authorized to {operation} {resource} '{name}' \
                 (the broker's ACLs).{hint}"
            ),
        )
    }
}

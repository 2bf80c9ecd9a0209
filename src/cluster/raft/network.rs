//! openraft's network over the controller listener: each Raft message travels as an opaque
//! JSON body inside an [`rpc::Request::Raft`] frame.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Node, NodeId, TypeConfig};
use crate::cluster::rpc::{Client, RaftKind, Request, Response, RpcError};

/// Makes one [`Client`] per peer; a peer that refuses our hello is reported on `refusals`.
pub struct Network {
    pub hello: Arc<dyn Fn(NodeId) -> Request + Send + Sync>,
    /// TCP or TLS to the controller listener.
    pub channel: Arc<crate::cluster::channel::ChannelBuilder>,
    pub refusals: tokio::sync::mpsc::UnboundedSender<(i32, String)>,
}

pub struct Connection {
    target: NodeId,
    client: Client,
    refusals: tokio::sync::mpsc::UnboundedSender<(i32, String)>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> Connection {
        Connection {
            target,
            client: Client::new(
                node.addr.clone(),
                (self.hello)(target),
                self.channel.clone(),
            ),
            refusals: self.refusals.clone(),
        }
    }
}

impl Connection {
    async fn send<Req, Resp, E>(
        &mut self,
        kind: RaftKind,
        request: Req,
        timeout: Duration,
    ) -> Result<Resp, RPCError<NodeId, Node, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body =
            serde_json::to_value(&request).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let answer = self
            .client
            .call(&Request::Raft { kind, body }, timeout)
            .await
            .map_err(|e| {
                if let RpcError::Refused(message) = &e {
                    let _ = self.refusals.send((self.target as i32, message.clone()));
                }
                RPCError::Unreachable(Unreachable::new(&e))
            })?;
        let Response::Raft(value) = answer else {
            let e = std::io::Error::other(format!("unexpected answer {answer:?}"));
            return Err(RPCError::Network(NetworkError::new(&e)));
        };
        let result: Result<Resp, RaftError<NodeId, E>> =
            serde_json::from_value(value).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        self.send(RaftKind::AppendEntries, rpc, option.hard_ttl())
            .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Node, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.send(RaftKind::InstallSnapshot, rpc, option.hard_ttl())
            .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        self.send(RaftKind::Vote, rpc, option.hard_ttl()).await
    }
}

/// Answers a Raft message received on the controller listener.
pub async fn handle(
    raft: &openraft::Raft<TypeConfig>,
    kind: RaftKind,
    body: serde_json::Value,
) -> Response {
    fn answer<T: Serialize>(value: T) -> Response {
        match serde_json::to_value(value) {
            Ok(v) => Response::Raft(v),
            Err(e) => Response::Error {
                kind: "Unavailable".into(),
                message: e.to_string(),
            },
        }
    }
    fn bad(e: serde_json::Error) -> Response {
        Response::Error {
            kind: "InvalidRequest".into(),
            message: format!("undecodable raft message: {e}"),
        }
    }
    match kind {
        RaftKind::AppendEntries => match serde_json::from_value(body) {
            Ok(req) => answer(raft.append_entries(req).await),
            Err(e) => bad(e),
        },
        RaftKind::Vote => match serde_json::from_value(body) {
            Ok(req) => answer(raft.vote(req).await),
            Err(e) => bad(e),
        },
        RaftKind::InstallSnapshot => match serde_json::from_value(body) {
            Ok(req) => answer(raft.install_snapshot(req).await),
            Err(e) => bad(e),
        },
    }
}

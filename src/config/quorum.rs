//! The controller quorum keys of KRaft combined mode: `controller.quorum.voters`,
//! `controller.listener.names`, `process.roles`, and the broker heartbeat/session timing.
//!
//! A node with voters set runs in cluster mode: it is a voter of the metadata quorum and a
//! broker. Without voters it is a single node, as before cluster mode existed. Mistakes that
//! would split or confuse a cluster stop start-up with a message naming the key.

use super::listener::Listener;
use super::ConfigError;

/// One voter of `controller.quorum.voters` (`id@host:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voter {
    pub id: i32,
    pub host: String,
    pub port: u16,
}

impl Voter {
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Cluster-mode settings, present when `controller.quorum.voters` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct QuorumConfig {
    /// In the order written; ids are unique.
    pub voters: Vec<Voter>,
    /// The listener (of `listeners`) named first by `controller.listener.names`.
    pub controller_listener: Listener,
    /// `broker.heartbeat.interval.ms`; default 2000.
    pub heartbeat_interval_ms: u64,
    /// `broker.session.timeout.ms`; default 9000.
    pub session_timeout_ms: u64,
}

impl QuorumConfig {
    /// The voters as one canonical string: every node of a cluster must have the same.
    pub fn voters_string(&self) -> String {
        let mut voters: Vec<String> = self
            .voters
            .iter()
            .map(|v| format!("{}@{}", v.id, v.address()))
            .collect();
        voters.sort();
        voters.join(",")
    }
}

pub(crate) fn parse_voters(text: &str) -> Result<Vec<Voter>, ConfigError> {
    let key = "controller.quorum.voters";
    let mut voters: Vec<Voter> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let bad = |why: &str| ConfigError::invalid(key, text, format!("'{item}': {why}"));
        let (id, address) = item
            .split_once('@')
            .ok_or_else(|| bad("expected id@host:port"))?;
        let id: i32 = id
            .trim()
            .parse()
            .map_err(|_| bad("the id is not a number"))?;
        if id < 0 {
            return Err(bad("the id must not be negative"));
        }
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| bad("expected id@host:port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().map_err(|_| bad("the port is not a number"))?;
        if host.is_empty() || port == 0 {
            return Err(bad("a voter needs a host and a non-zero port"));
        }
        if voters.iter().any(|v| v.id == id) {
            return Err(bad("the id is listed twice"));
        }
        voters.push(Voter {
            id,
            host: host.to_string(),
            port,
        });
    }
    Ok(voters)
}

/// Builds the quorum settings from the raw keys; `None` without voters (a single node).
pub(crate) fn quorum_config(
    node_id: i32,
    voters: Option<&str>,
    roles: Option<&str>,
    controller_listener_names: Option<&str>,
    listeners: &[Listener],
    heartbeat_interval_ms: i64,
    session_timeout_ms: i64,
) -> Result<Option<QuorumConfig>, ConfigError> {
    let Some(text) = voters.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let voters = parse_voters(text)?;
    if voters.is_empty() {
        return Ok(None);
    }
    if let Some(roles) = roles.filter(|r| !r.trim().is_empty()) {
        let mut set: Vec<&str> = roles.split(',').map(str::trim).collect();
        set.sort_unstable();
        if set != ["broker", "controller"] {
            return Err(ConfigError::invalid(
                "process.roles",
                roles,
                "Milena runs every node of a cluster as both broker and controller (combined mode): set broker,controller",
            ));
        }
    }
    if !voters.iter().any(|v| v.id == node_id) {
        return Err(ConfigError::invalid(
            "controller.quorum.voters",
            text,
            format!("node.id {node_id} is not one of the voters; in combined mode every node is a voter"),
        ));
    }
    if voters.len() == 1 {
        // Kafka's single-node sample files name the node itself as the only voter: that is the
        // single node, with its local metadata log, as before cluster mode existed.
        return Ok(None);
    }
    let names = controller_listener_names.unwrap_or("");
    let name = names
        .split(',')
        .map(|n| n.trim().to_ascii_uppercase())
        .find(|n| !n.is_empty())
        .ok_or_else(|| {
            ConfigError::invalid(
                "controller.listener.names",
                names,
                "must name the controller listener when controller.quorum.voters is set",
            )
        })?;
    let controller_listener = listeners
        .iter()
        .find(|l| l.name == name)
        .cloned()
        .ok_or_else(|| {
            ConfigError::invalid(
                "controller.listener.names",
                names,
                format!("the listener {name} is not in listeners"),
            )
        })?;
    let own = voters.iter().find(|v| v.id == node_id).map(|v| v.port);
    if controller_listener.port != 0 && own != Some(controller_listener.port) {
        return Err(ConfigError::invalid(
            "controller.quorum.voters",
            text,
            format!(
                "it gives node.id {node_id} the port {}, but this node's {name} listener is on port {}: a duplicate or wrong node.id?",
                own.unwrap_or_default(),
                controller_listener.port
            ),
        ));
    }
    if listeners.iter().all(|l| l.name == name) {
        return Err(ConfigError::invalid(
            "listeners",
            "",
            "a broker listener besides the controller listener is needed",
        ));
    }
    let positive = |key: &str, ms: i64| {
        u64::try_from(ms)
            .ok()
            .filter(|&ms| ms > 0)
            .ok_or_else(|| ConfigError::invalid(key, &ms.to_string(), "must be positive"))
    };
    let heartbeat_interval_ms = positive("broker.heartbeat.interval.ms", heartbeat_interval_ms)?;
    let session_timeout_ms = positive("broker.session.timeout.ms", session_timeout_ms)?;
    if session_timeout_ms <= heartbeat_interval_ms {
        return Err(ConfigError::invalid(
            "broker.session.timeout.ms",
            &session_timeout_ms.to_string(),
            "must be larger than broker.heartbeat.interval.ms",
        ));
    }
    Ok(Some(QuorumConfig {
        voters,
        controller_listener,
        heartbeat_interval_ms,
        session_timeout_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_listeners;

    fn listeners() -> Vec<Listener> {
        parse_listeners(
            "listeners",
            "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:19092",
        )
        .unwrap()
    }

    const VOTERS: &str = "1@localhost:19092,2@localhost:19093,3@[::1]:19094";

    #[test]
    fn parses_kafka_combined_mode() {
        let q = quorum_config(
            1,
            Some(VOTERS),
            Some("broker,controller"),
            Some("CONTROLLER"),
            &listeners(),
            2000,
            9000,
        )
        .unwrap()
        .unwrap();
        assert_eq!(q.voters.len(), 3);
        assert_eq!(q.voters[2].host, "::1");
        assert_eq!(q.voters[2].address(), "[::1]:19094");
        assert_eq!(q.controller_listener.port, 19092);
        assert!(quorum_config(1, None, None, None, &listeners(), 2000, 9000)
            .unwrap()
            .is_none());
        let alone = quorum_config(
            1,
            Some("1@localhost:9093"),
            None,
            None,
            &listeners(),
            2000,
            9000,
        );
        assert!(alone.unwrap().is_none(), "one voter, itself: a single node");
    }

    #[test]
    fn mistakes_name_their_key() {
        let err = |node, voters, names: &str, ls: &[Listener]| {
            quorum_config(node, Some(voters), None, Some(names), ls, 2000, 9000)
                .unwrap_err()
                .to_string()
        };
        assert!(err(4, VOTERS, "CONTROLLER", &listeners()).contains("controller.quorum.voters"));
        // Node 2's voter entry names port 19093; this node listens on 19092: node.id copied.
        assert!(err(2, VOTERS, "CONTROLLER", &listeners()).contains("duplicate or wrong node.id"));
        assert!(
            err(1, "1@h:1,1@h:2", "CONTROLLER", &listeners()).contains("controller.quorum.voters")
        );
        assert!(err(1, "1@h", "CONTROLLER", &listeners()).contains("controller.quorum.voters"));
        let plain = parse_listeners("listeners", "PLAINTEXT://:9092").unwrap();
        assert!(err(1, VOTERS, "CONTROLLER", &plain).contains("controller.listener.names"));
        assert!(err(1, VOTERS, "", &listeners()).contains("controller.listener.names"));
        let roles = quorum_config(
            1,
            Some(VOTERS),
            Some("broker"),
            Some("CONTROLLER"),
            &listeners(),
            2000,
            9000,
        );
        assert!(roles.unwrap_err().to_string().contains("process.roles"));
        let timing = quorum_config(
            1,
            Some(VOTERS),
            None,
            Some("CONTROLLER"),
            &listeners(),
            2000,
            1000,
        );
        assert!(timing
            .unwrap_err()
            .to_string()
            .contains("broker.session.timeout.ms"));
    }
}

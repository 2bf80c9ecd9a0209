//! Listener addresses: `NAME://host:port` lists as in Kafka's `listeners` and `advertised.listeners`.
//!
//! An empty host (`PLAINTEXT://:9092`) means every interface; IPv6 hosts are written in brackets
//! (`PLAINTEXT://[::1]:9092`). Names are case-insensitive in Kafka and kept upper-case here, so that
//! `plaintext://` and `PLAINTEXT://` are the same listener.

use super::security::SecurityProtocol;
use super::ConfigError;

/// One listener endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Listener name, upper-case (`PLAINTEXT`, `CONTROLLER`, `EXTERNAL`…).
    pub name: String,
    /// Host name or address, without IPv6 brackets; empty means all interfaces.
    pub host: String,
    /// Port; 0 asks the OS for a free one (tests).
    pub port: u16,
    /// From `listener.security.protocol.map` (resolved by the broker config; PLAINTEXT until then).
    pub protocol: SecurityProtocol,
}

impl Listener {
    /// Host to bind: the empty host becomes the IPv4 wildcard.
    pub fn bind_host(&self) -> &str {
        if self.host.is_empty() {
            "0.0.0.0"
        } else {
            &self.host
        }
    }

    /// True when the host does not name one reachable address (empty or a wildcard); such an
    /// address cannot be advertised to clients.
    pub fn is_wildcard(&self) -> bool {
        matches!(self.host.as_str(), "" | "0.0.0.0" | "::")
    }
}

impl std::fmt::Display for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.name, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.name, self.host, self.port)
        }
    }
}

/// Parses a comma-separated listener list for configuration `key`. Names must be unique.
pub fn parse_listeners(key: &str, value: &str) -> Result<Vec<Listener>, ConfigError> {
    let mut listeners: Vec<Listener> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let listener =
            parse_one(item).map_err(|reason| ConfigError::invalid(key, value, reason))?;
        if listeners.iter().any(|l| l.name == listener.name) {
            return Err(ConfigError::invalid(
                key,
                value,
                format!("listener name {} is used twice", listener.name),
            ));
        }
        listeners.push(listener);
    }
    Ok(listeners)
}

fn parse_one(item: &str) -> Result<Listener, String> {
    let (name, address) = item
        .split_once("://")
        .ok_or_else(|| format!("{item:?} is not NAME://host:port"))?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!("{item:?} has an invalid listener name"));
    }
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{item:?} has an unclosed '['"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| format!("{item:?} has no port"))?;
        (host, port)
    } else {
        address
            .rsplit_once(':')
            .ok_or_else(|| format!("{item:?} has no port"))?
    };
    if host.contains(['/', ' ']) || (!address.starts_with('[') && host.contains(':')) {
        return Err(format!("{item:?} has an invalid host"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{item:?} has an invalid port (0-65535)"))?;
    Ok(Listener {
        name: name.to_ascii_uppercase(),
        host: host.to_string(),
        port,
        protocol: SecurityProtocol::Plaintext,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(host: &str, port: u16) -> Listener {
        Listener {
            name: "PLAINTEXT".into(),
            host: host.into(),
            port,
            protocol: SecurityProtocol::Plaintext,
        }
    }

    #[test]
    fn parses_lists_and_hosts() {
        let ls = parse_listeners(
            "listeners",
            "PLAINTEXT://:9092, controller://localhost:9093",
        )
        .expect("valid");
        assert_eq!(ls[0], one("", 9092));
        assert_eq!(ls[1].name, "CONTROLLER");
        assert_eq!(ls[1].host, "localhost");
        assert_eq!(ls[1].port, 9093);
        assert_eq!(ls[0].bind_host(), "0.0.0.0");
        assert!(ls[0].is_wildcard());
        assert!(!ls[1].is_wildcard());
    }

    #[test]
    fn ipv6_in_brackets() {
        let ls = parse_listeners("listeners", "PLAINTEXT://[::1]:9092").expect("valid");
        assert_eq!(ls[0], one("::1", 9092));
        assert_eq!(ls[0].to_string(), "PLAINTEXT://[::1]:9092");
    }

    #[test]
    fn empty_list_is_allowed() {
        assert!(parse_listeners("advertised.listeners", " ")
            .expect("valid")
            .is_empty());
    }

    #[test]
    fn errors_name_the_key_and_value() {
        for bad in [
            "localhost:9092",
            "PLAINTEXT://localhost",
            "PLAINTEXT://localhost:70000",
            "PLAINTEXT://localhost:-1",
            "://localhost:9092",
            "PLAINTEXT://[::1:9092",
            "PLAINTEXT://a:b:9092",
            "PLAINTEXT://:9092,PLAINTEXT://:9093",
        ] {
            let err = parse_listeners("listeners", bad)
                .expect_err(bad)
                .to_string();
            assert!(err.contains("listeners") && err.contains(bad), "{err}");
        }
    }
}

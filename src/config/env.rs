//! Broker properties from environment variables, following the official `apache/kafka` Docker image.
//!
//! `KAFKA_FOO_BAR=x` sets `foo.bar=x`: after the `KAFKA_` prefix the name is lower-cased, a single
//! `_` becomes `.`, `__` becomes `_` and `___` becomes `-` (so `KAFKA_LOG_RETENTION_MS` is
//! `log.retention.ms`). The image's `CLUSTER_ID` variable gives `cluster.id`. As in the image, when
//! `KAFKA_ADVERTISED_LISTENERS` is set but `KAFKA_LISTENERS` is not (and the node is not a pure
//! controller), `listeners` is derived from the advertised ones bound to every interface.
//!
//! Variables that configure the launcher rather than the broker are skipped: the image's own list
//! (`KAFKA_VERSION`, `KAFKA_HEAP_OPTS`, `KAFKA_OPTS`, `KAFKA_JVM_PERFORMANCE_OPTS`,
//! `KAFKA_LOG4J_OPTS`, `KAFKA_JMX_OPTS`, `KAFKA_GC_LOG_OPTS`, `KAFKA_LOG4J_ROOT_LOGLEVEL`,
//! `KAFKA_LOG4J_LOGGERS`, `KAFKA_TOOLS_LOG4J_LOGLEVEL`) plus other variables Kafka's shell scripts
//! read (`KAFKA_DEBUG`, `KAFKA_HOME`, `KAFKA_JMX_PORT`, `KAFKA_JMX_HOSTNAME`, `KAFKA_CLASSPATH`,
//! `KAFKA_LOG4J_CONFIG`).

/// Launcher variables that look like broker properties but are not.
pub const LAUNCHER_VARIABLES: &[&str] = &[
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_DEBUG",
    "KAFKA_HOME",
    "KAFKA_JMX_PORT",
    "KAFKA_JMX_HOSTNAME",
    "KAFKA_CLASSPATH",
    "KAFKA_LOG4J_CONFIG",
];

/// A property taken from the environment, with the variable it came from (for warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvProperty {
    pub key: String,
    pub value: String,
    pub variable: String,
}

/// Converts the environment into broker properties, sorted by key for a stable order.
pub fn properties_from_env(env: impl Iterator<Item = (String, String)>) -> Vec<EnvProperty> {
    let mut props: Vec<EnvProperty> = Vec::new();
    let mut cluster_id = None;
    for (variable, value) in env {
        if variable == "CLUSTER_ID" {
            cluster_id = Some(value);
            continue;
        }
        let Some(rest) = variable.strip_prefix("KAFKA_") else {
            continue;
        };
        if rest.is_empty() || LAUNCHER_VARIABLES.contains(&variable.as_str()) {
            continue;
        }
        props.push(EnvProperty {
            key: env_name_to_key(rest),
            value,
            variable,
        });
    }
    let has = |props: &[EnvProperty], key: &str| props.iter().any(|p| p.key == key);
    if let Some(value) = cluster_id.filter(|_| !has(&props, "cluster.id")) {
        props.push(EnvProperty {
            key: "cluster.id".into(),
            value,
            variable: "CLUSTER_ID".into(),
        });
    }
    let pure_controller = props
        .iter()
        .any(|p| p.key == "process.roles" && p.value.trim() == "controller");
    if !has(&props, "listeners") && !pure_controller {
        if let Some(adv) = props.iter().find(|p| p.key == "advertised.listeners") {
            let derived = EnvProperty {
                key: "listeners".into(),
                value: bind_everywhere(&adv.value),
                variable: adv.variable.clone(),
            };
            props.push(derived);
        }
    }
    props.sort_by(|a, b| a.key.cmp(&b.key));
    props
}

/// `LOG_RETENTION_MS` → `log.retention.ms`; runs of 1, 2, 3 underscores → `.`, `_`, `-`.
/// Longer runs are undefined in the image; here they are split greedily into those.
pub fn env_name_to_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run = 0usize;
    let flush = |out: &mut String, run: usize| {
        let mut left = run;
        while left > 0 {
            let take = left.min(3);
            out.push(match take {
                1 => '.',
                2 => '_',
                _ => '-',
            });
            left -= take;
        }
    };
    for c in name.chars() {
        if c == '_' {
            run += 1;
        } else {
            flush(&mut out, run);
            run = 0;
            out.push(c.to_ascii_lowercase());
        }
    }
    flush(&mut out, run);
    out
}

/// The environment variable that sets broker key `key`: the inverse of the mapping above
/// (`log.retention.ms` → `KAFKA_LOG_RETENTION_MS`), for tools and command-line overrides.
pub fn env_name_for(key: &str) -> String {
    let mut out = String::from("KAFKA_");
    for c in key.chars() {
        match c {
            '.' => out.push('_'),
            '_' => out.push_str("__"),
            '-' => out.push_str("___"),
            c => out.push(c.to_ascii_uppercase()),
        }
    }
    out
}

/// Rewrites every `NAME://host:port` to `NAME://0.0.0.0:port`, as the image's start script does.
fn bind_everywhere(advertised: &str) -> String {
    advertised
        .split(',')
        .map(|item| {
            let item = item.trim();
            match (item.split_once("://"), item.rsplit_once(':')) {
                (Some((name, _)), Some((_, port))) if !port.contains('/') => {
                    format!("{name}://0.0.0.0:{port}")
                }
                _ => item.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Vec<EnvProperty> {
        properties_from_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn keys(props: &[EnvProperty]) -> Vec<(&str, &str)> {
        props
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect()
    }

    #[test]
    fn underscore_rules() {
        assert_eq!(env_name_to_key("LOG_RETENTION_MS"), "log.retention.ms");
        assert_eq!(env_name_to_key("NODE_ID"), "node.id");
        assert_eq!(
            env_name_to_key("MILENA_FLUSH_ON__ACK"),
            "milena.flush.on_ack"
        );
        assert_eq!(
            env_name_to_key("LISTENER_NAME_INTERNAL___X_SASL"),
            "listener.name.internal-x.sasl"
        );
    }

    #[test]
    fn env_name_for_round_trips() {
        for key in [
            "log.retention.ms",
            "milena.flush.on.ack",
            "a_b.c-d",
            "node.id",
        ] {
            let name = env_name_for(key);
            assert_eq!(env_name_to_key(&name["KAFKA_".len()..]), key, "{name}");
        }
        assert_eq!(env_name_for("log.retention.ms"), "KAFKA_LOG_RETENTION_MS");
    }

    #[test]
    fn launcher_and_foreign_variables_are_skipped() {
        let props = env(&[
            ("KAFKA_HEAP_OPTS", "-Xmx1G"),
            ("KAFKA_OPTS", "-Dx=y"),
            ("KAFKA_JVM_PERFORMANCE_OPTS", "-server"),
            ("KAFKA_LOG4J_OPTS", "x"),
            ("KAFKA_JMX_OPTS", "x"),
            ("KAFKA_DEBUG", "y"),
            ("KAFKA_GC_LOG_OPTS", "x"),
            ("PATH", "/bin"),
            ("KAFKA_", "x"),
            ("KAFKA_NUM_PARTITIONS", "3"),
        ]);
        assert_eq!(keys(&props), vec![("num.partitions", "3")]);
    }

    #[test]
    fn cluster_id_variable_and_explicit_property() {
        assert_eq!(
            keys(&env(&[("CLUSTER_ID", "abc")])),
            vec![("cluster.id", "abc")]
        );
        assert_eq!(
            keys(&env(&[("CLUSTER_ID", "abc"), ("KAFKA_CLUSTER_ID", "xyz")])),
            vec![("cluster.id", "xyz")]
        );
    }

    #[test]
    fn listeners_derived_from_advertised_when_absent() {
        let props = env(&[(
            "KAFKA_ADVERTISED_LISTENERS",
            "PLAINTEXT://broker:9092,EXTERNAL://localhost:29092",
        )]);
        assert_eq!(
            keys(&props),
            vec![
                (
                    "advertised.listeners",
                    "PLAINTEXT://broker:9092,EXTERNAL://localhost:29092"
                ),
                (
                    "listeners",
                    "PLAINTEXT://0.0.0.0:9092,EXTERNAL://0.0.0.0:29092"
                ),
            ]
        );
        let explicit = env(&[
            ("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://broker:9092"),
            ("KAFKA_LISTENERS", "PLAINTEXT://:9092"),
        ]);
        assert_eq!(explicit.iter().filter(|p| p.key == "listeners").count(), 1);
        let controller = env(&[
            ("KAFKA_PROCESS_ROLES", "controller"),
            ("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://broker:9092"),
        ]);
        assert!(controller.iter().all(|p| p.key != "listeners"));
    }
}

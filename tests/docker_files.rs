//! The Docker files of `docker/`, tested on a machine without a Docker engine as far as it can be:
//!
//! - `docker/entrypoint.sh` runs here with the release binary (`MILENA_BIN`) and its own data
//!   directory (`MILENA_DATA_DIR`): its container defaults apply only where the user set nothing,
//!   and the broker it execs honours the apache/kafka image's variables (`KAFKA_NUM_PARTITIONS`,
//!   `KAFKA_ADVERTISED_LISTENERS`, `KAFKA_NODE_ID`, `CLUSTER_ID`), as kcat and the stock tools see
//!   it; `docker/healthcheck.sh` says healthy while it serves; SIGTERM stops it cleanly.
//! - `docker/compose.yml`'s three Milena services run as three processes on loopback, through the
//!   entrypoint with each service's environment (its ports moved to free loopback ports): they
//!   form a cluster that creates and describes a topic of replication factor 3 with the stock tool.
//! - Debian's Prometheus runs with `docker/prometheus.yml` (targets moved likewise) against that
//!   cluster, and every PromQL expression of the Grafana dashboard
//!   (`docker/grafana/dashboards/milena.json`) evaluates without error and, after produce and
//!   consume traffic, returns series.
//! - With a Docker engine (none runs on the machine these tests were written on), testcontainers
//!   builds the image and the stock Java console clients produce to and consume from a container;
//!   without one that test says it skipped.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::cluster::{cluster_id_of, parse_describe, parse_kcat_brokers};
use support::prometheus::{first_value, has_series, Prometheus};
use support::*;

fn docker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker")
}

/// `docker/entrypoint.sh args...` with only `env` (and PATH) in its environment, so that the test
/// runner's own variables (KAFKA_JVM_PERFORMANCE_OPTS...) stay out, and `milena` as `MILENA_BIN`
/// unless `env` names another.
fn entrypoint(milena: &Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(docker_dir().join("entrypoint.sh"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_BACKTRACE", "1")
        .env("MILENA_BIN", milena)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args);
    cmd
}

fn release_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_milena"))
}

fn pairs(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A new cluster id as `kafka-storage.sh random-uuid` prints one: a random UUID in unpadded
/// URL-safe base64 (22 characters).
fn new_cluster_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

/// The variables a stand-in for milena saw, and its arguments: it prints `env`, then `ARGS` and
/// one argument per line.
fn defaults_seen(env: &[(&str, &str)], args: &[&str]) -> (BTreeMap<String, String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let fake = write_file(
        dir.path(),
        "fake-milena",
        "#!/bin/sh\nenv\necho ARGS\nfor a in \"$@\"; do echo \"$a\"; done\n",
    );
    assert_success(
        &Command::new("chmod").arg("+x").arg(&fake).output().unwrap(),
        "chmod",
    );
    let mut cmd = entrypoint(&fake, &pairs(env), args);
    cmd.current_dir(dir.path());
    let out = assert_success(
        &run_with_timeout(&mut cmd, None, Duration::from_secs(10)).unwrap(),
        "entrypoint.sh",
    );
    let (vars, args) = out.split_once("ARGS\n").expect("the stand-in ran");
    let vars = vars
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("KAFKA_") || *k == "CLUSTER_ID")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (vars, args.lines().map(str::to_string).collect())
}

#[test]
fn entrypoint_fills_in_container_defaults_only_where_unset() {
    // Nothing set: every interface, the volume, /metrics on 9644.
    let (vars, args) = defaults_seen(&[], &[]);
    let expected: BTreeMap<String, String> = [
        ("KAFKA_LISTENERS", "PLAINTEXT://0.0.0.0:9092"),
        ("KAFKA_LOG_DIRS", "/var/lib/milena/data"),
        ("KAFKA_MILENA_HTTP_LISTENER", "0.0.0.0:9644"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(vars, expected);
    assert!(args.is_empty(), "{args:?}");

    // The user's variables win; advertised listeners alone leave `listeners` to the broker
    // (it binds the advertised ports on every interface, as Kafka's image does).
    let (vars, _) = defaults_seen(
        &[
            ("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://broker-7:29092"),
            ("KAFKA_MILENA_HTTP_LISTENER", "127.0.0.1:8080"),
            ("MILENA_DATA_DIR", "/srv/milena"),
            ("MILENA_LOG_FORMAT", "json"),
            ("CLUSTER_ID", "8Cn56-2DRkOjS9VdfuBNpg"),
            ("KAFKA_NUM_PARTITIONS", "3"),
        ],
        &[],
    );
    assert_eq!(vars.get("KAFKA_LISTENERS"), None);
    assert_eq!(vars["KAFKA_LOG_DIRS"], "/srv/milena/data");
    assert_eq!(vars["KAFKA_MILENA_HTTP_LISTENER"], "127.0.0.1:8080");
    assert_eq!(vars["KAFKA_MILENA_LOG_FORMAT"], "json");
    assert_eq!(vars["CLUSTER_ID"], "8Cn56-2DRkOjS9VdfuBNpg");
    assert_eq!(vars["KAFKA_NUM_PARTITIONS"], "3");

    // A properties file as the argument: the keys it sets get no default (the environment would
    // win over the file), the others do; the arguments reach milena unchanged.
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(
        dir.path(),
        "server.properties",
        "# log.dirs=/not/this\n  listeners = PLAINTEXT://:9092,CONTROLLER://:9093\nlog.dirs:/data\n",
    );
    let file = file.to_str().unwrap();
    let (vars, args) = defaults_seen(&[], &[file, "--override", "node.id=2"]);
    assert_eq!(vars.get("KAFKA_LISTENERS"), None);
    assert_eq!(vars.get("KAFKA_LOG_DIRS"), None);
    assert_eq!(vars["KAFKA_MILENA_HTTP_LISTENER"], "0.0.0.0:9644");
    assert_eq!(args, [file, "--override", "node.id=2"]);

    // `milena ARGS` is milena; another command runs instead of it.
    let (_, args) = defaults_seen(&[], &["milena", "--version"]);
    assert_eq!(args, ["--version"]);
    let mut cmd = entrypoint(release_binary(), &[], &["echo", "not milena"]);
    let out = run_with_timeout(&mut cmd, None, Duration::from_secs(10)).unwrap();
    assert_eq!(assert_success(&out, "entrypoint.sh echo"), "not milena\n");
}

/// docker/healthcheck.sh with `env`: whether it says healthy.
fn healthy(env: &[(String, String)]) -> bool {
    let mut cmd = Command::new(docker_dir().join("healthcheck.sh"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)));
    run_with_timeout(&mut cmd, None, Duration::from_secs(15)).is_ok_and(|o| o.status.success())
}

/// A broker started through the entrypoint, as a container would run it.
struct EntrypointNode {
    process: Background,
    env: Vec<(String, String)>,
    /// MILENA_DATA_DIR, and the files of its stdout and stderr.
    dir: tempfile::TempDir,
}

impl EntrypointNode {
    fn start(name: &str, env: Vec<(String, String)>) -> EntrypointNode {
        let dir = tempfile::Builder::new()
            .prefix("milena-docker-")
            .tempdir()
            .unwrap();
        let mut env = env;
        env.push(("MILENA_DATA_DIR".into(), dir.path().display().to_string()));
        let mut cmd = entrypoint(release_binary(), &env, &[]);
        cmd.current_dir(dir.path());
        let process = Background::spawn(cmd, dir.path(), name);
        EntrypointNode { process, env, dir }
    }

    /// Waits for the start-up line of the broker's log.
    fn wait_started(&mut self) {
        let started = wait_until(Duration::from_secs(30), || {
            self.process.stderr().contains("Milena started") || !self.process.is_running()
        });
        assert!(
            started && self.process.is_running(),
            "{} did not start\n{}",
            self.process.name,
            self.process.dump()
        );
    }
}

#[test]
fn entrypoint_runs_a_broker_that_honours_the_kafka_variables() {
    let (port, http_port) = (free_port(), free_port());
    let cluster_id = new_cluster_id();
    let env = pairs(&[
        ("KAFKA_NODE_ID", "7"),
        ("KAFKA_NUM_PARTITIONS", "3"),
        (
            "KAFKA_ADVERTISED_LISTENERS",
            &format!("PLAINTEXT://127.0.0.1:{port}"),
        ),
        ("CLUSTER_ID", &cluster_id),
        (
            "KAFKA_MILENA_HTTP_LISTENER",
            &format!("127.0.0.1:{http_port}"),
        ),
        ("MILENA_LOG_FORMAT", "json"),
    ]);
    let mut node = EntrypointNode::start("entrypoint", env);
    node.wait_started();
    assert!(
        wait_until(Duration::from_secs(10), || healthy(&node.env)),
        "healthcheck.sh never said healthy\n{}",
        node.process.dump()
    );

    // The listener is derived from the advertised one (bound on every interface); clients are
    // told the advertised address and the node id.
    let bootstrap = format!("localhost:{port}");
    let metadata = assert_success(&kcat(&["-L", "-b", &bootstrap]), "kcat -L");
    assert!(
        metadata.contains(&format!("broker 7 at 127.0.0.1:{port}")),
        "{metadata}"
    );
    // KAFKA_NUM_PARTITIONS: an auto-created topic has 3 partitions, in MILENA_DATA_DIR/data.
    assert_success(
        &kcat_stdin(&["-P", "-b", &bootstrap, "-t", "auto-created"], "a\nb\nc\n"),
        "kcat -P",
    );
    let topic = assert_success(
        &kcat(&["-L", "-b", &bootstrap, "-t", "auto-created"]),
        "kcat -L -t",
    );
    assert!(
        topic.contains("topic \"auto-created\" with 3 partitions"),
        "{topic}"
    );
    assert!(node.dir.path().join("data").join("auto-created-2").is_dir());
    // CLUSTER_ID, as Kafka's tool reads it.
    assert_eq!(cluster_id_of(&bootstrap), cluster_id);
    // MILENA_LOG_FORMAT=json: one JSON object per line.
    let log = node.process.stderr();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let parsed: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(parsed.is_object(), "{line}");
    }

    // The entrypoint exec'd milena: the process docker stop signals is the broker itself, and
    // SIGTERM stops it cleanly.
    let pid = node.process.pid().unwrap();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe, release_binary().canonicalize().unwrap());
    assert_success(
        &Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .output()
            .unwrap(),
        "kill -TERM",
    );
    let status = node.process.wait_exit(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "exit after SIGTERM: {status:?}\n{}",
        node.process.dump()
    );
    assert!(node.process.stderr().contains("shutting down"));
    assert!(!healthy(&node.env), "healthy after the broker stopped");
}

/// docker/compose.yml, merge keys applied.
fn compose() -> serde_yaml_ng::Value {
    let text = std::fs::read_to_string(docker_dir().join("compose.yml")).unwrap();
    let mut value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    value.apply_merge().unwrap();
    value
}

/// Where the compose file's `host:port` addresses go on loopback: one free port per (node,
/// container port), so the three nodes' equal container ports do not clash here.
struct Loopback {
    ports: BTreeMap<(u32, u16), u16>,
}

impl Loopback {
    fn port(&mut self, node: u32, port: u16) -> u16 {
        *self.ports.entry((node, port)).or_insert_with(free_port)
    }

    /// The node an address of `own`'s configuration points at: `milena-N`, or `own` for its own
    /// interfaces (empty host, 0.0.0.0, localhost: a port published on the same number).
    fn node_of(host: &str, own: u32) -> Option<u32> {
        match host {
            "" | "0.0.0.0" | "localhost" => Some(own),
            _ => host.strip_prefix("milena-")?.parse().ok(),
        }
    }

    /// A value of `own`'s environment with every `[NAME://|ID@]host:port` item moved to
    /// `127.0.0.1:<free port>`; other values as they are.
    fn rewrite(&mut self, value: &str, own: u32) -> String {
        value
            .split(',')
            .map(|item| {
                let (prefix, address) = match (item.split_once("://"), item.split_once('@')) {
                    (Some((name, rest)), _) => (format!("{name}://"), rest),
                    (None, Some((id, rest))) => (format!("{id}@"), rest),
                    (None, None) => (String::new(), item),
                };
                let moved = address.rsplit_once(':').and_then(|(host, port)| {
                    let node = Loopback::node_of(host, own)?;
                    Some(self.port(node, port.parse().ok()?))
                });
                match moved {
                    Some(port) => format!("{prefix}127.0.0.1:{port}"),
                    None => item.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A Milena service of the compose file.
struct ComposeNode {
    /// Its KAFKA_NODE_ID.
    id: u32,
    service: String,
    environment: Vec<(String, String)>,
}

/// The compose file's Milena services, by node id.
fn compose_nodes(compose: &serde_yaml_ng::Value) -> Vec<ComposeNode> {
    let services = compose["services"].as_mapping().expect("services");
    let mut nodes: Vec<_> = services
        .iter()
        .filter(|(_, s)| s["image"].as_str() == Some("milena:local"))
        .map(|(name, s)| {
            let env: Vec<(String, String)> = s["environment"]
                .as_mapping()
                .expect("environment as a mapping")
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_yaml_ng::Value::String(s) => s.clone(),
                        other => panic!("quote {k:?}: {other:?} (compose wants strings)"),
                    };
                    (k.as_str().unwrap().to_string(), v)
                })
                .collect();
            let id = env
                .iter()
                .find(|(k, _)| k == "KAFKA_NODE_ID")
                .and_then(|(_, v)| v.parse().ok())
                .expect("KAFKA_NODE_ID");
            ComposeNode {
                id,
                service: name.as_str().unwrap().to_string(),
                environment: env,
            }
        })
        .collect();
    nodes.sort_by_key(|n| n.id);
    nodes
}

/// Every PromQL expression of the dashboard, with the panel title; and its template variables'
/// `label_values(metric, label)` queries as (metric, label).
type DashboardQueries = (Vec<(String, String)>, Vec<(String, String)>);

fn dashboard_queries(dashboard: &serde_json::Value, datasource_uid: &str) -> DashboardQueries {
    fn walk(panels: &serde_json::Value, uid: &str, out: &mut Vec<(String, String)>) {
        for panel in panels.as_array().into_iter().flatten() {
            walk(&panel["panels"], uid, out);
            for target in panel["targets"].as_array().into_iter().flatten() {
                let title = panel["title"].as_str().unwrap_or("?").to_string();
                for ds in [&panel["datasource"], &target["datasource"]] {
                    assert_eq!(ds["uid"], uid, "{title}: datasource {ds}");
                }
                out.push((title, target["expr"].as_str().expect("expr").to_string()));
            }
        }
    }
    let mut exprs = Vec::new();
    walk(&dashboard["panels"], datasource_uid, &mut exprs);
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
        .iter()
        .map(|v| {
            let q = v["query"]["query"].as_str().expect("variable query");
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|r| r.strip_suffix(')'))
                .expect("label_values(metric, label)");
            let (metric, label) = inner.rsplit_once(',').unwrap();
            (metric.trim().to_string(), label.trim().to_string())
        })
        .collect();
    (exprs, variables)
}

/// An expression as Grafana sends it with every variable at "All".
fn as_grafana_sends_it(expr: &str) -> String {
    expr.replace("$__rate_interval", "15s")
        .replace("$instance", ".*")
        .replace("$topic", ".*")
        .replace("$group", ".*")
}

/// Panels the test's traffic need not fill: errors show only when there are some.
const MAY_BE_EMPTY: &[&str] = &["Errors per API and code"];

#[test]
fn compose_cluster_runs_as_processes_and_the_dashboard_queries_answer() {
    let started = Instant::now();
    let compose = compose();
    let nodes = compose_nodes(&compose);
    assert_eq!(
        nodes.iter().map(|n| n.id).collect::<Vec<_>>(),
        [1, 2, 3],
        "three Milena services"
    );
    let mut loopback = Loopback {
        ports: BTreeMap::new(),
    };
    let mut running = Vec::new();
    for node in &nodes {
        let env: Vec<(String, String)> = node
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), loopback.rewrite(v, node.id)))
            .collect();
        running.push(EntrypointNode::start(&node.service, env));
    }
    for node in &mut running {
        node.wait_started();
    }
    // Clients on the host use the EXTERNAL listeners: each node's advertised one, moved.
    let external: Vec<String> = nodes
        .iter()
        .map(|node| {
            let advertised = node
                .environment
                .iter()
                .find(|(k, _)| k == "KAFKA_ADVERTISED_LISTENERS")
                .map(|(_, v)| v.as_str())
                .expect("KAFKA_ADVERTISED_LISTENERS");
            let item = advertised
                .split(',')
                .find(|l| l.starts_with("EXTERNAL://"))
                .expect("an EXTERNAL listener");
            loopback.rewrite(item, node.id).replace("EXTERNAL://", "")
        })
        .collect();
    let bootstrap = external.join(",");
    let mut brokers = None;
    assert!(
        wait_until(Duration::from_secs(30), || {
            let out = kcat(&["-L", "-b", &bootstrap]);
            brokers = parse_kcat_brokers(&stdout_of(&out));
            brokers.as_ref().is_some_and(|b| b.len() == 3)
        }),
        "three brokers never registered: {brokers:?}\n{}",
        running.iter().map(|n| n.process.dump()).collect::<String>()
    );
    let expected: Vec<(i32, String)> = (1..=3).zip(external.iter().cloned()).collect();
    assert_eq!(brokers.unwrap(), expected, "advertised EXTERNAL listeners");

    // Prometheus with docker/prometheus.yml, scraping every second at the moved targets.
    let mut prometheus_yml: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(docker_dir().join("prometheus.yml")).unwrap(),
    )
    .unwrap();
    prometheus_yml["global"]["scrape_interval"] = "1s".into();
    prometheus_yml["global"]["scrape_timeout"] = "1s".into();
    prometheus_yml["global"]["evaluation_interval"] = "1s".into();
    for job in prometheus_yml["scrape_configs"].as_sequence_mut().unwrap() {
        for config in job["static_configs"].as_sequence_mut().unwrap() {
            for target in config["targets"].as_sequence_mut().unwrap() {
                let moved = loopback.rewrite(target.as_str().unwrap(), 0);
                assert!(moved.starts_with("127.0.0.1:"), "target {target:?}");
                *target = moved.into();
            }
        }
    }
    let prometheus =
        Prometheus::start_with_config(&serde_yaml_ng::to_string(&prometheus_yml).unwrap());

    // A topic of replication factor 3 through the stock tool, fully replicated.
    let first = external[0].clone();
    assert_success(
        &kafka_tool(
            "kafka-topics.sh",
            &[
                "--bootstrap-server",
                &first,
                "--create",
                "--topic",
                "replicated",
                "--partitions",
                "3",
                "--replication-factor",
                "3",
            ],
        ),
        "kafka-topics.sh --create",
    );
    let mut described = Vec::new();
    assert!(
        wait_until(Duration::from_secs(30), || {
            let out = kafka_tool(
                "kafka-topics.sh",
                &[
                    "--bootstrap-server",
                    &first,
                    "--describe",
                    "--topic",
                    "replicated",
                ],
            );
            described = parse_describe(&stdout_of(&out));
            described.len() == 3
                && described
                    .iter()
                    .all(|p| p.replica_set().len() == 3 && p.isr_set() == p.replica_set())
        }),
        "replicated: {described:?}"
    );

    let compose_cluster_id = nodes[0]
        .environment
        .iter()
        .find(|(k, _)| k == "CLUSTER_ID")
        .map(|(_, v)| v.clone());
    assert_eq!(Some(cluster_id_of(&first)), compose_cluster_id);

    // Traffic: acks=all produce, a group that reads and commits, 20 records it has not read.
    let produce = |from: usize, to: usize| {
        let input: String = (from..to).map(|i| format!("record-{i}\n")).collect();
        assert_success(
            &kcat_stdin(
                &["-P", "-b", &bootstrap, "-t", "replicated", "-X", "acks=all"],
                &input,
            ),
            "kcat -P",
        );
    };
    produce(0, 30);
    assert_success(
        &kafka_tool(
            "kafka-console-consumer.sh",
            &[
                "--bootstrap-server",
                &bootstrap,
                "--topic",
                "replicated",
                "--group",
                "dashboard",
                "--from-beginning",
                "--max-messages",
                "10",
            ],
        ),
        "kafka-console-consumer.sh",
    );
    produce(30, 50);

    // Every target up, then every dashboard query answers.
    assert!(
        wait_until(Duration::from_secs(30), || prometheus
            .query("sum(up{job=\"milena\"})")
            .as_ref()
            .and_then(first_value)
            == Some(3.0)),
        "Prometheus does not see three targets up\n{}",
        prometheus.log()
    );
    let datasources: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(
            docker_dir().join("grafana/provisioning/datasources/prometheus.yml"),
        )
        .unwrap(),
    )
    .unwrap();
    let uid = datasources["datasources"][0]["uid"].as_str().unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(docker_dir().join("grafana/dashboards/milena.json")).unwrap(),
    )
    .unwrap();
    let (exprs, variables) = dashboard_queries(&dashboard, uid);
    assert!(exprs.len() >= 20, "{} queries", exprs.len());
    let deadline = Instant::now() + Duration::from_secs(30);
    for (title, expr) in &exprs {
        let promql = as_grafana_sends_it(expr);
        let mut answer = prometheus.query(&promql);
        let valid =
            |a: &Option<serde_json::Value>| a.as_ref().is_some_and(|a| a["status"] == "success");
        assert!(valid(&answer), "{title}: {promql}: {answer:?}");
        if MAY_BE_EMPTY.contains(&title.as_str()) {
            continue;
        }
        // Rates need two scrapes of a series in their window.
        let found = wait_until(deadline.saturating_duration_since(Instant::now()), || {
            answer = prometheus.query(&promql);
            answer.as_ref().is_some_and(has_series)
        });
        assert!(found, "{title}: {promql}: no series: {answer:?}");
    }
    for (metric, label) in &variables {
        let answer = prometheus.query(metric).unwrap();
        let values: Vec<&str> = answer["data"]["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["metric"][label.as_str()].as_str())
            .collect();
        assert!(!values.is_empty(), "variable {label}: {metric}: {answer}");
    }
    // The lag the dashboard shows: the group committed at least the 10 records it printed (the
    // console consumer commits the position of everything its polls returned) and none of the
    // last 20.
    let mut lag = None;
    let lag_ok = wait_until(Duration::from_secs(10), || {
        lag = prometheus
            .query("max by (group) (milena_consumer_group_lag_sum{group=\"dashboard\"})")
            .as_ref()
            .and_then(first_value);
        lag.is_some_and(|l| (20.0..=40.0).contains(&l))
    });
    if !lag_ok {
        // Once seen under a loaded full run (0.0): what the group and the targets say then.
        let described = kafka_tool(
            "kafka-consumer-groups.sh",
            &[
                "--bootstrap-server",
                &bootstrap,
                "--describe",
                "--group",
                "dashboard",
            ],
        );
        panic!(
            "lag of the group: {lag:?}\n{}\n{}\nup: {:?}",
            stdout_of(&described),
            String::from_utf8_lossy(&described.stderr),
            prometheus.query("up{job=\"milena\"}"),
        );
    }
    eprintln!(
        "compose cluster and dashboard checked in {:?}",
        started.elapsed()
    );
}

/// The files compose.yml mounts exist beside it, Grafana's dashboard provider reads the folder the
/// dashboards are mounted at, and docker/prometheus.yml passes promtool's check (the compose
/// network's host names need not resolve for it).
#[test]
fn compose_mounts_and_the_prometheus_config_are_valid() {
    let compose = compose();
    let mut mounts = BTreeMap::new();
    for (name, service) in compose["services"].as_mapping().unwrap() {
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let volume = volume.as_str().unwrap();
            let mut parts = volume.split(':');
            let (source, target) = (parts.next().unwrap(), parts.next().unwrap());
            if let Some(relative) = source.strip_prefix("./") {
                assert!(
                    docker_dir().join(relative).exists(),
                    "{name:?} mounts {source}, which docker/ does not have"
                );
                mounts.insert(relative.to_string(), target.to_string());
            }
        }
    }
    let provider: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(docker_dir().join("grafana/provisioning/dashboards/milena.yml"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        provider["providers"][0]["options"]["path"].as_str(),
        mounts.get("grafana/dashboards").map(String::as_str),
        "the dashboards' mount point"
    );
    let out = Command::new("promtool")
        .args(["check", "config"])
        .arg(docker_dir().join("prometheus.yml"))
        .output()
        .expect("promtool (Debian package `prometheus`)");
    assert_success(&out, "promtool check config");
}

/// Whether a Docker engine answers: `DOCKER_HOST`, else the default socket.
fn docker_engine_present() -> bool {
    if std::env::var_os("DOCKER_HOST").is_some() {
        return true;
    }
    std::os::unix::net::UnixStream::connect("/var/run/docker.sock").is_ok()
}

#[test]
fn image_serves_the_java_client_when_a_docker_engine_runs() {
    use testcontainers::core::{IntoContainerPort, WaitFor};
    use testcontainers::runners::{SyncBuilder, SyncRunner};
    use testcontainers::{GenericBuildableImage, ImageExt};

    if !docker_engine_present() {
        println!(
            "SKIPPED: no Docker engine (no DOCKER_HOST, nothing at /var/run/docker.sock): \
             docker/Dockerfile was not built and the image was not run"
        );
        eprintln!(
            "SKIPPED image_serves_the_java_client_when_a_docker_engine_runs: no Docker engine"
        );
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The build context of `docker build -f docker/Dockerfile .`, without target/ and the rest
    // .dockerignore leaves out.
    let mut image = GenericBuildableImage::new("milena-testcontainers", "latest")
        .with_dockerfile(root.join("docker/Dockerfile"));
    for path in [
        "Cargo.toml",
        "Cargo.lock",
        "src",
        "vendor",
        "benches",
        "tests",
        "docker",
        "config",
    ] {
        image = image.with_file(root.join(path), format!("./{path}"));
    }
    let image = image.build_image().expect("docker build");
    let host_port = free_port();
    let cluster_id = new_cluster_id();
    let _container = image
        .with_wait_for(WaitFor::message_on_stderr("Milena started"))
        .with_mapped_port(host_port, 9092.tcp())
        .with_env_var("KAFKA_LISTENERS", "PLAINTEXT://0.0.0.0:9092")
        .with_env_var(
            "KAFKA_ADVERTISED_LISTENERS",
            format!("PLAINTEXT://localhost:{host_port}"),
        )
        .with_env_var("KAFKA_NUM_PARTITIONS", "2")
        .with_env_var("CLUSTER_ID", cluster_id.as_str())
        .with_startup_timeout(Duration::from_secs(120))
        .start()
        .expect("run the image");
    let bootstrap = format!("localhost:{host_port}");
    assert_eq!(cluster_id_of(&bootstrap), cluster_id);
    assert_success(
        &kafka_tool_stdin(
            "kafka-console-producer.sh",
            &["--bootstrap-server", &bootstrap, "--topic", "in-docker"],
            "one\ntwo\nthree\n",
        ),
        "kafka-console-producer.sh",
    );
    let out = assert_success(
        &kafka_tool(
            "kafka-console-consumer.sh",
            &[
                "--bootstrap-server",
                &bootstrap,
                "--topic",
                "in-docker",
                "--from-beginning",
                "--max-messages",
                "3",
            ],
        ),
        "kafka-console-consumer.sh",
    );
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["one", "three", "two"]);
}

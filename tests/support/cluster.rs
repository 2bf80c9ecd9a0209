//! A cluster of N Milena nodes on 127.0.0.1, each a separate `milena <server-N.properties>`
//! process in KRaft combined mode (`process.roles=broker,controller`, static
//! `controller.quorum.voters`), with its own temporary data dir and log file.
//!
//! Reference mode (`MILENA_TEST_REFERENCE=1`): the same properties files start a real Apache Kafka
//! 4.1 KRaft cluster instead (`kafka-server-start.sh` from `$MILENA_KAFKA_DIST`), each node's
//! storage formatted once with one cluster id (`kafka-storage.sh format -t <id> -c <props>`; no
//! `--standalone`, as the voters are static). Every method does the same thing to either.
//!
//! Layout under the cluster's temporary root: `node-<id>/server.properties`, `node-<id>/data`
//! (log.dirs), `node-<id>/node.log` (stdout + stderr of every run of that node, plus the harness's
//! notes), and in reference mode `node-<id>/logs/` (Kafka's server.log, controller.log, GC log).
//!
//! ```ignore
//! let mut c = Cluster::start(3, &[("broker.session.timeout.ms", "3000")]);
//! c.create_topic(2, "t", 3, 3, &[]);
//! let parts = c.describe("t", 1);
//! c.kill9(parts[0].leader.unwrap());
//! c.wait_for_brokers(2, Duration::from_secs(30));
//! ```
use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{
    kafka_dist, kafka_tool_timeout, pid_alive, port_open, reference_mode, run_with_timeout, signal,
    stderr_of, stdout_of, tail_lines, wait_timeout, wait_until, TOOL_TIMEOUT,
};

/// How long one node may take from spawn to "started" with its port accepting connections.
pub const NODE_START_TIMEOUT: Duration = Duration::from_secs(30);
/// The same for a Kafka node (a JVM among three on two cores).
pub const REFERENCE_NODE_START_TIMEOUT: Duration = Duration::from_secs(150);
/// How long `Cluster::start` waits, after every node started, for Metadata to list all brokers.
pub const FORM_TIMEOUT: Duration = Duration::from_secs(30);
/// The same for Kafka.
pub const REFERENCE_FORM_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `stop` waits after SIGTERM (Milena; Kafka gets `super::REFERENCE_STOP_TIMEOUT`).
pub const NODE_STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// What a node prints once its listeners are bound (Milena) or its start-up is done (Kafka).
const MILENA_READY: &str = "Milena started";
const KAFKA_READY: &str = "Kafka Server started";

/// One node of the cluster.
pub struct Node {
    pub id: i32,
    /// The PLAINTEXT (client) port, advertised as 127.0.0.1:port.
    pub port: u16,
    /// The CONTROLLER (Raft) port.
    pub controller_port: u16,
    /// `<root>/node-<id>`.
    pub dir: PathBuf,
    pub props_path: PathBuf,
    pub log_path: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// `127.0.0.1:<port>`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The `log.dirs` directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
}

/// One partition as `kafka-topics.sh --describe` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionState {
    pub partition: i32,
    /// `None` for `Leader: none` (or -1).
    pub leader: Option<i32>,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// The `Elr:` column; `None` when absent or `N/A`, `Some(vec![])` when empty.
    pub elr: Option<Vec<i32>>,
    /// The `LastKnownElr:` column, as `elr`.
    pub last_known_elr: Option<Vec<i32>>,
}

impl PartitionState {
    /// The ISR as a set (its order is the order replicas joined it, which may differ).
    pub fn isr_set(&self) -> BTreeSet<i32> {
        self.isr.iter().copied().collect()
    }

    pub fn replica_set(&self) -> BTreeSet<i32> {
        self.replicas.iter().copied().collect()
    }
}

/// `kafka-topics.sh --describe` output, parsed.
#[derive(Clone, Debug)]
pub struct TopicDescription {
    /// Partitions sorted by id.
    pub partitions: Vec<PartitionState>,
    /// The tool's stdout as printed.
    pub text: String,
}

impl TopicDescription {
    pub fn partition(&self, p: i32) -> &PartitionState {
        self.partitions
            .iter()
            .find(|s| s.partition == p)
            .unwrap_or_else(|| panic!("no partition {p} in\n{}", self.text))
    }

    /// Leader per partition, in partition order.
    pub fn leaders(&self) -> Vec<Option<i32>> {
        self.partitions.iter().map(|p| p.leader).collect()
    }
}

/// A cluster of `Node`s. Dropping it sends SIGKILL to every node still running (and prints the tail
/// of every node's log when the test is failing).
pub struct Cluster {
    /// The temporary root; removed on drop.
    pub root: TempDir,
    pub nodes: Vec<Node>,
    /// Real Apache Kafka nodes (reference mode) rather than Milena.
    reference: bool,
    /// The id given to `kafka-storage.sh format` (reference mode only).
    pub formatted_cluster_id: Option<String>,
}

/// Properties every node gets before the test's own (a key given by the test replaces these).
fn base_props(n: usize) -> Vec<(String, String)> {
    let rf = n.min(3).to_string();
    vec![
        // Internal topics replicated as in a real cluster (Kafka's default is 3; capped at n).
        ("offsets.topic.replication.factor".into(), rf.clone()),
        ("transaction.state.log.replication.factor".into(), rf),
        ("transaction.state.log.min.isr".into(), "1".into()),
        // No 3 s wait before a consumer group's first rebalance.
        ("group.initial.rebalance.delay.ms".into(), "0".into()),
    ]
}

/// Keys the harness sets per node; a test's value for these is ignored (use `set_prop`).
const OWN_PROPS: &[&str] = &[
    "process.roles",
    "node.id",
    "listeners",
    "advertised.listeners",
    "controller.listener.names",
    "controller.quorum.voters",
    "log.dirs",
];

impl Cluster {
    /// Starts `n` nodes with `extra_props` on every node, waits until each one has started and
    /// until Metadata from every node lists `n` brokers. Panics (with the nodes' logs) otherwise.
    #[track_caller]
    pub fn start(n: usize, extra_props: &[(&str, &str)]) -> Cluster {
        let mut cluster = Cluster::configure(n, extra_props);
        cluster.launch_all();
        let timeout = if cluster.reference {
            REFERENCE_FORM_TIMEOUT
        } else {
            FORM_TIMEOUT
        };
        cluster.wait_for_brokers(n, timeout);
        cluster
    }

    /// Writes every node's properties (and in reference mode formats its storage) without starting
    /// anything: change a node's file with `set_prop`, then `launch`/`launch_all`.
    pub fn configure(n: usize, extra_props: &[(&str, &str)]) -> Cluster {
        assert!(n >= 1);
        let reference = reference_mode();
        let root = tempfile::Builder::new()
            .prefix(if reference {
                "milena-reference-cluster-"
            } else {
                "milena-cluster-"
            })
            .tempdir()
            .expect("create temp dir for the cluster");
        let ports = distinct_free_ports(2 * n);
        let voters: Vec<String> = (0..n)
            .map(|i| format!("{}@127.0.0.1:{}", i + 1, ports[n + i]))
            .collect();
        let voters = voters.join(",");

        let mut nodes = Vec::new();
        for i in 0..n {
            let id = (i + 1) as i32;
            let (port, controller_port) = (ports[i], ports[n + i]);
            let dir = root.path().join(format!("node-{id}"));
            fs::create_dir_all(dir.join("data")).expect("create log.dirs");
            let mut props: Vec<(String, String)> = vec![
                ("process.roles".into(), "broker,controller".into()),
                ("node.id".into(), id.to_string()),
                (
                    "listeners".into(),
                    format!(
                        "PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}"
                    ),
                ),
                (
                    "advertised.listeners".into(),
                    format!("PLAINTEXT://127.0.0.1:{port}"),
                ),
                ("controller.listener.names".into(), "CONTROLLER".into()),
                ("controller.quorum.voters".into(), voters.clone()),
                ("log.dirs".into(), dir.join("data").display().to_string()),
            ];
            props.extend(base_props(n));
            for (k, v) in extra_props {
                if OWN_PROPS.contains(k) || (reference && k.starts_with("milena.")) {
                    continue;
                }
                set_kv(&mut props, k, v);
            }
            let props_path = dir.join("server.properties");
            write_props(&props_path, &props);
            nodes.push(Node {
                id,
                port,
                controller_port,
                log_path: dir.join("node.log"),
                props_path,
                dir,
                child: None,
            });
        }
        let mut cluster = Cluster {
            root,
            nodes,
            reference,
            formatted_cluster_id: None,
        };
        if reference {
            cluster.format_reference();
        }
        cluster
    }

    /// Whether these are real Kafka nodes (reference mode).
    pub fn is_reference(&self) -> bool {
        self.reference
    }

    pub fn ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    #[track_caller]
    pub fn node(&self, id: i32) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    #[track_caller]
    fn node_mut(&mut self, id: i32) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    /// Every node's PLAINTEXT address, comma-joined (running or not).
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(Node::bootstrap)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// One node's PLAINTEXT address, `127.0.0.1:<port>`.
    pub fn node_bootstrap(&self, id: i32) -> String {
        self.node(id).bootstrap()
    }

    pub fn pid(&self, id: i32) -> Option<u32> {
        self.node(id).child.as_ref().map(|c| c.id())
    }

    /// Whether node `id`'s process is running.
    pub fn is_running(&mut self, id: i32) -> bool {
        match self.node_mut(id).child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Ids of the nodes whose process runs.
    pub fn running_ids(&mut self) -> Vec<i32> {
        self.ids()
            .into_iter()
            .filter(|&id| self.is_running(id))
            .collect()
    }

    /// Everything node `id` wrote to stdout and stderr over all its runs (Kafka: what log4j prints
    /// to the console, i.e. its server log), with the harness's notes.
    pub fn log(&self, id: i32) -> String {
        fs::read(&self.node(id).log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `n` lines of every node's log, for failure messages.
    pub fn logs_tail(&self, n: usize) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            out.push_str(&format!(
                "---- node {} (port {}, controller {}) log, last {n} lines of {} ----\n{}\n",
                node.id,
                node.port,
                node.controller_port,
                node.log_path.display(),
                tail_lines(&self.log(node.id), n)
            ));
        }
        out
    }

    /// Sets `key=value` in node `id`'s properties file (replacing an existing key), for the next
    /// launch. For faults such as voters that differ from the other nodes'.
    pub fn set_prop(&mut self, id: i32, key: &str, value: &str) {
        let path = self.node(id).props_path.clone();
        let mut props = read_props(&path);
        set_kv(&mut props, key, value);
        write_props(&path, &props);
    }

    /// Removes `key` from node `id`'s properties file.
    pub fn remove_prop(&mut self, id: i32, key: &str) {
        let path = self.node(id).props_path.clone();
        let mut props = read_props(&path);
        props.retain(|(k, _)| k != key);
        write_props(&path, &props);
    }

    /// Spawns every node, then waits until each has started (not for the cluster to form).
    #[track_caller]
    pub fn launch_all(&mut self) {
        let mut marks = Vec::new();
        for id in self.ids() {
            marks.push((id, self.spawn(id)));
        }
        for (id, starts_before) in marks {
            self.wait_started(id, starts_before);
        }
    }

    /// Spawns node `id` and waits until it has started. Panics if it exits or times out.
    #[track_caller]
    pub fn launch(&mut self, id: i32) {
        let starts_before = self.spawn(id);
        self.wait_started(id, starts_before);
    }

    /// Spawns node `id` and returns at once (for a node expected to fail start-up: see
    /// `wait_exit`).
    pub fn launch_no_wait(&mut self, id: i32) {
        self.spawn(id);
    }

    /// Waits at most `timeout` for node `id` to exit by itself; returns its status.
    pub fn wait_exit(&mut self, id: i32, timeout: Duration) -> Option<std::process::ExitStatus> {
        let node = self.node_mut(id);
        let child = node.child.as_mut()?;
        let status = wait_timeout(child, timeout);
        if let Some(s) = status {
            node.child = None;
            self.note(id, &format!("exited by itself: {s}"));
        }
        status
    }

    /// SIGKILL node `id` (a crash); waits until it is gone and its ports are closed.
    #[track_caller]
    pub fn kill9(&mut self, id: i32) {
        let node = self.node_mut(id);
        let Some(mut child) = node.child.take() else {
            panic!("kill9: node {id} is not running");
        };
        let pid = child.id();
        let (port, cport) = (node.port, node.controller_port);
        signal(pid, "KILL");
        let _ = child.wait();
        let gone = wait_until(Duration::from_secs(10), || {
            !pid_alive(pid) && !port_open(port) && !port_open(cport)
        });
        self.note(id, &format!("sent SIGKILL to pid {pid}"));
        assert!(
            gone,
            "node {id} (pid {pid}) still holds its ports 10 s after SIGKILL"
        );
    }

    /// Freezes node `id` (SIGSTOP): it holds its sockets and state but answers nothing, like a
    /// long GC pause or a stalled VM. `resume` lets it go on where it stopped.
    pub fn pause(&mut self, id: i32) {
        let pid = self
            .pid(id)
            .unwrap_or_else(|| panic!("pause: node {id} is not running"));
        signal(pid, "STOP");
        self.note(id, &format!("sent SIGSTOP to pid {pid}"));
    }

    pub fn resume(&mut self, id: i32) {
        let pid = self
            .pid(id)
            .unwrap_or_else(|| panic!("resume: node {id} is not running"));
        signal(pid, "CONT");
        self.note(id, &format!("sent SIGCONT to pid {pid}"));
    }

    /// Starts node `id` again (same ports, same data) after `kill9` or `stop`, and waits until it
    /// has started. Whether it rejoined shows through `wait_for_brokers`.
    #[track_caller]
    pub fn start_again(&mut self, id: i32) {
        assert!(
            self.node(id).child.is_none(),
            "start_again: node {id} is still running"
        );
        self.launch(id);
    }

    /// SIGTERM node `id`; waits for it to exit. Milena must exit 0; Kafka's status is not checked
    /// (the JVM's shutdown hook exits 143).
    #[track_caller]
    pub fn stop(&mut self, id: i32) {
        let reference = self.reference;
        let node = self.node_mut(id);
        let Some(mut child) = node.child.take() else {
            return;
        };
        let pid = child.id();
        signal(pid, "TERM");
        let timeout = if reference {
            super::REFERENCE_STOP_TIMEOUT
        } else {
            NODE_STOP_TIMEOUT
        };
        match wait_timeout(&mut child, timeout) {
            Some(status) => {
                self.note(id, &format!("pid {pid} exited after SIGTERM: {status}"));
                assert!(
                    reference || status.success(),
                    "node {id} (pid {pid}) exited with {status} after SIGTERM\n{}",
                    self.logs_tail(100)
                );
            }
            None => {
                signal(pid, "KILL");
                let _ = child.wait();
                panic!(
                    "node {id} (pid {pid}) did not exit within {timeout:?} of SIGTERM (killed)\n{}",
                    self.logs_tail(100)
                );
            }
        }
    }

    // --------------------------------------------------------------------------------------------
    // What clients see

    /// The brokers kcat's Metadata from node `via` lists: `(id, "host:port")`, sorted by id.
    /// `None` when kcat fails (node down, no answer within 3 s).
    pub fn brokers_seen(&self, via: i32) -> Option<Vec<(i32, String)>> {
        let mut cmd = Command::new("kcat");
        cmd.args(["-L", "-b", &self.node_bootstrap(via), "-m", "3"]);
        let out = run_with_timeout(&mut cmd, None, Duration::from_secs(10)).ok()?;
        if !out.status.success() {
            return None;
        }
        parse_kcat_brokers(&stdout_of(&out))
    }

    /// Waits until Metadata from every running node lists exactly `count` brokers (kcat -L, one
    /// node as bootstrap at a time). Returns how long it took; panics with the last answers and the
    /// nodes' logs after `timeout`.
    #[track_caller]
    pub fn wait_for_brokers(&mut self, count: usize, timeout: Duration) -> Duration {
        let started = Instant::now();
        let mut last = Vec::new();
        let ok = wait_until(timeout, || {
            let running = self.running_ids();
            if running.is_empty() {
                return false;
            }
            last = running
                .iter()
                .map(|&id| (id, self.brokers_seen(id)))
                .collect();
            last.iter()
                .all(|(_, seen)| seen.as_ref().is_some_and(|b| b.len() == count))
        });
        assert!(
            ok,
            "Metadata did not list {count} brokers from every running node within {timeout:?}; \
             last answers (via node -> brokers): {last:?}\n{}",
            self.logs_tail(60)
        );
        started.elapsed()
    }

    /// `kafka-topics.sh --bootstrap-server <node via> ARGS` (TOOL_TIMEOUT).
    #[track_caller]
    pub fn topics(&self, via: i32, args: &[&str]) -> Output {
        let bootstrap = self.node_bootstrap(via);
        let mut all = vec!["--bootstrap-server", bootstrap.as_str()];
        all.extend_from_slice(args);
        match kafka_tool_timeout("kafka-topics.sh", &all, None, TOOL_TIMEOUT) {
            Ok(out) => out,
            Err(e) => panic!("{e}\n{}", self.logs_tail(60)),
        }
    }

    /// `kafka-topics.sh --create` through node `via`; asserts it printed "Created topic".
    #[track_caller]
    pub fn create_topic(&self, via: i32, topic: &str, partitions: u32, rf: u32, extra: &[&str]) {
        let (p, r) = (partitions.to_string(), rf.to_string());
        let mut args = vec![
            "--create",
            "--topic",
            topic,
            "--partitions",
            &p,
            "--replication-factor",
            &r,
        ];
        args.extend_from_slice(extra);
        let out = self.topics(via, &args);
        assert!(
            out.status.success() && stdout_of(&out).contains(&format!("Created topic {topic}.")),
            "create {topic} via node {via} failed with {}\n---- stdout ----\n{}\n---- stderr ----\n{}",
            out.status,
            stdout_of(&out),
            stderr_of(&out)
        );
    }

    /// `kafka-topics.sh --describe --topic <topic>` through node `via`, parsed. Err with the tool's
    /// output when it fails or prints no partition.
    pub fn try_describe(&self, topic: &str, via: i32) -> Result<TopicDescription, String> {
        let bootstrap = self.node_bootstrap(via);
        let args = [
            "--bootstrap-server",
            bootstrap.as_str(),
            "--describe",
            "--topic",
            topic,
        ];
        let out = kafka_tool_timeout("kafka-topics.sh", &args, None, TOOL_TIMEOUT)
            .map_err(|e| e.to_string())?;
        let text = stdout_of(&out);
        let partitions = parse_describe(&text);
        if !out.status.success() || partitions.is_empty() {
            return Err(format!(
                "describe {topic} via node {via}: {}\n---- stdout ----\n{text}\n---- stderr ----\n{}",
                out.status,
                stderr_of(&out)
            ));
        }
        Ok(TopicDescription { partitions, text })
    }

    /// As `try_describe`, panicking on failure.
    #[track_caller]
    pub fn describe(&self, topic: &str, via: i32) -> TopicDescription {
        self.try_describe(topic, via)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.logs_tail(60)))
    }

    /// Describes `topic` through node `via` until `ok` holds for what it prints; returns that
    /// description. Panics with the last one after `timeout`.
    #[track_caller]
    pub fn wait_describe(
        &self,
        topic: &str,
        via: i32,
        timeout: Duration,
        what: &str,
        mut ok: impl FnMut(&TopicDescription) -> bool,
    ) -> TopicDescription {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            last = self.try_describe(topic, via);
            if let Ok(d) = &last {
                if ok(d) {
                    return d.clone();
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(300));
        }
        let last = match last {
            Ok(d) => d.text,
            Err(e) => e,
        };
        // What the other nodes say: a node whose metadata lags shows here.
        let others: String = self
            .ids()
            .into_iter()
            .filter(|&id| id != via)
            .map(|id| match self.try_describe(topic, id) {
                Ok(d) => format!("via node {id}:\n{}\n", d.text),
                Err(e) => format!("via node {id}: {e}\n"),
            })
            .collect();
        panic!(
            "describe {topic} via node {via}: not {what} within {timeout:?}; last:\n{last}\n{others}{}",
            self.logs_tail(60)
        );
    }

    /// The Raft leader as `kafka-metadata-quorum.sh describe --status` through node `via` reports
    /// it (`LeaderId:`); `None` when the tool fails (e.g. DescribeQuorum not served).
    pub fn quorum_leader(&self, via: i32) -> Option<i32> {
        let bootstrap = self.node_bootstrap(via);
        let out = kafka_tool_timeout(
            "kafka-metadata-quorum.sh",
            &["--bootstrap-server", &bootstrap, "describe", "--status"],
            None,
            Duration::from_secs(30),
        )
        .ok()?;
        if !out.status.success() {
            return None;
        }
        stdout_of(&out).lines().find_map(|l| {
            l.strip_prefix("LeaderId:")
                .and_then(|v| v.trim().parse::<i32>().ok())
                .filter(|&id| id >= 0)
        })
    }

    /// The cluster id through node `via` ([`cluster_id_of`]). Panics on failure.
    #[track_caller]
    pub fn cluster_id(&self, via: i32) -> String {
        cluster_id_of(&self.node_bootstrap(via))
    }

    // --------------------------------------------------------------------------------------------
    // Processes

    /// Spawns node `id`; returns how many ready lines its log held before.
    fn spawn(&mut self, id: i32) -> usize {
        let reference = self.reference;
        let starts_before = self.log(id).matches(self.ready_marker()).count();
        let node = self.node(id);
        let mut cmd;
        if reference {
            cmd = Command::new(kafka_dist().join("bin").join("kafka-server-start.sh"));
            cmd.arg(&node.props_path)
                .env("LOG_DIR", node.dir.join("logs"))
                .env(
                    "KAFKA_HEAP_OPTS",
                    std::env::var("KAFKA_HEAP_OPTS")
                        .unwrap_or_else(|_| "-Xmx384m -Xms384m".to_string()),
                )
                .env(
                    "KAFKA_JVM_PERFORMANCE_OPTS",
                    "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Djava.awt.headless=true",
                );
        } else {
            cmd = Command::new(env!("CARGO_BIN_EXE_milena"));
            cmd.arg(&node.props_path);
            if std::env::var_os("RUST_BACKTRACE").is_none() {
                cmd.env("RUST_BACKTRACE", "1");
            }
        }
        self.note(
            id,
            &format!("starting {:?} (cwd {})", cmd, node.dir.display()),
        );
        let node = self.node(id);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log_path)
            .expect("open node log");
        let log2 = log.try_clone().expect("clone node log handle");
        // kafka-server-start.sh execs kafka-run-class.sh, which execs java: the child is the JVM.
        cmd.current_dir(&node.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn node {id} ({cmd:?}): {e}"));
        self.node_mut(id).child = Some(child);
        starts_before
    }

    fn ready_marker(&self) -> &'static str {
        if self.reference {
            KAFKA_READY
        } else {
            MILENA_READY
        }
    }

    /// Waits until node `id` printed one more ready line than `starts_before` and its PLAINTEXT
    /// port accepts connections.
    #[track_caller]
    fn wait_started(&mut self, id: i32, starts_before: usize) {
        let timeout = if self.reference {
            REFERENCE_NODE_START_TIMEOUT
        } else {
            NODE_START_TIMEOUT
        };
        let marker = self.ready_marker();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.node(id).port));
        let deadline = Instant::now() + timeout;
        loop {
            if self.log(id).matches(marker).count() > starts_before
                && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            {
                return;
            }
            let node = self.node_mut(id);
            let exited = node
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                node.child = None;
                panic!(
                    "node {id} exited during start-up with {status}\n{}",
                    self.logs_tail(100)
                );
            }
            if Instant::now() >= deadline {
                if let Some(mut c) = self.node_mut(id).child.take() {
                    signal(c.id(), "KILL");
                    let _ = c.wait();
                }
                panic!(
                    "node {id} did not print {marker:?} and accept connections on {addr} within {timeout:?} (killed)\n{}",
                    self.logs_tail(100)
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Reference mode: one `kafka-storage.sh random-uuid`, then `format -t <id> -c <props>` of
    /// every node (in parallel: each is a JVM start).
    fn format_reference(&mut self) {
        let storage = kafka_dist().join("bin").join("kafka-storage.sh");
        let out = run_with_timeout(
            Command::new(&storage).arg("random-uuid").env(
                "KAFKA_JVM_PERFORMANCE_OPTS",
                "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto",
            ),
            None,
            Duration::from_secs(60),
        )
        .expect("kafka-storage.sh random-uuid");
        let cluster_id = stdout_of(&out).trim().to_string();
        assert!(
            out.status.success() && !cluster_id.is_empty(),
            "kafka-storage.sh random-uuid: {}\n{}",
            out.status,
            stderr_of(&out)
        );
        let handles: Vec<_> = self
            .nodes
            .iter()
            .map(|node| {
                let (storage, cluster_id) = (storage.clone(), cluster_id.clone());
                let (props, id) = (node.props_path.clone(), node.id);
                thread::spawn(move || {
                    let out = run_with_timeout(
                        Command::new(&storage)
                            .args(["format", "-t", &cluster_id, "-c"])
                            .arg(&props)
                            .env(
                                "KAFKA_JVM_PERFORMANCE_OPTS",
                                "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto",
                            ),
                        None,
                        Duration::from_secs(120),
                    );
                    (id, out)
                })
            })
            .collect();
        for h in handles {
            let (id, out) = h.join().expect("format thread");
            let out = out.unwrap_or_else(|e| panic!("kafka-storage.sh format node {id}: {e}"));
            self.note(
                id,
                &format!(
                    "kafka-storage.sh format -t {cluster_id}: {}{}",
                    stdout_of(&out),
                    stderr_of(&out)
                ),
            );
            assert!(
                out.status.success(),
                "kafka-storage.sh format of node {id} failed with {}\n{}{}",
                out.status,
                stdout_of(&out),
                stderr_of(&out)
            );
        }
        self.formatted_cluster_id = Some(cluster_id);
    }

    /// Appends a harness note to node `id`'s log.
    pub fn note(&self, id: i32, line: &str) {
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.node(id).log_path)
        {
            let _ = writeln!(f, "==== test harness: {line}");
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill(); // SIGKILL
                let _ = child.wait();
            }
        }
        // MILENA_TEST_LOGS=<lines> shows them for a passing test too, that many per node.
        let lines: Option<usize> = std::env::var("MILENA_TEST_LOGS")
            .ok()
            .and_then(|v| v.parse().ok());
        if thread::panicking() || lines.is_some() {
            eprintln!(
                "==== {} cluster logs (root {}) ====\n{}==== end of cluster logs ====",
                if self.reference {
                    "reference Kafka"
                } else {
                    "milena"
                },
                self.root.path().display(),
                self.logs_tail(lines.unwrap_or(150))
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------
// One node that is expected to refuse to start

/// Runs one node (milena, or Kafka in reference mode) with exactly `props` (plus `log.dirs` in a
/// temporary directory when not given) and waits at most `timeout` for it to exit. Returns its
/// output (stdout and stderr); Err(TimedOut) if it was still running (then killed). In reference
/// mode the storage is not formatted: Kafka validates its configuration before it looks at it.
pub fn run_single_node(props: &[(&str, &str)], timeout: Duration) -> io::Result<Output> {
    let dir = tempfile::Builder::new()
        .prefix("milena-node-")
        .tempdir()
        .expect("temp dir");
    let mut all: Vec<(String, String)> = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if !all.iter().any(|(k, _)| k == "log.dirs") {
        all.push((
            "log.dirs".into(),
            dir.path().join("data").display().to_string(),
        ));
    }
    let path = dir.path().join("server.properties");
    write_props(&path, &all);
    let mut cmd;
    if reference_mode() {
        cmd = Command::new(kafka_dist().join("bin").join("kafka-server-start.sh"));
        cmd.arg(&path)
            .env("LOG_DIR", dir.path().join("logs"))
            .env("KAFKA_HEAP_OPTS", "-Xmx256m")
            .env(
                "KAFKA_JVM_PERFORMANCE_OPTS",
                "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto",
            );
    } else {
        cmd = Command::new(env!("CARGO_BIN_EXE_milena"));
        cmd.arg(&path);
    }
    cmd.current_dir(dir.path());
    run_with_timeout(&mut cmd, None, timeout)
}

// ------------------------------------------------------------------------------------------------
// Parsing and small helpers

/// `n` distinct ports that were free a moment ago, taken below the kernel's ephemeral port range
/// when there is room there (see `ports_below_ephemeral`), else from it.
fn distinct_free_ports(n: usize) -> Vec<u16> {
    if let Some(ports) = ports_below_ephemeral(n) {
        return ports;
    }
    let mut ports: Vec<u16> = Vec::new();
    for _ in 0..(n * 20) {
        let p = super::free_port();
        if !ports.contains(&p) {
            ports.push(p);
        }
        if ports.len() == n {
            return ports;
        }
    }
    panic!("could not find {n} distinct free ports");
}

/// `n` distinct ports in [10000, start of net.ipv4.ip_local_port_range) that bind on 127.0.0.1
/// now, picked at random; `None` when that range is too small or too busy. A port handed out by
/// binding to :0 is an ephemeral port: an outgoing connection (a node dialling a peer that is
/// still starting, a client reconnecting) may take it as its source port before the node binds
/// it, or while a killed node is down before `start_again` (seen once: a Kafka node exited with
/// "Socket server failed to bind to 127.0.0.1:<its controller port>: Address already in use").
/// No source port is ever taken below the ephemeral range.
fn ports_below_ephemeral(n: usize) -> Option<Vec<u16>> {
    const LOW: u32 = 10_000;
    let start: u32 = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    if !(LOW + 1000..=65_536).contains(&start) {
        return None;
    }
    let span = u64::from(start - LOW);
    // xorshift64, seeded by the clock and the pid: test processes running at once pick apart.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let mut x = (nanos ^ (u64::from(std::process::id()) << 32)) | 1;
    let mut ports: Vec<u16> = Vec::new();
    for _ in 0..(n * 200) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let p = (u64::from(LOW) + x % span) as u16;
        if !ports.contains(&p) && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            ports.push(p);
            if ports.len() == n {
                return Some(ports);
            }
        }
    }
    None
}

fn set_kv(props: &mut Vec<(String, String)>, key: &str, value: &str) {
    match props.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value.to_string(),
        None => props.push((key.to_string(), value.to_string())),
    }
}

fn write_props(path: &Path, props: &[(String, String)]) {
    let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    fs::write(path, text).expect("write server.properties");
}

fn read_props(path: &Path) -> Vec<(String, String)> {
    fs::read_to_string(path)
        .expect("read server.properties")
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect()
}

/// The cluster id through `bootstrap`, as `kafka-cluster.sh cluster-id` prints it (the same
/// main class, `org.apache.kafka.tools.ClusterTool`; DescribeCluster). Panics on failure.
#[track_caller]
pub fn cluster_id_of(bootstrap: &str) -> String {
    let out = kafka_tool_timeout(
        "kafka-run-class.sh",
        &[
            "org.apache.kafka.tools.ClusterTool",
            "cluster-id",
            "--bootstrap-server",
            bootstrap,
        ],
        None,
        TOOL_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let text = stdout_of(&out);
    let id = text
        .lines()
        .find_map(|l| l.strip_prefix("Cluster ID:"))
        .map(|v| v.trim().to_string());
    match (out.status.success(), id) {
        (true, Some(id)) if !id.is_empty() => id,
        _ => panic!(
            "kafka-cluster.sh cluster-id via {bootstrap} failed with {}\n---- stdout ----\n{text}\n---- stderr ----\n{}",
            out.status,
            stderr_of(&out)
        ),
    }
}

/// The broker list of `kcat -L` output: ` 3 brokers:` then `  broker 1 at host:port (controller)`.
pub fn parse_kcat_brokers(text: &str) -> Option<Vec<(i32, String)>> {
    let count: usize = text.lines().find_map(|l| {
        l.trim()
            .strip_suffix(" brokers:")
            .and_then(|n| n.trim().parse().ok())
    })?;
    let mut brokers: Vec<(i32, String)> = text
        .lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("broker ")?;
            let (id, rest) = rest.split_once(" at ")?;
            let addr = rest.split_whitespace().next()?;
            Some((id.parse().ok()?, addr.to_string()))
        })
        .collect();
    brokers.sort();
    (brokers.len() == count).then_some(brokers)
}

/// The partition lines of `kafka-topics.sh --describe`:
/// `\tTopic: t\tPartition: 0\tLeader: 2\tReplicas: 2,3,1\tIsr: 2,3,1\tElr: \tLastKnownElr: `.
pub fn parse_describe(text: &str) -> Vec<PartitionState> {
    fn ids(v: &str) -> Vec<i32> {
        v.split(',')
            .filter(|s| !s.trim().is_empty())
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    }
    let mut out = Vec::new();
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) || !line.contains("Partition:") {
            continue;
        }
        let fields: Vec<(&str, &str)> = line
            .split('\t')
            .filter_map(|f| f.split_once(':'))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        let get = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let Some(partition) = get("Partition").and_then(|v| v.parse().ok()) else {
            continue;
        };
        let leader = get("Leader")
            .and_then(|v| v.parse::<i32>().ok())
            .filter(|&l| l >= 0);
        let opt_ids = |key: &str| match get(key) {
            None | Some("N/A") => None,
            Some(v) => Some(ids(v)),
        };
        out.push(PartitionState {
            partition,
            leader,
            replicas: ids(get("Replicas").unwrap_or("")),
            isr: ids(get("Isr").unwrap_or("")),
            elr: opt_ids("Elr"),
            last_known_elr: opt_ids("LastKnownElr"),
        });
    }
    out.sort_by_key(|p| p.partition);
    out
}

/// A time bound for something that takes `milena_secs` at most on Milena: three JVMs on two
/// cores are slower, so reference mode gets three times as long.
pub fn bound(milena_secs: u64) -> Duration {
    Duration::from_secs(if reference_mode() {
        milena_secs * 3
    } else {
        milena_secs
    })
}

/// Every partition has a leader and all its replicas in the ISR.
pub fn full_isr(d: &TopicDescription) -> bool {
    !d.partitions.is_empty()
        && d.partitions
            .iter()
            .all(|p| p.leader.is_some() && p.isr_set() == p.replica_set())
}

/// Java's `String.hashCode` (over UTF-16 units, wrapping).
fn java_hash_code(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// The partition of `__consumer_offsets` (a group id) or `__transaction_state` (a transactional
/// id) that holds `key`, as Kafka places it: `Utils.abs(key.hashCode()) % partitions`
/// (`Utils.abs(MIN_VALUE)` is 0). Its leader is the key's coordinator.
pub fn coordinator_partition(key: &str, partitions: i32) -> i32 {
    let h = java_hash_code(key);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions
}

//! Helpers for integration tests: start the release `milena` binary on a free port, run the stock
//! Apache Kafka tools, kcat and Python clients against it with timeouts.
//!
//! Declared once in tests/suite.rs; a test module takes it with `use crate::support;`.
//! The Kafka tools come from `$MILENA_KAFKA_DIST` (set by scripts/test.sh; or
//! `export MILENA_KAFKA_DIST=$(scripts/kafka-dist.sh | tail -n1)`).
//!
//! std + tempfile only. Signals are sent with the `kill` command (no libc).
//!
//! Reference mode: with `MILENA_TEST_REFERENCE=1`, `Broker` runs the real Apache Kafka 4.1 broker
//! (scripts/reference-kafka.sh, KRaft, one node) instead of milena, so a test can be validated
//! against Kafka itself. `restart`, `stop`, `kill9` and `start_again` do the same things to it.
#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Jepsen-style analyses of produce/consume histories and replica log comparison:
/// `checker::check`.
pub mod checker;
/// A cluster of N nodes (KRaft combined mode) on 127.0.0.1: `cluster::Cluster`.
pub mod cluster;
/// Plain HTTP to a loopback port (the broker's HTTP listener, Prometheus' API):
/// `http::start_broker`, `http::get`, `http::post_form`, `http::raw_http`.
pub mod http;
/// A CA and certificates for TLS tests: `pki::Pki`.
pub mod pki;
/// Debian's Prometheus scraping brokers, and its query API: `prometheus::Prometheus`.
pub mod prometheus;
/// Kafka Streams' WordCountDemo with exactly_once_v2 and its checks: `streams::word_count_demo`.
pub mod streams;

/// How long `Broker::start` waits for the port to accept connections.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `Broker::stop` waits after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default timeout for a Kafka tool (JVM start-up included) or a Python script.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(60);
/// Default timeout for a kcat run.
pub const KCAT_TIMEOUT: Duration = Duration::from_secs(30);

// ------------------------------------------------------------------------------------------------
// Broker

/// A milena broker process on 127.0.0.1:`port`, with its own temporary directory:
/// `server.properties`, `data/` (log.dirs) and `broker.log` (stdout + stderr of every run).
pub struct Broker {
    pub port: u16,
    /// The temporary root; removed when the Broker is dropped.
    pub data_dir: TempDir,
    pub props_path: PathBuf,
    pub log_path: PathBuf,
    child: Option<Child>,
    /// Set in reference mode (`MILENA_TEST_REFERENCE=1`): the real Kafka broker runs instead.
    reference: Option<Reference>,
    /// Soft and hard open-file limit every (re)start runs under (`prlimit --nofile=N:N`).
    pub nofile: Option<u64>,
}

/// The real Kafka broker started by scripts/reference-kafka.sh in `Broker::data_dir`.
struct Reference {
    /// `key=value` arguments appended to its server.properties at every start.
    props: Vec<String>,
    /// The JVM's pid while it runs (the script reports it and writes `<dir>/kafka.pid`).
    pid: Option<u32>,
}

/// Whether `MILENA_TEST_REFERENCE=1`: `Broker` then starts the real Apache Kafka broker.
pub fn reference_mode() -> bool {
    std::env::var("MILENA_TEST_REFERENCE").is_ok_and(|v| v == "1")
}

/// Properties the reference broker always gets (a test setup), unless the test gives its own.
const REFERENCE_DEFAULT_PROPS: &[(&str, &str)] = &[
    ("group.initial.rebalance.delay.ms", "0"),
    ("offsets.topic.replication.factor", "1"),
];
/// Set by scripts/reference-kafka.sh itself; a test's value for these is not passed on.
/// A test's `listeners` and `advertised.listeners` are (the script adds its CONTROLLER listener
/// to them, and CONTROLLER:PLAINTEXT to a `listener.security.protocol.map`); they must keep a
/// PLAINTEXT listener on `{port}`, Kafka's inter-broker listener and the script's readiness check.
const REFERENCE_OWN_PROPS: &[&str] =
    &["node.id", "log.dirs", "controller.quorum.bootstrap.servers"];
/// How long `scripts/reference-kafka.sh start` may take (JVM, storage format, readiness check).
pub const REFERENCE_START_TIMEOUT: Duration = Duration::from_secs(150);
/// How long the reference broker may take to exit after SIGTERM (controlled shutdown).
pub const REFERENCE_STOP_TIMEOUT: Duration = Duration::from_secs(60);

impl Broker {
    /// Starts a broker with the default properties on a free port.
    pub fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// Starts a broker with extra properties; a key given here replaces the default one.
    pub fn start_with(extra_props: &[(&str, &str)]) -> Broker {
        Broker::start_limited(extra_props, None)
    }

    /// As `start_with`, under an open-file limit of `nofile` (soft and hard) if given.
    pub fn start_limited(extra_props: &[(&str, &str)], nofile: Option<u64>) -> Broker {
        if reference_mode() {
            return Broker::start_reference(extra_props);
        }
        let data_dir = tempfile::Builder::new()
            .prefix("milena-test-")
            .tempdir()
            .expect("create temp dir for broker");
        let port = free_port();
        let root = data_dir.path().to_path_buf();
        let log_dirs = root.join("data");
        fs::create_dir_all(&log_dirs).expect("create log.dirs");

        let mut props: Vec<(String, String)> = vec![
            ("node.id".into(), "1".into()),
            ("listeners".into(), format!("PLAINTEXT://127.0.0.1:{port}")),
            (
                "advertised.listeners".into(),
                format!("PLAINTEXT://localhost:{port}"),
            ),
            ("log.dirs".into(), log_dirs.display().to_string()),
        ];
        // `{port}` in a value is the port the broker is waited for (`Broker::port`), so that a
        // test may give its own `listeners` with more listeners besides that one.
        for (k, v) in extra_props {
            let v = v.replace("{port}", &port.to_string());
            match props.iter_mut().find(|(key, _)| key == k) {
                Some(entry) => entry.1 = v,
                None => props.push((k.to_string(), v)),
            }
        }
        let mut text = String::new();
        for (k, v) in &props {
            text.push_str(&format!("{k}={v}\n"));
        }
        let props_path = root.join("server.properties");
        fs::write(&props_path, text).expect("write server.properties");

        let mut broker = Broker {
            port,
            log_path: root.join("broker.log"),
            props_path,
            data_dir,
            child: None,
            reference: None,
            nofile,
        };
        broker.spawn();
        broker
    }

    /// Reference mode: the real Kafka broker on a free port (its controller on port + 1000).
    fn start_reference(extra_props: &[(&str, &str)]) -> Broker {
        let data_dir = tempfile::Builder::new()
            .prefix("milena-reference-")
            .tempdir()
            .expect("create temp dir for the reference broker");
        let root = data_dir.path().to_path_buf();
        let port = free_port_pair();
        let mut props: Vec<(String, String)> = REFERENCE_DEFAULT_PROPS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in extra_props {
            if REFERENCE_OWN_PROPS.contains(k) || k.starts_with("milena.") {
                continue;
            }
            // `{port}` as in milena mode (`start_limited`).
            let v = v.replace("{port}", &port.to_string());
            match props.iter_mut().find(|(key, _)| key == k) {
                Some(entry) => entry.1 = v,
                None => props.push((k.to_string(), v)),
            }
        }
        let mut broker = Broker {
            port,
            props_path: root.join("server.properties"),
            log_path: root.join("broker.log"),
            data_dir,
            child: None,
            reference: Some(Reference {
                props: props.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                pid: None,
            }),
            nofile: None,
        };
        broker.spawn();
        broker
    }

    /// Whether this is the real Kafka broker (reference mode) rather than milena.
    pub fn is_reference(&self) -> bool {
        self.reference.is_some()
    }

    /// `localhost:<port>`, for `--bootstrap-server` / `-b`.
    pub fn bootstrap(&self) -> String {
        format!("localhost:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The `log.dirs` directory.
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.path().join("data")
    }

    pub fn pid(&self) -> Option<u32> {
        if let Some(r) = &self.reference {
            return r.pid;
        }
        self.child.as_ref().map(|c| c.id())
    }

    pub fn is_running(&mut self) -> bool {
        if let Some(r) = &self.reference {
            return r.pid.is_some_and(pid_alive);
        }
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Everything the broker wrote to stdout and stderr, over all its runs.
    /// In reference mode: the harness's notes and the script's output, then the broker's console
    /// output (`logs/console.out`, which holds what log4j prints).
    pub fn log(&self) -> String {
        let mut log = fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        if self.reference.is_some() {
            let console = self.data_dir.path().join("logs").join("console.out");
            if let Ok(b) = fs::read(&console) {
                log.push_str(&format!("==== {} ====\n", console.display()));
                log.push_str(&String::from_utf8_lossy(&b));
            }
        }
        log
    }

    /// Drops property `key` from the next (re)start on, in both modes (milena's
    /// server.properties; the reference broker's list, from which the script writes its file at
    /// every start).
    pub fn remove_prop(&mut self, key: &str) {
        let prefix = format!("{key}=");
        if let Some(r) = &mut self.reference {
            r.props.retain(|kv| !kv.starts_with(&prefix));
            return;
        }
        let text = fs::read_to_string(&self.props_path).expect("read server.properties");
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with(&prefix))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(&self.props_path, kept).expect("write server.properties");
    }

    /// Clean stop (SIGTERM) then start again on the same port and directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// SIGKILL, as a crash. The broker can be started again with `start_again`.
    pub fn kill9(&mut self) {
        if let Some(pid) = self.reference.as_mut().and_then(|r| r.pid.take()) {
            signal(pid, "KILL");
            let port = self.port;
            let gone = wait_until(Duration::from_secs(10), || {
                !pid_alive(pid) && !port_open(port) && !port_open(port + 1000)
            });
            let _ = fs::remove_file(self.data_dir.path().join("kafka.pid"));
            self.append_log(&format!(
                "==== test harness: sent SIGKILL to the reference broker, pid {pid}\n"
            ));
            assert!(
                gone,
                "reference broker pid {pid} still alive 10 s after SIGKILL"
            );
            return;
        }
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "KILL");
            let _ = child.wait();
            self.append_log(&format!(
                "==== test harness: sent SIGKILL to pid {}\n",
                child.id()
            ));
        }
    }

    /// Starts the broker again after `kill9` or `stop` (same port, same directory).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "start_again: broker is still running");
        assert!(
            self.reference.as_ref().is_none_or(|r| r.pid.is_none()),
            "start_again: the reference broker is still running"
        );
        self.spawn();
    }

    /// SIGTERM, wait at most STOP_TIMEOUT, assert the process exited successfully.
    #[track_caller]
    pub fn stop(&mut self) {
        if self.reference.is_some() {
            self.stop_reference();
            return;
        }
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        signal(pid, "TERM");
        match wait_timeout(&mut child, STOP_TIMEOUT) {
            Some(status) => {
                self.append_log(&format!(
                    "==== test harness: pid {pid} exited after SIGTERM: {status}\n"
                ));
                assert!(
                    status.success(),
                    "broker (pid {pid}) exited with {status} after SIGTERM\n---- broker log ----\n{}",
                    self.log()
                );
            }
            None => {
                signal(pid, "KILL");
                let _ = child.wait();
                panic!(
                    "broker (pid {pid}) did not exit within {STOP_TIMEOUT:?} of SIGTERM (killed)\n---- broker log ----\n{}",
                    self.log()
                );
            }
        }
    }

    fn append_log(&self, line: &str) {
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }

    /// Reference mode `stop`: SIGTERM to the JVM, as `reference-kafka.sh stop` does, waiting for the
    /// process to end. Done here rather than by the script because the JVM is not our child: where
    /// nothing reaps orphans, it stays a zombie, which `kill -0` (the script's check) sees as alive.
    #[track_caller]
    fn stop_reference(&mut self) {
        let Some(pid) = self.reference.as_mut().and_then(|r| r.pid.take()) else {
            return;
        };
        let started = Instant::now();
        signal(pid, "TERM");
        let port = self.port;
        let exited = wait_until(REFERENCE_STOP_TIMEOUT, || {
            !pid_alive(pid) && !port_open(port) && !port_open(port + 1000)
        });
        let _ = fs::remove_file(self.data_dir.path().join("kafka.pid"));
        if !exited {
            signal(pid, "KILL");
            panic!(
                "reference broker (pid {pid}) did not exit within {REFERENCE_STOP_TIMEOUT:?} of SIGTERM (killed)\n---- broker log ----\n{}",
                tail_lines(&self.log(), 200)
            );
        }
        self.append_log(&format!(
            "==== test harness: reference broker pid {pid} exited {:?} after SIGTERM\n",
            started.elapsed()
        ));
    }

    /// Reference mode start: `scripts/reference-kafka.sh start <dir> <port> key=value...`, which
    /// returns once the broker answers `kafka-topics.sh --list`, and prints the JVM's pid.
    fn spawn_reference(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/reference-kafka.sh");
        let props = self.reference.as_ref().unwrap().props.clone();
        // Secrets are not written to the log (a test may check that none reaches it), as Kafka
        // prints password-typed configs as [hidden].
        let shown: Vec<String> = props
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if is_secret_key(k) => format!("{k}=[hidden]"),
                _ => kv.clone(),
            })
            .collect();
        self.append_log(&format!(
            "==== test harness: {script} start {} {} {}\n",
            self.data_dir.path().display(),
            self.port,
            shown.join(" ")
        ));
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .arg("start")
            .arg(self.data_dir.path())
            .arg(self.port.to_string())
            .args(&props);
        let result = run_with_timeout(&mut cmd, None, REFERENCE_START_TIMEOUT);
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                // The JVM is in the script's process group, killed with it on the timeout.
                panic!(
                    "reference broker start: {e}\n---- broker log ----\n{}",
                    tail_lines(&self.log(), 200)
                )
            }
        };
        self.append_log(&format!("{}{}", stdout_of(&out), stderr_of(&out)));
        let pid = stdout_of(&out)
            .lines()
            .rev()
            .find_map(|l| l.trim().parse::<u32>().ok());
        match (out.status.success(), pid) {
            (true, Some(pid)) => self.reference.as_mut().unwrap().pid = Some(pid),
            _ => panic!(
                "scripts/reference-kafka.sh start failed with {}\n---- stdout ----\n{}\n---- stderr ----\n{}\n---- broker log ----\n{}",
                out.status,
                stdout_of(&out),
                stderr_of(&out),
                tail_lines(&self.log(), 200)
            ),
        }
    }

    fn spawn(&mut self) {
        if self.reference.is_some() {
            self.spawn_reference();
            return;
        }
        self.append_log(&format!(
            "==== test harness: starting {} {}\n",
            env!("CARGO_BIN_EXE_milena"),
            self.props_path.display()
        ));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open broker log");
        let log2 = log.try_clone().expect("clone broker log handle");
        let mut cmd = match self.nofile {
            // prlimit execs the broker: the pid stays the broker's.
            Some(n) => {
                let mut cmd = Command::new("prlimit");
                cmd.arg(format!("--nofile={n}:{n}"))
                    .arg("--")
                    .arg(env!("CARGO_BIN_EXE_milena"));
                cmd
            }
            None => Command::new(env!("CARGO_BIN_EXE_milena")),
        };
        cmd.arg(&self.props_path)
            .current_dir(self.data_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        if std::env::var_os("RUST_BACKTRACE").is_none() {
            cmd.env("RUST_BACKTRACE", "1");
        }
        // The port accepts connections (into the backlog) while the logs are still being
        // recovered: ready is the start-up line after that, plus a connection.
        let starts_before = self.log().matches("Milena started").count();
        let child = cmd.spawn().expect("spawn the milena binary");
        let pid = child.id();
        self.child = Some(child);

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.log().matches("Milena started").count() > starts_before
                && TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok()
            {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "broker (pid {pid}) exited during start-up with {status}\n---- broker log ----\n{}",
                    self.log()
                );
            }
            if Instant::now() >= deadline {
                if let Some(mut c) = self.child.take() {
                    signal(pid, "KILL");
                    let _ = c.wait();
                }
                panic!(
                    "broker (pid {pid}) did not accept connections on port {} within {START_TIMEOUT:?}\n---- broker log ----\n{}",
                    self.port,
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
        if let Some(pid) = self.reference.as_mut().and_then(|r| r.pid.take()) {
            signal(pid, "KILL");
            wait_until(Duration::from_secs(10), || !pid_alive(pid));
        }
        if thread::panicking() {
            let tail = tail_lines(&self.log(), 200);
            eprintln!(
                "---- {} broker log (port {}, last 200 lines of {}) ----\n{tail}\n---- end of broker log ----",
                if self.reference.is_some() { "reference Kafka" } else { "milena" },
                self.port,
                self.log_path.display()
            );
        }
    }
}

/// Whether a property holds a secret (a password, a JAAS config with passwords, an inline key).
fn is_secret_key(key: &str) -> bool {
    key.contains("password") || key.ends_with("jaas.config") || key.ends_with("keystore.key")
}

/// A port that was free a moment ago (bind to :0, read it, release it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

/// A free port whose port + 1000 is free too (the reference broker's controller listener).
fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let port = free_port();
        if port <= 64535 && TcpListener::bind(("127.0.0.1", port + 1000)).is_ok() {
            return port;
        }
    }
    panic!("no free port p with p + 1000 free too");
}

/// Whether process `pid` still runs: it exists and is not a zombie whose threads have all ended
/// (an orphan nobody reaped is dead for our purposes). A thread-group leader shows state Z as soon
/// as its own thread exits, while the other threads may still hold the process's sockets, so a
/// zombie with more than one thread still counts as running.
fn pid_alive(pid: u32) -> bool {
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let zombie = field("State:").starts_with('Z') || field("State:").starts_with('X');
    let threads: u32 = field("Threads:").parse().unwrap_or(1);
    !zombie || threads > 1
}

/// Whether a socket listens on `port` (from /proc/net/tcp). Never found out by connecting: a
/// connect to a port of the ephemeral range where nothing listens can pick that very port as
/// its source and connect to itself, holding the port a broker is about to bind.
fn port_open(port: u16) -> bool {
    let suffix = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        std::fs::read_to_string(table).is_ok_and(|text| {
            text.lines().skip(1).any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.len() > 3 && fields[1].ends_with(&suffix) && fields[3] == "0A"
            })
        })
    })
}

/// The last `n` lines of a log, without colour codes, where a run of lines that say the same
/// thing (the same words before the first `key=value` field, as a retry loop logs) counts as one
/// line and a count: a storm of one message must not hide what came before it.
fn tail_lines(text: &str, n: usize) -> String {
    let mut runs: Vec<(String, usize)> = Vec::new();
    for line in text.lines() {
        let line = strip_ansi(line);
        match runs.last_mut() {
            Some((first, count)) if message_shape(first) == message_shape(&line) => *count += 1,
            _ => runs.push((line, 1)),
        }
    }
    runs[runs.len().saturating_sub(n)..]
        .iter()
        .map(|(line, count)| match count {
            1 => line.clone(),
            _ => format!("{line}\n    (and {} more lines like it)", count - 1),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A log line's words after its timestamp, up to its first `key=value` field.
fn message_shape(line: &str) -> Vec<&str> {
    line.split_whitespace()
        .skip(1)
        .take_while(|word| !word.contains('='))
        .collect()
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------------------------------------------
// Running commands

/// Runs `cmd` with `stdin` (or /dev/null), capturing stdout and stderr, for at most `timeout`.
/// The command runs in its own process group; on timeout the whole group gets SIGKILL and the
/// error (kind TimedOut) carries what it printed so far.
pub fn run_with_timeout(
    cmd: &mut Command,
    stdin: Option<&str>,
    timeout: Duration,
) -> io::Result<Output> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0);
    let mut child = cmd.spawn()?;
    let pid = child.id();

    let writer = match (stdin, child.stdin.take()) {
        (Some(text), Some(mut pipe)) => {
            let text = text.to_owned();
            // Dropping the pipe at the end closes the child's stdin (EOF).
            Some(thread::spawn(move || {
                let _ = pipe.write_all(text.as_bytes());
            }))
        }
        _ => None,
    };
    let out_reader = child.stdout.take().map(spawn_reader);
    let err_reader = child.stderr.take().map(spawn_reader);

    let status = wait_timeout(&mut child, timeout);
    let timed_out = status.is_none();
    if timed_out {
        // The process group first (wrappers and their children), then the child itself.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
    }
    let status = match status {
        Some(s) => s,
        None => child.wait()?,
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = out_reader
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    let stderr = err_reader
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    if timed_out {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "{cmd:?} timed out after {timeout:?} (killed)\n---- stdout ----\n{}\n---- stderr ----\n{}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            ),
        ));
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

fn spawn_reader<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

#[track_caller]
fn run_or_panic(mut cmd: Command, stdin: Option<&str>, timeout: Duration) -> Output {
    match run_with_timeout(&mut cmd, stdin, timeout) {
        Ok(out) => out,
        Err(e) => panic!("{e}"),
    }
}

/// `$MILENA_KAFKA_DIST`, the stock Kafka tools assembled by scripts/kafka-dist.sh.
#[track_caller]
pub fn kafka_dist() -> PathBuf {
    match std::env::var_os("MILENA_KAFKA_DIST") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => panic!(
            "MILENA_KAFKA_DIST is not set: run the tests through scripts/test.sh, or \
             `export MILENA_KAFKA_DIST=$(scripts/kafka-dist.sh | tail -n1)` first"
        ),
    }
}

fn kafka_tool_command(name: &str, args: &[&str]) -> Command {
    let path = kafka_dist().join("bin").join(name);
    assert!(
        path.is_file(),
        "{} does not exist (MILENA_KAFKA_DIST={})",
        path.display(),
        kafka_dist().display()
    );
    let mut cmd = Command::new(&path);
    cmd.args(args);
    // Faster JVM start-up for short-lived tools, unless the caller chose JVM options. Perf tools keep
    // the stock options (C2 compiler, G1).
    if std::env::var_os("KAFKA_JVM_PERFORMANCE_OPTS").is_none() && !name.contains("perf-test") {
        cmd.env("KAFKA_JVM_PERFORMANCE_OPTS", fast_jvm_opts().join(" "));
    }
    cmd
}

/// JVM options for short-lived Kafka tools and test clients: the client compiler only, the serial
/// collector, and the class-data-sharing archive of the tools' classes when
/// scripts/tools-cds.sh has made one (`$MILENA_KAFKA_DIST/cds/tools.jsa`). A JVM that cannot use
/// the archive ignores it (`-Xshare:auto`), so it only ever saves start-up time.
pub fn fast_jvm_opts() -> Vec<String> {
    let mut opts: Vec<String> = [
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-Xshare:auto",
        "-Djava.awt.headless=true",
    ]
    .map(String::from)
    .to_vec();
    let archive = kafka_dist().join("cds").join("tools.jsa");
    if archive.is_file() {
        opts.push(format!("-XX:SharedArchiveFile={}", archive.display()));
    }
    opts
}

/// Runs `$MILENA_KAFKA_DIST/bin/<name> args...` (stdin /dev/null), TOOL_TIMEOUT at most.
#[track_caller]
pub fn kafka_tool(name: &str, args: &[&str]) -> Output {
    run_or_panic(kafka_tool_command(name, args), None, TOOL_TIMEOUT)
}

/// As `kafka_tool`, with `stdin` fed to the tool (then EOF), e.g. for kafka-console-producer.sh.
#[track_caller]
pub fn kafka_tool_stdin(name: &str, args: &[&str], stdin: &str) -> Output {
    run_or_panic(kafka_tool_command(name, args), Some(stdin), TOOL_TIMEOUT)
}

/// As `kafka_tool`, with an explicit timeout; Err(TimedOut) carries the partial output.
pub fn kafka_tool_timeout(
    name: &str,
    args: &[&str],
    stdin: Option<&str>,
    timeout: Duration,
) -> io::Result<Output> {
    run_with_timeout(&mut kafka_tool_command(name, args), stdin, timeout)
}

/// Runs `kcat args...`, KCAT_TIMEOUT at most.
#[track_caller]
pub fn kcat(args: &[&str]) -> Output {
    let mut cmd = Command::new("kcat");
    cmd.args(args);
    run_or_panic(cmd, None, KCAT_TIMEOUT)
}

/// Runs `kcat args...` with `stdin` (e.g. `-P` producing), KCAT_TIMEOUT at most.
#[track_caller]
pub fn kcat_stdin(args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new("kcat");
    cmd.args(args);
    run_or_panic(cmd, Some(stdin), KCAT_TIMEOUT)
}

/// `kafka-consumer-groups.sh --describe --group <group>`'s output (asserting it succeeded).
#[track_caller]
pub fn describe_group(bootstrap: &str, group: &str) -> String {
    let args = [
        "--bootstrap-server",
        bootstrap,
        "--describe",
        "--group",
        group,
    ];
    let out = kafka_tool("kafka-consumer-groups.sh", &args);
    assert_success(&out, "kafka-consumer-groups.sh --describe")
}

/// Runs `python3 -c <script> args...` (sys.argv[1:] == args), TOOL_TIMEOUT at most.
#[track_caller]
pub fn python(script: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).args(args);
    run_or_panic(cmd, None, TOOL_TIMEOUT)
}

// ------------------------------------------------------------------------------------------------
// Small helpers

/// Polls `f` every 50 ms until it returns true or `timeout` passes; returns whether it did.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

pub fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the command succeeded, showing its stdout and stderr otherwise. Returns stdout.
#[track_caller]
pub fn assert_success(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed with {}\n---- stdout ----\n{}\n---- stderr ----\n{}",
        out.status,
        stdout_of(out),
        stderr_of(out)
    );
    stdout_of(out)
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    let mut f = File::create(&path).expect("create file");
    f.write_all(contents.as_bytes()).expect("write file");
    path
}

// ------------------------------------------------------------------------------------------------
// Background processes (consumers that run while a test acts)

/// A child process running in its own process group, stdout and stderr going to files in `dir`,
/// stdin a pipe that stays open until `close_stdin` (scripts may treat EOF as "stop cleanly").
/// Dropping it sends SIGKILL to the whole group, so a failing test leaves nothing behind.
pub struct Background {
    pub name: String,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    child: Option<Child>,
    stdin: Option<std::process::ChildStdin>,
}

impl Background {
    /// Spawns `cmd`; its output goes to `dir/<name>.out` and `dir/<name>.err`.
    #[track_caller]
    pub fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Background {
        let stdout_path = dir.join(format!("{name}.out"));
        let stderr_path = dir.join(format!("{name}.err"));
        let out = File::create(&stdout_path).expect("create stdout file");
        let err = File::create(&stderr_path).expect("create stderr file");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name} ({cmd:?}): {e}"));
        let stdin = child.stdin.take();
        Background {
            name: name.to_string(),
            stdout_path,
            stderr_path,
            child: Some(child),
            stdin,
        }
    }

    /// `$MILENA_KAFKA_DIST/bin/<tool> args...` in the background (e.g. a console consumer).
    #[track_caller]
    pub fn kafka_tool(tool: &str, args: &[&str], dir: &Path, name: &str) -> Background {
        Background::spawn(kafka_tool_command(tool, args), dir, name)
    }

    /// `python3 -c <script> args...` in the background.
    #[track_caller]
    pub fn python(script: &str, args: &[&str], dir: &Path, name: &str) -> Background {
        let mut cmd = Command::new("python3");
        cmd.arg("-c").arg(script).args(args);
        Background::spawn(cmd, dir, name)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// What it printed to stdout so far.
    pub fn stdout(&self) -> String {
        fs::read(&self.stdout_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// What it printed to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read(&self.stderr_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Closes its stdin (EOF).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits at most `timeout` for it to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let status = wait_timeout(child, timeout);
        if status.is_some() {
            self.child = None;
        }
        status
    }

    /// SIGKILL to its process group (the JVM or interpreter and anything it started), then reap.
    pub fn kill9(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Its stdout and stderr, for failure messages.
    pub fn dump(&self) -> String {
        format!(
            "---- {} stdout ----\n{}\n---- {} stderr (last 60 lines) ----\n{}\n",
            self.name,
            self.stdout(),
            self.name,
            tail_lines(&self.stderr(), 60)
        )
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `kafka-topics.sh --bootstrap-server <broker> ARGS`.
pub fn topics(broker: &Broker, args: &[&str]) -> std::process::Output {
    let bootstrap = broker.bootstrap();
    let mut all = vec!["--bootstrap-server", bootstrap.as_str()];
    all.extend_from_slice(args);
    kafka_tool("kafka-topics.sh", &all)
}

/// `partition -> [(offset, value)]` as kcat reads them from the beginning to the end.
pub fn consume_all(
    broker: &Broker,
    topic: &str,
) -> std::collections::BTreeMap<i32, Vec<(i64, String)>> {
    consume_all_from(&broker.bootstrap(), topic)
}

/// As `consume_all`, through `bootstrap` (e.g. every node of a `cluster::Cluster`).
pub fn consume_all_from(
    bootstrap: &str,
    topic: &str,
) -> std::collections::BTreeMap<i32, Vec<(i64, String)>> {
    let out = kcat(&[
        "-C",
        "-b",
        bootstrap,
        "-t",
        topic,
        "-o",
        "beginning",
        "-e",
        "-q",
        "-f",
        "%p %o %s\n",
    ]);
    let text = assert_success(&out, "kcat -C");
    let mut by_partition: std::collections::BTreeMap<i32, Vec<(i64, String)>> =
        std::collections::BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        let p: i32 = parts.next().unwrap().parse().unwrap();
        let o: i64 = parts.next().unwrap().parse().unwrap();
        by_partition
            .entry(p)
            .or_default()
            .push((o, parts.next().unwrap_or("").to_string()));
    }
    by_partition
}

/// Produces `(key, value)` pairs with the stock console producer (`parse.key=true`), so Kafka's
/// murmur2 partitioner spreads them over the partitions by key.
pub fn produce_keyed(broker: &Broker, topic: &str, records: &[(String, String)]) {
    let input: String = records.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let bootstrap = broker.bootstrap();
    let args = [
        "--bootstrap-server",
        &bootstrap,
        "--topic",
        topic,
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=:",
    ];
    assert_success(
        &kafka_tool_stdin("kafka-console-producer.sh", &args, &input),
        "kafka-console-producer.sh",
    );
}

/// Runs milena on `listeners=<listeners>`, a fresh `log.dirs` and `props` (lines), which must
/// not start: its stderr and stdout.
pub fn milena_start_fails(listeners: &str, props: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "listeners={listeners}\nlog.dirs={}\n{props}\n",
        dir.path().join("data").display()
    );
    let path = write_file(dir.path(), "server.properties", &text);
    let out = run_with_timeout(
        std::process::Command::new(env!("CARGO_BIN_EXE_milena")).arg(&path),
        None,
        Duration::from_secs(20),
    )
    .unwrap();
    assert!(!out.status.success(), "start-up must fail with {props}");
    stderr_of(&out) + &stdout_of(&out)
}

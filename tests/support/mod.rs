//! Helpers for integration tests: start the release `milena` binary on a free port, run the stock
//! Apache Kafka tools, kcat and Python clients against it with timeouts.
//!
//! Include from a test file with `mod support;` and `use support::*;`.
//! The Kafka tools come from `$MILENA_KAFKA_DIST` (set by scripts/test.sh; or
//! `export MILENA_KAFKA_DIST=$(scripts/kafka-dist.sh | tail -n1)`).
//!
//! std + tempfile only. Signals are sent with the `kill` command (no libc).
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
}

impl Broker {
    /// Starts a broker with the default properties on a free port.
    pub fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// Starts a broker with extra properties; a key given here replaces the default one.
    pub fn start_with(extra_props: &[(&str, &str)]) -> Broker {
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
        for (k, v) in extra_props {
            match props.iter_mut().find(|(key, _)| key == k) {
                Some(entry) => entry.1 = v.to_string(),
                None => props.push((k.to_string(), v.to_string())),
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
        };
        broker.spawn();
        broker
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
        self.child.as_ref().map(|c| c.id())
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Everything the broker wrote to stdout and stderr, over all its runs.
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Clean stop (SIGTERM) then start again on the same port and directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// SIGKILL, as a crash. The broker can be started again with `start_again`.
    pub fn kill9(&mut self) {
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
        self.spawn();
    }

    /// SIGTERM, wait at most STOP_TIMEOUT, assert the process exited successfully.
    #[track_caller]
    pub fn stop(&mut self) {
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

    fn spawn(&mut self) {
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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_milena"));
        cmd.arg(&self.props_path)
            .current_dir(self.data_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        if std::env::var_os("RUST_BACKTRACE").is_none() {
            cmd.env("RUST_BACKTRACE", "1");
        }
        let child = cmd.spawn().expect("spawn the milena binary");
        let pid = child.id();
        self.child = Some(child);

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok() {
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
        if thread::panicking() {
            let log = self.log();
            let tail: String = {
                let lines: Vec<&str> = log.lines().collect();
                lines[lines.len().saturating_sub(200)..].join("\n")
            };
            eprintln!(
                "---- milena broker log (port {}, last 200 lines of {}) ----\n{tail}\n---- end of broker log ----",
                self.port,
                self.log_path.display()
            );
        }
    }
}

/// A port that was free a moment ago (bind to :0, read it, release it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
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
        cmd.env(
            "KAFKA_JVM_PERFORMANCE_OPTS",
            "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Djava.awt.headless=true",
        );
    }
    cmd
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

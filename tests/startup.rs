//! The command line and configuration contract: `--help`, a bad value stops start-up with a
//! message naming the key, unknown keys are warned about, and `--override` and `KAFKA_*`
//! environment variables take effect.

use crate::support;

use std::process::Command;
use std::time::Duration;

use support::*;

fn milena() -> Command {
    Command::new(env!("CARGO_BIN_EXE_milena"))
}

#[test]
fn help_explains_the_options() {
    let out = run_with_timeout(milena().arg("--help"), None, Duration::from_secs(10)).unwrap();
    let text = assert_success(&out, "milena --help");
    assert!(text.contains("server.properties"), "{text}");
    assert!(text.contains("--override"), "{text}");
}

#[test]
fn an_invalid_value_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let props = write_file(dir.path(), "bad.properties", "num.partitions=many\n");
    let out = run_with_timeout(milena().arg(&props), None, Duration::from_secs(10)).unwrap();
    assert!(!out.status.success(), "start-up must fail");
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("num.partitions") && stderr.contains("many"),
        "{stderr}"
    );
}

#[test]
fn unknown_keys_warn_and_env_and_overrides_apply() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let props = write_file(
        dir.path(),
        "server.properties",
        &format!(
            "listeners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\nnot.a.kafka.key=1\n",
            dir.path().join("data").display()
        ),
    );
    let child = milena()
        .arg(&props)
        .args(["--override", "num.partitions=4"])
        .env(
            "KAFKA_ADVERTISED_LISTENERS",
            format!("PLAINTEXT://localhost:{port}"),
        )
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let up = wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "broker did not start");
    // num.partitions=4 from --override: an auto-created topic gets 4 partitions; the advertised
    // listener from the environment is what kcat is told.
    let out = kcat_stdin(
        &["-P", "-b", &format!("localhost:{port}"), "-t", "auto4"],
        "x\n",
    );
    assert_success(&out, "kcat -P");
    let text = assert_success(
        &kcat(&["-L", "-b", &format!("localhost:{port}"), "-t", "auto4"]),
        "kcat -L",
    );
    assert!(text.contains("topic \"auto4\" with 4 partitions"), "{text}");
    assert!(
        text.contains(&format!("broker 1 at localhost:{port}")),
        "{text}"
    );
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "SIGTERM must shut down cleanly");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not.a.kafka.key"),
        "unknown key not warned about: {stderr}"
    );
    assert!(stderr.contains("shut down cleanly"), "{stderr}");
}

/// Issue 14, item 4 (a first step): the broker raises its soft open-file limit to the hard one
/// at start and says how many files it may hold. Started under `prlimit --nofile=256:4096`.
#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit_and_logged() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("prlimit");
    cmd.args(["--nofile=256:4096", "--"])
        .arg(env!("CARGO_BIN_EXE_milena"))
        .args([
            "--override",
            &format!("listeners=PLAINTEXT://127.0.0.1:{port}"),
            "--override",
            &format!("log.dirs={}", dir.path().join("data").display()),
        ])
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("prlimit (util-linux) runs milena");
    let up = wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(up, "broker did not start: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("open file limit"))
        .unwrap_or_else(|| panic!("no open file limit line: {stderr}"));
    assert!(line.contains("4096"), "{line}");
}

/// Issue 16, item 4: `milena.log.format=json` writes one JSON object a line (level, message,
/// target and the event's fields), and a start that opens many partition logs says how many it
/// opened and how long that took.
#[test]
fn json_log_lines_and_start_up_progress() {
    if reference_mode() {
        return; // a Milena key
    }
    let mut broker = Broker::start_with(&[("milena.log.format", "json")]);
    let out = topics(
        &broker,
        &["--create", "--topic", "many", "--partitions", "120"],
    );
    assert_success(&out, "create 120 partitions");
    broker.restart();
    let log = broker.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| !l.starts_with("==== test harness"))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}\n{log}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|v| v["level"].is_string() && v["message"].is_string() && v["target"].is_string()),
        "{log}"
    );
    let opened: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|v| v["message"] == "opened partition logs")
        .collect();
    // Once when the topic was created, once at the restart.
    assert_eq!(opened.len(), 2, "{log}");
    assert!(
        opened
            .iter()
            .all(|v| v["logs"].as_u64() == Some(120) && v["elapsed_ms"].is_u64()),
        "{opened:?}"
    );
}

/// `milena.log.format=kafka`: Kafka's log4j layout, `[yyyy-MM-dd HH:mm:ss,SSS] LEVEL message
/// (module)`, so that patterns written for Kafka's server.log match.
#[test]
fn kafka_log_layout() {
    if reference_mode() {
        return; // a Milena key
    }
    let mut broker = Broker::start_with(&[("milena.log.format", "kafka")]);
    broker.stop();
    let log = broker.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| !l.starts_with("==== test harness"))
        .collect();
    assert!(lines.len() >= 3, "{log}");
    for line in &lines {
        let b = line.as_bytes();
        let stamp_shape = b.len() > 26
            && b[0] == b'['
            && line[1..24]
                .bytes()
                .zip("dddd-dd-dd dd:dd:dd,ddd".bytes())
                .all(|(c, p)| {
                    if p == b'd' {
                        c.is_ascii_digit()
                    } else {
                        c == p
                    }
                })
            && b[24] == b']';
        let level = line.get(26..).and_then(|rest| rest.split(' ').next());
        assert!(
            stamp_shape
                && matches!(level, Some("INFO" | "WARN" | "ERROR" | "DEBUG" | "TRACE"))
                && line.ends_with(')')
                && line.contains(" ("),
            "not Kafka's layout: {line}\n{log}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("] INFO ") && l.contains("shut down cleanly")),
        "{log}"
    );
}

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

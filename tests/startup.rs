//! The command line and configuration contract: `--help`, a bad value stops start-up with a
//! message naming the key, unknown keys are warned about, and `--override` and `KAFKA_*`
//! environment variables take effect.

mod support;

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

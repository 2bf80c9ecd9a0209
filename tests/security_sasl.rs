//! SASL on a SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), and SCRAM users
//! managed with kafka-configs.sh, as real clients see them: the stock tools, kcat, confluent-kafka
//! and kafka-python, plus raw requests for the SASL state machine. Expected messages are Kafka's
//! (SaslServerAuthenticator, PlainSaslServer, ScramSaslServer, ScramControlManager).
//!
//! Run against Apache Kafka 4.1.2 with the same settings through the harness
//! (`MILENA_TEST_REFERENCE=1 cargo test --release --test suite -- security_sasl::`: the reference
//! broker gets the test's listeners, with its CONTROLLER listener added), so the expected answers
//! are Kafka's. Milena's own checks are gated with `broker.is_reference()`: its log lines, and its
//! refusal to start on settings it cannot serve (not run in reference mode). Also checked by
//! hand: two SCRAM mechanisms for one user in one `kafka-configs.sh --alter` fail with
//! DuplicateResourceException on both. kcat 1.7.1 (librdkafka 2.0.2) fails SCRAM against both
//! (it repeats its client nonce in client-final), so SCRAM over librdkafka is tested with
//! confluent-kafka.

use crate::support;
use crate::wire;

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use support::*;
use wire::*;

const PLAIN_JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\" user_alice=\"alice-secret\";";
const SCRAM_JAAS: &str = "org.apache.kafka.common.security.scram.ScramLoginModule required;";

/// A broker with PLAINTEXT on `broker.port` and SASL_PLAINTEXT on the returned port.
fn sasl_broker(mechanisms: &str, extra: &[(&str, &str)]) -> (Broker, u16) {
    let sasl_port = free_port();
    let listeners =
        format!("PLAINTEXT://127.0.0.1:{{port}},SASL_PLAINTEXT://127.0.0.1:{sasl_port}");
    let advertised =
        format!("PLAINTEXT://localhost:{{port}},SASL_PLAINTEXT://localhost:{sasl_port}");
    let mut props: Vec<(&str, &str)> = vec![
        ("listeners", &listeners),
        ("advertised.listeners", &advertised),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        ),
        ("sasl.enabled.mechanisms", mechanisms),
        (
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
            PLAIN_JAAS,
        ),
        (
            "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config",
            SCRAM_JAAS,
        ),
        (
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config",
            SCRAM_JAAS,
        ),
    ];
    props.extend_from_slice(extra);
    (Broker::start_with(&props), sasl_port)
}

/// Client properties for the stock tools.
fn client_props(
    dir: &std::path::Path,
    name: &str,
    mechanism: &str,
    user: &str,
    password: &str,
) -> String {
    let module = if mechanism == "PLAIN" {
        "org.apache.kafka.common.security.plain.PlainLoginModule"
    } else {
        "org.apache.kafka.common.security.scram.ScramLoginModule"
    };
    write_file(
        dir,
        name,
        &format!(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism={mechanism}\nsasl.jaas.config={module} required username=\"{user}\" password=\"{password}\";\n"
        ),
    )
    .display()
    .to_string()
}

fn add_scram_user(broker: &Broker, mechanism: &str, user: &str, password: &str) -> String {
    let config = format!("{mechanism}=[iterations=8192,password={password}]");
    let out = kafka_tool(
        "kafka-configs.sh",
        &[
            "--bootstrap-server",
            &broker.bootstrap(),
            "--alter",
            "--add-config",
            &config,
            "--entity-type",
            "users",
            "--entity-name",
            user,
        ],
    );
    assert_success(&out, "kafka-configs --alter --add-config")
}

const CK_PRODUCE: &str = r#"
import sys
from confluent_kafka import Producer
bootstrap, mechanism, user, password, topic, value = sys.argv[1:7]
errors = []
p = Producer({"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT",
              "sasl.mechanism": mechanism, "sasl.username": user, "sasl.password": password,
              "message.timeout.ms": 15000, "error_cb": lambda e: errors.append(str(e))})
def delivered(err, msg):
    if err:
        errors.append(str(err))
    else:
        print("delivered")
p.produce(topic, value.encode(), on_delivery=delivered)
p.flush(20)
for e in errors:
    print("error", e)
"#;

/// confluent-kafka produces `value` to `topic` as `user` over SASL_PLAINTEXT at `bootstrap`.
fn ck_produce(
    bootstrap: &str,
    mechanism: &str,
    user: &str,
    password: &str,
    topic: &str,
    value: &str,
) -> std::process::Output {
    python(
        CK_PRODUCE,
        &[bootstrap, mechanism, user, password, topic, value],
    )
}

const KAFKA_PYTHON_CONSUME: &str = r#"
import sys
from kafka import KafkaConsumer
bootstrap, mechanism, user, password, topic = sys.argv[1:6]
c = KafkaConsumer(topic, bootstrap_servers=bootstrap, security_protocol="SASL_PLAINTEXT",
                  sasl_mechanism=mechanism, sasl_plain_username=user, sasl_plain_password=password,
                  auto_offset_reset="earliest", consumer_timeout_ms=15000)
for m in c:
    print("value", m.value.decode())
"#;

#[test]
fn plain_and_scram_clients_authenticate_through_the_sasl_listener() {
    let (broker, sasl_port) = sasl_broker("PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", &[]);
    let sasl = format!("localhost:{sasl_port}");
    let dir = tempfile::tempdir().unwrap();
    // SCRAM users are made over the PLAINTEXT listener with the stock tool, one mechanism per
    // command (Kafka's controller refuses one user twice in one request).
    let text = add_scram_user(&broker, "SCRAM-SHA-256", "alice", "alice-secret");
    assert!(
        text.contains("Completed updating config for user alice."),
        "{text}"
    );
    add_scram_user(&broker, "SCRAM-SHA-512", "alice", "alice-secret");
    let out = kafka_tool(
        "kafka-configs.sh",
        &[
            "--bootstrap-server",
            &broker.bootstrap(),
            "--describe",
            "--entity-type",
            "users",
        ],
    );
    let text = assert_success(&out, "kafka-configs --describe");
    // The order of the mechanisms is not Kafka's to keep: two reference runs against Kafka
    // 4.1.2 printed them in both orders. Either order, then.
    let line = "SCRAM credential configs for user-principal 'alice' are ";
    assert!(
        [
            "SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=8192",
            "SCRAM-SHA-512=iterations=8192, SCRAM-SHA-256=iterations=8192",
        ]
        .iter()
        .any(|both| text.contains(&format!("{line}{both}"))),
        "{text}"
    );

    let plain = client_props(
        dir.path(),
        "plain.properties",
        "PLAIN",
        "alice",
        "alice-secret",
    );
    let scram256 = client_props(
        dir.path(),
        "s256.properties",
        "SCRAM-SHA-256",
        "alice",
        "alice-secret",
    );
    let scram512 = client_props(
        dir.path(),
        "s512.properties",
        "SCRAM-SHA-512",
        "alice",
        "alice-secret",
    );
    let out = kafka_tool(
        "kafka-topics.sh",
        &[
            "--bootstrap-server",
            &sasl,
            "--command-config",
            &plain,
            "--create",
            "--topic",
            "sasl-t",
        ],
    );
    assert!(assert_success(&out, "kafka-topics over PLAIN").contains("Created topic sasl-t."));
    for (props, value) in [(&plain, "via-plain"), (&scram256, "via-scram256")] {
        let out = kafka_tool_stdin(
            "kafka-console-producer.sh",
            &[
                "--bootstrap-server",
                &sasl,
                "--topic",
                "sasl-t",
                "--producer.config",
                props,
            ],
            &format!("{value}\n"),
        );
        assert_success(&out, value);
    }
    let out = kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &sasl,
            "--topic",
            "sasl-t",
            "--from-beginning",
            "--max-messages",
            "2",
            "--timeout-ms",
            "20000",
            "--consumer.config",
            &scram512,
        ],
    );
    let text = assert_success(&out, "console consumer over SCRAM-SHA-512");
    assert!(
        text.contains("via-plain") && text.contains("via-scram256"),
        "{text}"
    );

    // librdkafka: kcat with PLAIN, confluent-kafka with SCRAM-SHA-256; kafka-python reads.
    let out = kcat(&[
        "-b",
        &sasl,
        "-X",
        "security.protocol=sasl_plaintext",
        "-X",
        "sasl.mechanisms=PLAIN",
        "-X",
        "sasl.username=alice",
        "-X",
        "sasl.password=alice-secret",
        "-L",
        "-t",
        "sasl-t",
    ]);
    let text = assert_success(&out, "kcat -L over PLAIN");
    assert!(
        text.contains("topic \"sasl-t\" with 1 partitions"),
        "{text}"
    );
    let out = ck_produce(
        &sasl,
        "SCRAM-SHA-256",
        "alice",
        "alice-secret",
        "sasl-t",
        "via-librdkafka",
    );
    let text = assert_success(&out, "confluent-kafka over SCRAM-SHA-256");
    assert!(
        text.contains("delivered") && !text.contains("error"),
        "{text}"
    );
    let out = python(
        KAFKA_PYTHON_CONSUME,
        &[&sasl, "SCRAM-SHA-512", "alice", "alice-secret", "sasl-t"],
    );
    let text = assert_success(&out, "kafka-python over SCRAM-SHA-512");
    for v in ["via-plain", "via-scram256", "via-librdkafka"] {
        assert!(text.contains(&format!("value {v}")), "{text}");
    }
    let log = broker.log();
    assert!(
        !log.contains("alice-secret") && !log.contains("admin-secret"),
        "a password reached the log"
    );
}

#[test]
fn wrong_passwords_unknown_users_and_unsupported_mechanisms_fail_as_on_kafka() {
    let (broker, sasl_port) = sasl_broker("PLAIN,SCRAM-SHA-256", &[]);
    let sasl = format!("localhost:{sasl_port}");
    add_scram_user(&broker, "SCRAM-SHA-256", "alice", "alice-secret");
    // PLAIN: Kafka's PlainSaslServer message reaches the client.
    let out = Command::new("kcat")
        .args([
            "-b",
            &sasl,
            "-X",
            "security.protocol=sasl_plaintext",
            "-X",
            "sasl.mechanisms=PLAIN",
            "-X",
            "sasl.username=alice",
            "-X",
            "sasl.password=wrong",
            "-L",
            "-m",
            "5",
        ])
        .output()
        .unwrap();
    let text = stderr_of(&out) + &stdout_of(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("Authentication failed: Invalid username or password"),
        "{text}"
    );
    // SCRAM: the generic message, whether the user is unknown or the password wrong.
    for (user, password) in [("mallory", "alice-secret"), ("alice", "wrong")] {
        let out = ck_produce(&sasl, "SCRAM-SHA-256", user, password, "t", "x");
        let text = stdout_of(&out);
        assert!(
            text.contains("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"),
            "{user}: {text}"
        );
        assert!(!text.contains("delivered"), "{user}: {text}");
    }
    // The Java client reports the same as a SaslAuthenticationException.
    let dir = tempfile::tempdir().unwrap();
    let wrong = client_props(
        dir.path(),
        "wrong.properties",
        "SCRAM-SHA-256",
        "alice",
        "nope",
    );
    let out = kafka_tool_timeout(
        "kafka-topics.sh",
        &[
            "--bootstrap-server",
            &sasl,
            "--command-config",
            &wrong,
            "--list",
        ],
        None,
        Duration::from_secs(60),
    )
    .unwrap();
    let text = stderr_of(&out) + &stdout_of(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("SaslAuthenticationException"), "{text}");
    // A mechanism the listener does not enable.
    let s512 = client_props(
        dir.path(),
        "s512.properties",
        "SCRAM-SHA-512",
        "alice",
        "alice-secret",
    );
    let out = kafka_tool_timeout(
        "kafka-topics.sh",
        &[
            "--bootstrap-server",
            &sasl,
            "--command-config",
            &s512,
            "--list",
        ],
        None,
        Duration::from_secs(60),
    )
    .unwrap();
    let text = stderr_of(&out) + &stdout_of(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("UnsupportedSaslMechanismException"), "{text}");
}

fn handshake(
    stream: &mut std::net::TcpStream,
    version: i16,
    mechanism: &str,
) -> SaslHandshakeResponse {
    roundtrip(
        stream,
        ApiKey::SaslHandshake,
        version,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.into())),
    )
}

fn authenticate(
    stream: &mut std::net::TcpStream,
    version: i16,
    token: &[u8],
) -> SaslAuthenticateResponse {
    roundtrip(
        stream,
        ApiKey::SaslAuthenticate,
        version,
        &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(token)),
    )
}

fn metadata_ok(stream: &mut std::net::TcpStream) -> bool {
    let r: MetadataResponse = roundtrip(
        stream,
        ApiKey::Metadata,
        1,
        &MetadataRequest::default().with_topics(Some(vec![])),
    );
    !r.brokers.is_empty()
}

#[test]
fn the_sasl_state_machine_admits_what_kafka_admits() {
    let (broker, port) = sasl_broker(
        "PLAIN,SCRAM-SHA-256",
        &[("connection.failed.authentication.delay.ms", "300")],
    );
    // Metadata before authenticating: closed without an answer.
    let mut s = connect(port);
    send(
        &mut s,
        &request_frame(ApiKey::Metadata, 1, 1, &MetadataRequest::default()),
    );
    assert!(
        closed_by_broker(&mut s),
        "an unauthenticated Metadata must close the connection"
    );
    // SaslAuthenticate before the handshake: closed.
    let mut s = connect(port);
    send(
        &mut s,
        &request_frame(
            ApiKey::SaslAuthenticate,
            1,
            1,
            &SaslAuthenticateRequest::default(),
        ),
    );
    assert!(closed_by_broker(&mut s));
    // An unserved mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled ones, then closed.
    let mut s = connect(port);
    let r = handshake(&mut s, 1, "GSSAPI");
    assert_eq!(r.error_code, 33);
    let names: Vec<&str> = r.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(names, ["PLAIN", "SCRAM-SHA-256"]);
    assert!(closed_by_broker(&mut s));
    // A second handshake in the middle of the exchange: ILLEGAL_SASL_STATE, then closed.
    let mut s = connect(port);
    assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, 0);
    assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, 34);
    assert!(closed_by_broker(&mut s));
    // A wrong password: SASL_AUTHENTICATION_FAILED after the configured delay, then closed.
    let mut s = connect(port);
    let _: ApiVersionsResponse = roundtrip(
        &mut s,
        ApiKey::ApiVersions,
        3,
        &ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("test"))
            .with_client_software_version(StrBytes::from_static_str("1")),
    );
    assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, 0);
    let started = Instant::now();
    let r = authenticate(&mut s, 2, b"\0alice\0wrong");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.error_code, 58);
    assert_eq!(
        r.error_message.as_ref().map(|m| m.to_string()).as_deref(),
        Some("Authentication failed: Invalid username or password")
    );
    assert!(closed_by_broker(&mut s));
    // The right password: authenticated, requests are served; a second SaslAuthenticate gets
    // ILLEGAL_SASL_STATE and the connection stays open.
    let mut s = connect(port);
    assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, 0);
    let r = authenticate(&mut s, 2, b"\0alice\0alice-secret");
    assert_eq!((r.error_code, r.session_lifetime_ms), (0, 0));
    assert!(metadata_ok(&mut s));
    assert_eq!(
        authenticate(&mut s, 2, b"\0alice\0alice-secret").error_code,
        34
    );
    assert!(metadata_ok(&mut s));
    // SaslHandshake v0: the PLAIN token goes raw, without SaslAuthenticate framing.
    let mut s = connect(port);
    assert_eq!(handshake(&mut s, 0, "PLAIN").error_code, 0);
    let token = b"\0alice\0alice-secret";
    let mut frame = (token.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(token);
    send(&mut s, &frame);
    assert_eq!(read_response(&mut s).map(|b| b.len()), Some(0));
    assert!(metadata_ok(&mut s));
    // A token beyond sasl.server.max.receive.size (512 KiB) closes the connection unread.
    let mut s = connect(port);
    assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, 0);
    let huge = request_frame(
        ApiKey::SaslAuthenticate,
        2,
        9,
        &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(vec![b'x'; 600 * 1024])),
    );
    use std::io::Write;
    let _ = s.write_all(&huge);
    assert!(closed_by_broker(&mut s));
    // The PLAINTEXT listener answers SASL requests with ILLEGAL_SASL_STATE and stays open.
    let mut s = connect(broker.port);
    assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, 34);
    assert!(metadata_ok(&mut s));
    assert!(broker.log().contains("Failed authentication"));
    assert!(!broker.log().contains("alice-secret"));
}

#[test]
fn expired_sessions_are_closed_unless_the_client_reauthenticates() {
    let (broker, port) = sasl_broker("PLAIN", &[("connections.max.reauth.ms", "1500")]);
    // The Java client re-authenticates by itself: a console consumer outlives several sessions.
    let dir = tempfile::tempdir().unwrap();
    let plain = client_props(
        dir.path(),
        "plain.properties",
        "PLAIN",
        "alice",
        "alice-secret",
    );
    let sasl = format!("localhost:{port}");
    let out = kafka_tool_stdin(
        "kafka-console-producer.sh",
        &[
            "--bootstrap-server",
            &sasl,
            "--topic",
            "reauth",
            "--producer.config",
            &plain,
        ],
        "one\n",
    );
    assert_success(&out, "producer");
    let out = kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &sasl,
            "--topic",
            "reauth",
            "--from-beginning",
            "--max-messages",
            "1",
            "--timeout-ms",
            "30000",
            "--consumer.config",
            &plain,
        ],
    );
    let text = stdout_of(&out) + &stderr_of(&out);
    assert!(
        text.contains("one") && !text.contains("AuthenticationException"),
        "{text}"
    );
    assert!(
        !broker.log().contains("did not re-authenticate"),
        "the Java client's sessions must be renewed, not expire"
    );
    let mut s = connect(port);
    assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, 0);
    let r = authenticate(&mut s, 1, b"\0alice\0alice-secret");
    assert_eq!((r.error_code, r.session_lifetime_ms), (0, 1500));
    assert!(metadata_ok(&mut s));
    // Re-authentication (KIP-368) before the end renews the session.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, 0);
    assert_eq!(
        authenticate(&mut s, 1, b"\0alice\0alice-secret").session_lifetime_ms,
        1500
    );
    std::thread::sleep(Duration::from_millis(1000));
    assert!(metadata_ok(&mut s), "the renewed session is still valid");
    // Another principal may not take the session over.
    assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, 0);
    let r = authenticate(&mut s, 1, b"\0admin\0admin-secret");
    assert_eq!(r.error_code, 58);
    assert!(r
        .error_message
        .unwrap()
        .contains("Cannot change principals during re-authentication"));
    // Without re-authentication the next request after the end closes the connection.
    let mut s = connect(port);
    assert_eq!(handshake(&mut s, 1, "PLAIN").error_code, 0);
    authenticate(&mut s, 1, b"\0alice\0alice-secret");
    std::thread::sleep(Duration::from_millis(1700));
    send(
        &mut s,
        &request_frame(ApiKey::Metadata, 1, 5, &MetadataRequest::default()),
    );
    assert!(closed_by_broker(&mut s));
    drop(broker);
}

#[test]
fn scram_credentials_survive_a_restart_and_deletion_stops_login() {
    let (mut broker, sasl_port) = sasl_broker("SCRAM-SHA-512", &[]);
    let sasl = format!("localhost:{sasl_port}");
    add_scram_user(&broker, "SCRAM-SHA-512", "bob", "bob-secret");
    broker.restart();
    let out = ck_produce(
        &sasl,
        "SCRAM-SHA-512",
        "bob",
        "bob-secret",
        "kept",
        "after-restart",
    );
    let text = assert_success(&out, "login after restart");
    assert!(text.contains("delivered"), "{text}");
    let bootstrap = broker.bootstrap();
    let configs = |args: &[&str]| {
        let mut all = vec!["--bootstrap-server", bootstrap.as_str()];
        all.extend_from_slice(args);
        kafka_tool_timeout("kafka-configs.sh", &all, None, Duration::from_secs(60)).unwrap()
    };
    let out = configs(&[
        "--alter",
        "--delete-config",
        "SCRAM-SHA-512",
        "--entity-type",
        "users",
        "--entity-name",
        "bob",
    ]);
    let text = assert_success(&out, "kafka-configs --delete-config");
    assert!(
        text.contains("Completed updating config for user bob."),
        "{text}"
    );
    // Deleting it again: RESOURCE_NOT_FOUND, as Kafka says it.
    let out = configs(&[
        "--alter",
        "--delete-config",
        "SCRAM-SHA-512",
        "--entity-type",
        "users",
        "--entity-name",
        "bob",
    ]);
    let text = stderr_of(&out) + &stdout_of(&out);
    assert!(
        text.contains("Attempt to delete a user credential that does not exist"),
        "{text}"
    );
    let out = ck_produce(
        &sasl,
        "SCRAM-SHA-512",
        "bob",
        "bob-secret",
        "kept",
        "after-delete",
    );
    let text = stdout_of(&out);
    assert!(
        text.contains("invalid credentials") && !text.contains("delivered"),
        "{text}"
    );
    let out = configs(&["--describe", "--entity-type", "users"]);
    let text = assert_success(&out, "describe");
    assert!(!text.contains("bob"), "{text}");
}

/// Milena's own refusals (it runs the milena binary itself): Kafka serves GSSAPI and
/// OAUTHBEARER, so there is nothing to compare in reference mode.
#[test]
fn sasl_settings_milena_cannot_serve_stop_start_up() {
    if reference_mode() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!(
        "listeners=SASL_PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\n",
        dir.path().join("data").display()
    );
    for (extra, expected) in [
        ("", "GSSAPI"),
        ("sasl.enabled.mechanisms=PLAIN,OAUTHBEARER\n", "OAUTHBEARER"),
        (
            "sasl.enabled.mechanisms=PLAIN\n",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
        ),
        (
            "sasl.enabled.mechanisms=SCRAM-SHA-256\nsasl.kerberos.service.name=kafka\n",
            "sasl.kerberos.service.name",
        ),
    ] {
        let props = write_file(dir.path(), "server.properties", &format!("{base}{extra}"));
        let out = run_with_timeout(
            Command::new(env!("CARGO_BIN_EXE_milena")).arg(&props),
            None,
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(!out.status.success(), "{extra} must stop start-up");
        let stderr = stderr_of(&out);
        assert!(stderr.contains(expected), "{extra}: {stderr}");
    }
}

/// `kafka-storage.sh format --add-scram`, Kafka's way to give a new KRaft cluster its first SCRAM
/// users (brokers that log in to each other with SCRAM need one before anything else runs): the
/// stock tool formats the data directory, Milena applies the credentials at its first start, and
/// only then. A credential deleted afterwards stays deleted across a restart.
///
/// In reference mode Kafka's data directory is formatted with the broker's own server.properties
/// and `--standalone`, as scripts/reference-kafka.sh formats it (its controller quorum is dynamic:
/// `controller.quorum.bootstrap.servers`, which a static `controller.quorum.voters` format would
/// not match).
#[test]
fn kafka_storage_format_add_scram_users_are_there_at_the_first_start() {
    let (mut broker, sasl_port) = sasl_broker("SCRAM-SHA-256,SCRAM-SHA-512", &[]);
    broker.stop();
    let data = broker.log_dir();
    fs::remove_dir_all(&data).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = if broker.is_reference() {
        broker.props_path.clone()
    } else {
        write_file(
            dir.path(),
            "kraft.properties",
            &format!(
                "process.roles=broker,controller\nnode.id=1\ncontroller.quorum.voters=1@127.0.0.1:{}\ncontroller.listener.names=CONTROLLER\nlisteners=PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}\nlog.dirs={}\n",
                free_port(),
                broker.port,
                free_port(),
                data.display()
            ),
        )
    };
    let config = config.display().to_string();
    let mut args = vec![
        "format",
        "--cluster-id",
        "q1Sh-9_ISia_zwGINzRvyQ",
        "--config",
        &config,
        "--add-scram",
        "SCRAM-SHA-256=[name=alice,iterations=8192,password=alice-secret]",
        "--add-scram",
        "SCRAM-SHA-512=[name=bob,password=bob-secret]",
    ];
    if broker.is_reference() {
        args.push("--standalone");
    }
    let out = kafka_tool("kafka-storage.sh", &args);
    assert_success(&out, "kafka-storage.sh format --add-scram");
    broker.start_again();
    // Milena says when it applies the formatted bootstrap records (Kafka has no such line).
    let log = broker.log();
    assert!(
        broker.is_reference()
            || (log.contains("applied bootstrap.checkpoint")
                && log.contains("q1Sh-9_ISia_zwGINzRvyQ")),
        "{log}"
    );
    let sasl = format!("localhost:{sasl_port}");
    for (mechanism, user, password) in [
        ("SCRAM-SHA-256", "alice", "alice-secret"),
        ("SCRAM-SHA-512", "bob", "bob-secret"),
    ] {
        let out = ck_produce(&sasl, mechanism, user, password, "boot-t", "from-format");
        let text = assert_success(&out, "confluent-kafka over SCRAM");
        assert!(
            text.contains("delivered") && !text.contains("error"),
            "{user}: {text}"
        );
    }
    let out = kafka_tool(
        "kafka-configs.sh",
        &[
            "--bootstrap-server",
            &broker.bootstrap(),
            "--alter",
            "--delete-config",
            "SCRAM-SHA-256",
            "--entity-type",
            "users",
            "--entity-name",
            "alice",
        ],
    );
    assert_success(&out, "kafka-configs --delete-config");
    broker.restart();
    let out = ck_produce(
        &sasl,
        "SCRAM-SHA-256",
        "alice",
        "alice-secret",
        "boot-t",
        "x",
    );
    let text = stdout_of(&out);
    assert!(
        text.contains("Authentication failed") && !text.contains("delivered"),
        "the deleted credential came back: {text}"
    );
}

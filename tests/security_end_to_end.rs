//! The README's worked example, end to end: a SASL_SSL listener (TLS from a PKCS12 keystore,
//! SASL PLAIN for the admin, SCRAM-SHA-512 for a user created with kafka-configs.sh), ACLs on with
//! the admin as super user, and the stock tools and confluent-kafka working as the user only
//! once kafka-acls.sh has granted what they need.
//!
//! Run against Apache Kafka 4.1.2 with the same settings through the harness
//! (`MILENA_TEST_REFERENCE=1 cargo test --release --test suite -- security_end_to_end::`); there
//! the broker also logs in to its own controller as the admin (see the test).

use crate::support;

use std::time::Duration;

use support::pki::{Pki, PASSWORD};
use support::*;

const ADMIN_JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\";";

fn client_properties(pki: &Pki, name: &str, mechanism: &str, user: &str, password: &str) -> String {
    let module = if mechanism == "PLAIN" {
        "org.apache.kafka.common.security.plain.PlainLoginModule"
    } else {
        "org.apache.kafka.common.security.scram.ScramLoginModule"
    };
    write_file(
        pki.path(),
        name,
        &format!(
            "security.protocol=SASL_SSL\nssl.truststore.type=PEM\nssl.truststore.location={}\nsasl.mechanism={mechanism}\nsasl.jaas.config={module} required username=\"{user}\" password=\"{password}\";\n",
            pki.file("ca.pem")
        ),
    )
    .display()
    .to_string()
}

const CONFLUENT_PRODUCE: &str = r#"
import sys
from confluent_kafka import Producer
bootstrap, ca, user, password, topic = sys.argv[1:6]
p = Producer({"bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL",
              "ssl.ca.location": ca, "sasl.mechanism": "SCRAM-SHA-512",
              "sasl.username": user, "sasl.password": password, "message.timeout.ms": 20000})
errors = []
p.produce(topic, b"from-python", on_delivery=lambda err, msg: errors.append(err))
p.flush(30)
print("delivered" if errors == [None] else f"failed {errors}")
"#;

#[test]
fn a_scram_user_over_sasl_ssl_works_once_acls_grant_it() {
    let pki = Pki::new();
    let secure = free_port();
    let listeners = format!("PLAINTEXT://127.0.0.1:{{port}},SASL_SSL://127.0.0.1:{secure}");
    let advertised = format!("PLAINTEXT://127.0.0.1:{{port}},SASL_SSL://localhost:{secure}");
    let keystore = pki.file("broker-openssl.p12");
    let mut props = vec![
        ("listeners", listeners.as_str()),
        ("advertised.listeners", advertised.as_str()),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
        ),
        ("ssl.keystore.type", "PKCS12"),
        ("ssl.keystore.location", &keystore),
        ("ssl.keystore.password", PASSWORD),
        ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512"),
        ("listener.name.sasl_ssl.plain.sasl.jaas.config", ADMIN_JAAS),
        (
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        ),
        (
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        ),
        ("super.users", "User:admin"),
    ];
    if reference_mode() {
        // Kafka's controller authorizes the broker's own registration and heartbeats
        // (CLUSTER_ACTION), and the harness's CONTROLLER listener would make the broker
        // User:ANONYMOUS there, which is no super user here: Kafka refuses the registration
        // (ClusterAuthorizationException) and exits during start-up. So the broker logs in to its
        // controller as the admin over SASL PLAIN, as a secured KRaft node does. Milena, one
        // process, has no such connection.
        props.extend([
            (
                "listener.security.protocol.map",
                "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
            ),
            ("sasl.mechanism.controller.protocol", "PLAIN"),
            ("listener.name.controller.sasl.enabled.mechanisms", "PLAIN"),
            (
                "listener.name.controller.plain.sasl.jaas.config",
                ADMIN_JAAS,
            ),
        ]);
    }
    let broker = Broker::start_with(&props);
    assert!(wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", secure)).is_ok()
    }));
    let bootstrap = format!("localhost:{secure}");
    let admin = client_properties(&pki, "admin.properties", "PLAIN", "admin", "admin-secret");
    let alice = client_properties(
        &pki,
        "alice.properties",
        "SCRAM-SHA-512",
        "alice",
        "alice-secret",
    );
    let tool = |name: &str, config_flag: &str, config: &str, args: &[&str]| {
        let mut all = vec![
            "--bootstrap-server",
            bootstrap.as_str(),
            config_flag,
            config,
        ];
        all.extend_from_slice(args);
        kafka_tool(name, &all)
    };

    // The admin creates the user and the topic.
    assert_success(
        &tool(
            "kafka-configs.sh",
            "--command-config",
            &admin,
            &[
                "--alter",
                "--add-config",
                "SCRAM-SHA-512=[iterations=8192,password=alice-secret]",
                "--entity-type",
                "users",
                "--entity-name",
                "alice",
            ],
        ),
        "kafka-configs.sh --add-config SCRAM-SHA-512",
    );
    assert_success(
        &tool(
            "kafka-topics.sh",
            "--command-config",
            &admin,
            &["--create", "--topic", "orders", "--partitions", "1"],
        ),
        "kafka-topics.sh --create as admin",
    );

    // Alice authenticates, but may not write yet.
    let denied = kafka_tool_stdin(
        "kafka-console-producer.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--producer.config",
            &alice,
            "--topic",
            "orders",
        ],
        "too-early\n",
    );
    let text = format!("{}{}", stdout_of(&denied), stderr_of(&denied));
    assert!(
        text.contains("TopicAuthorizationException") || text.contains("Not authorized"),
        "{text}"
    );

    for grant in [
        vec![
            "--operation",
            "Write",
            "--operation",
            "Read",
            "--topic",
            "orders",
        ],
        vec!["--operation", "Read", "--group", "billing"],
    ] {
        let mut args = vec!["--add", "--allow-principal", "User:alice"];
        args.extend(grant);
        assert_success(
            &tool("kafka-acls.sh", "--command-config", &admin, &args),
            "kafka-acls.sh --add",
        );
    }

    assert_success(
        &kafka_tool_stdin(
            "kafka-console-producer.sh",
            &[
                "--bootstrap-server",
                &bootstrap,
                "--producer.config",
                &alice,
                "--topic",
                "orders",
            ],
            "first-order\n",
        ),
        "console producer as alice",
    );
    let out = python(
        CONFLUENT_PRODUCE,
        &[
            &bootstrap,
            &pki.file("ca.pem"),
            "alice",
            "alice-secret",
            "orders",
        ],
    );
    assert_eq!(
        assert_success(&out, "confluent-kafka as alice").trim(),
        "delivered"
    );
    let read = kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--consumer.config",
            &alice,
            "--topic",
            "orders",
            "--group",
            "billing",
            "--from-beginning",
            "--max-messages",
            "2",
            "--timeout-ms",
            "20000",
        ],
    );
    let text = assert_success(&read, "console consumer as alice");
    assert!(
        text.contains("first-order") && text.contains("from-python"),
        "{text}"
    );

    // A wrong password is refused; the PLAINTEXT listener's anonymous client sees nothing.
    let wrong = client_properties(&pki, "wrong.properties", "SCRAM-SHA-512", "alice", "nope");
    let out = tool("kafka-topics.sh", "--command-config", &wrong, &["--list"]);
    let text = format!("{}{}", stdout_of(&out), stderr_of(&out));
    assert!(text.contains("SaslAuthenticationException"), "{text}");
    let listed = assert_success(
        &topics(&broker, &["--list"]),
        "kafka-topics --list as ANONYMOUS",
    );
    assert!(!listed.contains("orders"), "{listed}");
}

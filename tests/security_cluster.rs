//! A cluster that runs fully authenticated (issue 15, item 4): three nodes whose inter-broker
//! listener is SASL_SSL (PLAIN, the broker user in `super.users`) and whose controller listener
//! is SSL with `ssl.client.auth=required` (the nodes' certificate subject in `super.users`),
//! with the StandardAuthorizer on. One cluster start-up for the whole file:
//!
//! 1. alice (not a super user, granted Write/Read by kafka-acls.sh) produces with acks=all to a
//!    topic with RF 3 and min.insync.replicas=2 through the console producer: the high watermark
//!    only moves because the followers log in as the broker user and pass CLUSTER_ACTION. The
//!    leader's broker is killed; a survivor leads and alice reads every record back.
//! 2. The killed node comes back with a wrong inter-broker password: it joins the quorum (the
//!    controller listener is mutual TLS) but cannot log in to the leader, says so in its log
//!    (without the password), and the partition stays under-replicated.
//! 3. It comes back once more logging in as a valid user that is no super user and has no ACL:
//!    the leader answers its replica fetches TOPIC_AUTHORIZATION_FAILED for every partition, as Kafka
//!    does for a follower without CLUSTER_ACTION, and
//!    it stays out of the ISR.
//! 4. Node 1's data directory was formatted by the stock `kafka-storage.sh format --add-scram`
//!    with a SCRAM-SHA-512 credential for the broker user (Kafka's way to bootstrap SCRAM
//!    between brokers): kafka-configs.sh lists it through every node, and the node comes back
//!    logging in with SCRAM-SHA-512 (its PLAIN password still wrong): it passes, catches up and
//!    is back in the ISR.
//!
//! Nothing panics on any node.

use crate::support;

use std::time::Duration;

use support::cluster::{bound, parse_describe, Cluster, PartitionState, FORM_TIMEOUT};
use support::pki::{Pki, PASSWORD};
use support::*;

const TOPIC: &str = "payments";
const RECORDS: usize = 40;
const CLUSTER_ID: &str = "7vmxTUXUR0qMPRU6bOyMxw";

fn broker_jaas(username: &str, password: &str) -> String {
    format!(
        "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{username}\" password=\"{password}\" user_broker=\"broker-secret\" user_admin=\"admin-secret\" user_alice=\"alice-secret\" user_intruder=\"intruder-secret\";"
    )
}

/// A certificate for the nodes, good as TLS server and as TLS client (mutual TLS on the
/// controller listener), as `node-openssl.p12`.
fn node_keystore(pki: &Pki) -> String {
    write_file(
        pki.path(),
        "node.ext",
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    );
    pki.leaf("node", "/CN=broker");
    pki.openssl(&[
        "pkcs12",
        "-export",
        "-in",
        "node.pem",
        "-inkey",
        "node.key",
        "-certfile",
        "ca.pem",
        "-name",
        "node",
        "-out",
        "node-openssl.p12",
        "-passout",
        &format!("pass:{PASSWORD}"),
    ]);
    pki.file("node-openssl.p12")
}

fn client_properties(pki: &Pki, user: &str, password: &str) -> String {
    write_file(
        pki.path(),
        &format!("{user}.properties"),
        &format!(
            "security.protocol=SASL_SSL\nssl.truststore.type=PEM\nssl.truststore.location={}\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"{user}\" password=\"{password}\";\n",
            pki.file("ca.pem")
        ),
    )
    .display()
    .to_string()
}

struct Secured {
    cluster: Cluster,
    /// Each node's INTERNAL (SASL_SSL) port, by node id - 1.
    internal: Vec<u16>,
    admin: String,
    alice: String,
}

impl Secured {
    fn start(pki: &Pki) -> Secured {
        let keystore = node_keystore(pki);
        let ca = pki.file("ca.pem");
        let jaas = broker_jaas("broker", "broker-secret");
        let props: Vec<(&str, &str)> = vec![
            (
                "listener.security.protocol.map",
                "PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL,CONTROLLER:SSL",
            ),
            ("inter.broker.listener.name", "INTERNAL"),
            ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512"),
            ("sasl.mechanism.inter.broker.protocol", "PLAIN"),
            ("listener.name.internal.plain.sasl.jaas.config", &jaas),
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.keystore.location", &keystore),
            ("ssl.keystore.password", PASSWORD),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", &ca),
            ("listener.name.controller.ssl.client.auth", "required"),
            (
                "authorizer.class.name",
                "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            ),
            ("super.users", "User:broker;User:admin;User:CN=broker"),
            ("broker.session.timeout.ms", "4000"),
            ("broker.heartbeat.interval.ms", "1000"),
            ("cluster.id", CLUSTER_ID),
        ];
        let mut cluster = Cluster::configure(3, &props);
        let mut internal: Vec<u16> = Vec::new();
        while internal.len() < 3 {
            let p = free_port();
            let taken = cluster
                .nodes
                .iter()
                .any(|n| n.port == p || n.controller_port == p);
            if !taken && !internal.contains(&p) {
                internal.push(p);
            }
        }
        for id in cluster.ids() {
            let (port, cport) = {
                let n = cluster.node(id);
                (n.port, n.controller_port)
            };
            let ip = internal[(id - 1) as usize];
            cluster.set_prop(
                id,
                "listeners",
                &format!(
                    "PLAINTEXT://127.0.0.1:{port},INTERNAL://127.0.0.1:{ip},CONTROLLER://127.0.0.1:{cport}"
                ),
            );
            cluster.set_prop(
                id,
                "advertised.listeners",
                &format!("PLAINTEXT://127.0.0.1:{port},INTERNAL://127.0.0.1:{ip}"),
            );
        }
        let node1 = cluster.node(1).props_path.display().to_string();
        let out = kafka_tool(
            "kafka-storage.sh",
            &[
                "format",
                "--cluster-id",
                CLUSTER_ID,
                "--config",
                &node1,
                "--add-scram",
                "SCRAM-SHA-512=[name=broker,iterations=8192,password=broker-secret]",
            ],
        );
        assert_success(&out, "kafka-storage.sh format --add-scram of node 1");
        cluster.launch_all();
        cluster.wait_for_brokers(3, bound(FORM_TIMEOUT.as_secs()));
        Secured {
            cluster,
            internal,
            admin: client_properties(pki, "admin", "admin-secret"),
            alice: client_properties(pki, "alice", "alice-secret"),
        }
    }

    /// The SASL_SSL addresses of `ids`.
    fn bootstrap(&self, ids: &[i32]) -> String {
        ids.iter()
            .map(|id| format!("127.0.0.1:{}", self.internal[(*id - 1) as usize]))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[track_caller]
    fn tool(
        &self,
        name: &str,
        via: &[i32],
        config_flag: &str,
        config: &str,
        args: &[&str],
    ) -> String {
        let bootstrap = self.bootstrap(via);
        let mut all = vec![
            "--bootstrap-server",
            bootstrap.as_str(),
            config_flag,
            config,
        ];
        all.extend_from_slice(args);
        let out = kafka_tool(name, &all);
        if !out.status.success() {
            panic!(
                "{name} {args:?} failed: {}\n{}\n{}",
                stdout_of(&out),
                stderr_of(&out),
                self.cluster.logs_tail(40)
            );
        }
        stdout_of(&out)
    }

    /// The partition as `kafka-topics.sh --describe` prints it to the admin through `via`,
    /// once `ok` holds; panics after `timeout` with the last answer and the logs.
    #[track_caller]
    fn wait_partition(
        &self,
        via: &[i32],
        timeout: Duration,
        what: &str,
        mut ok: impl FnMut(&PartitionState) -> bool,
    ) -> PartitionState {
        let bootstrap = self.bootstrap(via);
        let mut last = String::new();
        let mut found = None;
        let done = wait_until(timeout, || {
            let out = kafka_tool(
                "kafka-topics.sh",
                &[
                    "--bootstrap-server",
                    &bootstrap,
                    "--command-config",
                    &self.admin,
                    "--describe",
                    "--topic",
                    TOPIC,
                ],
            );
            last = format!("{}{}", stdout_of(&out), stderr_of(&out));
            let state = parse_describe(&stdout_of(&out)).into_iter().next();
            let hit = state.as_ref().is_some_and(&mut ok);
            found = state;
            hit
        });
        assert!(
            done,
            "partition not {what} within {timeout:?}; last describe:\n{last}\n{}",
            self.cluster.logs_tail(60)
        );
        found.expect("a described partition")
    }
}

#[test]
fn a_fully_authenticated_cluster_replicates_fails_over_and_refuses_bad_brokers() {
    let pki = Pki::new();
    let mut s = Secured::start(&pki);
    let all = [1, 2, 3];

    s.tool(
        "kafka-topics.sh",
        &all,
        "--command-config",
        &s.admin,
        &[
            "--create",
            "--topic",
            TOPIC,
            "--partitions",
            "1",
            "--replication-factor",
            "3",
            "--config",
            "min.insync.replicas=2",
        ],
    );
    for grant in [
        &[
            "--operation",
            "Write",
            "--operation",
            "Read",
            "--topic",
            TOPIC,
        ][..],
        &["--operation", "Read", "--group", "auditors"][..],
    ] {
        let mut args = vec!["--add", "--allow-principal", "User:alice"];
        args.extend_from_slice(grant);
        s.tool("kafka-acls.sh", &all, "--command-config", &s.admin, &args);
    }
    let before = s.wait_partition(&all, bound(60), "fully in sync", |p| {
        p.leader.is_some() && p.isr.len() == 3
    });
    let leader = before.leader.expect("a leader");

    // (1) acks=all with min.insync.replicas=2 succeeds only if followers replicate.
    let values: Vec<String> = (0..RECORDS).map(|i| format!("payment-{i}")).collect();
    let bootstrap = s.bootstrap(&all);
    let produced = kafka_tool_stdin(
        "kafka-console-producer.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--producer.config",
            &s.alice,
            "--producer-property",
            "acks=all",
            "--topic",
            TOPIC,
        ],
        &(values.join("\n") + "\n"),
    );
    let text = format!("{}{}", stdout_of(&produced), stderr_of(&produced));
    assert!(
        produced.status.success() && !text.contains("ERROR") && !text.contains("Exception"),
        "acks=all produce as alice failed:\n{text}\n{}",
        s.cluster.logs_tail(60)
    );

    // The group coordinator's __consumer_offsets is created with RF 3 only while three brokers
    // are up (as on Kafka): create it now, replicated over the SASL_SSL listener too.
    s.tool(
        "kafka-console-consumer.sh",
        &all,
        "--consumer.config",
        &s.admin,
        &[
            "--topic",
            TOPIC,
            "--group",
            "warm-up",
            "--from-beginning",
            "--max-messages",
            "1",
            "--timeout-ms",
            "30000",
        ],
    );

    s.cluster.kill9(leader);
    let survivors: Vec<i32> = all.iter().copied().filter(|&id| id != leader).collect();
    let after = s.wait_partition(&survivors, bound(60), "led by a survivor", |p| {
        p.leader.is_some_and(|l| l != leader) && !p.isr.contains(&leader)
    });
    assert_eq!(after.isr.len(), 2, "{after:?}");
    let bootstrap = s.bootstrap(&survivors);
    let consumed = s.tool(
        "kafka-console-consumer.sh",
        &survivors,
        "--consumer.config",
        &s.alice,
        &[
            "--topic",
            TOPIC,
            "--group",
            "auditors",
            "--from-beginning",
            "--max-messages",
            &RECORDS.to_string(),
            "--timeout-ms",
            "30000",
        ],
    );
    let got: Vec<&str> = consumed
        .lines()
        .filter(|l| l.starts_with("payment-"))
        .collect();
    assert_eq!(got, values, "consumed from {bootstrap}");

    // (2) A wrong inter-broker password: the node is back in the quorum and registered, but
    // cannot log in to the leader; it says so, without the password, and stays out of the ISR.
    s.cluster.set_prop(
        leader,
        "listener.name.internal.plain.sasl.jaas.config",
        &broker_jaas("broker", "wrong-secret"),
    );
    s.cluster.start_again(leader);
    s.cluster.wait_for_brokers(3, bound(60));
    let refused_line = "replica fetcher cannot authenticate to the leader";
    assert!(
        wait_until(bound(30), || s.cluster.log(leader).contains(refused_line)),
        "node {leader} did not log a refused login\n{}",
        s.cluster.logs_tail(60)
    );
    let log = s.cluster.log(leader);
    let line = log
        .lines()
        .find(|l| l.contains(refused_line))
        .unwrap_or_default();
    assert!(
        line.contains("broker") && line.contains("Authentication failed"),
        "{line}"
    );
    assert!(!log.contains("wrong-secret"), "the password is in the log");
    // Records keep arriving and being replicated by the two good brokers only.
    let more = kafka_tool_stdin(
        "kafka-console-producer.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--producer.config",
            &s.alice,
            "--topic",
            TOPIC,
        ],
        "late-payment\n",
    );
    assert!(more.status.success(), "{}", stderr_of(&more));
    let state = s.wait_partition(&survivors, bound(30), "described", |_| true);
    assert!(
        !state.isr.contains(&leader) && state.isr.len() == 2,
        "a broker that cannot log in is in the ISR: {state:?}"
    );

    // (3) A valid login that is no super user and has no ACL: replica fetches are refused with
    // TOPIC_AUTHORIZATION_FAILED (Kafka's answer), and the node stays out of the ISR.
    s.cluster.stop(leader);
    s.cluster.set_prop(
        leader,
        "listener.name.internal.plain.sasl.jaas.config",
        &broker_jaas("intruder", "intruder-secret"),
    );
    s.cluster.start_again(leader);
    let denied_line = "the leader refuses replica fetches from this broker's principal";
    assert!(
        wait_until(bound(40), || s.cluster.log(leader).contains(denied_line)),
        "node {leader} did not log a refused replica fetch\n{}",
        s.cluster.logs_tail(60)
    );
    let state = s.wait_partition(&survivors, bound(30), "described", |_| true);
    assert!(!state.isr.contains(&leader), "{state:?}");

    // (4) SCRAM-SHA-512 between brokers, with the credential of node 1's format.
    s.cluster.stop(leader);
    for id in &survivors {
        let users = s.tool(
            "kafka-configs.sh",
            &[*id],
            "--command-config",
            &s.admin,
            &["--describe", "--entity-type", "users"],
        );
        assert!(
            users.contains("SCRAM credential configs for user-principal 'broker' are SCRAM-SHA-512=iterations=8192"),
            "node {id}: {users}"
        );
    }
    s.cluster.set_prop(
        leader,
        "listener.name.internal.plain.sasl.jaas.config",
        &broker_jaas("broker", "wrong-secret"),
    );
    s.cluster.set_prop(
        leader,
        "sasl.mechanism.inter.broker.protocol",
        "SCRAM-SHA-512",
    );
    s.cluster.set_prop(
        leader,
        "listener.name.internal.scram-sha-512.sasl.jaas.config",
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"broker\" password=\"broker-secret\";",
    );
    s.cluster.start_again(leader);
    let back = s.wait_partition(&survivors, bound(60), "back in sync over SCRAM", |p| {
        p.isr.len() == 3
    });
    assert!(back.isr.contains(&leader), "{back:?}");

    for id in s.cluster.ids() {
        assert!(
            !s.cluster.log(id).contains("panicked"),
            "node {id} panicked\n{}",
            s.cluster.logs_tail(80)
        );
    }
}

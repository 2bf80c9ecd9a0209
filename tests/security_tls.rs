//! TLS listeners (`SSL`) with the clients people use: the stock console tools and kafka-topics.sh
//! with client properties files, kcat, confluent-kafka in Python; PKCS12 keystores made by Java's
//! keytool and by openssl, PEM keystores (file and inline); mutual TLS; and bad input on the TLS
//! port. Certificates are made in each test with openssl and keytool; everything is loopback.
//!
//! Run against Apache Kafka 4.1.2 with the same settings through the harness
//! (`MILENA_TEST_REFERENCE=1 cargo test --release --test suite -- security_tls::`), so the
//! expected answers are Kafka's. Gated with `broker.is_reference()`: Milena's log lines (the
//! principal of each connection, failed handshakes), its bound on a stalled handshake (Kafka has
//! none, a deliberate difference) and its refusal to start on settings it cannot honour.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::pki::{Pki, PASSWORD};
use support::*;

/// A broker with its PLAINTEXT listener and an SSL one on `ssl_port`, plus `ssl` props.
fn broker_with_ssl(ssl_port: u16, ssl: &[(&str, &str)]) -> Broker {
    let listeners = format!("PLAINTEXT://127.0.0.1:{{port}},SSL://127.0.0.1:{ssl_port}");
    let advertised = format!("PLAINTEXT://127.0.0.1:{{port}},SSL://localhost:{ssl_port}");
    let mut props: Vec<(&str, &str)> = vec![
        ("listeners", &listeners),
        ("advertised.listeners", &advertised),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,SSL:SSL",
        ),
    ];
    props.extend_from_slice(ssl);
    let broker = Broker::start_with(&props);
    assert!(
        wait_until(Duration::from_secs(10), || TcpStream::connect((
            "127.0.0.1",
            ssl_port
        ))
        .is_ok()),
        "SSL port {ssl_port} does not accept connections"
    );
    broker
}

fn kcat_ssl(pki: &Pki, port: u16, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "-b".into(),
        format!("localhost:{port}"),
        "-X".into(),
        "security.protocol=ssl".into(),
        "-X".into(),
        format!("ssl.ca.location={}", pki.file("ca.pem")),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn stock_tools_over_tls_with_a_keytool_keystore() {
    let pki = Pki::new();
    let keystore = pki.keytool_keystore("broker");
    let truststore = pki.keytool_truststore();
    let ssl_port = free_port();
    let broker = broker_with_ssl(
        ssl_port,
        &[
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.keystore.location", &keystore),
            ("ssl.keystore.password", PASSWORD),
            ("ssl.key.password", PASSWORD),
        ],
    );
    let config = pki.client_properties(&truststore, None);
    let bootstrap = format!("localhost:{ssl_port}");
    let out = kafka_tool(
        "kafka-topics.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--command-config",
            &config,
            "--create",
            "--topic",
            "tls-topic",
            "--partitions",
            "2",
        ],
    );
    assert_success(&out, "kafka-topics.sh --create over SSL");
    let out = kafka_tool(
        "kafka-topics.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--command-config",
            &config,
            "--describe",
            "--topic",
            "tls-topic",
        ],
    );
    let text = assert_success(&out, "kafka-topics.sh --describe over SSL");
    assert!(text.contains("PartitionCount: 2"), "{text}");
    let out = kafka_tool_stdin(
        "kafka-console-producer.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--producer.config",
            &config,
            "--topic",
            "tls-topic",
        ],
        "over-tls-1\nover-tls-2\n",
    );
    assert_success(&out, "console producer over SSL");
    let out = kafka_tool(
        "kafka-console-consumer.sh",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--consumer.config",
            &config,
            "--topic",
            "tls-topic",
            "--from-beginning",
            "--max-messages",
            "2",
            "--timeout-ms",
            "30000",
        ],
    );
    let text = assert_success(&out, "console consumer over SSL");
    assert!(
        text.contains("over-tls-1") && text.contains("over-tls-2"),
        "{text}"
    );
    // The PLAINTEXT listener serves the same data beside it.
    let out = kcat(&[
        "-C",
        "-b",
        &broker.bootstrap(),
        "-t",
        "tls-topic",
        "-c",
        "2",
        "-e",
        "-q",
    ]);
    let text = assert_success(&out, "kcat over PLAINTEXT");
    assert!(text.contains("over-tls-2"), "{text}");
}

#[test]
fn kcat_and_confluent_kafka_over_tls_with_an_openssl_keystore_typed_jks() {
    let pki = Pki::new();
    let ssl_port = free_port();
    // No ssl.keystore.type: Kafka's default JKS; the file is PKCS12, which is read as such.
    let keystore = pki.file("broker-openssl.p12");
    let _broker = broker_with_ssl(
        ssl_port,
        &[
            ("ssl.keystore.location", &keystore),
            ("ssl.keystore.password", PASSWORD),
        ],
    );
    let args = kcat_ssl(&pki, ssl_port, &["-P", "-t", "kcat-tls"]);
    let out = kcat_stdin(&strs(&args), "k1\nk2\nk3\n");
    assert_success(&out, "kcat -P over SSL");
    let args = kcat_ssl(
        &pki,
        ssl_port,
        &["-C", "-t", "kcat-tls", "-c", "3", "-e", "-q"],
    );
    let text = assert_success(&kcat(&strs(&args)), "kcat -C over SSL");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["k1", "k2", "k3"],
        "{text}"
    );

    let script = r#"
import sys
from confluent_kafka import Producer, Consumer
conf = {"bootstrap.servers": sys.argv[1], "security.protocol": "SSL", "ssl.ca.location": sys.argv[2]}
p = Producer(conf)
for i in range(20):
    p.produce("py-tls", value=("py-%d" % i).encode())
assert p.flush(30) == 0
c = Consumer(dict(conf, **{"group.id": "py-tls-group", "auto.offset.reset": "earliest"}))
c.subscribe(["py-tls"])
got = []
import time
deadline = time.time() + 40
while len(got) < 20 and time.time() < deadline:
    m = c.poll(1.0)
    if m is None:
        continue
    if m.error():
        raise SystemExit("consumer error: %s" % m.error())
    got.append(m.value().decode())
c.close()
print(",".join(got))
"#;
    let out = python(
        script,
        &[&format!("localhost:{ssl_port}"), &pki.file("ca.pem")],
    );
    let text = assert_success(&out, "confluent-kafka over SSL");
    let expected: Vec<String> = (0..20).map(|i| format!("py-{i}")).collect();
    assert_eq!(text.trim(), expected.join(","));
}

#[test]
fn pem_keystores_from_a_file_and_inline_per_listener() {
    let pki = Pki::new();
    // The file holds the chain and the key encrypted (PKCS#8, PBES2) with ssl.key.password.
    // Kafka reads such a key with Java's EncryptedPrivateKeyInfo, which on JDK 17 (the reference
    // broker's here) cannot decrypt PBES2 ("PBES2 SecretKeyFactory not available", JDK-8231581;
    // JDK 25 can): Kafka then refuses to start. That is the JVM's limit, not Kafka's rule, so
    // Milena keeps reading PBES2 (the scheme openssl uses by default); the reference run encrypts
    // the key with PBES1 (PBEWithSHA1AndDESede), which JDK 17 reads, to check the rest.
    let scheme: &[&str] = if reference_mode() {
        &["-v1", "PBE-SHA1-3DES"]
    } else {
        &["-v2", "aes-256-cbc"]
    };
    pki.openssl(&[
        "pkcs8",
        "-topk8",
        scheme[0],
        scheme[1],
        "-in",
        "broker.key",
        "-out",
        "broker-enc.key",
        "-passout",
        &format!("pass:{PASSWORD}"),
    ]);
    let combined = format!(
        "{}{}",
        std::fs::read_to_string(pki.file("broker.pem")).unwrap(),
        std::fs::read_to_string(pki.file("broker-enc.key")).unwrap()
    );
    assert!(combined.contains("ENCRYPTED PRIVATE KEY"));
    let pem_file = write_file(pki.path(), "broker-combined.pem", &combined);
    // Inline PEM on one line, as a properties file with continuation lines makes it.
    let one_line = |name: &str| {
        std::fs::read_to_string(pki.file(name))
            .unwrap()
            .replace('\n', " ")
    };
    let (ssl_port, inline_port) = (free_port(), free_port());
    let listeners = format!(
        "PLAINTEXT://127.0.0.1:{{port}},SSL://127.0.0.1:{ssl_port},INLINE://127.0.0.1:{inline_port}"
    );
    let advertised = format!(
        "PLAINTEXT://127.0.0.1:{{port}},SSL://localhost:{ssl_port},INLINE://localhost:{inline_port}"
    );
    let (chain, key) = (one_line("broker.pem"), one_line("broker.key"));
    let pem_file = pem_file.display().to_string();
    // Each listener has its own keystore keys: a broker-wide ssl.keystore.location would reach
    // INLINE too, and an empty listener.name.inline.ssl.keystore.location does not unset it
    // (Kafka refuses to start: "Both SSL key store location and separate private key are
    // specified"; so does Milena, checked below).
    let _broker = Broker::start_with(&[
        ("listeners", &listeners),
        ("advertised.listeners", &advertised),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,SSL:SSL,INLINE:SSL",
        ),
        ("ssl.keystore.type", "PEM"),
        ("listener.name.ssl.ssl.keystore.location", &pem_file),
        ("listener.name.ssl.ssl.key.password", PASSWORD),
        (
            "listener.name.inline.ssl.keystore.certificate.chain",
            &chain,
        ),
        ("listener.name.inline.ssl.keystore.key", &key),
    ]);
    if !reference_mode() {
        let text = milena_start_fails(
            &format!("SSL://127.0.0.1:{}", free_port()),
            &format!(
                "ssl.keystore.type=PEM\nssl.keystore.location={pem_file}\nssl.key.password={PASSWORD}\n\
                 listener.name.ssl.ssl.keystore.location=\n\
                 listener.name.ssl.ssl.keystore.certificate.chain={chain}\n\
                 listener.name.ssl.ssl.keystore.key={key}\n"
            ),
        );
        assert!(
            text.contains("ssl.keystore.location cannot be set together with"),
            "{text}"
        );
    }
    for port in [ssl_port, inline_port] {
        let args = kcat_ssl(&pki, port, &["-L"]);
        let text = assert_success(&kcat(&strs(&args)), "kcat -L over SSL with a PEM keystore");
        assert!(
            text.contains(&format!("broker 1 at localhost:{port}")),
            "{text}"
        );
    }
}

#[test]
fn mutual_tls_requires_a_trusted_client_certificate_and_names_the_principal() {
    let pki = Pki::new();
    let truststore = pki.keytool_truststore();
    let (ssl_port, requested_port) = (free_port(), free_port());
    let (mapped_port, unmapped_port) = (free_port(), free_port());
    // SSL requires a certificate; REQUESTED (ssl.client.auth overridden for that listener) takes
    // one if sent, and then it must be trusted. MAPPED and UNMAPPED require one too and map its
    // subject with ssl.principal.mapping.rules.
    let listeners = format!(
        "PLAINTEXT://127.0.0.1:{{port}},SSL://127.0.0.1:{ssl_port},REQUESTED://127.0.0.1:{requested_port},\
         MAPPED://127.0.0.1:{mapped_port},UNMAPPED://127.0.0.1:{unmapped_port}"
    );
    let advertised = format!(
        "PLAINTEXT://127.0.0.1:{{port}},SSL://localhost:{ssl_port},REQUESTED://localhost:{requested_port},\
         MAPPED://localhost:{mapped_port},UNMAPPED://localhost:{unmapped_port}"
    );
    let broker = Broker::start_with(&[
        ("listeners", &listeners),
        ("advertised.listeners", &advertised),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,SSL:SSL,REQUESTED:SSL,MAPPED:SSL,UNMAPPED:SSL",
        ),
        // The client's subject is CN=alice,OU=eng+UID=42,O=Example\, Inc.,C=GB.
        (
            "listener.name.mapped.ssl.principal.mapping.rules",
            "RULE:^CN=bob,.*$/bob/, RULE:^CN=([^,]*),.*OU=([^+,]*).*$/$1@$2/U, DEFAULT",
        ),
        (
            "listener.name.unmapped.ssl.principal.mapping.rules",
            "RULE:^CN=bob,.*$/bob/",
        ),
        ("ssl.keystore.type", "PKCS12"),
        ("ssl.keystore.location", &pki.file("broker-openssl.p12")),
        ("ssl.keystore.password", PASSWORD),
        ("ssl.truststore.type", "PKCS12"),
        ("ssl.truststore.location", &truststore),
        ("ssl.truststore.password", PASSWORD),
        ("ssl.client.auth", "required"),
        ("listener.name.requested.ssl.client.auth", "requested"),
    ]);
    // A self-signed client certificate no truststore knows.
    pki.openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "stranger.key",
        "-out",
        "stranger.pem",
        "-days",
        "2",
        "-subj",
        "/CN=stranger",
    ]);
    let with_cert = |port: u16, who: &str| {
        let args = kcat_ssl(
            &pki,
            port,
            &[
                "-X",
                &format!(
                    "ssl.certificate.location={}",
                    pki.file(&format!("{who}.pem"))
                ),
                "-X",
                &format!("ssl.key.location={}", pki.file(&format!("{who}.key"))),
                "-L",
                "-m",
                "5",
            ],
        );
        kcat(&strs(&args))
    };
    let args = kcat_ssl(&pki, requested_port, &["-L", "-m", "5"]);
    assert_success(
        &kcat(&strs(&args)),
        "kcat without a certificate, client auth requested",
    );
    assert_success(
        &with_cert(requested_port, "client"),
        "kcat with a trusted certificate, requested",
    );
    assert!(
        !with_cert(requested_port, "stranger").status.success(),
        "an untrusted certificate must fail"
    );
    assert!(
        !with_cert(ssl_port, "stranger").status.success(),
        "an untrusted certificate must fail"
    );
    // Without a certificate: refused.
    let args = kcat_ssl(&pki, ssl_port, &["-L", "-m", "5"]);
    let out = kcat(&strs(&args));
    assert!(
        !out.status.success(),
        "kcat without a certificate must fail: {}",
        stdout_of(&out)
    );
    // With one: served.
    let args = kcat_ssl(
        &pki,
        ssl_port,
        &[
            "-X",
            &format!("ssl.certificate.location={}", pki.file("client.pem")),
            "-X",
            &format!("ssl.key.location={}", pki.file("client.key")),
            "-L",
        ],
    );
    let text = assert_success(&kcat(&strs(&args)), "kcat with a client certificate");
    assert!(text.contains(&format!("localhost:{ssl_port}")), "{text}");
    // The Java client with a keytool keystore too.
    let keystore = pki.keytool_keystore("client");
    let config = pki.client_properties(&truststore, Some(&keystore));
    let out = kafka_tool_stdin(
        "kafka-console-producer.sh",
        &[
            "--bootstrap-server",
            &format!("localhost:{ssl_port}"),
            "--producer.config",
            &config,
            "--topic",
            "mtls",
        ],
        "mutual\n",
    );
    assert_success(&out, "console producer with a client certificate");
    // The principal is the subject as Java's X500Principal.getName() prints it.
    let java = run_with_timeout(
        Command::new("java")
            .arg(write_java_principal(pki.path()))
            .arg(pki.file("client.pem")),
        None,
        Duration::from_secs(60),
    )
    .unwrap();
    let java_name = assert_success(&java, "java X500Principal")
        .trim()
        .to_string();
    assert!(
        java_name.starts_with("CN=alice,") && java_name.contains("\\,"),
        "{java_name}"
    );
    // Milena logs the principal of each authenticated connection; Kafka does not (at its default
    // log level), so in reference mode the rules below are checked by who gets in only.
    let expected = format!("User:{java_name}");
    assert!(
        broker.is_reference()
            || wait_until(Duration::from_secs(5), || broker.log().contains(&expected)),
        "no {expected} in the broker log"
    );

    // ssl.principal.mapping.rules: the first rule that matches the whole subject names the
    // principal; a subject no rule maps fails the authentication, as on Kafka.
    assert_success(
        &with_cert(mapped_port, "client"),
        "kcat with a certificate a rule maps",
    );
    assert!(
        broker.is_reference()
            || wait_until(Duration::from_secs(5), || broker
                .log()
                .contains("User:ALICE@ENG")),
        "no User:ALICE@ENG in the broker log\n{}",
        broker.log()
    );
    assert!(
        !with_cert(unmapped_port, "client").status.success(),
        "a subject no rule maps must fail"
    );
    assert!(
        broker.is_reference()
            || wait_until(Duration::from_secs(5), || broker
                .log()
                .contains("no ssl.principal.mapping.rules rule applies")),
        "{}",
        broker.log()
    );
}

fn write_java_principal(dir: &Path) -> PathBuf {
    write_file(
        dir,
        "Principal.java",
        "import java.io.FileInputStream;\n\
         import java.security.cert.CertificateFactory;\n\
         import java.security.cert.X509Certificate;\n\
         public class Principal {\n\
           public static void main(String[] a) throws Exception {\n\
             X509Certificate c = (X509Certificate) CertificateFactory.getInstance(\"X.509\")\n\
               .generateCertificate(new FileInputStream(a[0]));\n\
             System.out.println(c.getSubjectX500Principal().getName());\n\
           }\n\
         }\n",
    )
}

#[test]
fn plaintext_garbage_and_stalled_handshakes_on_the_tls_port_close_only_their_connection() {
    let pki = Pki::new();
    let ssl_port = free_port();
    let broker = broker_with_ssl(
        ssl_port,
        &[
            ("ssl.keystore.location", &pki.file("broker-openssl.p12")),
            ("ssl.keystore.password", PASSWORD),
        ],
    );
    // A stalled handshake: connect and say nothing (checked last; it takes the handshake bound).
    let mut stalled = TcpStream::connect(("127.0.0.1", ssl_port)).unwrap();
    let started = Instant::now();
    // A Kafka ApiVersions request in plaintext, then garbage.
    let api_versions: &[u8] = &[
        0, 0, 0, 20, 0, 18, 0, 3, 0, 0, 0, 1, 0, 6, b'c', b'l', b'i', b'e', b'n', b't', 0, 0, 0, 0,
    ];
    for bytes in [
        api_versions,
        &[0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3, 4, 5][..],
        &[0xAB; 4096][..],
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", ssl_port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(bytes);
        let mut answer = Vec::new();
        let read = s.read_to_end(&mut answer);
        assert!(read.is_ok(), "connection not closed: {read:?}");
        // Whatever came back is a TLS alert, never a Kafka response.
        assert!(answer.is_empty() || answer[0] == 0x15, "{answer:?}");
    }
    // kcat in plaintext on the TLS port fails, and TLS clients are still served.
    let out = kcat(&["-L", "-b", &format!("127.0.0.1:{ssl_port}"), "-m", "5"]);
    assert!(!out.status.success() || !stdout_of(&out).contains("broker 1 at"));
    let args = kcat_ssl(&pki, ssl_port, &["-L"]);
    assert_success(&kcat(&strs(&args)), "kcat over SSL after bad clients");
    assert_success(
        &kcat(&["-L", "-b", &broker.bootstrap()]),
        "kcat over PLAINTEXT after bad clients",
    );
    // A deliberate difference: Kafka has no bound on the TLS handshake of its own, only
    // connections.max.idle.ms (10 minutes by default), so a peer that connects and says nothing
    // holds a connection that long; Milena drops it after HANDSHAKE_TIMEOUT (10 s), so that
    // silent peers cannot hold connections (ARCHITECTURE.md, invariant 5). What follows, and the
    // log lines, are Milena's.
    if broker.is_reference() {
        return;
    }
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 16];
    let n = stalled.read(&mut buf);
    assert!(
        matches!(n, Ok(0)) || n.is_err(),
        "stalled handshake still open: {n:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let log = broker.log();
    assert!(log.contains("TLS handshake failed"), "{log}");
    assert!(
        log.contains("TLS handshake did not finish in time"),
        "{log}"
    );
    assert!(
        !log.contains(PASSWORD) && !log.contains("panicked"),
        "{log}"
    );
}

/// [`milena_start_fails`] with this file's listeners.
fn start_fails(props: &str) -> String {
    milena_start_fails(
        &format!(
            "PLAINTEXT://127.0.0.1:{},SSL://127.0.0.1:{}",
            free_port(),
            free_port()
        ),
        props,
    )
}

/// Milena's own refusals (it runs the milena binary itself); Kafka accepts most of these, so
/// there is nothing to compare in reference mode.
#[test]
fn tls_settings_milena_cannot_honour_stop_start_up_naming_them() {
    if reference_mode() {
        return;
    }
    let pki = Pki::new();
    let ks = format!(
        "ssl.keystore.location={}\nssl.keystore.password={PASSWORD}\n",
        pki.file("broker-openssl.p12")
    );
    pki.keytool(&[
        "-genkeypair",
        "-alias",
        "k",
        "-keyalg",
        "EC",
        "-dname",
        "CN=jks",
        "-keystore",
        "old.jks",
        "-storetype",
        "JKS",
        "-storepass",
        PASSWORD,
        "-keypass",
        PASSWORD,
    ]);
    let cases = [
        (
            format!(
                "ssl.keystore.location={}\nssl.keystore.password={PASSWORD}\n",
                pki.file("old.jks")
            ),
            "JKS",
        ),
        (format!("{ks}ssl.provider=SunJSSE\n"), "ssl.provider"),
        (
            format!("{ks}ssl.cipher.suites=TLS_RSA_WITH_RC4_128_MD5\n"),
            "TLS_RSA_WITH_RC4_128_MD5",
        ),
        (
            format!("{ks}ssl.enabled.protocols=TLSv1.1,TLSv1.2\n"),
            "TLSv1.1",
        ),
        (format!("{ks}ssl.client.auth=required\n"), "truststore"),
        (
            "ssl.keystore.password=x\n".to_string(),
            "ssl.keystore.location",
        ),
        (
            format!(
                "ssl.keystore.location={}\nssl.keystore.password=wrong-password\n",
                pki.file("broker-openssl.p12")
            ),
            "ssl.keystore.password",
        ),
    ];
    for (props, expected) in cases {
        let text = start_fails(&props);
        assert!(text.contains(expected), "{props}: {text}");
        assert!(
            !text.contains(PASSWORD) && !text.contains("wrong-password"),
            "{text}"
        );
    }
    // SASL_SSL stays refused until SASL exists.
    let text = start_fails(&format!(
        "{ks}listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SASL_SSL\n"
    ));
    assert!(text.contains("SASL_SSL"), "{text}");
}

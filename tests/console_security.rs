//! The HTTP listener's security, as real clients see it:
//!
//! - `milena.http.listener=https://…` with a PKCS12 keystore: Python's `http.client` trusting
//!   the test CA gets the console and `/metrics`; one that does not trust it fails the
//!   handshake; plain HTTP on that port gets no HTTP answer; a missing keystore or a wrong
//!   password stops start-up naming the key, without printing the password.
//! - With SASL users (PLAIN users from the JAAS config, a SCRAM user made with
//!   `kafka-configs.sh`), every path asks for a login (401 with a Basic challenge); a wrong
//!   password is a 401; the logged-in user acts under the ACLs made with `kafka-acls.sh`: with
//!   DESCRIBE on one topic only, it sees that topic and not the other, and may not read,
//!   create, delete or produce (403 pages naming what was denied) until an ACL allows it; a
//!   super user may do everything, and what it does reaches a Kafka client.
//! - With an authorizer and no SASL users, the console acts as `User:ANONYMOUS` under the ACLs.
//! - chromium (selenium) logs in over HTTPS and sees the pages as the logged-in user.
//!
//! Milena only: Kafka has no console, so with `MILENA_TEST_REFERENCE=1` these tests return at once.

use crate::support;

use std::net::TcpStream;
use std::time::Duration;

use support::http::{get, post_form, raw_http, start_broker};
use support::pki::{Pki, PASSWORD};
use support::*;

const STANDARD_AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";
const PLAIN_JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\";";
const SCRAM_JAAS: &str = "org.apache.kafka.common.security.scram.ScramLoginModule required;";

/// Sends requests with Python's `http.client` over HTTPS (trusting `cafile`, or the system's
/// CAs when it is empty), each on its own connection, without following redirects. Prints one
/// JSON answer per request: status (0 when the connection failed), body, Location,
/// WWW-Authenticate, error.
const HTTPS_CLIENT: &str = r#"
import sys, json, ssl, http.client, base64
host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
requests = json.loads(sys.argv[4])
ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
out = []
for method, path, user, password, body in requests:
    headers = {}
    if user is not None:
        token = base64.b64encode(f'{user}:{password}'.encode()).decode()
        headers['Authorization'] = 'Basic ' + token
    if body is not None:
        headers['Content-Type'] = 'application/x-www-form-urlencoded'
    try:
        c = http.client.HTTPSConnection(host, port, context=ctx, timeout=30)
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        out.append({'status': r.status, 'body': r.read().decode('utf-8', 'replace'),
                    'location': r.getheader('Location') or '',
                    'www_authenticate': r.getheader('WWW-Authenticate') or '', 'error': ''})
        c.close()
    except Exception as e:
        out.append({'status': 0, 'body': '', 'location': '', 'www_authenticate': '',
                    'error': f'{type(e).__name__}: {e}'})
print(json.dumps(out))
"#;

/// The HTTP listener and its console are Milena's own; Apache Kafka has neither. In reference mode
/// (`MILENA_TEST_REFERENCE=1`) there is nothing to compare, so every test here returns at once.
fn console_is_milena_only() -> bool {
    if reference_mode() {
        eprintln!("console_security: skipped in reference mode (the console is Milena's own)");
    }
    reference_mode()
}

/// One request for [`https`]: method, path, login (user, password), form body.
struct Req<'a> {
    method: &'a str,
    path: &'a str,
    login: Option<(&'a str, &'a str)>,
    form: Option<&'a str>,
}

fn get_as<'a>(path: &'a str, login: Option<(&'a str, &'a str)>) -> Req<'a> {
    Req {
        method: "GET",
        path,
        login,
        form: None,
    }
}

fn post_as<'a>(path: &'a str, form: &'a str, login: Option<(&'a str, &'a str)>) -> Req<'a> {
    Req {
        method: "POST",
        path,
        login,
        form: Some(form),
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    body: String,
    location: String,
    www_authenticate: String,
    error: String,
}

/// Sends `requests` over HTTPS to 127.0.0.1:`port` with Python, trusting `cafile` ("" for the
/// system's CAs only).
fn https(port: u16, cafile: &str, requests: &[Req]) -> Vec<Resp> {
    let list: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| {
            serde_json::json!([
                r.method,
                r.path,
                r.login.map(|l| l.0),
                r.login.map(|l| l.1),
                r.form
            ])
        })
        .collect();
    let out = python(
        HTTPS_CLIENT,
        &[
            "127.0.0.1",
            &port.to_string(),
            cafile,
            &serde_json::Value::from(list).to_string(),
        ],
    );
    let text = assert_success(&out, "python http.client over HTTPS");
    let answers: Vec<serde_json::Value> = serde_json::from_str(text.trim()).expect("JSON answers");
    answers
        .iter()
        .map(|a| Resp {
            status: a["status"].as_u64().unwrap_or(0) as u16,
            body: a["body"].as_str().unwrap_or_default().to_string(),
            location: a["location"].as_str().unwrap_or_default().to_string(),
            www_authenticate: a["www_authenticate"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            error: a["error"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

#[track_caller]
fn expect(resp: &Resp, status: u16, needles: &[&str], what: &str) {
    assert_eq!(resp.status, status, "{what}: {resp:?}");
    for needle in needles {
        assert!(
            resp.body.contains(needle),
            "{what}: no {needle:?} in {resp:?}"
        );
    }
}

/// Waits until 127.0.0.1:`port` accepts connections.
fn wait_for_port(broker: &Broker, port: u16) {
    assert!(
        wait_until(Duration::from_secs(10), || TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok()),
        "the HTTP listener did not open\n{}",
        broker.log()
    );
}

/// The HTTPS listener keys for the PKI's broker keystore (openssl PKCS12).
fn https_props(pki: &Pki, port: u16) -> Vec<(String, String)> {
    vec![
        (
            "milena.http.listener".into(),
            format!("https://127.0.0.1:{port}"),
        ),
        ("milena.http.ssl.keystore.type".into(), "PKCS12".into()),
        (
            "milena.http.ssl.keystore.location".into(),
            pki.file("broker-openssl.p12"),
        ),
        ("milena.http.ssl.keystore.password".into(), PASSWORD.into()),
    ]
}

fn refs(props: &[(String, String)]) -> Vec<(&str, &str)> {
    props
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn https_console_and_metrics_with_a_pkcs12_keystore() {
    if console_is_milena_only() {
        return;
    }
    let pki = Pki::new();
    let http = free_port();
    let props = https_props(&pki, http);
    let broker = Broker::start_with(&refs(&props));
    wait_for_port(&broker, http);
    let ca = pki.file("ca.pem");
    let answers = https(
        http,
        &ca,
        &[
            get_as("/", None),
            get_as("/topics", None),
            get_as("/metrics", None),
        ],
    );
    expect(
        &answers[0],
        200,
        &["Overview", "controller, broker"],
        "GET /",
    );
    expect(&answers[1], 200, &["Create a topic"], "GET /topics");
    expect(&answers[2], 200, &["milena_partitions"], "GET /metrics");
    // A client that does not trust the test CA refuses the certificate.
    let untrusted = https(http, "", &[get_as("/", None)]);
    assert_eq!(untrusted[0].status, 0, "{:?}", untrusted[0]);
    assert!(
        untrusted[0].error.contains("CERTIFICATE_VERIFY_FAILED"),
        "{:?}",
        untrusted[0]
    );
    // Plain HTTP on the HTTPS port: the handshake fails and no HTTP answer comes back.
    let plain = raw_http(
        http,
        format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{http}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert!(!plain.contains("HTTP/1.1 200"), "{plain}");
    assert!(!plain.contains("Overview"), "{plain}");
    // The broker carries on.
    expect(
        &https(http, &ca, &[get_as("/", None)])[0],
        200,
        &["Overview"],
        "GET / after a bad client",
    );
    let log = broker.log();
    assert!(log.contains("TLS handshake failed"), "{log}");
    assert!(
        !log.contains(PASSWORD) && !log.contains("panicked"),
        "{log}"
    );
}

/// [`milena_start_fails`] with this file's listeners.
fn start_fails(props: &str) -> String {
    milena_start_fails(&format!("PLAINTEXT://127.0.0.1:{}", free_port()), props)
}

#[test]
fn bad_https_settings_stop_start_up_naming_them() {
    if console_is_milena_only() {
        return;
    }
    let pki = Pki::new();
    let listener = format!("milena.http.listener=https://127.0.0.1:{}\n", free_port());
    let cases = [
        (listener.clone(), "milena.http.ssl.keystore.location"),
        (
            format!(
                "{listener}milena.http.ssl.keystore.location={}\nmilena.http.ssl.keystore.password={PASSWORD}\n",
                pki.file("no-such.p12")
            ),
            "no-such.p12",
        ),
        (
            format!(
                "{listener}milena.http.ssl.keystore.location={}\nmilena.http.ssl.keystore.password=wrong-password\n",
                pki.file("broker-openssl.p12")
            ),
            "password",
        ),
        (
            format!(
                "milena.http.listener=127.0.0.1:{}\nmilena.http.ssl.keystore.location={}\n",
                free_port(),
                pki.file("broker-openssl.p12")
            ),
            "https://",
        ),
    ];
    for (props, expected) in cases {
        let text = start_fails(&props);
        assert!(text.contains(expected), "{props}: {text}");
        assert!(
            text.contains("HTTPS") || text.contains("milena.http"),
            "{props}: {text}"
        );
        assert!(
            !text.contains(PASSWORD) && !text.contains("wrong-password"),
            "{text}"
        );
    }
}

/// A broker with PLAINTEXT (the tools, as the super user `User:ANONYMOUS`), SASL_PLAINTEXT with
/// PLAIN (user `admin`, a super user) and SCRAM-SHA-256, the StandardAuthorizer, and the HTTPS
/// listener on the returned port.
fn secured_broker(pki: &Pki) -> (Broker, u16) {
    let sasl_port = free_port();
    let http = free_port();
    let listeners =
        format!("PLAINTEXT://127.0.0.1:{{port}},SASL_PLAINTEXT://127.0.0.1:{sasl_port}");
    let advertised =
        format!("PLAINTEXT://localhost:{{port}},SASL_PLAINTEXT://localhost:{sasl_port}");
    let mut props: Vec<(String, String)> = [
        ("listeners", listeners.as_str()),
        ("advertised.listeners", advertised.as_str()),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        ),
        ("inter.broker.listener.name", "PLAINTEXT"),
        ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256"),
        (
            "listener.name.sasl_plaintext.plain.sasl.jaas.config",
            PLAIN_JAAS,
        ),
        (
            "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config",
            SCRAM_JAAS,
        ),
        ("authorizer.class.name", STANDARD_AUTHORIZER),
        ("super.users", "User:admin;User:ANONYMOUS"),
        ("group.initial.rebalance.delay.ms", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    props.extend(https_props(pki, http));
    let broker = Broker::start_with(&refs(&props));
    wait_for_port(&broker, http);
    (broker, http)
}

fn tool(broker: &Broker, name: &str, args: &[&str]) -> String {
    let mut all = vec!["--bootstrap-server", "placeholder"];
    let bootstrap = broker.bootstrap();
    all[1] = &bootstrap;
    all.extend_from_slice(args);
    assert_success(&kafka_tool(name, &all), name)
}

const CAROL: Option<(&str, &str)> = Some(("carol", "carol-secret"));
const ADMIN: Option<(&str, &str)> = Some(("admin", "admin-secret"));

#[test]
fn login_is_required_and_the_user_acts_under_the_acls() {
    if console_is_milena_only() {
        return;
    }
    let pki = Pki::new();
    let ca = pki.file("ca.pem");
    let (broker, http) = secured_broker(&pki);
    for topic in ["sec-a", "sec-b"] {
        tool(
            &broker,
            "kafka-topics.sh",
            &["--create", "--topic", topic, "--partitions", "1"],
        );
    }
    tool(
        &broker,
        "kafka-configs.sh",
        &[
            "--alter",
            "--add-config",
            "SCRAM-SHA-256=[password=carol-secret]",
            "--entity-type",
            "users",
            "--entity-name",
            "carol",
        ],
    );
    tool(
        &broker,
        "kafka-acls.sh",
        &[
            "--add",
            "--allow-principal",
            "User:carol",
            "--operation",
            "Describe",
            "--topic",
            "sec-a",
        ],
    );
    let wrong = Some(("carol", "not-her-password"));
    let answers = https(
        http,
        &ca,
        &[
            get_as("/", None),
            get_as("/metrics", None),
            get_as("/topics", wrong),
            get_as("/topics", Some(("nobody", "carol-secret"))),
            get_as("/topics", CAROL),
            get_as("/topics/sec-b", CAROL),
            get_as("/topics/sec-a", CAROL),
            get_as("/topics/sec-a/messages", CAROL),
            post_as("/topics", "name=sec-c", CAROL),
            post_as("/topics/sec-a/delete", "confirm=sec-a", CAROL),
            post_as(
                "/topics/sec-a/messages",
                "partition=0&value=from-carol",
                CAROL,
            ),
            post_as(
                "/topics/sec-a/config",
                "name=retention.ms&value=1000&operation=set",
                CAROL,
            ),
            get_as("/metrics", CAROL),
        ],
    );
    for (i, what) in [
        (0, "GET / without a login"),
        (1, "GET /metrics without a login"),
    ] {
        expect(&answers[i], 401, &["Log in"], what);
        assert!(
            answers[i].www_authenticate.starts_with("Basic realm="),
            "{what}: {:?}",
            answers[i]
        );
    }
    expect(&answers[2], 401, &[], "a wrong password");
    expect(&answers[3], 401, &[], "an unknown user");
    let topics = &answers[4];
    expect(
        topics,
        200,
        &[">sec-a</a>", "User:carol"],
        "carol's /topics",
    );
    assert!(
        !topics.body.contains("sec-b"),
        "carol sees sec-b: {topics:?}"
    );
    assert!(
        !topics.body.contains("id=\"create-topic\""),
        "carol is offered the create form: {topics:?}"
    );
    expect(
        &answers[5],
        403,
        &["User:carol", "DESCRIBE", "sec-b"],
        "carol opens sec-b",
    );
    let a = &answers[6];
    expect(
        a,
        200,
        &["Partitions", "DESCRIBE_CONFIGS"],
        "carol opens sec-a",
    );
    assert!(!a.body.contains("id=\"delete-topic\""), "{a:?}");
    for (i, operation, resource, what) in [
        (7, "READ", "sec-a", "carol reads"),
        (8, "CREATE", "sec-c", "carol creates"),
        (9, "DELETE", "sec-a", "carol deletes"),
        (10, "WRITE", "sec-a", "carol produces"),
        (11, "ALTER_CONFIGS", "sec-a", "carol alters"),
    ] {
        expect(&answers[i], 403, &["User:carol", operation, resource], what);
    }
    expect(&answers[12], 200, &["milena_partitions"], "carol scrapes");

    // An ACL added with kafka-acls.sh takes effect on the next request.
    tool(
        &broker,
        "kafka-acls.sh",
        &[
            "--add",
            "--allow-principal",
            "User:carol",
            "--operation",
            "Write",
            "--operation",
            "Read",
            "--topic",
            "sec-a",
        ],
    );
    // The super user (a PLAIN user of the JAAS config) may do everything.
    let answers = https(
        http,
        &ca,
        &[
            post_as(
                "/topics/sec-a/messages",
                "partition=0&value=from-carol",
                CAROL,
            ),
            get_as("/topics/sec-a/messages?partition=0", CAROL),
            get_as("/topics", ADMIN),
            post_as("/topics", "name=sec-c&partitions=2", ADMIN),
            post_as(
                "/topics/sec-a/messages",
                "partition=0&value=from-admin",
                ADMIN,
            ),
            post_as("/topics/sec-b/delete", "confirm=sec-b", ADMIN),
            get_as("/topics", ADMIN),
        ],
    );
    assert_eq!(answers[0].status, 303, "carol produces: {:?}", answers[0]);
    expect(&answers[1], 200, &["from-carol"], "carol reads");
    expect(
        &answers[2],
        200,
        &[
            ">sec-a</a>",
            ">sec-b</a>",
            "id=\"create-topic\"",
            "User:admin",
        ],
        "admin's /topics",
    );
    for (i, what) in [
        (3, "admin creates"),
        (4, "admin produces"),
        (5, "admin deletes"),
    ] {
        assert_eq!(answers[i].status, 303, "{what}: {:?}", answers[i]);
        assert!(!answers[i].location.is_empty(), "{what}: {:?}", answers[i]);
    }
    let after = &answers[6];
    expect(after, 200, &[">sec-c</a>"], "admin's /topics after");
    assert!(!after.body.contains(">sec-b</a>"), "{after:?}");

    // What the console did, as Kafka clients see it.
    let listed = tool(&broker, "kafka-topics.sh", &["--list"]);
    assert!(
        listed.contains("sec-c") && !listed.contains("sec-b"),
        "{listed}"
    );
    let read = kcat(&["-C", "-b", &broker.bootstrap(), "-t", "sec-a", "-e", "-q"]);
    let values = assert_success(&read, "kcat -C sec-a");
    assert!(
        values.contains("from-carol") && values.contains("from-admin"),
        "{values}"
    );
    let log = broker.log();
    assert!(log.contains("HTTP login failed"), "{log}");
    assert!(
        !log.contains("carol-secret")
            && !log.contains("not-her-password")
            && !log.contains("panicked"),
        "{log}"
    );
}

#[test]
fn without_sasl_users_the_console_is_anonymous_under_the_acls() {
    if console_is_milena_only() {
        return;
    }
    let (broker, http) = start_broker(&[
        ("authorizer.class.name", STANDARD_AUTHORIZER),
        ("allow.everyone.if.no.acl.found", "true"),
    ]);
    for topic in ["open", "guarded"] {
        assert_success(
            &kcat_stdin(&["-P", "-b", &broker.bootstrap(), "-t", topic], "a\n"),
            "kcat -P",
        );
    }
    // An ACL for someone else: `guarded` now has ACLs, none for User:ANONYMOUS.
    tool(
        &broker,
        "kafka-acls.sh",
        &[
            "--add",
            "--allow-principal",
            "User:someone-else",
            "--operation",
            "All",
            "--topic",
            "guarded",
        ],
    );
    let (status, topics) = get(http, "/topics");
    assert_eq!(status, 200, "{topics}");
    assert!(
        topics.contains(">open</a>") && !topics.contains("guarded"),
        "{topics}"
    );
    assert!(!topics.contains("id=\"login\""), "{topics}");
    let (status, body) = get(http, "/topics/guarded");
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("User:ANONYMOUS") && body.contains("no login"),
        "{body}"
    );
    let (status, body) = get(http, "/topics/guarded/messages");
    assert_eq!(status, 403, "{body}");
    for (path, form) in [
        ("/topics/guarded/delete", "confirm=guarded"),
        ("/topics/guarded/messages", "value=x"),
    ] {
        let answer = post_form(http, path, form, "");
        assert_eq!(answer.status, 403, "POST {path}:\n{}", answer.body);
        assert!(answer.body.contains("User:ANONYMOUS"), "{}", answer.body);
    }
    let answer = post_form(http, "/topics/open/messages", "partition=0&value=b", "");
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(get(http, "/metrics").0, 200);
}

/// chromium logs in over HTTPS (credentials in the URL, the test CA not installed, so
/// certificate errors are ignored) and sees the overview and topics as the logged-in user.
const BROWSER_LOGIN: &str = r#"
import sys
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

base = sys.argv[1]
options = webdriver.ChromeOptions()
options.binary_location = '/usr/bin/chromium'
for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
            '--ignore-certificate-errors', '--disable-extensions', '--no-first-run'):
    options.add_argument(arg)
options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
driver.set_page_load_timeout(20)
try:
    driver.get(base + '/')
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, 'figure.chart polyline'))
    body = driver.find_element(By.TAG_NAME, 'body').text
    assert 'User:admin' in body and 'Overview' in body, body
    driver.get(base + '/topics')
    body = driver.find_element(By.TAG_NAME, 'body').text
    assert 'User:admin' in body and 'Create a topic' in body, body
    severe = [l for l in driver.get_log('browser') if l['level'] == 'SEVERE']
    assert not severe, severe
finally:
    driver.quit()
print('ok')
"#;

#[test]
fn console_login_over_https_in_a_headless_browser() {
    if console_is_milena_only() {
        return;
    }
    let pki = Pki::new();
    let (_broker, http) = secured_broker(&pki);
    let out = python(
        BROWSER_LOGIN,
        &[&format!("https://admin:admin-secret@127.0.0.1:{http}")],
    );
    let text = assert_success(&out, "selenium + chromium over HTTPS with a login");
    assert!(text.trim_end().ends_with("ok"), "{text}");
}

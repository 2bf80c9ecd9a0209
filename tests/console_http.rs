//! The web console on the HTTP listener, as a person and real Kafka clients see it:
//!
//! - confluent-kafka creates a topic, produces JSON, text and binary records with headers, and
//!   commits a group's offsets; the console's pages show the topic, its partitions and configs,
//!   the records, the group, its committed offsets and lag.
//! - The console's actions reach Kafka clients: a topic created with a config (confluent-kafka's
//!   admin sees both), a config changed, a record produced (a consumer reads it), a group's
//!   offsets reset (`kafka-consumer-groups.sh --describe` shows them), a topic and a group
//!   deleted (gone from the admin's listings).
//! - HTML in group ids, keys, values and headers is escaped everywhere; bad addresses, numbers,
//!   partitions, forms, cross-site posts, oversized bodies and a concurrent delete get 4xx error
//!   pages; the broker never panics.
//! - With an authorizer and no SASL users the console acts as `User:ANONYMOUS` (logins and ACLs:
//!   `console_security`).
//! - Debian's chromium, driven by selenium, loads every page without console errors, sees the
//!   state, produces a record through the form, and saves a screenshot of each page in
//!   `target/console-screenshots/`.

use crate::support;

use std::time::Instant;

use support::http::{get, get_answer, post_form, start_broker};
use support::*;

const TOPIC: &str = "console-orders";
const GROUP: &str = "console-billing";
/// A group id is any string: the console must show this one as text.
const XSS_GROUP: &str = "<script>alert(2)</script>";
const XSS_GROUP_PATH: &str = "%3Cscript%3Ealert%282%29%3C%2Fscript%3E";

/// Creates `topic` (3 partitions), produces 12 JSON records round-robin with two headers (one
/// with HTML in it) and one binary-keyed text record to partition 0 (5, 4 and 4 records), and
/// commits offsets 2, 3, 4 for `group` and 1 (partition 0) for `xss_group`, without members.
const SEED: &str = r#"
import sys, json, confluent_kafka
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
bootstrap, topic, group, xss_group = sys.argv[1:5]
admin = AdminClient({'bootstrap.servers': bootstrap})
admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
p = confluent_kafka.Producer({'bootstrap.servers': bootstrap, 'acks': 'all', 'linger.ms': 5})
for i in range(12):
    value = json.dumps({'order': i, 'note': '<script>alert(1)</script>'}).encode()
    p.produce(topic, partition=i % 3, key=b'order-%d' % i, value=value,
              headers=[('source', b'seed'), ('<b>h</b>', b'<i>v</i>')])
p.produce(topic, partition=0, key=b'\x00\x01\xfe\xff', value=b'plain text value')
assert p.flush(30) == 0
for g, offsets in ((group, [(0, 2), (1, 3), (2, 4)]), (xss_group, [(0, 1)])):
    c = confluent_kafka.Consumer({'bootstrap.servers': bootstrap, 'group.id': g,
                                  'enable.auto.commit': False})
    c.commit(offsets=[TopicPartition(topic, q, o) for q, o in offsets], asynchronous=False)
    c.close()
print('seeded')
"#;

fn seed(broker: &Broker) {
    let out = python(SEED, &[&broker.bootstrap(), TOPIC, GROUP, XSS_GROUP]);
    assert_success(&out, "seed the broker with confluent-kafka");
}

/// Prints a topic's partition count and its retention.ms with the config source code.
const TOPIC_FACTS: &str = r#"
import sys
from confluent_kafka.admin import AdminClient, ConfigResource
bootstrap, topic = sys.argv[1:3]
admin = AdminClient({'bootstrap.servers': bootstrap})
print('partitions', len(admin.list_topics(topic, timeout=30).topics[topic].partitions))
res = ConfigResource('topic', topic)
entry = admin.describe_configs([res])[res].result(30)['retention.ms']
print('retention.ms', entry.value, entry.source)
"#;

/// Prints the record at (partition, offset): `record <key> <value> <headers>`.
const READ_ONE: &str = r#"
import sys, time, confluent_kafka
bootstrap, topic, partition, offset = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = confluent_kafka.Consumer({'bootstrap.servers': bootstrap, 'group.id': 'console-check',
                              'enable.auto.commit': False})
c.assign([confluent_kafka.TopicPartition(topic, partition, offset)])
deadline = time.time() + 30
while time.time() < deadline:
    m = c.poll(0.5)
    if m is not None and m.error() is None:
        print('record', m.key(), m.value(), m.headers())
        break
c.close()
"#;

/// Prints the topic names and the consumer group ids.
const LISTINGS: &str = r#"
import sys
from confluent_kafka.admin import AdminClient
admin = AdminClient({'bootstrap.servers': sys.argv[1]})
print('topics', sorted(admin.list_topics(timeout=30).topics))
print('groups', sorted(g.group_id for g in admin.list_consumer_groups().result(30).valid))
"#;

/// GET `path`, asserting 200; the body.
#[track_caller]
fn page(http: u16, path: &str) -> String {
    let (status, body) = get(http, path);
    assert_eq!(status, 200, "GET {path}:\n{body}");
    assert!(body.starts_with("<!DOCTYPE html>"), "GET {path}:\n{body}");
    body
}

#[track_caller]
fn assert_contains(body: &str, needles: &[&str]) {
    for needle in needles {
        assert!(body.contains(needle), "no {needle:?} in\n{body}");
    }
}

/// POSTs a console form from the console itself; asserts the action succeeded (303 to the next
/// page) and returns where it leads.
#[track_caller]
fn act(http: u16, path: &str, form: &str) -> String {
    let answer = post_form(http, path, form, "");
    assert_eq!(answer.status, 303, "POST {path} {form}:\n{}", answer.body);
    answer.header("location").unwrap_or_default().to_string()
}

/// A table row's cells as the console writes them, for `assert_contains`.
fn cells(cells: &[&str]) -> String {
    cells.concat()
}

#[test]
fn console_pages_show_kafka_state_and_actions_reach_kafka_clients() {
    let started = Instant::now();
    let (broker, http) = start_broker(&[]);
    let bootstrap = broker.bootstrap();
    seed(&broker);

    // Overview: counts and the live counters behind its charts.
    let overview = page(http, "/");
    assert_contains(
        &overview,
        &["Overview", "brokers", "under-replicated", "Bytes in/s"],
    );
    assert_contains(&overview, &["<td>localhost:", "controller, broker"]);
    let (status, stats) = get(http, "/console/stats");
    assert_eq!(status, 200);
    let messages_in = stats
        .split("\"messages_in\":")
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|n| n.parse::<u64>().ok());
    assert_eq!(messages_in, Some(13), "{stats}");

    // Topics, one topic's partitions and configs.
    let topics = page(http, "/topics");
    assert_contains(
        &topics,
        &[&cells(&[
            "<a href=\"/topics/console-orders\">console-orders</a></td>",
            "<td class=\"num\">3</td><td class=\"num\">1</td>",
        ])],
    );
    let topic = page(http, "/topics/console-orders");
    for (partition, end) in [(0, 5), (1, 4), (2, 4)] {
        let row = format!(
            "messages?partition={partition}\">{partition}</a></td><td class=\"num\">1</td><td>1</td><td>1</td><td class=\"num\">0</td><td class=\"num\">{end}</td><td class=\"num\">{end}</td>"
        );
        assert_contains(&topic, &[&row]);
    }
    assert_contains(
        &topic,
        &["<code>retention.ms</code></td><td>604800000</td><td>DEFAULT_CONFIG</td>"],
    );

    // Messages: newest first; JSON pretty-printed, binary keys in hex, headers.
    let messages = page(http, "/topics/console-orders/messages?partition=0");
    assert_contains(
        &messages,
        &[
            "<code class=\"hex\" title=\"binary, in hex\">0001feff</code>",
            "plain text value",
            "&quot;order&quot;: 9\n}",
            "<code>source</code>: <span class=\"text\">seed</span>",
        ],
    );
    let newest = messages.find("0001feff").unwrap();
    let oldest = messages.find("order-0").unwrap();
    assert!(newest < oldest, "newest first");
    let filtered = page(
        http,
        "/topics/console-orders/messages?partition=1&order=oldest&filter=order-4",
    );
    assert_contains(&filtered, &["order-4"]);
    assert!(!filtered.contains("order-1<") && !filtered.contains("order-7"));
    let from_offset = page(
        http,
        "/topics/console-orders/messages?partition=2&order=oldest&offset=3",
    );
    assert_contains(&from_offset, &["order-11"]);
    assert!(!from_offset.contains("order-8<"));
    let by_time = page(
        http,
        "/topics/console-orders/messages?partition=2&order=oldest&timestamp=0&limit=1",
    );
    assert_contains(&by_time, &["order-2<"]);
    assert!(!by_time.contains("order-5<"));

    // Groups: committed offsets, end offsets and lag.
    let groups = page(http, "/groups");
    assert_contains(
        &groups,
        &[&cells(&[
            "console-billing</a></td><td>classic</td><td>Empty</td>",
            "<td class=\"num\">0</td><td class=\"num\">3</td><td class=\"num\">4</td>",
        ])],
    );
    let group = page(http, "/groups/console-billing");
    for (partition, committed, end, lag) in [(0, 2, 5, 3), (1, 3, 4, 1), (2, 4, 4, 0)] {
        let row = format!(
            "<td class=\"num\">{partition}</td><td class=\"num\">{committed}</td><td class=\"num\">{end}</td><td class=\"num lag\">{lag}</td>"
        );
        assert_contains(&group, &[&row]);
    }
    assert_contains(&group, &["id=\"reset-offsets\"", "id=\"delete-group\""]);

    // Create a topic with a config; confluent-kafka's admin sees both.
    let next = act(
        http,
        "/topics",
        "name=console-made&partitions=2&configs=retention.ms%3D123456",
    );
    assert_eq!(next, "/topics/console-made");
    let facts = assert_success(
        &python(TOPIC_FACTS, &[&bootstrap, "console-made"]),
        "describe the console's topic",
    );
    // Config source 1: DYNAMIC_TOPIC_CONFIG.
    assert_contains(&facts, &["partitions 2", "retention.ms 123456 1"]);

    // Change the config, then produce a record with a header; a consumer reads it.
    act(
        http,
        "/topics/console-made/config",
        "name=retention.ms&value=654321&operation=set",
    );
    assert_contains(
        &page(http, "/topics/console-made"),
        &["<code>retention.ms</code></td><td>654321</td><td>DYNAMIC_TOPIC_CONFIG</td>"],
    );
    act(
        http,
        "/topics/console-made/messages",
        "partition=1&key=web-key&value=%7B%22from%22%3A%22console%22%7D&headers=trace%3A+abc",
    );
    let read = assert_success(
        &python(READ_ONE, &[&bootstrap, "console-made", "1", "0"]),
        "consume the console's record",
    );
    assert_contains(
        &read,
        &["record b'web-key' b'{\"from\":\"console\"}' [('trace', b'abc')]"],
    );

    // Reset the empty group's offsets to the earliest; the stock tool sees them.
    act(http, "/groups/console-billing/reset", "topic=&to=earliest");
    let described = describe_group(&bootstrap, GROUP);
    let rows: Vec<Vec<&str>> = described
        .lines()
        .filter(|l| l.contains(TOPIC))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{described}");
    for cols in rows {
        // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
        assert_eq!(cols[3], "0", "{described}");
        assert_eq!(cols[5], cols[4], "{described}");
    }
    // Resetting to an offset past the end moves it to the end, as the stock tool does.
    act(
        http,
        "/groups/console-billing/reset",
        "topic=console-orders&to=offset&offset=999999",
    );
    assert_contains(
        &page(http, "/groups/console-billing"),
        &["<td class=\"num\">0</td><td class=\"num\">5</td><td class=\"num\">5</td><td class=\"num lag\">0</td>"],
    );

    // Delete the topic (its name typed again) and the group.
    let refused = post_form(http, "/topics/console-made/delete", "confirm=console", "");
    assert_eq!(refused.status, 400);
    act(http, "/topics/console-made/delete", "confirm=console-made");
    act(http, "/groups/console-billing/delete", "");
    let listings = assert_success(&python(LISTINGS, &[&bootstrap]), "list topics and groups");
    let topics_line = listings.lines().find(|l| l.starts_with("topics")).unwrap();
    let groups_line = listings.lines().find(|l| l.starts_with("groups")).unwrap();
    assert!(topics_line.contains("'console-orders'") && !topics_line.contains("console-made"));
    assert!(!groups_line.contains("'console-billing'"), "{listings}");
    assert!(!broker.log().contains("panicked"), "{}", broker.log());
    eprintln!("console pages and actions: {:?}", started.elapsed());
}

#[test]
fn console_escapes_html_and_answers_bad_input_with_4xx() {
    let (broker, http) = start_broker(&[]);
    seed(&broker);

    // HTML in a group id, keys, values and header names and values is shown as text.
    let pages = [
        "/groups".to_string(),
        format!("/groups/{XSS_GROUP_PATH}"),
        "/topics/console-orders/messages?partition=0&limit=100".to_string(),
        "/topics/console-orders/messages?partition=1&filter=%3Cscript%3E".to_string(),
    ];
    for path in &pages {
        let body = page(http, path);
        assert!(
            !body.contains("<script>a") && !body.contains("<b>h") && !body.contains("<i>v"),
            "unescaped HTML in {path}:\n{body}"
        );
    }
    assert_contains(
        &page(http, "/groups"),
        &["&lt;script&gt;alert(2)&lt;/script&gt;", XSS_GROUP_PATH],
    );
    let messages = page(http, "/topics/console-orders/messages?partition=0");
    assert_contains(
        &messages,
        &[
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "<code>&lt;b&gt;h&lt;/b&gt;</code>: <span class=\"text\">&lt;i&gt;v&lt;/i&gt;</span>",
        ],
    );
    // The pages run nothing but the console's own script.
    let answer = get_answer(http, "/topics");
    let csp = answer.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{}", answer.head);

    // Bad addresses and query values: an error page with a 4xx status, input escaped.
    for (path, status, text) in [
        (
            "/topics/%3Cscript%3Ealert(3)%3C%2Fscript%3E",
            404,
            "There is no topic named '&lt;script&gt;alert(3)&lt;/script&gt;'",
        ),
        (
            "/topics/console-orders/messages?partition=7",
            404,
            "has no partition 7",
        ),
        (
            "/topics/console-orders/messages?partition=-1",
            404,
            "has no partition -1",
        ),
        (
            "/topics/console-orders/messages?offset=99999999999999999999999",
            400,
            "is not a valid number",
        ),
        (
            "/topics/console-orders/messages?order=sideways",
            400,
            "neither newest nor oldest",
        ),
        (
            "/topics/console-orders/messages?limit=%ff%fe",
            400,
            "limit: '",
        ),
        ("/groups/no-such-group", 404, "No group 'no-such-group'"),
        ("/topics/%ff", 400, "malformed address"),
        ("/no/such/page", 404, "no such page"),
    ] {
        let (got, body) = get(http, path);
        assert_eq!(got, status, "GET {path}:\n{body}");
        assert_contains(&body, &[text]);
    }
    // Offsets far past either end are clamped to the log.
    assert_contains(
        &page(
            http,
            "/topics/console-orders/messages?partition=1&offset=9223372036854775807",
        ),
        &["order-10"],
    );
    assert_contains(
        &page(
            http,
            "/topics/console-orders/messages?partition=1&order=oldest&offset=-9223372036854775808",
        ),
        &["order-1<"],
    );

    // Bad forms, cross-site posts and oversized bodies.
    for (path, form, headers, status, text) in [
        (
            "/topics",
            "name=x&partitions=many",
            "",
            400,
            "partitions: 'many'",
        ),
        (
            "/topics",
            "name=x&configs=no-equals",
            "",
            400,
            "is not key=value",
        ),
        (
            "/topics",
            "name=%3Cb%3Ebad",
            "",
            400,
            "INVALID_TOPIC_EXCEPTION",
        ),
        (
            "/topics",
            "name=console-orders",
            "",
            409,
            "TOPIC_ALREADY_EXISTS",
        ),
        (
            "/topics/console-orders/config",
            "name=no.such.config&value=1&operation=set",
            "",
            400,
            "INVALID_CONFIG",
        ),
        (
            "/topics/console-orders/messages",
            "partition=9&value=x",
            "",
            404,
            "UNKNOWN_TOPIC_OR_PARTITION",
        ),
        (
            "/groups/console-billing/reset",
            "to=offset",
            "",
            400,
            "give the offset",
        ),
        (
            "/topics/console-orders/delete",
            "confirm=console-orders",
            "Origin: http://evil.example\r\n",
            403,
            "from another site",
        ),
        (
            "/topics/console-orders/delete",
            "confirm=console-orders",
            "Sec-Fetch-Site: cross-site\r\n",
            403,
            "from another site",
        ),
    ] {
        let answer = post_form(http, path, form, headers);
        assert_eq!(
            answer.status, status,
            "POST {path} {form}:\n{}",
            answer.body
        );
        assert_contains(&answer.body, &[text]);
    }
    let huge = "x".repeat(200 * 1024);
    let answer = post_form(http, "/topics", &format!("name={huge}"), "");
    assert_eq!(answer.status, 413, "{}", answer.head);

    // Two deletes of one topic at once: one deletes it, the other finds nothing; then the
    // topic's pages and actions say it is gone.
    let racers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                post_form(
                    http,
                    "/topics/console-orders/delete",
                    "confirm=console-orders",
                    "",
                )
                .status
            })
        })
        .collect();
    let mut statuses: Vec<u16> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort_unstable();
    assert!(
        statuses == [303, 303] || statuses == [303, 404],
        "{statuses:?}"
    );
    for path in [
        "/topics/console-orders",
        "/topics/console-orders/messages?partition=0",
    ] {
        assert_eq!(get(http, path).0, 404, "{path}");
    }
    let answer = post_form(http, "/topics/console-orders/messages", "value=x", "");
    assert_eq!(answer.status, 404, "{}", answer.body);
    // The group page still renders; the deleted topic's committed offsets went with it, as on
    // Kafka.
    assert_contains(
        &page(http, "/groups/console-billing"),
        &["No committed offsets."],
    );
    assert!(!broker.log().contains("panicked"), "{}", broker.log());
}

/// Under an authorizer the console acts as `User:ANONYMOUS` on a broker without SASL users (the
/// ACL cases are in `console_security`): as a super user it may do everything.
#[test]
fn console_acts_as_user_anonymous_under_an_authorizer() {
    let (broker, http) = start_broker(&[
        (
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        ),
        ("super.users", "User:ANONYMOUS"),
    ]);
    assert_success(
        &kcat_stdin(&["-P", "-b", &broker.bootstrap(), "-t", "guarded"], "a\n"),
        "kcat -P",
    );
    let topics = page(http, "/topics");
    assert_contains(&topics, &[">guarded</a>", "id=\"create-topic\""]);
    assert_contains(&page(http, "/topics/guarded"), &["id=\"delete-topic\""]);
    assert_contains(&page(http, "/topics/guarded/messages"), &["id=\"produce\""]);
    assert_eq!(
        act(http, "/topics/guarded/messages", "partition=0&value=b"),
        "/topics/guarded/messages?partition=0&order=newest"
    );
    assert_eq!(act(http, "/topics", "name=other"), "/topics/other");
    assert_eq!(
        act(http, "/topics/other/delete", "confirm=other"),
        "/topics"
    );
    assert_contains(&page(http, "/topics"), &[">guarded</a>"]);
}

/// Loads each page in headless chromium: no severe console message, no alert (no injected
/// script ran), the expected text shown; produces a record through the form; saves a
/// screenshot of each page. Prints `ok` at the end.
const BROWSER: &str = r#"
import json, os, sys, time
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

base, shots = sys.argv[1], sys.argv[2]
pages = json.loads(sys.argv[3])
os.makedirs(shots, exist_ok=True)
options = webdriver.ChromeOptions()
options.binary_location = '/usr/bin/chromium'
for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
            '--window-size=1280,1000', '--disable-extensions', '--no-first-run'):
    options.add_argument(arg)
options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
driver.set_page_load_timeout(20)

def check(name, expected):
    body = driver.find_element(By.TAG_NAME, 'body').text
    for text in expected:
        assert text in body, f'{name}: no {text!r} in the page:\n{body}'
    try:
        alert = driver.switch_to.alert.text
        raise AssertionError(f'{name}: a script ran and opened an alert: {alert!r}')
    except NoAlertPresentException:
        pass
    severe = [l for l in driver.get_log('browser') if l['level'] == 'SEVERE'
              and not (name == 'error' and 'status of 404' in l['message'])]
    assert not severe, f'{name}: console errors {severe}'
    driver.save_screenshot(os.path.join(shots, name + '.png'))
    print('page', name, flush=True)

try:
    for name, path, expected in pages:
        driver.get(base + path)
        if name == 'overview':
            # The live charts: a rate once two polls are in.
            WebDriverWait(driver, 10).until(
                lambda d: d.find_element(By.CSS_SELECTOR, 'figure.chart polyline'))
        check(name, expected)
    # One action: produce a record through the message browser's form.
    driver.get(base + '/topics/console-orders/messages?partition=0')
    form = driver.find_element(By.ID, 'produce')
    form.find_element(By.NAME, 'key').send_keys('browser-key')
    form.find_element(By.NAME, 'value').send_keys('{"from": "the browser"}')
    form.find_element(By.NAME, 'headers').send_keys('via: selenium')
    form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
    # The submit redirects to the newest records: a body found before that load goes stale.
    WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: 'browser-key' in d.find_element(By.TAG_NAME, 'body').text)
    check('produced', ['browser-key', '"from": "the browser"', 'via'])
except Exception:
    driver.save_screenshot(os.path.join(shots, 'failure.png'))
    print('failed at', driver.current_url, driver.find_element(By.TAG_NAME, 'body').text,
          file=sys.stderr)
    raise
finally:
    driver.quit()
print('ok')
"#;

#[test]
fn console_in_a_headless_browser() {
    let started = Instant::now();
    let (broker, http) = start_broker(&[]);
    seed(&broker);
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    let pages = pages_json(&[
        (
            "overview",
            "/",
            &["Overview", "Bytes in/s", "controller, broker"],
        ),
        ("topics", "/topics", &["console-orders", "Create a topic"]),
        (
            "topic",
            "/topics/console-orders",
            &[
                "Partitions",
                "retention.ms",
                "DEFAULT_CONFIG",
                "Delete topic",
            ],
        ),
        (
            "messages",
            "/topics/console-orders/messages?partition=0",
            &["order-9", "0001feff", "plain text value", "<b>h</b>"],
        ),
        ("groups", "/groups", &[GROUP, XSS_GROUP]),
        (
            "group",
            "/groups/console-billing",
            &["Empty", "Offsets and lag", "Reset offsets"],
        ),
        (
            "group-with-html-id",
            &format!("/groups/{XSS_GROUP_PATH}"),
            &[XSS_GROUP],
        ),
        (
            "error",
            "/topics/no-such-topic",
            &["There is no topic named"],
        ),
    ]);
    let base = format!("http://127.0.0.1:{http}");
    let out = python(BROWSER, &[&base, &shots.to_string_lossy(), &pages]);
    let text = assert_success(
        &out,
        "selenium + chromium (scripts/install-test-deps.sh installs them)",
    );
    assert!(text.trim_end().ends_with("ok"), "{text}");
    for name in [
        "overview", "topics", "topic", "messages", "groups", "group", "produced",
    ] {
        let shot = shots.join(format!("{name}.png"));
        let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "no screenshot {}", shot.display());
    }
    // The record the browser produced, read by a Kafka consumer (offset 5 of partition 0).
    let read = assert_success(
        &python(READ_ONE, &[&broker.bootstrap(), TOPIC, "0", "5"]),
        "consume the browser's record",
    );
    assert_contains(
        &read,
        &["record b'browser-key' b'{\"from\": \"the browser\"}' [('via', b'selenium')]"],
    );
    eprintln!("browser test: {:?}", started.elapsed());
}

/// The pages for the browser script, as JSON: [[name, path, [expected text...]], ...].
fn pages_json(pages: &[(&str, &str, &[&str])]) -> String {
    serde_json::Value::from(
        pages
            .iter()
            .map(|(name, path, expected)| serde_json::json!([name, path, expected]))
            .collect::<Vec<_>>(),
    )
    .to_string()
}

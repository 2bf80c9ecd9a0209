#!/usr/bin/env python3
"""Scenarios as librdkafka sees them, through confluent-kafka (Python).

    confluent.py SCENARIO BOOTSTRAP PREFIX

Prints the normalised observation on stdout (topic and group names without PREFIX, no volatile
values); exit 0 = the scenario's own checks passed, 64 = not applicable, anything else = failed.
The scenario contract is in compat-tests/README.md; every family prints the same lines where it can.
"""
import os
import signal
import subprocess
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions, NewTopic)

SCENARIO, BOOT, PREFIX = sys.argv[1], sys.argv[2], sys.argv[3]
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
TIMEOUT = 30


def out(*parts):
    print(*parts, flush=True)


def fail(msg):
    out("FAIL", msg)
    sys.exit(1)


_ADMIN = []


def admin():
    """One AdminClient for the whole run (a dropped one cancels its pending futures)."""
    if not _ADMIN:
        _ADMIN.append(AdminClient({"bootstrap.servers": BOOT}))
    return _ADMIN[0]


def err_name(e):
    """A KafkaError or KafkaException as the broker's error name."""
    if isinstance(e, KafkaException):
        e = e.args[0]
    if isinstance(e, KafkaError):
        return e.name().lstrip("_")
    return type(e).__name__


def create(name, partitions=1, config=None, rf=1):
    fs = admin().create_topics([NewTopic(PREFIX + name, partitions, rf, config=config or {})],
                               operation_timeout=10)
    try:
        fs[PREFIX + name].result(TIMEOUT)
        return "ok"
    except KafkaException as e:
        return err_name(e)


def wait_topic(name, partitions):
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        md = admin().list_topics(PREFIX + name, timeout=10)
        t = md.topics.get(PREFIX + name)
        if t is not None and t.error is None and len(t.partitions) == partitions:
            return
        time.sleep(0.2)
    fail(f"topic {name} not ready with {partitions} partitions")


def producer(**extra):
    conf = {"bootstrap.servers": BOOT, "linger.ms": 5, "partitioner": "murmur2_random"}
    conf.update(extra)
    return Producer(conf)


def produce_all(p, topic, records):
    """records: (key, value, partition|None, headers|None, timestamp|None). Returns [(p, o)]."""
    results = [None] * len(records)
    errors = []

    def cb(i):
        def done(err, msg):
            if err is not None:
                errors.append(err_name(err))
            else:
                results[i] = (msg.partition(), msg.offset())
        return done

    for i, (k, v, part, headers, ts) in enumerate(records):
        kw = {"on_delivery": cb(i)}
        if part is not None:
            kw["partition"] = part
        if headers is not None:
            kw["headers"] = headers
        if ts is not None:
            kw["timestamp"] = ts
        p.produce(PREFIX + topic, value=v, key=k, **kw)
    left = p.flush(TIMEOUT)
    if left:
        fail(f"{left} records not delivered")
    if errors:
        return errors
    return results


def consume_assigned(topic, partitions, expect, isolation="read_uncommitted"):
    c = Consumer({"bootstrap.servers": BOOT, "group.id": PREFIX + "reader", "enable.auto.commit": False,
                  "isolation.level": isolation, "fetch.message.max.bytes": 1 << 20})
    c.assign([TopicPartition(PREFIX + topic, p, 0) for p in range(partitions)])
    msgs = []
    deadline = time.time() + TIMEOUT
    while len(msgs) < expect and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                continue
            fail(f"consume error {m.error()}")
        msgs.append(m)
    # Anything beyond `expect` shows up too: wait a little for extra records.
    end = time.time() + 1.0
    while time.time() < end:
        m = c.poll(0.2)
        if m is not None and not m.error():
            msgs.append(m)
    c.close()
    msgs.sort(key=lambda m: (m.partition(), m.offset()))
    return msgs


def dec(b):
    return None if b is None else b.decode()


# ------------------------------------------------------------------------------------------------

def quickstart():
    out("create quickstart", create("quickstart", 1))
    wait_topic("quickstart", 1)
    lines = ["This is a message", "This is another message", "第三条消息"]
    p = producer()
    for (part, off), line in zip(produce_all(p, "quickstart", [(None, l.encode(), None, None, None) for l in lines]), lines):
        out(f"produced quickstart p={part} o={off}")
    for m in consume_assigned("quickstart", 1, len(lines)):
        out(f"consumed p={m.partition()} o={m.offset()} v={dec(m.value())}")
    try:
        md = admin().list_topics(timeout=10)
        for t in sorted(n for n in md.topics if n.startswith(PREFIX)):
            out("list", t[len(PREFIX):])
    except KafkaException as e:
        out("list error", err_name(e))
    t = admin().list_topics(PREFIX + "quickstart", timeout=10).topics[PREFIX + "quickstart"]
    for pid, pm in sorted(t.partitions.items()):
        out(f"describe quickstart p={pid} leader={pm.leader} replicas={pm.replicas} isr={pm.isrs}")


def keyed():
    create("keyed", 6)
    wait_topic("keyed", 6)
    p = producer()
    recs = [(f"key-{i}".encode(), f"v-{i}".encode(), None, None, None) for i in range(30)]
    res = produce_all(p, "keyed", recs)
    for i, (part, off) in enumerate(res):
        out(f"key key-{i} p={part}")
    by_part = {}
    for m in consume_assigned("keyed", 6, 30):
        by_part.setdefault(m.partition(), []).append(dec(m.key()))
        if res[int(dec(m.key())[4:])][0] != m.partition():
            fail(f"{dec(m.key())} consumed from another partition")
    for part in sorted(by_part):
        out(f"partition {part} keys={','.join(by_part[part])}")


def codecs():
    for codec in CODECS:
        t = f"codec-{codec}"
        create(t, 1)
        wait_topic(t, 1)
        p = producer(**{"compression.type": codec, "linger.ms": 50})
        res = produce_all(p, t, [(None, f"{codec}-{i}-".encode() * 20, None, None, None) for i in range(10)])
        msgs = consume_assigned(t, 1, 10)
        ok = [dec(m.value()) for m in msgs] == [f"{codec}-{i}-" * 20 for i in range(10)]
        out(f"codec {codec} produced={len(res)} offsets={res[0][1]}..{res[-1][1]} consumed={len(msgs)} values-ok={ok}")


def group_member(topic, group):
    """Child process: one member of the group; prints its assignment until killed."""
    c = Consumer({"bootstrap.servers": BOOT, "group.id": group, "session.timeout.ms": 6000,
                  "heartbeat.interval.ms": 1000, "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    while True:
        c.poll(0.2)
        print("assigned", len(c.assignment()), flush=True)


def group():
    create("group", 4)
    wait_topic("group", 4)
    p = producer()
    produce_all(p, "group", [(None, f"g-{i}".encode(), i % 4, None, None) for i in range(20)])
    child = subprocess.Popen([sys.executable, __file__, "group-member", BOOT, PREFIX],
                             stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + TIMEOUT
        for line in child.stdout:
            if line.strip() != "assigned 0" or time.time() > deadline:
                break
        c = Consumer({"bootstrap.servers": BOOT, "group.id": PREFIX + "group", "session.timeout.ms": 6000,
                      "heartbeat.interval.ms": 1000, "auto.offset.reset": "earliest", "enable.auto.commit": False})
        c.subscribe([PREFIX + "group"])
        seen = set()
        sizes = None
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                seen.add(dec(m.value()))
            a = len(c.assignment())
            if 0 < a < 4:
                sizes = sorted([a, 4 - a])
                break
        out("two-members assignment-sizes=" + ("+".join(map(str, sizes)) if sizes else "none"))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        deadline = time.time() + 60
        while time.time() < deadline and (len(c.assignment()) < 4 or len(seen) < 20):
            m = c.poll(0.2)
            if m is not None and not m.error():
                seen.add(dec(m.value()))
        out("after-kill assignment=" + ",".join(str(tp.partition) for tp in sorted(c.assignment(), key=lambda tp: tp.partition)))
        out(f"after-kill consumed-distinct={len(seen)}")
        c.close()
    finally:
        if child.poll() is None:
            child.kill()


def offsets():
    create("offsets", 1)
    wait_topic("offsets", 1)
    produce_all(producer(), "offsets", [(None, f"o-{i}".encode(), 0, None, None) for i in range(10)])
    tp = TopicPartition(PREFIX + "offsets", 0)
    conf = {"bootstrap.servers": BOOT, "group.id": PREFIX + "offsets-g", "enable.auto.commit": False,
            "auto.offset.reset": "earliest"}
    c = Consumer(conf)
    got = c.committed([tp], timeout=10)[0]
    out(f"before-commit committed={got.offset}")
    c.commit(offsets=[TopicPartition(PREFIX + "offsets", 0, 5, metadata="m5")], asynchronous=False)
    got = c.committed([tp], timeout=10)[0]
    out(f"committed offset={got.offset} metadata={got.metadata}")
    c.close()
    c = Consumer(conf)
    c.subscribe([PREFIX + "offsets"])
    first = None
    deadline = time.time() + TIMEOUT
    while first is None and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            first = m.offset()
    out(f"resume first-offset={first}")
    c.commit(offsets=[TopicPartition(PREFIX + "offsets", 0, 2)], asynchronous=False)
    out(f"reset committed={c.committed([tp], timeout=10)[0].offset}")
    lo, hi = c.get_watermark_offsets(tp, timeout=10)
    out(f"watermarks low={lo} high={hi}")
    c.close()


def config_value(resource_name, key):
    res = ConfigResource(ConfigResource.Type.TOPIC, PREFIX + resource_name)
    cfg = admin().describe_configs([res])[res].result(TIMEOUT)
    e = cfg[key]
    return f"{key}={e.value} default={e.is_default} source={e.source}"


def altered_config_value(resource_name, key, value):
    """The config once the broker has applied the alter: on KRaft the answer to IncrementalAlterConfigs
    comes from the controller, and a broker serves DescribeConfigs from its metadata image, which
    may lag it for a moment (Kafka's own tests wait for the value too)."""
    deadline = time.time() + 10
    while True:
        seen = config_value(resource_name, key)
        if seen.startswith(f"{key}={value} ") or time.time() > deadline:
            return seen
        time.sleep(0.1)


def admin_scenario():
    a = admin()
    out("create admin-a", create("admin-a", 2, {"retention.ms": "3600000"}))
    wait_topic("admin-a", 2)
    out("describe", config_value("admin-a", "retention.ms"))
    out("describe", config_value("admin-a", "cleanup.policy"))
    res = ConfigResource(ConfigResource.Type.TOPIC, PREFIX + "admin-a",
                         incremental_configs=[ConfigEntry("retention.ms", "7200000",
                                                          incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([res])[res].result(TIMEOUT)
    out("altered", altered_config_value("admin-a", "retention.ms", "7200000"))
    a.create_partitions([NewPartitions(PREFIX + "admin-a", 5)])[PREFIX + "admin-a"].result(TIMEOUT)
    wait_topic("admin-a", 5)
    out("partitions admin-a", len(a.list_topics(PREFIX + "admin-a", timeout=10).topics[PREFIX + "admin-a"].partitions))
    a.delete_topics([PREFIX + "admin-a"], operation_timeout=10)[PREFIX + "admin-a"].result(TIMEOUT)
    def listed():
        try:
            return PREFIX + "admin-a" in a.list_topics(timeout=10).topics
        except KafkaException as e:
            return "error " + err_name(e)
    deadline = time.time() + TIMEOUT
    while listed() is True and time.time() < deadline:
        time.sleep(0.2)
    out("deleted admin-a listed=", listed())


def idempotent():
    create("idempotent", 1)
    wait_topic("idempotent", 1)
    p = producer(**{"enable.idempotence": True, "acks": "all"})
    res = produce_all(p, "idempotent", [(None, f"i-{i}".encode(), 0, None, None) for i in range(10)])
    out("produced offsets=" + ",".join(str(o) for _, o in res))
    msgs = consume_assigned("idempotent", 1, 10)
    vals = [dec(m.value()) for m in msgs]
    out(f"consumed={len(msgs)} distinct={len(set(vals))} in-order={vals == [f'i-{i}' for i in range(10)]}")


def txn():
    create("txn", 1)
    wait_topic("txn", 1)
    p = producer(**{"transactional.id": PREFIX + "tx"})
    p.init_transactions(TIMEOUT)
    for action, n in (("commit", 3), ("abort", 3), ("commit2", 2)):
        p.begin_transaction()
        for i in range(n):
            p.produce(PREFIX + "txn", value=f"{action}-{i}".encode(), partition=0)
        p.flush(TIMEOUT)
        if action == "abort":
            p.abort_transaction(TIMEOUT)
        else:
            p.commit_transaction(TIMEOUT)
        out("txn", action, "done")
    for iso, n in (("read_committed", 5), ("read_uncommitted", 8)):
        msgs = consume_assigned("txn", 1, n, iso)
        out(iso, " ".join(f"{m.offset()}:{dec(m.value())}" for m in msgs))
    c = Consumer({"bootstrap.servers": BOOT, "group.id": PREFIX + "x", "isolation.level": "read_committed"})
    out("watermarks", c.get_watermark_offsets(TopicPartition(PREFIX + "txn", 0), timeout=10))
    c.close()


def headers():
    create("headers", 1)
    wait_topic("headers", 1)
    base = 1700000000000
    hdrs = [("h1", b"a"), ("h2", b"b"), ("h1", b"c"), ("empty", b"")]
    produce_all(producer(), "headers", [(b"k", b"with-headers", 0, hdrs, base),
                                        (b"k", b"t1", 0, None, base + 1000),
                                        (b"k", b"t2", 0, None, base + 2000)])
    for m in consume_assigned("headers", 1, 3):
        ttype, ts = m.timestamp()
        h = m.headers() or []
        out(f"record o={m.offset()} v={dec(m.value())} ts={ts - base} type={ttype} headers=" +
            ",".join(f"{k}={dec(v)}" for k, v in h))
    c = Consumer({"bootstrap.servers": BOOT, "group.id": PREFIX + "x"})
    for t in (base - 1, base + 500, base + 2000, base + 5000):
        r = c.offsets_for_times([TopicPartition(PREFIX + "headers", 0, t)], timeout=10)[0]
        out(f"offset-for-time +{t - base} -> {r.offset}")
    c.close()


def large():
    create("large", 1, {"max.message.bytes": "100000"})
    wait_topic("large", 1)
    p = producer(**{"compression.type": "none", "message.max.bytes": 1000000})
    res = produce_all(p, "large", [(None, b"x" * 90000, 0, None, None)])
    out("near-limit", res if isinstance(res[0], str) else f"ok o={res[0][1]}")
    res = produce_all(p, "large", [(None, b"y" * 200000, 0, None, None)])
    out("over-limit", res[0] if isinstance(res[0], str) else f"ok o={res[0][1]}")
    msgs = consume_assigned("large", 1, 1)
    out("consumed", " ".join(f"{m.offset()}:{len(m.value())}" for m in msgs))


def errors():
    a = admin()
    md = a.list_topics(PREFIX + "no-such-topic", timeout=10)
    # librdkafka asks Metadata for this topic (auto-creation follows the broker's setting, on by default)
    t = md.topics.get(PREFIX + "no-such-topic")
    out("metadata no-such-topic", t.error.name() if t and t.error else "ok")
    create("errors", 1)
    wait_topic("errors", 1)
    out("create existing", create("errors", 1))
    out("create rf=3", create("errors-rf", 1, rf=3))
    out("create bad-config", create("errors-cfg", 1, {"cleanup.policy": "bogus"}))
    out("create bad-name", create("bad name!", 1))
    out("create unknown-config", create("errors-unknown", 1, {"no.such.config": "1"}))
    res = ConfigResource(ConfigResource.Type.TOPIC, PREFIX + "no-such-topic-2")
    try:
        a.describe_configs([res])[res].result(TIMEOUT)
        out("describe-configs no-such-topic-2 ok")
    except KafkaException as e:
        out("describe-configs no-such-topic-2", err_name(e))


SCENARIOS = {"quickstart": quickstart, "keyed": keyed, "codecs": codecs, "group": group,
             "offsets": offsets, "admin": admin_scenario, "idempotent": idempotent, "txn": txn,
             "headers": headers, "large": large, "errors": errors}

if __name__ == "__main__":
    if SCENARIO == "group-member":
        group_member(PREFIX + "group", PREFIX + "group")
    elif SCENARIO not in SCENARIOS:
        out(f"n/a: no scenario {SCENARIO}")
        sys.exit(64)
    else:
        SCENARIOS[SCENARIO]()

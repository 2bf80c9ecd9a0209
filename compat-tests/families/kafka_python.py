#!/usr/bin/env python3
"""Scenarios as kafka-python sees them.

    kafka_python.py SCENARIO BOOTSTRAP PREFIX

Prints the normalised observation on stdout (names without PREFIX, no volatile values); exit 0 =
the scenario's own checks passed, 64 = not applicable, anything else = failed. The contract is in
compat-tests/README.md; every family prints the same lines where it can.
"""
import os
import signal
import subprocess
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import (ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions,
                         NewTopic)
from kafka.structs import OffsetAndMetadata

SCENARIO, BOOT, PREFIX = sys.argv[1], sys.argv[2], sys.argv[3]
TIMEOUT = 30
_ADMIN = []


def out(*parts):
    print(*parts, flush=True)


def fail(msg):
    out("FAIL", msg)
    sys.exit(1)


def admin():
    if not _ADMIN:
        _ADMIN.append(KafkaAdminClient(bootstrap_servers=BOOT))
    return _ADMIN[0]


def err_name(e):
    return type(e).__name__


def create(name, partitions=1, config=None, rf=1):
    try:
        admin().create_topics([NewTopic(PREFIX + name, partitions, rf, topic_configs=config or {})])
        return "ok"
    except Exception as e:  # noqa: BLE001 - the error class is the observation
        return err_name(e)


def wait_topic(name, partitions):
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        try:
            d = admin().describe_topics([PREFIX + name])
            if d and d[0]["error_code"] == 0 and len(d[0]["partitions"]) == partitions:
                return
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.2)
    fail(f"topic {name} not ready with {partitions} partitions")


def producer(**kw):
    kw.setdefault("linger_ms", 5)
    return KafkaProducer(bootstrap_servers=BOOT, **kw)


def produce_all(p, topic, records):
    """records: (key, value, partition|None, headers|None, timestamp|None). Returns [(p, o)] or errors."""
    futs = [p.send(PREFIX + topic, value=v, key=k, partition=part, headers=h, timestamp_ms=ts)
            for k, v, part, h, ts in records]
    p.flush(TIMEOUT)
    res = []
    for f in futs:
        try:
            m = f.get(TIMEOUT)
            res.append((m.partition, m.offset))
        except Exception as e:  # noqa: BLE001
            res.append(err_name(e))
    return res


def consume_assigned(topic, partitions, expect, isolation="read_uncommitted"):
    c = KafkaConsumer(bootstrap_servers=BOOT, enable_auto_commit=False, isolation_level=isolation,
                      max_partition_fetch_bytes=1 << 20)
    tps = [TopicPartition(PREFIX + topic, p) for p in range(partitions)]
    c.assign(tps)
    c.seek_to_beginning(*tps)
    msgs = []
    deadline = time.time() + TIMEOUT
    while len(msgs) < expect and time.time() < deadline:
        for recs in c.poll(500).values():
            msgs.extend(recs)
    end = time.time() + 1.0
    while time.time() < end:
        for recs in c.poll(200).values():
            msgs.extend(recs)
    c.close()
    msgs.sort(key=lambda m: (m.partition, m.offset))
    return msgs


def dec(b):
    return None if b is None else b.decode()


# ------------------------------------------------------------------------------------------------

def quickstart():
    out("create quickstart", create("quickstart", 1))
    wait_topic("quickstart", 1)
    lines = ["This is a message", "This is another message", "第三条消息"]
    for part, off in produce_all(producer(), "quickstart", [(None, l.encode(), None, None, None) for l in lines]):
        out(f"produced quickstart p={part} o={off}")
    for m in consume_assigned("quickstart", 1, len(lines)):
        out(f"consumed p={m.partition} o={m.offset} v={dec(m.value)}")
    for t in sorted(n for n in admin().list_topics() if n.startswith(PREFIX)):
        out("list", t[len(PREFIX):])
    d = admin().describe_topics([PREFIX + "quickstart"])[0]
    for pm in sorted(d["partitions"], key=lambda p: p["partition_index"]):
        out(f"describe quickstart p={pm['partition_index']} leader={pm['leader_id']} "
            f"replicas={pm['replica_nodes']} isr={pm['isr_nodes']}")


def keyed():
    create("keyed", 6)
    wait_topic("keyed", 6)
    res = produce_all(producer(), "keyed", [(f"key-{i}".encode(), f"v-{i}".encode(), None, None, None) for i in range(30)])
    for i, (part, _) in enumerate(res):
        out(f"key key-{i} p={part}")
    by_part = {}
    for m in consume_assigned("keyed", 6, 30):
        if res[int(dec(m.key)[4:])][0] != m.partition:
            fail(f"{dec(m.key)} consumed from another partition")
        by_part.setdefault(m.partition, []).append(dec(m.key))
    for part in sorted(by_part):
        out(f"partition {part} keys={','.join(by_part[part])}")


def codecs():
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        t = f"codec-{codec}"
        create(t, 1)
        wait_topic(t, 1)
        p = producer(compression_type=None if codec == "none" else codec, linger_ms=50)
        res = produce_all(p, t, [(None, f"{codec}-{i}-".encode() * 20, None, None, None) for i in range(10)])
        msgs = consume_assigned(t, 1, 10)
        ok = [dec(m.value) for m in msgs] == [f"{codec}-{i}-" * 20 for i in range(10)]
        out(f"codec {codec} produced={len(res)} offsets={res[0][1]}..{res[-1][1]} consumed={len(msgs)} values-ok={ok}")


def group_consumer():
    c = KafkaConsumer(bootstrap_servers=BOOT, group_id=PREFIX + "group", session_timeout_ms=6000,
                      heartbeat_interval_ms=1000, auto_offset_reset="earliest", enable_auto_commit=False)
    c.subscribe([PREFIX + "group"])
    known_partitions(c, PREFIX + "group")
    return c


def known_partitions(c, topic):
    """Waits until the consumer knows the topic's partitions, before its first JoinGroup.

    kafka-python 3.0.12 can strand a group leader that joined before its first Metadata answer:
    its metadata-only rejoin is lost when poll() times out during the SyncGroup (see
    tests/consumer_groups_clients.rs, KAFKA_PYTHON_CONSUMER)."""
    deadline = time.time() + TIMEOUT
    while not c.partitions_for_topic(topic) and time.time() < deadline:
        time.sleep(0.1)


def group():
    create("group", 4)
    wait_topic("group", 4)
    produce_all(producer(), "group", [(None, f"g-{i}".encode(), i % 4, None, None) for i in range(20)])
    child = subprocess.Popen([sys.executable, __file__, "group-member", BOOT, PREFIX], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + TIMEOUT
        for line in child.stdout:
            if line.strip() != "assigned 0" or time.time() > deadline:
                break
        c = group_consumer()
        seen, sizes = set(), None
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            for recs in c.poll(200).values():
                seen.update(dec(m.value) for m in recs)
            a = len(c.assignment())
            if 0 < a < 4:
                sizes = sorted([a, 4 - a])
                break
        out("two-members assignment-sizes=" + ("+".join(map(str, sizes)) if sizes else "none"))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        deadline = time.time() + 60
        while time.time() < deadline and (len(c.assignment()) < 4 or len(seen) < 20):
            for recs in c.poll(200).values():
                seen.update(dec(m.value) for m in recs)
        out("after-kill assignment=" + ",".join(str(tp.partition) for tp in sorted(c.assignment(), key=lambda tp: tp.partition)))
        out(f"after-kill consumed-distinct={len(seen)}")
        c.close()
    finally:
        if child.poll() is None:
            child.kill()


def group_member():
    c = group_consumer()
    while True:
        c.poll(200)
        print("assigned", len(c.assignment()), flush=True)


def offsets():
    create("offsets", 1)
    wait_topic("offsets", 1)
    produce_all(producer(), "offsets", [(None, f"o-{i}".encode(), 0, None, None) for i in range(10)])
    tp = TopicPartition(PREFIX + "offsets", 0)
    conf = dict(bootstrap_servers=BOOT, group_id=PREFIX + "offsets-g", enable_auto_commit=False, auto_offset_reset="earliest")
    c = KafkaConsumer(**conf)
    got = c.committed(tp, metadata=True)
    out(f"before-commit committed={-1 if got is None else got.offset}")
    c.commit({tp: OffsetAndMetadata(5, "m5", -1)})
    got = c.committed(tp, metadata=True)
    out(f"committed offset={got.offset} metadata={got.metadata}")
    c.close()
    c = KafkaConsumer(**conf)
    c.subscribe([PREFIX + "offsets"])
    known_partitions(c, PREFIX + "offsets")
    first = None
    deadline = time.time() + TIMEOUT
    while first is None and time.time() < deadline:
        for recs in c.poll(500).values():
            first = recs[0].offset
    out(f"resume first-offset={first}")
    c.commit({tp: OffsetAndMetadata(2, "", -1)})
    out(f"reset committed={c.committed(tp)}")
    out(f"watermarks low={c.beginning_offsets([tp])[tp]} high={c.end_offsets([tp])[tp]}")
    c.close()


def config_value(topic, key):
    res = admin().describe_configs([ConfigResource(ConfigResourceType.TOPIC, PREFIX + topic)], config_filter="all")
    data = res["topic"][PREFIX + topic][key]
    return f"{key}={data.get('value')} default={data.get('is_default')} source={data.get('config_source')}"


def altered_config_value(topic, key, value):
    """The config once the broker has applied the alter (a KRaft broker's metadata image may lag the
    controller's answer for a moment; Kafka's own tests wait for the value too)."""
    deadline = time.time() + 10
    while True:
        seen = config_value(topic, key)
        if seen.startswith(f"{key}={value} ") or time.time() > deadline:
            return seen
        time.sleep(0.1)


def admin_scenario():
    a = admin()
    out("create admin-a", create("admin-a", 2, {"retention.ms": "3600000"}))
    wait_topic("admin-a", 2)
    out("describe", config_value("admin-a", "retention.ms"))
    out("describe", config_value("admin-a", "cleanup.policy"))
    a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, PREFIX + "admin-a", {"retention.ms": "7200000"})], incremental=True)
    out("altered", altered_config_value("admin-a", "retention.ms", "7200000"))
    a.create_partitions({PREFIX + "admin-a": NewPartitions(5)})
    wait_topic("admin-a", 5)
    out("partitions admin-a", len(a.describe_topics([PREFIX + "admin-a"])[0]["partitions"]))
    a.delete_topics([PREFIX + "admin-a"])
    deadline = time.time() + TIMEOUT
    while PREFIX + "admin-a" in a.list_topics() and time.time() < deadline:
        time.sleep(0.2)
    out("deleted admin-a listed=", PREFIX + "admin-a" in a.list_topics())


def idempotent():
    create("idempotent", 1)
    wait_topic("idempotent", 1)
    res = produce_all(producer(enable_idempotence=True, acks="all"), "idempotent",
                      [(None, f"i-{i}".encode(), 0, None, None) for i in range(10)])
    out("produced offsets=" + ",".join(str(o) for _, o in res))
    vals = [dec(m.value) for m in consume_assigned("idempotent", 1, 10)]
    out(f"consumed={len(vals)} distinct={len(set(vals))} in-order={vals == [f'i-{i}' for i in range(10)]}")


def txn():
    create("txn", 1)
    wait_topic("txn", 1)
    p = producer(transactional_id=PREFIX + "tx")
    p.init_transactions()
    for action, n in (("commit", 3), ("abort", 3), ("commit2", 2)):
        p.begin_transaction()
        for i in range(n):
            p.send(PREFIX + "txn", value=f"{action}-{i}".encode(), partition=0)
        p.flush(TIMEOUT)
        if action == "abort":
            p.abort_transaction()
        else:
            p.commit_transaction()
        out("txn", action, "done")
    for iso, n in (("read_committed", 5), ("read_uncommitted", 8)):
        msgs = consume_assigned("txn", 1, n, iso)
        out(iso, " ".join(f"{m.offset}:{dec(m.value)}" for m in msgs))
    c = KafkaConsumer(bootstrap_servers=BOOT)
    tp = TopicPartition(PREFIX + "txn", 0)
    out("end-offset", c.end_offsets([tp])[tp])
    c.close()


def headers():
    create("headers", 1)
    wait_topic("headers", 1)
    base = 1700000000000
    hdrs = [("h1", b"a"), ("h2", b"b"), ("h1", b"c"), ("empty", b"")]
    produce_all(producer(), "headers", [(b"k", b"with-headers", 0, hdrs, base), (b"k", b"t1", 0, None, base + 1000),
                                        (b"k", b"t2", 0, None, base + 2000)])
    for m in consume_assigned("headers", 1, 3):
        out(f"record o={m.offset} v={dec(m.value)} ts={m.timestamp - base} type={m.timestamp_type + 1} headers=" +
            ",".join(f"{k}={dec(v)}" for k, v in (m.headers or [])))
    c = KafkaConsumer(bootstrap_servers=BOOT)
    tp = TopicPartition(PREFIX + "headers", 0)
    for t in (base - 1, base + 500, base + 2000, base + 5000):
        r = c.offsets_for_times({tp: t})[tp]
        out(f"offset-for-time +{t - base} -> {-1 if r is None else r.offset}")
    c.close()


def large():
    create("large", 1, {"max.message.bytes": "100000"})
    wait_topic("large", 1)
    p = producer(max_request_size=1000000, retries=0)
    for name, v in (("near-limit", b"x" * 90000), ("over-limit", b"y" * 200000)):
        r = produce_all(p, "large", [(None, v, 0, None, None)])[0]
        out(name, r if isinstance(r, str) else f"ok o={r[1]}")
    out("consumed", " ".join(f"{m.offset}:{len(m.value)}" for m in consume_assigned("large", 1, 1)))


def errors():
    d = admin().describe_topics([PREFIX + "no-such-topic"])
    out("metadata no-such-topic", d[0]["error_code"] if d else "none")
    create("errors", 1)
    wait_topic("errors", 1)
    out("create existing", create("errors", 1))
    out("create rf=3", create("errors-rf", 1, rf=3))
    out("create bad-config", create("errors-cfg", 1, {"cleanup.policy": "bogus"}))
    out("create bad-name", create("bad name!", 1))
    out("create unknown-config", create("errors-unknown", 1, {"no.such.config": "1"}))
    try:
        admin().describe_configs([ConfigResource(ConfigResourceType.TOPIC, PREFIX + "no-such-topic-2")])
        out("describe-configs no-such-topic-2 ok")
    except Exception as e:  # noqa: BLE001
        out("describe-configs no-such-topic-2", err_name(e))


SCENARIOS = {"quickstart": quickstart, "keyed": keyed, "codecs": codecs, "group": group,
             "offsets": offsets, "admin": admin_scenario, "idempotent": idempotent, "txn": txn,
             "headers": headers, "large": large, "errors": errors}

if __name__ == "__main__":
    if SCENARIO == "group-member":
        group_member()
    elif SCENARIO not in SCENARIOS:
        out(f"n/a: no scenario {SCENARIO}")
        sys.exit(64)
    else:
        SCENARIOS[SCENARIO]()
        os._exit(0)  # do not wait for the clients' background threads

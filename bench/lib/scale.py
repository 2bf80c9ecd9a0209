#!/usr/bin/env python3
"""The clients of bench/run.sh's scale phase. Each prints progress lines and, last, one line
`RESULT {json}` that measure.py (kind `json`) adds to the run's row.

    scale.py create --bootstrap B --prefix P --topics N --partitions K [--first I] [--batch T]
        CreateTopics for topics P<I>..P<I+N-1> of K partitions each (replication factor 1), in
        requests of T topics (confluent-kafka's AdminClient: one CreateTopics request per call),
        one request after the other. Stops at the first request that fails or times out, or
        after which the broker (--broker-pid) is out of file descriptors, and reports how many
        partitions were created until then (failed_at_partitions).
    scale.py conns --bootstrap HOST:PORT --count N --interval S --stop-file F
        Opens N TCP connections (asyncio) and holds them: each sends ApiVersions v0, then every S
        seconds (random phase) Metadata v1 for no topic or ApiVersions, alternately. Prints READY
        once every connection was tried; holds until F exists (or SIGTERM), then reports how many
        were opened, failed, or lost while held, and the latency of their requests.
    scale.py groups --bootstrap B --count N --prefix P --topics T --stop-file F [--ready-timeout S]
        N consumers (confluent-kafka), each in its own group scale-g<i> subscribed to topic
        P<i mod T>, polled round-robin from one thread. Prints READY when every consumer has an
        assignment, or when the timeout passes (with how many had one); holds until F exists.
    scale.py probe --bootstrap HOST:PORT --topics T1,T2,.. --rate R --seconds S
        Metadata v4 requests for those topics at R per second on one connection (each sent at
        its scheduled time, or at once after the previous answer when that came late); latency
        is from send to the whole response. Every topic must come back with error 0.
    scale.py idle
        Does nothing: a row that only records the broker's RSS and open files.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import struct
import sys
import time


def result(**fields):
    print("RESULT " + json.dumps(fields, sort_keys=True), flush=True)


def percentiles(lat_ms):
    if not lat_ms:
        return {}
    s = sorted(lat_ms)

    def pct(q):
        return s[min(len(s) - 1, int(q * len(s)))]

    return {"p50_ms": round(statistics.median(s), 3), "p99_ms": round(pct(0.99), 3),
            "p999_ms": round(pct(0.999), 3), "max_ms": round(s[-1], 3), "requests": len(s)}


def host_port(bootstrap):
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return host or "localhost", int(port)


# ---------------------------------------------------------------------------------------------
# The Kafka wire protocol, the little of it these clients need.

CLIENT_ID = b"milena-bench-scale"


def request(api_key, version, correlation_id, body=b""):
    """Size-prefixed request with header v1 (api key, version, correlation id, client id)."""
    header = struct.pack(">hhih", api_key, version, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    return struct.pack(">i", len(header) + len(body)) + header + body


def metadata_body(topics, version):
    body = struct.pack(">i", len(topics))
    for t in topics:
        name = t.encode()
        body += struct.pack(">h", len(name)) + name
    if version >= 4:
        body += b"\x00"  # allow_auto_topic_creation = false
    return body


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.at:self.at + n].decode()
        self.at += n
        return s

    def array(self, item):
        return [item() for _ in range(max(self.take(">i"), 0))]


def metadata_v4_topics(body):
    """{topic: (error_code, partitions with a leader)} from a Metadata v4 response body."""
    r = Reader(body)
    r.take(">i")  # throttle_time_ms
    r.array(lambda: (r.take(">i"), r.string(), r.take(">i"), r.string()))  # brokers
    r.string()  # cluster_id
    r.take(">i")  # controller_id

    def partition():
        err, _, leader = r.take(">hii")
        r.array(lambda: r.take(">i"))  # replicas
        r.array(lambda: r.take(">i"))  # isr
        return err == 0 and leader >= 0

    def topic():
        err = r.take(">h")
        name = r.string()
        r.take(">b")  # is_internal
        return name, (err, sum(r.array(partition)))

    return dict(r.array(topic))


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        buf += chunk
    return bytes(buf)


def call(sock, frame, correlation_id):
    sock.sendall(frame)
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    resp = recv_exact(sock, size)
    got = struct.unpack_from(">i", resp)[0]
    if got != correlation_id:
        raise ConnectionError(f"correlation id {got}, expected {correlation_id}")
    return resp[4:]


# ---------------------------------------------------------------------------------------------


def broker_fds(pid):
    """(open descriptors, soft open-file limit) of the broker, (None, None) if unknown."""
    if not pid:
        return None, None
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/limits") as f:
            limit = next(int(l.split()[3]) for l in f if l.startswith("Max open files"))
        return fds, limit
    except (OSError, ValueError, StopIteration):
        return None, None


def cmd_create(a):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": a.bootstrap, "socket.timeout.ms": int(a.timeout * 1000)})
    names = [f"{a.prefix}{i}" for i in range(a.first, a.first + a.topics)]
    created = requests = 0
    slowest = 0.0
    error = None
    t0 = time.monotonic()
    for at in range(0, len(names), a.batch):
        chunk = names[at:at + a.batch]
        t = time.monotonic()
        futures = admin.create_topics([NewTopic(n, a.partitions, 1) for n in chunk],
                                      operation_timeout=a.timeout, request_timeout=a.timeout)
        requests += 1
        failed = []
        for name, f in futures.items():
            try:
                f.result(timeout=a.timeout + 10)
                created += 1
            except Exception as e:  # KafkaException, or a timeout of the future
                failed.append(f"{name}: {e}")
        took = time.monotonic() - t
        slowest = max(slowest, took)
        print(f"request {requests}: {len(chunk)} topics in {took:.3f} s, "
              f"{created * a.partitions} partitions created so far, {len(failed)} failed", flush=True)
        if failed:
            error = f"{len(failed)} of {len(chunk)} topics failed, first: {failed[0]}"
            break
        # A broker may answer CreateTopics and still have failed to open the partitions' files:
        # out of descriptors, nothing more can work, so the creation stops here too.
        fds, limit = broker_fds(a.broker_pid)
        if fds is not None and limit and fds >= limit - 16:
            error = f"the broker is at its open-file limit ({fds} of {limit} descriptors)"
            break
    seconds = time.monotonic() - t0
    # CreateTopics answers once the controller has the topics; a client can use them once the
    # broker's Metadata has every partition with a leader.
    ready_s = late = None
    if not error:
        late = (f"CreateTopics of {created * a.partitions} partitions answered, but not all were in "
                f"Metadata with a leader {a.timeout} s later")
        try:
            sock = socket.create_connection(host_port(a.bootstrap), timeout=30)
            corr = 0
            while time.monotonic() - t0 < seconds + a.timeout:
                corr += 1
                frame = request(3, 4, corr, metadata_body(names, 4))
                answer = metadata_v4_topics(call(sock, frame, corr))
                if all(answer.get(n, (1, 0)) == (0, a.partitions) for n in names):
                    ready_s, late = round(time.monotonic() - t0, 3), None
                    print(f"all {created} topics in Metadata with leaders after {ready_s} s",
                          flush=True)
                    break
                time.sleep(0.05)
            sock.close()
        except (OSError, struct.error) as e:
            late = f"CreateTopics answered, then Metadata failed: {type(e).__name__}: {e}"
    result(create_s=round(seconds, 3), ready_s=ready_s, topics_created=created,
           partitions_created=created * a.partitions, requests=requests,
           slowest_request_s=round(slowest, 3),
           failed_at_partitions=(created * a.partitions if error else None), create_error=error,
           **({"error": f"CreateTopics failed at {created * a.partitions} partitions: {error}"}
              if error else {"error": late} if late else {}))


# ---------------------------------------------------------------------------------------------


class Conns:
    def __init__(self, a):
        self.a = a
        self.opened = self.failed = self.lost = 0
        self.lat_ms = []
        self.errors = {}
        self.stop = asyncio.Event()

    def note(self, e):
        key = type(e).__name__ + (f": {e}" if str(e) else "")
        self.errors[key[:120]] = self.errors.get(key[:120], 0) + 1

    async def one(self, i):
        host, port = host_port(self.a.bootstrap)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
        except Exception as e:
            self.failed += 1
            self.note(e)
            return None
        self.opened += 1
        return reader, writer

    async def hold(self, i, reader, writer):
        corr = 0
        try:
            await asyncio.sleep(random.uniform(0, self.a.interval))
            while not self.stop.is_set():
                corr += 1
                if corr % 2:
                    frame = request(18, 0, corr)  # ApiVersions v0
                else:
                    frame = request(3, 1, corr, metadata_body([], 1))  # Metadata v1, no topics
                t = time.monotonic()
                writer.write(frame)
                await writer.drain()
                size = struct.unpack(">i", await asyncio.wait_for(reader.readexactly(4), 30))[0]
                resp = await asyncio.wait_for(reader.readexactly(size), 30)
                self.lat_ms.append((time.monotonic() - t) * 1000)
                if struct.unpack_from(">i", resp)[0] != corr:
                    raise ConnectionError("wrong correlation id")
                try:
                    await asyncio.wait_for(self.stop.wait(), self.a.interval)
                except asyncio.TimeoutError:
                    pass
        except Exception as e:
            if not self.stop.is_set():
                self.lost += 1
                self.note(e)
        finally:
            writer.close()

    async def run(self):
        loop = asyncio.get_running_loop()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, self.stop.set)
        t0 = time.monotonic()
        held = []
        # Opened 50 at a time: a burst of SYNs beyond the listen backlog would measure the
        # backlog, not the broker.
        for at in range(0, self.a.count, 50):
            got = await asyncio.gather(*(self.one(i) for i in range(at, min(at + 50, self.a.count))))
            held += [asyncio.create_task(self.hold(i, *c)) for i, c in enumerate(got) if c]
        open_s = time.monotonic() - t0
        print(f"READY opened={self.opened} failed={self.failed} in {open_s:.2f} s", flush=True)
        while not self.stop.is_set():
            if os.path.exists(self.a.stop_file):
                self.stop.set()
            try:
                await asyncio.wait_for(self.stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
        await asyncio.gather(*held, return_exceptions=True)
        fields = dict(connections=self.a.count, opened=self.opened, failed=self.failed,
                      lost=self.lost, open_s=round(open_s, 3), conn_errors=self.errors,
                      **percentiles(self.lat_ms))
        if self.failed or self.lost:
            fields["error"] = (f"{self.failed} connections failed to open, {self.lost} lost "
                               f"while held: {self.errors}")
        result(**fields)


def cmd_conns(a):
    asyncio.run(Conns(a).run())


# ---------------------------------------------------------------------------------------------


def cmd_groups(a):
    from confluent_kafka import Consumer

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    assigned = set()
    errors = {}
    consumers = []

    def on_error(e):
        errors[str(e)[:120]] = errors.get(str(e)[:120], 0) + 1

    t0 = time.monotonic()
    for i in range(a.count):
        def on_assign(c, parts, i=i):
            if parts:
                assigned.add(i)
        c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": f"scale-g{i}",
                      "enable.auto.commit": False, "error_cb": on_error,
                      "queued.max.messages.kbytes": 1024})
        c.subscribe([f"{a.prefix}{i % a.topics}"], on_assign=on_assign)
        consumers.append(c)
    ready = False
    while not stop and not os.path.exists(a.stop_file):
        for c in consumers:
            c.poll(0)
        if not ready and (len(assigned) == a.count or time.monotonic() - t0 > a.ready_timeout):
            ready = True
            print(f"READY joined={len(assigned)} of {a.count} in {time.monotonic() - t0:.2f} s",
                  flush=True)
            join_s = time.monotonic() - t0
        time.sleep(0.05)
    joined = len(assigned)
    for c in consumers:
        c.close()
    fields = dict(groups=a.count, joined=joined, join_s=round(join_s, 3) if ready else None,
                  group_errors=errors)
    if joined < a.count:
        fields["error"] = f"only {joined} of {a.count} consumers got an assignment"
    result(**fields)


# ---------------------------------------------------------------------------------------------


def cmd_probe(a):
    topics = a.topics.split(",")
    sock = socket.create_connection(host_port(a.bootstrap), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lat_ms, bad = [], []
    period = 1.0 / a.rate
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < a.seconds:
        n += 1
        due = t0 + n * period
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        t = time.monotonic()
        body = call(sock, request(3, 4, n, metadata_body(topics, 4)), n)
        lat_ms.append((time.monotonic() - t) * 1000)
        for name, (err, parts) in metadata_v4_topics(body).items():
            if err != 0 or parts == 0:
                bad.append(f"{name}: error {err}, {parts} partitions")
    fields = dict(probe_topics=len(topics), probe_rate=a.rate, **percentiles(lat_ms))
    if bad:
        fields["error"] = f"{len(bad)} bad topic answers, first: {bad[0]}"
    result(**fields)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create")
    c.add_argument("--bootstrap", required=True)
    c.add_argument("--prefix", required=True)
    c.add_argument("--topics", type=int, required=True)
    c.add_argument("--partitions", type=int, required=True)
    c.add_argument("--first", type=int, default=0)
    c.add_argument("--batch", type=int, default=100)
    c.add_argument("--timeout", type=float, default=60.0, help="s per CreateTopics request")
    c.add_argument("--broker-pid", type=int, default=0,
                   help="stop, as failed, once the broker is out of file descriptors")
    c = sub.add_parser("conns")
    c.add_argument("--bootstrap", required=True)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--interval", type=float, default=10.0)
    c.add_argument("--stop-file", required=True)
    c = sub.add_parser("groups")
    c.add_argument("--bootstrap", required=True)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--prefix", required=True)
    c.add_argument("--topics", type=int, required=True)
    c.add_argument("--stop-file", required=True)
    c.add_argument("--ready-timeout", type=float, default=120.0)
    c = sub.add_parser("probe")
    c.add_argument("--bootstrap", required=True)
    c.add_argument("--topics", required=True)
    c.add_argument("--rate", type=float, default=20.0)
    c.add_argument("--seconds", type=float, required=True)
    sub.add_parser("idle")
    a = p.parse_args()
    if a.cmd == "idle":
        result()
    else:
        {"create": cmd_create, "conns": cmd_conns, "groups": cmd_groups, "probe": cmd_probe}[a.cmd](a)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a client that cannot even run says why in its row
        result(error=f"{type(e).__name__}: {e}")
        sys.exit(1)

#!/usr/bin/env python3
"""Time until a restarted broker serves: its first Metadata answer naming every partition of a
topic with a leader. Used by the restart phase of bench/run.sh.

    ready.py --port P --topic T --partitions N --timeout S --out runs.jsonl --pidfile F \
        --log L [--tag k=v ...] -- broker command...

It starts the broker command itself (its own session, output to L, its pid written to F; it
outlives this script), so that the clock starts at the exec and the probe is already running:
it connects every 5 ms and sends Metadata v1 for the topic; an answer with every partition's
error code 0 and a leader >= 0 ends it. It appends one JSON line with `ready_ms` (or `error`)
to --out and prints it.
"""
import argparse
import json
import socket
import struct
import subprocess
import time


def metadata_request(topic, correlation_id):
    client = b"bench-ready"
    body = struct.pack(">i", 1) + struct.pack(">h", len(topic)) + topic.encode()
    header = struct.pack(">hhih", 3, 1, correlation_id, len(client)) + client
    msg = header + body
    return struct.pack(">i", len(msg)) + msg


class Reader:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.i)
        self.i += struct.calcsize(fmt)
        return v[0]

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.b[self.i:self.i + n].decode()
        self.i += n
        return s

    def int_array(self):
        return [self.take(">i") for _ in range(self.take(">i"))]


def led_partitions(payload, topic):
    """Partitions of `topic` that have a leader and no error, from a Metadata v1 response."""
    r = Reader(payload)
    r.take(">i")  # correlation id
    for _ in range(r.take(">i")):  # brokers
        r.take(">i"), r.string(), r.take(">i"), r.string()
    r.take(">i")  # controller id
    led = set()
    for _ in range(r.take(">i")):
        err, name = r.take(">h"), r.string()
        r.take(">b")  # is_internal
        for _ in range(r.take(">i")):
            perr, index, leader = r.take(">h"), r.take(">i"), r.take(">i")
            r.int_array(), r.int_array()
            if name == topic and err == 0 and perr == 0 and leader >= 0:
                led.add(index)
    return led


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def listening(port):
    """Whether a socket listens on `port`. The probe connects only then: a connect to a port of
    the ephemeral range with no listener can pick that very port as its source and connect to
    itself, which then holds the port and the broker's bind fails."""
    want = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1].endswith(want) and fields[3] == "0A":
                        return True
        except OSError:
            pass
    return False


def probe(port, topic):
    if not listening(port):
        return set()
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(metadata_request(topic, 1))
        (size,) = struct.unpack(">i", recv_exact(s, 4))
        return led_partitions(recv_exact(s, size), topic)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", action="append", default=[])
    ap.add_argument("command", nargs="+")
    a = ap.parse_args()
    result = dict(kv.split("=", 1) for kv in a.tag)
    with open(a.log, "ab") as log:
        since = time.time_ns()
        broker = subprocess.Popen(a.command, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    with open(a.pidfile, "w") as f:
        f.write(f"{broker.pid}\n")
    deadline = since / 1e9 + a.timeout
    attempts = 0
    while True:
        attempts += 1
        try:
            if len(probe(a.port, a.topic)) >= a.partitions:
                result["ready_ms"] = round((time.time_ns() - since) / 1e6, 1)
                break
        except (OSError, struct.error, UnicodeDecodeError):
            if broker.poll() is not None:
                result["error"] = f"the broker exited with {broker.returncode}"
                break
        if time.time() > deadline:
            result["error"] = f"not ready after {a.timeout} s"
            break
        time.sleep(0.005)
    result["attempts"] = attempts
    line = json.dumps(result)
    with open(a.out, "a") as f:
        f.write(line + "\n")
    print(line)


if __name__ == "__main__":
    main()

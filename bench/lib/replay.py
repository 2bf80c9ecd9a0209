#!/usr/bin/env python3
"""Broker capacity: the same pre-encoded ProduceRequests sent again and again.

    replay.py --bootstrap HOST:PORT --topic T --partitions N --size B --acks 1|all
              [--batch-bytes 1048576] [--in-flight 5] [--interval-ms 500]

One connection, as librdkafka keeps one per broker. Before it starts, it encodes one record
batch per partition (magic 2, uncompressed, no key, `--size` B values, kafka-python's
DefaultRecordBatchBuilder, which computes the CRC) of `--batch-bytes`, and one ProduceRequest v7
per partition holding that batch; then it sends them round-robin over the partitions, keeping
`--in-flight` requests outstanding, until SIGINT. The broker does all of its usual work per
request (parse, CRC check, offset assignment, append, for acks=all the high watermark), while
the client does almost none: so it measures the broker when a real client (rdkafka_performance:
~2.8 M records/s of 100 B on one core) would be the limit on both brokers.

Every `--interval-ms` it prints a row in rdkafka_performance's `-u` table layout (elapsed ms,
records sent, bytes, -, records acknowledged, ..., records in error), so `measure.py
rdkafka-produce` windows it like the real client's runs. Records are counted acknowledged when
their request's answer has error code 0 for the partition.
"""
import argparse
import signal
import socket
import struct
import sys
import time

from kafka.record.default_records import DefaultRecordBatchBuilder

PRODUCE = 0
VERSION = 7


def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def encode_batch(size, batch_bytes):
    """One uncompressed v2 batch of as many `size`-byte records as fit in batch_bytes."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=0,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=batch_bytes)
    value = bytes((i * 7 + 11) % 251 for i in range(size))
    now = int(time.time() * 1000)
    count = 0
    while builder.append(count, now, None, value, []) is not None:
        count += 1
    return bytes(builder.build()), count


def produce_request(correlation, topic, partition, acks, batch):
    body = (struct.pack(">h", -1)                    # transactional_id: null
            + struct.pack(">hi", acks, 30000)        # acks, timeout_ms
            + struct.pack(">i", 1) + string(topic)   # one topic
            + struct.pack(">i", 1) + struct.pack(">i", partition)
            + struct.pack(">i", len(batch)) + batch)
    header = struct.pack(">hhi", PRODUCE, VERSION, correlation) + string("replay")
    return struct.pack(">i", len(header) + len(body)) + header + body


def partition_error(payload):
    """The error code of the one partition in a ProduceResponse v7 body (after the header)."""
    pos = 4  # topics count
    (n,) = struct.unpack_from(">h", payload, pos)
    pos += 2 + n + 4  # topic name, partitions count
    (_index, error) = struct.unpack_from(">ih", payload, pos)
    return error


def recv_exact(sock, n, buf):
    while len(buf) < n:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        buf += chunk
    return buf


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--partitions", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--acks", choices=["1", "all"], required=True)
    p.add_argument("--batch-bytes", type=int, default=1048576)
    p.add_argument("--in-flight", type=int, default=5)
    p.add_argument("--interval-ms", type=int, default=500)
    a = p.parse_args()
    acks = 1 if a.acks == "1" else -1

    batch, count = encode_batch(a.size, a.batch_bytes)
    requests = [bytearray(produce_request(0, a.topic, p, acks, batch)) for p in range(a.partitions)]
    host, port = a.bootstrap.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    print(f"% {count} records of {a.size} B per batch, {len(batch)} B; "
          f"{a.partitions} partitions, acks={a.acks}, {a.in_flight} in flight", flush=True)
    print("|    elapsed |       msgs |      bytes |        rtt |         dr |     dr_m/s |"
          "    dr_MB/s |     dr_err |     tx_err |       outq |     offset", flush=True)
    sent = acked = failed = 0
    correlation = 0
    outstanding = {}  # correlation id -> partition
    buf = b""
    t0 = time.monotonic()
    next_row = t0 + a.interval_ms / 1000.0

    def row(now):
        ms = (now - t0) * 1000.0
        rate = acked / max(now - t0, 1e-9)
        print(f"| {ms:10.0f} | {sent:10d} | {sent * a.size:10d} | {0:10d} | {acked:10d} | "
              f"{rate:10.0f} | {rate * a.size / 1e6:10.2f} | {failed:10d} | {0:10d} | "
              f"{len(outstanding) * count:10d} | {0:10d}", flush=True)

    try:
        while not stop:
            while len(outstanding) < a.in_flight and not stop:
                partition = correlation % a.partitions
                request = requests[partition]
                struct.pack_into(">i", request, 8, correlation)  # after size, api key, version
                sock.sendall(request)
                outstanding[correlation] = partition
                correlation += 1
                sent += count
            buf = recv_exact(sock, 4, buf)
            (length,) = struct.unpack_from(">i", buf)
            buf = recv_exact(sock, 4 + length, buf)
            frame, buf = buf[4:4 + length], buf[4 + length:]
            (cid,) = struct.unpack_from(">i", frame)
            if outstanding.pop(cid, None) is None:
                sys.exit(f"unexpected correlation id {cid}")
            if partition_error(frame[4:]) == 0:
                acked += count
            else:
                failed += count
            now = time.monotonic()
            if now >= next_row:
                row(now)
                next_row += a.interval_ms / 1000.0
    except (ConnectionError, OSError) as e:
        if not stop:
            sys.exit(f"replay: {e}")
    row(time.monotonic())


if __name__ == "__main__":
    main()

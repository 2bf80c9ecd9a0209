#!/usr/bin/env python3
"""Bad requests on a raw socket: what comes back (error code, or the connection closed).

    raw.py errors BOOTSTRAP PREFIX

Only the `errors` scenario: requests no client library sends on purpose. Prints one line per
probe; exit 0 unless the broker cannot be reached (64 for every other scenario).
"""
import socket
import struct
import sys

SCENARIO, BOOT = sys.argv[1], sys.argv[2]
HOST, PORT = BOOT.rsplit(":", 1)


def frame(api_key, version, body, flexible_header=False, correlation=7):
    header = struct.pack(">hhi", api_key, version, correlation) + struct.pack(">h", 3) + b"raw"
    if flexible_header:
        header += b"\x00"
    msg = header + body
    return struct.pack(">i", len(msg)) + msg


def exchange(data):
    """Sends data; returns the response body (after the correlation id) or 'closed'."""
    s = socket.create_connection((HOST, int(PORT)), timeout=10)
    try:
        s.sendall(data)
        head = b""
        while len(head) < 4:
            chunk = s.recv(4 - len(head))
            if not chunk:
                return "closed"
            head += chunk
        (n,) = struct.unpack(">i", head)
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                return "closed"
            body += chunk
        return body[4:]
    except (ConnectionResetError, socket.timeout) as e:
        return "closed" if isinstance(e, ConnectionResetError) else "timeout"
    finally:
        s.close()


def main():
    if SCENARIO != "errors":
        print(f"n/a: raw has no {SCENARIO} scenario")
        sys.exit(64)
    # ApiVersions v99 sent as a current client sends v4 (request header v2, client software name
    # and version): KIP-511, a v0 body with UNSUPPORTED_VERSION (35) and the supported ranges.
    r = exchange(frame(18, 99, b"\x04raw\x041.0\x00", flexible_header=True))
    if r in ("closed", "timeout"):
        print("apiversions-v99", r)
    else:
        (err,) = struct.unpack(">h", r[:2])
        (count,) = struct.unpack(">i", r[2:6])
        (first_key,) = struct.unpack(">h", r[6:8]) if count > 0 else (None,)
        print(f"apiversions-v99 error={err} keys-in-v0-body={'only-apiversions' if count == 1 and first_key == 18 else 'many'}")
    # Metadata v99: an unsupported version of another API.
    print("metadata-v99", "closed" if exchange(frame(3, 99, b"")) in ("closed",) else "answered")
    # Metadata v1 whose topic array claims 1000000 entries but has none.
    r = exchange(frame(3, 1, struct.pack(">i", 1000000)))
    print("metadata-v1-short-array", r if isinstance(r, str) else "answered")
    # Metadata v1 with bytes left over after the body (null topics = all topics, then junk).
    r = exchange(frame(3, 1, struct.pack(">i", -1) + b"\x01\x02\x03"))
    print("metadata-v1-trailing-bytes", r if isinstance(r, str) else "answered")
    # Produce v14, newer than either broker serves. (Produce v2, which Kafka 4 advertises
    # (KAFKA-18659) but refuses, is served by Milena as Kafka 3.9 served it: FINDINGS.md finding 7.)
    body = struct.pack(">hi", 1, 1000) + struct.pack(">i", 0)  # acks, timeout, no topics
    r = exchange(frame(0, 14, body))
    print("produce-v14", r if isinstance(r, str) else "answered")
    # An unknown API key.
    r = exchange(frame(999, 0, b""))
    print("api-key-999", r if isinstance(r, str) else "answered")
    # A frame larger than socket.request.max.bytes (104857600): only the length is sent.
    s = socket.create_connection((HOST, int(PORT)), timeout=10)
    s.sendall(struct.pack(">i", 200 * 1024 * 1024))
    try:
        got = s.recv(4)
        print("oversized-frame", "closed" if not got else "answered")
    except ConnectionResetError:
        print("oversized-frame closed")
    except socket.timeout:
        print("oversized-frame timeout")
    s.close()


main()

#!/usr/bin/env python3
"""Time one leader failover of a 3-node cluster under a steady acks=all load.

    failover.py --out RUNS.jsonl --log RAW_PREFIX --pids 1=PID,2=PID,3=PID [--controller ID]
                [--kill-after S] [--timeout S] [--post S] [--tag key=value ...]
                -- PROBE_COMMAND... --load-- LOAD_COMMAND...

Starts the load (LOAD_COMMAND, e.g. kafka-producer-perf-test --throughput R) and the probe
(PROBE_COMMAND: bench/lib/failover-probe, one acks=all record to partition 0 every 50 ms, each
delivery timestamped, and the partition's leader as Metadata reports it). After --kill-after
seconds, when the probe's records are being acknowledged, it sends SIGKILL to the node the probe
last saw leading partition 0 (its pid from --pids) and notes the time. It waits for the first
record acknowledged after the kill by another node (at most --timeout s), lets both clients run
--post s more, stops them, and appends one JSON object to RUNS.jsonl:

  failover_ms        kill -> first acknowledged write on the new leader (the result)
  metadata_ms        kill -> first Metadata answer naming a live leader for partition 0
  first_ack_sent_ms  when that first acknowledged record had been sent, relative to the kill
                     (negative: sent before the kill and retried by the client)
  victim, new_leader, controller_killed (the victim was the active controller), probe_errors,
  probe_p50_ms (the probe's ack latency before the kill), isr_after (ISR size at the end) ...

Raw output: RAW_PREFIX-probe.log and RAW_PREFIX-load.log. Exits 0 even when the failover was not
seen (ok=false, error=...), so one bad run does not end a suite.
"""

import argparse
import json
import os
import re
import signal
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from measure import Client, CLIENTS, machine_busy_seconds  # noqa: E402


class Probe:
    """Parses the probe's lines as they arrive."""

    def __init__(self, client):
        self.client = client
        self.acks = []     # (t_sent, t_ack, offset, broker)
        self.errs = []     # (t_sent, t_ack, error)
        self.leaders = []  # (t, leader, isr)
        self.lock = threading.Lock()
        self.done = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                line = self.client.lines.get()
            except Exception:
                break
            if line is None:
                break
            f = line.split()
            with self.lock:
                try:
                    if f[0] == "ack" and len(f) == 5:
                        self.acks.append((float(f[1]), float(f[2]), int(f[3]), int(f[4])))
                    elif f[0] == "err" and len(f) >= 4:
                        self.errs.append((float(f[1]), float(f[2]), f[3]))
                    elif f[0] == "leader" and len(f) == 4:
                        self.leaders.append((float(f[1]), int(f[2]), int(f[3])))
                except (ValueError, IndexError):
                    pass
        self.done = True

    def snapshot(self):
        with self.lock:
            return list(self.acks), list(self.errs), list(self.leaders)


def now_ms():
    return time.time() * 1000.0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--log", required=True, help="prefix of the raw logs")
    p.add_argument("--pids", required=True, help="node=pid,node=pid,...")
    p.add_argument("--controller", type=int, default=None, help="the active controller's id")
    p.add_argument("--kill-after", type=float, default=5.0)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--post", type=float, default=3.0)
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    argv = sys.argv[1:]
    if "--" not in argv or "--load--" not in argv:
        p.error("need -- PROBE... --load-- LOAD...")
    i, j = argv.index("--"), argv.index("--load--")
    a = p.parse_args(argv[:i])
    probe_cmd, load_cmd = argv[i + 1:j], argv[j + 1:]
    pids = {int(k): int(v) for k, v in (kv.split("=") for kv in a.pids.split(","))}

    res = {}
    for kv in a.tag:
        k, _, v = kv.partition("=")
        res[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
    res.update(kind="failover", ok=False, started=time.strftime("%Y-%m-%dT%H:%M:%S"),
               log=os.path.basename(a.log) + "-probe.log", controller=a.controller)

    busy0, mono0 = machine_busy_seconds(), time.monotonic()
    load = Client(load_cmd, a.log + "-load.log")
    probe_client = Client(probe_cmd, a.log + "-probe.log")
    probe = Probe(probe_client)
    t_kill = None
    try:
        t_start = time.monotonic()
        # Before the kill: the probe must be getting acknowledgements, with a known leader.
        while True:
            time.sleep(0.1)
            if probe_client.proc.poll() is not None:
                raise RuntimeError(f"probe exited early (rc {probe_client.proc.returncode})")
            acks, _, leaders = probe.snapshot()
            ready = (acks and now_ms() - acks[-1][1] < 1000 and leaders and leaders[-1][1] in pids)
            if time.monotonic() - t_start >= a.kill_after and ready:
                break
            if time.monotonic() - t_start >= a.kill_after + 30:
                raise RuntimeError("the probe's records were not acknowledged before the kill "
                                   f"({len(acks)} acks, leaders seen {[l[1] for l in leaders]})")
        victim = leaders[-1][1]
        pre = [ack - sent for sent, ack, _, _ in acks[-40:]]
        res.update(victim=victim, controller_killed=(victim == a.controller),
                   probe_p50_ms=round(statistics.median(pre), 2),
                   probe_max_ms_before=round(max(pre), 2))
        t_kill = now_ms()
        os.kill(pids[victim], signal.SIGKILL)
        res["killed_pid"] = pids[victim]
        # The first record acknowledged after the kill by another node.
        deadline = time.monotonic() + a.timeout
        first = None
        while first is None and time.monotonic() < deadline:
            time.sleep(0.02)
            acks, _, _ = probe.snapshot()
            first = next((x for x in acks if x[1] > t_kill and x[3] != victim), None)
            if probe_client.proc.poll() is not None:
                break
        if first is None:
            res["error"] = f"no record acknowledged within {a.timeout:g} s of the kill"
        time.sleep(a.post)
    except RuntimeError as e:
        res["error"] = str(e)
    finally:
        for c, name in ((probe_client, "probe"), (load, "load")):
            rc = c.stop(grace=5.0)
            time.sleep(0.05)
            c.close(f"exit {rc}")

    busy1, mono1 = machine_busy_seconds(), time.monotonic()
    if busy0 is not None and busy1 is not None:
        res["machine_cpu_util"] = round((busy1 - busy0) / (mono1 - mono0), 3)  # busy cores, whole trial
    acks, errs, leaders = probe.snapshot()
    if t_kill is not None:
        res["probe_errors"] = len([e for e in errs if e[1] > t_kill])
        res["probe_error_names"] = ",".join(sorted({e[2] for e in errs}))
        late_old = [x for x in acks if x[1] > t_kill and x[3] == res.get("victim")]
        res["acks_from_victim_after_kill"] = len(late_old)
        first = next((x for x in acks if x[1] > t_kill and x[3] != res.get("victim")), None)
        before = [x for x in acks if x[1] <= t_kill]
        if before:
            res["last_ack_before_kill_ms"] = round(before[-1][1] - t_kill, 1)
        if first:
            res.update(failover_ms=round(first[1] - t_kill, 1),
                       first_ack_sent_ms=round(first[0] - t_kill, 1), new_leader=first[3])
            res["ok"] = "error" not in res
        md = next((l for l in leaders if l[0] > t_kill and l[1] not in (-1, res.get("victim"))), None)
        if md:
            res["metadata_ms"] = round(md[0] - t_kill, 1)
            res["metadata_leader"] = md[1]
        none = next((l for l in leaders if l[0] > t_kill and l[1] == -1), None)
        if none:
            res["metadata_no_leader_ms"] = round(none[0] - t_kill, 1)
        if leaders:
            res["isr_after"] = leaders[-1][2]
        # The probe's latency once failed over: records sent after the first acknowledgement.
        after = [x for x in acks if first and x[0] >= first[1]]
        if after:
            res["probe_p50_ms_after"] = round(statistics.median(
                [ack - sent for sent, ack, _, _ in after]), 2)
        res["probe_acks"] = len(acks)
    for k, v in list(res.items()):
        if isinstance(v, float):
            res[k] = round(v, 3)
    line = json.dumps(res, sort_keys=True)
    with open(a.out, "a") as f:
        f.write(line + "\n")
    print(line)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        for c in CLIENTS:
            c.stop(grace=3.0)
        sys.exit(130)

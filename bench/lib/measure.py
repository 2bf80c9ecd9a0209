#!/usr/bin/env python3
"""Run one load-generator command against one broker and measure both.

    measure.py KIND --pid BROKER_PID --log RAW.log --out RUNS.jsonl [--size B] [--warmup S]
               [--duration S] [--timeout S] [--expect N] [--tag key=value ...] -- COMMAND...

KIND says how to bound the run and read the client's output:

  rdkafka-produce  rdkafka_performance -P -u (a table row per display interval, no -c): the
                   measured window opens at the first row at or past WARMUP seconds and closes at
                   the first row at or past WARMUP+DURATION; then the client gets SIGINT. The rate
                   is the delivered-message delta between those two rows over their elapsed delta,
                   and the broker's CPU and RSS are sampled the moment each row is read, so
                   warm-up is excluded from every number.
  rdkafka-produce-count
                   rdkafka_performance -P -u -c N (count-bounded; bench/lib/factors.sh): runs to
                   its end; the rate is the tool's own, from its last row (printed at exit):
                   delivered records over the time from its first produce call to the last
                   delivery report. Broker CPU over the whole run. --expect N: every record must
                   be delivered.
  rdkafka-consume  rdkafka_performance -C -e: runs to the end of the backlog; its own summary
                   (first message to end of every partition) gives the rate.
  java-produce     kafka-producer-perf-test --throughput R: count-bounded; the final line gives
                   the achieved rate and the latency percentiles. The tool has no warm-up option
                   in 4.1, so the percentiles cover the whole run. With --print-metrics, the
                   producer's batch-size-avg, records-per-request-avg, request-latency-avg,
                   record-queue-time-avg and request-rate are kept too (java_*).
  java-produce-max kafka-producer-perf-test --throughput -1 with a huge count, bounded by time:
                   the rate comes from its 5-second report lines between WARMUP and
                   WARMUP+DURATION seconds; then the client gets SIGINT.
  java-consume     kafka-consumer-perf-test: count-bounded; rate from its fetch time.
  json             a client that prints, last, one line `RESULT {json}` (bench/lib/scale.py): runs
                   to its end (bounded by --timeout; SIGINT when it is reached) and its fields
                   join the row; an "error" field among them fails the run. The broker's open
                   file descriptors (/proc/PID/fd) are counted at its end too (open_fds, with
                   its soft limit fd_limit); a broker within 16 of its limit fails the run.

Broker CPU is utime+stime of BROKER_PID (from /proc/PID/stat, all threads) over the measured
span; RSS is VmRSS and VmHWM from /proc/PID/status at its end. --pid P1,P2,P3 (the nodes of a
cluster) sums both over the processes. The client's own CPU use is recorded too, to tell a
client-bound run; and the whole machine's busy CPU over the span (machine_cpu_util, in cores) and
what neither broker nor client used of it (other_cpu_util: another job on the machine). Appends one JSON object to RUNS.jsonl (and prints it);
exits 0 even when the run failed (ok=false, error=...), so one bad run does not end a suite.
The raw client output goes to RAW.log.
"""

import argparse
import json
import os
import queue
import re
import resource
import signal
import subprocess
import sys
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime+stime of a process (all its threads), in seconds; None when it is gone. A list of
    pids (the nodes of a cluster): the sum, None when any is gone."""
    if isinstance(pid, (list, tuple)):
        vals = [cpu_seconds(p) for p in pid]
        return None if any(v is None for v in vals) else sum(vals)
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # fields[0] is field 3 (state)
    if fields[0] == "Z":
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kb(pid):
    """VmRSS and VmHWM; for a list of pids, the sums over the processes."""
    if isinstance(pid, (list, tuple)):
        out = {"vmrss_kb": None, "vmhwm_kb": None}
        for p in pid:
            for k, v in memory_kb(p).items():
                if v is not None:
                    out[k] = (out[k] or 0) + v
        return out
    out = {"vmrss_kb": None, "vmhwm_kb": None}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["vmrss_kb"] = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    out["vmhwm_kb"] = int(line.split()[1])
    except OSError:
        pass
    return out


def open_fds(pid):
    """How many file descriptors the process has open (sockets, segment files, ...); None when
    it is gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def fd_limit(pid):
    """The process's soft open-file limit (/proc/PID/limits), None if unknown."""
    try:
        with open(f"/proc/{pid}/limits") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        pass
    return None


# Within this many descriptors of its limit a broker counts as out of them: it can no longer
# accept a connection or open a segment.
FD_MARGIN = 16


def machine_busy_seconds():
    """CPU-seconds the whole machine spent busy (every core, /proc/stat: all but idle and
    iowait), to tell how much of a window other processes used."""
    try:
        with open("/proc/stat") as f:
            cols = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(cols[:8]) - cols[3] - cols[4]  # user nice system idle iowait irq softirq steal
    return busy / CLK_TCK


class Sample:
    """The broker's and the client's CPU at one instant."""

    def __init__(self, broker_pid, client_pid):
        self.t = time.monotonic()
        self.broker_cpu = cpu_seconds(broker_pid)
        self.client_cpu = cpu_seconds(client_pid) if client_pid else None
        self.machine_busy = machine_busy_seconds()


CLIENTS = []  # started clients, stopped on Ctrl-C


class Client:
    """The load generator: stdout+stderr go to the raw log and, line by line, to a queue."""

    def __init__(self, cmd, log_path):
        self.log = open(log_path, "a", buffering=1)
        self.log.write("$ " + " ".join(cmd) + "\n")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True, errors="replace",
                                     bufsize=1)
        self.lines = queue.Queue()
        self.all = []
        CLIENTS.append(self)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.log.write(line)
            self.all.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def next_line(self, deadline):
        """The next output line, None at end of output, or TimeoutError at the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        try:
            return self.lines.get(timeout=left)
        except queue.Empty:
            raise TimeoutError from None

    def stop(self, grace=10.0):
        """SIGINT (the tools' own stop), again after `grace`, then SIGKILL: never hangs."""
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGINT, 5.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        return self.proc.wait()

    def finish(self, deadline):
        """Wait for the client to exit by itself before the deadline, else stop it."""
        try:
            rc = self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            timed_out = False
        except subprocess.TimeoutExpired:
            rc = self.stop(grace=2.0)
            timed_out = True
        time.sleep(0.05)  # let the pump thread drain the last lines
        return rc, timed_out

    def close(self, note):
        self.log.write(f"# {note}\n")
        self.log.close()


def rdkafka_table_row(line):
    """A data row of rdkafka_performance -u (producer): dict of its columns, or None."""
    if not line.startswith("|") or "elapsed" in line:
        return None
    cols = [c.strip() for c in line.strip().strip("|").split("|")]
    names = ["elapsed", "msgs", "bytes", "rtt", "dr", "dr_m/s", "dr_MB/s", "dr_err", "tx_err",
             "outq", "offset"]
    try:
        return {n: float(v) for n, v in zip(names, cols)}
    except ValueError:
        return None


def run_rdkafka_produce(a, res):
    warm_ms, end_ms = a.warmup * 1000.0, (a.warmup + a.duration) * 1000.0
    client = Client(a.cmd, a.log)
    deadline = time.monotonic() + a.warmup + a.duration + a.timeout
    start = end = None
    first = last = None
    try:
        while end is None:
            line = client.next_line(deadline)
            if line is None:
                raise RuntimeError(f"client exited early (rc {client.proc.wait()})")
            row = rdkafka_table_row(line)
            if row is None:
                continue
            capped = a.max_mb > 0 and row["dr"] * a.size >= a.max_mb * 1048576
            if start is None and row["elapsed"] >= warm_ms:
                start, first = Sample(a.pid, client.proc.pid), row
            elif start is not None and (row["elapsed"] >= end_ms or capped):
                end, last = Sample(a.pid, client.proc.pid), row
                res.update(memory_kb(a.pid))
                if capped and row["elapsed"] < end_ms:
                    res["capped_at_mb"] = a.max_mb
            elif capped:
                raise RuntimeError(f"--max-mb {a.max_mb} reached during the warm-up")
    except TimeoutError:
        res["error"] = "no progress before the deadline"
    except RuntimeError as e:
        res["error"] = str(e)
    rc = client.stop()
    client.close(f"exit {rc}")
    if end is None:
        return
    secs = (last["elapsed"] - first["elapsed"]) / 1000.0
    msgs = last["dr"] - first["dr"]
    res.update(seconds=secs, msgs=int(msgs), bytes=int(msgs * a.size),
               delivery_errors=int(last["dr_err"] - first["dr_err"]))
    account(res, start, end, span=secs)
    if res["delivery_errors"]:
        res["error"] = f"{res['delivery_errors']} delivery errors in the window"
    else:
        res["ok"] = True


def run_rdkafka_produce_count(a, res):
    start = Sample(a.pid, None)
    client = Client(a.cmd, a.log)
    rc, timed_out = client.finish(time.monotonic() + a.timeout)
    end = Sample(a.pid, None)
    res.update(memory_kb(a.pid))
    client.close(f"exit {rc}")
    rows = [r for r in map(rdkafka_table_row, client.all) if r]
    if timed_out or not rows or rc != 0:
        res["error"] = "timed out" if timed_out else (f"exit {rc}" if rows else f"no table row (exit {rc})")
        return
    last = rows[-1]
    msgs = int(last["dr"])
    res.update(seconds=last["elapsed"] / 1000.0, msgs=msgs, bytes=msgs * a.size,
               delivery_errors=int(last["dr_err"]))
    account(res, start, end, span=end.t - start.t)
    if res["delivery_errors"]:
        res["error"] = f"{res['delivery_errors']} delivery errors"
    elif a.expect and msgs != a.expect:
        res["error"] = f"delivered {msgs} records, expected {a.expect}"
    else:
        res["ok"] = True


# "% 2097152 messages (2147483648 bytes) consumed in 3034ms: 691216 msgs/s (707.81 MB/s)"
RDK_CONSUMED = re.compile(r"% (\d+) messages \((\d+) bytes\) consumed in (\d+)ms")


def run_rdkafka_consume(a, res):
    start = Sample(a.pid, None)
    client = Client(a.cmd, a.log)
    rc, timed_out = client.finish(time.monotonic() + a.timeout)
    end = Sample(a.pid, None)
    res.update(memory_kb(a.pid))
    client.close(f"exit {rc}")
    found = [m for m in map(RDK_CONSUMED.search, client.all) if m]
    if timed_out or not found:
        res["error"] = "timed out" if timed_out else f"no summary line (exit {rc})"
        return
    msgs, nbytes, ms = (int(x) for x in found[-1].groups())
    res.update(seconds=ms / 1000.0, msgs=msgs, bytes=nbytes)
    account(res, start, end, span=end.t - start.t)
    if a.expect and msgs != a.expect:
        res["error"] = f"consumed {msgs} records, expected {a.expect}"
    else:
        res["ok"] = True


# "1000 records sent, 199.9 records/sec (0.19 MB/sec), 2.1 ms avg latency, 30.0 ms max latency."
# the final line adds ", 2 ms 50th, 5 ms 95th, 9 ms 99th, 30 ms 99.9th."
JAVA_SENT = re.compile(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), "
                       r"([\d.]+) ms avg latency, ([\d.]+) ms max latency")
JAVA_PCT = re.compile(r"(\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th")


# --print-metrics: "producer-metrics:batch-size-avg:{client-id=perf-producer-client}   : 186304.541"
JAVA_METRIC = re.compile(r"^producer-metrics:(batch-size-avg|records-per-request-avg|request-latency-avg|"
                         r"record-queue-time-avg|request-rate):\{[^}]*\}\s*:\s*([0-9.Ee+-]+)\s*$")


def run_java_produce(a, res):
    start = Sample(a.pid, None)
    client = Client(a.cmd, a.log)
    rc, timed_out = client.finish(time.monotonic() + a.timeout)
    end = Sample(a.pid, None)
    res.update(memory_kb(a.pid))
    client.close(f"exit {rc}")
    final = [(JAVA_SENT.search(l), JAVA_PCT.search(l)) for l in client.all]
    final = [(s, p) for s, p in final if s and p]
    if timed_out or not final or rc != 0:
        res["error"] = "timed out" if timed_out else f"no final line (exit {rc})"
        return
    s, p = final[-1]
    records = int(s.group(1))
    res.update(msgs=records, bytes=records * a.size,
               avg_ms=float(s.group(4)), max_ms=float(s.group(5)),
               p50_ms=float(p.group(1)), p95_ms=float(p.group(2)),
               p99_ms=float(p.group(3)), p999_ms=float(p.group(4)))
    res["seconds"] = records / float(s.group(2)) if float(s.group(2)) > 0 else None
    for line in client.all:  # the producer's own view, to tell why a client fell behind
        m = JAVA_METRIC.match(line.strip())
        if m:
            res["java_" + m.group(1).replace("-", "_")] = float(m.group(2))
    account(res, start, end, span=end.t - start.t)
    if a.expect and records != a.expect:
        res["error"] = f"sent {records} records, expected {a.expect}"
    else:
        res["ok"] = True


def run_java_produce_max(a, res):
    """kafka-producer-perf-test --throughput -1, bounded by time: the measured window runs from
    the first 5 s report line at or past WARMUP seconds to the first one at or past
    WARMUP+DURATION; the records are those of the report lines inside it, the span the time
    between the two lines' arrival. Then SIGINT (the tool's final line is not needed)."""
    client = Client(a.cmd, a.log)
    t0 = time.monotonic()
    deadline = t0 + a.warmup + a.duration + a.timeout
    start = end = None
    n = 0
    try:
        while end is None:
            line = client.next_line(deadline)
            if line is None:
                raise RuntimeError(f"client exited early (rc {client.proc.wait()})")
            m = JAVA_SENT.search(line)
            if not m or JAVA_PCT.search(line):
                continue
            now = time.monotonic()
            if start is None:
                if now - t0 >= a.warmup:
                    start = Sample(a.pid, client.proc.pid)
                continue
            n += int(m.group(1))
            if now - start.t >= a.duration:
                end = Sample(a.pid, client.proc.pid)
                res.update(memory_kb(a.pid))
    except TimeoutError:
        res["error"] = "no progress before the deadline"
    except RuntimeError as e:
        res["error"] = str(e)
    rc = client.stop(grace=5.0)
    client.close(f"exit {rc}")
    if end is None:
        return
    res.update(seconds=end.t - start.t, msgs=n, bytes=n * a.size)
    account(res, start, end, span=end.t - start.t)
    res["ok"] = "error" not in res


def run_java_consume(a, res):
    start = Sample(a.pid, None)
    client = Client(a.cmd, a.log)
    rc, timed_out = client.finish(time.monotonic() + a.timeout)
    end = Sample(a.pid, None)
    res.update(memory_kb(a.pid))
    client.close(f"exit {rc}")
    # start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
    # rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec   (MB = 2^20 bytes)
    rows = [l.split(", ") for l in client.all if l.count(", ") == 9 and "start.time" not in l]
    if timed_out or not rows:
        res["error"] = "timed out" if timed_out else f"no result line (exit {rc})"
        return
    r = rows[-1]
    msgs, fetch_ms = int(r[4]), float(r[7])
    res.update(msgs=msgs, bytes=int(round(float(r[2]) * 1048576)), seconds=fetch_ms / 1000.0)
    account(res, start, end, span=end.t - start.t)
    if a.expect and msgs < a.expect:
        res["error"] = f"consumed {msgs} records, expected {a.expect}"
    else:
        res["ok"] = True


def run_json(a, res):
    start = Sample(a.pid, None)
    client = Client(a.cmd, a.log)
    rc, timed_out = client.finish(time.monotonic() + a.timeout)
    end = Sample(a.pid, None)
    res.update(memory_kb(a.pid))
    res["open_fds"], res["fd_limit"] = open_fds(a.pid), fd_limit(a.pid)
    client.close(f"exit {rc}")
    found = [l.strip()[len("RESULT "):] for l in client.all if l.strip().startswith("RESULT ")]
    try:
        fields = json.loads(found[-1]) if found else None
    except ValueError:
        fields = None
    if fields is None:
        res["error"] = "timed out" if timed_out else f"no RESULT line (exit {rc})"
    else:
        res.update(fields)
        if timed_out and "error" not in res:
            res["error"] = "timed out"
    res["seconds_run"] = round(end.t - start.t, 3)
    account(res, start, end, span=end.t - start.t)
    if res["open_fds"] is not None and res["fd_limit"] and \
            res["open_fds"] >= res["fd_limit"] - FD_MARGIN:
        note = (f"the broker is at its open-file limit ({res['open_fds']} of {res['fd_limit']} "
                f"descriptors)")
        if "open-file limit" not in res.get("error", ""):  # scale.py may have said it already
            res["error"] = f"{res['error']}; {note}" if "error" in res else note
    res["ok"] = "error" not in res


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def account(res, start, end, span):
    """Rates, and broker/client CPU per GB moved over the measured span."""
    if res.get("seconds"):
        res["msgs_per_s"] = res["msgs"] / res["seconds"]
        res["mb_per_s"] = res["bytes"] / res["seconds"] / 1e6
    if start.broker_cpu is None or end.broker_cpu is None:
        res["error"] = "broker process gone"
        return
    cpu = end.broker_cpu - start.broker_cpu
    res["broker_cpu_s"] = round(cpu, 3)
    res["broker_cpu_util"] = round(cpu / span, 3) if span > 0 else None
    if res.get("bytes"):
        res["cpu_s_per_gb"] = round(cpu / (res["bytes"] / 1e9), 4)
    if start.client_cpu is not None and end.client_cpu is not None and span > 0:
        res["client_cpu_util"] = round((end.client_cpu - start.client_cpu) / span, 3)
    elif start.client_cpu is None and end.client_cpu is None and span > 0:
        # A client that ran to its end: its whole CPU use (measure.py waits for no other child).
        res["client_cpu_util"] = round(children_cpu() / span, 3)
    if start.machine_busy is not None and end.machine_busy is not None and span > 0:
        # Busy cores of the whole machine over the span, and what neither the broker nor the
        # client used of it: other processes (another job on the machine, the kernel's writeback).
        busy = (end.machine_busy - start.machine_busy) / span
        res["machine_cpu_util"] = round(busy, 3)
        if res.get("client_cpu_util") is not None and res.get("broker_cpu_util") is not None:
            res["other_cpu_util"] = round(busy - res["broker_cpu_util"] - res["client_cpu_util"], 3)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("kind", choices=["rdkafka-produce", "rdkafka-produce-count", "rdkafka-consume", "java-produce",
                                    "java-produce-max", "java-consume", "json"])
    p.add_argument("--pid", required=True,
                   help="broker pid; comma-separated pids for a cluster (CPU and RSS summed)")
    p.add_argument("--log", required=True, help="raw client output (appended)")
    p.add_argument("--out", required=True, help="JSON lines file (appended)")
    p.add_argument("--size", type=int, default=0, help="record value size in bytes")
    p.add_argument("--warmup", type=float, default=0.0)
    p.add_argument("--duration", type=float, default=0.0)
    p.add_argument("--max-mb", type=float, default=0.0,
                   help="rdkafka-produce: also close the window once this many MiB were delivered")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="rdkafka-produce: grace after warm-up+duration; others: whole run")
    p.add_argument("--expect", type=int, default=0, help="records the run must move")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    argv = sys.argv[1:]
    if "--" not in argv:
        p.error("no -- COMMAND")
    split = argv.index("--")
    a = p.parse_args(argv[:split])
    a.cmd = argv[split + 1:]
    a.pid = [int(x) for x in a.pid.split(",")]
    if len(a.pid) == 1:
        a.pid = a.pid[0]
    if not a.cmd:
        p.error("no command after --")

    res = {}
    for kv in a.tag:
        k, _, v = kv.partition("=")
        res[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
    res.update(kind=a.kind, ok=False, started=time.strftime("%Y-%m-%dT%H:%M:%S"),
               log=os.path.basename(a.log))
    if cpu_seconds(a.pid) is None:
        res["error"] = f"broker pid {a.pid} is not running"
    else:
        {"rdkafka-produce": run_rdkafka_produce, "rdkafka-produce-count": run_rdkafka_produce_count,
         "rdkafka-consume": run_rdkafka_consume,
         "java-produce": run_java_produce, "java-produce-max": run_java_produce_max,
         "java-consume": run_java_consume, "json": run_json}[a.kind](a, res)
    for k, v in list(res.items()):
        if isinstance(v, float):
            res[k] = round(v, 4)
    line = json.dumps(res, sort_keys=True)
    with open(a.out, "a") as f:
        f.write(line + "\n")
    print(line)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # Ctrl-C reached the client too (same process group); make sure it is gone, quietly:
        # bench/run.sh's trap stops the brokers.
        for c in CLIENTS:
            c.stop(grace=3.0)
        sys.exit(130)

#!/usr/bin/env python3
"""Numbers for bench/run.sh (standard library only).

    report.py report RESULTS_DIR            rounds.csv, summary.md, plot.dat/plot.gp -> plot.png
    report.py basis RESULTS_DIR WORKLOAD [TOOL]
                                            the slower broker's median msgs/s for WORKLOAD (the
                                            basis of the fixed-rate latency runs); empty if unknown
    report.py factors RESULTS_DIR           the factors phase's table (bench/lib/factors.sh), printed
                                            and written to factors.md
    report.py disk PATH BLOCK_BYTES SECONDS sequential appends of BLOCK_BYTES, each followed by
                                            fdatasync, for SECONDS; prints key=value lines
    report.py disk-run RUNS.jsonl PATH BLOCK_BYTES SECONDS WARMUP [key=value ...]
                                            the same after WARMUP seconds, appended to RUNS.jsonl
                                            as a run of broker "disk" (each fsync round)
"""

import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

BROKERS = ("milena", "kafka")

# Targets of issue 7: shown next to the ratios, never enforced.
TARGET_PRODUCE = 2.0        # Milena/Kafka produce throughput >= 2x
TARGET_CONSUME = 2.0        # consume catch-up >= 2x
TARGET_P99_AT_50 = 1 / 3    # p99 produce latency at 50% load <= 1/3 of Kafka's
TARGET_RSS = 0.10           # broker RSS <= 1/10 of Kafka's
TARGET_CPU_PER_GB = 0.3     # broker CPU-seconds per GB <= 0.3
TARGET_FSYNC_OF_DISK = 0.8  # with fsync before ack >= 80% of the disk's fsync'd write rate
# Issue 14's floors (the targets above are issue 7's goals).
FLOOR_PRODUCE = 1.2         # every produce workload >= 1.2x Kafka with the same client
FLOOR_CONSUME = 1.5         # consume catch-up >= 1.5x with rdkafka and with the Java consumer
FLOOR_CONSUME_CPU = 0.35    # broker CPU-seconds per GB consumed



def page_cache_note(meta):
    """The summary's sentence on the page cache (lib/ballast.py) and the produce byte cap."""
    note = ""
    if meta.get("page_cache") == "warm":
        note += (f" Then free memory is filled with clean page cache down to "
                 f"{meta.get('ballast_keep_mb', '?')} MiB (`lib/ballast.py`), as on a host that has "
                 "been up a while: on this VM, memory left free is handed back to the host and "
                 "writing into it costs the writer ~2 CPU-s per GB of its own system time.")
    elif meta.get("page_cache") == "free":
        note += " Free memory is left free (PAGE_CACHE=free): writes into it cost the writer more."
    if meta.get("produce_max_mb"):
        note += (f" A produce run also ends once {meta['produce_max_mb']} MiB were delivered "
                 "(disk space); such runs have `capped_at_mb` set in rounds.csv.")
    return note

def load_runs(results):
    runs = []
    with open(os.path.join(results, "runs.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


def load_meta(results):
    meta = {}
    path = os.path.join(results, "meta.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, sep, v = line.rstrip("\n").partition("=")
                if sep:
                    meta[k] = v
    return meta


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def rate_of(r):
    return r.get("msgs_per_s")


def mb_of(r):
    return r.get("mb_per_s")


class Workload:
    """The ok runs of one workload, per broker and round, and per-round Milena/Kafka ratios."""

    def __init__(self, name, runs):
        self.name = name
        self.runs = runs
        self.ok = [r for r in runs if r.get("ok")]
        self.failed = [r for r in runs if not r.get("ok")]
        first = runs[0]
        self.phase, self.tool = first.get("phase"), first.get("tool")

    def by(self, broker):
        return [r for r in self.ok if r["broker"] == broker]

    def value(self, broker, fn):
        return median([fn(r) for r in self.by(broker)])

    def ratios(self, fn):
        """Per-round fn(milena)/fn(kafka), for rounds where both ran fine."""
        out = []
        rounds = sorted({r["round"] for r in self.ok})
        for rnd in rounds:
            m = [fn(r) for r in self.ok if r["round"] == rnd and r["broker"] == "milena"]
            k = [fn(r) for r in self.ok if r["round"] == rnd and r["broker"] == "kafka"]
            if m and k and m[0] is not None and k[0]:
                out.append(m[0] / k[0])
        return out


def group(runs):
    order, groups = [], {}
    for r in runs:
        w = r.get("workload", "?")
        if w not in groups:
            order.append(w)
            groups[w] = []
        groups[w].append(r)
    return [Workload(w, groups[w]) for w in order]


def fmt(x, digits=1):
    if x is None:
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def fmt_ratio(rs):
    if not rs:
        return "–"
    med = statistics.median(rs)
    if len(rs) == 1:
        return f"{med:.2f}"
    return f"{med:.2f} ({min(rs):.2f}–{max(rs):.2f})"


def verdict(value, target, higher_is_better):
    if value is None:
        return "–"
    met = value >= target if higher_is_better else value <= target
    return "met" if met else "not met"


def label(w):
    """produce-100B-acks1-p8 -> '100 B, acks=1, 8 part.'"""
    n = w.name
    parts = []
    for tok in n.split("-"):
        if tok.endswith("B") and tok[:-1].isdigit():
            parts.append(f"{tok[:-1]} B")
        elif tok.startswith("acks"):
            parts.append("acks=" + tok[4:])
        elif tok.startswith("p") and tok[1:].isdigit():
            parts.append(f"{tok[1:]} part.")
        elif tok.startswith("rdk") and tok[3:4].isdigit():  # the produce phase's client
            parts.append(f"librdkafka {tok[3:]}")
    return ", ".join(parts) if parts else n


# ---------------------------------------------------------------------------------------------


def write_csv(results, runs):
    preferred = ["phase", "workload", "round", "broker", "tool", "ok", "error", "size", "acks",
                 "partitions", "load_pct", "target_rate", "seconds", "msgs", "bytes",
                 "msgs_per_s", "mb_per_s", "p50_ms", "p95_ms", "p99_ms",
                 "p999_ms", "avg_ms", "max_ms", "java_batch_size_avg",
                 "java_records_per_request_avg", "java_request_latency_avg",
                 "java_record_queue_time_avg", "java_request_rate", "broker_cpu_s", "broker_cpu_util",
                 "cpu_s_per_gb", "client_cpu_util", "vmrss_kb", "vmhwm_kb", "delivery_errors",
                 "kind", "started", "log"]
    keys = preferred + sorted({k for r in runs for k in r} - set(preferred))
    with open(os.path.join(results, "rounds.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in runs:
            w.writerow(r)


def pair_ratios(runs, fn, key=("round",)):
    """fn(milena)/fn(kafka) for each (round[, trial]) where both brokers have an ok value."""
    by = {}
    for r in runs:
        if r.get("ok") and fn(r) is not None:
            by.setdefault(tuple(r.get(k) for k in key), {})[r["broker"]] = fn(r)
    return [v["milena"] / v["kafka"] for v in by.values()
            if "milena" in v and v.get("kafka")]


def med_range(xs, digits=0, unit=""):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "–"
    med = statistics.median(xs)
    if len(xs) == 1:
        return f"{fmt(med, digits)}{unit}"
    return f"{fmt(med, digits)}{unit} ({fmt(min(xs), digits)}–{fmt(max(xs), digits)})"


def restart_section(p, runs, meta):
    """Time to serve again after a clean stop and after kill -9 (bench/lib/restart.sh)."""
    parts, mb = meta.get("restart_partitions", "?"), meta.get("restart_mb", "?")
    seg = int(meta.get("restart_segment_bytes", "0") or 0) // 1048576
    p("## Restart: time until the broker serves again")
    p("")
    p(f"One broker holding {parts} partitions × {mb} MiB of 1 KiB records (segment.bytes "
      f"{seg} MiB), page cache warm. **clean**: SIGTERM, then a restart; **kill9**: SIGKILL, then "
      "a restart (recovery scans what was not yet flushed). Measured from the exec of the broker "
      "to its first Metadata answer naming every partition with a leader (`lib/ready.py`, a "
      "probe every 5 ms); Kafka's figure includes its JVM start. Medians over rounds, "
      "(min–max).")
    p("")
    p("| restart | Milena ms | Kafka ms | Milena/Kafka | target (Milena) |")
    p("| --- | --- | --- | --- | --- |")
    targets = {"restart-clean": 200, "restart-kill9": 2000}
    for wl in ("restart-clean", "restart-kill9"):
        ms = {b: [r["ready_ms"] for r in runs if r.get("workload") == wl and r.get("broker") == b
                  and r.get("ready_ms") is not None] for b in BROKERS}
        errors = [r for r in runs if r.get("workload") == wl and r.get("error")]
        m, k = median(ms["milena"]), median(ms["kafka"])
        ratio = m / k if m is not None and k else None
        tgt = targets[wl]
        p(f"| {wl.split('-', 1)[1]} | {med_range(ms['milena'])} | {med_range(ms['kafka'])} | "
          f"{fmt(ratio, 3)} | < {tgt} ms: {verdict(m, tgt, False) if m is not None else '–'}"
          f"{f' ({len(errors)} not ready in time)' if errors else ''} |")
    p("")


def conversion_section(p, runs, meta):
    """Message format conversion (bench/lib/conversion.sh): the same rdkafka_performance as a
    modern client and as an old one (magic 0), against Milena and Kafka 3.9.1."""
    kv = meta.get("conversion_kafka_version", "3.9.1")
    p("## Message format conversion (old clients, issue 17)")
    p("")
    p(f"`rdkafka_performance` (librdkafka {runs[0].get('tool', '?').split('librdkafka ')[-1].rstrip(')')}) "
      "as a modern client (ApiVersions; Produce v7 / Fetch v11, v2 batches: no conversion) and as "
      "an old one (`api.version.request=false`, `broker.version.fallback=0.9.0`: Produce v1 / "
      "Fetch v1, magic 0 message sets, converted up on produce and down on fetch), against Milena "
      f"and Apache Kafka {kv} (the last Kafka that converts; Kafka 4 refuses these versions), each "
      "alone on the machine. Records of "
      f"{runs[0].get('size', '?')} B in {runs[0].get('partitions', '?')} partitions; produce acks=1, "
      "time-bounded; consume: catch-up of a backlog of "
      f"{meta.get('conversion_backlog_mb', '?')} MiB written by the modern producer. Medians over "
      "rounds (min–max); old/modern is what conversion costs on that broker (1.0: nothing).")
    p("")
    p(f"| workload | codec | Milena modern MB/s | Milena old MB/s | Milena old/modern | "
      f"Kafka {kv} modern MB/s | Kafka {kv} old MB/s | Kafka old/modern | Milena/Kafka (old) |")
    p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    ok = [r for r in runs if r.get("ok")]
    kinds = []
    for r in runs:
        key = (r.get("kind"), r.get("codec"))
        if key not in kinds:
            kinds.append(key)
    for kind, codec in kinds:
        def vals(b, mode):
            return [mb_of(r) for r in ok if r.get("kind") == kind and r.get("codec") == codec
                    and r["broker"] == b and r.get("mode") == mode]

        def per_round(fn_pairs):
            out = []
            for rnd in sorted({r["round"] for r in ok}):
                a, c = fn_pairs(rnd)
                if a and c and a[0] is not None and c[0]:
                    out.append(a[0] / c[0])
            return out

        def of(b, mode, rnd):
            return [mb_of(r) for r in ok if r.get("kind") == kind and r.get("codec") == codec
                    and r["broker"] == b and r.get("mode") == mode and r["round"] == rnd]

        cost = {b: per_round(lambda rnd, b=b: (of(b, "old", rnd), of(b, "modern", rnd)))
                for b in BROKERS}
        vs = per_round(lambda rnd: (of("milena", "old", rnd), of("kafka", "old", rnd)))
        p(f"| {kind} | {codec} | {med_range(vals('milena', 'modern'), 1)} | "
          f"{med_range(vals('milena', 'old'), 1)} | {med_range(cost['milena'], 2)} | "
          f"{med_range(vals('kafka', 'modern'), 1)} | {med_range(vals('kafka', 'old'), 1)} | "
          f"{med_range(cost['kafka'], 2)} | {med_range(vs, 2)} |")
    cpu = {(r["broker"], r.get("kind"), r.get("codec"), r.get("mode")): [] for r in ok}
    for r in ok:
        if r.get("cpu_s_per_gb") is not None:
            cpu[(r["broker"], r.get("kind"), r.get("codec"), r.get("mode"))].append(r["cpu_s_per_gb"])
    p("")
    p("Broker CPU-s per GB of record values (median), modern → old: " + "; ".join(
        f"{'Milena' if b == 'milena' else 'Kafka ' + kv} {kind} {codec} "
        f"{fmt(median(cpu.get((b, kind, codec, 'modern'), [])), 2)} → "
        f"{fmt(median(cpu.get((b, kind, codec, 'old'), [])), 2)}"
        for b in BROKERS for kind, codec in kinds) + ".")
    failed = [r for r in runs if not r.get("ok")]
    if failed:
        p("")
        p("Failed runs: " + "; ".join(f"{r.get('workload')} round {r.get('round')} {r.get('broker')}: "
                                        f"{r.get('error')}" for r in failed) + ".")
    p("")


def replicated_section(p, runs, meta):
    """## Replicated (3 nodes, RF 3): throughput, latency, failover, resources, machine load."""
    ws = group(runs)
    tput = [w for w in ws if w.phase in ("replicated", "replicated-xcheck")]
    lat = [w for w in ws if w.phase == "replicated-latency"]
    fo = [r for r in runs if r.get("phase") == "replicated-failover"]
    cpus, ccpus = meta.get("repl_broker_cpus", "?"), meta.get("client_cpus", "?")
    p("## Replicated (3 nodes, RF 3)")
    p("")
    p(f"Two 3-node clusters on this one machine, never both at once: Milena "
      f"(`target/release/milena`, a copy with sha256 {meta.get('repl_milena_sha256', '?')}…) and "
      f"Apache Kafka {meta.get('kafka_version', '')} (three JVMs, KAFKA_HEAP_OPTS="
      f"{meta.get('repl_kafka_heap_opts', '?')} each). Every node is a broker and a controller "
      "(KRaft combined mode), configured by the repository's `config/server-N.properties`, the "
      "same file for both brokers, with its own ports on 127.0.0.1 and data directory. "
      f"**All three nodes of a cluster share cpu {cpus}** (taskset, every thread), the clients run "
      f"on cpu {ccpus}: the absolute numbers are those of a whole cluster squeezed onto one core, "
      "replicating every byte twice over loopback; the Milena/Kafka ratios are what count. "
      f"Topics have replication factor 3 and min.insync.replicas=2; records {meta.get('repl_size', '1024')} B, "
      "acks=all (the leader acknowledges once every in-sync replica has the record). A cluster is "
      "started fresh for each block of runs and stopped after it; per round, Milena's block then "
      "Kafka's. Values are medians over rounds; ratios are the median of per-round Milena/Kafka "
      "ratios (min–max).")
    p("")
    if tput:
        p("### Produce throughput, acks=all")
        p("")
        p("| workload | generator | Milena MB/s (msgs/s) | Kafka MB/s (msgs/s) | Milena/Kafka | "
          "CPU-s/GB, 3 nodes M / K | RSS of 3 nodes, MB M / K | client cpu M / K |")
        p("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for w in tput:
            cells = [f"{fmt(w.value(b, mb_of))} ({fmt(w.value(b, rate_of), 0)})" for b in BROKERS]
            cpu = " / ".join(fmt(w.value(b, lambda r: r.get("cpu_s_per_gb")), 2) for b in BROKERS)
            rss = " / ".join(fmt(w.value(b, lambda r: (r.get("vmrss_kb") or 0) / 1024 or None), 0)
                             for b in BROKERS)
            cl = " / ".join("–" if c is None else f"{100 * c:.0f}%" for c in
                            [w.value(b, lambda r: r.get("client_cpu_util")) for b in BROKERS])
            kind = "" if w.phase == "replicated" else " (cross-check, latency basis)"
            p(f"| {label(w)}{kind} | {w.tool} | {cells[0]} | {cells[1]} | "
              f"{fmt_ratio(w.ratios(mb_of))} | {cpu} | {rss} | {cl} |")
        p("")
    if lat:
        p("### Produce latency at a fixed rate (kafka-producer-perf-test --throughput)")
        p("")
        for k, v in meta.items():
            if k.startswith("latency_basis_repl-"):
                basis, _, rest = v.partition(" ")
                p(f"The rate is a % of the slower cluster's median maximum for "
                  f"{k[len('latency_basis_'):]}: basis {basis or '–'} msgs/s ("
                  + ", ".join(f"{x.split('=')[0]} {x.split('=')[1] or '–'}"
                              for x in rest.split() if "=" in x) +
                  " msgs/s; LATENCY_BASIS as in the latency phase). A warm-up run at the same "
                  "rate precedes each measured run; percentiles in ms over the measured run.")
        p("")
        p("| workload | load | target msgs/s | achieved M / K | cluster CPU, cores M / K | pct | Milena ms | Kafka ms | Milena/Kafka |")
        p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for w in lat:
            first = w.runs[0]
            load, target_rate = first.get("load_pct"), first.get("target_rate")
            ach = []
            for b in BROKERS:
                a = w.value(b, lambda r: r.get("msgs_per_s"))
                ach.append(f"{100 * a / target_rate:.0f}%" if a and target_rate else "–")
            cpu = " / ".join(fmt(w.value(b, lambda r: r.get("broker_cpu_util")), 2) for b in BROKERS)
            for key, name in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
                rs = w.ratios(lambda r, k=key: r.get(k))
                p(f"| {label(w)} | {load}% | {fmt(target_rate, 0)} | {' / '.join(ach)} | {cpu} | {name} | "
                  f"{fmt(w.value('milena', lambda r, k=key: r.get(k)))} | "
                  f"{fmt(w.value('kafka', lambda r, k=key: r.get(k)))} | {fmt_ratio(rs)} |")
        p("")
        p("Cluster CPU: the three nodes' CPU over the run, in cores (medians); the cluster has one. "
          "A cluster near 1.0 is saturated at that rate, and its latency is mostly queueing.")
        p("")
    if fo:
        p("### Failover: kill -9 of partition 0's leader under load")
        p("")
        p(f"A steady acks=all load (kafka-producer-perf-test --throughput "
          f"{meta.get('failover_rate', '?')} records/s of 1 KiB into the topic's 8 partitions) and a "
          "probe (`lib/failover-probe.c`, librdkafka: one acks=all record to partition 0 every "
          "50 ms, each acknowledgement timestamped, the partition's leader polled from Metadata "
          "every 50 ms). After "
          f"{meta.get('failover_kill_after', '?')} s the node leading partition 0 gets SIGKILL. "
          "**Failover** is the time from the kill to the first record acknowledged by another node "
          "(the new leader, with 2 of 3 replicas in sync, as min.insync.replicas=2 requires); "
          "**Metadata** the time until a live node's Metadata first names the new leader. "
          f"Victim policy `{meta.get('failover_victim', '?')}`: " +
          {"broker": "partition 0's leader is placed (replica assignment) on a node that is not "
                     "the active controller, so the kill fails a broker, not the metadata quorum's "
                     "leader.",
           "controller": "partition 0's leader is placed on the active controller, so the kill "
                         "also forces a quorum election.",
           "any": "partition 0's leader is wherever the cluster put it."}.get(
               meta.get("failover_victim"), "") +
          " The brokers detect the dead node through its missed heartbeats "
          "(broker.session.timeout.ms), so the failover is expected near that timeout.")
        p("")
        p("| broker.session.timeout.ms / heartbeat.interval | trials M / K | Milena failover ms | "
          "Kafka failover ms | Milena/Kafka | Metadata ms M / K | first ack after Metadata ms M / K | "
          "probe errors M / K |")
        p("| --- | --- | --- | --- | --- | --- | --- | --- |")
        settings = []
        for r in fo:
            key = (r.get("session_ms"), r.get("heartbeat_ms"))
            if key not in settings:
                settings.append(key)
        for sess, hb in settings:
            rs = [r for r in fo if (r.get("session_ms"), r.get("heartbeat_ms")) == (sess, hb)]
            ok = {b: [r for r in rs if r["broker"] == b and r.get("ok")] for b in BROKERS}
            n = " / ".join(f"{len(ok[b])}/{len([r for r in rs if r['broker'] == b])}" for b in BROKERS)
            fms = {b: [r.get("failover_ms") for r in ok[b]] for b in BROKERS}
            mds = " / ".join(med_range([r.get("metadata_ms") for r in ok[b]]) for b in BROKERS)
            errs = " / ".join(str(sum(r.get("probe_errors") or 0 for r in rs if r["broker"] == b))
                              for b in BROKERS)
            ratios = pair_ratios(rs, lambda r: r.get("failover_ms"), key=("round", "trial"))
            gap = " / ".join(med_range([r["failover_ms"] - r["metadata_ms"] for r in ok[b]
                                        if r.get("metadata_ms") is not None]) for b in BROKERS)
            p(f"| {sess} / {hb} | {n} | {med_range(fms['milena'])} | {med_range(fms['kafka'])} | "
              f"{fmt_ratio(ratios)} | {mds} | {gap} | {errs} |")
        p("")
        p("Every trial (ms after the kill; victim: the killed node, * when it was also the active "
          "controller; first ack sent: when the first acknowledged record was sent, negative for "
          "a record sent before the kill and retried):")
        p("")
        p("| setting | round.trial | broker | victim | failover ms | Metadata ms | new leader | "
          "first ack sent ms | probe p50 ms before / after | machine busy (cores) | error |")
        p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in fo:
            victim = f"{r.get('victim', '–')}{'*' if r.get('controller_killed') else ''}"
            p(f"| {r.get('session_ms')} / {r.get('heartbeat_ms')} | {r.get('round')}.{r.get('trial')} | "
              f"{r.get('broker')} | {victim} | {fmt(r.get('failover_ms'), 0)} | "
              f"{fmt(r.get('metadata_ms'), 0)} | {r.get('new_leader', '–')} | "
              f"{fmt(r.get('first_ack_sent_ms'), 0)} | {fmt(r.get('probe_p50_ms'), 1)} / "
              f"{fmt(r.get('probe_p50_ms_after'), 1)} | {fmt(r.get('machine_cpu_util'), 2)} | "
              f"{r.get('error', '') or ''} |")
        p("")
    # The machine: another job on it shows as CPU used by neither the cluster nor the client.
    others = [r.get("other_cpu_util") for r in runs if r.get("other_cpu_util") is not None]
    lb, la = meta.get("repl_loadavg_before"), meta.get("repl_loadavg_after")
    p("### The machine during this phase")
    p("")
    line = (f"Load average (1/5/15 min) before the phase {lb or '?'}, after it {la or '?'}; at "
            "each cluster's start: " + ", ".join(
                v.split(" loadavg_start=")[-1] for k, v in sorted(
                    ((k, v) for k, v in meta.items()
                     if k.startswith("repl_cluster_") and not k.endswith("_end")),
                    key=lambda kv: int(kv[0].split("_")[2]))) + ".")
    p(line)
    if others:
        busy = statistics.median(others)
        p(f"CPU used by other processes (the whole machine's busy time minus the cluster's and the "
          f"client's) during the measured windows: median {busy:.2f} cores, max "
          f"{max(others):.2f} of {meta.get('cores', '?')}"
          + (" — **the machine was busy with other work during this phase; treat single runs "
             "with care, the interleaved rounds and the ratios less so.**" if busy > 0.15 or max(others) > 0.5
             else " (the machine was otherwise quiet)."))
    failed = [r for r in runs if not r.get("ok")]
    if failed:
        p("")
        p("Failed runs (left out of the numbers): " + "; ".join(
            f"{r.get('workload')} round {r.get('round')} {r.get('broker')}: {r.get('error')} "
            f"(logs/{r.get('log')})" for r in failed) + ".")
    p("")


def scale_section(p, runs, meta):
    """## Scale: many partitions, connections and groups on one broker; each step one row."""
    n_t, n_p = int(meta.get("scale_topics", 0) or 0), int(meta.get("scale_partitions", 0) or 0)
    p(f"## Scale: {n_t:,} topics × {n_p} partitions, {meta.get('scale_connections', '?')} "
      f"connections, {meta.get('scale_groups', '?')} consumer groups")
    p("")
    lims = "; ".join(f"{b} {meta.get(f'scale_nofile_{b}_r1', '?')}" for b in BROKERS)
    p(f"One broker at a time, started fresh with open-file limit (ulimit -n, soft/hard) "
      f"{meta.get('scale_nofile', '?')}: as read back from /proc/PID/limits, {lims}. CreateTopics "
      f"in requests of {meta.get('scale_create_batch', '?')} topics, one after the other; then "
      f"the connections (each sends ApiVersions or Metadata every "
      f"{meta.get('scale_conn_interval', '?')} s) and the consumers (one group each) are held "
      f"while the Metadata probe ({meta.get('scale_probe_topics', '?')} topics per request, "
      f"{meta.get('scale_probe_rate', '?')}/s) and the produce runs (1 KiB, acks=all, "
      f"{meta.get('scale_produce_rate', '?')} records/s into "
      f"{meta.get('scale_produce_partitions', '?')} partitions, kafka-producer-perf-test) run. "
      f"RSS and open files are the broker's at the end of each step. Values are medians over "
      f"{meta.get('scale_rounds', '1')} round(s).")
    p("")

    def rows(step, b):
        return [r for r in runs if r.get("workload") == f"scale-{step}" and r.get("broker") == b]

    def cell(step, b, fn, digits=1, failed_too=False):
        """Median over the ok rows; resources (failed_too) also from failed ones, which still
        tell what the broker held when it failed."""
        rs = rows(step, b)
        if not rs:
            return "–"
        use = rs if failed_too else [r for r in rs if r.get("ok")]
        if not use:
            return "FAILED (below)"
        return fmt(median([fn(r) for r in use]), digits)

    def ratio(step, fn, failed_too=False):
        rs = [r for r in runs if r.get("workload") == f"scale-{step}"]
        if failed_too:
            rs = [dict(r, ok=True) for r in rs]
        return fmt_ratio(pair_ratios(rs, fn))

    def line(what, step, fn, digits=1, with_ratio=True, failed_too=False):
        p(f"| {what} | {cell(step, 'milena', fn, digits, failed_too)} | "
          f"{cell(step, 'kafka', fn, digits, failed_too)} | "
          f"{ratio(step, fn, failed_too) if with_ratio else ''} |")

    mb = lambda r: (r.get("vmrss_kb") or 0) / 1024 if r.get("vmrss_kb") else None
    p("| measure | Milena | Kafka | Milena/Kafka |")
    p("| --- | --- | --- | --- |")
    line(f"CreateTopics of {n_t * n_p:,} partitions, s", "create", lambda r: r.get("create_s"), 2)
    line("  slowest CreateTopics request, s", "create", lambda r: r.get("slowest_request_s"), 2)
    line("  until every partition is in Metadata with a leader, s", "create",
         lambda r: r.get("ready_s"), 2)
    line("connections open (of " + meta.get("scale_connections", "?") + ")", "connections",
         lambda r: r.get("opened"), 0, False)
    line("  their requests p99, ms", "connections", lambda r: r.get("p99_ms"), 1)
    line("consumer groups with an assignment (of " + meta.get("scale_groups", "?") + ")",
         "groups", lambda r: r.get("joined"), 0, False)
    line("  time until all had one, s", "groups", lambda r: r.get("join_s"), 1)
    line("Metadata p50, ms", "metadata", lambda r: r.get("p50_ms"), 2)
    line("Metadata p99, ms", "metadata", lambda r: r.get("p99_ms"), 2)
    for step, what in (("produce-before", "produce"),
                       ("produce-during-create", "produce during CreateTopics")):
        line(f"{what} p50, ms", step, lambda r: r.get("p50_ms"), 1)
        line(f"{what} p99, ms", step, lambda r: r.get("p99_ms"), 1)
    n_e = int(meta.get("scale_extra_topics", 0) or 0)
    line(f"CreateTopics of {n_e * n_p:,} more partitions during produce, s", "create-extra",
         lambda r: r.get("create_s"), 2)
    for step, when in (("idle", "empty"), ("create", "after CreateTopics"),
                       ("metadata", "all clients held"), ("end", "at the end")):
        line(f"RSS {when}, MB", step, mb, 0, failed_too=True)
    for step, when in (("idle", "empty"), ("create", "after CreateTopics"),
                       ("metadata", "all clients held"), ("end", "at the end")):
        line(f"open files {when}", step, lambda r: r.get("open_fds"), 0, failed_too=True)
    p("")
    notes = []
    for b in BROKERS:
        died = meta.get(f"scale_broker_died_{b}")
        if died:
            notes.append(f"{b} died after {died}")
        out = meta.get(f"scale_out_of_fds_{b}")
        if out:
            notes.append(f"{b} ran out of file descriptors after {out}; its remaining steps "
                         f"were skipped")
        for r in runs:
            if r.get("broker") == b and not r.get("ok"):
                notes.append(f"{r.get('workload')} on {b}: {r.get('error')} (logs/{r.get('log')})")
    if notes:
        p("Failures: " + "; ".join(notes) + ".")
        p("")
    p("A produce p99 during CreateTopics well above the one before it means creating partitions "
      "stalls writes to the others. Ratios below 1 favour Milena (time, latency, memory, files).")
    p("")


def tls_section(p, runs, meta, plain_runs):
    """The tls phase: produce and consume over SSL next to PLAINTEXT on the same brokers
    (phase tls-baseline), and next to the produce and consume phases' figures when they ran."""
    ws = group(runs)
    tls = [w for w in ws if w.phase == "tls"]
    base = {w.name.split("-", 1)[1]: w for w in ws if w.phase == "tls-baseline"}
    # The plaintext phases' workloads with the same client (librdkafka of the tls runs).
    lib = next((r.get("librdkafka") for r in runs if r.get("librdkafka")), None)
    phase_ws = {w.name: w for w in group(plain_runs)} if plain_runs else {}

    def phase_twin(w):  # tls-produce-1024B-acks1-p8 -> produce-1024B-acks1-p8-rdk2.0.2
        rest = w.name.split("-", 1)[1]
        return phase_ws.get(f"{rest}-rdk{lib}") or phase_ws.get(rest)

    def own_ratios(w, b):  # per round: this broker's TLS figure / its PLAINTEXT figure
        twin = base.get(w.name.split("-", 1)[1])
        if not twin:
            return []
        plain = {r["round"]: mb_of(r) for r in twin.by(b)}
        return [mb_of(r) / plain[r["round"]] for r in w.by(b)
                if mb_of(r) is not None and plain.get(r["round"])]

    p("## TLS (SSL listener)")
    p("")
    neg = {b: meta.get(f"tls_negotiated_{b}", "?") for b in BROKERS}
    p("Both brokers started afresh with an SSL listener next to PLAINTEXT, on a throwaway CA and "
      "server certificate (EC P-256, localhost and 127.0.0.1, one PKCS12 keystore read by both). "
      f"Client: `rdkafka_performance` (librdkafka {lib or '?'} with OpenSSL), "
      "`-X security.protocol=ssl -X ssl.ca.location=ca.pem` (host name checked). What an OpenSSL "
      f"client negotiates: Milena {neg['milena']}, Kafka {neg['kafka']}. Produce as the produce "
      "phase (time-bounded, warm-up excluded); consume: catch-up of a "
      f"{meta.get('tls_backlog_mb', '?')} MiB backlog of 1 KiB records in 8 partitions (written "
      "over PLAINTEXT, read from the page cache)."
      + (" 'plaintext' is the same run over the PLAINTEXT listener of the same brokers, in the same "
         "round (TLS_BASELINE=1); 'TLS / plaintext' is each broker's per-round ratio of the two "
         "(1.0: TLS costs it nothing in throughput)." if base else ""))
    p("")
    p("Fetch over TLS: neither broker keeps its zero-copy path. Milena sends log file regions "
      "with sendfile(2) on PLAINTEXT and, over TLS, reads them in 64 KiB chunks and writes them "
      "through rustls (no kernel TLS: src/server/tls/mod.rs); Kafka's SSL transport copies "
      "through the JVM's SSLEngine likewise. The kernel's `tls` module was "
      f"{meta.get('tls_kernel_module', '?')} on this machine.")
    p("")
    twin_col = any(phase_twin(w) for w in tls)
    head = "| workload | Milena MB/s (msgs/s) | Kafka MB/s (msgs/s) | Milena/Kafka |"
    sep = "| --- | --- | --- | --- |"
    if base:
        head += " plaintext Milena/Kafka | Milena TLS / plaintext | Kafka TLS / plaintext |"
        sep += " --- | --- | --- |"
    if twin_col:
        head += " produce/consume phase Milena/Kafka |"
        sep += " --- |"
    p(head)
    p(sep)
    for w in tls:
        cells = [f"{fmt(w.value(b, mb_of))} ({fmt(w.value(b, rate_of), 0)})" for b in BROKERS]
        row = f"| {w.name.split('-')[1]} {label(w)} over SSL | {cells[0]} | {cells[1]} | {fmt_ratio(w.ratios(mb_of))} |"
        if base:
            twin = base.get(w.name.split("-", 1)[1])
            row += (f" {fmt_ratio(twin.ratios(mb_of)) if twin else '–'} | "
                    f"{fmt_ratio(own_ratios(w, 'milena'))} | {fmt_ratio(own_ratios(w, 'kafka'))} |")
        if twin_col:
            t = phase_twin(w)
            row += f" {fmt_ratio(t.ratios(mb_of)) if t else '–'} |"
        p(row)
    p("")
    p("Broker resources over SSL (and PLAINTEXT, same brokers), medians over rounds. CPU-s/GB: the "
      "broker's utime+stime over the measured span divided by the record bytes moved (10^9 B); RSS: "
      "VmRSS at the end of the SSL run; client cpu: the load generator's CPU over its whole run "
      "(≈ 100%: the client set the pace).")
    p("")
    p("| workload | Milena CPU-s/GB SSL / plain | Kafka CPU-s/GB SSL / plain | RSS MB M / K | client cpu SSL M / K |")
    p("| --- | --- | --- | --- | --- |")
    for w in tls:
        twin = base.get(w.name.split("-", 1)[1])

        def cpu(b):
            s = fmt(w.value(b, lambda r: r.get("cpu_s_per_gb")), 2)
            return s + (f" / {fmt(twin.value(b, lambda r: r.get('cpu_s_per_gb')), 2)}" if twin else "")
        rss = [fmt(w.value(b, lambda r: (r.get("vmrss_kb") or 0) / 1024 or None), 0) for b in BROKERS]
        cl = [w.value(b, lambda r: r.get("client_cpu_util")) for b in BROKERS]
        p(f"| {w.name.split('-')[1]} {label(w)} | {cpu('milena')} | {cpu('kafka')} | {' / '.join(rss)} | "
          + " / ".join("–" if c is None else f"{100 * c:.0f}%" for c in cl) + " |")
    p("")
    bound = [f"{w.name} ({b}, {100 * c:.0f}%)" for w in ws for b in BROKERS
             for c in [w.value(b, lambda r: r.get("client_cpu_util"))] if c is not None and c >= 0.9]
    if bound:
        p("Client-bound runs (load generator at ≥ 90% of its core): " + ", ".join(bound) + ".")
        p("")
    other = median([r.get("other_cpu_util") for r in runs])
    if other is not None:
        p(f"The machine during these runs: other work (neither the broker nor the client) used "
          f"{other:.2f} cores of {meta.get('cores', '?')} (median over runs, `other_cpu_util`)"
          + (" — **the machine was busy: these figures say more about the scheduler than about "
             "the brokers; run the phase again on an idle machine.**" if other >= 0.3 else "."))
        p("")
    failed = [r for r in runs if not r.get("ok")]
    if failed:
        p("Failed runs (left out of the numbers): " + "; ".join(
            f"{r.get('workload')} round {r.get('round')} {r.get('broker')}: {r.get('error')} "
            f"(logs/{r.get('log')})" for r in failed) + ".")
        p("")


def summary(results, runs, meta):
    disk_runs = [r for r in runs if r.get("broker") == "disk"]
    repl_runs = [r for r in runs if str(r.get("phase", "")).startswith("replicated")]
    restart_runs = [r for r in runs if r.get("phase") == "restart"]
    scale_runs = [r for r in runs if r.get("phase") == "scale"]
    factor_runs = [r for r in runs if r.get("phase") == "factors"]
    tls_runs = [r for r in runs if r.get("phase") in ("tls", "tls-baseline")]
    conv_runs = [r for r in runs if r.get("phase") == "conversion"]
    runs = [r for r in runs if r.get("broker") != "disk" and r not in repl_runs
            and r not in restart_runs and r not in scale_runs and r not in factor_runs
            and r not in tls_runs and r not in conv_runs]
    ws = group(runs)
    out = []
    p = out.append
    title = "Milena vs Apache Kafka " + meta.get("kafka_version", "")
    p(f"# {title}: benchmark summary ({os.path.basename(os.path.normpath(results))})")
    p("")
    quick = meta.get("quick") == "1"
    if quick:
        p("**QUICK=1 smoke run: every workload once and briefly. The numbers only show that the "
          "harness works; do not quote them.**")
        p("")
    single = bool(ws or scale_runs or factor_runs or tls_runs or conv_runs)  # a single broker of each ran (not only the clusters)
    heap = (f"KAFKA_HEAP_OPTS={meta.get('kafka_heap_opts', '?')}" if single else
            f"KAFKA_HEAP_OPTS={meta.get('repl_kafka_heap_opts', '?')} per node")
    rdk = sorted({v.split()[0] for k, v in meta.items() if k.startswith("rdkafka_client_")},
                 key=lambda v: [int(x) if x.isdigit() else 0 for x in v.split(".")])
    p(f"Milena {meta.get('milena_rev', '?')}, Kafka {meta.get('kafka_version', '?')} "
      f"({heap}), librdkafka "
      f"{' and '.join(rdk) if rdk else meta.get('librdkafka_version', '?')}, {meta.get('java', '?')}; "
      f"{meta.get('cpu', '?')}, {meta.get('cores', '?')} cores, {meta.get('host', '?')}; data on "
      f"{meta.get('data_fs', '?')}.")
    if meta.get("milena_src_dirty_files", "").strip():
        p(f"The Milena binary was built from the working tree, with uncommitted changes in: "
          f"{meta['milena_src_dirty_files'].strip()}.")
    where = (f"broker on cpu {meta.get('broker_cpus')}" if single else
             f"each cluster's three nodes on cpu {meta.get('repl_broker_cpus')}")
    p(f"Rounds {meta.get('rounds')}, each run {meta.get('warmup')} s warm-up + "
      f"{meta.get('duration')} s measured; {where}, clients on "
      f"cpu {meta.get('client_cpus')} (taskset); linger.ms={meta.get('linger_ms')}, "
      f"batch.size={meta.get('batch_bytes')}. Brokers alternate within each round "
      f"(Milena, Kafka, Milena, Kafka, ...). Values are medians over rounds; the ratio is the "
      f"median of the per-round Milena/Kafka ratios, (min–max) over rounds. MB = 10^6 bytes of "
      f"record values.")
    p("")

    lat, fs = [], []
    if ws:  # the single-broker phases ran
        # Throughput ------------------------------------------------------------------------------
        p("## Throughput")
        p("")
        p("| workload | generator | Milena MB/s (msgs/s) | Kafka MB/s (msgs/s) | Milena/Kafka | target |")
        p("| --- | --- | --- | --- | --- | --- |")
        tput = [w for w in ws if w.phase in ("produce", "capacity", "produce-xcheck", "consume",
                                             "consume-xcheck")]
        for w in tput:
            cells = []
            for b in BROKERS:
                cells.append(f"{fmt(w.value(b, mb_of))} ({fmt(w.value(b, rate_of), 0)})")
            rs = w.ratios(mb_of)
            if w.phase == "produce":
                tgt = f"≥ {TARGET_PRODUCE:g}×: {verdict(median(rs), TARGET_PRODUCE, True)}"
                kind = "produce"
            elif w.phase == "capacity":
                tgt = f"≥ {FLOOR_PRODUCE:g}×: {verdict(median(rs), FLOOR_PRODUCE, True)}"
                kind = "produce capacity"
            elif w.phase == "consume":
                tgt = f"≥ {TARGET_CONSUME:g}×: {verdict(median(rs), TARGET_CONSUME, True)}"
                kind = "consume catch-up"
            else:
                tgt = "cross-check"
                kind = "produce" if w.phase.startswith("produce") else "consume catch-up"
            p(f"| {kind} {label(w)} | {w.tool} | {cells[0]} | {cells[1]} | {fmt_ratio(rs)} | {tgt} |")
        p("")

        # Latency ---------------------------------------------------------------------------------
        lat = [w for w in ws if w.phase == "latency"]
        if lat:
            p("## Produce latency at fixed rates (kafka-producer-perf-test --throughput)")
            p("")
            p("Each rate is a % of the basis: the slower broker's median maximum for the workload, "
              f"with LATENCY_BASIS={meta.get('latency_basis', 'auto')} (auto: the lower of the "
              "rdkafka_performance maximum and the Java producer's own, so that the client can send "
              "every rate). Percentiles in ms over the whole run (the 4.1 tool has no warm-up "
              "option); 'achieved' is the median rate the client reached, as % of the target.")
            for k, v in meta.items():
                if k.startswith("latency_basis_"):
                    basis, _, rest = v.partition(" ")
                    p("")
                    p(f"- {k[len('latency_basis_'):]}: basis {basis} msgs/s; slower broker's maximum "
                      + ", ".join(f"{x.split('=')[0]} {x.split('=')[1] or '–'}"
                                  for x in rest.split() if "=" in x) + " msgs/s.")
            p("")
            p("| workload | load | target msgs/s | achieved M / K | pct | Milena ms | Kafka ms | Milena/Kafka | target |")
            p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            for w in lat:
                first = w.runs[0]
                load, target_rate = first.get("load_pct"), first.get("target_rate")
                ach = []
                for b in BROKERS:
                    a = w.value(b, lambda r: r.get("msgs_per_s"))
                    ach.append(f"{100 * a / target_rate:.0f}%" if a and target_rate else "–")
                for key, name in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
                    rs = w.ratios(lambda r, k=key: r.get(k))
                    tgt = ""
                    if key == "p99_ms" and load == 50:
                        tgt = f"≤ 1/3: {verdict(median(rs), TARGET_P99_AT_50, False)}"
                    p(f"| {label(w)} | {load}% | {fmt(target_rate, 0)} | {' / '.join(ach)} | {name} | "
                      f"{fmt(w.value('milena', lambda r, k=key: r.get(k)))} | "
                      f"{fmt(w.value('kafka', lambda r, k=key: r.get(k)))} | {fmt_ratio(rs)} | {tgt} |")
            p("")

            if any(r.get("java_batch_size_avg") is not None for w in lat for r in w.ok):
                p("The Java producer's own metrics (`--print-metrics`, medians over rounds, Milena / "
                  "Kafka): a client that falls behind a rate or shows high latency against one broker "
                  "often sends smaller batches or waits longer in its own queue there.")
                p("")
                p("| workload | load | batch-size-avg B | records-per-request-avg | request-latency-avg ms | record-queue-time-avg ms | client cpu |")
                p("| --- | --- | --- | --- | --- | --- | --- |")
                for w in lat:
                    def mk(key, digits=0):
                        vals = [w.value(b, lambda r, k=key: r.get(k)) for b in BROKERS]
                        return " / ".join(fmt(v, digits) for v in vals)
                    cl = [w.value(b, lambda r: r.get("client_cpu_util")) for b in BROKERS]
                    p(f"| {label(w)} | {w.runs[0].get('load_pct')}% | {mk('java_batch_size_avg')} | "
                      f"{mk('java_records_per_request_avg')} | {mk('java_request_latency_avg', 1)} | "
                      f"{mk('java_record_queue_time_avg', 1)} | "
                      + " / ".join("–" if c is None else f"{100 * c:.0f}%" for c in cl) + " |")
                p("")

        # fsync -----------------------------------------------------------------------------------
        fs = [w for w in ws if w.phase == "fsync"]
        disk = {}
        for k, v in meta.items():
            if k.startswith("disk_fsync_") and k.endswith("_mb_per_s"):
                disk[int(k[len("disk_fsync_"):-len("_mb_per_s")])] = float(v)
        disk_by_round = {r["round"]: r["mb_per_s"] for r in disk_runs if r.get("ok")}
        fsync_pct = {}  # broker -> per-round broker/disk ratios of the first fsync workload

        ref = disk.get(int(meta.get("batch_bytes", 1048576)))

        def disk_rate(rnd):  # that round's measurement, else the one before the brokers started
            return disk_by_round.get(rnd) or ref

        def of_disk(w, b):
            return [r["mb_per_s"] / disk_rate(r["round"]) for r in w.by(b) if disk_rate(r["round"])]

        if fs or disk:
            p("## fsync before ack" if fs else "## Disk")
            p("")
            p(("Milena with `milena.flush.on.ack=true`, Kafka with topic `flush.messages=1`, acks=all. "
               if fs else "") +
              "The disk's sequential fsync'd write rate (appends of one produce batch, each followed "
              "by fdatasync, in the brokers' filesystem), before the brokers started: " +
              ", ".join(f"{fmt(v)} MB/s with {k // 1024} KiB writes" for k, v in sorted(disk.items(), reverse=True)) +
              (f"; measured again in each fsync round just before the brokers' runs, over a window "
               f"as long as theirs after the same warm-up "
               f"({int(meta.get('batch_bytes', 1048576)) // 1024} KiB writes): median "
               f"{fmt(median(list(disk_by_round.values())))} MB/s, and each broker's % of the disk is "
               f"the median of its per-round ratios to that round's disk rate (min–max)."
               if disk_by_round else "."))
            if fs:
                p("")
                p("| workload | Milena MB/s (msgs/s) | Kafka MB/s (msgs/s) | Milena/Kafka | disk MB/s | Milena % of disk | Kafka % of disk | target |")
                p("| --- | --- | --- | --- | --- | --- | --- | --- |")
            for w in fs:
                m, k = w.value("milena", mb_of), w.value("kafka", mb_of)
                pm, pk = of_disk(w, "milena"), of_disk(w, "kafka")
                fsync_pct.setdefault("milena", pm)
                fsync_pct.setdefault("kafka", pk)

                def pct(rs):
                    if not rs:
                        return "–"
                    med = f"{100 * statistics.median(rs):.0f}%"
                    return med if len(rs) == 1 else f"{med} ({100 * min(rs):.0f}–{100 * max(rs):.0f}%)"
                p(f"| {label(w)} | {fmt(m)} ({fmt(w.value('milena', rate_of), 0)}) | "
                  f"{fmt(k)} ({fmt(w.value('kafka', rate_of), 0)}) | {fmt_ratio(w.ratios(mb_of))} | "
                  f"{fmt(median(list(disk_by_round.values())) or ref)} | {pct(pm)} | {pct(pk)} | "
                  f"≥ {TARGET_FSYNC_OF_DISK:.0%} of disk: {verdict(median(pm), TARGET_FSYNC_OF_DISK, True)} |")
            p("")

        # Resources -------------------------------------------------------------------------------
        p("## Broker resources")
        p("")
        p("CPU-s/GB: the broker's utime+stime over the measured span divided by the record bytes "
          "moved (10^9 B). RSS: VmRSS at the end of the run (median, MB); VmHWM is the process's "
          "peak so far. Client cpu: the load generator's CPU use over the span (≈100% means the "
          "client, not the broker, set the pace).")
        p("")
        p("| workload | Milena CPU-s/GB | Kafka CPU-s/GB | Milena RSS MB | Kafka RSS MB | client cpu M / K |")
        p("| --- | --- | --- | --- | --- | --- |")
        for w in ws:
            cpu = [w.value(b, lambda r: r.get("cpu_s_per_gb")) for b in BROKERS]
            rss = [w.value(b, lambda r: (r.get("vmrss_kb") or 0) / 1024 or None) for b in BROKERS]
            cl = [w.value(b, lambda r: r.get("client_cpu_util")) for b in BROKERS]
            cls = " / ".join("–" if c is None else f"{100 * c:.0f}%" for c in cl)
            name = f"{w.phase} {label(w)}" + (f" @{w.runs[0].get('load_pct')}%" if w.phase == "latency" else "")
            p(f"| {name} | {fmt(cpu[0], 2)} | {fmt(cpu[1], 2)} | {fmt(rss[0], 0)} | {fmt(rss[1], 0)} | {cls} |")
        p("")
        hwm = {b: max([r.get("vmhwm_kb") or 0 for r in runs if r.get("broker") == b] or [0]) / 1024
               for b in BROKERS}
        rss_med = {b: median([(r.get("vmrss_kb") or 0) / 1024 or None for r in runs
                              if r.get("broker") == b and r.get("ok")]) for b in BROKERS}
        cpu_med = {b: median([r.get("cpu_s_per_gb") for r in runs if r.get("broker") == b and r.get("ok")
                              and r.get("phase") in ("produce", "consume", "fsync")]) for b in BROKERS}
        hwm_ratio = hwm["milena"] / hwm["kafka"] if hwm["kafka"] else None
        p(f"Peak RSS (VmHWM) over the suite: Milena {fmt(hwm['milena'], 0)} MB, Kafka "
          f"{fmt(hwm['kafka'], 0)} MB; median VmRSS at the end of a run: Milena "
          f"{fmt(rss_med['milena'], 0)} MB, Kafka {fmt(rss_med['kafka'], 0)} MB.")
        p("")

        # Targets ---------------------------------------------------------------------------------
        p("## Targets (issue 7; compared, not enforced)")
        p("")
        p("| target | measured | verdict |")
        p("| --- | --- | --- |")

        def target_row(name, phase, tgt):
            meds = [(label(w), median(w.ratios(mb_of))) for w in ws if w.phase == phase]
            meds = [(n, m) for n, m in meds if m is not None]
            if not meds:
                return
            met = sum(1 for _, m in meds if m >= tgt)
            lo = min(meds, key=lambda x: x[1])
            hi = max(meds, key=lambda x: x[1])
            measured = (f"{meds[0][1]:.2f}×" if len(meds) == 1 else
                        f"{lo[1]:.2f}× ({lo[0]}) to {hi[1]:.2f}× ({hi[0]})")
            p(f"| {name} | {measured} | met in {met} of {len(meds)} workload(s) |")

        target_row(f"produce throughput ≥ {TARGET_PRODUCE:g}× Kafka", "produce", TARGET_PRODUCE)
        target_row(f"consume catch-up ≥ {TARGET_CONSUME:g}× Kafka", "consume", TARGET_CONSUME)
        target_row(f"issue 14: produce ≥ {FLOOR_PRODUCE:g}× Kafka, same client", "produce", FLOOR_PRODUCE)
        target_row(f"issue 14: produce capacity (pre-encoded requests) ≥ {FLOOR_PRODUCE:g}× Kafka",
                   "capacity", FLOOR_PRODUCE)
        target_row(f"issue 14: consume catch-up ≥ {FLOOR_CONSUME:g}× Kafka (rdkafka)", "consume",
                   FLOOR_CONSUME)
        target_row(f"issue 14: consume catch-up ≥ {FLOOR_CONSUME:g}× Kafka (Java consumer)",
                   "consume-xcheck", FLOOR_CONSUME)
        cons_cpu = median([r.get("cpu_s_per_gb") for r in runs if r.get("broker") == "milena"
                           and r.get("ok") and r.get("phase") in ("consume", "consume-xcheck")])
        if cons_cpu is not None:
            p(f"| issue 14: broker CPU-seconds per GB consumed ≤ {FLOOR_CONSUME_CPU} | Milena "
              f"{fmt(cons_cpu, 3)} | {verdict(cons_cpu, FLOOR_CONSUME_CPU, False)} |")
        for w in lat:
            if w.runs[0].get("load_pct") == 50:
                m = median(w.ratios(lambda r: r.get("p99_ms")))
                p(f"| p99 produce latency at 50% load ≤ 1/3 of Kafka's ({label(w)}) | "
                  f"{fmt(m, 2)}× | {verdict(m, TARGET_P99_AT_50, False)} |")
        p(f"| broker RSS ≤ 1/10 of Kafka's (peak VmHWM) | {fmt(hwm_ratio, 3)}× "
          f"({fmt(hwm['milena'], 0)} / {fmt(hwm['kafka'], 0)} MB) | {verdict(hwm_ratio, TARGET_RSS, False)} |")
        p(f"| broker CPU-seconds per GB ≤ {TARGET_CPU_PER_GB} (median over throughput runs) | Milena "
          f"{fmt(cpu_med['milena'], 3)}, Kafka {fmt(cpu_med['kafka'], 3)} | "
          f"{verdict(cpu_med['milena'], TARGET_CPU_PER_GB, False)} |")
        for w in fs:
            frac = median(of_disk(w, "milena"))
            p(f"| with fsync before ack ≥ {TARGET_FSYNC_OF_DISK:.0%} of the disk's fsync'd write rate "
              f"({label(w)}) | {fmt(None if frac is None else 100 * frac, 0)}% (Milena "
              f"{fmt(w.value('milena', mb_of))} MB/s, disk {fmt(median(list(disk_by_round.values())) or ref)} MB/s; "
              f"Kafka {fmt(None if not of_disk(w, 'kafka') else 100 * median(of_disk(w, 'kafka')), 0)}%) | "
              f"{verdict(frac, TARGET_FSYNC_OF_DISK, True)} |")
        p("")

    if tls_runs:
        tls_section(p, tls_runs, meta, [r for r in runs if r.get("phase") in ("produce", "consume")])
    if factor_runs:
        p(factors_table(factor_runs, meta))
    if conv_runs:
        conversion_section(p, conv_runs, meta)
    if restart_runs:
        restart_section(p, restart_runs, meta)
    if scale_runs:
        scale_section(p, scale_runs, meta)
    if repl_runs:
        replicated_section(p, repl_runs, meta)

    # Method notes ----------------------------------------------------------------------------
    p("## Generators and notes")
    p("")
    if ws or repl_runs:
        clients = {k[len("rdkafka_client_"):]: v.split()[0] for k, v in meta.items()
                   if k.startswith("rdkafka_client_")}
        deb = clients.get("debian", meta.get("librdkafka_version", "?").rsplit("-", 1)[0])
        p("- Produce throughput" + (" and fsync" if ws else "") + ": `rdkafka_performance -P`, "
          "unbounded, stopped with SIGINT after warm-up + duration; the rate is the "
          "delivered-record delta over the window after warm-up. Two builds of the same example "
          "(its producer code is the same in both versions): librdkafka "
          f"{deb} (Debian's librdkafka-dev and its example source, compiled with gcc -O2)"
          + (f" and librdkafka {clients['current']} (the rdkafka-sys crate's bundled source: "
             "CMake Release, static, no SSL/SASL/compression libraries)" if "current" in clients else "")
          + f"; the produce workloads ran with each of `{meta.get('rdkafka_clients', 'debian')}` "
          "(the workload names end in the librdkafka version), every other rdkafka run with "
          f"librdkafka {deb}. The two versions' producer defaults differ (see bench/README.md), "
          "which moves the brokers' figures.")
    if ws:
        p("- Consume catch-up: `rdkafka_performance -C -o beginning -e` on every partition of a "
          f"{meta.get('backlog_mb', '?')} MiB backlog of 1 KiB records (timed by the tool from the "
          "first record to the end of the last partition), with each librdkafka of the produce "
          "phase; the backlog was just written, so it is read from the page cache. Cross-check: "
          "`kafka-consumer-perf-test` (fetch time, fresh group). Each broker's backlog is read once "
          "by every tool before the measured rounds, not measured: a catch-up lasts about 1.5 s, "
          "and a Kafka whose JIT has not yet compiled its fetch path runs it 20–40% slower.")
    p("- Latency at fixed rates and the produce cross-check: `kafka-producer-perf-test` "
      "(Java client of the same Kafka version).")
    if scale_runs:
        p("- Scale: `lib/scale.py` (CreateTopics through confluent-kafka's AdminClient, the held "
          "connections and the Metadata probe on raw sockets, the consumers with confluent-kafka) "
          "and `kafka-producer-perf-test` for the produce runs; see bench/README.md.")
    p("- " + ("Both brokers are" if single else "Every cluster is") + " started fresh by the script "
      "on an empty data directory; topics are created with `kafka-topics.sh` before each run and "
      "deleted after it; `sync` runs before each measured run so that one run's page-cache "
      "writeback does not land in the next." + page_cache_note(meta))
    bound = []
    for w in ws:
        for b in BROKERS:
            c = w.value(b, lambda r: r.get("client_cpu_util"))
            if c is not None and c >= 0.9:
                bound.append(f"{w.name} ({b}, {100 * c:.0f}%)")
    if bound:
        p("- Client-bound runs (load generator at ≥ 90% of its core, so the broker's maximum is "
          "at least this): " + ", ".join(bound) + ".")
    short = []
    for w in lat:
        t = w.runs[0].get("target_rate")
        for b in BROKERS:
            a = w.value(b, lambda r: r.get("msgs_per_s"))
            if a and t and a < 0.95 * t:
                short.append(f"{w.name} on {b}: {100 * a / t:.0f}% of {t} msgs/s")
    if short:
        p("- The Java producer did not reach the fixed rate in: " + "; ".join(short) + ".")
    failed = [r for r in runs if not r.get("ok")]
    if failed:
        p("- Failed runs (left out of the numbers): " + "; ".join(
            f"{r.get('workload')} round {r.get('round')} {r.get('broker')}: {r.get('error')} "
            f"(logs/{r.get('log')})" for r in failed) + ".")
    if meta.get("elapsed_s"):
        p(f"- Suite time {int(meta['elapsed_s']) // 60} min {int(meta['elapsed_s']) % 60} s "
          f"(estimated {int(meta.get('estimate_s', 0)) // 60} min).")
    p("")
    p("Files: `rounds.csv` (one row per run), `runs.jsonl` (the same, raw), `logs/` (every client's "
      "output, broker logs), " + ("`plot.png`, " if ws else "") +
      ("`plot-replicated.png`, " if repl_runs else "") + "`meta.txt`.")
    return "\n".join(out) + "\n", ws


# ---------------------------------------------------------------------------------------------


def plot(results, ws, meta):
    """plot.png through gnuplot (pngcairo): four panels."""
    gp = shutil.which("gnuplot")
    d = os.path.join(results, "plot")
    os.makedirs(d, exist_ok=True)
    tput = [w for w in ws if w.phase in ("produce", "capacity", "consume", "fsync", "produce-xcheck",
                                         "consume-xcheck")]

    def short(w):
        s = {"produce": "P", "capacity": "Pc", "consume": "C", "fsync": "F", "produce-xcheck": "Pj",
             "consume-xcheck": "Cj"}[w.phase]
        return (s + " " + label(w).replace(" part.", "p").replace("acks=", "a").replace("librdkafka ", "rdk")
                .replace(", ", " ")).strip()

    with open(os.path.join(d, "throughput.dat"), "w") as f:
        f.write("# label milena_mb kafka_mb ratio_med ratio_min ratio_max\n")
        for w in tput:
            rs = w.ratios(mb_of) or [0]
            f.write(f"\"{short(w)}\" {w.value('milena', mb_of) or 0} {w.value('kafka', mb_of) or 0} "
                    f"{statistics.median(rs)} {min(rs)} {max(rs)}\n")
    with open(os.path.join(d, "cpu.dat"), "w") as f:
        f.write("# label milena_cpu_s_per_gb kafka_cpu_s_per_gb\n")
        for w in ws:
            if w.phase in ("produce", "consume", "fsync"):
                vals = [w.value(b, lambda r: r.get("cpu_s_per_gb")) or 0 for b in BROKERS]
                f.write(f"\"{short(w)}\" {vals[0]} {vals[1]}\n")
    lat = [w for w in ws if w.phase == "latency"]
    lat_names = []
    for w in lat:
        base = w.name.rsplit("-", 1)[0]
        if base not in lat_names:
            lat_names.append(base)
    lat_plot = ""
    if lat_names:
        base = lat_names[0]
        with open(os.path.join(d, "latency.dat"), "w") as f:
            f.write("# load_pct milena_p50 milena_p99 milena_p999 kafka_p50 kafka_p99 kafka_p999\n")
            for w in sorted((w for w in lat if w.name.rsplit("-", 1)[0] == base),
                            key=lambda w: w.runs[0].get("load_pct", 0)):
                vals = [w.value(b, lambda r, k=k: r.get(k)) or 0 for b in BROKERS
                        for k in ("p50_ms", "p99_ms", "p999_ms")]
                f.write(f"{w.runs[0].get('load_pct')} " + " ".join(str(max(v, 0.5)) for v in vals) + "\n")
        lat_plot = f"""
set title "Produce latency against load, % of the slower broker's maximum ({base.replace('latency-produce-', '')}, kafka-producer-perf-test)"
set style data linespoints
set xtics norotate autofreq
set yrange [*:*]
set logscale y
set ylabel "ms (median over rounds)"
set xrange [0:100]
set key below maxrows 2
plot "latency.dat" u 1:2 t "Milena p50" lc rgb "#1b9e77" dt 3 pt 7, \\
     "" u 1:3 t "Milena p99" lc rgb "#1b9e77" dt 1 pt 7 lw 2, \\
     "" u 1:4 t "Milena p99.9" lc rgb "#1b9e77" dt 2 pt 7, \\
     "" u 1:5 t "Kafka p50" lc rgb "#d95f02" dt 3 pt 5, \\
     "" u 1:6 t "Kafka p99" lc rgb "#d95f02" dt 1 pt 5 lw 2, \\
     "" u 1:7 t "Kafka p99.9" lc rgb "#d95f02" dt 2 pt 5
unset logscale y
unset xrange
set key inside top right vertical
"""
    else:
        lat_plot = 'set title "no latency runs"\nunset border\nunset tics\nplot [0:1][0:1] NaN notitle\nset border\nset tics\n'
    run_name = os.path.basename(os.path.normpath(results))
    quick = " (QUICK smoke run)" if meta.get("quick") == "1" else ""
    ratio_top = max([2.3] + [1.1 * max(w.ratios(mb_of) or [0]) for w in tput])
    # Head room above the tallest bar for the key.
    tput_top = 1.2 * max([w.value(b, mb_of) or 0 for w in tput for b in BROKERS] + [1])
    cpu_top = 1.2 * max([w.value(b, lambda r: r.get("cpu_s_per_gb")) or 0 for w in ws
                         if w.phase in ("produce", "consume", "fsync") for b in BROKERS] + [0.35])
    hwm = {b: max([r.get("vmhwm_kb") or 0 for w in ws for r in w.runs if r.get("broker") == b] or [0]) / 1024
           for b in BROKERS}
    abbrev = ("P: produce, C: consume catch-up, F: fsync before ack (all rdkafka-performance); "
              "Pj, Cj: the Java perf tools' cross-checks. a1/aall: acks, 1p/8p: partitions")
    script = f"""set terminal pngcairo size 1600,1150 font "DejaVu Sans,10"
set output "../plot.png"
set multiplot layout 2,2 title "Milena vs Apache Kafka {meta.get('kafka_version', '')}: {run_name}{quick}\\n{{/*0.7 {abbrev}}}" font ",13"
set grid ytics
set xtics rotate by 35 right nomirror
set key top right

set title "Throughput (MB/s of record values, median over rounds)"
set style fill solid 0.8 border -1
set style data histograms
set style histogram clustered gap 1
set ylabel "MB/s"
set yrange [0:{tput_top:.1f}]
plot "throughput.dat" u 2:xtic(1) t "Milena" lc rgb "#1b9e77", "" u 3 t "Kafka" lc rgb "#d95f02"

set title "Milena / Kafka throughput ratio (median; bars: min–max over rounds); target 2×"
set style histogram errorbars gap 1 lw 1
set ylabel "ratio"
set yrange [0:{ratio_top:.2f}]
plot "throughput.dat" u 4:5:6:xtic(1) t "Milena/Kafka" lc rgb "#7570b3", 2 t "target 2×" w lines dt 2 lw 2 lc rgb "black", 1 t "" w lines lc rgb "gray"
{lat_plot}
set title "Broker CPU-seconds per GB moved (target ≤ 0.3). Peak RSS: Milena {hwm['milena']:.0f} MB, Kafka {hwm['kafka']:.0f} MB"
set style fill solid 0.8 border -1
set style data histograms
set style histogram clustered gap 1
set ylabel "CPU-s / GB"
set yrange [0:{cpu_top:.2f}]
set xtics rotate by 35 right nomirror
plot "cpu.dat" u 2:xtic(1) t "Milena" lc rgb "#1b9e77", "" u 3 t "Kafka" lc rgb "#d95f02", 0.3 t "target 0.3" w lines dt 2 lw 2 lc rgb "black"
unset multiplot
"""
    with open(os.path.join(d, "plot.gp"), "w") as f:
        f.write(script)
    if not gp:
        print("report.py: gnuplot not found; plot/plot.gp written, no plot.png", file=sys.stderr)
        return
    r = subprocess.run([gp, "plot.gp"], cwd=d, capture_output=True, text=True)
    if r.returncode != 0:
        print("report.py: gnuplot failed:\n" + r.stderr, file=sys.stderr)


def plot_replicated(results, runs, meta):
    """plot-replicated.png: throughput, latency and failover of the 3-node clusters."""
    d = os.path.join(results, "plot")
    os.makedirs(d, exist_ok=True)
    ws = group(runs)
    tput = [w for w in ws if w.phase in ("replicated", "replicated-xcheck")]
    lat = [w for w in ws if w.phase == "replicated-latency"]
    fo = [r for r in runs if r.get("phase") == "replicated-failover"]

    def short(w):
        return (f"{w.runs[0].get('partitions')} part."
                + (" Java" if w.phase == "replicated-xcheck" else ""))

    with open(os.path.join(d, "repl-throughput.dat"), "w") as f:
        f.write("# label milena_mb kafka_mb\n")
        for w in tput:
            f.write(f"\"{short(w)}\" {w.value('milena', mb_of) or 0} {w.value('kafka', mb_of) or 0}\n")
    with open(os.path.join(d, "repl-latency.dat"), "w") as f:
        f.write("# label milena kafka\n")
        for w in lat:
            for key, name in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
                vals = [w.value(b, lambda r, k=key: r.get(k)) or 0 for b in BROKERS]
                f.write(f"\"{name} at {w.runs[0].get('load_pct')}%\" {vals[0]} {vals[1]}\n")
    settings = []
    for r in fo:
        k = (r.get("session_ms"), r.get("heartbeat_ms"))
        if k not in settings:
            settings.append(k)
    with open(os.path.join(d, "repl-failover.dat"), "w") as f:
        f.write("# label milena_med milena_min milena_max kafka_med kafka_min kafka_max (s)\n")
        for sess, hb in settings:
            row = [f"\"{sess} / {hb} ms\""]
            for b in BROKERS:
                xs = [r["failover_ms"] / 1000 for r in fo if r.get("ok") and r["broker"] == b
                      and (r.get("session_ms"), r.get("heartbeat_ms")) == (sess, hb)] or [0]
                row += [str(statistics.median(xs)), str(min(xs)), str(max(xs))]
            f.write(" ".join(row) + "\n")
    run_name = os.path.basename(os.path.normpath(results))
    quick = " (QUICK smoke run)" if meta.get("quick") == "1" else ""
    script = f"""set terminal pngcairo size 1600,600 font "DejaVu Sans,10"
set output "../plot-replicated.png"
set multiplot layout 1,3 title "Milena vs Apache Kafka {meta.get('kafka_version', '')}, 3-node clusters, RF 3, acks=all: {run_name}{quick}\\n{{/*0.7 all three nodes of a cluster on cpu {meta.get('repl_broker_cpus', '?')}, clients on cpu {meta.get('client_cpus', '?')}; medians over rounds}}" font ",13"
set grid ytics
set key top right
set style fill solid 0.8 border -1
set style data histograms
set xtics nomirror
set title "Produce throughput, 1 KiB records (MB/s)"
set style histogram clustered gap 1
set yrange [0:*]
plot "repl-throughput.dat" u 2:xtic(1) t "Milena" lc rgb "#1b9e77", "" u 3 t "Kafka" lc rgb "#d95f02"
set title "Produce latency at a fixed rate (ms, kafka-producer-perf-test)"
set key top left
set logscale y
set yrange [0.5:*]
plot "repl-latency.dat" u 2:xtic(1) t "Milena" lc rgb "#1b9e77", "" u 3 t "Kafka" lc rgb "#d95f02"
unset logscale y
set title "Failover: kill -9 -> first ack on the new leader (s; bars min-max)"
set xlabel "broker.session.timeout.ms / broker.heartbeat.interval.ms"
set style histogram errorbars gap 1 lw 1
set yrange [0:*]
plot "repl-failover.dat" u 2:3:4:xtic(1) t "Milena" lc rgb "#1b9e77", "" u 5:6:7 t "Kafka" lc rgb "#d95f02"
unset multiplot
"""
    with open(os.path.join(d, "plot-replicated.gp"), "w") as f:
        f.write(script)
    gp = shutil.which("gnuplot")
    if not gp:
        print("report.py: gnuplot not found; plot/plot-replicated.gp written, no png", file=sys.stderr)
        return
    r = subprocess.run([gp, "plot-replicated.gp"], cwd=d, capture_output=True, text=True)
    if r.returncode != 0:
        print("report.py: gnuplot failed:\n" + r.stderr, file=sys.stderr)


def cmd_report(results):
    runs = load_runs(results)
    meta = load_meta(results)
    write_csv(results, runs)
    text, ws = summary(results, runs, meta)  # ws: the single brokers' workloads (no disk runs)
    with open(os.path.join(results, "summary.md"), "w") as f:
        f.write(text)
    if ws:
        plot(results, ws, meta)
    repl = [r for r in runs if str(r.get("phase", "")).startswith("replicated")]
    if repl:
        plot_replicated(results, repl, meta)


FACTORS = ("client", "bound", "warm", "seg", "cache", "pin")
FACTOR_BASE_SUITE = "debian,time,none,default,keep,pinned"


def factors_table(runs, meta):
    """The factors phase (bench/lib/factors.sh): per cell each broker's median MB/s (min–max over
    rounds), the median per-round Milena/Kafka ratio, and each broker's median relative to the
    suite's own way (the baseline cell, or the first cell if it did not run)."""
    out = []
    p = out.append
    ws = group(runs)
    cells = {w.name[len("factors-"):]: w for w in ws}
    base = cells.get(FACTOR_BASE_SUITE) or ws[0]
    base_name = base.name[len("factors-"):]
    base_vals = {b: base.value(b, mb_of) for b in BROKERS}

    def cell_mb(w, b):
        xs = [mb_of(r) for r in w.by(b)]
        if not xs:
            return "–"
        m = median(xs)
        return fmt(m) if len(xs) == 1 else f"{fmt(m)} ({fmt(min(xs))}–{fmt(max(xs))})"

    def rel(w, b):
        m, ref = w.value(b, mb_of), base_vals[b]
        return "–" if m is None or not ref else f"{m / ref:.2f}"

    p("## Factors (issue 14): 1 workload, one factor at a time")
    p("")
    r0 = runs[0]
    p(f"{r0.get('size')} B records, acks=all, {r0.get('partitions')} partitions, "
      f"rdkafka_performance -P (linger.ms={meta.get('linger_ms')}, batch.size={meta.get('batch_bytes')}). "
      f"Each cell starts both brokers fresh, Milena then Kafka. Factors: client (debian: librdkafka "
      f"{meta.get('rdkafka_client_debian', '?').split()[0]}, current: "
      f"{meta.get('rdkafka_client_current', '?').split()[0]}); bound (time: {meta.get('warmup')} s "
      f"unmeasured + {meta.get('duration')} s measured in one run; count: "
      f"{meta.get('factor_count_mb', '?')} MiB timed by the tool); warm (round: one unmeasured run "
      f"of the same kind first); seg (default: 1 GiB segments, big: segment.bytes="
      f"{meta.get('factor_big_segment', '?')}); cache (drop: drop_caches before the run); pin "
      f"(free: broker and client on every core). Rounds: {meta.get('factor_rounds', '?')}; MB/s "
      f"are medians (min–max); 'vs base' is the cell's median over the baseline cell's "
      f"({base_name}); bold marks the levels that differ from it.")
    p("")
    p("| " + " | ".join(FACTORS) + " | Milena MB/s | Kafka MB/s | Milena/Kafka | Milena vs base | "
      "Kafka vs base | client cpu M / K |")
    p("|" + " --- |" * (len(FACTORS) + 6))
    blv = base_name.split(",")
    for name, w in cells.items():
        lv = name.split(",")
        shown = [f"**{v}**" if i < len(blv) and v != blv[i] else v for i, v in enumerate(lv)]
        cl = [w.value(b, lambda r: r.get("client_cpu_util")) for b in BROKERS]
        cls = " / ".join("–" if c is None else f"{100 * c:.0f}%" for c in cl)
        p("| " + " | ".join(shown) + f" | {cell_mb(w, 'milena')} | {cell_mb(w, 'kafka')} | "
          f"{fmt_ratio(w.ratios(mb_of))} | {rel(w, 'milena')} | {rel(w, 'kafka')} | {cls} |")
    p("")
    failed = [r for r in runs if not r.get("ok")]
    if failed:
        p("Failed runs: " + "; ".join(f"{r.get('workload')} round {r.get('round')} {r.get('broker')}: "
                                      f"{r.get('error')} (logs/{r.get('log')})" for r in failed) + ".")
        p("")
    return "\n".join(out)


def cmd_factors(results):
    runs = [r for r in load_runs(results) if r.get("phase") == "factors"]
    if not runs:
        print("no factors runs in " + results, file=sys.stderr)
        return
    text = factors_table(runs, load_meta(results))
    with open(os.path.join(results, "factors.md"), "w") as f:
        f.write(text + "\n")
    print(text)


def cmd_basis(results, workload, tool):
    runs = [r for r in load_runs(results)
            if r.get("workload") == workload and r.get("ok") and r.get("tool") == tool]
    meds = [median([rate_of(r) for r in runs if r["broker"] == b]) for b in BROKERS]
    if all(m for m in meds):
        print(int(min(meds)))


def cmd_disk(path, block, seconds, runs_file=None, tags=(), warmup=0.0):
    """Sequential appends of `block` bytes to a new file, each followed by fdatasync, for
    warmup+seconds; the rate counts only the last `seconds` (as the brokers' runs do: a VM's disk
    may be fast for its first seconds). Prints key=value lines, or with runs_file appends a run
    (broker "disk") to it."""
    buf = os.urandom(block)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    n, t0 = 0, time.monotonic()
    start = t0 if warmup <= 0 else None
    try:
        while True:
            now = time.monotonic()
            if start is None and now - t0 >= warmup:
                start, n = now, 0
            if start is not None and now - start >= seconds:
                break
            os.write(fd, buf)
            os.fdatasync(fd)
            n += 1
        secs = time.monotonic() - start
    finally:
        os.close(fd)
        os.unlink(path)
    if runs_file:
        res = {"broker": "disk", "tool": "write+fdatasync", "ok": n > 0, "size": block,
               "seconds": round(secs, 3), "msgs": n, "bytes": n * block,
               "mb_per_s": round(n * block / secs / 1e6, 2), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        for kv in tags:
            k, _, v = kv.partition("=")
            res[k] = int(v) if v.isdigit() else v
        with open(runs_file, "a") as f:
            f.write(json.dumps(res, sort_keys=True) + "\n")
        print(f"{res['mb_per_s']} MB/s ({n / secs:.0f} fdatasyncs/s)")
        return
    print(f"disk_fsync_{block}_mb_per_s={n * block / secs / 1e6:.1f}")
    print(f"disk_fsync_{block}_writes_per_s={n / secs:.0f}")


def main(argv):
    if len(argv) >= 2 and argv[0] == "report":
        cmd_report(argv[1])
    elif len(argv) >= 2 and argv[0] == "factors":
        cmd_factors(argv[1])
    elif len(argv) >= 3 and argv[0] == "basis":
        cmd_basis(argv[1], argv[2], argv[3] if len(argv) > 3 else "rdkafka_performance")
    elif len(argv) == 4 and argv[0] == "disk":
        cmd_disk(argv[1], int(argv[2]), float(argv[3]))
    elif len(argv) >= 6 and argv[0] == "disk-run":
        cmd_disk(argv[2], int(argv[3]), float(argv[4]), runs_file=argv[1], tags=argv[6:],
                 warmup=float(argv[5]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

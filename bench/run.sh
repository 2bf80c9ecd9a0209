#!/usr/bin/env bash
# Milena against Apache Kafka 4.1 on this machine: the benchmark suite of issue 7.
#
#   bench/run.sh                      # full suite: ROUNDS=3 DURATION=30 WARMUP=5, about 55 minutes
#   QUICK=1 bench/run.sh              # every workload once, briefly (smoke test, about 8 minutes)
#
# Writes bench/results/<YYYY-MM-DD-HHMM>/ (raw logs, runs.jsonl, rounds.csv, summary.md,
# plot.png) and prints the summary table at the end. bench/README.md explains the method, every
# knob and how to read the results. It measures and compares; it never fails on a target.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

# ---------------------------------------------------------------------------------------------
# Knobs (environment). QUICK=1 only changes the defaults: explicit values still win.
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    ROUNDS=${ROUNDS:-1} DURATION=${DURATION:-5} WARMUP=${WARMUP:-2} BACKLOG_MB=${BACKLOG_MB:-256}
else
    ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-30} WARMUP=${WARMUP:-5} BACKLOG_MB=${BACKLOG_MB:-2048}
fi
BROKER_CPUS=${BROKER_CPUS:-0}          # taskset list for the broker under test
CLIENT_CPUS=${CLIENT_CPUS:-1}          # taskset list for every load generator and admin tool
SIZES=${SIZES:-"100 1024"}             # record value sizes (bytes) of the produce workloads
ACKS=${ACKS:-"1 all"}
PARTITIONS=${PARTITIONS:-"1 8"}
LINGER_MS=${LINGER_MS:-5}
BATCH_BYTES=${BATCH_BYTES:-1048576}
LATENCY_WORKLOADS=${LATENCY_WORKLOADS:-"1024:all:8"}   # size:acks:partitions, space-separated
LOAD_PCTS=${LOAD_PCTS:-"10 50 80"}     # % of the slower broker's maximum for that workload
XCHECK_ROUNDS=${XCHECK_ROUNDS:-1}      # rounds of the Java max-throughput cross-check
LATENCY_BASIS=${LATENCY_BASIS:-auto}   # auto | rdkafka | java: whose maximum the loads are % of
FSYNC_WORKLOAD=${FSYNC_WORKLOAD:-"1024:1"}             # size:partitions, acks=all
PHASES=${PHASES:-"produce consume latency fsync"}
MILENA_PORT=${MILENA_PORT:-29092}
KAFKA_PORT=${KAFKA_PORT:-39092}        # (its controller listens on KAFKA_PORT+1000)
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:-"-Xmx1g -Xms1g"}    # kafka-server-start.sh's own default
BENCH_TMPDIR=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}          # brokers' data go under a mktemp dir here
# QUICK runs get a -quick suffix, which .gitignore keeps out of commits.
RESULTS=${RESULTS:-bench/results/$(date +%Y-%m-%d-%H%M)$(if [ "$QUICK" = 1 ]; then echo -quick; fi)}
# The heap is the broker's only: the perf tools keep their own defaults (-Xmx512M).
export -n KAFKA_HEAP_OPTS

phase_on() { [[ " $PHASES " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------------------
# Logging

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" | tee -a "$RESULTS/run.log" >&2; }
die() { log "FATAL: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Tools

apt_updated=0
ensure_debs() { # package... : install the missing ones (idempotent; apt-get update at most once)
    local missing=() p
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    if [ $apt_updated = 0 ]; then apt-get update -q >/dev/null; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
}

# rdkafka_performance from Debian's librdkafka-dev example source, compiled once per source
# version and cached: the example is unmodified, bench/lib/rdkafka-shim stands in for the two
# internal librdkafka headers it includes.
build_rdkafka_performance() {
    local src=/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c
    local shim="$here/lib/rdkafka-shim/src"
    local cache="${MILENA_CACHE:-$HOME/.cache/milena}/bench"
    [ -f "$src" ] || die "$src missing (librdkafka-dev)"
    local stamp
    stamp=$(cat "$src" "$shim"/*.h | sha256sum | cut -c1-12)
    RDKPERF="$cache/rdkafka_performance-$stamp"
    if [ ! -x "$RDKPERF" ]; then
        mkdir -p "$cache"
        log "compiling rdkafka_performance into $RDKPERF"
        gcc -O2 -w -I "$shim" -I /usr/include/librdkafka -o "$RDKPERF.tmp.$$" "$src" -lrdkafka
        mv "$RDKPERF.tmp.$$" "$RDKPERF"
    fi
}

ensure_tools() {
    command -v cargo >/dev/null || die "cargo not found"
    log "cargo build --release"
    cargo build --release -q
    MILENA_BIN="${CARGO_TARGET_DIR:-$repo/target}/release/milena"
    [ -x "$MILENA_BIN" ] || die "no $MILENA_BIN after cargo build"
    DIST=$(bash scripts/kafka-dist.sh | tail -n1)
    KBIN="$DIST/bin"
    ensure_debs librdkafka-dev gcc gnuplot-nox coreutils util-linux
    build_rdkafka_performance
}

# ---------------------------------------------------------------------------------------------
# Brokers. Each is pinned to BROKER_CPUS by starting its launcher under taskset (affinity is
# inherited by every child process and thread), and checked afterwards in /proc.

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_pinned() { # pid name
    local want got
    want=$(taskset -c "$BROKER_CPUS" cat /proc/self/status | awk '/^Cpus_allowed_list/ {print $2}')
    got=$(awk '/^Cpus_allowed_list/ {print $2}' "/proc/$1/status")
    [ "$got" = "$want" ] || die "$2 (pid $1) runs on cpus '$got', expected '$want'"
}

milena_starts=0
start_milena() { # [--override k=v ...] : a fresh data dir each time
    milena_starts=$((milena_starts + 1))
    local data="$work/milena-$milena_starts" out="$RESULTS/logs/milena-$milena_starts.log"
    port_open "$MILENA_PORT" && die "port $MILENA_PORT is already in use"
    taskset -c "$BROKER_CPUS" "$MILENA_BIN" \
        --override log.dirs="$data" \
        --override listeners="PLAINTEXT://127.0.0.1:$MILENA_PORT" \
        --override advertised.listeners="PLAINTEXT://localhost:$MILENA_PORT" \
        "$@" >"$out" 2>&1 &
    MILENA_PID=$!
    local deadline=$((SECONDS + 30))
    until port_open "$MILENA_PORT"; do
        kill -0 "$MILENA_PID" 2>/dev/null || { tail -n 20 "$out" >&2; die "milena exited at start"; }
        [ $SECONDS -lt $deadline ] || die "milena did not open port $MILENA_PORT in 30 s"
        sleep 0.1
    done
    check_pinned "$MILENA_PID" milena
    log "milena started: pid $MILENA_PID, data $data${*:+, $*}"
}

stop_milena() {
    [ -n "${MILENA_PID:-}" ] || return 0
    kill -TERM "$MILENA_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 300); do kill -0 "$MILENA_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$MILENA_PID" 2>/dev/null || true
    wait "$MILENA_PID" 2>/dev/null || true
    MILENA_PID=
}

start_kafka() {
    log "starting Apache Kafka (KRaft, single node, KAFKA_HEAP_OPTS=$KAFKA_HEAP_OPTS)"
    KAFKA_HEAP_OPTS="$KAFKA_HEAP_OPTS" taskset -c "$BROKER_CPUS" bash scripts/reference-kafka.sh start "$work/kafka" "$KAFKA_PORT" \
        >"$RESULTS/logs/kafka-start.log" 2>&1 || { cat "$RESULTS/logs/kafka-start.log" >&2; die "kafka did not start"; }
    KAFKA_PID=$(cat "$work/kafka/kafka.pid")
    # The pid file must name the JVM doing the work, not a launcher shell: reference-kafka.sh
    # execs through kafka-server-start.sh and kafka-run-class.sh into java.
    local exe
    exe=$(readlink "/proc/$KAFKA_PID/exe" || true)
    [[ "$exe" == */java ]] || die "kafka pid $KAFKA_PID is '$exe', not the JVM"
    grep -qa 'kafka\.Kafka' "/proc/$KAFKA_PID/cmdline" || die "kafka pid $KAFKA_PID is not kafka.Kafka"
    check_pinned "$KAFKA_PID" kafka
    log "kafka started: pid $KAFKA_PID ($exe), data $work/kafka/data"
}

stop_kafka() {
    [ -n "${KAFKA_PID:-}" ] || return 0
    bash scripts/reference-kafka.sh stop "$work/kafka" >/dev/null 2>&1 || true
    KAFKA_PID=
}

broker_pid() { if [ "$1" = milena ]; then echo "$MILENA_PID"; else echo "$KAFKA_PID"; fi; }
broker_port() { if [ "$1" = milena ]; then echo "$MILENA_PORT"; else echo "$KAFKA_PORT"; fi; }
BROKERS=(milena kafka)   # the order within a round: A B A B ...

# ---------------------------------------------------------------------------------------------
# Topics: created and deleted with the stock kafka-topics.sh, the same settings on both brokers
# (the one exception, flush.messages=1 on Kafka's fsync topic, is Kafka's half of that workload).

# kafka-topics.sh runs twice per measured run, between runs: a JVM tuned to start fast (C1 only,
# serial GC) saves about a second each time. This touches only the admin tool, never a broker or
# a measured client. Bounded commands use `timeout --foreground` throughout: the command stays in
# the terminal's process group, so Ctrl-C reaches it at once instead of after it finishes.
topics() { # broker args...
    local port
    port=$(broker_port "$1")
    shift
    KAFKA_JVM_PERFORMANCE_OPTS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true" \
        timeout --foreground 120 taskset -c "$CLIENT_CPUS" "$KBIN/kafka-topics.sh" --bootstrap-server "localhost:$port" "$@" \
        >>"$RESULTS/logs/topics.log" 2>&1
}

topic_create() { # broker topic partitions [--config k=v ...]
    local b=$1 t=$2 n=$3
    shift 3
    topics "$b" --create --topic "$t" --partitions "$n" --replication-factor 1 "$@" ||
        die "creating topic $t on $b failed (logs/topics.log)"
}

topic_delete() { # broker topic
    topics "$1" --delete --topic "$2" || log "warning: deleting topic $2 on $1 failed"
}

# Before every measured run: write back what earlier runs left dirty in the page cache, so one
# broker's writeback does not land in the other's measurement window.
settle() { timeout 300 sync || log "warning: sync did not finish in 300 s"; }

# ---------------------------------------------------------------------------------------------
# One measured run = bench/lib/measure.py around one client command; it appends to runs.jsonl.

measure() { # kind broker logname [measure.py options...] -- command...
    local kind=$1 b=$2 name=$3
    shift 3
    local out
    out=$(python3 "$here/lib/measure.py" "$kind" --pid "$(broker_pid "$b")" \
        --log "$RESULTS/logs/$name.log" --out "$RESULTS/runs.jsonl" --tag broker="$b" "$@")
    log "  $b: $(summarize_run "$out")"
}

summarize_run() { # one JSON result -> one short line
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])
if not r.get("ok"):
    print("FAILED:", r.get("error")); sys.exit()
parts = []
if "mb_per_s" in r: parts.append("%.0f msgs/s, %.1f MB/s" % (r["msgs_per_s"], r["mb_per_s"]))
if "p99_ms" in r: parts.append("p50/p99/p99.9 %g/%g/%g ms" % (r["p50_ms"], r["p99_ms"], r["p999_ms"]))
if "cpu_s_per_gb" in r: parts.append("broker %.2f CPU-s/GB" % r["cpu_s_per_gb"])
if r.get("vmrss_kb"): parts.append("RSS %d MB" % (r["vmrss_kb"] // 1024))
if r.get("client_cpu_util") is not None: parts.append("client cpu %.0f%%" % (100 * r["client_cpu_util"]))
print(", ".join(parts))' "$1"
}

# The client command lines, into the array CMD (pinned to CLIENT_CPUS).
rdkafka_produce_cmd() { # broker topic size acks
    # -u: a table row every -i ms (measure.py reads them live, hence stdbuf -oL); no -c: it runs
    # until measure.py sends SIGINT at the end of the window.
    CMD=(taskset -c "$CLIENT_CPUS" stdbuf -oL "$RDKPERF" -P -t "$2" -b "localhost:$(broker_port "$1")"
        -s "$3" -a "$4" -X "linger.ms=$LINGER_MS" -X "batch.size=$BATCH_BYTES" -u -i 500)
}

java_produce_cmd() { # broker topic size acks records rate
    # --print-metrics: the producer's own batch size, records per request and request latency
    # at the end, to tell why a client fell behind a rate (measure.py keeps them).
    CMD=(taskset -c "$CLIENT_CPUS" "$KBIN/kafka-producer-perf-test.sh" --topic "$2" --record-size "$3"
        --num-records "$5" --throughput "$6" --producer-props "bootstrap.servers=localhost:$(broker_port "$1")"
        "acks=$4" "linger.ms=$LINGER_MS" "batch.size=$BATCH_BYTES" --print-metrics)
}

# ---------------------------------------------------------------------------------------------
# Phase 1: produce throughput, rdkafka_performance, every size x acks x partitions.

workload_id() { echo "produce-${1}B-acks${2}-p${3}"; } # size acks partitions

phase_produce() {
    local size acks parts round b wl topic
    for size in $SIZES; do for acks in $ACKS; do for parts in $PARTITIONS; do
        wl=$(workload_id "$size" "$acks" "$parts")
        for round in $(seq 1 "$ROUNDS"); do
            log "$wl round $round/$ROUNDS (${WARMUP}s warm-up + ${DURATION}s)"
            for b in "${BROKERS[@]}"; do
                topic="t-$wl-r$round"
                topic_create "$b" "$topic" "$parts"
                rdkafka_produce_cmd "$b" "$topic" "$size" "$acks"
                settle
                measure rdkafka-produce "$b" "$wl-r$round-$b" --size "$size" --warmup "$WARMUP" \
                    --duration "$DURATION" --timeout 60 --tag phase=produce --tag workload="$wl" \
                    --tag round="$round" --tag tool=rdkafka_performance --tag size="$size" \
                    --tag acks="$acks" --tag partitions="$parts" -- "${CMD[@]}"
                topic_delete "$b" "$topic"
            done
        done
    done; done; done
}

# ---------------------------------------------------------------------------------------------
# Phase 2: consume catch-up. A backlog of BACKLOG_MB of 1 KiB records in 8 partitions per
# broker, written once (count-bounded rdkafka_performance, acks=1), then read from the beginning
# each round by rdkafka_performance -C (timed by the tool from first record to the end of every
# partition) and, as a cross-check, by kafka-consumer-perf-test (fetch time, fresh group).

phase_consume() {
    local size=1024 parts=8 b round p records wl=consume-1024B-p8 plist=()
    records=$((BACKLOG_MB * 1048576 / size))
    for p in $(seq 0 $((parts - 1))); do plist+=(-p "$p"); done
    for b in "${BROKERS[@]}"; do
        log "consume: writing a backlog of $records x ${size} B records to $b"
        topic_create "$b" backlog "$parts"
        timeout --foreground $((600 + BACKLOG_MB)) taskset -c "$CLIENT_CPUS" "$RDKPERF" -P -t backlog \
            -b "localhost:$(broker_port "$b")" -s "$size" -a 1 -c "$records" \
            -X "linger.ms=$LINGER_MS" -X "batch.size=$BATCH_BYTES" \
            >"$RESULTS/logs/consume-backlog-$b.log" 2>&1 || die "writing the backlog to $b failed"
        log "  $(grep -E '^% [0-9]+ messages produced' "$RESULTS/logs/consume-backlog-$b.log" | tail -n1)"
    done
    for round in $(seq 1 "$ROUNDS"); do
        log "$wl round $round/$ROUNDS (rdkafka_performance, then kafka-consumer-perf-test)"
        for b in "${BROKERS[@]}"; do
            settle
            measure rdkafka-consume "$b" "$wl-r$round-$b" --size "$size" --expect "$records" \
                --timeout $((300 + BACKLOG_MB / 10)) --tag phase=consume --tag workload="$wl" \
                --tag round="$round" --tag tool=rdkafka_performance --tag size="$size" \
                --tag partitions="$parts" \
                -- taskset -c "$CLIENT_CPUS" "$RDKPERF" -C -t backlog "${plist[@]}" -o beginning -e \
                -b "localhost:$(broker_port "$b")"
        done
        for b in "${BROKERS[@]}"; do
            settle
            measure java-consume "$b" "$wl-java-r$round-$b" --size "$size" --expect "$records" \
                --timeout $((300 + BACKLOG_MB / 5)) --tag phase=consume-xcheck \
                --tag workload="$wl-java" --tag round="$round" --tag tool=kafka-consumer-perf-test \
                --tag size="$size" --tag partitions="$parts" \
                -- taskset -c "$CLIENT_CPUS" "$KBIN/kafka-consumer-perf-test.sh" \
                --bootstrap-server "localhost:$(broker_port "$b")" --topic backlog \
                --messages "$records" --group "bench-$round-$RANDOM" --timeout 60000
        done
    done
    for b in "${BROKERS[@]}"; do topic_delete "$b" backlog; done
}

# ---------------------------------------------------------------------------------------------
# Phase 3: produce latency at fixed rates, kafka-producer-perf-test --throughput (p50/p99/p99.9),
# each measured run after an unmeasured warm-up run at the same rate on the same topic.
# First XCHECK_ROUNDS rounds of the same Java producer unthrottled (time-bounded like the
# rdkafka runs): a cross-check of the rdkafka maxima, and the Java client's own ceiling. The
# fixed rates are LOAD_PCTS of the slower broker's median maximum for the workload, where that
# maximum is (LATENCY_BASIS)
#   auto     the lower of the rdkafka maximum (phase 1) and the Java maximum: a rate the Java
#            client cannot send would measure the client's queue, not the broker (one client
#            core sends less with the Java producer than with rdkafka_performance);
#   rdkafka  the rdkafka_performance maximum of phase 1 as is;
#   java     the Java maximum.

basis_rate() { # workload tool -> the slower broker's median msgs/s, or nothing
    python3 "$here/lib/report.py" basis "$RESULTS" "$1" "$2"
}

phase_latency() {
    local spec size acks parts wl basis rdk java round b pct rate records topic
    for spec in $LATENCY_WORKLOADS; do
        IFS=: read -r size acks parts <<<"$spec"
        wl=$(workload_id "$size" "$acks" "$parts")
        for round in $(seq 1 "$XCHECK_ROUNDS"); do
            log "$wl-java (kafka-producer-perf-test unthrottled) round $round/$XCHECK_ROUNDS"
            for b in "${BROKERS[@]}"; do
                topic="x-$wl-r$round"
                topic_create "$b" "$topic" "$parts"
                java_produce_cmd "$b" "$topic" "$size" "$acks" 2000000000 -1
                settle
                measure java-produce-max "$b" "$wl-java-r$round-$b" --size "$size" \
                    --warmup "$WARMUP" --duration "$DURATION" --timeout 60 \
                    --tag phase=produce-xcheck --tag workload="$wl-java" --tag round="$round" \
                    --tag tool=kafka-producer-perf-test --tag size="$size" --tag acks="$acks" \
                    --tag partitions="$parts" -- "${CMD[@]}"
                topic_delete "$b" "$topic"
            done
        done
        rdk=$(basis_rate "$wl" rdkafka_performance)
        java=$(basis_rate "$wl-java" kafka-producer-perf-test)
        case "$LATENCY_BASIS" in
        rdkafka) basis=$rdk ;;
        java) basis=$java ;;
        *) basis=$(printf '%s\n' $rdk $java | sort -n | head -n1) ;;
        esac
        [ -n "$basis" ] || { log "no maximum for $wl ($LATENCY_BASIS): skipping its latency runs"; continue; }
        log "$wl: the slower broker's maximum is ${rdk:-?} msgs/s with rdkafka_performance, ${java:-?} with the Java producer; basis ($LATENCY_BASIS) $basis msgs/s"
        echo "latency_basis_$wl=$basis rdkafka=${rdk:-} java=${java:-} ($LATENCY_BASIS)" >>"$RESULTS/meta.txt"
        for round in $(seq 1 "$ROUNDS"); do
            for pct in $LOAD_PCTS; do
                rate=$((basis * pct / 100))
                records=$((rate * DURATION))
                log "latency-$wl at ${pct}% ($rate msgs/s) round $round/$ROUNDS"
                for b in "${BROKERS[@]}"; do
                    topic="l-$wl-$pct-r$round"
                    topic_create "$b" "$topic" "$parts"
                    settle
                    # Warm-up: the same rate for WARMUP s on the same topic, not measured (the
                    # 4.1 tool cannot leave out its own first seconds); then the measured run.
                    java_produce_cmd "$b" "$topic" "$size" "$acks" $((rate * WARMUP)) "$rate"
                    timeout --foreground $((3 * WARMUP + 60)) "${CMD[@]}" >>"$RESULTS/logs/latency-$wl-$pct-r$round-$b.warmup.log" 2>&1 ||
                        log "  warning: the warm-up run on $b failed (logs/latency-$wl-$pct-r$round-$b.warmup.log)"
                    java_produce_cmd "$b" "$topic" "$size" "$acks" "$records" "$rate"
                    measure java-produce "$b" "latency-$wl-$pct-r$round-$b" --size "$size" \
                        --expect "$records" --timeout $((3 * (WARMUP + DURATION) + 60)) \
                        --tag phase=latency --tag workload="latency-$wl-$pct" --tag round="$round" \
                        --tag tool=kafka-producer-perf-test --tag size="$size" --tag acks="$acks" \
                        --tag partitions="$parts" --tag load_pct="$pct" --tag target_rate="$rate" \
                        -- "${CMD[@]}"
                    topic_delete "$b" "$topic"
                done
            done
        done
    done
}

# ---------------------------------------------------------------------------------------------
# Phase 4: fsync before ack. Milena restarted with milena.flush.on.ack=true; Kafka's topic gets
# flush.messages=1 (fsync after every append); acks=all, rdkafka_performance as in phase 1.
# Each round first measures the disk's own fsync'd write rate (as measure_disk), for the ratio.

phase_fsync() {
    local size parts round b wl topic cfg
    IFS=: read -r size parts <<<"$FSYNC_WORKLOAD"
    wl="fsync-${size}B-acksall-p$parts"
    stop_milena
    start_milena --override milena.flush.on.ack=true
    for round in $(seq 1 "$ROUNDS"); do
        log "$wl round $round/$ROUNDS"
        # The disk itself, next to the brokers' runs: a VM's disk drifts with its neighbours.
        settle
        # Same warm-up and window as the brokers' runs: this VM's disk is faster for its first
        # seconds of sustained writing.
        log "  disk: $(python3 "$here/lib/report.py" disk-run "$RESULTS/runs.jsonl" "$work/disk-test" \
            "$BATCH_BYTES" "$DURATION" "$WARMUP" phase=fsync-disk workload="$wl" round="$round")"
        for b in "${BROKERS[@]}"; do
            topic="f-$wl-r$round"
            cfg=()
            [ "$b" = kafka ] && cfg=(--config flush.messages=1)
            topic_create "$b" "$topic" "$parts" "${cfg[@]}"
            rdkafka_produce_cmd "$b" "$topic" "$size" all
            settle
            measure rdkafka-produce "$b" "$wl-r$round-$b" --size "$size" --warmup "$WARMUP" \
                --duration "$DURATION" --timeout 60 --tag phase=fsync --tag workload="$wl" \
                --tag round="$round" --tag tool=rdkafka_performance --tag size="$size" \
                --tag acks=all --tag partitions="$parts" -- "${CMD[@]}"
            topic_delete "$b" "$topic"
        done
    done
}

# The disk's sequential fsync'd write rate in the brokers' filesystem: appends of one produce
# batch (BATCH_BYTES) each followed by fdatasync, as a log append with fsync-before-ack does;
# 64 KiB too, for context.
measure_disk() {
    local secs=$((DURATION < 10 ? DURATION : 10)) bs
    for bs in "$BATCH_BYTES" 65536; do
        settle
        python3 "$here/lib/report.py" disk "$work/disk-test" "$bs" "$secs" >>"$RESULTS/meta.txt"
    done
    log "disk: $(grep '^disk_' "$RESULTS/meta.txt" | tr '\n' ' ')"
}

# ---------------------------------------------------------------------------------------------

estimate_seconds() { # per run: warm-up + duration + ~6 s of topic admin, sync, start and stop
    local n_prod n_lat n_load run=$((WARMUP + DURATION))
    n_prod=$(( $(wc -w <<<"$SIZES") * $(wc -w <<<"$ACKS") * $(wc -w <<<"$PARTITIONS") ))
    n_lat=$(wc -w <<<"$LATENCY_WORKLOADS")
    n_load=$(wc -w <<<"$LOAD_PCTS")
    local t=100  # tools, disk test, brokers' start-up, report
    phase_on produce && t=$((t + n_prod * ROUNDS * 2 * (run + 6)))
    phase_on consume && t=$((t + 2 * (BACKLOG_MB / 150 + 6) + ROUNDS * 2 * (BACKLOG_MB / 250 + BACKLOG_MB / 150 + 12)))
    phase_on latency && t=$((t + n_lat * (XCHECK_ROUNDS * 2 * (run + 11) + ROUNDS * n_load * 2 * (run + 8))))
    phase_on fsync && t=$((t + 5 + ROUNDS * (2 * (run + 6) + run + 2)))
    echo "$t"
}

write_meta() {
    {
        echo "date=$(date -Iseconds)"
        echo "host=$(uname -srm)"
        echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
        echo "cores=$(nproc --all)"
        echo "milena_rev=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo +dirty)"
        echo "kafka_version=$(basename "$DIST" | sed 's/^kafka-//')"
        echo "librdkafka_version=$(dpkg-query -W -f '${Version}' librdkafka-dev)"
        echo "java=$(java -version 2>&1 | head -n1)"
        echo "quick=$QUICK"
        echo "rounds=$ROUNDS"
        echo "duration=$DURATION"
        echo "warmup=$WARMUP"
        echo "backlog_mb=$BACKLOG_MB"
        echo "broker_cpus=$BROKER_CPUS"
        echo "client_cpus=$CLIENT_CPUS"
        echo "linger_ms=$LINGER_MS"
        echo "batch_bytes=$BATCH_BYTES"
        echo "kafka_heap_opts=$KAFKA_HEAP_OPTS"
        echo "phases=$PHASES"
        echo "xcheck_rounds=$XCHECK_ROUNDS"
        echo "latency_basis=$LATENCY_BASIS"
        echo "data_fs=$(df -PT "$work" | awk 'NR==2 {print $1 " (" $2 ")"}')"
    } >>"$RESULTS/meta.txt"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_milena
    stop_kafka
    if [ -n "${work:-}" ] && [ -d "$work/kafka/logs" ] && [ -d "$RESULTS/logs" ]; then
        cp "$work/kafka/logs/server.log" "$RESULTS/logs/kafka-server.log" 2>/dev/null || true
        cp "$work/kafka/logs/kafkaServer-gc.log" "$RESULTS/logs/kafka-gc.log" 2>/dev/null || true
    fi
    [ -n "${work:-}" ] && rm -rf "$work"
    [ $rc -eq 0 ] || echo "bench/run.sh: stopped (exit $rc); partial results in $RESULTS" >&2
    exit $rc
}

main() {
    mkdir -p "$RESULTS/logs"
    : >"$RESULTS/runs.jsonl"
    : >"$RESULTS/meta.txt"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    local est
    est=$(estimate_seconds)
    log "bench/run.sh: ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP BACKLOG_MB=$BACKLOG_MB QUICK=$QUICK PHASES='$PHASES'"
    log "estimated duration: about $((est / 60)) min $((est % 60)) s (results: $RESULTS)"
    ensure_tools
    mkdir -p "$BENCH_TMPDIR"
    work=$(mktemp -d "$BENCH_TMPDIR/milena-bench.XXXXXX")
    write_meta
    measure_disk
    start_milena
    start_kafka
    phase_on produce && phase_produce
    phase_on consume && phase_consume
    phase_on latency && phase_latency
    phase_on fsync && phase_fsync
    log "all runs done in $((SECONDS / 60)) min $((SECONDS % 60)) s (estimate was $((est / 60)) min)"
    echo "elapsed_s=$SECONDS" >>"$RESULTS/meta.txt"
    echo "estimate_s=$est" >>"$RESULTS/meta.txt"
    stop_milena
    stop_kafka
    python3 "$here/lib/report.py" report "$RESULTS"
    echo
    cat "$RESULTS/summary.md"
}

main "$@"

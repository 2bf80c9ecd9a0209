#!/usr/bin/env bash
# Milena against Apache Kafka 4.1 on this machine: the benchmark suite of issue 7.
#
#   bench/run.sh                      # full suite: ROUNDS=3 DURATION=30 WARMUP=5, about 2 h 20 min
#   QUICK=1 bench/run.sh              # every workload once, briefly (smoke test, about 25 minutes)
#   PHASES=factors bench/run.sh       # issue 14: which factor moves the 1 KiB acks=all figure
#   PHASES=replicated bench/run.sh    # only the 3-node clusters (RF 3): about 35 minutes
#   PHASES=replicated DURATION=15 bench/run.sh   # the same in about 28 minutes
#   PHASES=scale bench/run.sh         # only 10,000 partitions, 1,000 connections, 200 groups
#   PHASES=tls bench/run.sh           # only produce and consume over SSL (and PLAINTEXT): ~17 min
#   PHASES=conversion bench/run.sh    # issue 17: old clients' format conversion, against Kafka 3.9.1
#
# Writes bench/results/<YYYY-MM-DD-HHMM>/ (raw logs, runs.jsonl, rounds.csv, summary.md,
# plot.png, plot-replicated.png) and prints the summary table at the end. bench/README.md explains the method, every
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
    ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-15} WARMUP=${WARMUP:-3} BACKLOG_MB=${BACKLOG_MB:-2048}
fi
# The page cache before every measured run: "warm" fills free memory with clean page cache
# (lib/ballast.py) down to BALLAST_KEEP_MB, as on a host that has been up for a while; "free"
# leaves it as the previous run left it (see "Page cache" in bench/README.md).
PAGE_CACHE=${PAGE_CACHE:-warm}
BALLAST_KEEP_MB=${BALLAST_KEEP_MB:-1536}
# A produce run also ends once this many MiB were delivered (a broker writing 1.4 GB/s fills the
# disk in a 30 s run); default: a third of the data filesystem's free space, at most 12 GiB.
PRODUCE_MAX_MB=${PRODUCE_MAX_MB:-}
BROKER_CPUS=${BROKER_CPUS:-0}          # taskset list for the broker under test
CLIENT_CPUS=${CLIENT_CPUS:-1}          # taskset list for every load generator and admin tool
SIZES=${SIZES:-"100 1024"}             # record value sizes (bytes) of the produce workloads
ACKS=${ACKS:-"1 all"}
PARTITIONS=${PARTITIONS:-"1 8"}
LINGER_MS=${LINGER_MS:-5}
# The produce phase runs every workload with each of these rdkafka_performance builds: "debian"
# (Debian's librdkafka-dev, 2.0.2 on bookworm) and "current" (the librdkafka bundled by the
# rdkafka-sys crate in the cargo registry, 2.12.1, built with CMake; see build_rdkafka_current).
RDKAFKA_CLIENTS=${RDKAFKA_CLIENTS:-"debian current"}
BATCH_BYTES=${BATCH_BYTES:-1048576}
LATENCY_WORKLOADS=${LATENCY_WORKLOADS:-"1024:all:8"}   # size:acks:partitions, space-separated
LOAD_PCTS=${LOAD_PCTS:-"10 50 80"}     # % of the slower broker's maximum for that workload
XCHECK_ROUNDS=${XCHECK_ROUNDS:-1}      # rounds of the Java max-throughput cross-check
LATENCY_BASIS=${LATENCY_BASIS:-auto}   # auto | rdkafka | java: whose maximum the loads are % of
FSYNC_WORKLOAD=${FSYNC_WORKLOAD:-"1024:1"}             # size:partitions, acks=all
PHASES=${PHASES:-"produce capacity consume latency fsync tls restart scale replicated"}
# The capacity phase's workloads (lib/replay.py), size:acks:partitions.
CAPACITY_WORKLOADS=${CAPACITY_WORKLOADS:-"100:1:8 100:all:8 1024:1:8 1024:all:8"}
MILENA_PORT=${MILENA_PORT:-29092}
KAFKA_PORT=${KAFKA_PORT:-39092}        # (its controller listens on KAFKA_PORT+1000)
# The tls phase: both brokers started afresh with an SSL listener next to PLAINTEXT (a throwaway
# CA and server certificate made once per run with openssl); produce and consume over SSL with
# Debian's rdkafka_performance (librdkafka 2.0.2 with OpenSSL; the "current" build has no SSL).
TLS_WORKLOADS=${TLS_WORKLOADS:-"1024:1:8 1024:all:8"}  # size:acks:partitions of its produce runs
# MiB of 1 KiB records (8 partitions) for its consume catch-up, read over SSL and over PLAINTEXT
# each round: smaller than BACKLOG_MB, since every round reads it twice per broker.
if [ "$QUICK" = 1 ]; then TLS_BACKLOG_MB=${TLS_BACKLOG_MB:-128}; else TLS_BACKLOG_MB=${TLS_BACKLOG_MB:-1024}; fi
TLS_BASELINE=${TLS_BASELINE:-1}        # 1: every SSL run next to the same run over PLAINTEXT; 0: SSL only
TLS_BLOCK_WARMUP=${TLS_BLOCK_WARMUP:-$((2 * WARMUP))}  # s of unmeasured produce per broker and listener first (0: none)
MILENA_TLS_PORT=${MILENA_TLS_PORT:-$((MILENA_PORT + 1))}   # the SSL listeners (tls phase only)
KAFKA_TLS_PORT=${KAFKA_TLS_PORT:-$((KAFKA_PORT + 1))}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:-"-Xmx1g -Xms1g"}    # kafka-server-start.sh's own default
# The replicated phase: a 3-node cluster of each (combined broker+controller nodes, RF 3,
# min.insync.replicas=2, acks=all), one cluster at a time.
REPL_PARTITIONS=${REPL_PARTITIONS:-"8 1"}              # partitions of the throughput workloads
REPL_SIZE=${REPL_SIZE:-1024}                           # record value size (bytes)
REPL_LATENCY_PARTITIONS=${REPL_LATENCY_PARTITIONS:-8}  # partitions of the latency workload
REPL_LOAD_PCTS=${REPL_LOAD_PCTS:-50}                   # its fixed rates, % of the slower cluster's maximum
REPL_BROKER_CPUS=${REPL_BROKER_CPUS:-$BROKER_CPUS}     # taskset list shared by the three nodes
REPL_BLOCK_WARMUP=${REPL_BLOCK_WARMUP:-$((2 * WARMUP))}  # s of unmeasured load on each fresh cluster
REPL_MILENA_PORT=${REPL_MILENA_PORT:-29192}            # nodes 1-3 on PORT..PORT+2, controllers on +100
REPL_KAFKA_PORT=${REPL_KAFKA_PORT:-29392}
REPL_KAFKA_HEAP_OPTS=${REPL_KAFKA_HEAP_OPTS:-"-Xmx384m -Xms384m"}   # per Kafka node
# Failover: broker.session.timeout.ms:broker.heartbeat.interval.ms, one cluster start each; the
# first is also the setting of the throughput and latency runs.
FAILOVER_SETTINGS=${FAILOVER_SETTINGS:-"9000:2000 2000:500"}
# Stages of the replicated phase to run (see phase_replicated): "latency" needs "throughput"
# (its basis); REPL_STAGES=failover alone measures the further FAILOVER_SETTINGS entries only.
REPL_STAGES=${REPL_STAGES:-"throughput latency failover"}
FAILOVER_RATE=${FAILOVER_RATE:-5000}                   # records/s of the steady load (1 KiB, acks=all)
FAILOVER_VICTIM=${FAILOVER_VICTIM:-broker}             # broker | controller | any (see README)
FAILOVER_KILL_AFTER=${FAILOVER_KILL_AFTER:-$((WARMUP + 3))}  # s of steady load before the kill
FAILOVER_TIMEOUT=${FAILOVER_TIMEOUT:-60}               # s to wait for the first ack after the kill
# The scale phase: one broker at a time with many topics, connections and groups (QUICK: small).
if [ "$QUICK" = 1 ]; then
    SCALE_TOPICS=${SCALE_TOPICS:-100} SCALE_CONNECTIONS=${SCALE_CONNECTIONS:-100}
    SCALE_GROUPS=${SCALE_GROUPS:-20} SCALE_EXTRA_TOPICS=${SCALE_EXTRA_TOPICS:-10}
    SCALE_PRODUCE_RATE=${SCALE_PRODUCE_RATE:-2000}
fi
SCALE_TOPICS=${SCALE_TOPICS:-1000}                     # topics created at the start ...
SCALE_PARTITIONS=${SCALE_PARTITIONS:-10}               # ... with this many partitions each
SCALE_CREATE_BATCH=${SCALE_CREATE_BATCH:-100}          # topics per CreateTopics request
SCALE_CONNECTIONS=${SCALE_CONNECTIONS:-1000}           # client connections held open
SCALE_CONN_INTERVAL=${SCALE_CONN_INTERVAL:-10}         # s between two requests on each of them
SCALE_GROUPS=${SCALE_GROUPS:-200}                      # consumers, each in its own group
SCALE_EXTRA_TOPICS=${SCALE_EXTRA_TOPICS:-100}          # topics created during the produce run
SCALE_PROBE_TOPICS=${SCALE_PROBE_TOPICS:-5}            # topics per Metadata probe request
SCALE_PROBE_RATE=${SCALE_PROBE_RATE:-20}               # Metadata probe requests per second
SCALE_PRODUCE_RATE=${SCALE_PRODUCE_RATE:-5000}         # records/s of 1 KiB, acks=all
SCALE_PRODUCE_PARTITIONS=${SCALE_PRODUCE_PARTITIONS:-8}
SCALE_ROUNDS=${SCALE_ROUNDS:-1}
SCALE_NOFILE=${SCALE_NOFILE:-$(ulimit -Hn)}            # open-file limit (soft = hard) of both brokers
BENCH_TMPDIR=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}          # brokers' data go under a mktemp dir here
# The restart phase's knobs are in bench/lib/restart.sh.
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

# rdkafka_performance built against a current librdkafka: the one the rdkafka-sys crate bundles
# (the dev-dependency rdkafka = 0.39 pulls rdkafka-sys 4.10.0+2.12.1, whose source in the cargo
# registry includes librdkafka with its CMake build and examples/). librdkafka is configured with
# CMake as a static library with only what a plaintext producer and consumer need (no SSL, SASL,
# CURL, zstd, zlib, plugins; its bundled lz4 and snappy), no tests, and only the unmodified
# example rdkafka_performance is built, in a scratch copy of the source (the registry stays
# untouched). Cached under ~/.cache/milena/bench/ keyed by the librdkafka version and the CMake
# options: a second call does nothing.
RDK_CMAKE_OPTS=(-DCMAKE_BUILD_TYPE=Release -DRDKAFKA_BUILD_STATIC=ON -DRDKAFKA_BUILD_TESTS=OFF
    -DRDKAFKA_BUILD_EXAMPLES=ON -DWITH_SSL=OFF -DWITH_SASL=OFF -DWITH_CURL=OFF -DWITH_ZSTD=OFF
    -DWITH_ZLIB=OFF -DWITH_PLUGINS=OFF -DENABLE_LZ4_EXT=OFF)
rdkafka_sys_src() { # -> the librdkafka directory of the locked rdkafka-sys crate (cargo fetch if missing)
    local v d home=${CARGO_HOME:-$HOME/.cargo}
    v=$(awk '$0 == "name = \"rdkafka-sys\"" { getline; gsub(/"/, "", $3); print $3; exit }' "$repo/Cargo.lock")
    [ -n "$v" ] || die "no rdkafka-sys in Cargo.lock"
    d=$(ls -d "$home"/registry/src/*/"rdkafka-sys-$v"/librdkafka 2>/dev/null | head -n1)
    if [ -z "$d" ]; then
        log "cargo fetch (for the librdkafka source in rdkafka-sys $v)"
        cargo fetch -q >&2
        d=$(ls -d "$home"/registry/src/*/"rdkafka-sys-$v"/librdkafka 2>/dev/null | head -n1)
    fi
    [ -n "$d" ] && [ -f "$d/examples/rdkafka_performance.c" ] || die "no librdkafka source for rdkafka-sys $v in $home/registry/src"
    echo "$d"
}

build_rdkafka_current() { # sets RDKPERF_CURRENT and RDK_CURRENT_VERSION
    local src ver cache="${MILENA_CACHE:-$HOME/.cache/milena}/bench" key tmp
    src=$(rdkafka_sys_src)
    # The version as librdkafka itself states it (rdkafka.h: RD_KAFKA_VERSION 0xMMmmrrff).
    ver=$(awk '/^#define RD_KAFKA_VERSION / { print $3; exit }' "$src/src/rdkafka.h")
    [[ "$ver" == 0x* ]] || die "no RD_KAFKA_VERSION in $src/src/rdkafka.h"
    ver=$(printf '%d.%d.%d' $((ver >> 24)) $(((ver >> 16) & 255)) $(((ver >> 8) & 255)))
    key=$(printf '%s\n' "$ver" "${RDK_CMAKE_OPTS[@]}" | sha256sum | cut -c1-8)
    RDK_CURRENT_VERSION=$ver
    RDKPERF_CURRENT="$cache/rdkafka_performance-librdkafka-$ver-$key"
    [ -x "$RDKPERF_CURRENT" ] && return 0
    ensure_debs cmake make gcc g++ pkg-config
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/build-librdkafka-$ver.XXXXXX")
    log "building librdkafka $ver (CMake, static) and its rdkafka_performance into $RDKPERF_CURRENT (about a minute per core)"
    cp -a "$src" "$tmp/src"
    if ! { cmake -S "$tmp/src" -B "$tmp/build" "${RDK_CMAKE_OPTS[@]}" &&
        cmake --build "$tmp/build" --target rdkafka_performance -j "$(nproc)"; } >"$tmp/build.log" 2>&1; then
        tail -n 30 "$tmp/build.log" >&2
        die "building librdkafka $ver failed (log: $tmp/build.log)"
    fi
    cp "$tmp/build/examples/rdkafka_performance" "$RDKPERF_CURRENT.tmp.$$"
    mv "$RDKPERF_CURRENT.tmp.$$" "$RDKPERF_CURRENT"
    rm -rf "$tmp"
}

# The rdkafka_performance builds by name (RDKAFKA_CLIENTS): RDK_BIN[name], RDK_VER[name].
declare -A RDK_BIN=() RDK_VER=()
setup_rdkafka_clients() { # client names...: build what they need
    local c v
    v=$(dpkg-query -W -f '${Version}' librdkafka-dev)
    RDK_BIN[debian]=$RDKPERF RDK_VER[debian]=${v%-*}
    for c in "$@"; do
        case "$c" in
        debian) ;;
        current)
            build_rdkafka_current
            RDK_BIN[current]=$RDKPERF_CURRENT RDK_VER[current]=$RDK_CURRENT_VERSION ;;
        *) die "unknown rdkafka client '$c' (RDKAFKA_CLIENTS: debian, current)" ;;
        esac
    done
}
rdk_tool() { echo "rdkafka_performance (librdkafka ${RDK_VER[$1]})"; } # client -> the tool tag

ensure_tools() {
    command -v cargo >/dev/null || die "cargo not found"
    log "cargo build --release"
    cargo build --release -q
    MILENA_BIN="${CARGO_TARGET_DIR:-$repo/target}/release/milena"
    [ -x "$MILENA_BIN" ] || die "no $MILENA_BIN after cargo build"
    # The Python clients lib/scale.py (confluent-kafka) and lib/replay.py (kafka-python) use,
    # with the Kafka tools: the test suite's installer, idempotent.
    DIST=$(bash scripts/install-test-deps.sh | tail -n1)
    KBIN="$DIST/bin"
    ensure_debs librdkafka-dev gcc gnuplot-nox coreutils util-linux
    build_rdkafka_performance
    local clients=()
    phase_on produce && clients+=($RDKAFKA_CLIENTS)
    phase_on consume && clients+=($RDKAFKA_CLIENTS)
    phase_on factors && clients+=($FACTOR_CLIENTS)
    phase_on conversion && clients+=(debian)
    setup_rdkafka_clients "${clients[@]}"
    if phase_on replicated; then
        ensure_debs kcat
        build_failover_probe
    fi
    phase_on tls && ensure_debs openssl
    return 0
}

# bench/lib/failover-probe.c (the replicated phase's failover probe), compiled once per source.
build_failover_probe() {
    local src="$here/lib/failover-probe.c" cache="${MILENA_CACHE:-$HOME/.cache/milena}/bench"
    PROBE="$cache/failover-probe-$(sha256sum "$src" | cut -c1-12)"
    if [ ! -x "$PROBE" ]; then
        mkdir -p "$cache"
        log "compiling failover-probe into $PROBE"
        gcc -O2 -Wall -o "$PROBE.tmp.$$" "$src" -lrdkafka -lpthread
        mv "$PROBE.tmp.$$" "$PROBE"
    fi
}

# ---------------------------------------------------------------------------------------------
# Brokers. Each is pinned to BROKER_CPUS by starting its launcher under taskset (affinity is
# inherited by every child process and thread), and checked afterwards in /proc.

port_open() { # whether something listens on port $1 (see /proc/net/tcp), never by connecting:
    # a connect to a port of the ephemeral range with no listener can pick that very port as its
    # source and connect to itself, and then holds the port a broker is about to bind.
    awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
        END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

check_pinned() { # pid name
    local want got
    want=$(taskset -c "$BROKER_CPUS" cat /proc/self/status | awk '/^Cpus_allowed_list/ {print $2}')
    got=$(awk '/^Cpus_allowed_list/ {print $2}' "/proc/$1/status")
    [ "$got" = "$want" ] || die "$2 (pid $1) runs on cpus '$got', expected '$want'"
}

# A command prefix for both brokers' launchers (the scale phase sets their open-file limit
# with prlimit; the children inherit it).
BROKER_WRAP=()

# With TLS_ON=1 (the tls phase) both brokers also get an SSL listener (MILENA_TLS_PORT,
# KAFKA_TLS_PORT) with the keystore made by make_tls_pki; the controller listener stays PLAINTEXT.
TLS_ON=0

milena_starts=0
start_milena() { # [--override k=v ...] : a fresh data dir each time
    milena_starts=$((milena_starts + 1))
    local data="$work/milena-$milena_starts" out="$RESULTS/logs/milena-$milena_starts.log"
    local listeners="PLAINTEXT://127.0.0.1:$MILENA_PORT" adv="PLAINTEXT://localhost:$MILENA_PORT" tls=() p
    local ports=("$MILENA_PORT")
    if [ "$TLS_ON" = 1 ]; then
        listeners+=",SSL://127.0.0.1:$MILENA_TLS_PORT"
        adv+=",SSL://localhost:$MILENA_TLS_PORT"
        ports+=("$MILENA_TLS_PORT")
        tls=(--override ssl.keystore.type=PKCS12 --override ssl.keystore.location="$TLS_KEYSTORE"
            --override ssl.keystore.password="$TLS_PASS" --override ssl.key.password="$TLS_PASS")
    fi
    for p in "${ports[@]}"; do port_open "$p" && die "port $p is already in use"; done
    "${BROKER_WRAP[@]}" taskset -c "$BROKER_CPUS" "$MILENA_BIN" \
        --override log.dirs="$data" \
        --override listeners="$listeners" \
        --override advertised.listeners="$adv" \
        "${tls[@]}" "$@" >"$out" 2>&1 &
    MILENA_PID=$!
    local deadline=$((SECONDS + 30))
    until port_open "$MILENA_PORT" && { [ "$TLS_ON" = 0 ] || port_open "$MILENA_TLS_PORT"; }; do
        kill -0 "$MILENA_PID" 2>/dev/null || { tail -n 20 "$out" >&2; die "milena exited at start"; }
        [ $SECONDS -lt $deadline ] || die "milena did not open port $MILENA_PORT in 30 s"
        sleep 0.1
    done
    check_pinned "$MILENA_PID" milena
    log "milena started: pid $MILENA_PID, data $data${*:+, $*}$([ "$TLS_ON" = 0 ] || echo ", SSL on $MILENA_TLS_PORT")"
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

KAFKA_DIR=
# log.segment.delete.delay.ms=0: a deleted topic's files go at once, as Milena's do, instead of
# 60 s later in the middle of another run (freeing its disk space and page cache there).
start_kafka() { # [dir]: its data and logs (default $work/kafka; kept across restarts)
    KAFKA_DIR=${1:-$work/kafka}
    local tls=()
    if [ "$TLS_ON" = 1 ]; then
        # reference-kafka.sh takes these as the broker's listeners and adds its CONTROLLER
        # listener to both; SSL is already in the default listener.security.protocol.map.
        port_open "$KAFKA_TLS_PORT" && die "port $KAFKA_TLS_PORT is already in use"
        tls=("listeners=PLAINTEXT://localhost:$KAFKA_PORT,SSL://localhost:$KAFKA_TLS_PORT"
            "advertised.listeners=PLAINTEXT://localhost:$KAFKA_PORT,SSL://localhost:$KAFKA_TLS_PORT"
            ssl.keystore.type=PKCS12 "ssl.keystore.location=$TLS_KEYSTORE" "ssl.keystore.password=$TLS_PASS"
            "ssl.key.password=$TLS_PASS")
    fi
    log "starting Apache Kafka (KRaft, single node, KAFKA_HEAP_OPTS=$KAFKA_HEAP_OPTS$([ "$TLS_ON" = 0 ] || echo ", SSL on $KAFKA_TLS_PORT"))"
    KAFKA_HEAP_OPTS="$KAFKA_HEAP_OPTS" "${BROKER_WRAP[@]}" taskset -c "$BROKER_CPUS" bash scripts/reference-kafka.sh start "$KAFKA_DIR" "$KAFKA_PORT" \
        log.segment.delete.delay.ms=0 "${tls[@]}" >"$RESULTS/logs/kafka-start.log" 2>&1 || { cat "$RESULTS/logs/kafka-start.log" >&2; die "kafka did not start"; }
    KAFKA_PID=$(cat "$KAFKA_DIR/kafka.pid")
    # The pid file must name the JVM doing the work, not a launcher shell: reference-kafka.sh
    # execs through kafka-server-start.sh and kafka-run-class.sh into java.
    local exe
    exe=$(readlink "/proc/$KAFKA_PID/exe" || true)
    [[ "$exe" == */java ]] || die "kafka pid $KAFKA_PID is '$exe', not the JVM"
    grep -qa 'kafka\.Kafka' "/proc/$KAFKA_PID/cmdline" || die "kafka pid $KAFKA_PID is not kafka.Kafka"
    check_pinned "$KAFKA_PID" kafka
    log "kafka started: pid $KAFKA_PID ($exe), data $KAFKA_DIR/data"
}

stop_kafka() {
    [ -n "${KAFKA_PID:-}" ] || return 0
    bash scripts/reference-kafka.sh stop "$KAFKA_DIR" >/dev/null 2>&1 || true
    KAFKA_PID=
}

# While a cluster runs (phase replicated) these name the cluster: every pid (measure.py sums their
# CPU and RSS) and every node's address.
broker_pid() {
    if [ -n "${CL_BOOT:-}" ]; then (IFS=,; echo "${CL_PIDS[*]}")
    elif [ "$1" = milena ]; then echo "$MILENA_PID"; else echo "$KAFKA_PID"; fi
}
broker_port() { if [ "$1" = milena ]; then echo "$MILENA_PORT"; else echo "$KAFKA_PORT"; fi; }
broker_bootstrap() { if [ -n "${CL_BOOT:-}" ]; then echo "$CL_BOOT"; else echo "localhost:$(broker_port "$1")"; fi; }
BROKERS=(milena kafka)   # the order within a round: A B A B ...

# ---------------------------------------------------------------------------------------------
# Topics: created and deleted with the stock kafka-topics.sh, the same settings on both brokers
# (the one exception, flush.messages=1 on Kafka's fsync topic, is Kafka's half of that workload).

# kafka-topics.sh runs twice per measured run, between runs: a JVM tuned to start fast (C1 only,
# serial GC) saves about a second each time. This touches only the admin tool, never a broker or
# a measured client. Bounded commands use `timeout --foreground` throughout: the command stays in
# the terminal's process group, so Ctrl-C reaches it at once instead of after it finishes.
topics() { # broker args...
    local boot
    boot=$(broker_bootstrap "$1")
    shift
    KAFKA_JVM_PERFORMANCE_OPTS="$FAST_JVM" \
        timeout --foreground 120 taskset -c "$CLIENT_CPUS" "$KBIN/kafka-topics.sh" --bootstrap-server "$boot" "$@" \
        >>"$RESULTS/logs/topics.log" 2>&1
}

FAST_JVM="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true"

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
# Then, with PAGE_CACHE=warm, fill free memory with clean page cache again (lib/ballast.py).
settle() {
    timeout 300 sync || log "warning: sync did not finish in 300 s"
    if [ "$PAGE_CACHE" = warm ]; then
        python3 "$here/lib/ballast.py" top-up "$work/ballast" "$BALLAST_KEEP_MB" >>"$RESULTS/logs/ballast.log" 2>&1 ||
            log "warning: the page-cache ballast failed (logs/ballast.log)"
    fi
}

# ---------------------------------------------------------------------------------------------
# One measured run = bench/lib/measure.py around one client command; it appends to runs.jsonl.

measure() { # kind broker logname [measure.py options...] -- command...
    local kind=$1 b=$2 name=$3
    shift 3
    local out cap=()
    [ "$kind" = rdkafka-produce ] && cap=(--max-mb "$PRODUCE_MAX_MB")
    out=$(python3 "$here/lib/measure.py" "$kind" "${cap[@]}" --pid "$(broker_pid "$b")" \
        --log "$RESULTS/logs/$name.log" --out "$RESULTS/runs.jsonl" --tag broker="$b" "$@")
    log "  $b: $(summarize_run "$out")"
}

summarize_run() { # one JSON result -> one short line
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])
if not r.get("ok"):
    print("FAILED:", r.get("error"), "(RSS %s MB, %s open files)" % (
        (r.get("vmrss_kb") or 0) // 1024, r.get("open_fds", "?")) if r.get("kind") == "json" else ""); sys.exit()
parts = []
if "mb_per_s" in r: parts.append("%.0f msgs/s, %.1f MB/s" % (r["msgs_per_s"], r["mb_per_s"]))
if "p99_ms" in r: parts.append("p50/p99/p99.9 %g/%g/%g ms" % (r["p50_ms"], r["p99_ms"], r["p999_ms"]))
if "cpu_s_per_gb" in r: parts.append("broker %.2f CPU-s/GB" % r["cpu_s_per_gb"])
if r.get("vmrss_kb"): parts.append("RSS %d MB" % (r["vmrss_kb"] // 1024))
if r.get("client_cpu_util") is not None: parts.append("client cpu %.0f%%" % (100 * r["client_cpu_util"]))
for k, f in (("create_s", "CreateTopics %.2f s"), ("partitions_created", "%d partitions"),
             ("opened", "%d connections open"), ("joined", "%d groups joined"),
             ("open_fds", "%d open files")):
    if r.get(k) is not None: parts.append(f % r[k])
print(", ".join(parts))' "$1"
}

# The client command lines, into the array CMD (pinned to CLIENT_CPUS).
rdkafka_produce_cmd() { # broker topic size acks [client: debian (default) | current] [bootstrap]
    # -u: a table row every -i ms (measure.py reads them live, hence stdbuf -oL); no -c: it runs
    # until measure.py sends SIGINT at the end of the window.
    CMD=(taskset -c "$CLIENT_CPUS" stdbuf -oL "${RDK_BIN[${5:-debian}]:-$RDKPERF}" -P -t "$2" -b "${6:-$(broker_bootstrap "$1")}"
        -s "$3" -a "$4" -X "linger.ms=$LINGER_MS" -X "batch.size=$BATCH_BYTES" -u -i 500)
}

java_produce_cmd() { # broker topic size acks records rate
    # --print-metrics: the producer's own batch size, records per request and request latency
    # at the end, to tell why a client fell behind a rate (measure.py keeps them).
    CMD=(taskset -c "$CLIENT_CPUS" "$KBIN/kafka-producer-perf-test.sh" --topic "$2" --record-size "$3"
        --num-records "$5" --throughput "$6" --producer-props "bootstrap.servers=$(broker_bootstrap "$1")"
        "acks=$4" "linger.ms=$LINGER_MS" "batch.size=$BATCH_BYTES" --print-metrics)
}

# ---------------------------------------------------------------------------------------------
# Phase 1: produce throughput, rdkafka_performance, every size x acks x partitions, with each
# client of RDKAFKA_CLIENTS: the workload id ends in -rdk<librdkafka version>, and within a round
# every client runs against Milena then Kafka (client 1: M K, client 2: M K).

workload_id() { echo "produce-${1}B-acks${2}-p${3}"; } # size acks partitions
client_wl() { echo "$1-rdk${RDK_VER[$2]}"; }             # workload client

phase_produce() {
    local size acks parts round b wl cwl topic c
    for size in $SIZES; do for acks in $ACKS; do for parts in $PARTITIONS; do
        wl=$(workload_id "$size" "$acks" "$parts")
        for round in $(seq 1 "$ROUNDS"); do
            for c in $RDKAFKA_CLIENTS; do
                cwl=$(client_wl "$wl" "$c")
                log "$cwl round $round/$ROUNDS (${WARMUP}s warm-up + ${DURATION}s, $(rdk_tool "$c"))"
                for b in "${BROKERS[@]}"; do
                    topic="t-$wl-r$round-$c"
                    topic_create "$b" "$topic" "$parts"
                    rdkafka_produce_cmd "$b" "$topic" "$size" "$acks" "$c"
                    settle
                    measure rdkafka-produce "$b" "$cwl-r$round-$b" --size "$size" --warmup "$WARMUP" \
                        --duration "$DURATION" --timeout 60 --tag phase=produce --tag workload="$cwl" \
                        --tag round="$round" --tag tool="$(rdk_tool "$c")" --tag client="$c" \
                        --tag librdkafka="${RDK_VER[$c]}" --tag size="$size" \
                        --tag acks="$acks" --tag partitions="$parts" -- "${CMD[@]}"
                    topic_delete "$b" "$topic"
                done
            done
        done
    done; done; done
}

# ---------------------------------------------------------------------------------------------
# Phase 1b: produce capacity. The same pre-encoded ProduceRequests (one 1 MiB batch each) sent
# again and again by lib/replay.py, so that the broker, not the client, sets the pace; the rows
# it prints are rdkafka_performance's, so measure.py windows them the same way.

phase_capacity() {
    local spec size acks parts round b wl topic
    for spec in $CAPACITY_WORKLOADS; do
        IFS=: read -r size acks parts <<<"$spec"
        wl="capacity-${size}B-acks${acks}-p${parts}"
        for round in $(seq 1 "$ROUNDS"); do
            log "$wl round $round/$ROUNDS (${WARMUP}s warm-up + ${DURATION}s, lib/replay.py)"
            for b in "${BROKERS[@]}"; do
                topic="t-$wl-r$round"
                topic_create "$b" "$topic" "$parts"
                CMD=(taskset -c "$CLIENT_CPUS" python3 -u "$here/lib/replay.py" --bootstrap "$(broker_bootstrap "$b")"
                    --topic "$topic" --partitions "$parts" --size "$size" --acks "$acks"
                    --batch-bytes "$BATCH_BYTES")
                settle
                measure rdkafka-produce "$b" "$wl-r$round-$b" --size "$size" --warmup "$WARMUP" \
                    --duration "$DURATION" --timeout 60 --tag phase=capacity --tag workload="$wl" \
                    --tag round="$round" --tag tool="replay.py (pre-encoded Produce v7)" \
                    --tag size="$size" --tag acks="$acks" --tag partitions="$parts" -- "${CMD[@]}"
                topic_delete "$b" "$topic"
            done
        done
    done
}

# ---------------------------------------------------------------------------------------------
# Phase 2: consume catch-up. A backlog of BACKLOG_MB of 1 KiB records in 8 partitions per
# broker, written once (count-bounded rdkafka_performance, acks=1), read from the beginning once
# by each client without being measured (a catch-up takes 1.5 s: without this Kafka's first rounds
# run its fetch path before the JIT has compiled it, which earlier made Kafka look 20-30% slower
# than it is; after one read Kafka's first round was still 10-20% slow), then read from the beginning each round by rdkafka_performance -C with each client
# of RDKAFKA_CLIENTS (timed by the tool from first record to the end of every partition) and, as a
# cross-check, by kafka-consumer-perf-test (fetch time, fresh group).

# rdkafka_performance -C of every partition of a topic from the beginning to its end (CMD).
rdkafka_consume_cmd() { # client topic partitions bootstrap [client args...]
    local c=$1 topic=$2 n=$3 boot=$4 p plist=()
    shift 4
    for p in $(seq 0 $((n - 1))); do plist+=(-p "$p"); done
    CMD=(taskset -c "$CLIENT_CPUS" "${RDK_BIN[$c]}" -C -t "$topic" "${plist[@]}" -o beginning -e
        -b "$boot" "$@")
}

java_consume_cmd() { # broker records group
    CMD=(taskset -c "$CLIENT_CPUS" "$KBIN/kafka-consumer-perf-test.sh"
        --bootstrap-server "localhost:$(broker_port "$1")" --topic backlog
        --messages "$2" --group "$3" --timeout 60000)
}

phase_consume() {
    local size=1024 parts=8 b round records c wl=consume-1024B-p8 cwl
    records=$((BACKLOG_MB * 1048576 / size))
    for b in "${BROKERS[@]}"; do
        log "consume: writing a backlog of $records x ${size} B records to $b"
        topic_create "$b" backlog "$parts"
        timeout --foreground $((600 + BACKLOG_MB)) taskset -c "$CLIENT_CPUS" "$RDKPERF" -P -t backlog \
            -b "localhost:$(broker_port "$b")" -s "$size" -a 1 -c "$records" \
            -X "linger.ms=$LINGER_MS" -X "batch.size=$BATCH_BYTES" \
            >"$RESULTS/logs/consume-backlog-$b.log" 2>&1 || die "writing the backlog to $b failed"
        log "  $(grep -E '^% [0-9]+ messages produced' "$RESULTS/logs/consume-backlog-$b.log" | tail -n1)"
    done
    for b in "${BROKERS[@]}"; do
        log "consume: warm-up reads of the backlog on $b (not measured)"
        : >"$RESULTS/logs/consume-warmup-$b.log"
        for c in $RDKAFKA_CLIENTS; do
            rdkafka_consume_cmd "$c" backlog "$parts" "localhost:$(broker_port "$b")"
            timeout $((300 + BACKLOG_MB / 10)) "${CMD[@]}" >>"$RESULTS/logs/consume-warmup-$b.log" 2>&1 ||
                log "warning: a warm-up read on $b failed (logs/consume-warmup-$b.log)"
        done
        java_consume_cmd "$b" "$records" "bench-warmup-$RANDOM"
        timeout $((300 + BACKLOG_MB / 5)) "${CMD[@]}" >>"$RESULTS/logs/consume-warmup-$b.log" 2>&1 ||
            log "warning: the Java warm-up read on $b failed (logs/consume-warmup-$b.log)"
    done
    for round in $(seq 1 "$ROUNDS"); do
        for c in $RDKAFKA_CLIENTS; do
            cwl=$(client_wl "$wl" "$c")
            log "$cwl round $round/$ROUNDS ($(rdk_tool "$c"))"
            for b in "${BROKERS[@]}"; do
                settle
                rdkafka_consume_cmd "$c" backlog "$parts" "localhost:$(broker_port "$b")"
                measure rdkafka-consume "$b" "$cwl-r$round-$b" --size "$size" --expect "$records" \
                    --timeout $((300 + BACKLOG_MB / 10)) --tag phase=consume --tag workload="$cwl" \
                    --tag round="$round" --tag tool="$(rdk_tool "$c")" --tag client="$c" \
                    --tag librdkafka="${RDK_VER[$c]}" --tag size="$size" --tag partitions="$parts" \
                    -- "${CMD[@]}"
            done
        done
        log "$wl-java round $round/$ROUNDS (kafka-consumer-perf-test)"
        for b in "${BROKERS[@]}"; do
            settle
            java_consume_cmd "$b" "$records" "bench-$round-$RANDOM"
            measure java-consume "$b" "$wl-java-r$round-$b" --size "$size" --expect "$records" \
                --timeout $((300 + BACKLOG_MB / 5)) --tag phase=consume-xcheck \
                --tag workload="$wl-java" --tag round="$round" --tag tool=kafka-consumer-perf-test \
                --tag size="$size" --tag partitions="$parts" -- "${CMD[@]}"
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
    local spec size acks parts wl basis rdk java round b pct rate records topic c
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
        # The rdkafka maximum: the first client of RDKAFKA_CLIENTS (Debian's by default).
        c=${RDKAFKA_CLIENTS%% *}
        rdk=
        if [ -n "${RDK_VER[$c]:-}" ]; then rdk=$(basis_rate "$(client_wl "$wl" "$c")" "$(rdk_tool "$c")"); fi
        java=$(basis_rate "$wl-java" kafka-producer-perf-test)
        case "$LATENCY_BASIS" in
        rdkafka) basis=$rdk ;;
        java) basis=$java ;;
        *) basis=$(printf '%s\n' $rdk $java | sort -n | head -n1) ;;
        esac
        [ -n "$basis" ] || { log "no maximum for $wl ($LATENCY_BASIS): skipping its latency runs"; continue; }
        log "$wl: the slower broker's maximum is ${rdk:-?} msgs/s with $(rdk_tool "$c"), ${java:-?} with the Java producer; basis ($LATENCY_BASIS) $basis msgs/s"
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

# ---------------------------------------------------------------------------------------------
# Phase: TLS. Both brokers started afresh with an SSL listener next to PLAINTEXT (TLS_ON=1), on
# a throwaway PKI (make_tls_pki): a CA and a server certificate for localhost and 127.0.0.1 in a
# PKCS12 keystore, which Milena and Kafka read as is. Clients: Debian's rdkafka_performance
# (librdkafka 2.0.2, OpenSSL), with -X security.protocol=ssl -X ssl.ca.location=<ca.pem> (it
# checks the host name too: ssl.endpoint.identification.algorithm=https is its default).
#   produce  TLS_WORKLOADS (1 KiB, acks=1 and acks=all, 8 partitions) as the produce phase does
#            them: time-bounded, WARMUP + DURATION;
#   consume  a TLS_BACKLOG_MB backlog of 1 KiB records in 8 partitions, written once per broker
#            over PLAINTEXT, then read from the beginning each round, as the consume phase does.
# With TLS_BASELINE=1 every SSL run is followed by the same run over PLAINTEXT on the same brokers
# (same round, same page cache), so that each broker's cost of TLS shows as a ratio of its own.
# Within a round: SSL against Milena then Kafka, then PLAINTEXT against Milena then Kafka.

make_tls_pki() { # dir : the CA (ca.pem) and the broker's keystore (server.p12); sets TLS_CA, TLS_KEYSTORE, TLS_PASS
    local d=$1 l="$RESULTS/logs/tls-pki.log"
    mkdir -p "$d"
    TLS_PASS="bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/server.ext"
    {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
            -out "$d/ca.pem" -days 2 -subj "/CN=Milena bench CA" &&
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/server.key" \
                -out "$d/server.csr" -subj /CN=localhost &&
            openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
                -days 2 -extfile "$d/server.ext" -out "$d/server.pem" &&
            openssl pkcs12 -export -in "$d/server.pem" -inkey "$d/server.key" -certfile "$d/ca.pem" \
                -name broker -out "$d/server.p12" -passout "pass:$TLS_PASS"
    } >"$l" 2>&1 || die "making the TLS certificates failed (logs/tls-pki.log)"
    TLS_CA="$d/ca.pem" TLS_KEYSTORE="$d/server.p12"
    log "tls: a throwaway CA and a server certificate (EC P-256, localhost and 127.0.0.1) in $d"
}

tls_port() { if [ "$1" = milena ]; then echo "$MILENA_TLS_PORT"; else echo "$KAFKA_TLS_PORT"; fi; }

# What an OpenSSL client (as librdkafka's) negotiates with broker $1's SSL listener: a line for
# meta.txt and the log; empty when the handshake or the certificate check fails.
tls_probe() { # broker
    local out
    out=$(timeout 20 openssl s_client -connect "localhost:$(tls_port "$1")" -CAfile "$TLS_CA" \
        -verify_hostname localhost -verify_return_error -brief </dev/null 2>&1) || true
    echo "$out" >"$RESULTS/logs/tls-probe-$1.log"
    awk -F': ' '/^Protocol version/ { v = $2 } /^Ciphersuite/ { c = $2 } /^Verification: OK/ { ok = 1 }
        END { if (ok && v != "") print v " " c }' <<<"$out"
}

# The client's options for listener $2 (ssl | plaintext) of broker $1: sets TLS_ARGS and TLS_BOOT.
tls_client() { # broker listener
    if [ "$2" = ssl ]; then
        TLS_BOOT="localhost:$(tls_port "$1")"
        TLS_ARGS=(-X security.protocol=ssl -X "ssl.ca.location=$TLS_CA")
    else
        TLS_BOOT="localhost:$(broker_port "$1")"
        TLS_ARGS=()
    fi
}

phase_tls() {
    local spec size acks parts round b wl topic l listeners=(ssl) ph neg tool parts_c=8 records
    [ "$TLS_BASELINE" = 1 ] && listeners+=(plaintext)
    tool="rdkafka_performance (librdkafka ${RDK_VER[debian]}, OpenSSL)"
    make_tls_pki "$work/pki"
    TLS_ON=1
    start_milena
    start_kafka "$work/kafka-tls"
    for b in "${BROKERS[@]}"; do
        neg=$(tls_probe "$b")
        if [ -n "$neg" ]; then
            log "tls: $b's SSL listener negotiates $neg with openssl s_client (certificate verified)"
        else
            log "tls: WARNING: openssl s_client could not verify a handshake with $b's SSL listener (logs/tls-probe-$b.log); its SSL runs will fail"
        fi
        echo "tls_negotiated_$b=${neg:-failed}" >>"$RESULTS/meta.txt"
    done
    # Fresh brokers: TLS_BLOCK_WARMUP s of unmeasured load over each listener first, so that no
    # measured run meets a cold JVM (or a cold TLS stack) on one side only.
    if [ "$TLS_BLOCK_WARMUP" -gt 0 ]; then
        IFS=: read -r size acks parts <<<"${TLS_WORKLOADS%% *}"
        log "tls: ${TLS_BLOCK_WARMUP}s of unmeasured produce (${size}B acks=$acks p$parts) per broker over ${listeners[*]}"
        for b in "${BROKERS[@]}"; do
            topic_create "$b" tls-warmup "$parts"
            for l in "${listeners[@]}"; do
                tls_client "$b" "$l"
                rdkafka_produce_cmd "$b" tls-warmup "$size" "$acks" debian "$TLS_BOOT"
                timeout --foreground -s INT -k 30 "$TLS_BLOCK_WARMUP" "${CMD[@]}" "${TLS_ARGS[@]}" \
                    >>"$RESULTS/logs/tls-warmup-$b.log" 2>&1 || true
            done
            topic_delete "$b" tls-warmup
        done
    fi
    # Produce: the produce phase's method, over each listener.
    for spec in $TLS_WORKLOADS; do
        IFS=: read -r size acks parts <<<"$spec"
        for round in $(seq 1 "$ROUNDS"); do
            log "tls produce ${size}B acks=$acks p$parts round $round/$ROUNDS (${WARMUP}s warm-up + ${DURATION}s, over ${listeners[*]})"
            for l in "${listeners[@]}"; do
                if [ "$l" = ssl ]; then ph=tls wl="tls-$(workload_id "$size" "$acks" "$parts")"
                else ph=tls-baseline wl="plaintext-$(workload_id "$size" "$acks" "$parts")"; fi
                for b in "${BROKERS[@]}"; do
                    topic="t-$wl-r$round"
                    topic_create "$b" "$topic" "$parts"
                    tls_client "$b" "$l"
                    rdkafka_produce_cmd "$b" "$topic" "$size" "$acks" debian "$TLS_BOOT"
                    CMD+=("${TLS_ARGS[@]}")
                    settle
                    measure rdkafka-produce "$b" "$wl-r$round-$b" --size "$size" --warmup "$WARMUP" \
                        --duration "$DURATION" --timeout 60 --tag phase="$ph" --tag workload="$wl" \
                        --tag round="$round" --tag tool="$tool" --tag client=debian \
                        --tag librdkafka="${RDK_VER[debian]}" --tag listener="${l^^}" --tag size="$size" \
                        --tag acks="$acks" --tag partitions="$parts" -- "${CMD[@]}"
                    topic_delete "$b" "$topic"
                done
            done
        done
    done
    # Consume catch-up: a backlog written over PLAINTEXT (count-bounded, acks=1), then read from
    # the beginning over each listener, as the consume phase does.
    size=1024
    records=$((TLS_BACKLOG_MB * 1048576 / size))
    for b in "${BROKERS[@]}"; do
        log "tls consume: writing a backlog of $records x ${size} B records to $b (over PLAINTEXT)"
        topic_create "$b" tls-backlog "$parts_c"
        timeout --foreground $((600 + TLS_BACKLOG_MB)) taskset -c "$CLIENT_CPUS" "$RDKPERF" -P -t tls-backlog \
            -b "localhost:$(broker_port "$b")" -s "$size" -a 1 -c "$records" \
            -X "linger.ms=$LINGER_MS" -X "batch.size=$BATCH_BYTES" \
            >"$RESULTS/logs/tls-consume-backlog-$b.log" 2>&1 || die "writing the tls backlog to $b failed"
        log "  $(grep -E '^% [0-9]+ messages produced' "$RESULTS/logs/tls-consume-backlog-$b.log" | tail -n1)"
    done
    for round in $(seq 1 "$ROUNDS"); do
        log "tls consume-${size}B-p$parts_c round $round/$ROUNDS ($TLS_BACKLOG_MB MiB over ${listeners[*]})"
        for l in "${listeners[@]}"; do
            if [ "$l" = ssl ]; then ph=tls wl="tls-consume-${size}B-p$parts_c"
            else ph=tls-baseline wl="plaintext-consume-${size}B-p$parts_c"; fi
            for b in "${BROKERS[@]}"; do
                tls_client "$b" "$l"
                rdkafka_consume_cmd debian tls-backlog "$parts_c" "$TLS_BOOT" "${TLS_ARGS[@]}"
                settle
                measure rdkafka-consume "$b" "$wl-r$round-$b" --size "$size" --expect "$records" \
                    --timeout $((300 + TLS_BACKLOG_MB / 5)) --tag phase="$ph" --tag workload="$wl" \
                    --tag round="$round" --tag tool="$tool" --tag client=debian \
                    --tag librdkafka="${RDK_VER[debian]}" --tag listener="${l^^}" --tag size="$size" \
                    --tag partitions="$parts_c" -- "${CMD[@]}"
            done
        done
    done
    for b in "${BROKERS[@]}"; do topic_delete "$b" tls-backlog; done
    stop_milena
    stop_kafka
    cp "$work/kafka-tls/logs/server.log" "$RESULTS/logs/kafka-tls-server.log" 2>/dev/null || true
    TLS_ON=0
}

# ---------------------------------------------------------------------------------------------
# Phase: scale. One broker at a time, started fresh with the same open-file limit (SCALE_NOFILE,
# soft = hard, through prlimit; checked in /proc/PID/limits), so its descriptors show:
#   1. CreateTopics of SCALE_TOPICS x SCALE_PARTITIONS (SCALE_CREATE_BATCH topics per request,
#      one request after the other; the first failure ends it: "failed at N partitions");
#   2. SCALE_CONNECTIONS client connections held open, each sending ApiVersions or Metadata (no
#      topics) every SCALE_CONN_INTERVAL s; then SCALE_GROUPS consumers, each in its own group on
#      one of the topics, until every one has an assignment;
#   3. with all that held: the Metadata probe (SCALE_PROBE_TOPICS topics per request, at
#      SCALE_PROBE_RATE/s, DURATION s), then produce latency at SCALE_PRODUCE_RATE (1 KiB,
#      acks=all, kafka-producer-perf-test after a warm-up run), then the same produce run again
#      while SCALE_EXTRA_TOPICS more topics are created: does CreateTopics stall produce?
# Every step is a row (phase=scale) with the broker's RSS and open files at its end; a broker
# that dies or a step that times out is reported as such, and the rest of that broker's steps
# are skipped. The clients are bench/lib/scale.py (confluent-kafka, raw asyncio sockets) and
# kafka-producer-perf-test.

scale_tags() { echo "--tag phase=scale --tag round=$1 --tag workload=$2"; }

scale_step() { # broker round step timeout_s scale.py args... : one measured step, a row
    local b=$1 round=$2 step=$3 timeout_s=$4
    shift 4
    # shellcheck disable=SC2046
    measure json "$b" "scale-$step-r$round-$b" --timeout "$timeout_s" $(scale_tags "$round" "scale-$step") \
        -- taskset -c "$CLIENT_CPUS" python3 "$here/lib/scale.py" "$@"
}

scale_field() { # broker round step field : that field of the step's row, empty if none
    python3 - "$RESULTS/runs.jsonl" "$1" "$2" "scale-$3" "$4" <<'PY'
import json, sys
path, broker, rnd, wl, field = sys.argv[1:]
val = ""
for line in open(path):
    r = json.loads(line)
    if r.get("broker") == broker and str(r.get("round")) == rnd and r.get("workload") == wl:
        val = r.get(field, "")
print("" if val is None else val)
PY
}

scale_wait_ready() { # raw-log what timeout_s pid : wait for the client's READY line
    local deadline=$((SECONDS + $3))
    until grep -q '^READY' "$1" 2>/dev/null; do
        kill -0 "$4" 2>/dev/null || { log "  $2: the client ended before it was ready (logs/${1##*/})"; return 1; }
        [ $SECONDS -lt $deadline ] || { log "  $2: not ready after $3 s (logs/${1##*/})"; return 1; }
        sleep 0.5
    done
    log "  $2: $(grep -m1 '^READY' "$1")"
}

scale_alive() { # broker [what]: false, with a clear line, when it has died
    local pid
    pid=$(broker_pid "$1")
    proc_alive "$pid" && return 0
    log "  FAILED: $1 (pid $pid) is gone${2:+ after $2}; its remaining scale steps are skipped (see its log)"
    echo "scale_broker_died_$1=${2:-?}" >>"$RESULTS/meta.txt"
    return 1
}

scale_fds_left() { # broker what: false, with a clear line, when it is out of descriptors
    local pid fds limit
    pid=$(broker_pid "$1")
    fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    limit=$(awk '/^Max open files/ {print $4}' "/proc/$pid/limits" 2>/dev/null)
    [ -n "$limit" ] && [ "$fds" -ge $((limit - 16)) ] || return 0
    log "  FAILED: $1 is out of file descriptors ($fds open of $limit) after $2; its remaining scale steps are skipped"
    echo "scale_out_of_fds_$1=$2 ($fds of $limit)" >>"$RESULTS/meta.txt"
    return 1
}

scale_start() { # broker round
    local lim
    BROKER_WRAP=(prlimit "--nofile=$SCALE_NOFILE:$SCALE_NOFILE")
    if [ "$1" = milena ]; then start_milena; else start_kafka "$work/kafka-scale-r$2"; fi
    BROKER_WRAP=()
    lim=$(awk '/^Max open files/ {print $4 "/" $5}' "/proc/$(broker_pid "$1")/limits")
    log "  $1: open-file limit (soft/hard) $lim"
    echo "scale_nofile_$1_r$2=$lim" >>"$RESULTS/meta.txt"
}

scale_stop() { # broker round
    if [ "$1" = milena ]; then
        stop_milena
    else
        stop_kafka
        cp "$KAFKA_DIR/logs/server.log" "$RESULTS/logs/kafka-scale-r$2-server.log" 2>/dev/null || true
    fi
}

scale_run() { # broker round
    local b=$1 round=$2 boot created topics stop bg_conns= bg_groups= bg_create i probe=()
    local rate=$SCALE_PRODUCE_RATE n_req
    boot=$(broker_bootstrap "$b")
    n_req=$(((SCALE_TOPICS + SCALE_CREATE_BATCH - 1) / SCALE_CREATE_BATCH))
    log "scale round $round/$SCALE_ROUNDS on $b: $SCALE_TOPICS topics x $SCALE_PARTITIONS partitions, $SCALE_CONNECTIONS connections, $SCALE_GROUPS groups, ulimit -n $SCALE_NOFILE"
    scale_start "$b" "$round"
    scale_step "$b" "$round" idle 60 idle
    settle
    scale_step "$b" "$round" create $((n_req * 70 + 60)) create --bootstrap "$boot" --prefix s- \
        --topics "$SCALE_TOPICS" --partitions "$SCALE_PARTITIONS" --batch "$SCALE_CREATE_BATCH" \
        --broker-pid "$(broker_pid "$b")"
    created=$(scale_field "$b" "$round" create topics_created)
    [ -n "$(scale_field "$b" "$round" create failed_at_partitions)" ] &&
        log "  $b: CreateTopics failed at $(scale_field "$b" "$round" create failed_at_partitions) partitions: $(scale_field "$b" "$round" create create_error)"
    if ! scale_alive "$b" "CreateTopics of $((${created:-0} * SCALE_PARTITIONS))+ partitions" ||
        ! scale_fds_left "$b" "CreateTopics of $((${created:-0} * SCALE_PARTITIONS)) partitions"; then
        scale_stop "$b" "$round"; return 0
    fi
    topics=${created:-0}
    if [ "$topics" -eq 0 ]; then
        log "  $b: no topic was created; its remaining scale steps are skipped"
        scale_stop "$b" "$round"; return 0
    fi
    stop="$work/scale-stop-$b-$round"
    rm -f "$stop"
    # shellcheck disable=SC2046
    measure json "$b" "scale-connections-r$round-$b" --timeout 3600 $(scale_tags "$round" scale-connections) \
        -- taskset -c "$CLIENT_CPUS" python3 "$here/lib/scale.py" conns --bootstrap "$(broker_bootstrap "$b")" \
        --count "$SCALE_CONNECTIONS" --interval "$SCALE_CONN_INTERVAL" --stop-file "$stop" &
    bg_conns=$!
    scale_wait_ready "$RESULTS/logs/scale-connections-r$round-$b.log" "$b connections" 180 "$bg_conns" || true
    # shellcheck disable=SC2046
    measure json "$b" "scale-groups-r$round-$b" --timeout 3600 $(scale_tags "$round" scale-groups) \
        -- taskset -c "$CLIENT_CPUS" python3 "$here/lib/scale.py" groups --bootstrap "$boot" \
        --count "$SCALE_GROUPS" --prefix s- --topics "$topics" --stop-file "$stop" --ready-timeout 180 &
    bg_groups=$!
    scale_wait_ready "$RESULTS/logs/scale-groups-r$round-$b.log" "$b groups" 240 "$bg_groups" || true
    if scale_alive "$b" "opening connections and groups" && scale_fds_left "$b" "opening connections and groups"; then
        for i in $(seq 0 $((SCALE_PROBE_TOPICS - 1))); do probe+=("s-$((i * topics / SCALE_PROBE_TOPICS))"); done
        scale_step "$b" "$round" metadata $((DURATION + 120)) probe --bootstrap "$boot" \
            --topics "$(IFS=,; echo "${probe[*]}")" --rate "$SCALE_PROBE_RATE" --seconds "$DURATION"
    fi
    if scale_alive "$b" "the Metadata probe" &&
        { topics "$b" --create --topic scale-produce --partitions "$SCALE_PRODUCE_PARTITIONS" --replication-factor 1 ||
            { log "  FAILED: creating the produce topic on $b (logs/topics.log); no produce runs"; false; }; }; then
        java_produce_cmd "$b" scale-produce 1024 all $((rate * WARMUP)) "$rate"
        timeout --foreground $((3 * WARMUP + 60)) "${CMD[@]}" >>"$RESULTS/logs/scale-produce-r$round-$b.warmup.log" 2>&1 ||
            log "  warning: the warm-up run on $b failed (logs/scale-produce-r$round-$b.warmup.log)"
        java_produce_cmd "$b" scale-produce 1024 all $((rate * DURATION)) "$rate"
        # shellcheck disable=SC2046
        measure java-produce "$b" "scale-produce-before-r$round-$b" --size 1024 --expect $((rate * DURATION)) \
            --timeout $((3 * DURATION + 60)) $(scale_tags "$round" scale-produce-before) \
            --tag tool=kafka-producer-perf-test --tag target_rate="$rate" -- "${CMD[@]}"
        # The same run again; a quarter into it (after the client JVM's start), CreateTopics of
        # SCALE_EXTRA_TOPICS more topics begins.
        (
            sleep $((2 + DURATION / 4))
            scale_step "$b" "$round" create-extra $((SCALE_EXTRA_TOPICS / SCALE_CREATE_BATCH * 70 + 130)) create \
                --bootstrap "$boot" --prefix s- --first "$SCALE_TOPICS" --topics "$SCALE_EXTRA_TOPICS" \
                --partitions "$SCALE_PARTITIONS" --batch "$SCALE_CREATE_BATCH"
        ) &
        bg_create=$!
        # shellcheck disable=SC2046
        measure java-produce "$b" "scale-produce-during-create-r$round-$b" --size 1024 --expect $((rate * DURATION)) \
            --timeout $((3 * DURATION + 60)) $(scale_tags "$round" scale-produce-during-create) \
            --tag tool=kafka-producer-perf-test --tag target_rate="$rate" -- "${CMD[@]}"
        wait "$bg_create" || true
    fi
    scale_alive "$b" "the produce runs" && scale_step "$b" "$round" end 60 idle
    touch "$stop"
    wait "$bg_conns" "$bg_groups" || true
    scale_stop "$b" "$round"
}

phase_scale() {
    local round b
    log "scale: open-file limit of both brokers (ulimit -n, soft = hard): $SCALE_NOFILE"
    for round in $(seq 1 "$SCALE_ROUNDS"); do
        for b in "${BROKERS[@]}"; do scale_run "$b" "$round"; done
    done
}

# ---------------------------------------------------------------------------------------------
# Phase 5: replicated. A 3-node cluster of each broker (every node a broker and a controller, as
# config/server-{1,2,3}.properties), one cluster at a time, started fresh for each block of runs
# and stopped after it. Topics RF 3 with min.insync.replicas=2, 1 KiB records, acks=all.
#   stage 1  per round, Milena's cluster then Kafka's, with the first FAILOVER_SETTINGS entry:
#            produce throughput (rdkafka_performance, REPL_PARTITIONS), the unthrottled Java
#            producer (first XCHECK_ROUNDS rounds: the latency basis), then one failover;
#   stage 2  per round, the same setting: produce latency at REPL_LOAD_PCTS of the slower
#            cluster's maximum (kafka-producer-perf-test, as phase 3), then a second failover;
#   stage 3  per round and per further FAILOVER_SETTINGS entry (lower session timeout): a failover.
# A failover (lib/failover.py): a steady acks=all load (kafka-producer-perf-test --throughput
# FAILOVER_RATE) and a probe (lib/failover-probe.c: one acks=all record to partition 0 every
# 50 ms, each acknowledgement timestamped); kill -9 of partition 0's leader; the result is the
# time from the kill to the first record acknowledged by the new leader.

CL_BOOT=
CL_PIDS=()
CL_BROKER=
CL_DIR=
CL_NAME=
cl_blocks=0

repl_base_port() { if [ "$1" = milena ]; then echo "$REPL_MILENA_PORT"; else echo "$REPL_KAFKA_PORT"; fi; }

# A process that exists and is not a zombie (a killed node stays one until the shell reaps it).
proc_alive() { [ -r "/proc/$1/stat" ] && ! awk '{ exit ($3 == "Z") ? 0 : 1 }' "/proc/$1/stat" 2>/dev/null; }

# Node id's properties: config/server-<id>.properties (the repository's cluster files, which both
# brokers read unchanged) with this cluster's ports, data directory and failover setting.
cl_write_props() { # id dir session_ms heartbeat_ms base_port
    local id=$1 dir=$2 session=$3 hb=$4 base=$5 voters
    voters="1@127.0.0.1:$((base + 100)),2@127.0.0.1:$((base + 101)),3@127.0.0.1:$((base + 102))"
    {
        echo "# bench/run.sh: config/server-$id.properties with this cluster's ports, data dir and failover setting"
        grep -vE '^[[:space:]]*(node\.id|listeners|advertised\.listeners|controller\.quorum\.voters|log\.dirs|broker\.session\.timeout\.ms|broker\.heartbeat\.interval\.ms)[[:space:]]*=' \
            "$repo/config/server-$id.properties"
        echo "node.id=$id"
        echo "listeners=PLAINTEXT://127.0.0.1:$((base + id - 1)),CONTROLLER://127.0.0.1:$((base + 99 + id))"
        echo "advertised.listeners=PLAINTEXT://127.0.0.1:$((base + id - 1))"
        echo "controller.quorum.voters=$voters"
        echo "log.dirs=$dir/data"
        echo "broker.session.timeout.ms=$session"
        echo "broker.heartbeat.interval.ms=$hb"
    } >"$dir/server.properties"
}

# Starts a 3-node cluster of broker $1 with setting $2 (session:heartbeat); waits until every node
# has started and Metadata from each lists 3 brokers, then pins every thread of every node to
# REPL_BROKER_CPUS (the JVMs start on all cores, which saves half a minute; threads made later
# inherit the pinning). Sets CL_BOOT, CL_PIDS (index = node id - 1), CL_DIR.
cluster_start() { # broker session:heartbeat name
    local b=$1 session hb base id dir cid p pids_fmt=() marker out deadline t0=$SECONDS
    IFS=: read -r session hb <<<"$2"
    CL_NAME=$3
    base=$(repl_base_port "$b")
    cl_blocks=$((cl_blocks + 1))
    CL_BROKER=$b
    CL_DIR="$work/cluster-$cl_blocks-$b"
    for p in $base $((base + 1)) $((base + 2)) $((base + 100)) $((base + 101)) $((base + 102)); do
        port_open "$p" && die "port $p is already in use (REPL_${b^^}_PORT)"
    done
    for id in 1 2 3; do
        mkdir -p "$CL_DIR/node-$id/data" "$CL_DIR/node-$id/logs"
        cl_write_props "$id" "$CL_DIR/node-$id" "$session" "$hb" "$base"
    done
    if [ "$b" = kafka ]; then
        cid=$(KAFKA_JVM_PERFORMANCE_OPTS="$FAST_JVM" "$KBIN/kafka-storage.sh" random-uuid)
        for id in 1 2 3; do
            KAFKA_JVM_PERFORMANCE_OPTS="$FAST_JVM" timeout 120 "$KBIN/kafka-storage.sh" format -t "$cid" \
                -c "$CL_DIR/node-$id/server.properties" >"$CL_DIR/node-$id/format.log" 2>&1 &
            pids_fmt+=($!)
        done
        for p in "${pids_fmt[@]}"; do wait "$p" || die "kafka-storage.sh format failed ($CL_DIR/node-*/format.log)"; done
        marker="Kafka Server started"
    else
        marker="Milena started"
    fi
    CL_PIDS=()
    for id in 1 2 3; do
        dir="$CL_DIR/node-$id"
        if [ "$b" = kafka ]; then
            # kafka-server-start.sh execs kafka-run-class.sh, which execs java: $! is the JVM.
            (cd "$dir" && LOG_DIR="$dir/logs" KAFKA_HEAP_OPTS="$REPL_KAFKA_HEAP_OPTS" \
                exec "$KBIN/kafka-server-start.sh" "$dir/server.properties" >"$dir/node.log" 2>&1 </dev/null) &
        else
            (cd "$dir" && exec "$work/milena.bin" "$dir/server.properties" >"$dir/node.log" 2>&1 </dev/null) &
        fi
        CL_PIDS+=($!)
    done
    CL_BOOT="127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
    deadline=$((SECONDS + 60))
    [ "$b" = kafka ] && deadline=$((SECONDS + 180))
    for id in 1 2 3; do
        until grep -q "$marker" "$CL_DIR/node-$id/node.log" 2>/dev/null && port_open $((base + id - 1)); do
            proc_alive "${CL_PIDS[id - 1]}" || { tail -n 30 "$CL_DIR/node-$id/node.log" >&2; die "$b node $id exited during start-up"; }
            [ $SECONDS -lt $deadline ] || { tail -n 30 "$CL_DIR/node-$id/node.log" >&2; die "$b node $id did not start in time"; }
            sleep 0.2
        done
    done
    for id in 1 2 3; do
        until [ "$(timeout 10 kcat -L -b "127.0.0.1:$((base + id - 1))" -m 3 2>/dev/null | sed -n 's/^ *\([0-9]*\) brokers:$/\1/p')" = 3 ]; do
            [ $SECONDS -lt $deadline ] || die "Metadata from $b node $id does not list 3 brokers in time"
            sleep 0.5
        done
    done
    local exe pid
    for id in 1 2 3; do
        pid=${CL_PIDS[id - 1]}
        if [ "$b" = kafka ]; then
            exe=$(readlink "/proc/$pid/exe" || true)
            [[ "$exe" == */java ]] && grep -qa 'kafka\.Kafka' "/proc/$pid/cmdline" || die "kafka node $id: pid $pid is '$exe', not the JVM of kafka.Kafka"
        fi
        taskset -a -cp "$REPL_BROKER_CPUS" "$pid" >/dev/null || die "taskset of $b node $id (pid $pid) failed"
    done
    cluster_check_pinned
    log "$b cluster ($CL_NAME) up in $((SECONDS - t0)) s: pids ${CL_PIDS[*]}, $CL_BOOT, broker.session.timeout.ms=$session broker.heartbeat.interval.ms=$hb, all on cpu $REPL_BROKER_CPUS; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "repl_cluster_${cl_blocks}=$b $CL_NAME session=$session heartbeat=$hb start_s=$((SECONDS - t0)) loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" >>"$RESULTS/meta.txt"
}

cluster_check_pinned() { # every thread of every live node on REPL_BROKER_CPUS
    local want pid t got
    want=$(taskset -c "$REPL_BROKER_CPUS" cat /proc/self/status | awk '/^Cpus_allowed_list/ {print $2}')
    for pid in "${CL_PIDS[@]}"; do
        proc_alive "$pid" || continue
        for t in /proc/"$pid"/task/*; do
            got=$(awk '/^Cpus_allowed_list/ {print $2}' "$t/status" 2>/dev/null) || continue
            [ -z "$got" ] || [ "$got" = "$want" ] || die "$CL_BROKER pid $pid thread ${t##*/} runs on cpus '$got', expected '$want'"
        done
    done
}

# SIGTERM to every live node at once, SIGKILL to any still running 30 s later. At once, because
# a block ends with a failover that leaves two of three nodes: stopped one after the other, the
# last Kafka node waits for its controlled shutdown with no quorum left (observed: > 30 s), while
# together both finish theirs before either controller goes. Keeps every node's log in logs/,
# removes the data.
cluster_stop() {
    [ -n "$CL_BOOT" ] || return 0
    local id pid i killed=() t0=$SECONDS
    for pid in "${CL_PIDS[@]}"; do proc_alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
    for i in $(seq 1 300); do
        local up=0
        for pid in "${CL_PIDS[@]}"; do proc_alive "$pid" && up=1; done
        [ $up = 1 ] || break
        sleep 0.1
    done
    for id in 1 2 3; do
        pid=${CL_PIDS[id - 1]:-}
        [ -n "$pid" ] || continue
        if proc_alive "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
            killed+=("$id")
        fi
        wait "$pid" 2>/dev/null || true
    done
    log "  $CL_BROKER cluster stopped in $((SECONDS - t0)) s"
    [ ${#killed[@]} -eq 0 ] || log "  warning: $CL_BROKER node(s) ${killed[*]} did not stop within 30 s of SIGTERM (SIGKILL)"
    if [ -d "$RESULTS/logs" ]; then
        for id in 1 2 3; do
            cp "$CL_DIR/node-$id/node.log" "$RESULTS/logs/repl-$cl_blocks-$CL_BROKER-$CL_NAME-node-$id.log" 2>/dev/null || true
        done
    fi
    echo "repl_cluster_${cl_blocks}_end=loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)${killed[*]:+ sigkill=${killed[*]}}" >>"$RESULTS/meta.txt"
    rm -rf "$CL_DIR"
    CL_BOOT=
    CL_PIDS=()
}

# kafka-topics.sh / kafka-metadata-quorum.sh against the running cluster.
cl_tool() { # tool args...
    local tool=$1
    shift
    KAFKA_JVM_PERFORMANCE_OPTS="$FAST_JVM" timeout --foreground 120 taskset -c "$CLIENT_CPUS" \
        "$KBIN/$tool" --bootstrap-server "$CL_BOOT" "$@"
}

# The active controller (the metadata quorum's leader), or nothing.
cl_controller() {
    cl_tool kafka-metadata-quorum.sh describe --status 2>>"$RESULTS/logs/topics.log" | awk '/^LeaderId:/ {print $2}'
}

# Creates topic $1 with $2 partitions, RF 3, min.insync.replicas=2; with $3 (a node id), partition
# 0's replicas start with that node (its preferred leader) and the others rotate. Then waits until
# every partition has a leader and 3 in-sync replicas.
cl_topic_create() { # topic partitions [leader_of_p0]
    local t=$1 n=$2 first=${3:-} assign=() i a
    if [ -n "$first" ]; then
        for i in $(seq 0 $((n - 1))); do
            a=$(((first - 1 + i) % 3))
            assign+=("$((a + 1)):$(((a + 1) % 3 + 1)):$(((a + 2) % 3 + 1))")
        done
        cl_tool kafka-topics.sh --create --topic "$t" --replica-assignment "$(IFS=,; echo "${assign[*]}")" \
            --config min.insync.replicas=2 >>"$RESULTS/logs/topics.log" 2>&1 || die "creating $t on the $CL_BROKER cluster failed (logs/topics.log)"
    else
        cl_tool kafka-topics.sh --create --topic "$t" --partitions "$n" --replication-factor 3 \
            --config min.insync.replicas=2 >>"$RESULTS/logs/topics.log" 2>&1 || die "creating $t on the $CL_BROKER cluster failed (logs/topics.log)"
    fi
    local deadline=$((SECONDS + 60)) desc ready
    while :; do
        desc=$(cl_tool kafka-topics.sh --describe --topic "$t" 2>>"$RESULTS/logs/topics.log" || true)
        ready=$(awk '/Partition:/ { l = ""; isr = ""; for (i = 1; i <= NF; i++) { if ($i == "Leader:") l = $(i+1); if ($i == "Isr:") isr = $(i+1) }
                     if (l != "" && l != "none" && l != "-1" && split(isr, x, ",") == 3) ok++ } END { print ok + 0 }' <<<"$desc")
        [ "$ready" = "$n" ] && break
        [ $SECONDS -lt $deadline ] || { echo "$desc" >>"$RESULTS/logs/topics.log"; die "topic $t on the $CL_BROKER cluster: $ready of $n partitions led with 3 in-sync replicas after 60 s (logs/topics.log)"; }
        sleep 0.5
    done
    echo "$desc" >>"$RESULTS/logs/topics.log"
}

repl_wl() { echo "repl-produce-${REPL_SIZE}B-acksall-p$1"; } # partitions

repl_throughput() { # broker round
    local b=$1 round=$2 parts wl topic
    for parts in $REPL_PARTITIONS; do
        wl=$(repl_wl "$parts")
        topic="rt-$parts-r$round"
        log "$wl round $round/$ROUNDS on the $b cluster (${WARMUP}s warm-up + ${DURATION}s)"
        cl_topic_create "$topic" "$parts"
        rdkafka_produce_cmd "$b" "$topic" "$REPL_SIZE" all
        settle
        measure rdkafka-produce "$b" "$wl-r$round-$b" --size "$REPL_SIZE" --warmup "$WARMUP" \
            --duration "$DURATION" --timeout 60 --tag phase=replicated --tag workload="$wl" \
            --tag round="$round" --tag tool=rdkafka_performance --tag size="$REPL_SIZE" \
            --tag acks=all --tag partitions="$parts" --tag nodes=3 --tag rf=3 -- "${CMD[@]}"
        cl_tool kafka-topics.sh --delete --topic "$topic" >>"$RESULTS/logs/topics.log" 2>&1 || log "warning: deleting $topic failed"
    done
}

repl_xcheck() { # broker round: the Java producer unthrottled, the other half of the latency basis
    local b=$1 round=$2 wl topic
    wl="$(repl_wl "$REPL_LATENCY_PARTITIONS")-java"
    topic="rx-r$round"
    log "$wl (kafka-producer-perf-test unthrottled) round $round/$XCHECK_ROUNDS on the $b cluster"
    cl_topic_create "$topic" "$REPL_LATENCY_PARTITIONS"
    java_produce_cmd "$b" "$topic" "$REPL_SIZE" all 2000000000 -1
    settle
    measure java-produce-max "$b" "$wl-r$round-$b" --size "$REPL_SIZE" --warmup "$WARMUP" \
        --duration "$DURATION" --timeout 60 --tag phase=replicated-xcheck --tag workload="$wl" \
        --tag round="$round" --tag tool=kafka-producer-perf-test --tag size="$REPL_SIZE" \
        --tag acks=all --tag partitions="$REPL_LATENCY_PARTITIONS" --tag nodes=3 --tag rf=3 -- "${CMD[@]}"
    cl_tool kafka-topics.sh --delete --topic "$topic" >>"$RESULTS/logs/topics.log" 2>&1 || log "warning: deleting $topic failed"
}

REPL_BASIS=
repl_basis() { # the slower cluster's maximum for the latency workload (LATENCY_BASIS, as phase 3)
    local wl rdk java
    wl=$(repl_wl "$REPL_LATENCY_PARTITIONS")
    rdk=$(basis_rate "$wl" rdkafka_performance)
    java=$(basis_rate "$wl-java" kafka-producer-perf-test)
    case "$LATENCY_BASIS" in
    rdkafka) REPL_BASIS=$rdk ;;
    java) REPL_BASIS=$java ;;
    *) REPL_BASIS=$(printf '%s\n' $rdk $java | sort -n | head -n1) ;;
    esac
    log "$wl: the slower cluster's maximum is ${rdk:-?} msgs/s with rdkafka_performance, ${java:-?} with the Java producer; basis ($LATENCY_BASIS) ${REPL_BASIS:-none}"
    echo "latency_basis_$wl=${REPL_BASIS:-} rdkafka=${rdk:-} java=${java:-} ($LATENCY_BASIS)" >>"$RESULTS/meta.txt"
}

repl_latency() { # broker round
    local b=$1 round=$2 wl pct rate records topic name
    wl=$(repl_wl "$REPL_LATENCY_PARTITIONS")
    [ -n "$REPL_BASIS" ] || { log "no maximum for $wl: skipping its latency runs"; return 0; }
    for pct in $REPL_LOAD_PCTS; do
        rate=$((REPL_BASIS * pct / 100))
        records=$((rate * DURATION))
        name="repl-latency-${REPL_SIZE}B-acksall-p$REPL_LATENCY_PARTITIONS-$pct"
        topic="rl-$pct-r$round"
        log "$name ($rate msgs/s) round $round/$ROUNDS on the $b cluster"
        cl_topic_create "$topic" "$REPL_LATENCY_PARTITIONS"
        settle
        # Warm-up at the same rate, not measured; then the measured run (as phase 3).
        java_produce_cmd "$b" "$topic" "$REPL_SIZE" all $((rate * WARMUP)) "$rate"
        timeout --foreground $((3 * WARMUP + 60)) "${CMD[@]}" >>"$RESULTS/logs/$name-r$round-$b.warmup.log" 2>&1 ||
            log "  warning: the warm-up run on $b failed (logs/$name-r$round-$b.warmup.log)"
        java_produce_cmd "$b" "$topic" "$REPL_SIZE" all "$records" "$rate"
        measure java-produce "$b" "$name-r$round-$b" --size "$REPL_SIZE" \
            --expect "$records" --timeout $((3 * (WARMUP + DURATION) + 60)) \
            --tag phase=replicated-latency --tag workload="$name" --tag round="$round" \
            --tag tool=kafka-producer-perf-test --tag size="$REPL_SIZE" --tag acks=all \
            --tag partitions="$REPL_LATENCY_PARTITIONS" --tag load_pct="$pct" --tag target_rate="$rate" \
            --tag nodes=3 --tag rf=3 -- "${CMD[@]}"
        cl_tool kafka-topics.sh --delete --topic "$topic" >>"$RESULTS/logs/topics.log" 2>&1 || log "warning: deleting $topic failed"
    done
}

# One failover: the last run of a block (it leaves the cluster with two nodes).
repl_failover() { # broker round session:heartbeat trial
    local b=$1 round=$2 session hb trial=$4 ctrl first= topic name out id pids=() records
    IFS=: read -r session hb <<<"$3"
    ctrl=$(cl_controller || true)
    case "$FAILOVER_VICTIM" in
    broker) [ -n "$ctrl" ] && first=$((ctrl % 3 + 1)) ;;  # a node that is not the active controller
    controller) first=$ctrl ;;
    esac
    [ -n "$ctrl" ] || log "  warning: no active controller from kafka-metadata-quorum.sh; partition 0's leader is wherever the cluster puts it"
    topic="fo-$session-r$round-$trial"
    name="repl-failover-s$session-r$round-$trial-$b"
    cl_topic_create "$topic" 8 "$first"
    for id in 1 2 3; do pids+=("$id=${CL_PIDS[id - 1]}"); done
    records=$((FAILOVER_RATE * (FAILOVER_KILL_AFTER + FAILOVER_TIMEOUT + 120)))
    settle
    log "failover (session ${session} ms, heartbeat ${hb} ms) round $round/$ROUNDS trial $trial on the $b cluster: active controller ${ctrl:-?}, partition 0 led by ${first:-?}, load $FAILOVER_RATE records/s"
    out=$(python3 "$here/lib/failover.py" --out "$RESULTS/runs.jsonl" --log "$RESULTS/logs/$name" \
        --pids "$(IFS=,; echo "${pids[*]}")" ${ctrl:+--controller "$ctrl"} \
        --kill-after "$FAILOVER_KILL_AFTER" --timeout "$FAILOVER_TIMEOUT" --post 3 \
        --tag phase=replicated-failover --tag workload="failover-session${session}ms" \
        --tag round="$round" --tag trial="$trial" --tag broker="$b" --tag session_ms="$session" \
        --tag heartbeat_ms="$hb" --tag victim_policy="$FAILOVER_VICTIM" --tag nodes=3 --tag rf=3 \
        --tag load_rate="$FAILOVER_RATE" \
        -- taskset -c "$CLIENT_CPUS" "$PROBE" -b "$CL_BOOT" -t "$topic" -p 0 -i 50 -s "$REPL_SIZE" \
        --load-- taskset -c "$CLIENT_CPUS" "$KBIN/kafka-producer-perf-test.sh" --topic "$topic" \
        --record-size "$REPL_SIZE" --num-records "$records" --throughput "$FAILOVER_RATE" \
        --producer-props "bootstrap.servers=$CL_BOOT" acks=all "linger.ms=$LINGER_MS" "batch.size=$BATCH_BYTES")
    log "  $b: $(python3 -c '
import json, sys
r = json.loads(sys.argv[1])
s = "killed node %s (pid %s%s)" % (r.get("victim"), r.get("killed_pid"), ", the active controller" if r.get("controller_killed") else "")
if r.get("ok"):
    s += ": first ack by node %s after %.0f ms; new leader in Metadata after %s ms" % (r["new_leader"], r["failover_ms"], r.get("metadata_ms", "?"))
else:
    s += ": FAILED: %s" % r.get("error")
print(s)' "$out")"
}

# A fresh cluster's first load: REPL_BLOCK_WARMUP s of rdkafka_performance (acks=all, 8
# partitions) on a scratch topic, not measured, so that no measured run of a block meets cold
# JVMs (three of them on one core compile their hot paths slowly) or cold caches.
repl_block_warmup() { # broker
    [ "$REPL_BLOCK_WARMUP" -gt 0 ] || return 0
    local b=$1 logf="$RESULTS/logs/repl-$cl_blocks-$1-warmup.log"
    cl_topic_create warmup 8
    rdkafka_produce_cmd "$b" warmup "$REPL_SIZE" all
    timeout --foreground -s INT "$REPL_BLOCK_WARMUP" "${CMD[@]}" >"$logf" 2>&1 || true
    log "  $b cluster warmed up: $(grep -E '^\|' "$logf" | tail -n1 | awk -F'|' '{gsub(/ /, "", $7); gsub(/ /, "", $8); print $7 " msgs/s, " $8 " MB/s"}') on average over ${REPL_BLOCK_WARMUP} s (not measured)"
    cl_tool kafka-topics.sh --delete --topic warmup >>"$RESULTS/logs/topics.log" 2>&1 || log "warning: deleting warmup failed"
}

repl_block() { # broker round session:heartbeat name task...
    local b=$1 round=$2 setting=$3 name=$4 task
    shift 4
    cluster_start "$b" "$setting" "$name-r$round"
    repl_block_warmup "$b"
    for task in "$@"; do
        case "$task" in
        throughput) repl_throughput "$b" "$round" ;;
        xcheck) repl_xcheck "$b" "$round" ;;
        latency) repl_latency "$b" "$round" ;;
        failover*) repl_failover "$b" "$round" "$setting" "${task#failover}" ;;
        esac
    done
    cluster_stop
}

repl_stage() { [[ " $REPL_STAGES " == *" $1 "* ]]; }

phase_replicated() {
    local settings=($FAILOVER_SETTINGS) round b s i tasks
    # The nodes run a copy of the binary: a rebuild in the working tree during the phase (another
    # engineer's cargo build) must not change what later blocks measure.
    cp "$MILENA_BIN" "$work/milena.bin"
    echo "repl_milena_sha256=$(sha256sum "$work/milena.bin" | cut -c1-16)" >>"$RESULTS/meta.txt"
    echo "repl_loadavg_before=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" >>"$RESULTS/meta.txt"
    log "replicated: 3-node clusters, one at a time; stages: throughput + failover, latency + failover, then failover with ${settings[*]:1}"
    if repl_stage throughput; then
        for round in $(seq 1 "$ROUNDS"); do
            tasks=(throughput)
            [ "$round" -le "$XCHECK_ROUNDS" ] && tasks+=(xcheck)
            for b in "${BROKERS[@]}"; do repl_block "$b" "$round" "${settings[0]}" tput "${tasks[@]}" failover1; done
        done
        repl_basis
    fi
    if repl_stage throughput && repl_stage latency; then
        for round in $(seq 1 "$ROUNDS"); do
            for b in "${BROKERS[@]}"; do repl_block "$b" "$round" "${settings[0]}" lat latency failover2; done
        done
    fi
    repl_stage failover || settings=("${settings[0]}")
    for s in "${settings[@]:1}"; do
        for round in $(seq 1 "$ROUNDS"); do
            for b in "${BROKERS[@]}"; do repl_block "$b" "$round" "$s" "fo${s%%:*}" failover1; done
        done
    done
    echo "repl_loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" >>"$RESULTS/meta.txt"
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

# shellcheck source=lib/restart.sh
source "$here/lib/restart.sh"
# shellcheck source=lib/factors.sh
source "$here/lib/factors.sh"
# shellcheck source=lib/conversion.sh
source "$here/lib/conversion.sh"

estimate_seconds() { # per run: warm-up + duration + ~6 s of topic admin, sync, start and stop
    local n_prod n_lat n_load run=$((WARMUP + DURATION))
    n_prod=$(( $(wc -w <<<"$SIZES") * $(wc -w <<<"$ACKS") * $(wc -w <<<"$PARTITIONS") ))
    n_lat=$(wc -w <<<"$LATENCY_WORKLOADS")
    n_load=$(wc -w <<<"$LOAD_PCTS")
    local t=100  # tools, disk test, brokers' start-up, report
    phase_on produce && t=$((t + n_prod * $(wc -w <<<"$RDKAFKA_CLIENTS") * ROUNDS * 2 * (run + 6)))
    # Building librdkafka for the "current" client, once (cached afterwards): ~2 min on 2 cores.
    if [[ " $RDKAFKA_CLIENTS $(phase_on factors && echo "$FACTOR_CLIENTS") " == *" current "* ]] &&
        ! ls "${MILENA_CACHE:-$HOME/.cache/milena}"/bench/rdkafka_performance-librdkafka-* >/dev/null 2>&1; then
        t=$((t + 120))
    fi
    phase_on factors && t=$((t + $(factors_estimate)))
    phase_on conversion && t=$((t + $(conversion_estimate)))
    phase_on capacity && t=$((t + $(wc -w <<<"$CAPACITY_WORKLOADS") * ROUNDS * 2 * (run + 10)))
    phase_on consume && t=$((t + 2 * (BACKLOG_MB / 150 + BACKLOG_MB / 250 + BACKLOG_MB / 150 + 18) +
        ROUNDS * 2 * ($(wc -w <<<"$RDKAFKA_CLIENTS") * (BACKLOG_MB / 250 + 6) + BACKLOG_MB / 150 + 12)))
    phase_on latency && t=$((t + n_lat * (XCHECK_ROUNDS * 2 * (run + 11) + ROUNDS * n_load * 2 * (run + 8))))
    phase_on fsync && t=$((t + 5 + ROUNDS * (2 * (run + 6) + run + 2)))
    # Both brokers' start (Kafka ~25 s); per round and listener a produce run per workload and
    # broker; the backlog's writing at ~150 MB/s, its reading at ~100 MB/s (SSL) per broker.
    local n_l=$((1 + (TLS_BASELINE == 1)))
    phase_on tls && t=$((t + 40 + 2 * n_l * (TLS_BLOCK_WARMUP + 2) + $(wc -w <<<"$TLS_WORKLOADS") * ROUNDS * n_l * 2 * (run + 6) + 2 * (TLS_BACKLOG_MB / 150 + 6) + ROUNDS * n_l * 2 * (TLS_BACKLOG_MB / 100 + 8)))
    # Per broker: a start, the fill at ~150 MB/s, then per round two restarts and 10 s of pauses.
    phase_on restart && t=$((t + 2 * (40 + RESTART_MB * RESTART_PARTITIONS / 150 + ROUNDS * 25)))
    # Per broker: start (Kafka ~20 s), CreateTopics (~1 s per 100 partitions, a guess), the
    # clients' start, the probe, three produce runs with their JVMs, stopping.
    phase_on scale && t=$((t + SCALE_ROUNDS * 2 * (60 + SCALE_TOPICS * SCALE_PARTITIONS / 100 + SCALE_GROUPS / 5 + DURATION + 3 * (run + 10))))
    if phase_on replicated; then
        # Per round: a block per broker and stage (Milena's cluster starts and stops in ~3 s,
        # Kafka's in ~25 s; then the block's warm-up with its topic admin); each failover
        # FAILOVER_KILL_AFTER + the session timeout + ~14 s of tools and stopping.
        local n_rp n_fo pairs fo=0 st
        n_rp=$(wc -w <<<"$REPL_PARTITIONS")
        n_fo=$(wc -w <<<"$FAILOVER_SETTINGS")
        pairs=$((ROUNDS * (n_fo + 1)))
        for st in $FAILOVER_SETTINGS; do fo=$((fo + FAILOVER_KILL_AFTER + ${st%%:*} / 1000 + 14)); done
        fo=$((fo + FAILOVER_KILL_AFTER + ${FAILOVER_SETTINGS%%:*} / 1000 + 14))  # the second trial
        t=$((t + pairs * (28 + 2 * (REPL_BLOCK_WARMUP + 6)) + ROUNDS * 2 * (n_rp * (run + 7) + fo + $(wc -w <<<"$REPL_LOAD_PCTS") * (run + WARMUP + 9)) + XCHECK_ROUNDS * 2 * (run + 7)))
    fi
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
        local c
        for c in "${!RDK_VER[@]}"; do echo "rdkafka_client_$c=${RDK_VER[$c]} ${RDK_BIN[$c]}"; done
        echo "rdkafka_clients=$RDKAFKA_CLIENTS"
        [ -n "${RDK_CURRENT_VERSION:-}" ] && echo "rdkafka_current_cmake=${RDK_CMAKE_OPTS[*]}"
        echo "java=$(java -version 2>&1 | head -n1)"
        echo "quick=$QUICK"
        echo "rounds=$ROUNDS"
        echo "duration=$DURATION"
        echo "warmup=$WARMUP"
        echo "page_cache=$PAGE_CACHE"
        echo "ballast_keep_mb=$BALLAST_KEEP_MB"
        echo "produce_max_mb=$PRODUCE_MAX_MB"
        echo "backlog_mb=$BACKLOG_MB"
        echo "broker_cpus=$BROKER_CPUS"
        echo "client_cpus=$CLIENT_CPUS"
        echo "linger_ms=$LINGER_MS"
        echo "batch_bytes=$BATCH_BYTES"
        echo "kafka_heap_opts=$KAFKA_HEAP_OPTS"
        echo "phases=$PHASES"
        if phase_on tls; then
            echo "tls_workloads=$TLS_WORKLOADS"
            echo "tls_backlog_mb=$TLS_BACKLOG_MB"
            echo "tls_baseline=$TLS_BASELINE"
            echo "tls_block_warmup=$TLS_BLOCK_WARMUP"
            echo "tls_ports=milena $MILENA_TLS_PORT, kafka $KAFKA_TLS_PORT"
            echo "tls_openssl=$(openssl version)"
            echo "tls_kernel_module=$(if [ -d /sys/module/tls ]; then echo loaded; else echo "not loaded"; fi)"
        fi
        if phase_on restart; then
            echo "restart_partitions=$RESTART_PARTITIONS"
            echo "restart_mb=$RESTART_MB"
            echo "restart_segment_bytes=$RESTART_SEGMENT_BYTES"
        fi
        echo "xcheck_rounds=$XCHECK_ROUNDS"
        echo "latency_basis=$LATENCY_BASIS"
        echo "data_fs=$(df -PT "$work" | awk 'NR==2 {print $1 " (" $2 ")"}')"
        if phase_on scale; then
            echo "scale_topics=$SCALE_TOPICS"
            echo "scale_partitions=$SCALE_PARTITIONS"
            echo "scale_create_batch=$SCALE_CREATE_BATCH"
            echo "scale_connections=$SCALE_CONNECTIONS"
            echo "scale_conn_interval=$SCALE_CONN_INTERVAL"
            echo "scale_groups=$SCALE_GROUPS"
            echo "scale_extra_topics=$SCALE_EXTRA_TOPICS"
            echo "scale_probe_topics=$SCALE_PROBE_TOPICS"
            echo "scale_probe_rate=$SCALE_PROBE_RATE"
            echo "scale_produce_rate=$SCALE_PRODUCE_RATE"
            echo "scale_produce_partitions=$SCALE_PRODUCE_PARTITIONS"
            echo "scale_rounds=$SCALE_ROUNDS"
            echo "scale_nofile=$SCALE_NOFILE"
        fi
        if phase_on replicated; then
            echo "repl_partitions=$REPL_PARTITIONS"
            echo "repl_size=$REPL_SIZE"
            echo "repl_latency_partitions=$REPL_LATENCY_PARTITIONS"
            echo "repl_load_pcts=$REPL_LOAD_PCTS"
            echo "repl_broker_cpus=$REPL_BROKER_CPUS"
            echo "repl_block_warmup=$REPL_BLOCK_WARMUP"
            echo "repl_kafka_heap_opts=$REPL_KAFKA_HEAP_OPTS"
            echo "failover_settings=$FAILOVER_SETTINGS"
            echo "repl_stages=$REPL_STAGES"
            echo "failover_rate=$FAILOVER_RATE"
            echo "failover_victim=$FAILOVER_VICTIM"
            echo "failover_kill_after=$FAILOVER_KILL_AFTER"
            echo "failover_timeout=$FAILOVER_TIMEOUT"
            echo "milena_src_dirty_files=$(git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"
        fi
    } >>"$RESULTS/meta.txt"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    cluster_stop
    stop_milena
    stop_kafka
    stop_kafka39
    [ -n "${RS_PID:-}" ] && kill -KILL "$RS_PID" 2>/dev/null
    if [ -n "${work:-}" ] && [ -d "$work/kafka/logs" ] && [ -d "$RESULTS/logs" ]; then
        cp "$work/kafka/logs/server.log" "$RESULTS/logs/kafka-server.log" 2>/dev/null || true
        cp "$work/kafka/logs/kafkaServer-gc.log" "$RESULTS/logs/kafka-gc.log" 2>/dev/null || true
    fi
    if [ -n "${work:-}" ] && [ -d "$work/kafka-tls/logs" ] && [ -d "$RESULTS/logs" ]; then
        cp "$work/kafka-tls/logs/server.log" "$RESULTS/logs/kafka-tls-server.log" 2>/dev/null || true
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
    phase_on tls && log "tls: TLS_WORKLOADS='$TLS_WORKLOADS' TLS_BACKLOG_MB=$TLS_BACKLOG_MB TLS_BASELINE=$TLS_BASELINE TLS_BLOCK_WARMUP=$TLS_BLOCK_WARMUP"
    log "estimated duration: about $((est / 60)) min $((est % 60)) s (results: $RESULTS)"
    ensure_tools
    mkdir -p "$BENCH_TMPDIR"
    work=$(mktemp -d "$BENCH_TMPDIR/milena-bench.XXXXXX")
    if [ -z "$PRODUCE_MAX_MB" ]; then
        PRODUCE_MAX_MB=$(df -Pm "$work" | awk 'NR==2 {print int($4 / 3)}')
        [ "$PRODUCE_MAX_MB" -gt 12288 ] && PRODUCE_MAX_MB=12288
    fi
    log "page cache: $PAGE_CACHE (ballast down to ${BALLAST_KEEP_MB} MiB free); a produce run ends after ${PRODUCE_MAX_MB} MiB at most"
    write_meta
    local single=0
    phase_on produce || phase_on capacity || phase_on consume || phase_on latency || phase_on fsync && single=1
    if [ $single = 1 ]; then
        measure_disk
        start_milena
        start_kafka
        phase_on produce && phase_produce
        phase_on capacity && phase_capacity
        phase_on consume && phase_consume
        phase_on latency && phase_latency
        phase_on fsync && phase_fsync
        # The clusters run alone: never a single broker next to them.
        stop_milena
        stop_kafka
    fi
    # TLS: both brokers started afresh with an SSL listener, after the plaintext phases.
    phase_on tls && phase_tls
    phase_on restart && phase_restart
    # Issue 14's factors (not in the default PHASES): each cell starts its own brokers.
    phase_on factors && phase_factors
    # Issue 17's conversion cost (not in the default PHASES): Milena, then Kafka 3.9.1, alone.
    phase_on conversion && phase_conversion
    # One broker at a time, each on its own: never next to the other or to a cluster.
    phase_on scale && phase_scale
    phase_on replicated && phase_replicated
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

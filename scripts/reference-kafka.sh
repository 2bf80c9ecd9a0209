#!/usr/bin/env bash
# The real Apache Kafka broker (KRaft, combined broker+controller, one node) for differential checks.
#
#   scripts/reference-kafka.sh start <data-dir> <port> [key=value ...]   # prints the broker PID
#   scripts/reference-kafka.sh stop <data-dir>
#   scripts/reference-kafka.sh status <data-dir>
#
# PLAINTEXT listener on localhost:<port> (advertised as localhost:<port>), controller on <port>+1000.
# <data-dir> gets server.properties, data/ (log.dirs, formatted once), logs/ (server.log, console
# output, GC log) and kafka.pid. Extra key=value arguments are appended to server.properties at start.
# A `listeners=` argument replaces the PLAINTEXT listener (for brokers with SSL, SASL or custom-named
# listeners beside it) and `advertised.listeners=` its advertised address (default: the listeners);
# the CONTROLLER listener is added to both, and CONTROLLER:PLAINTEXT to a
# `listener.security.protocol.map=` argument that does not map CONTROLLER itself. The inter-broker
# listener stays PLAINTEXT (the dist's inter.broker.listener.name), so such `listeners` must keep a
# PLAINTEXT listener on <port>: the readiness check below connects there.
# Heap: -Xmx512m (override with KAFKA_HEAP_OPTS). Start-up waits at most REFERENCE_KAFKA_TIMEOUT
# seconds (default 90) for the port and for `kafka-topics.sh --list` to succeed.
# REFERENCE_KAFKA_VERSION picks the Kafka version (default: scripts/kafka-dist.sh's, 4.1.2; e.g. 4.4.0).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { echo "usage: $0 start <data-dir> <port> [key=value ...] | stop <data-dir> | status <data-dir>" >&2; exit 2; }
die() { echo "reference-kafka.sh: $*" >&2; exit 1; }

port_open() { # whether something listens on port $1 (see /proc/net/tcp), never by connecting:
    # a connect to a port of the ephemeral range with no listener can pick that very port as its
    # source and connect to itself, and then holds the port a broker is about to bind.
    awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
        END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

[ $# -ge 2 ] || usage
cmd=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
pidfile="$dir/kafka.pid"
pid=""
[ -f "$pidfile" ] && pid=$(cat "$pidfile")

case "$cmd" in
start)
    [ $# -ge 3 ] || usage
    port=$3
    shift 3
    [[ "$port" =~ ^[0-9]+$ ]] || die "port must be a number, got '$port'"
    cport=$((port + 1000))
    if alive "$pid"; then die "already running in $dir (pid $pid)"; fi
    if port_open "$port"; then die "port $port is already in use"; fi
    if port_open "$cport"; then die "controller port $cport is already in use"; fi

    dist=$(bash "$here/kafka-dist.sh" ${REFERENCE_KAFKA_VERSION:+"$REFERENCE_KAFKA_VERSION"} | tail -n1)
    [ -x "$dist/bin/kafka-server-start.sh" ] || die "no Kafka distribution at '$dist'"

    listeners="PLAINTEXT://localhost:$port"
    advertised=""
    extra=()
    for kv in "$@"; do
        [[ "$kv" == *=* ]] || die "extra property '$kv' is not key=value"
        case "$kv" in
        listeners=*) listeners=${kv#*=} ;;
        advertised.listeners=*) advertised=${kv#*=} ;;
        listener.security.protocol.map=*)
            [[ ",${kv#*=}" == *,CONTROLLER:* ]] || kv="$kv,CONTROLLER:PLAINTEXT"
            extra+=("$kv")
            ;;
        *) extra+=("$kv") ;;
        esac
    done
    [ -n "$advertised" ] || advertised=$listeners
    [[ ",$listeners" =~ ,PLAINTEXT://[^,]*:$port(,|$) ]] ||
        die "listeners '$listeners' has no PLAINTEXT listener on port $port (inter-broker, readiness check)"

    mkdir -p "$dir/data" "$dir/logs"
    props="$dir/server.properties"
    sed -e "s|^controller.quorum.bootstrap.servers=.*|controller.quorum.bootstrap.servers=localhost:$cport|" \
        -e "s|^listeners=.*|listeners=$listeners,CONTROLLER://localhost:$cport|" \
        -e "s|^advertised.listeners=.*|advertised.listeners=$advertised,CONTROLLER://localhost:$cport|" \
        -e "s|^log.dirs=.*|log.dirs=$dir/data|" \
        "$dist/config/server.properties" >"$props"
    for kv in "${extra[@]}"; do
        echo "$kv" >>"$props"
    done

    if [ ! -f "$dir/data/meta.properties" ]; then
        cluster_id=$("$dist/bin/kafka-storage.sh" random-uuid)
        if ! out=$(timeout 120 "$dist/bin/kafka-storage.sh" format --standalone -t "$cluster_id" -c "$props" 2>&1); then
            echo "$out" >&2
            die "kafka-storage.sh format failed"
        fi
    fi

    export LOG_DIR="$dir/logs"
    export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms512m}"
    # kafka-server-start.sh -> kafka-run-class.sh -> java, all by exec: $! is the JVM's pid.
    nohup "$dist/bin/kafka-server-start.sh" "$props" >"$dir/logs/console.out" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pidfile"

    deadline=$((SECONDS + ${REFERENCE_KAFKA_TIMEOUT:-90}))
    until port_open "$port"; do
        alive "$pid" || { tail -n 50 "$dir/logs/console.out" >&2; rm -f "$pidfile"; die "broker exited during start-up"; }
        [ $SECONDS -lt $deadline ] || { tail -n 50 "$dir/logs/console.out" >&2; die "port $port not open in time (pid $pid still running)"; }
        sleep 0.2
    done
    until timeout 60 "$dist/bin/kafka-topics.sh" --bootstrap-server "localhost:$port" --list >/dev/null 2>&1; do
        alive "$pid" || { tail -n 50 "$dir/logs/console.out" >&2; rm -f "$pidfile"; die "broker exited during start-up"; }
        [ $SECONDS -lt $deadline ] || { tail -n 50 "$dir/logs/console.out" >&2; die "broker not ready in time (pid $pid still running)"; }
        sleep 0.5
    done
    echo "$pid"
    ;;
stop)
    if ! alive "$pid"; then
        rm -f "$pidfile"
        echo "reference-kafka.sh: not running in $dir" >&2
        exit 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 300); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        echo "reference-kafka.sh: pid $pid did not stop in 30 s, sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$pidfile"
    ;;
status)
    if alive "$pid"; then echo "running $pid"; else echo "stopped"; exit 1; fi
    ;;
*)
    usage
    ;;
esac

#!/usr/bin/env bash
# A three-node Milena cluster on this host, from config/server-1.properties, -2 and -3 (KRaft
# combined mode: every node a broker and a controller; clients on localhost:9092-9094, the Raft
# quorum on 19092-19094).
#
#   scripts/cluster.sh start  [run-dir]   # start the three nodes, wait until the cluster has formed
#   scripts/cluster.sh stop   [run-dir]   # SIGTERM each node in turn and wait for it to exit
#   scripts/cluster.sh status [run-dir]   # which nodes run, and the brokers Metadata lists
#
# run-dir (default ./cluster-run) holds node-N.log (stdout and stderr of node N, appended to across
# runs), node-N.pid, and the nodes' data: each node runs with run-dir as its working directory, so
# log.dirs=./data-N of the config files is run-dir/data-N. A later start reuses that data.
#
# Environment:
#   MILENA_BIN       the binary (default: target/release/milena, built with cargo if missing)
#   CLUSTER_CONFIG   the folder with server-{1,2,3}.properties (default: the repository's config/)
#   CLUSTER_TIMEOUT  seconds start waits for the nodes and then for the cluster (default 60)
#   STOP_TIMEOUT     seconds stop waits for each node after SIGTERM (default 30), then SIGKILL
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
nodes=(1 2 3)
timeout_s=${CLUSTER_TIMEOUT:-60}
stop_timeout_s=${STOP_TIMEOUT:-30}
config=${CLUSTER_CONFIG:-$repo/config}

usage() { echo "usage: $0 start|stop|status [run-dir]" >&2; exit 2; }
die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*"; }

[ $# -ge 1 ] && [ $# -le 2 ] || usage
cmd=$1
run=${2:-./cluster-run}
config=$(cd "$config" 2>/dev/null && pwd) || die "no config folder '${CLUSTER_CONFIG:-$repo/config}'"

props() { echo "$config/server-$1.properties"; }
log_of() { echo "$run/node-$1.log"; }
pidfile() { echo "$run/node-$1.pid"; }

# The value of key $2 in properties file $1 (last one wins, as in Java's Properties).
prop() { sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*//p" "$1" | tail -n1 | tr -d '\r'; }

# The PLAINTEXT port of node $1 and every port in its `listeners`.
client_port() { prop "$(props "$1")" listeners | tr ',' '\n' | sed -n 's|^PLAINTEXT://[^:]*:\([0-9]*\).*|\1|p' | head -n1; }
all_ports() { prop "$(props "$1")" listeners | tr ',' '\n' | sed -n 's|.*:\([0-9][0-9]*\)$|\1|p'; }

port_open() { # whether something listens on port $1 (see /proc/net/tcp), never by connecting:
    # a connect to a port of the ephemeral range with no listener can pick that very port as its
    # source and connect to itself, and then holds the port a broker is about to bind.
    awk -v p="$(printf ':%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
        END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# The pid of node $1 if it runs (the pid file's process, still a milena with that node's file).
running_pid() {
    local f pid
    f=$(pidfile "$1")
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "server-$1.properties" || return 1
    echo "$pid"
}

# How many brokers kcat's Metadata from localhost:$1 lists (empty when kcat fails).
brokers_via() {
    timeout 10 kcat -L -b "localhost:$1" -m 3 2>/dev/null | sed -n 's/^ *\([0-9][0-9]*\) brokers:$/\1/p' | head -n1
}

stop_node() {
    local n=$1 pid waited=0
    pid=$(running_pid "$n") || { rm -f "$(pidfile "$n")"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if [ $waited -ge $((stop_timeout_s * 10)) ]; then
            echo "cluster.sh: node $n (pid $pid) did not exit within ${stop_timeout_s}s of SIGTERM; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            rm -f "$(pidfile "$n")"
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    rm -f "$(pidfile "$n")"
    say "node $n (pid $pid) stopped"
}

case "$cmd" in
start)
    for n in "${nodes[@]}"; do
        [ -f "$(props "$n")" ] || die "missing $(props "$n")"
        [ -n "$(client_port "$n")" ] || die "no PLAINTEXT://host:port in listeners of $(props "$n")"
        if pid=$(running_pid "$n"); then die "node $n already runs (pid $pid, $run); stop it first"; fi
        for p in $(all_ports "$n"); do
            if port_open "$p"; then die "port $p (node $n) is already in use"; fi
        done
    done

    bin=${MILENA_BIN:-$repo/target/release/milena}
    if [ ! -x "$bin" ]; then
        [ -z "${MILENA_BIN:-}" ] || die "MILENA_BIN=$bin is not an executable"
        say "no $bin: cargo build --release"
        (cd "$repo" && cargo build --release) || die "cargo build --release failed"
    fi
    mkdir -p "$run"
    run=$(cd "$run" && pwd)

    # Spawn all three first: a node may only finish starting once a majority of voters is up.
    declare -A before
    for n in "${nodes[@]}"; do
        before[$n]=$(grep -c "Milena started" "$(log_of "$n")" 2>/dev/null || true)
        echo "==== cluster.sh: $(date '+%F %T') starting $bin $(props "$n")" >>"$(log_of "$n")"
        (cd "$run" && exec nohup "$bin" "$(props "$n")" >>"$(log_of "$n")" 2>&1 </dev/null) &
        echo $! >"$(pidfile "$n")"
        say "node $n: pid $!, log $(log_of "$n")"
    done

    failed() {
        echo "cluster.sh: $1" >&2
        for n in "${nodes[@]}"; do
            echo "---- last lines of $(log_of "$n") ----" >&2
            tail -n 20 "$(log_of "$n")" >&2 || true
        done
        exit 1
    }

    # Each node: its start-up line, and its client port accepting connections.
    deadline=$((SECONDS + timeout_s))
    for n in "${nodes[@]}"; do
        port=$(client_port "$n")
        until [ "$(grep -c "Milena started" "$(log_of "$n")" 2>/dev/null || true)" -gt "${before[$n]:-0}" ] && port_open "$port"; do
            if ! running_pid "$n" >/dev/null; then
                for m in "${nodes[@]}"; do stop_node "$m" >/dev/null 2>&1 || true; done
                failed "node $n exited during start-up (the others were stopped)"
            fi
            [ $SECONDS -lt $deadline ] || failed "node $n did not start within ${timeout_s}s (still running: see its log; scripts/cluster.sh stop $run)"
            sleep 0.2
        done
    done

    # The cluster: Metadata from every node lists all three brokers.
    if command -v kcat >/dev/null; then
        for n in "${nodes[@]}"; do
            port=$(client_port "$n")
            until [ "$(brokers_via "$port")" = "${#nodes[@]}" ]; do
                [ $SECONDS -lt $deadline ] || failed "Metadata from localhost:$port does not list ${#nodes[@]} brokers after ${timeout_s}s (kcat -L -b localhost:$port says: $(brokers_via "$port") brokers); nodes still running: scripts/cluster.sh stop $run"
                sleep 0.5
            done
        done
        say "cluster up: Metadata from every node lists ${#nodes[@]} brokers (kcat -L -b localhost:$(client_port 1))"
    else
        say "nodes up (kcat not installed: the cluster's forming was not checked)"
    fi
    ;;
stop)
    [ -d "$run" ] || { say "nothing to stop: no $run"; exit 0; }
    status=0
    # One at a time: while a majority still runs, the stopping node's partitions can move.
    for n in "${nodes[@]}"; do
        stop_node "$n" || status=1
    done
    exit $status
    ;;
status)
    up=0
    for n in "${nodes[@]}"; do
        port=$(client_port "$n")
        if pid=$(running_pid "$n"); then
            up=$((up + 1))
            state="running (pid $pid)"
            if port_open "$port"; then
                state="$state, port $port open"
                if command -v kcat >/dev/null; then
                    state="$state, Metadata lists $(brokers_via "$port") brokers"
                fi
            else
                state="$state, port $port closed"
            fi
        elif [ -f "$(pidfile "$n")" ]; then
            state="stopped (stale pid file)"
        else
            state="stopped"
        fi
        echo "node $n: $state"
    done
    [ $up -eq ${#nodes[@]} ]
    ;;
*)
    usage
    ;;
esac

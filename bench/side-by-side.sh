#!/usr/bin/env bash
# Quick side-by-side throughput check: Milena and Apache Kafka 4.1 (KRaft, single node, default
# settings) on this machine, driven by Kafka's own kafka-producer-perf-test and
# kafka-consumer-perf-test, interleaved in rounds (M K M K ...). Prints per-round numbers, the
# median Milena/Kafka ratio per workload, and each broker's RSS at the end.
#
# This is a seed for the full benchmark suite (issue 7), not that suite: one record size, acks=1,
# client and broker share the machine's cores (on 2 cores the Java client is often the limit).
#
# Usage: bench/side-by-side.sh [rounds] [records]     (defaults: 3 rounds, 3,000,000 records)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-3}
records=${2:-3000000}
dist=$(bash scripts/kafka-dist.sh | tail -n1)
bin="$dist/bin"
work=$(mktemp -d)
mport=29092
kport=39092

cargo build --release -q
cleanup() {
    [ -n "${mpid:-}" ] && kill "$mpid" 2>/dev/null || true
    bash scripts/reference-kafka.sh stop "$work/kafka" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

target/release/milena --override log.dirs="$work/milena" \
    --override listeners=PLAINTEXT://127.0.0.1:$mport \
    --override advertised.listeners=PLAINTEXT://localhost:$mport >"$work/milena.log" 2>&1 &
mpid=$!
bash scripts/reference-kafka.sh start "$work/kafka" $kport >/dev/null
for port in $mport $kport; do
    "$bin/kafka-topics.sh" --bootstrap-server localhost:$port --create --topic perf --partitions 8 >/dev/null
done

produce() {
    "$bin/kafka-producer-perf-test.sh" --topic perf --num-records "$records" --record-size 100 --throughput -1 \
        --producer-props bootstrap.servers=localhost:$1 acks=1 linger.ms=5 batch.size=1048576 2>/dev/null | tail -n1
}
consume() {
    "$bin/kafka-consumer-perf-test.sh" --bootstrap-server localhost:$1 --topic perf \
        --messages "$records" --timeout 120000 2>/dev/null | tail -n1
}
# records/sec from the producer summary; MB.sec (4th field) from the consumer's CSV line.
produce_rate() { sed -E 's/.* ([0-9.]+) records\/sec.*/\1/'; }
p99() { sed -E 's/.* ([0-9]+) ms 99th.*/\1/'; }
consume_rate() { awk -F', ' '{print $4}'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b > 0) ? a / b : 0 }'; }
declare -a pr cr lr
for round in $(seq 1 "$rounds"); do
    m=$(produce $mport); k=$(produce $kport)
    echo "round $round produce  milena: $m"
    echo "round $round produce  kafka:  $k"
    pr+=("$(ratio "$(echo "$m" | produce_rate)" "$(echo "$k" | produce_rate)")")
    lr+=("$(ratio "$(echo "$m" | p99)" "$(echo "$k" | p99)")")
    m=$(consume $mport); k=$(consume $kport)
    echo "round $round consume  milena: $m"
    echo "round $round consume  kafka:  $k"
    cr+=("$(ratio "$(echo "$m" | consume_rate)" "$(echo "$k" | consume_rate)")")
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR==1{min=$1} {max=$1} END {printf "min %.2f, max %.2f", min, max}'; }
echo
echo "Milena / Kafka, median of $rounds rounds ($records records of 100 B, 8 partitions, acks=1):"
printf '  produce throughput   %.2f  (%s)\n' "$(median "${pr[@]}")" "$(minmax "${pr[@]}")"
printf '  produce p99 latency  %.2f  (%s)\n' "$(median "${lr[@]}")" "$(minmax "${lr[@]}")"
printf '  consume throughput   %.2f  (%s)\n' "$(median "${cr[@]}")" "$(minmax "${cr[@]}")"
kpid=$(cat "$work/kafka/kafka.pid" 2>/dev/null || true)
echo "  RSS: milena $(ps -o rss= -p "$mpid" | tr -d ' ') KiB, kafka $( [ -n "$kpid" ] && ps -o rss= -p "$kpid" | tr -d ' ' || echo '?') KiB"

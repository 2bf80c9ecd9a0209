#!/usr/bin/env bash
# The `rdkafka` crate's own integration tests (the version in Cargo.lock, librdkafka built from
# source with cmake-build, as Milena's dev-dependency) against Milena, or with --kafka against
# Apache Kafka 4.1, with the broker settings of the crate's docker-compose.yaml
# (num.partitions=3, replication factor 1 for the internal topics).
#
#   compat-tests/rdkafka-crate-tests.sh [--kafka] [--out DIR]
#
# Prints each test's result and, last, `rdkafka-crate: N passed, N failed`. Not in CI: the first
# build compiles the crate's dev-dependencies (several minutes on 2 cores).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
broker=milena out=""
while [ $# -gt 0 ]; do
    case "$1" in
    --kafka) broker=kafka ;;
    --out) out=$2; shift ;;
    *) echo "usage: $0 [--kafka] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
out=${out:-$(mktemp -d /tmp/milena-rdkafka-tests.XXXXXX)}
mkdir -p "$out"

version=$(awk '/^name = "rdkafka"$/ { getline; gsub(/"/, "", $3); print $3 }' "$root/Cargo.lock")
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"rdkafka-$version" 2>/dev/null | head -n1)
if [ -z "$src" ]; then
    (cd "$root" && cargo fetch -q) || exit 1
    src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"rdkafka-$version" | head -n1)
fi
crate="$out/rdkafka-$version"
rm -rf "$crate" && cp -r "$src" "$crate" && cp "$root/Cargo.lock" "$crate/" || exit 1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
(cd "$crate" && cargo test --release --features cmake-build --tests --no-run -q) >"$out/build.log" 2>&1 \
    || { tail -n 30 "$out/build.log"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
props=(num.partitions=3 offsets.topic.replication.factor=1 transaction.state.log.replication.factor=1
       transaction.state.log.min.isr=1 group.initial.rebalance.delay.ms=0)
pidfile=""
cleanup() {
    [ -z "$pidfile" ] || kill "$(cat "$pidfile")" 2>/dev/null
    [ "$broker" != kafka ] || bash "$root/scripts/reference-kafka.sh" stop "$out/kafka" >/dev/null 2>&1
}
trap cleanup EXIT
if [ $broker = kafka ]; then
    while :; do port=$(free_port); port_open $((port + 1000)) || break; done
    bash "$root/scripts/reference-kafka.sh" start "$out/kafka" "$port" "${props[@]}" >/dev/null || exit 1
else
    bin=${MILENA_BIN:-$CARGO_TARGET_DIR/release/milena}
    port=$(free_port)
    mkdir -p "$out/milena/data"
    { echo "node.id=1"; echo "listeners=PLAINTEXT://127.0.0.1:$port"
      echo "advertised.listeners=PLAINTEXT://localhost:$port"; echo "log.dirs=$out/milena/data"
      printf '%s\n' "${props[@]}"; } >"$out/milena/server.properties"
    "$bin" "$out/milena/server.properties" >"$out/milena/broker.log" 2>&1 &
    echo $! >"$out/milena/pid"
    pidfile="$out/milena/pid"
    for _ in $(seq 100); do port_open "$port" && break; sleep 0.1; done
fi

passed=0 failed=0
for t in "$crate"/tests/test_*.rs; do
    name=$(basename "$t" .rs)
    (cd "$crate" && KAFKA_HOST="localhost:$port" KAFKA_VERSION=4.1 timeout 300 \
        cargo test --release --features cmake-build --test "$name" -- --test-threads=1) >"$out/$name.log" 2>&1
    grep -E '^test .* \.\.\. ' "$out/$name.log" | sed "s/^test /$name: /"
    p=$(awk '/^test result:/ { print $4 }' "$out/$name.log"); f=$(awk '/^test result:/ { print $6 }' "$out/$name.log")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    [ -n "$p" ] || { echo "$name: no result (timeout?)"; failed=$((failed + 1)); }
done
echo "logs in $out" >&2
echo "rdkafka-crate ($broker): $passed passed, $failed failed"

#!/usr/bin/env bash
# A class-data-sharing (AppCDS) archive for the stock Kafka tools, so that each kafka-*.sh the tests
# run starts from pre-parsed classes: about 1.4 CPU-seconds per tool run instead of about 3 on this
# project's 2-core CI machine, and the suite runs hundreds of them.
#
#   scripts/tools-cds.sh DIST MILENA_BINARY    # writes DIST/cds/tools.jsa, idempotently
#
# How: a throw-away Milena broker on a free loopback port; the tools the tests use most run against
# it once with -XX:DumpLoadedClassList; the union of the classes they loaded is dumped into a static
# archive for the tools' class path (DIST/libs/*). tests/support passes
# -XX:SharedArchiveFile=DIST/cds/tools.jsa -Xshare:auto to every tool: a JVM that cannot use the
# archive (another Java build, changed jars) ignores it silently and starts as before, so the archive
# is only ever a speed-up. DIST/cds/key records the Java build and the distribution it was made for;
# when both match, nothing is done.
set -euo pipefail

dist=${1:?usage: tools-cds.sh DIST MILENA_BINARY}
milena=${2:?usage: tools-cds.sh DIST MILENA_BINARY}
out="$dist/cds"
key=$( { java -version 2>&1; cat "$dist/.milena-dist-complete"; } | sha256sum | cut -d' ' -f1)
if [ -f "$out/tools.jsa" ] && [ "$(cat "$out/key" 2>/dev/null)" = "$key" ]; then
    exit 0
fi

mkdir -p "$out"
exec 9>"$out/.lock"
if command -v flock >/dev/null; then flock 9; fi
if [ -f "$out/tools.jsa" ] && [ "$(cat "$out/key" 2>/dev/null)" = "$key" ]; then
    exit 0
fi

work=$(mktemp -d)
broker_pid=
cleanup() {
    if [ -n "$broker_pid" ]; then
        kill "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listeners=PLAINTEXT://127.0.0.1:%s\nlog.dirs=%s/data\ngroup.initial.rebalance.delay.ms=0\n' \
    "$port" "$work" >"$work/server.properties"
"$milena" "$work/server.properties" >"$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

bs="127.0.0.1:$port"
printf 'one\ntwo\n' >"$work/records"
n=0
# trace STDIN TOOL ARGS...: one tool run that records the classes it loads.
trace() {
    local input=$1 tool=$2
    shift 2
    n=$((n + 1))
    KAFKA_JVM_PERFORMANCE_OPTS="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true" \
    KAFKA_OPTS="-XX:DumpLoadedClassList=$work/classes-$n.lst" \
        timeout 60 "$dist/bin/$tool" "$@" <"$input" >>"$work/tools.log" 2>&1 || true
}
trace /dev/null kafka-topics.sh --bootstrap-server "$bs" --create --topic cds --partitions 2
trace /dev/null kafka-topics.sh --bootstrap-server "$bs" --describe --topic cds
trace "$work/records" kafka-console-producer.sh --bootstrap-server "$bs" --topic cds
trace /dev/null kafka-console-consumer.sh --bootstrap-server "$bs" --topic cds --group cds \
    --from-beginning --max-messages 2 --timeout-ms 20000
trace /dev/null kafka-consumer-groups.sh --bootstrap-server "$bs" --describe --group cds
trace /dev/null kafka-configs.sh --bootstrap-server "$bs" --describe --entity-type topics --entity-name cds

# Lambda-form and class lines from all runs; JDK 17 writes no ids for built-in loaders' classes,
# but strip any so that one class is listed once.
cat "$work"/classes-*.lst 2>/dev/null | grep -v '^#' | sed 's/ id: [0-9]*$//' | sort -u >"$work/classes.lst"
if [ "$(wc -l <"$work/classes.lst")" -lt 1000 ]; then
    echo "tools-cds.sh: the tools loaded too few classes; no archive (see below)" >&2
    tail -n 20 "$work/tools.log" "$work/broker.log" >&2
    exit 0
fi
if java -Xshare:dump -XX:SharedClassListFile="$work/classes.lst" \
        -XX:SharedArchiveFile="$work/tools.jsa" -cp "$dist/libs/*" >"$work/dump.log" 2>&1; then
    mv "$work/tools.jsa" "$out/tools.jsa"
    echo "$key" >"$out/key"
    echo "tools-cds.sh: $out/tools.jsa ($(wc -l <"$work/classes.lst") classes)" >&2
else
    echo "tools-cds.sh: java -Xshare:dump failed; the tools start without an archive" >&2
    tail -n 20 "$work/dump.log" >&2
fi

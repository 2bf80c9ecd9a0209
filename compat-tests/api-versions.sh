#!/usr/bin/env bash
# What `kafka-broker-api-versions.sh` of the newest Apache Kafka (4.4.0) shows for a broker: the
# ranges of every API that client knows, as the broker advertises them.
#
#   compat-tests/api-versions.sh show HOST:PORT   # the tool's output for that broker, normalised
#   compat-tests/api-versions.sh record           # start Apache Kafka 4.4.0 (KRaft, one node, by
#                                                 # scripts/reference-kafka.sh), store its output in
#                                                 # expected/api-versions/kafka-4.4.0.txt, stop it
#
# Normalised: the first line's address becomes BROKER (the rest is the tool's own text). The suite's
# test (tests/compat_api_versions.rs) runs `show` against Milena and compares each API's range with
# the recorded file; a difference must be listed in FINDINGS.md as `api-versions: ROW` (the row as
# Milena shows it, without `[usable: N]`). Recording takes about a minute (the JVM broker's start).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
version=4.4.0
dist=$(bash "$root/scripts/kafka-dist.sh" "$version" | tail -n1)

show() { # BOOTSTRAP -> normalised output on stdout
    local opts="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Djava.awt.headless=true"
    [ ! -f "$dist/cds/tools.jsa" ] || opts="$opts -XX:SharedArchiveFile=$dist/cds/tools.jsa"
    KAFKA_JVM_PERFORMANCE_OPTS="$opts" timeout 120 "$dist/bin/kafka-broker-api-versions.sh" --bootstrap-server "$1" \
        | sed '1s/^[^ ]* /BROKER /'
}

case "${1:-}" in
show)
    show "${2:?usage: $0 show HOST:PORT}"
    ;;
record)
    work=$(mktemp -d)
    trap 'bash "$root/scripts/reference-kafka.sh" stop "$work" >/dev/null 2>&1; rm -rf "$work"' EXIT
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    # A JVM broker on a busy 2-core machine can take minutes to open its port.
    REFERENCE_KAFKA_VERSION=$version REFERENCE_KAFKA_TIMEOUT=${REFERENCE_KAFKA_TIMEOUT:-300} \
        bash "$root/scripts/reference-kafka.sh" start "$work" "$port" >/dev/null
    mkdir -p "$here/expected/api-versions"
    show "localhost:$port" >"$work/out.txt"
    grep -q '^	Produce(0): ' "$work/out.txt" || { cat "$work/out.txt" >&2; echo "api-versions.sh: no Produce row" >&2; exit 1; }
    mv "$work/out.txt" "$here/expected/api-versions/kafka-$version.txt"
    echo "api-versions.sh: wrote expected/api-versions/kafka-$version.txt" >&2
    ;;
*)
    sed -n '2,13p' "${BASH_SOURCE[0]}" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# The compatibility matrix: the same scenarios with every client family, against Milena and (with
# --diff) against the real Apache Kafka 4.1 broker, compared on what each client observes.
#
#   compat-tests/run.sh [--diff] [--record] [--families a,b] [--scenarios x,y]
#                       [--bootstrap HOST:PORT] [--out DIR] [--no-readme]
#
#   (default)     start Milena (target/release/milena, or $MILENA_BIN) on a free port with a temp
#                 log.dirs, run every family x scenario; a scenario passes when its program's own
#                 checks pass and its output equals the Kafka observation recorded in
#                 expected/<family>/<scenario>.txt (when there is one).
#   --diff        also start Apache Kafka 4.1 (scripts/reference-kafka.sh) and run everything
#                 against both; a scenario passes when both outputs are equal.
#   --record      with --diff: write Kafka's outputs to expected/ (the golden files above).
#   --bootstrap   use a running Milena instead of starting one (the Rust test harness does this).
#   --no-readme   do not rewrite the table in compat-tests/README.md (it is rewritten only for a
#                 full run, all families and all scenarios).
#
# A difference listed in FINDINGS.md (a line `known: FAMILY/SCENARIO reason`) is reported as
# `known` instead of `FAIL`. Exit status: 0 when nothing failed.
# Last line of stdout: `compat: N passed, N failed, N n/a, N known`.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

ALL_FAMILIES=(java java-4.4 confluent kcat kafka-python kafkajs franz-go sarama raw cli cli-4.4)
ALL_SCENARIOS=(quickstart keyed codecs group offsets admin idempotent txn headers large errors connect streams)

diff_mode=0 record=0 bootstrap="" readme=1 out=""
families=("${ALL_FAMILIES[@]}") scenarios=("${ALL_SCENARIOS[@]}") filtered=0
while [ $# -gt 0 ]; do
    case "$1" in
    --diff) diff_mode=1 ;;
    --record) record=1 ;;
    --families) IFS=, read -r -a families <<<"$2"; filtered=1; shift ;;
    --scenarios) IFS=, read -r -a scenarios <<<"$2"; filtered=1; shift ;;
    --bootstrap) bootstrap=$2; shift ;;
    --out) out=$2; shift ;;
    --no-readme) readme=0 ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[ $record = 0 ] || [ $diff_mode = 1 ] || { echo "run.sh: --record needs --diff" >&2; exit 2; }

out=${out:-$(mktemp -d /tmp/milena-compat.XXXXXX)}
mkdir -p "$out"
echo "compat: outputs in $out" >&2

# --- dependencies (idempotent) ------------------------------------------------------------------
# shellcheck source=compat-tests/install.sh
source "$here/install.sh" || exit 1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }


ref_dir=""
milena_pidfile=""
cleanup() {
    [ -z "$milena_pidfile" ] || kill "$(cat "$milena_pidfile")" 2>/dev/null
    [ -z "$ref_dir" ] || bash "$root/scripts/reference-kafka.sh" stop "$ref_dir" >/dev/null 2>&1
}
trap cleanup EXIT

# Settings both brokers get, so that a difference is the broker's and not the setup's.
COMMON_PROPS=(group.initial.rebalance.delay.ms=0 offsets.topic.replication.factor=1 log.segment.bytes=1073741824
              transaction.state.log.replication.factor=1 transaction.state.log.min.isr=1 num.partitions=1)

start_milena() { # -> prints bootstrap
    local bin=${MILENA_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/milena}
    [ -x "$bin" ] || { echo "run.sh: no Milena binary at $bin (cargo build --release, or set MILENA_BIN)" >&2; return 1; }
    local dir="$out/milena-broker" port
    mkdir -p "$dir/data"
    port=$(free_port)
    {
        echo "node.id=1"
        echo "listeners=PLAINTEXT://127.0.0.1:$port"
        echo "advertised.listeners=PLAINTEXT://localhost:$port"
        echo "log.dirs=$dir/data"
        printf '%s\n' "${COMMON_PROPS[@]}"
    } >"$dir/server.properties"
    "$bin" "$dir/server.properties" >"$dir/broker.log" 2>&1 &
    echo $! >"$dir/milena.pid"
    for _ in $(seq 100); do port_open "$port" && break; sleep 0.1; done
    port_open "$port" || { tail "$dir/broker.log" >&2; return 1; }
    echo "localhost:$port"
}

start_kafka() { # runs in $(...): ref_dir is set by the caller, for cleanup
    local port
    while :; do port=$(free_port); port_open $((port + 1000)) || break; done
    bash "$root/scripts/reference-kafka.sh" start "$out/kafka-broker" "$port" "${COMMON_PROPS[@]}" >/dev/null || return 1
    echo "localhost:$port"
}

# --- one family x scenario ------------------------------------------------------------------
# jvm_opts DIST -> options for a short-lived client JVM: the client compiler, the serial collector,
# and the class-data-sharing archive of DIST's jars when scripts/tools-cds.sh has made one (a JVM
# that cannot use it starts as before). Start-up time only; what the client does is unchanged.
jvm_opts() {
    printf '%s ' -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
    [ ! -f "$1/cds/tools.jsa" ] || printf '%s ' "-XX:SharedArchiveFile=$1/cds/tools.jsa"
}

# family_cmd FAMILY -> the command line (array in $cmd) that runs "SCENARIO BOOTSTRAP PREFIX"
family_cmd() {
    case "$1" in
    java) cmd=(java $(jvm_opts "$MILENA_KAFKA_DIST") -cp "$COMPAT_JAVA_CP" Compat) ;;
    # The newest Apache Kafka's client (Compat.java compiled against its kafka-clients).
    java-4.4) cmd=(java $(jvm_opts "$COMPAT_KAFKA_DIST_NEWEST") -cp "$COMPAT_JAVA_NEWEST_CP" Compat) ;;
    confluent) cmd=(python3 "$here/families/confluent.py") ;;
    kafka-python) cmd=(python3 "$here/families/kafka_python.py") ;;
    kcat) cmd=(bash "$here/families/kcat.sh") ;;
    kafkajs) cmd=(env NODE_PATH="$COMPAT_NODE_PATH" node "$here/families/kafkajs.js") ;;
    franz-go) cmd=("$COMPAT_GO_BIN/franz") ;;
    sarama) cmd=("$COMPAT_GO_BIN/sarama") ;;
    raw) cmd=(python3 "$here/families/raw.py") ;;
    cli) cmd=(bash "$here/families/cli.sh") ;;
    # The newest Apache Kafka's stock tools, Connect and Streams.
    cli-4.4) cmd=(env MILENA_KAFKA_DIST="$COMPAT_KAFKA_DIST_NEWEST" bash "$here/families/cli.sh") ;;
    *) return 1 ;;
    esac
}

# run_one BROKER-NAME BOOTSTRAP FAMILY SCENARIO -> writes out/BROKER/FAMILY/SCENARIO.{out,err,rc}
# The name prefix is the family without dots (java-4.4 -> java-44-): kafka-topics.sh warns about
# topic names with a '.', which would be a difference of the family's names, not of the broker.
run_one() {
    local dir="$out/$1/$3" cmd
    mkdir -p "$dir"
    family_cmd "$3" || { echo 1 >"$dir/$4.rc"; return; }
    local start=$SECONDS
    (cd "$dir" && MILENA_KAFKA_DIST="$MILENA_KAFKA_DIST" timeout -k 5 "${COMPAT_SCENARIO_TIMEOUT:-150}" \
        "${cmd[@]}" "$4" "$2" "${3//./}-" >"$dir/$4.out" 2>"$dir/$4.err" </dev/null)
    echo $? >"$dir/$4.rc"
    echo "$((SECONDS - start))" >"$dir/$4.secs"
}

known() { # FAMILY SCENARIO -> 0 if FINDINGS.md lists the difference
    grep -qE "^known: $1/$2( |$)" "$here/FINDINGS.md" 2>/dev/null
}

# verdict BROKER FAMILY SCENARIO [OTHER-BROKER] -> PASS FAIL n/a known (+ reason on stderr log)
verdict() {
    local a="$out/$1/$2/$3" rc
    rc=$(cat "$a.rc")
    if [ "$rc" = 64 ]; then echo n/a; return; fi
    if [ "$rc" != 0 ]; then
        if known "$2" "$3"; then echo known; else echo FAIL; fi
        return
    fi
    local ref=""
    if [ -n "${4:-}" ]; then
        ref="$out/$4/$2/$3.out"
        [ "$(cat "$out/$4/$2/$3.rc")" = 0 ] || { echo "ref-FAIL"; return; }
    elif [ -f "$here/expected/$2/$3.txt" ]; then
        ref="$here/expected/$2/$3.txt"
    fi
    if [ -n "$ref" ] && ! diff -q "$ref" "$a.out" >/dev/null; then
        if known "$2" "$3"; then echo known; else echo FAIL; fi
        return
    fi
    echo PASS
}

# --- run ------------------------------------------------------------------------------------
if [ -n "$bootstrap" ]; then
    milena=$bootstrap
else
    milena_pidfile="$out/milena-broker/milena.pid" # start_milena runs in $(...)
    milena=$(start_milena) || exit 1
fi
echo "compat: Milena at $milena" >&2
if [ $diff_mode = 1 ]; then
    echo "compat: starting Apache Kafka (reference)..." >&2
    ref_dir="$out/kafka-broker"
    kafka=$(start_kafka) || { echo "run.sh: reference Kafka did not start" >&2; exit 1; }
    echo "compat: Kafka at $kafka" >&2
fi

declare -A result
passed=0 failed=0 na=0 knowns=0
for f in "${families[@]}"; do
    for s in "${scenarios[@]}"; do
        run_one milena "$milena" "$f" "$s"
        if [ $diff_mode = 1 ]; then
            run_one kafka "$kafka" "$f" "$s"
            v=$(verdict milena "$f" "$s" kafka)
            if [ $record = 1 ] && [ "$(cat "$out/kafka/$f/$s.rc")" = 0 ]; then
                mkdir -p "$here/expected/$f"
                cp "$out/kafka/$f/$s.out" "$here/expected/$f/$s.txt"
            fi
        else
            v=$(verdict milena "$f" "$s")
        fi
        result[$f/$s]=$v
        case $v in PASS) passed=$((passed + 1)) ;; n/a) na=$((na + 1)) ;; known) knowns=$((knowns + 1)) ;; *) failed=$((failed + 1)) ;; esac
        printf 'compat: %-12s %-11s %-8s %ss\n' "$f" "$s" "$v" "$(cat "$out/milena/$f/$s.secs" 2>/dev/null)"
        if [ "$v" = FAIL ] || [ "$v" = ref-FAIL ]; then
            if [ $diff_mode = 1 ] && [ "$v" = FAIL ]; then
                diff "$out/kafka/$f/$s.out" "$out/milena/$f/$s.out" | head -20 | sed 's/^/    /'
            elif [ -f "$here/expected/$f/$s.txt" ] && [ "$(cat "$out/milena/$f/$s.rc")" = 0 ]; then
                diff "$here/expected/$f/$s.txt" "$out/milena/$f/$s.out" | head -20 | sed 's/^/    /'
            else
                tail -n 5 "$out/milena/$f/$s.out" "$out/milena/$f/$s.err" 2>/dev/null | sed 's/^/    /'
            fi
        fi
    done
done

# --- the table --------------------------------------------------------------------------------
table() {
    printf '| family |'; printf ' %s |' "${scenarios[@]}"; echo
    printf '|---|'; printf -- '---|%.0s' "${scenarios[@]}"; echo
    for f in "${families[@]}"; do
        printf '| %s |' "$f"
        for s in "${scenarios[@]}"; do
            case ${result[$f/$s]} in PASS) c=pass ;; n/a) c=n/a ;; known) c='known¹' ;; *) c='**fail**' ;; esac
            printf ' %s |' "$c"
        done
        echo
    done
    echo
    echo "$passed passed, $failed failed, $na n/a, $knowns known (¹ a difference listed in FINDINGS.md)."
}
table >"$out/table.md"
if [ $readme = 1 ] && [ $filtered = 0 ] && [ -f "$here/README.md" ]; then
    mode=milena; [ $diff_mode = 1 ] && mode=diff
    python3 - "$here/README.md" "$mode" "$out/table.md" <<'EOF'
import sys, datetime
path, mode, table = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
text = open(path).read()
start, end = f"<!-- matrix:{mode}:start -->", f"<!-- matrix:{mode}:end -->"
if start in text and end in text:
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    stamp = datetime.date.today().isoformat()
    text = f"{head}{start}\nGenerated by `compat-tests/run.sh{' --diff' if mode == 'diff' else ''}` on {stamp}.\n\n{table}{end}{tail}"
    open(path, "w").write(text)
EOF
fi
cat "$out/table.md" >&2
echo "compat: $passed passed, $failed failed, $na n/a, $knowns known"
[ $failed = 0 ]

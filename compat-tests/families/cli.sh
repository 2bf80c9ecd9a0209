#!/usr/bin/env bash
# Scenarios as the stock Apache Kafka tools see them ($MILENA_KAFKA_DIST/bin: the 4.1.2 jars for
# the cli family, the 4.4.0 ones for cli-4.4):
# the seeds' quickstart, the Kafka Connect file quickstart and the Kafka Streams WordCount demo.
#
#   cli.sh SCENARIO BOOTSTRAP PREFIX
#
# Prints the normalised observation on stdout (names without PREFIX, tool output with volatile
# fields such as random group ids and times masked); exit 0 = the scenario's own checks passed,
# 64 = not applicable, anything else = failed. Runs in a scratch directory (run.sh's cwd).
set -uo pipefail
scenario=$1 boot=$2 prefix=$3
bin="${MILENA_KAFKA_DIST:?}/bin"
export KAFKA_HEAP_OPTS="-Xmx256m" KAFKA_JVM_PERFORMANCE_OPTS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto -Djava.awt.headless=true"
# The tools' class-data-sharing archive (scripts/tools-cds.sh), when there is one: start-up time only.
if [ -f "$MILENA_KAFKA_DIST/cds/tools.jsa" ]; then
    KAFKA_JVM_PERFORMANCE_OPTS="$KAFKA_JVM_PERFORMANCE_OPTS -XX:SharedArchiveFile=$MILENA_KAFKA_DIST/cds/tools.jsa"
fi
fail() { echo "FAIL $*"; exit 1; }
mask() { sed -e "s/$prefix//g" -e 's/TopicId: [A-Za-z0-9_-]*/TopicId: <id>/' -e 's/console-consumer-[0-9]*/console-consumer-<n>/'; }

# The console tools' formatter/reader properties: 4.1 knows only `--property`; 4.4 has
# `--formatter-property`/`--reader-property` and prints a deprecation warning for `--property`
# among the tools' output. Chosen by the version of the dist's kafka-clients jar.
clients_jar=$(cd "$MILENA_KAFKA_DIST/libs" && ls kafka-clients-*.jar | head -n1)
clients_version=${clients_jar#kafka-clients-}; clients_version=${clients_version%.jar}
if [ "$(printf '%s\n' 4.4.0 "$clients_version" | sort -V | head -n1)" = 4.4.0 ]; then
    reader_property=--reader-property formatter_property=--formatter-property
else
    reader_property=--property formatter_property=--property
fi

wait_for() { # SECONDS COMMAND... : until the command succeeds
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -lt $deadline ] || return 1; sleep 1; done
}

case $scenario in
quickstart)
    t="${prefix}test"
    timeout 60 "$bin/kafka-topics.sh" --create --bootstrap-server "$boot" --replication-factor 1 --partitions 3 --topic "$t" 2>&1 | mask
    timeout 60 "$bin/kafka-topics.sh" --list --bootstrap-server "$boot" | grep "^$prefix" | mask
    timeout 60 "$bin/kafka-topics.sh" --describe --bootstrap-server "$boot" --topic "$t" | mask | sed 's/\t/ /g; s/  */ /g'
    printf '%s\n' "This is a message" "This is another message" \
        | timeout 60 "$bin/kafka-console-producer.sh" --bootstrap-server "$boot" --topic "$t" "$reader_property" parse.key=false || fail producer
    # Three partitions: the order across partitions is not defined, so sort.
    timeout 60 "$bin/kafka-console-consumer.sh" --bootstrap-server "$boot" --topic "$t" --from-beginning \
        --max-messages 2 --group "${prefix}qs-group" 2>/dev/null | sort
    timeout 60 "$bin/kafka-consumer-groups.sh" --bootstrap-server "$boot" --list | grep "^$prefix" | mask
    timeout 60 "$bin/kafka-consumer-groups.sh" --bootstrap-server "$boot" --describe --group "${prefix}qs-group" 2>&1 \
        | mask | awk '$1 == "qs-group" && $3 ~ /^[0-9]+$/ { n++; cur += $4; end += $5; lag += $6; next } NF { print $1, $2, $3, $4, $5, $6 }
                     END { print "qs-group partitions=" n, "current-offsets=" cur, "log-end-offsets=" end, "lag=" lag }'
    # (per-partition rows are summed: the console producer's sticky partitioner picks a random partition)
    ;;
connect)
    # The seeds' Kafka Connect quickstart: file source -> topic connect-test -> file sink.
    printf '%s\n' foo bar "第三行" >test.txt
    sed -e "s|^bootstrap.servers=.*|bootstrap.servers=$boot|" -e "s|^offset.storage.file.filename=.*|offset.storage.file.filename=$PWD/connect.offsets|" \
        -e 's|^offset.flush.interval.ms=.*|offset.flush.interval.ms=1000|' \
        "$MILENA_KAFKA_DIST/config/connect-standalone.properties" >worker.properties
    echo "listeners=http://127.0.0.1:0" >>worker.properties
    sed -e "s|^file=.*|file=$PWD/test.txt|" -e "s|^topic=.*|topic=${prefix}connect-test|" "$MILENA_KAFKA_DIST/config/connect-file-source.properties" >source.properties
    sed -e "s|^file=.*|file=$PWD/test.sink.txt|" -e "s|^topics=.*|topics=${prefix}connect-test|" "$MILENA_KAFKA_DIST/config/connect-file-sink.properties" >sink.properties
    KAFKA_HEAP_OPTS="-Xmx384m" "$bin/connect-standalone.sh" worker.properties source.properties sink.properties >connect.log 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
    wait_for 90 bash -c '[ "$(wc -l <test.sink.txt 2>/dev/null)" -ge 3 ]' || { tail -n 20 connect.log; fail "sink file incomplete"; }
    echo "appended line" >>test.txt
    wait_for 30 bash -c '[ "$(wc -l <test.sink.txt 2>/dev/null)" -ge 4 ]' || fail "appended line did not reach the sink"
    echo "sink file:"
    cat test.sink.txt
    echo "topic connect-test:"
    timeout 60 "$bin/kafka-console-consumer.sh" --bootstrap-server "$boot" --topic "${prefix}connect-test" --from-beginning \
        --max-messages 4 2>/dev/null
    ;;
streams)
    # The Kafka Streams WordCount demo (at-least-once, the default), topics as in the demo.
    timeout 60 "$bin/kafka-topics.sh" --create --bootstrap-server "$boot" --topic streams-plaintext-input --partitions 1 --replication-factor 1 >/dev/null || fail create
    timeout 60 "$bin/kafka-topics.sh" --create --bootstrap-server "$boot" --topic streams-wordcount-output --partitions 1 --replication-factor 1 \
        --config cleanup.policy=compact >/dev/null || fail create
    printf '%s\n' "all streams lead to kafka" "hello kafka streams" "join kafka summit" \
        | timeout 60 "$bin/kafka-console-producer.sh" --bootstrap-server "$boot" --topic streams-plaintext-input || fail producer
    printf 'bootstrap.servers=%s\nstate.dir=%s/state\ncommit.interval.ms=500\nstatestore.cache.max.bytes=0\n' "$boot" "$PWD" >streams.properties
    KAFKA_HEAP_OPTS="-Xmx384m" "$bin/kafka-run-class.sh" org.apache.kafka.streams.examples.wordcount.WordCountDemo streams.properties >streams.log 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
    # 8 distinct words; the last count per word is what the demo shows.
    timeout 90 "$bin/kafka-console-consumer.sh" --bootstrap-server "$boot" --topic streams-wordcount-output --from-beginning \
        "$formatter_property" print.key=true "$formatter_property" key.separator=' ' \
        --value-deserializer org.apache.kafka.common.serialization.LongDeserializer --timeout-ms 30000 2>/dev/null >counts.txt
    kill $pid 2>/dev/null
    wait $pid 2>/dev/null
    # The demo's names are fixed, so the next tools family on this broker (cli-4.4 after cli in a
    # full run) would find them: remove the topics (the demo's internal ones too) and the group.
    timeout 60 "$bin/kafka-topics.sh" --bootstrap-server "$boot" --delete --topic 'streams-.*' >/dev/null 2>&1
    timeout 60 "$bin/kafka-consumer-groups.sh" --bootstrap-server "$boot" --delete --group streams-wordcount >/dev/null 2>&1
    awk '{ last[$1] = $2 } END { for (w in last) print w, last[w] }' counts.txt | sort
    [ "$(awk '{ last[$1] = $2 } END { print length(last) }' counts.txt)" = 8 ] || { tail -n 20 streams.log >&2; fail "expected 8 words"; }
    ;;
*)
    echo "n/a: the tools family has no $scenario scenario"
    exit 64
    ;;
esac
